/*
 * api_ops.c - operations: /healthz, /metrics (Prometheus text), the models
 * being served, and TensorFlow Serving's REST predict shape:
 *   POST /v1/models/<name>:predict  {"instances": [{"user_id": 1, "movie_id": 50}, ...]}
 *   -> {"predictions": [0.83, ...]}
 * for <name> watch and like (the deep models' probabilities) and ranker
 * (the recommendation ranker's, what `movierec score` serves).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../model/train.h"
#include "app.h"

#define PREDICT_MAX 1000

void api_healthz(void *app, struct http_req *req, struct http_res *res)
{
    struct app *a = app;
    struct served *sv = app_served_get(a);
    (void)req;
    http_res_json(res, 200,
                  json_pack("{s:s, s:I, s:b}", "status", "ok", "uptime_s",
                            (json_int_t)(app_now() - (int64_t)a->started), "models",
                            sv && sv->has_engine));
    app_served_put(a, sv);
}

static void put_gauges(void *ctx, void *buf, metrics_put_fn put)
{
    struct app *a = ctx;
    struct served *sv = app_served_get(a);
    struct online_stats os;
    put(buf, "# HELP movierec_model_version The version of each model being served (0: none).\n"
             "# TYPE movierec_model_version gauge\n");
    put(buf, "movierec_model_version{model=\"watch\"} %d\n",
        sv && sv->has_engine ? sv->e.model_version : 0);
    put(buf, "movierec_model_version{model=\"recall\"} %d\n",
        sv && sv->has_engine ? sv->e.recall_version : 0);
    put(buf, "movierec_model_version{model=\"like\"} %d\n", sv && sv->has_like ? sv->like_version : 0);
    app_served_put(a, sv);
    put(buf, "# HELP movierec_model_reloads_total New model versions swapped in.\n"
             "# TYPE movierec_model_reloads_total counter\n"
             "movierec_model_reloads_total %ld\n",
        (long)atomic_load(&a->reloads));
    put(buf, "# HELP movierec_model_reload_failures_total New model versions refused.\n"
             "# TYPE movierec_model_reload_failures_total counter\n"
             "movierec_model_reload_failures_total %ld\n",
        (long)atomic_load(&a->reload_failures));
    {
        uint64_t h, m;
        qcache_stats(a->finds, &h, &m);
        put(buf, "# HELP movierec_find_cache_total Movie lists and searches answered from "
                 "memory (hit) or the store.\n"
                 "# TYPE movierec_find_cache_total counter\n"
                 "movierec_find_cache_total{result=\"hit\"} %llu\n"
                 "movierec_find_cache_total{result=\"miss\"} %llu\n",
            (unsigned long long)h, (unsigned long long)m);
    }
    online_get_stats(a->online, &os);
    put(buf, "# HELP movierec_online_users Users whose online features are in memory.\n"
             "# TYPE movierec_online_users gauge\n"
             "movierec_online_users %d\n",
        os.users);
    put(buf, "# HELP movierec_online_lookups_total Online feature lookups by result.\n"
             "# TYPE movierec_online_lookups_total counter\n"
             "movierec_online_lookups_total{result=\"hit\"} %llu\n"
             "movierec_online_lookups_total{result=\"miss\"} %llu\n",
        (unsigned long long)os.hits, (unsigned long long)os.misses);
    put(buf, "# HELP movierec_recommendation_cache_total Recommendation lists reused (hit) or made.\n"
             "# TYPE movierec_recommendation_cache_total counter\n"
             "movierec_recommendation_cache_total{result=\"hit\"} %llu\n"
             "movierec_recommendation_cache_total{result=\"miss\"} %llu\n",
        (unsigned long long)os.rec_hits, (unsigned long long)os.rec_misses);
    put(buf, "# HELP movierec_online_updates_total Writes applied to online features.\n"
             "# TYPE movierec_online_updates_total counter\n"
             "movierec_online_updates_total %llu\n",
        (unsigned long long)os.updates);
}

void api_metrics(void *app, struct http_req *req, struct http_res *res)
{
    struct app *a = app;
    size_t len = 0;
    char *text = metrics_render(a->metrics, put_gauges, a, &len);
    (void)req;
    if (!text) {
        http_res_error(res, 500, "internal", "out of memory");
        return;
    }
    http_res_text(res, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
}

void api_models(void *app, struct http_req *req, struct http_res *res)
{
    struct app *a = app;
    struct served *sv = app_served_get(a);
    json_t *list = json_array();
    (void)req;
    if (sv && sv->has_engine) {
        json_array_append_new(list, json_pack("{s:s, s:i, s:s}", "name", "watch", "version",
                                              sv->e.model_version, "state", "AVAILABLE"));
        json_array_append_new(list, json_pack("{s:s, s:i, s:s}", "name", "recall", "version",
                                              sv->e.recall_version, "state", "AVAILABLE"));
        json_array_append_new(list, json_pack("{s:s, s:i, s:s}", "name", "ranker", "version",
                                              sv->e.model_version, "state", "AVAILABLE"));
    }
    if (sv && sv->has_like)
        json_array_append_new(list, json_pack("{s:s, s:i, s:s}", "name", "like", "version",
                                              sv->like_version, "state", "AVAILABLE"));
    app_served_put(a, sv);
    http_res_json(res, 200, json_pack("{s:o}", "models", list));
}

struct pair {
    int64_t user, movie;
    int idx;
};

static int by_user(const void *x, const void *y)
{
    const struct pair *a = x, *b = y;
    if (a->user != b->user)
        return a->user < b->user ? -1 : 1;
    return a->idx - b->idx;
}

/* The ranker: user by user, one recommendation to set the user's state,
 * then the rows scored against it (as `movierec score` does). */
