/*
 * app.c - the server's shared state, route table, model reloader and the
 * helpers every handler uses (app.h).
 */
#include "app.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../model/modelfile.h"
#include "../model/train.h"
#include "../util/text.h"

const struct http_route app_routes[] = {
    {"GET", "/healthz", api_healthz, "healthz"},
    {"GET", "/metrics", api_metrics, "metrics"},
    {"POST", "/v1/auth/register", api_register, "register"},
    {"POST", "/v1/auth/login", api_login, "login"},
    {"POST", "/v1/auth/logout", api_logout, "logout"},
    {"GET", "/v1/me", api_me, "me"},
    {"GET", "/v1/me/profile", api_profile_get, "profile"},
    {"PUT", "/v1/me/profile", api_profile_put, "profile_update"},
    {"GET", "/v1/me/recommendations", api_recommendations, "recommendations"},
    {"GET", "/v1/me/ratings", api_my_ratings, "my_ratings"},
    {"PUT", "/v1/me/ratings/:movie", api_rate, "rate"},
    {"DELETE", "/v1/me/ratings/:movie", api_unrate, "unrate"},
    {"GET", "/v1/me/genres", api_my_genres, "my_genres"},
    {"GET", "/v1/me/tags", api_my_tags, "my_tags"},
    {"POST", "/v1/me/tags/:movie", api_tag_add, "tag"},
    {"DELETE", "/v1/me/tags/:movie/:tag", api_tag_remove, "untag"},
    {"GET", "/v1/genres", api_genres, "genres"},
    {"GET", "/v1/movies", api_movies, "movies"},
    {"GET", "/v1/search", api_search, "search"},
    {"GET", "/v1/movies/:id", api_movie, "movie"},
    {"GET", "/v1/movies/:id/similar", api_similar, "similar"},
    {"GET", "/v1/movies/:id/poster", api_movie_poster, "poster"},
    {"GET", "/v1/models", api_models, "models"},
    {"POST", "/v1/models/:spec", api_predict, "predict"},
};
const int app_nroutes = (int)(sizeof(app_routes) / sizeof(app_routes[0]));

void app_opts_default(struct app_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->reload_s = 5;
    o->session_days = 30;
    o->online_users = 20000;
    o->login_failures = 10;
    o->login_attempts = 30;
    o->login_window_s = 900;
    o->rec_cache_s = 300;
    o->log = stderr;
}

void app_user_lock(struct app *a, int64_t user)
{
    pthread_mutex_lock(&a->wmu[(uint64_t)user % 64]);
}

void app_user_unlock(struct app *a, int64_t user)
{
    pthread_mutex_unlock(&a->wmu[(uint64_t)user % 64]);
}

int64_t app_now(void)
{
    return (int64_t)time(NULL);
}

void app_log(struct app *a, const char *fmt, ...)
{
    char ts[32];
    time_t t = time(NULL);
    struct tm tm;
    va_list ap;
    if (!a->o.log)
        return;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    pthread_mutex_lock(&a->logmu);
    fprintf(a->o.log, "%s ", ts);
    va_start(ap, fmt);
    vfprintf(a->o.log, fmt, ap);
    va_end(ap);
    fputc('\n', a->o.log);
    fflush(a->o.log);
    pthread_mutex_unlock(&a->logmu);
}

/* ------------------------------------------------------------------ */
/* served models                                                       */

static void served_free(struct served *sv)
{
    if (!sv)
        return;
    if (sv->has_engine)
        engine_free(&sv->e);
    free(sv->sim);
    free(sv->sim_n);
    free((void *)sv->sim_state);
    if (sv->has_like) {
        model_free(&sv->like);
        vocab_free(&sv->like_v);
        free(sv->like_ids);
        free(sv->like_mf);
    }
    free(sv);
}

struct served *app_served_get(struct app *a)
{
    struct served *sv;
    pthread_mutex_lock(&a->mu);
    sv = a->cur;
    if (sv)
        atomic_fetch_add(&sv->refs, 1);
    pthread_mutex_unlock(&a->mu);
    return sv;
}

