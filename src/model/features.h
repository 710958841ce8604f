/*
 * features.h - vocabularies and the encoding of users and movies into the
 * model's inputs (docs/MODEL.md, "Inputs and vocabularies").
 *
 * A struct vocab is built from the store when a model is trained and saved
 * beside it; at scoring time it turns any user or movie row, known at
 * training time or not, into index inputs. Index 0 always means unknown.
 * The vocab owns all its memory; vocab_free() releases it.
 */
#ifndef MOVIEREC_FEATURES_H
#define MOVIEREC_FEATURES_H

#include <stdint.h>

#include "../store/store.h"
#include "../util/error.h"

#define FEAT_MAX_GENRES 10
#define FEAT_TITLE_LEN 15
#define FEAT_AGE_BUCKETS 8 /* 0 unknown + 7 */
#define FEAT_GENDERS 3     /* 0 unknown, M, F */

struct strtab {          /* strings with indexes 1..n, and a hash to find them */
    char **s;            /* (n,) s[i] has index i + 1 */
    int n;
    int *slot;           /* (cap,) index or 0 */
    int cap;
};

struct vocab {
    int64_t *user_ids; /* (nusers,) ascending; user_ids[i] has index i + 1 */
    int nusers;
    int64_t *movie_ids; /* (nmovies,) ascending */
    int nmovies;
    struct strtab occupations, genres, words;
    int min_word_count;
};

struct user_feat {
    int user, gender, age, occ;
};

struct movie_feat {
    int movie;
    int genres[FEAT_MAX_GENRES]; /* -1 padding; {0, -1, ...} for none */
    int words[FEAT_TITLE_LEN];   /* -1 padding */
};

void vocab_init(struct vocab *v);
void vocab_free(struct vocab *v);

/* Builds the vocabularies from every user and movie in the store. */
int vocab_build(struct vocab *v, struct store *s, int min_word_count, struct error *err);

/* Encoders: any row gets features; unknown things map to index 0. */
void vocab_user_feat(const struct vocab *v, const struct store_user_row *u, struct user_feat *f);
void vocab_movie_feat(const struct vocab *v, const struct store_movie_row *m, struct movie_feat *f);
int vocab_user_index(const struct vocab *v, int64_t id);  /* 0 if unknown */
int vocab_movie_index(const struct vocab *v, int64_t id); /* 0 if unknown */
int feat_age_bucket(int age);

/* Splits a title into lower-cased words; calls fn for each (word, len).
 * Returns the number of words seen (stops after max when max > 0). */
int feat_title_words(const char *title, int max, void (*fn)(void *ctx, const char *w, int n),
                     void *ctx);

/* Every user (movie) of the store with its encoded features, in id order:
 * ids (n,) and feats (n,) are malloc'd for the caller to free. Find one
 * with feat_find(). */
int feat_load_users(struct store *s, const struct vocab *v, int64_t **ids,
                    struct user_feat **feats, int *n, struct error *err);
int feat_load_movies(struct store *s, const struct vocab *v, int64_t **ids,
                     struct movie_feat **feats, int *n, struct error *err);
int feat_find(const int64_t *ids, int n, int64_t id); /* position or -1 */

/* Saved as JSON beside the model (vocab.json); load checks its shape. */
int vocab_save(const struct vocab *v, const char *path, struct error *err);
int vocab_load(struct vocab *v, const char *path, struct error *err);

/* Table helpers (exposed for tests). */
int strtab_add(struct strtab *t, const char *s, int n); /* index, or -1 on ENOMEM */
int strtab_find(const struct strtab *t, const char *s, int n); /* index or 0 */
void strtab_free(struct strtab *t);

#endif
