/*
 * itemcf.h - item-based collaborative filtering: "people who liked this
 * also liked", from co-occurring positive ratings.
 *
 * A rating is positive when score >= min_score. Two movies are similar by
 * the cosine of their binary user vectors,
 *   sim(i, j) = co(i, j) / sqrt(n_i * n_j),
 * co = users positive on both, n = users positive on one. Each movie keeps
 * its top `neighbours` others (ties: lower index). `struct itemcf` owns
 * its arrays; itemcf_free() releases them. A built itemcf is read-only and
 * may be shared by threads.
 */
#ifndef MOVIEREC_ITEMCF_H
#define MOVIEREC_ITEMCF_H

#include <stdint.h>

#include "../util/error.h"
#include "recall.h"

struct itemcf_opts {
    float min_score; /* positive when score >= min_score; default 4 */
    int neighbours;  /* kept per movie; default 50 */
    int threads;     /* build threads over movie ranges; default 2 */
};

void itemcf_opts_default(struct itemcf_opts *o);

struct itemcf {
    int nmovies, n; /* n = neighbours per movie */
    int *npos;      /* (nmovies,) users positive on the movie */
    int *nn;        /* (nmovies,) neighbours kept, <= n */
    int *nbr;       /* (nmovies, n) neighbour movie ids, best first, -1 padding */
    float *sim;     /* (nmovies, n) their cosine similarities, 0 padding */
};

/* Builds from the interactions as CSR by user (rows may be empty).
 * ERR_USAGE on bad options or a movie index outside [0, nmovies);
 * ERR_NOMEM. */
int itemcf_build(struct itemcf *cf, const struct itemcf_opts *o, int nusers, int nmovies,
                 const int64_t *user_start /* (nusers + 1,) */,
                 const int *movie /* (nnz,) */, const float *score /* (nnz,) */,
                 struct error *err);
void itemcf_free(struct itemcf *cf);

/* Points *ids and *sims at the movie's neighbours (owned by cf) and returns
 * how many; 0 for a movie out of range or without any. */
int itemcf_neighbours(const struct itemcf *cf, int movie, const int **ids, const float **sims);

/* Candidates for a user from the movies they liked (the caller picks them,
 * e.g. their latest ratings): each candidate's score is the sum of its
 * similarities to the liked movies, each times its weight (weight (n_liked,)
 * or NULL for 1, e.g. a decay by recency), `because` the liked movie with
 * the largest single weighted similarity (ties: the earlier in liked). The liked
 * movies themselves, exclude[m] != 0 (exclude (nmovies,) or NULL) and
 * liked ids out of range are skipped. Writes up to k to out (k,), best
 * first, and their number to *nout. Fails only with ERR_NOMEM; it needs
 * O(n_liked * neighbours) scratch, nothing per catalogue movie. */
int itemcf_recommend(const struct itemcf *cf, const int *liked /* (n_liked,) */,
                     const float *weight /* (n_liked,) or NULL */, int n_liked,
                     struct cand *out, int k, const uint8_t *exclude, int *nout,
                     struct error *err);

#endif
