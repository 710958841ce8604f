/*
 * api_me.c - the logged-in user's own things: recommendations with
 * reasons, "my page" (rated movies, favourite genres, tags) and the writes
 * (rate, remove a rating, tag, untag). A write is committed to the store
 * (with its event row) before the reply and applied to the user's online
 * features at once, so the next recommendation sees it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"

static const char *const reason_codes[] = {"liked", "content", "taste", "genre", "group",
                                           "popular"};

struct titles {
    struct catalog *c;
    const struct recommender *r;
    char buf[512];
};

static const char *title_of(void *ctx, int row)
{
    struct titles *t = ctx;
    if (row < 0 || row >= t->r->n ||
        catalog_title(t->c, t->r->ids[row], t->buf, sizeof(t->buf)))
        return NULL;
    return t->buf;
}

void api_recommendations(void *app, struct http_req *req, struct http_res *res)
{
    struct app *a = app;
    struct worker *w = app_worker(a, res);
    struct served *sv = NULL;
    struct online_snap st;
    struct rec_user u;
    struct rec_user_buf ub;
    struct rec_opts o;
    struct rec_item out[ONLINE_RECS_MAX];
    struct error err = {0};
    int64_t user, n, cap, now = app_now();
    int got, rc, ratings = 0;
    json_t *list;

    memset(&st, 0, sizeof(st));
    memset(&ub, 0, sizeof(ub));
    if (!w || app_require_user(a, w, req, res, &user) ||
        app_query_int(req, res, "n", 10, 1, 100, &n) ||
        app_query_int(req, res, "genre_cap", w->ro.genre_cap, 0, 10, &cap))
        return;
    sv = app_served_get(a);
    if (!sv || !sv->has_engine) {
        app_served_put(a, sv);
        http_res_error(res, 503, "no_model",
                       "recommendations need trained models; run 'movierec train'");
        return;
    }
    if (app_worker_ready(w, sv, res))
        goto out;
    got = a->o.rec_cache_s > 0 ? online_recs_get(a->online, user, sv->gen, (int)n, (int)cap, now,
                                                 a->o.rec_cache_s, out, &ratings)
                               : -1;
    if (got < 0) { /* not made since the user's last write: make it */
        if ((rc = online_get(a->online, w->s, user, &st, &err))) {
            app_error(a, res, rc, &err);
            goto out;
        }
        if (app_rec_user(sv, &st, &u, &ub)) {
            app_error(a, res, ERR_NOMEM, NULL);
            goto out;
        }
        o = w->ro;
        o.genre_cap = (int)cap;
        got = recommender_recommend(&sv->e.r, &w->ws, &o, &u, out, (int)n, &err);
        if (got < 0) {
            app_error(a, res, -got, &err);
            goto out;
        }
        double total = 0;
        for (int i = 0; i < REC_NSTAGES; i++) {
            metrics_observe(a->stage[i], w->ws.stage_ms[i] / 1e3);
            total += w->ws.stage_ms[i];
        }
        metrics_observe(a->rec_total, total / 1e3);
        ratings = st.n;
        if (a->o.rec_cache_s > 0)
            online_recs_put(a->online, &st, sv->gen, (int)n, (int)cap, now, out, got);
    }
    list = json_array();
    {
        struct titles tt = {&a->cat, &sv->e.r, {0}};
        for (int i = 0; i < got; i++) {
            struct store_movie_info m;
            char why[600];
            if (catalog_get(&a->cat, sv->e.r.ids[out[i].movie], &m))
                continue; /* not in the store */
            rec_reason_text(&sv->e.r, &out[i], title_of, &tt, why, sizeof(why));
            json_t *it = app_movie_json(a, &m);
            json_object_set_new(it, "score", json_real(out[i].score));
            json_object_set_new(it, "reason", json_string(why));
            json_object_set_new(it, "reason_code",
                                json_string(out[i].reason == REASON_LIKED && !out[i].because_liked
                                                ? "watched"
                                                : reason_codes[out[i].reason]));
            json_object_set_new(it, "channel", json_string(rec_channel_name(out[i].channel)));
            if (out[i].because >= 0)
                json_object_set_new(it, "because_movie_id",
                                    json_integer(sv->e.r.ids[out[i].because]));
            json_array_append_new(list, it);
        }
    }
    http_res_json(res, 200,
                  json_pack("{s:o, s:i, s:i, s:i}", "recommendations", list, "ratings", ratings,
                            "model_version", sv->e.model_version, "recall_version",
                            sv->e.recall_version));
out:
    app_rec_user_free(&ub);
    online_snap_free(&st);
    app_served_put(a, sv);
}

