/*
 * api_movies.c - browsing (SUMMARY.md 3.3, 6): genres, movies by genre
 * with paging and sort, title search with filters, a movie's page and
 * movies similar to it, and its poster (poster.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../model/train.h"
#include "app.h"

void api_genres(void *app, struct http_req *req, struct http_res *res)
{
    struct app *a = app;
    struct worker *w = app_worker(a, res);
    struct store_genre_count g[128];
    struct error err = {0};
    int n = 0, rc;
    json_t *list;
    (void)req;
    if (!w)
        return;
    if ((rc = store_genres(w->s, g, 128, &n, &err))) {
        app_error(a, res, rc, &err);
        return;
    }
    list = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(list, json_pack("{s:s, s:I, s:I}", "name", g[i].name, "movies",
                                              (json_int_t)g[i].movies, "ratings",
                                              (json_int_t)g[i].ratings));
    http_res_json(res, 200, json_pack("{s:o}", "genres", list));
}

static const struct {
    const char *name;
    enum store_sort sort;
} sorts[] = {{"rating", STORE_SORT_RATING},   {"popular", STORE_SORT_POPULAR},
             {"year", STORE_SORT_YEAR},       {"title", STORE_SORT_TITLE},
             {"relevance", STORE_SORT_RELEVANCE}};

/* The query's filters, sort and page: -1 with 400 on res. */
static int movie_query(struct http_req *req, struct http_res *res, struct store_movie_query *q,
                       enum store_sort def, int64_t *page, int64_t *per_page)
{
    const char *sort = http_query(req, "sort");
    int64_t ymin, ymax;
    memset(q, 0, sizeof(*q));
    q->genre = http_query(req, "genre");
    if (q->genre && !q->genre[0])
        q->genre = NULL;
    q->sort = def;
    if (sort && sort[0]) {
        size_t i;
        for (i = 0; i < sizeof(sorts) / sizeof(*sorts); i++)
            if (!strcmp(sorts[i].name, sort))
                break;
        if (i == sizeof(sorts) / sizeof(*sorts) ||
            (sorts[i].sort == STORE_SORT_RELEVANCE && def != STORE_SORT_RELEVANCE)) {
            http_res_error(res, 400, "bad_request",
                           "'sort' must be rating, popular, year or title%s",
                           def == STORE_SORT_RELEVANCE ? " or relevance" : "");
            return -1;
        }
        q->sort = sorts[i].sort;
    }
    if (app_query_int(req, res, "page", 1, 1, 100000, page) ||
        app_query_int(req, res, "per_page", 20, 1, 100, per_page) ||
        app_query_int(req, res, "year_min", 0, 0, 3000, &ymin) ||
        app_query_int(req, res, "year_max", 0, 0, 3000, &ymax))
        return -1;
    q->year_min = (int)ymin;
    q->year_max = (int)ymax;
    q->offset = (int)((*page - 1) * *per_page);
    q->limit = (int)*per_page;
    return 0;
}

static void find_reply(struct app *a, struct worker *w, struct http_res *res,
                       const struct store_movie_query *q, int64_t page, int64_t per_page)
{
    char key[QCACHE_KEY + 1];
    int64_t ids[QCACHE_IDS], total = 0, now = app_now();
    struct error err = {0};
    int n = 0, rc;
    json_t *list;

    /* the whole query, unambiguous: the text goes last */
    snprintf(key, sizeof(key), "%d|%d|%d|%d|%d|%s|%s", (int)q->sort, q->year_min, q->year_max,
             q->offset, q->limit, q->genre ? q->genre : "", q->text ? q->text : "\x01");
    if (!qcache_get(a->finds, key, now, ids, &n, &total)) {
        struct store_movie_info *m = malloc((size_t)q->limit * sizeof(*m));
        if (!m) {
            app_error(a, res, ERR_NOMEM, NULL);
            return;
        }
        if ((rc = store_movies_find(w->s, q, m, &n, &total, &err))) {
            free(m);
            app_error(a, res, rc, &err);
            return;
        }
        for (int i = 0; i < n && i < QCACHE_IDS; i++)
            ids[i] = m[i].id;
        free(m);
        qcache_put(a->finds, key, now, ids, n, total);
    }
    list = json_array();
    for (int i = 0; i < n; i++) {
        struct store_movie_info info;
        if (catalog_get(&a->cat, ids[i], &info) == 0)
            json_array_append_new(list, app_movie_json(a, &info));
    }
    http_res_json(res, 200,
                  json_pack("{s:o, s:I, s:I, s:I}", "movies", list, "total", (json_int_t)total,
                            "page", (json_int_t)page, "per_page", (json_int_t)per_page));
}