static int predict_ranker(struct app *a, struct worker *w, struct served *sv, struct pair *p,
                          int n, float *out, struct http_res *res)
{
    struct error err = {0};
    struct rec_item one[1];
    int rows[PREDICT_MAX];
    float prob[PREDICT_MAX];
    qsort(p, (size_t)n, sizeof(*p), by_user);
    for (int i = 0; i < n;) {
        int j = i, rc;
        struct online_snap st;
        struct rec_user u;
        struct rec_user_buf ub;
        while (j < n && p[j].user == p[i].user)
            j++;
        if ((rc = online_get(a->online, w->s, p[i].user, &st, &err))) {
            if (rc == ERR_NOTFOUND)
                http_res_error(res, 400, "bad_request", "instances[%d]: no user %lld", p[i].idx,
                               (long long)p[i].user);
            else
                app_error(a, res, rc, &err);
            return -1;
        }
        if (app_rec_user(sv, &st, &u, &ub)) {
            online_snap_free(&st);
            app_error(a, res, ERR_NOMEM, NULL);
            return -1;
        }
        rc = recommender_recommend(&sv->e.r, &w->ws, &w->ro, &u, one, 1, &err);
        app_rec_user_free(&ub);
        online_snap_free(&st);
        if (rc < 0) {
            app_error(a, res, -rc, &err);
            return -1;
        }
        for (int k = i; k < j; k++)
            rows[k - i] = recommender_row(&sv->e.r, p[k].movie);
        recommender_score_rows(&sv->e.r, &w->ws, &w->ro, rows, j - i, prob);
        for (int k = i; k < j; k++)
            out[p[k].idx] = prob[k - i];
        i = j;
    }
    return 0;
}

