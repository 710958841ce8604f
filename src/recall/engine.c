/*
 * engine.c - loading the models and the store's movies into a recommender
 * (engine.h).
 */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { L_MODEL = 1, L_BUNDLE = 2, L_REC = 4 };

int engine_load(struct engine *e, const char *models_dir, struct store *s, struct error *err)
{
    return engine_load_at(e, models_dir, s, 0, 0, err);
}

int engine_load_at(struct engine *e, const char *models_dir, struct store *s, int watch_version,
                   int recall_version, struct error *err)
{
    char dir[4200];
    int64_t *ids = NULL;
    struct movie_feat *mf = NULL;
    int n = 0, rc;

    memset(e, 0, sizeof(*e));
    snprintf(dir, sizeof(dir), "%s/watch", models_dir);
    if ((rc = modelfile_load(dir, watch_version, &e->m, &e->v, &e->model_version, err)))
        return rc;
    e->loaded |= L_MODEL;
    snprintf(dir, sizeof(dir), "%s/recall", models_dir);
    if ((rc = recall_bundle_load(dir, recall_version, &e->v, &e->b, &e->recall_version, err)))
        goto fail;
    e->loaded |= L_BUNDLE;
    if ((rc = feat_load_movies(s, &e->v, &ids, &mf, &n, err)))
        goto fail;
    rc = recommender_init(&e->r, &e->m, &e->v, &e->b, ids, mf, n, err);
    free(ids);
    free(mf);
    if (rc)
        goto fail;
    e->loaded |= L_REC;
    return 0;
fail:
    engine_free(e);
    return rc;
}

void engine_free(struct engine *e)
{
    if (e->loaded & L_REC)
        recommender_free(&e->r);
    if (e->loaded & L_BUNDLE)
        recall_bundle_free(&e->b);
    if (e->loaded & L_MODEL) {
        model_free(&e->m);
        vocab_free(&e->v);
    }
    memset(e, 0, sizeof(*e));
}

struct user_ctx {
    const struct engine *e;
    struct engine_user *eu;
};

static int add_rating(void *ctx, int64_t user, int64_t movie, double score, int64_t time)
{
    struct user_ctx *c = ctx;
    struct engine_user *eu = c->eu;
    int row = recommender_row(&c->e->r, movie);
    (void)user;
    if (row < 0)
        return 0;
    if (eu->n == eu->cap) {
        int cap = eu->cap ? eu->cap * 2 : 64;
        int *m = realloc(eu->movie, (size_t)cap * sizeof(*m));
        if (m)
            eu->movie = m;
        float *sc = realloc(eu->score, (size_t)cap * sizeof(*sc));
        if (sc)
            eu->score = sc;
        int64_t *t = realloc(eu->time, (size_t)cap * sizeof(*t));
        if (t)
            eu->time = t;
        if (!m || !sc || !t)
            return ERR_NOMEM;
        eu->cap = cap;
    }
    eu->movie[eu->n] = row;
    eu->score[eu->n] = (float)score;
    eu->time[eu->n++] = time;
    return 0;
}

int engine_user_load(const struct engine *e, struct store *s, int64_t user_id,
                     struct engine_user *eu, struct error *err)
{
    struct store_user_row row;
    struct user_ctx c = {e, eu};
    int rc;

    memset(eu, 0, sizeof(*eu));
    if ((rc = store_get_user(s, user_id, &row, err)))
        return rc;
    vocab_user_feat(&e->v, &row, &eu->u.feat);
    rc = store_user_ratings(s, user_id, add_rating, &c, err);
    if (rc == ERR_NOMEM)
        rc = error_set(err, ERR_NOMEM, "out of memory for user %lld's ratings",
                       (long long)user_id);
    if (rc) {
        engine_user_free(eu);
        return rc;
    }
    eu->u.n = eu->n;
    eu->u.movie = eu->movie;
    eu->u.score = eu->score;
    eu->u.time = eu->time;
    return 0;
}

void engine_user_free(struct engine_user *eu)
{
    free(eu->movie);
    free(eu->score);
    free(eu->time);
    memset(eu, 0, sizeof(*eu));
}