void app_served_put(struct app *a, struct served *sv)
{
    (void)a;
    if (sv && atomic_fetch_sub(&sv->refs, 1) == 1)
        served_free(sv);
}

static int latest(const char *models, const char *label)
{
    char dir[4300];
    snprintf(dir, sizeof(dir), "%s/%s", models, label);
    int v = modelfile_latest(dir, NULL);
    return v > 0 ? v : 0;
}

/* The like model at version v (0 newest) with the store's movies encoded
 * for it. */
static int load_like(struct app *a, struct store *s, struct served *sv, int v, struct error *err)
{
    char dir[4300];
    int rc;
    snprintf(dir, sizeof(dir), "%s/like", a->models_dir);
    if ((rc = modelfile_load(dir, v, &sv->like, &sv->like_v, &sv->like_version, err)))
        return rc;
    if ((rc = feat_load_movies(s, &sv->like_v, &sv->like_ids, &sv->like_mf, &sv->like_n, err))) {
        model_free(&sv->like);
        vocab_free(&sv->like_v);
        return rc;
    }
    sv->has_like = 1;
    return 0;
}

/* Loads exactly these versions (0 = skip that model). */
static int served_load(struct app *a, struct store *s, int watch, int recall, int like,
                       struct served **out, struct error *err)
{
    struct served *sv = calloc(1, sizeof(*sv));
    int rc;
    *out = NULL;
    if (!sv)
        return error_set(err, ERR_NOMEM, "out of memory");
    if (watch && recall) {
        if ((rc = engine_load_at(&sv->e, a->models_dir, s, watch, recall, err))) {
            free(sv);
            return rc;
        }
        sv->has_engine = 1;
        size_t n = (size_t)sv->e.r.n;
        sv->sim = malloc(n * SIMILAR_CACHED * sizeof(*sv->sim));
        sv->sim_n = calloc(n, sizeof(*sv->sim_n));
        sv->sim_state = calloc(n, sizeof(*sv->sim_state));
        if (!sv->sim || !sv->sim_n || !sv->sim_state) {
            served_free(sv);
            return error_set(err, ERR_NOMEM, "out of memory for the similar-movies cache");
        }
    }
    if (like && (rc = load_like(a, s, sv, like, err))) {
        served_free(sv);
        return rc;
    }
    atomic_init(&sv->refs, 1);
    *out = sv;
    return 0;
}

static void swap_in(struct app *a, struct served *sv)
{
    struct served *old;
    pthread_mutex_lock(&a->mu);
    sv->gen = ++a->gen;
    old = a->cur;
    a->cur = sv;
    pthread_mutex_unlock(&a->mu);
    app_served_put(a, old);
}

/* At start: the newest versions that load, older ones when the newest
 * are damaged. */
static void load_initial(struct app *a, struct store *s)
{
    int W = latest(a->models_dir, "watch"), R = latest(a->models_dir, "recall");
    int L = latest(a->models_dir, "like");
    struct served *sv = NULL;
    struct error err = {0};
    int w = 0, r = 0, l = 0;

    a->tried_watch = W;
    a->tried_recall = R;
    a->tried_like = L;
    for (int tw = W; tw > 0 && !sv; tw--)
        for (int tr = R; tr > 0 && !sv; tr--) {
            if (served_load(a, s, tw, tr, 0, &sv, &err) == 0) {
                w = tw;
                r = tr;
            } else {
                app_log(a, "models: watch v%d with recall v%d refused: %s", tw, tr, err.msg);
            }
        }
    if (!sv && served_load(a, s, 0, 0, 0, &sv, &err)) {
        app_log(a, "models: cannot load: %s", err.msg);
        return;
    }
    for (int tl = L; tl > 0 && !l; tl--) {
        if (load_like(a, s, sv, tl, &err) == 0)
            l = tl;
        else
            app_log(a, "models: like v%d refused: %s", tl, err.msg);
    }
    if (!w && !l) {
        served_free(sv);
        app_log(a, "models: none yet (run 'movierec train'); recommendations wait for them");
        return;
    }
    swap_in(a, sv);
    app_log(a, "models: serving watch v%d, recall v%d, like v%d", w, r, l);
}

