/*
 * qindex.h - brute-force maximum inner product search over a block of
 * float vectors: about 4x to 8x faster than a float scan on one core at
 * 62k x 200 (bench/similar.sh; the scan is memory-bound there).
 *
 * Every row is also kept as int8 with a per-row scale (symmetric
 * quantisation: q = round(x / s), s = max|x| / 127), a quarter of the
 * bytes of the float rows, so a scan of the whole catalogue streams
 * n * dim bytes instead of 4 * n * dim. A query scans the int8 rows with
 * SIMD-friendly integer dot products (the query quantised the same way),
 * keeps the best `k + rescore` rows by approximate score (int dot times
 * the row's scale), and scores those again exactly from the float rows:
 * the returned scores are exact float dot products, and the order is exact
 * unless an int8 error pushed a true top-k row out of the best
 * k + rescore (tests measure how rarely).
 *
 * struct qindex owns its int8 rows and scales and BORROWS the float rows
 * (they must outlive it). Built once, it is read-only and may be shared
 * by threads; each query brings its own scratch.
 */
#ifndef MOVIEREC_QINDEX_H
#define MOVIEREC_QINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "../util/error.h"
#include "recall.h"

struct qindex {
    int n, dim, stride; /* stride: dim rounded up for SIMD, padding zero */
    const float *vec;   /* (n, dim) borrowed */
    int8_t *q;          /* (n, stride) */
    float *scale;       /* (n,) */
};

int qindex_build(struct qindex *qx, const float *vec /* (n, dim) */, int n, int dim,
                 struct error *err);
void qindex_free(struct qindex *qx);

/* Bytes of scratch a query needs: the quantised query (2 * stride), a
 * block of int32 dots (1 KiB) and room for min(n, k + rescore) candidates
 * (12 * n bytes; only k + rescore of them are touched). */
size_t qindex_scratch_size(const struct qindex *qx);

/* The k rows with the largest dot product with query (dim,), best first
 * (ties: lower row), skipping exclude[r] != 0 (exclude (n,) or NULL) and
 * row `skip` (-1: none). rescore: extra approximate rows rescored exactly
 * (e.g. 32). Writes out (k,) with movie = row, score = exact dot,
 * because = -1; returns how many. scratch: qindex_scratch_size() bytes,
 * 64-byte aligned. */
int qindex_topk(const struct qindex *qx, const float *query, const uint8_t *exclude, int skip,
                int k, int rescore, struct cand *out, void *scratch);

/* ---- the int8 kernel, exposed for tests and benchmarks ---- */

/* dots (nrows,) = q (nrows, stride) . x (stride,) in exact int32; xabs
 * (stride,) = |x|. All int8 values in [-127, 127]; q, x, xabs 32-byte
 * aligned and stride a multiple of 32. qindex_dots is AVX2 where the build
 * has it (-march=native on x86-64), qindex_dots_ref plain C; both give
 * identical results. */
void qindex_dots(int32_t *dots, const int8_t *q, const int8_t *x, const int8_t *xabs, int nrows,
                 int stride);
void qindex_dots_ref(int32_t *dots, const int8_t *q, const int8_t *x, const int8_t *xabs,
                     int nrows, int stride);

#endif