void api_movies(void *app, struct http_req *req, struct http_res *res)
{
    struct app *a = app;
    struct worker *w = app_worker(a, res);
    struct store_movie_query q;
    int64_t page, per_page;
    if (!w || movie_query(req, res, &q, STORE_SORT_POPULAR, &page, &per_page))
        return;
    q.ids_only = 1;
    find_reply(a, w, res, &q, page, per_page);
}

void api_search(void *app, struct http_req *req, struct http_res *res)
{
    struct app *a = app;
    struct worker *w = app_worker(a, res);
    struct store_movie_query q;
    int64_t page, per_page;
    if (!w || movie_query(req, res, &q, STORE_SORT_RELEVANCE, &page, &per_page))
        return;
    q.text = http_query(req, "q");
    if (!q.text || !q.text[0]) {
        http_res_error(res, 400, "bad_request", "'q' (the words to search for) is required");
        return;
    }
    if (strlen(q.text) > 200) {
        http_res_error(res, 400, "bad_request", "'q' is too long (at most 200 bytes)");
        return;
    }
    q.ids_only = 1;
    find_reply(a, w, res, &q, page, per_page);
}

struct tags_ctx {
    json_t *list;
};

static int add_tag(void *ctx, int64_t movie, const char *tag, int64_t time)
{
    struct tags_ctx *t = ctx;
    (void)movie;
    (void)time;
    json_array_append_new(t->list, json_string(tag));
    return 0;
}

/* The like model's probability that user likes movie: -1 when unknown. */
static double predicted(const struct served *sv, struct worker *w, int64_t user, int64_t movie)
{
    struct store_account acc;
    struct user_feat uf;
    float p;
    int i;
    if (!sv || !sv->has_like || store_account_get(w->s, user, &acc, NULL))
        return -1;
    i = feat_find(sv->like_ids, sv->like_n, movie);
    if (i < 0)
        return -1;
    struct store_user_row row = {acc.id, acc.gender, acc.age, acc.occupation};
    vocab_user_feat(&sv->like_v, &row, &uf);
    if (model_score(&sv->like, &uf, &sv->like_mf[i], 1, &p, NULL))
        return -1;
    return p;
}

void api_movie(void *app, struct http_req *req, struct http_res *res)
{
    struct app *a = app;
    struct worker *w = app_worker(a, res);
    struct store_movie_info m;
    struct error err = {0};
    int64_t id, user, fans[8];
    int nfans = 0;
    json_t *j, *fl;

    if (!w || app_param_id(req, res, 0, &id))
        return;
    if (catalog_get(&a->cat, id, &m)) {
        http_res_error(res, 404, "not_found", "no movie %lld", (long long)id);
        return;
    }
    j = app_movie_json(a, &m);
    fl = json_array();
    if (store_movie_fans(w->s, id, 4.0, fans, 8, &nfans, &err) == 0)
        for (int i = 0; i < nfans; i++) {
            struct store_account u;
            if (store_account_get(w->s, fans[i], &u, NULL) == 0)
                json_array_append_new(fl, json_pack("{s:I, s:s}", "id", (json_int_t)u.id,
                                                    "name", u.name));
        }
    json_object_set_new(j, "liked_by", fl);
    if (app_session_user(a, w, req, &user)) {
        struct served *sv = app_served_get(a);
        double p = predicted(sv, w, user, id), score;
        int64_t t;
        struct tags_ctx tc = {json_array()};
        app_served_put(a, sv);
        json_object_set_new(j, "predicted", p >= 0 ? json_real((double)(int)(p * 1000 + 0.5) / 1000)
                                                   : json_null());
        if (store_rating_get(w->s, user, id, &score, &t, NULL) == 0)
            json_object_set_new(j, "my_rating", json_real(score));
        else
            json_object_set_new(j, "my_rating", json_null());
        store_user_tags(w->s, user, id, add_tag, &tc, NULL);
        json_object_set_new(j, "my_tags", tc.list);
    }
    http_res_json(res, 200, json_pack("{s:o}", "movie", j));
}

