/*
 * als.h - matrix factorisation by alternating least squares for implicit
 * feedback (Hu, Koren & Volinsky, "Collaborative Filtering for Implicit
 * Feedback Datasets", ICDM 2008).
 *
 * Every rated (user, movie) pair has preference p = 1 and confidence
 *   c = 1 + alpha * r,  r = 1 (default) or the score (use_score),
 * every other pair p = 0, c = 1. Alternately, with the other side's
 * factors Y fixed, each row's factor solves
 *   (Y^T Y + Y^T (C_u - I) Y + lambda I) x_u = Y^T C_u p(u)
 * where Y^T Y is computed once per half-step (nn_sgemm, the project's one
 * BLAS entry) and the sparse correction is added per row, then solved by
 * Cholesky. A score is the dot product x_u . y_i: high for movies like the
 * ones the user rated, whether or not they rated them.
 *
 * `struct als` owns its factors; als_free() releases them.
 */
#ifndef MOVIEREC_ALS_H
#define MOVIEREC_ALS_H

#include <stdint.h>

#include "../util/error.h"

struct als_opts {
    int factors;     /* F; default 64 */
    int iterations;  /* user + item half-steps each; default 15 */
    float lambda;    /* L2 regularisation; default 0.1 */
    float alpha;     /* confidence slope; default 10 (r = 1: a rated pair
                      * counts 11 times an unrated one; with use_score,
                      * 10 per star, so pick ~2 there) */
    int use_score;   /* 0: r = 1 per rating (default); 1: r = the score */
    float min_score; /* ratings below are ignored; default 0 (all count) */
};

void als_opts_default(struct als_opts *o);

struct als {
    int nusers, nmovies, f;
    float *user; /* (nusers, f) */
    float *item; /* (nmovies, f) */
};

/* Trains from the interactions as CSR by user (rows may be empty: their
 * factor is 0). Item factors start as N(0, 0.1^2 / F) from seed; the
 * result depends only on the data, the options and the seed, not on
 * threads (each row is solved alone). ERR_USAGE on bad options or a movie
 * index out of range, ERR_NOMEM, ERR_INTEGRITY when a system is not
 * positive definite (a NaN in the scores). With threads > 1 it sets
 * OpenBLAS to one thread (nn_blas_threads(1), process-wide, as the trainer
 * does): its threads split the rows. ml-100k, defaults, 2 threads: 0.6-0.8 s
 * (-O3 -march=native), ~1 s (-O2). */
int als_train(struct als *a, const struct als_opts *o, int nusers, int nmovies,
              const int64_t *user_start /* (nusers + 1,) */, const int *movie /* (nnz,) */,
              const float *score /* (nnz,) */, int threads, uint64_t seed, struct error *err);
void als_free(struct als *a);

/* scores (nmovies,) = item factors . user u's factor (a gemv as one
 * nn_sgemm with M = 1, so BLAS stays behind the nn wrapper);
 * zeros for u out of range. */
void als_score_user(const struct als *a, int u, float *scores);

/* ---- a user from their ratings alone (fold-in) ---- */

/* g (F, F) = Y^T Y over the item factors: once per loaded model. */
void als_gram(const struct als *a, float *g);

/* The factor x (F,) that one user half-step of als_train() would give a
 * user with these ratings (movie (n,), score (n,); indexes outside
 * [0, nmovies) and scores below o->min_score are skipped), from the item
 * factors and g = als_gram(). This is how a new user, or a user whose
 * ratings changed a second ago, gets a factor without retraining. The
 * same options as training (o) keep it consistent. scratch: F * F +
 * ALS_FOLD_CHUNK * F floats. Returns 0, or ERR_INTEGRITY (NaN factors);
 * x = 0 when no rating counts. */
#define ALS_FOLD_CHUNK 64
int als_fold_in(const struct als *a, const struct als_opts *o, const float *g, const int *movie,
                const float *score, int n, float *x, float *scratch);

/* ---- the solver, exposed for tests ---- */

/* In place: the upper triangle of a (n, n) becomes U with a = U^T U
 * (U = L^T; the strict lower triangle is neither read nor written).
 * ERR_INTEGRITY when a is not positive definite. Single precision, vector
 * friendly: a 64 x 64 system takes ~10 us. */
int als_cholesky(float *a /* (n, n) */, int n);
/* Solves U^T U x = b with U from als_cholesky(); x holds b on entry. */
void als_cholesky_solve(const float *u /* (n, n) */, float *x /* (n,) */, int n);

#endif
