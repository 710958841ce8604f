/*
 * app.h - `movierec serve`'s application: what the HTTP handlers share.
 *
 *   struct app     the home folder, the served models, the users' online
 *                  features (online.h), login rate limits (auth.h), metrics
 *   struct served  one generation of loaded models (the watch model, the
 *                  recall bundle and the recommender over them, the like
 *                  model): read-only, reference-counted, swapped whole by
 *                  the reloader when a new version appears under models/
 *   struct worker  one pool thread's own store handle and recommendation
 *                  scratch, made on the thread's first request
 *
 * Handlers live in api_*.c, one file per area (accounts, movies, the
 * user's own data, operations); app.c holds the route table, the model
 * reloader and the helpers below.
 */
#ifndef MOVIEREC_APP_H
#define MOVIEREC_APP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "../recall/engine.h"
#include "../store/store.h"
#include "auth.h"
#include "catalog.h"
#include "http.h"
#include "metrics.h"
#include "online.h"
#include "poster.h"
#include "qcache.h"

struct served {
    struct engine e;   /* valid when has_engine */
    int has_engine;
    struct model like; /* the like model, for "predicted for you" */
    struct vocab like_v;
    int has_like, like_version;
    int64_t *like_ids; /* (like_n,) the store's movies, features in like_v */
    struct movie_feat *like_mf;
    int like_n;
    uint64_t gen;      /* 1, 2, ... per load */
    atomic_int refs;
    /* similar movies depend on the movie and the models alone: each row's
     * best SIMILAR_CACHED, made on first use */
    struct rec_item *sim;    /* (rows, SIMILAR_CACHED) */
    int *sim_n;              /* (rows,) how many */
    _Atomic unsigned char *sim_state; /* (rows,) 0 none, 1 being made, 2 ready */
};
#define SIMILAR_CACHED 20

struct app_opts {
    int reload_s;          /* poll models/ every this many seconds; 0: only on SIGHUP */
    int session_days;      /* session lifetime; default 30 */
    int online_users;      /* users kept in memory; default 20000 */
    int login_failures;    /* failed logins per name per window; default 10 */
    int login_attempts;    /* login attempts per address per window; default 30 */
    int login_window_s;    /* default 900 */
    int rec_cache_s;       /* a user's list is reused this long unless they write
                            * or the models change (online.h); 0: never; default 300 */
    FILE *log;             /* server messages (not the access log); stderr */
    const char *tmdb_key;  /* NULL: real posters only from the cache (poster.h) */
    const char *tmdb_api, *tmdb_images; /* NULL: TMDB's own */
    int poster_fetches;    /* TMDB fetches at once, each holding a request thread
                            * (poster_max_fetches); 0: poster.h's default */
};
void app_opts_default(struct app_opts *o);

struct app {
    char home[4096], db_path[4200], models_dir[4200];
    struct app_opts o;
    struct online *online;
    struct catalog cat; /* every movie's display information */
    int has_cat;
    struct session_cache *sessions;
    struct qcache *finds; /* movie lists and searches, for a minute */
    struct poster_cache *posters; /* <home>/posters/ and TMDB */
    struct ratelimit *rl;
    struct metrics *metrics;
    struct metrics_hist *stage[REC_NSTAGES], *rec_total;
    char stage_label[REC_NSTAGES][48]; /* the metrics borrow them */
    pthread_mutex_t mu; /* guards cur and the reloader's state */
    pthread_mutex_t wmu[64]; /* one user's writes in order: store, then online */
    struct served *cur; /* NULL until models exist */
    int tried_watch, tried_recall, tried_like; /* versions the reloader last tried */
    uint64_t gen;
    atomic_int reload_now, stopping;
    atomic_long reloads, reload_failures;
    pthread_t reloader;
    int reloader_started;
    pthread_key_t wkey;
    pthread_mutex_t logmu;
    double started;
};

struct worker {
    struct store *s;
    struct rec_ws ws;
    uint64_t ws_gen; /* the served generation ws was made for; 0 none */
    struct rec_opts ro;
};

/* Opens the store of home (which must exist: import first), loads the
 * newest valid models (none is fine: recommendations answer 503 until
 * `movierec train`), starts the reloader. */
int app_open(struct app **out, const char *home, const struct app_opts *o, struct error *err);
/* After the HTTP server has stopped. */
void app_close(struct app *a);
/* Ask the reloader to look at models/ now (async-signal-safe). */
void app_reload_request(struct app *a);
/* Looks for new model versions and swaps them in; 1 when it did. */
int app_reload(struct app *a);

extern const struct http_route app_routes[];
extern const int app_nroutes;

/* ---- for the handlers ---- */