void api_similar(void *app, struct http_req *req, struct http_res *res)
{
    struct app *a = app;
    struct worker *w = app_worker(a, res);
    struct served *sv;
    struct store_movie_info m;
    struct rec_item out[100];
    int64_t id, n;
    int row, got;
    json_t *list;

    if (!w || app_param_id(req, res, 0, &id) ||
        app_query_int(req, res, "n", 10, 1, 100, &n))
        return;
    if (catalog_get(&a->cat, id, &m)) {
        http_res_error(res, 404, "not_found", "no movie %lld", (long long)id);
        return;
    }
    sv = app_served_get(a);
    if (!sv || !sv->has_engine) {
        app_served_put(a, sv);
        http_res_error(res, 503, "no_model",
                       "similar movies need a trained model; run 'movierec train'");
        return;
    }
    if (app_worker_ready(w, sv, res)) {
        app_served_put(a, sv);
        return;
    }
    row = recommender_row(&sv->e.r, id);
    got = 0;
    if (row >= 0 && n <= SIMILAR_CACHED) {
        unsigned char want = 0;
        if (atomic_load_explicit(&sv->sim_state[row], memory_order_acquire) == 2) {
            got = sv->sim_n[row] < n ? sv->sim_n[row] : (int)n;
            memcpy(out, sv->sim + (size_t)row * SIMILAR_CACHED, (size_t)got * sizeof(*out));
        } else {
            got = recommender_similar(&sv->e.r, &w->ws, row, REC_SIMILAR_BETA, NULL, out,
                                      SIMILAR_CACHED);
            if (atomic_compare_exchange_strong(&sv->sim_state[row], &want, 1)) {
                memcpy(sv->sim + (size_t)row * SIMILAR_CACHED, out, (size_t)got * sizeof(*out));
                sv->sim_n[row] = got;
                atomic_store_explicit(&sv->sim_state[row], 2, memory_order_release);
            }
            if (got > n)
                got = (int)n;
        }
    } else if (row >= 0) {
        got = recommender_similar(&sv->e.r, &w->ws, row, REC_SIMILAR_BETA, NULL, out, (int)n);
    }
    list = json_array();
    for (int i = 0; i < got; i++) {
        struct store_movie_info s;
        if (catalog_get(&a->cat, sv->e.r.ids[out[i].movie], &s))
            continue;
        json_t *it = app_movie_json(a, &s);
        json_object_set_new(it, "similarity", json_real(out[i].score));
        json_array_append_new(list, it);
    }
    http_res_json(res, 200,
                  json_pack("{s:I, s:o, s:i}", "movie_id", (json_int_t)id, "similar", list,
                            "model_version", sv->e.model_version));
    app_served_put(a, sv);
}

void api_movie_poster(void *app, struct http_req *req, struct http_res *res)
{
    struct app *a = app;
    struct store_movie_info m;
    struct poster_image img;
    struct error err = {0};
    int64_t id;
    int rc;

    if (app_param_id(req, res, 0, &id))
        return;
    if (catalog_get(&a->cat, id, &m)) {
        http_res_error(res, 404, "not_found", "no movie %lld", (long long)id);
        return;
    }
    if (!m.tmdb_id) {
        http_res_error(res, 404, "no_poster", "movie %lld has no TMDB id", (long long)id);
        http_res_header(res, "Cache-Control", "no-store");
        return;
    }
    rc = poster_cache_get(a->posters, m.tmdb_id, &img, &err);
    if (rc == ERR_NOTFOUND) {
        /* the pages keep the poster they drew; a later visit may find one */
        http_res_error(res, 404, "no_poster", "%s", err.msg);
        http_res_header(res, "Cache-Control", "no-store");
        return;
    }
    if (rc) {
        app_error(a, res, rc, &err);
        return;
    }
    http_res_text(res, 200, img.type, img.data, img.len);
    poster_image_free(&img);
    if (res->status == 200)
        http_res_header(res, "Cache-Control", "public, max-age=604800");
}
