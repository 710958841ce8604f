/*
 * poster.h - real movie posters from TMDB for `movierec serve`, cached on
 * disk: one concern, the cache and the fetches that fill it.
 *
 * The cache is a folder (<home>/posters/) of <tmdb_id>.jpg or .png files,
 * each written atomically (a temporary file, then rename, then the file of
 * the other type removed and the folder synced). At open the
 * folder is read into an in-memory set, so that asking whether a movie has
 * a poster (poster_cache_state, on the path of every movie list) is a
 * lookup in memory and never a stat().
 *
 * With a TMDB key, a poster not in the cache is fetched on request
 * (poster_cache_get): GET {api}/movie/{tmdb_id} for its poster_path, then
 * {images}{poster_path}. A key that looks like a v4 read-access token (a
 * JWT: "eyJ...") goes in "Authorization: Bearer", any other as the v3
 * "api_key=" query parameter; the API request, which carries the key,
 * follows no redirect (the image request up to 3). Limits: connect 3 s,
 * 8 s for both requests together, at most max_fetches at once (one more
 * answers "no poster now" rather than waiting), images of at most
 * POSTER_MAX_BYTES that start with the JPEG or PNG magic, a poster_path
 * that is a plain "/name.ext".
 * Remembered in memory for the run: ids TMDB has no usable poster for
 * (never asked again), and after a network or HTTP failure no fetch at all
 * for backoff_s seconds (one log line per back-off). Without a key nothing
 * is ever fetched; cached posters are still served.
 *
 * Thread-safe: every function may be called from any thread once
 * poster_cache_open() has returned. Ownership: poster_cache_open() /
 * poster_cache_close(); the key and URLs are copied; a struct poster_image
 * owns its bytes (poster_image_free).
 */
#ifndef MOVIEREC_POSTER_H
#define MOVIEREC_POSTER_H

#include <stddef.h>
#include <stdint.h>

#include "../util/error.h"

#define POSTER_API_DEFAULT "https://api.themoviedb.org/3"
#define POSTER_IMAGES_DEFAULT "https://image.tmdb.org/t/p/w342"
#define POSTER_MAX_BYTES (2 * 1024 * 1024) /* an image larger than this is refused */
#define POSTER_REPLY_MAX (256 * 1024)      /* TMDB's JSON about one movie: a few KiB */
#define POSTER_PATH_MAX 128                /* "/name.ext" from TMDB, NUL included */

/* ---- the pure parts (no I/O; fuzzed in tests/fuzz/fuzz_tmdb.c) ---- */

/* The poster_path of TMDB's reply to GET /movie/{id}, json[0..n): 0 with
 * out (cap bytes) holding a safe "/name.ext" (poster_path_safe);
 * ERR_NOTFOUND when the movie has no poster (poster_path absent, null or
 * ""); ERR_PARSE when the reply is not a JSON object, poster_path is not a
 * string, or it is not safe. out is "" unless 0 is returned. */
int poster_tmdb_parse(const char *json, size_t n, char *out, size_t cap, struct error *err);

/* 1 when s is a plain "/name.ext": one leading '/', no other, a name of
 * letters, digits, '_' and '-' (not empty), one '.', an extension of 1 to
 * 5 letters or digits, shorter than POSTER_PATH_MAX; else 0. */
int poster_path_safe(const char *s);

/* "image/jpeg" or "image/png" when b[0..n) starts with that format's
 * magic bytes, else NULL. */
const char *poster_image_type(const void *b, size_t n);

/* The request for tmdb_id: url (cap bytes) and, for a v4 token, the
 * Authorization header line in auth (cap bytes; "" for a v3 key, which
 * goes into url, escaped). api has no trailing '/'. 0, or ERR_USAGE when
 * they do not fit. The url holds the key: never log it. */
int poster_tmdb_request(const char *api, const char *key, int64_t tmdb_id, char *url,
                        size_t url_cap, char *auth, size_t auth_cap, struct error *err);

/* 1 when key looks like a v4 read-access token (sent as Bearer). */
int poster_key_is_bearer(const char *key);

/* ---- the cache ---- */

struct poster_opts {
    const char *key;    /* TMDB key; NULL or "": nothing is fetched */
    const char *api;    /* NULL: POSTER_API_DEFAULT */
    const char *images; /* NULL: POSTER_IMAGES_DEFAULT */
    int max_fetches;    /* at once; 0: 4 (a server: poster_max_fetches) */
    int backoff_s;      /* no fetch this long after a failure; 0: 60 */
    long connect_ms;    /* 0: 3000 */
    long total_ms;      /* both requests of one poster together; 0: 8000 */
    /* one line about the cache (a back-off, an unusable reply), without a
     * time stamp or newline; may be NULL. Called from any thread. */
    void (*log)(void *ctx, const char *line);
    void *log_ctx;
};
void poster_opts_default(struct poster_opts *o);

/* max_fetches for a server with `threads` request threads: a quarter of
 * them, at least 1 and at most 4. A fetch holds its thread for up to
 * total_ms, so a page of posters must leave the other threads free. */
int poster_max_fetches(int threads);

struct poster_cache;

/* Opens the cache folder dir (created when a key is given and it is
 * missing), reads its posters into memory and removes leftover temporary
 * files. The key must be printable ASCII without spaces, and the
 * addresses http:// or https:// and short enough for every request built
 * from them (ERR_USAGE otherwise, checked here rather than at each fetch).
 * Call before starting threads (it initialises libcurl). */
int poster_cache_open(struct poster_cache **out, const char *dir, const struct poster_opts *o,
                      struct error *err);
void poster_cache_close(struct poster_cache *pc);

enum poster_state {
    POSTER_NONE,   /* not cached and not fetchable: no key, or known missing */
    POSTER_CACHED, /* in the folder */
    POSTER_MAYBE   /* not cached, but a request would try TMDB */
};
/* In memory only: cheap enough for every movie of every list. */
enum poster_state poster_cache_state(struct poster_cache *pc, int64_t tmdb_id);

struct poster_image {
    char *data;       /* malloc'd, len bytes */
    size_t len;
    const char *type; /* "image/jpeg" or "image/png" (static) */
};
/* The poster of tmdb_id: from the folder, or fetched from TMDB now
 * (blocking, at most total_ms) and cached. 0 with *img filled; otherwise
 * ERR_NOTFOUND, with why in err in words fit for a client ("TMDB has no
 * poster for this movie", "posters are not fetched: no TMDB key", "TMDB is
 * unreachable; trying again in 42 s", "too many posters being fetched"),
 * or ERR_NOMEM / ERR_IO. A cached file that is gone or damaged is
 * forgotten (and fetched again); one that cannot be read now (no file
 * descriptor left, a read error) gives ERR_IO and stays cached. */
int poster_cache_get(struct poster_cache *pc, int64_t tmdb_id, struct poster_image *img,
                     struct error *err);
void poster_image_free(struct poster_image *img);

struct poster_stats {
    long cached;    /* posters in the folder */
    long missing;   /* ids known to have no usable poster */
    long fetches;   /* fetches started (a poster, both requests) */
    long fetched;   /* of them, posters cached */
    long failures;  /* of them, network or HTTP failures (each starts a back-off) */
    int fetching;   /* now */
    int max_fetches;
    int has_key;
};
void poster_cache_stats(struct poster_cache *pc, struct poster_stats *st);

#endif
