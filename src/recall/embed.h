/*
 * embed.h - movies as the deep model's movie-tower vectors, for similar
 * movies (the paper's method, SUMMARY.md section 6) and embedding recall.
 *
 * struct embed_index owns an (n, dim) block of L2-normalised vectors, one
 * per movie in the order given when built, so a dot product is a cosine.
 * The movie tower does not depend on the user: it is computed once per
 * model load. Neighbour queries scan an int8 copy of the vectors'
 * projections onto their top 64 principal directions (qindex.h,
 * qindex_build_reduced) and rescore the best rows exactly.
 */
#ifndef MOVIEREC_EMBED_H
#define MOVIEREC_EMBED_H

#include "../model/model.h"
#include "qindex.h"
#include "recall.h"

struct embed_index {
    int n, dim;
    float *vec; /* (n, dim), rows of unit length (a zero vector stays zero) */
    struct qindex qx; /* reduced int8 index over vec, borrowing vec */
};

/* Runs the movie tower over mf[0..n) (eval mode). */
int embed_build(struct embed_index *ix, const struct model *m, const struct movie_feat *mf, int n,
                struct error *err);
void embed_free(struct embed_index *ix);

/* Bytes of scratch embed_similar needs (qindex_scratch_size: about
 * 12 * n + 1 KiB). */
size_t embed_scratch_size(const struct embed_index *ix);

/* The k rows most similar (cosine) to row `row`, itself excluded, best
 * first (ties: lower row); writes out[] (movie = row index, score = exact
 * cosine) and returns how many. scratch: embed_scratch_size() bytes,
 * 64-byte aligned (aligned_alloc / posix_memalign). */
int embed_similar(const struct embed_index *ix, int row, struct cand *out, int k, float *scratch);

#endif
