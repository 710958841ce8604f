/*
 * popularity.h - the cold-start channel: the most watched movies, overall
 * or within one genre.
 *
 * Built from the training interactions as CSR by user (any row may be
 * empty, row 0 included). `struct popularity` owns its arrays;
 * popularity_free() releases them.
 */
#ifndef MOVIEREC_POPULARITY_H
#define MOVIEREC_POPULARITY_H

#include <stdint.h>

#include "../util/error.h"
#include "recall.h"

struct popularity {
    int nmovies;
    int *count;    /* (nmovies,) positive interactions: ratings with score >= min_score */
    int *nrated;   /* (nmovies,) all ratings */
    float *mean;   /* (nmovies,) damped mean score, see popularity_build() */
    float global_mean; /* mean of every score, 0 when there is none */
};

/* Counts per movie the ratings with score >= min_score (0: every rating
 * counts) and the damped mean over all its ratings,
 *   mean = (sum + damping * global_mean) / (nrated + damping),
 * so a movie with two 5s does not beat one with five hundred 4.5s
 * (damping 10 is a good default; 0 gives the plain mean, global_mean for
 * unrated movies). Fails with ERR_USAGE on a movie index outside
 * [0, nmovies) and ERR_NOMEM. */
int popularity_build(struct popularity *p, int nusers, int nmovies,
                     const int64_t *user_start /* (nusers + 1,) */,
                     const int *movie /* (nnz,) */, const float *score /* (nnz,) */,
                     float min_score, float damping, struct error *err);
void popularity_free(struct popularity *p);

/* The k movies with the most positive interactions (ties: the higher
 * damped mean, then the lower index), skipping exclude[m] != 0 (exclude
 * is (nmovies,) or NULL) and movies without one. Writes out (k,), best
 * first; returns how many. score = count + mean / 10 (the mean only
 * breaks ties; for scores in [0, 10) the count is floor(score)). */
int popularity_top(const struct popularity *p, struct cand *out, int k, const uint8_t *exclude);

/* The same among the movies of one genre: genres (nmovies, maxg) lists
 * each movie's genre ids padded with -1 (struct movie_feat's layout). */
int popularity_top_genre(const struct popularity *p, const int *genres /* (nmovies, maxg) */,
                         int maxg, int genre, struct cand *out, int k, const uint8_t *exclude);

#endif