void api_my_ratings(void *app, struct http_req *req, struct http_res *res)
{
    struct app *a = app;
    struct worker *w = app_worker(a, res);
    const char *sort = http_query(req, "sort");
    enum store_rated_sort so = STORE_RATED_TIME;
    struct store_rated *r;
    struct error err = {0};
    int64_t user, page, per_page, total = 0;
    int n = 0, rc;
    json_t *list;

    if (!w || app_require_user(a, w, req, res, &user) ||
        app_query_int(req, res, "page", 1, 1, 100000, &page) ||
        app_query_int(req, res, "per_page", 50, 1, 100, &per_page))
        return;
    if (sort && !strcmp(sort, "score"))
        so = STORE_RATED_SCORE;
    else if (sort && !strcmp(sort, "title"))
        so = STORE_RATED_TITLE;
    else if (sort && sort[0] && strcmp(sort, "time")) {
        http_res_error(res, 400, "bad_request", "'sort' must be time, score or title");
        return;
    }
    if (!(r = malloc((size_t)per_page * sizeof(*r)))) {
        app_error(a, res, ERR_NOMEM, NULL);
        return;
    }
    if ((rc = store_user_rated(w->s, user, so, (int)((page - 1) * per_page), (int)per_page, r,
                               &n, &total, &err))) {
        free(r);
        app_error(a, res, rc, &err);
        return;
    }
    list = json_array();
    for (int i = 0; i < n; i++) {
        json_t *it = app_movie_json(a, &r[i].m);
        json_object_set_new(it, "my_rating", json_real(r[i].score));
        json_object_set_new(it, "rated_at", json_integer(r[i].time));
        json_array_append_new(list, it);
    }
    free(r);
    http_res_json(res, 200,
                  json_pack("{s:o, s:I, s:I, s:I}", "ratings", list, "total", (json_int_t)total,
                            "page", (json_int_t)page, "per_page", (json_int_t)per_page));
}

/* favourite genres: interest genres first, then the genres of liked
 * (>= 4) and tagged movies, weighted */
#define MAX_G 64
struct gw {
    char name[48];
    double w;
    int interest;
};

static void add_genres(struct gw *g, int *ng, const char *list, double wt)
{
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, '|');
        int n = e ? (int)(e - p) : (int)strlen(p), k;
        for (k = 0; k < *ng; k++)
            if ((int)strlen(g[k].name) == n && !strncmp(g[k].name, p, (size_t)n))
                break;
        if (k == *ng && *ng < MAX_G) {
            snprintf(g[k].name, sizeof(g[k].name), "%.*s", n, p);
            g[k].w = 0;
            g[k].interest = 0;
            (*ng)++;
        }
        if (k < *ng)
            g[k].w += wt;
        p += n + (e ? 1 : 0);
    }
}

static int by_weight(const void *x, const void *y)
{
    const struct gw *a = x, *b = y;
    if (a->interest != b->interest)
        return b->interest - a->interest;
    return (a->w < b->w) - (a->w > b->w);
}

void api_my_genres(void *app, struct http_req *req, struct http_res *res)
{
    struct app *a = app;
    struct worker *w = app_worker(a, res);
    struct online_snap st;
    struct gw g[MAX_G];
    struct error err = {0};
    int64_t user;
    int ng = 0, rc, liked = 0;
    json_t *list;

    if (!w || app_require_user(a, w, req, res, &user))
        return;
    if ((rc = online_get(a->online, w->s, user, &st, &err))) {
        app_error(a, res, rc, &err);
        return;
    }
    for (int i = 0; i < st.ngenres; i++) {
        add_genres(g, &ng, st.genres[i], 0);
        for (int k = 0; k < ng; k++)
            if (!strcmp(g[k].name, st.genres[i]))
                g[k].interest = 1;
    }
    /* the latest 1000 liked movies, and what the user tagged */
    for (int i = st.n - 1; i >= 0 && liked < 1000; i--) {
        struct store_movie_info m;
        if (st.r[i].score < 4 || catalog_get(&a->cat, st.r[i].movie, &m))
            continue;
        liked++;
        add_genres(g, &ng, m.genres, st.r[i].score - 3);
    }
    for (int i = 0; i < st.ntagged; i++) {
        struct store_movie_info m;
        if (catalog_get(&a->cat, st.tagged[i], &m) == 0)
            add_genres(g, &ng, m.genres, 0.5);
    }
    qsort(g, (size_t)ng, sizeof(*g), by_weight);
    list = json_array();
    {
        double sum = 0;
        for (int i = 0; i < ng; i++)
            sum += g[i].w;
        for (int i = 0; i < ng; i++)
            json_array_append_new(list, json_pack("{s:s, s:f, s:b}", "genre", g[i].name,
                                                  "share", sum > 0 ? g[i].w / sum : 0.0,
                                                  "interest", g[i].interest));
    }
    http_res_json(res, 200,
                  json_pack("{s:o, s:i, s:i}", "genres", list, "ratings", st.n, "liked", liked));
    online_snap_free(&st);
}