/* printf-style line on the app's log with a time stamp. */
void app_log(struct app *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Around a user's write to the store and its online update, so that two
 * writes of one user reach both in the same order. */
void app_user_lock(struct app *a, int64_t user);
void app_user_unlock(struct app *a, int64_t user);
/* This thread's worker, NULL (500 set on res) when its store cannot open. */
struct worker *app_worker(struct app *a, struct http_res *res);
/* The served models with a reference held (NULL when none), and back. */
struct served *app_served_get(struct app *a);
void app_served_put(struct app *a, struct served *s);
/* The worker's scratch made ready for sv; -1 with 500 on res. */
int app_worker_ready(struct worker *w, const struct served *sv, struct http_res *res);

/* The logged-in user from the session cookie: 1 and *user; 0 when none.
 * Sessions found in the store are kept in memory until they expire,
 * app_session_end(), or a minute has passed since the store last said
 * they are valid (a session ended elsewhere stops within that minute). */
int app_session_user(struct app *a, struct worker *w, struct http_req *req, int64_t *user);
/* Logout: the session leaves the store and the memory. */
void app_session_end(struct app *a, struct worker *w, const unsigned char hash[32]);
/* Forgets every cached session: the next request of each asks the store
 * (SIGHUP does this, so a password set by `movierec user passwd`, which
 * ends the account's sessions, takes effect at once). */
void app_sessions_forget(struct app *a);
/* The same, but answers 401 when there is none; returns 0 or -1. */
int app_require_user(struct app *a, struct worker *w, struct http_req *req,
                     struct http_res *res, int64_t *user);
/* CSRF for state-changing requests: the Origin (or Sec-Fetch-Site) must be
 * this site, and a body must be JSON. 0, or -1 with 403/415 on res. */
int app_check_csrf(struct http_req *req, struct http_res *res);
/* Maps a library error to a reply: NOTFOUND 404, PARSE/USAGE 400, EXISTS
 * 409, others 500 (logged; the client sees no internals). */
void app_error(struct app *a, struct http_res *res, int rc, const struct error *err);

/* JSON of a movie for lists and pages. poster_url is the store's when it
 * has one, else "/v1/movies/<id>/poster" when that poster is cached or a
 * request could fetch it (poster_cache_state: memory only), else null. */
json_t *app_movie_json(struct app *a, const struct store_movie_info *m);
/* An integer query parameter in [lo, hi] (def when absent); -1 with 400. */
int app_query_int(struct http_req *req, struct http_res *res, const char *key, int64_t def,
                  int64_t lo, int64_t hi, int64_t *out);
/* A path parameter that must be a positive id; -1 with 400. */
int app_param_id(struct http_req *req, struct http_res *res, int i, int64_t *out);
int64_t app_now(void); /* unix seconds */

/* The user's rec_user for sv's recommender from their online snapshot:
 * rows and interest genres; arrays in *buf (caller frees the three). */
struct rec_user_buf {
    int *movie;
    float *score;
    int64_t *time;
    int genres[ONLINE_MAX_GENRES];
};
int app_rec_user(const struct served *sv, const struct online_snap *st, struct rec_user *u,
                 struct rec_user_buf *buf);
void app_rec_user_free(struct rec_user_buf *buf);

/* handlers (api_*.c) */
void api_register(void *app, struct http_req *req, struct http_res *res);
void api_login(void *app, struct http_req *req, struct http_res *res);
void api_logout(void *app, struct http_req *req, struct http_res *res);
void api_me(void *app, struct http_req *req, struct http_res *res);
void api_profile_get(void *app, struct http_req *req, struct http_res *res);
void api_profile_put(void *app, struct http_req *req, struct http_res *res);
void api_genres(void *app, struct http_req *req, struct http_res *res);
void api_movies(void *app, struct http_req *req, struct http_res *res);
void api_search(void *app, struct http_req *req, struct http_res *res);
void api_movie(void *app, struct http_req *req, struct http_res *res);
void api_similar(void *app, struct http_req *req, struct http_res *res);
void api_movie_poster(void *app, struct http_req *req, struct http_res *res);
void api_recommendations(void *app, struct http_req *req, struct http_res *res);
void api_my_ratings(void *app, struct http_req *req, struct http_res *res);
void api_my_genres(void *app, struct http_req *req, struct http_res *res);
void api_rate(void *app, struct http_req *req, struct http_res *res);
void api_unrate(void *app, struct http_req *req, struct http_res *res);
void api_my_tags(void *app, struct http_req *req, struct http_res *res);
void api_tag_add(void *app, struct http_req *req, struct http_res *res);
void api_tag_remove(void *app, struct http_req *req, struct http_res *res);
void api_healthz(void *app, struct http_req *req, struct http_res *res);
void api_metrics(void *app, struct http_req *req, struct http_res *res);
void api_models(void *app, struct http_req *req, struct http_res *res);
void api_predict(void *app, struct http_req *req, struct http_res *res);

#endif
