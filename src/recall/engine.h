/*
 * engine.h - everything a recommendation needs, loaded from a home folder:
 * the newest watch model (the ranker, models/watch/<N>), the newest recall
 * bundle (models/recall/<N>), the store's movies, and the recommender
 * built over them. The CLI's `recommend` and the server use it.
 *
 * struct engine owns all of it; engine_free() releases it. A loaded engine
 * is read-only: threads share it, each with its own struct rec_ws.
 */
#ifndef MOVIEREC_ENGINE_H
#define MOVIEREC_ENGINE_H

#include "../model/modelfile.h"
#include "../store/store.h"
#include "pipeline.h"

struct engine {
    struct model m;
    struct vocab v;
    struct recall_bundle b;
    struct recommender r;
    int model_version, recall_version;
    int loaded; /* what is set up, for engine_free() */
};

/* models_dir: <home>/models. ERR_NOTFOUND (with a hint to train) when a
 * model or the recall bundle is missing. */
int engine_load(struct engine *e, const char *models_dir, struct store *s, struct error *err);
/* The same with given versions of the watch model and the recall bundle
 * (0: the newest). The server uses it to fall back to older versions. */
int engine_load_at(struct engine *e, const char *models_dir, struct store *s, int watch_version,
                   int recall_version, struct error *err);
void engine_free(struct engine *e);

/* One user's state read from the store: features and every rating, as
 * rows of e's recommender (ratings of movies it does not know are left
 * out). Owns its arrays; engine_user_free(). */
struct engine_user {
    struct rec_user u;
    int *movie;
    float *score;
    int64_t *time;
    int n, cap;
};

/* ERR_NOTFOUND when the store has no such user. */
int engine_user_load(const struct engine *e, struct store *s, int64_t user_id,
                     struct engine_user *eu, struct error *err);
void engine_user_free(struct engine_user *eu);

#endif
