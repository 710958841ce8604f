/*
 * generate.h - a synthetic MovieLens data set in the ml-latest format.
 *
 * `movierec generate` and the demo (when no real data is at hand) write
 * movies.csv, ratings.csv, tags.csv, links.csv and users.csv into a
 * folder, in the same shape as ml-latest / ml-25m, so that `import` reads
 * them like a real set.
 *
 * The data come from a small generative model that a recommender can
 * learn: every user and movie has a latent taste vector (GEN_DIMS
 * Gaussian components; a movie's vector leans towards the vectors of its
 * genres, a user's towards one to three favourite genres). Movie
 * popularity and user activity follow power laws. A user watches movies
 * drawn without replacement in proportion to popularity * exp(affinity)
 * and rates them bias + affinity + noise, clipped to 0.5..5 and rounded to
 * a half (or whole) star. Everything is a function of the seed alone.
 *
 * Files are written under temporary names (".ratings.csv.tmp") and renamed
 * when all are complete, ratings.csv last, so an interrupted run never
 * leaves a set that looks whole.
 */
#ifndef MOVIEREC_GENERATE_H
#define MOVIEREC_GENERATE_H

#include <stdint.h>

#include "../util/error.h"

#define GEN_DIMS 8

#define GEN_DEFAULT_USERS 1000
#define GEN_DEFAULT_MOVIES 1700
#define GEN_DEFAULT_RATINGS 100000
#define GEN_DEFAULT_SEED 1

#define GEN_MIN_MOVIES 20
#define GEN_MAX_USERS 100000000LL
#define GEN_MAX_MOVIES 10000000LL
#define GEN_MAX_RATINGS 4000000000LL

/* Called now and then while ratings are written: done of total ratings. */
typedef void gen_progress_fn(void *ctx, uint64_t done, uint64_t total);

struct gen_options {
    int64_t users;   /* ids 1..users; >= 1 */
    int64_t movies;  /* ids 1..movies; >= GEN_MIN_MOVIES */
    int64_t ratings; /* exactly this many; users <= ratings <= users*movies/2 */
    uint64_t seed;
    int force;       /* replace a set already in the folder */
    gen_progress_fn *progress; /* may be NULL */
    void *progress_ctx;
};

/* The defaults: GEN_DEFAULT_* counts, seed 1, no force, no progress. */
void gen_options_init(struct gen_options *o);

/* Checks the counts. Returns 0 or ERR_USAGE with a message that names the
 * option ("--ratings 10 is fewer than --users 20: ..."). */
int gen_options_check(const struct gen_options *o, struct error *err);

/* ------------------------------------------------------------------ */
/* The whole job                                                       */

/* Makes dir (and its parents) if missing and writes the set there.
 * Returns ERR_USAGE for bad options, ERR_EXISTS when dir already holds a
 * ratings.csv and o->force is 0, ERR_IO (naming the file) when a write
 * fails, ERR_NOMEM. On failure no temporary file is left behind. */
int gen_write(const char *dir, const struct gen_options *o, struct error *err);

/* ------------------------------------------------------------------ */
/* The model, for tests and for callers that want the ground truth      */

struct gen_model; /* opaque; owns all its memory */

/* Builds the latent model (users, movies, activity counts) for o: about
 * 64 bytes per movie and 45 per user. Returns 0 with *out set, or an
 * error code (ERR_USAGE, ERR_NOMEM) with *out NULL. */
int gen_model_new(struct gen_model **out, const struct gen_options *o, struct error *err);
void gen_model_free(struct gen_model *m);

/* Writes the set of the model into dir, as gen_write() does. */
int gen_model_write(struct gen_model *m, const char *dir, struct error *err);

/* The latent affinity of user for movie (ids from 1): about unit
 * variance, with a small positive mean from the common genres. Higher
 * means the user is more likely to watch the movie and to rate it well.
 * 0 for ids out of range. */
double gen_model_affinity(const struct gen_model *m, int64_t user, int64_t movie);

/* The number of ratings user will have (0 for an id out of range). */
int64_t gen_model_user_count(const struct gen_model *m, int64_t user);

/* The movie's share of the popularity mass, in (0, 1). */
double gen_model_popularity(const struct gen_model *m, int64_t movie);

#endif
