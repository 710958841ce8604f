/*
 * dataset.h - what training reads from the store: the vocabularies, every
 * user's and movie's encoded features, and the ratings grouped by user.
 * Everything is owned by the dataset; dataset_free() releases it.
 */
#ifndef MOVIEREC_DATASET_H
#define MOVIEREC_DATASET_H

#include <stdint.h>

#include "../store/store.h"
#include "features.h"

struct dataset {
    struct vocab vocab;
    int nusers, nmovies;       /* rows incl. the unknown row 0 */
    struct user_feat *users;   /* (nusers,) by user index */
    struct movie_feat *movies; /* (nmovies,) by movie index */
    int64_t nratings;
    int64_t *user_start;       /* (nusers + 1,) ratings of user u: [start[u], start[u+1]) */
    int *r_movie;              /* (nratings,) movie index, ascending within a user */
    float *r_score;            /* (nratings,) */
    int64_t *r_time;           /* (nratings,) */
};

/* Builds the vocabularies (min_word_count, see features.h) and reads
 * everything. An empty store is an error. */
int dataset_load(struct dataset *d, struct store *s, int min_word_count, struct error *err);
/* The same, with a vocabulary given (copied in): for evaluating a saved
 * model on the store as it is now. */
int dataset_load_with_vocab(struct dataset *d, struct store *s, const struct vocab *v,
                            struct error *err);
void dataset_free(struct dataset *d);

/* 1 when user index u rated movie index m. */
int dataset_rated(const struct dataset *d, int u, int m);

#endif