void api_predict(void *app, struct http_req *req, struct http_res *res)
{
    struct app *a = app;
    struct worker *w = app_worker(a, res);
    const char *spec = req->nparams ? req->params[0] : "";
    const char *colon = strchr(spec, ':');
    char name[32];
    struct served *sv = NULL;
    struct pair *p = NULL;
    struct user_feat *uf = NULL;
    struct movie_feat *mf = NULL;
    float *out = NULL;
    json_t *body = NULL, *inst, *x, *preds;
    size_t i;
    int n, like;

    if (!w)
        return;
    if (!colon || strcmp(colon, ":predict") || colon - spec >= (long)sizeof(name)) {
        http_res_error(res, 404, "not_found", "use POST /v1/models/<name>:predict");
        return;
    }
    snprintf(name, sizeof(name), "%.*s", (int)(colon - spec), spec);
    like = !strcmp(name, "like");
    if (!like && strcmp(name, "watch") && strcmp(name, "ranker")) {
        http_res_error(res, 404, "not_found", "no model '%s' (watch, like or ranker)", name);
        return;
    }
    if (!(body = http_req_json(req, res)))
        return;
    inst = json_object_get(body, "instances");
    if (!json_is_array(inst) || json_array_size(inst) == 0 ||
        json_array_size(inst) > PREDICT_MAX) {
        http_res_error(res, 400, "bad_request",
                       "'instances' must be a list of 1 to %d {\"user_id\", \"movie_id\"} objects",
                       PREDICT_MAX);
        goto out;
    }
    sv = app_served_get(a);
    if (!sv || (like ? !sv->has_like : !sv->has_engine)) {
        http_res_error(res, 503, "no_model", "model '%s' is not trained yet", name);
        goto out;
    }
    n = (int)json_array_size(inst);
    p = calloc((size_t)n, sizeof(*p));
    uf = calloc((size_t)n, sizeof(*uf));
    mf = calloc((size_t)n, sizeof(*mf));
    out = calloc((size_t)n, sizeof(*out));
    if (!p || !uf || !mf || !out) {
        app_error(a, res, ERR_NOMEM, NULL);
        goto out;
    }
    json_array_foreach(inst, i, x)
    {
        json_t *u = json_object_get(x, "user_id"), *m = json_object_get(x, "movie_id");
        struct store_user_row ur;
        const struct vocab *v = like ? &sv->like_v : &sv->e.v;
        int k;
        if (!json_is_integer(u) || !json_is_integer(m)) {
            http_res_error(res, 400, "bad_request",
                           "instances[%zu] must have integer \"user_id\" and \"movie_id\"", i);
            goto out;
        }
        p[i].user = json_integer_value(u);
        p[i].movie = json_integer_value(m);
        p[i].idx = (int)i;
        if (store_get_user(w->s, p[i].user, &ur, NULL)) {
            http_res_error(res, 400, "bad_request", "instances[%zu]: no user %lld", i,
                           (long long)p[i].user);
            goto out;
        }
        vocab_user_feat(v, &ur, &uf[i]);
        if (like) {
            k = feat_find(sv->like_ids, sv->like_n, p[i].movie);
            if (k >= 0)
                mf[i] = sv->like_mf[k];
        } else {
            k = recommender_row(&sv->e.r, p[i].movie);
            if (k >= 0)
                mf[i] = sv->e.r.mf[k];
        }
        if (k < 0) {
            http_res_error(res, 400, "bad_request", "instances[%zu]: no movie %lld", i,
                           (long long)p[i].movie);
            goto out;
        }
    }
    if (!strcmp(name, "ranker")) {
        if (app_worker_ready(w, sv, res) || predict_ranker(a, w, sv, p, n, out, res))
            goto out;
    } else {
        struct error err = {0};
        int rc = model_score(like ? &sv->like : &sv->e.m, uf, mf, n, out, &err);
        if (rc) {
            app_error(a, res, rc, &err);
            goto out;
        }
    }
    preds = json_array();
    for (int k = 0; k < n; k++)
        json_array_append_new(preds, json_real(out[k]));
    http_res_json(res, 200,
                  json_pack("{s:o, s:s, s:i}", "predictions", preds, "model", name, "version",
                            like ? sv->like_version : sv->e.model_version));
out:
    app_served_put(a, sv);
    free(p);
    free(uf);
    free(mf);
    free(out);
    json_decref(body);
}