void api_rate(void *app, struct http_req *req, struct http_res *res)
{
    struct app *a = app;
    struct worker *w = app_worker(a, res);
    struct error err = {0};
    int64_t user, movie, now = app_now();
    json_t *body, *sc;
    double score;
    int rc;

    if (!w || app_require_user(a, w, req, res, &user) || app_check_csrf(req, res) ||
        app_param_id(req, res, 0, &movie) || !(body = http_req_json(req, res)))
        return;
    sc = json_object_get(body, "score");
    if (!sc || !json_is_number(sc)) {
        http_res_error(res, 400, "bad_request", "'score' (0.5 to 5 in halves) is required");
        goto out;
    }
    score = json_number_value(sc);
    app_user_lock(a, user);
    if ((rc = store_rate(w->s, user, movie, score, now, &err)) == 0)
        online_rated(a->online, user, movie, (float)score, now);
    app_user_unlock(a, user);
    if (rc) {
        app_error(a, res, rc, &err);
        goto out;
    }
    catalog_refresh(&a->cat, w->s, movie);
    http_res_json(res, 200,
                  json_pack("{s:I, s:f, s:I}", "movie_id", (json_int_t)movie, "score", score,
                            "time", (json_int_t)now));
out:
    json_decref(body);
}

void api_unrate(void *app, struct http_req *req, struct http_res *res)
{
    struct app *a = app;
    struct worker *w = app_worker(a, res);
    struct error err = {0};
    int64_t user, movie;
    int rc;

    if (!w || app_require_user(a, w, req, res, &user) || app_check_csrf(req, res) ||
        app_param_id(req, res, 0, &movie))
        return;
    app_user_lock(a, user);
    if ((rc = store_unrate(w->s, user, movie, app_now(), &err)) == 0)
        online_unrated(a->online, user, movie);
    app_user_unlock(a, user);
    if (rc) {
        app_error(a, res, rc, &err);
        return;
    }
    catalog_refresh(&a->cat, w->s, movie);
    http_res_json(res, 200, json_pack("{s:I, s:b}", "movie_id", (json_int_t)movie, "removed", 1));
}

struct tag_list {
    struct store *s;
    json_t *list;
};

static int list_tag(void *ctx, int64_t movie, const char *tag, int64_t time)
{
    struct tag_list *t = ctx;
    struct store_movie_row m;
    json_array_append_new(t->list,
                          json_pack("{s:I, s:s, s:s, s:I}", "movie_id", (json_int_t)movie, "title",
                                    store_get_movie(t->s, movie, &m, NULL) ? "" : m.title, "tag",
                                    tag, "time", (json_int_t)time));
    return json_array_size(t->list) >= 1000 ? 100 : 0; /* 100: enough for a page */
}

void api_my_tags(void *app, struct http_req *req, struct http_res *res)
{
    struct app *a = app;
    struct worker *w = app_worker(a, res);
    struct error err = {0};
    struct tag_list t;
    int64_t user;
    int rc;
    if (!w || app_require_user(a, w, req, res, &user))
        return;
    t.s = w->s;
    t.list = json_array();
    rc = store_user_tags(w->s, user, 0, list_tag, &t, &err);
    if (rc && rc != 100) {
        json_decref(t.list);
        app_error(a, res, rc, &err);
        return;
    }
    http_res_json(res, 200, json_pack("{s:o}", "tags", t.list));
}

void api_tag_add(void *app, struct http_req *req, struct http_res *res)
{
    struct app *a = app;
    struct worker *w = app_worker(a, res);
    struct error err = {0};
    int64_t user, movie;
    json_t *body, *tag;
    int rc;

    if (!w || app_require_user(a, w, req, res, &user) || app_check_csrf(req, res) ||
        app_param_id(req, res, 0, &movie) || !(body = http_req_json(req, res)))
        return;
    tag = json_object_get(body, "tag");
    if (!tag || !json_is_string(tag) || strlen(json_string_value(tag)) != json_string_length(tag)) {
        http_res_error(res, 400, "bad_request", "'tag' (a string) is required");
        goto out;
    }
    app_user_lock(a, user);
    if ((rc = store_tag_add(w->s, user, movie, json_string_value(tag), app_now(), &err)) == 0)
        online_tagged(a->online, user, movie);
    app_user_unlock(a, user);
    if (rc) {
        app_error(a, res, rc, &err);
        goto out;
    }
    http_res_json(res, 201,
                  json_pack("{s:I, s:s}", "movie_id", (json_int_t)movie, "tag",
                            json_string_value(tag)));
out:
    json_decref(body);
}

void api_tag_remove(void *app, struct http_req *req, struct http_res *res)
{
    struct app *a = app;
    struct worker *w = app_worker(a, res);
    struct error err = {0};
    int64_t user, movie;
    int rc;

    if (!w || app_require_user(a, w, req, res, &user) || app_check_csrf(req, res) ||
        app_param_id(req, res, 0, &movie))
        return;
    app_user_lock(a, user);
    if ((rc = store_tag_remove(w->s, user, movie, req->params[1], app_now(), &err)) == 0)
        online_forget(a->online, user);
    app_user_unlock(a, user);
    if (rc) {
        app_error(a, res, rc, &err);
        return;
    }
    http_res_json(res, 200, json_pack("{s:I, s:s, s:b}", "movie_id", (json_int_t)movie, "tag",
                                      req->params[1], "removed", 1));
}
