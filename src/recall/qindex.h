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
 * Reduced build (qindex_build_reduced): the int8 table holds each row's
 * projection onto the top r principal directions of the rows instead of
 * the row itself, (n, r) instead of (n, dim) bytes. Since
 * <q, x> = <q, mean> + <q, x - mean> and the first term is the same for
 * every row, the scan ranks rows by <B q, B (x - mean)> with B (r, dim)
 * the top r eigenvectors of the rows' covariance: exact when the rows
 * (less their mean) lie in an r-dim subspace, close when most of their
 * variance does (the deep model's movie vectors: tanh of a layer fed by 96
 * numbers). The rescore is unchanged, so returned scores stay exact float
 * dot products; only which rows reach the rescore depends on r. At
 * 62k x 200 with r = 64 the table is 4 MB instead of 14 MB and stays in
 * L3.
 *
 * The int8 table is stored in blocks of 8 rows, each block group by group
 * (4 columns of its 8 rows: 32 bytes), so one AVX2 multiply-add sequence
 * per group gives 8 rows' partial dots in 8 lanes, and a whole block's
 * approximate scores are compared with the heap's worst at once: 1.4x to
 * 1.9x faster than row by row at r = 32 (medians of 3), less at r = 64
 * and none on the full table, which streams from memory (bench/qscan.c).
 *
 * struct qindex owns its int8 rows, scales and basis and BORROWS the
 * float rows (they must outlive it). Built once, it is read-only and may
 * be shared by threads; each query brings its own scratch.
 */
#ifndef MOVIEREC_QINDEX_H
#define MOVIEREC_QINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "../util/error.h"
#include "recall.h"

struct qindex {
    int n, dim;         /* the float rows */
    int r;              /* columns of the int8 table: dim, or the reduced rank */
    int stride;         /* r rounded up for SIMD, padding zero */
    const float *vec;   /* (n, dim) borrowed */
    float *basis;       /* (r, dim) owned, orthonormal rows; NULL: full (no projection) */
    int8_t *qb;         /* (ceil(n / 8), stride / 4, 8, 4) blocked (below): the rows, or
                         * their projections B (x - mean); rows past n zero */
    float *scale;       /* (ceil(n / 8) * 8,), 0 past n */
    float *projf;       /* (n, r) owned, reduced only: B (x - mean) in float */
    float *mean;        /* (dim,) owned, reduced only: the rows' mean */
};

/* Full dimension: the int8 table is the rows themselves. */
int qindex_build(struct qindex *qx, const float *vec /* (n, dim) */, int n, int dim,
                 struct error *err);
/* Reduced: the int8 table holds the rows projected onto the top r
 * eigenvectors of their covariance (the mean-free dim x dim Gram matrix
 * over n), found by cyclic Jacobi in double. r >= dim, n < 2, or
 * dim > QINDEX_EIG_MAX_DIM builds the full index (qx->basis stays NULL).
 * Costs one pass of sgemm over the rows for the covariance, one for the
 * projection, and O(dim^3) for the eigenvectors (about 0.1 s at dim 200). */
#define QINDEX_EIG_MAX_DIM 512
int qindex_build_reduced(struct qindex *qx, const float *vec /* (n, dim) */, int n, int dim,
                         int r, struct error *err);
void qindex_free(struct qindex *qx);

/* Reduced only (qx->basis != NULL): out (r,) = B query; returns
 * <mean, query>. Then <row i, query> ~ <projf[i], out> + that, from r
 * floats per row instead of dim (the error: the rows' variance outside
 * the top r directions). */
float qindex_project(const struct qindex *qx, const float *query, float *out);

/* Bytes of scratch a query needs: the quantised query (2 * stride), the
 * projected query (4 * r, reduced only), a block of int32 dots (1 KiB)
 * and room for min(n, k + rescore) candidates (12 * n bytes; only
 * k + rescore of them are touched). */
size_t qindex_scratch_size(const struct qindex *qx);

/* The k rows with the largest dot product with query (dim,), best first
 * (ties: lower row), skipping exclude[r] != 0 (exclude (n,) or NULL) and
 * row `skip` (-1: none). rescore: extra approximate rows rescored exactly
 * (e.g. 32); -1: no exact pass at all, the k best by the int8 scan in its
 * order with its approximate scores (comparable within one query only:
 * for recall, where a later stage scores the movies again). Writes out
 * (k,) with movie = row, score = exact dot (or approximate), because = -1;
 * returns how many. scratch: qindex_scratch_size() bytes, 64-byte
 * aligned. */
int qindex_topk(const struct qindex *qx, const float *query, const uint8_t *exclude, int skip,
                int k, int rescore, struct cand *out, void *scratch);
/* The same with the plain C scan (qindex_dots_ref, a row at a time): the
 * reference qindex_topk must match exactly (tests). */
int qindex_topk_ref(const struct qindex *qx, const float *query, const uint8_t *exclude,
                    int skip, int k, int rescore, struct cand *out, void *scratch);

/* What one query's scan did (tests). The AVX2 scan starts from a
 * threshold a sample of the table gives and scans again from -inf when
 * fewer than k + rescore rows passed it. */
struct qindex_stats {
    int passes;      /* scans of the table: 1, or 2 when it scanned again; 0: none (k < 1, n < 1) */
    float threshold; /* where the first scan started; -inf: from the start (the sample too
                      * small, or the plain C scan of a build without AVX2) */
};
/* qindex_topk, and *st = what its scan did. */
int qindex_topk_stats(const struct qindex *qx, const float *query, const uint8_t *exclude,
                      int skip, int k, int rescore, struct cand *out, void *scratch,
                      struct qindex_stats *st);

/* ---- the int8 kernel, exposed for tests and benchmarks ---- */

/* The blocked layout of the table, nblk = ceil(nrows / 8) blocks:
 *   qb[((b * (stride / 4) + g) * 8 + i) * 4 + j] = q[8 b + i][4 g + j],
 * rows past nrows zero. qindex_pack (qb (nblk * 8 * stride,)) builds it
 * from a row-major q (nrows, stride). */
void qindex_pack(int8_t *qb, const int8_t *q, int nrows, int stride);

/* dots (8 * nblk,) = the rows of qb (nblk blocks) . x (stride,) in exact
 * int32; xabs (stride,) = |x|. All int8 values in [-127, 127]; qb, x,
 * xabs 32-byte aligned and stride a multiple of 32. qindex_dots is AVX2
 * where the build has it (-march=native on x86-64), qindex_dots_ref plain
 * C; both give identical results. */
void qindex_dots(int32_t *dots, const int8_t *qb, const int8_t *x, const int8_t *xabs, int nblk,
                 int stride);
void qindex_dots_ref(int32_t *dots, const int8_t *qb, const int8_t *x, const int8_t *xabs,
                     int nblk, int stride);

/* ---- the eigensolver of the reduced build, exposed for tests ---- */

/* Eigen-decomposition of the symmetric a (m, m) (destroyed) by cyclic
 * Jacobi rotations in double: w (m,) the eigenvalues in decreasing order,
 * vt (m, m) the matching orthonormal eigenvectors as ROWS (a = vt^T
 * diag(w) vt). Returns the sweeps used, or -1 if it did not converge in
 * 60 sweeps (results are then still the best found). m <= 0: returns 0. */
int qindex_eig_sym(double *w, double *vt, double *a, int m);

#endif