int app_reload(struct app *a)
{
    int W = latest(a->models_dir, "watch"), R = latest(a->models_dir, "recall");
    int L = latest(a->models_dir, "like");
    struct served *sv = NULL, *cur;
    struct store *s = NULL;
    struct error err = {0};
    int w, r, l, cw = 0, cr = 0, cl = 0;

    pthread_mutex_lock(&a->mu);
    if (W == a->tried_watch && R == a->tried_recall && L == a->tried_like) {
        pthread_mutex_unlock(&a->mu);
        return 0;
    }
    a->tried_watch = W;
    a->tried_recall = R;
    a->tried_like = L;
    cur = a->cur;
    if (cur && cur->has_engine) {
        cw = cur->e.model_version;
        cr = cur->e.recall_version;
    }
    if (cur && cur->has_like)
        cl = cur->like_version;
    pthread_mutex_unlock(&a->mu);

    /* a new version of one model: take it with the current others */
    w = W > cw ? W : cw;
    r = R > cr ? R : cr;
    l = L > cl ? L : cl;
    if (w == cw && r == cr && l == cl)
        return 0;
    if (store_open(&s, a->db_path, &err) == 0) {
        if (served_load(a, s, w, r, l, &sv, &err) == 0) {
            swap_in(a, sv);
            atomic_fetch_add(&a->reloads, 1);
            app_log(a, "models: now serving watch v%d, recall v%d, like v%d", w, r, l);
            store_close(s);
            return 1;
        }
        store_close(s);
    }
    atomic_fetch_add(&a->reload_failures, 1);
    app_log(a, "models: new version refused (watch v%d, recall v%d, like v%d), still serving "
               "the old one: %s", w, r, l, err.msg);
    return 0;
}

void app_reload_request(struct app *a)
{
    atomic_store(&a->reload_now, 1);
}

static void *reloader_main(void *arg)
{
    struct app *a = arg;
    int ticks = 0;
    while (!atomic_load(&a->stopping)) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        ticks++;
        if (atomic_exchange(&a->reload_now, 0) ||
            (a->o.reload_s > 0 && ticks >= a->o.reload_s * 10)) {
            ticks = 0;
            app_reload(a);
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* workers                                                             */

static void worker_free(void *p)
{
    struct worker *w = p;
    if (!w)
        return;
    if (w->ws_gen)
        rec_ws_free(&w->ws);
    store_close(w->s);
    free(w);
}

struct worker *app_worker(struct app *a, struct http_res *res)
{
    struct worker *w = pthread_getspecific(a->wkey);
    struct error err = {0};
    if (w)
        return w;
    w = calloc(1, sizeof(*w));
    if (!w) {
        http_res_error(res, 500, "internal", "out of memory");
        return NULL;
    }
    if (store_open(&w->s, a->db_path, &err)) {
        app_log(a, "cannot open the store: %s", err.msg);
        free(w);
        http_res_error(res, 500, "internal", "the store cannot be opened");
        return NULL;
    }
    rec_opts_default(&w->ro);
    pthread_setspecific(a->wkey, w);
    return w;
}

int app_worker_ready(struct worker *w, const struct served *sv, struct http_res *res)
{
    struct error err = {0};
    if (w->ws_gen == sv->gen)
        return 0;
    if (w->ws_gen) {
        rec_ws_free(&w->ws);
        w->ws_gen = 0;
    }
    if (rec_ws_alloc(&w->ws, &sv->e.r, &w->ro, &err)) {
        http_res_error(res, 500, "internal", "out of memory");
        return -1;
    }
    w->ws_gen = sv->gen;
    return 0;
}

/* ------------------------------------------------------------------ */
/* sessions in memory: a direct-mapped cache in front of the store      */

#define SC_SLOTS 8192
#define SC_STRIPES 64
/* A cached session is asked of the store again after this long, so a
 * session ended elsewhere (`movierec user passwd` ends the account's
 * sessions) stops working within it; SIGHUP forgets them all at once. */
#define SC_RECHECK_S 60

struct sc_slot {
    unsigned char hash[32];
    int64_t user, expires; /* user 0: empty */
    int64_t checked;       /* when the store last said it was valid */
};

struct session_cache {
    pthread_mutex_t mu[SC_STRIPES];
    struct sc_slot slot[SC_SLOTS];
};

static unsigned sc_index(const unsigned char hash[32])
{
    return ((unsigned)hash[0] | (unsigned)hash[1] << 8 | (unsigned)hash[2] << 16) % SC_SLOTS;
}

int app_session_user(struct app *a, struct worker *w, struct http_req *req, int64_t *user)
{
    unsigned char hash[32];
    const char *tok = http_cookie(req, "session");
    struct session_cache *c = a->sessions;
    int64_t now = app_now(), u = 0, exp = 0;
    unsigned k;
    if (!tok || auth_token_hash(tok, hash))
        return 0;
    k = sc_index(hash);
    pthread_mutex_lock(&c->mu[k % SC_STRIPES]);
    if (c->slot[k].user && !memcmp(c->slot[k].hash, hash, 32) && now < c->slot[k].expires &&
        now - c->slot[k].checked < SC_RECHECK_S)
        u = c->slot[k].user;
    pthread_mutex_unlock(&c->mu[k % SC_STRIPES]);
    if (u) {
        *user = u;
        return 1;
    }
    if (store_session_expiry(w->s, hash, now, &u, &exp, NULL)) {
        pthread_mutex_lock(&c->mu[k % SC_STRIPES]);
        if (!memcmp(c->slot[k].hash, hash, 32))
            c->slot[k].user = 0;
        pthread_mutex_unlock(&c->mu[k % SC_STRIPES]);
        return 0;
    }
    pthread_mutex_lock(&c->mu[k % SC_STRIPES]);
    memcpy(c->slot[k].hash, hash, 32);
    c->slot[k].user = u;
    c->slot[k].expires = exp;
    c->slot[k].checked = now;
    pthread_mutex_unlock(&c->mu[k % SC_STRIPES]);
    *user = u;
    return 1;
}

void app_sessions_forget(struct app *a)
{
    struct session_cache *c = a->sessions;
    for (int st = 0; st < SC_STRIPES; st++) {
        pthread_mutex_lock(&c->mu[st]);
        for (unsigned k = (unsigned)st; k < SC_SLOTS; k += SC_STRIPES)
            c->slot[k].user = 0;
        pthread_mutex_unlock(&c->mu[st]);
    }
}

void app_session_end(struct app *a, struct worker *w, const unsigned char hash[32])
{
    struct session_cache *c = a->sessions;
    unsigned k = sc_index(hash);
    store_session_delete(w->s, hash, NULL);
    pthread_mutex_lock(&c->mu[k % SC_STRIPES]);
    if (!memcmp(c->slot[k].hash, hash, 32))
        c->slot[k].user = 0;
    pthread_mutex_unlock(&c->mu[k % SC_STRIPES]);
}

/* ------------------------------------------------------------------ */
/* open and close                                                      */

static void poster_log(void *ctx, const char *line)
{
    app_log(ctx, "%s", line);
}

/* <home>/posters/ with the TMDB settings of the options. */
static int open_posters(struct app *a, struct error *err)
{
    struct poster_opts po;
    struct poster_stats st;
    char dir[4200];
    int rc;

    poster_opts_default(&po);
    po.key = a->o.tmdb_key;
    po.api = a->o.tmdb_api;
    po.images = a->o.tmdb_images;
    po.max_fetches = a->o.poster_fetches;
    po.log = poster_log;
    po.log_ctx = a;
    snprintf(dir, sizeof(dir), "%s/posters", a->home);
    if ((rc = poster_cache_open(&a->posters, dir, &po, err)))
        return rc;
    a->o.tmdb_key = NULL; /* the cache has its own copy; the caller's may go */
    poster_cache_stats(a->posters, &st);
    if (st.has_key)
        app_log(a, "posters: on (TMDB %s; at most %d fetch%s at once; %ld cached in %s)",
                poster_key_is_bearer(po.key) ? "v4 token" : "v3 key", st.max_fetches,
                st.max_fetches == 1 ? "" : "es", st.cached, dir);
    else
        app_log(a, "posters: off (no TMDB key: set MOVIEREC_TMDB_KEY or use --tmdb-key-file); "
                   "%ld cached posters still served", st.cached);
    return 0;
}

int app_open(struct app **out, const char *home, const struct app_opts *o, struct error *err)
{
    struct app *a = calloc(1, sizeof(*a));
    struct store *s = NULL;
    int rc;

    *out = NULL;
    if (!a)
        return error_set(err, ERR_NOMEM, "out of memory");
    if (o)
        a->o = *o;
    else
        app_opts_default(&a->o);
    pthread_mutex_init(&a->mu, NULL);
    pthread_mutex_init(&a->logmu, NULL);
    for (int i = 0; i < 64; i++)
        pthread_mutex_init(&a->wmu[i], NULL);
    snprintf(a->home, sizeof(a->home), "%s", home);
    snprintf(a->db_path, sizeof(a->db_path), "%s/movierec.db", home);
    snprintf(a->models_dir, sizeof(a->models_dir), "%s/models", home);
    if (access(a->db_path, F_OK) != 0) {
        rc = error_set(err, ERR_NOTFOUND, "no store in '%s' (run 'movierec import' first)", home);
        goto fail;
    }
    if ((rc = auth_init(err)))
        goto fail;
    if ((rc = store_open(&s, a->db_path, err)))
        goto fail;
    a->online = online_new(a->o.online_users > 0 ? a->o.online_users : 20000);
    a->rl = ratelimit_new(a->o.login_failures, a->o.login_attempts, a->o.login_window_s);
    a->metrics = metrics_new();
    a->sessions = calloc(1, sizeof(*a->sessions));
    a->finds = qcache_new(8192, 60);
    if (a->sessions)
        for (int i = 0; i < SC_STRIPES; i++)
            pthread_mutex_init(&a->sessions->mu[i], NULL);
    if (!a->online || !a->rl || !a->metrics || !a->sessions || !a->finds ||
        pthread_key_create(&a->wkey, worker_free)) {
        rc = error_set(err, ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < REC_NSTAGES; i++) {
        snprintf(a->stage_label[i], sizeof(a->stage_label[i]), "stage=\"%s\"",
                 rec_stage_name(i));
        a->stage[i] = metrics_hist(a->metrics, "movierec_recommend_stage_seconds",
                                   a->stage_label[i],
                                   "Time of each stage of one recommendation");
    }
    a->rec_total = metrics_hist(a->metrics, "movierec_recommend_seconds", "",
                                "Time of one recommendation, every stage");
    {
        int64_t n = 0;
        store_session_purge(s, app_now(), &n, NULL);
    }
    if ((rc = catalog_load(&a->cat, s, err)))
        goto fail;
    a->has_cat = 1;
    if ((rc = open_posters(a, err)))
        goto fail;
    load_initial(a, s);
    store_close(s);
    s = NULL;
    if (pthread_create(&a->reloader, NULL, reloader_main, a) == 0)
        a->reloader_started = 1;
    a->started = (double)app_now();
    *out = a;
    return 0;
fail:
    store_close(s);
    app_close(a);
    return rc;
}

void app_close(struct app *a)
{
    if (!a)
        return;
    atomic_store(&a->stopping, 1);
    if (a->reloader_started)
        pthread_join(a->reloader, NULL);
    app_served_put(a, a->cur);
    online_free(a->online);
    if (a->has_cat)
        catalog_free(&a->cat);
    if (a->sessions)
        for (int i = 0; i < SC_STRIPES; i++)
            pthread_mutex_destroy(&a->sessions->mu[i]);
    free(a->sessions);
    qcache_free(a->finds);
    poster_cache_close(a->posters);
    ratelimit_free(a->rl);
    metrics_free(a->metrics);
    pthread_mutex_destroy(&a->mu);
    pthread_mutex_destroy(&a->logmu);
    for (int i = 0; i < 64; i++)
        pthread_mutex_destroy(&a->wmu[i]);
    free(a);
}

/* ------------------------------------------------------------------ */
/* helpers                                                             */

int app_require_user(struct app *a, struct worker *w, struct http_req *req,
                     struct http_res *res, int64_t *user)
{
    if (app_session_user(a, w, req, user))
        return 0;
    http_res_error(res, 401, "login_required",
                   http_cookie(req, "session") ? "your session has expired; log in again"
                                               : "log in first");
    return -1;
}

/* "http://host:port" ends with the Host header's value */
static int same_origin(const char *origin, const char *host)
{
    const char *p;
    if (!origin || !host)
        return 0;
    if (!strncmp(origin, "http://", 7))
        p = origin + 7;
    else if (!strncmp(origin, "https://", 8))
        p = origin + 8;
    else
        return 0;
    return strcmp(p, host) == 0;
}

int app_check_csrf(struct http_req *req, struct http_res *res)
{
    const char *origin = http_header(req, "Origin");
    const char *site = http_header(req, "Sec-Fetch-Site");
    const char *type = http_header(req, "Content-Type");
    if (origin && strcmp(origin, "null") != 0) {
        if (!same_origin(origin, http_header(req, "Host"))) {
            http_res_error(res, 403, "cross_origin",
                           "requests that change data must come from this site");
            return -1;
        }
    } else if (site && strcmp(site, "same-origin") && strcmp(site, "none")) {
        http_res_error(res, 403, "cross_origin",
                       "requests that change data must come from this site");
        return -1;
    } else if (origin) { /* "null": a sandboxed or file: page */
        http_res_error(res, 403, "cross_origin",
                       "requests that change data must come from this site");
        return -1;
    }
    if (req->body_len > 0 &&
        (!type || strncmp(type, "application/json", 16) != 0)) {
        http_res_error(res, 415, "unsupported_media_type",
                       "send the body as application/json");
        return -1;
    }
    return 0;
}

void app_error(struct app *a, struct http_res *res, int rc, const struct error *err)
{
    const char *msg = err && err->msg[0] ? err->msg : "failed";
    switch (rc) {
    case ERR_NOTFOUND:
        http_res_error(res, 404, "not_found", "%s", msg);
        break;
    case ERR_PARSE:
    case ERR_USAGE:
        http_res_error(res, 400, "bad_request", "%s", msg);
        break;
    case ERR_EXISTS:
        http_res_error(res, 409, "conflict", "%s", msg);
        break;
    default:
        app_log(a, "internal error: %s", msg);
        http_res_error(res, rc == ERR_DB ? 503 : 500, "internal",
                       "the server could not do that now; try again");
    }
}

static json_t *str_or_null(const char *s)
{
    return s && s[0] ? json_string(s) : json_null();
}

json_t *app_movie_json(struct app *a, const struct store_movie_info *m)
{
    json_t *g = json_array();
    char buf[256];
    const char *p = m->genres;
    while (*p) {
        const char *e = strchr(p, '|');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        snprintf(buf, sizeof(buf), "%.*s", (int)n, p);
        json_array_append_new(g, json_string(buf));
        p += n + (e ? 1 : 0);
    }
    json_t *j = json_object();
    json_object_set_new(j, "id", json_integer(m->id));
    json_object_set_new(j, "title", json_string(m->title));
    json_object_set_new(j, "year", m->year ? json_integer(m->year) : json_null());
    json_object_set_new(j, "release_date", str_or_null(m->release_date));
    json_object_set_new(j, "genres", g);
    json_object_set_new(j, "rating_mean",
                        m->nratings ? json_real((double)(int)(m->mean * 100 + 0.5) / 100)
                                    : json_null());
    json_object_set_new(j, "rating_count", json_integer(m->nratings));
    if (m->poster_url[0]) {
        json_object_set_new(j, "poster_url", json_string(m->poster_url));
    } else if (m->tmdb_id && poster_cache_state(a->posters, m->tmdb_id) != POSTER_NONE) {
        snprintf(buf, sizeof(buf), "/v1/movies/%lld/poster", (long long)m->id);
        json_object_set_new(j, "poster_url", json_string(buf));
    } else {
        json_object_set_new(j, "poster_url", json_null());
    }
    json_object_set_new(j, "imdb_id", str_or_null(m->imdb_id));
    if (m->imdb_url[0])
        json_object_set_new(j, "imdb_url", json_string(m->imdb_url));
    else if (m->imdb_id[0]) {
        snprintf(buf, sizeof(buf), "https://www.imdb.com/title/%s/", m->imdb_id);
        json_object_set_new(j, "imdb_url", json_string(buf));
    } else
        json_object_set_new(j, "imdb_url", json_null());
    json_object_set_new(j, "tmdb_id", m->tmdb_id ? json_integer(m->tmdb_id) : json_null());
    if (m->tmdb_id) {
        snprintf(buf, sizeof(buf), "https://www.themoviedb.org/movie/%lld",
                 (long long)m->tmdb_id);
        json_object_set_new(j, "tmdb_url", json_string(buf));
    } else
        json_object_set_new(j, "tmdb_url", json_null());
    return j;
}

int app_query_int(struct http_req *req, struct http_res *res, const char *key, int64_t def,
                  int64_t lo, int64_t hi, int64_t *out)
{
    const char *v = http_query(req, key);
    int64_t x;
    if (!v) {
        *out = def;
        return 0;
    }
    if (text_parse_i64(v, strlen(v), &x) || x < lo || x > hi) {
        http_res_error(res, 400, "bad_request", "'%s' must be a whole number from %lld to %lld",
                       key, (long long)lo, (long long)hi);
        return -1;
    }
    *out = x;
    return 0;
}

int app_param_id(struct http_req *req, struct http_res *res, int i, int64_t *out)
{
    const char *v = i < req->nparams ? req->params[i] : NULL;
    int64_t x;
    if (!v || text_parse_i64(v, strlen(v), &x) || x < 1) {
        http_res_error(res, 400, "bad_request", "'%s' is not an id", v ? v : "");
        return -1;
    }
    *out = x;
    return 0;
}

int app_rec_user(const struct served *sv, const struct online_snap *st, struct rec_user *u,
                 struct rec_user_buf *buf)
{
    const struct engine *e = &sv->e;
    struct store_user_row row = {st->user, st->gender, st->age, st->occupation};
    int n = 0, ng = 0;

    memset(buf, 0, sizeof(*buf));
    memset(u, 0, sizeof(*u));
    vocab_user_feat(&e->v, &row, &u->feat);
    if (st->n) {
        buf->movie = malloc((size_t)st->n * sizeof(int));
        buf->score = malloc((size_t)st->n * sizeof(float));
        buf->time = malloc((size_t)st->n * sizeof(int64_t));
        if (!buf->movie || !buf->score || !buf->time) {
            app_rec_user_free(buf);
            return ERR_NOMEM;
        }
    }
    for (int i = 0; i < st->n; i++) {
        int r = recommender_row(&e->r, st->r[i].movie);
        if (r < 0)
            continue;
        buf->movie[n] = r;
        buf->score[n] = st->r[i].score;
        buf->time[n++] = st->r[i].time;
    }
    for (int i = 0; i < st->ngenres; i++) {
        int g = strtab_find(&e->v.genres, st->genres[i], (int)strlen(st->genres[i]));
        if (g > 0)
            buf->genres[ng++] = g;
    }
    u->n = n;
    u->movie = buf->movie;
    u->score = buf->score;
    u->time = buf->time;
    u->genres = ng ? buf->genres : NULL;
    u->ngenres = ng;
    return 0;
}

void app_rec_user_free(struct rec_user_buf *buf)
{
    free(buf->movie);
    free(buf->score);
    free(buf->time);
    buf->movie = NULL;
    buf->score = NULL;
    buf->time = NULL;
}
