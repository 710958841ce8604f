/*
 * poster.c - the poster cache and its TMDB fetches (poster.h).
 *
 * Two locks: `lk` (read-write) guards the in-memory sets that every movie
 * list reads; `mu` guards the fetch slots, the back-off and the counters.
 * `lk` may be taken while `mu` is held, never the other way round. Neither
 * is held during a fetch or while reading a file, and the log callback is
 * called with neither held.
 */
#include "poster.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../util/fs.h"
#include "../util/banned.h"

#define KEY_MAX 1024
#define URL_MAX 2048

/* ------------------------------------------------------------------ */
/* the pure parts                                                      */

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

int poster_path_safe(const char *s)
{
    size_t n = s ? strlen(s) : 0, name = 0, ext = 0;
    int dot = 0;
    if (n < 4 || n >= POSTER_PATH_MAX || s[0] != '/')
        return 0;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (dot)
                return 0;
            dot = 1;
        } else if (!dot) {
            if (!is_alnum(c) && c != '_' && c != '-')
                return 0;
            name++;
        } else {
            if (!is_alnum(c))
                return 0;
            ext++;
        }
    }
    return dot && name >= 1 && ext >= 1 && ext <= 5;
}

const char *poster_image_type(const void *b, size_t n)
{
    static const unsigned char jpeg[3] = {0xFF, 0xD8, 0xFF};
    static const unsigned char png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (n >= sizeof(jpeg) && memcmp(b, jpeg, sizeof(jpeg)) == 0)
        return "image/jpeg";
    if (n >= sizeof(png) && memcmp(b, png, sizeof(png)) == 0)
        return "image/png";
    return NULL;
}

int poster_tmdb_parse(const char *json, size_t n, char *out, size_t cap, struct error *err)
{
    json_error_t je;
    json_t *j, *pp;
    const char *s;
    size_t len;
    int rc = 0;

    if (cap)
        out[0] = '\0';
    j = json_loadb(json, n, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return error_set(err, ERR_PARSE, "TMDB's reply is not JSON (line %d column %d: %s)",
                         je.line, je.column, je.text);
    if (!json_is_object(j)) {
        rc = error_set(err, ERR_PARSE, "TMDB's reply is not a JSON object");
        goto out;
    }
    pp = json_object_get(j, "poster_path");
    if (!pp || json_is_null(pp)) {
        rc = error_set(err, ERR_NOTFOUND, "TMDB has no poster for this movie");
        goto out;
    }
    if (!json_is_string(pp)) {
        rc = error_set(err, ERR_PARSE, "TMDB's poster_path is not a string");
        goto out;
    }
    s = json_string_value(pp);
    len = json_string_length(pp);
    if (len == 0) {
        rc = error_set(err, ERR_NOTFOUND, "TMDB has no poster for this movie");
        goto out;
    }
    /* the value itself stays out of the message: it is untrusted */
    if (strlen(s) != len || !poster_path_safe(s)) {
        rc = error_set(err, ERR_PARSE, "TMDB's poster_path is not a plain '/name.ext'");
        goto out;
    }
    if (len >= cap) {
        rc = error_set(err, ERR_USAGE, "no room for TMDB's poster_path");
        goto out;
    }
    memcpy(out, s, len + 1);
out:
    json_decref(j);
    return rc;
}

int poster_key_is_bearer(const char *key)
{
    return key && strncmp(key, "eyJ", 3) == 0;
}

int poster_tmdb_request(const char *api, const char *key, int64_t tmdb_id, char *url,
                        size_t url_cap, char *auth, size_t auth_cap, struct error *err)
{
    static const char hx[] = "0123456789ABCDEF";
    char esc[3 * KEY_MAX + 1];
    size_t e = 0;
    int w;

    if (auth_cap)
        auth[0] = '\0';
    if (poster_key_is_bearer(key)) {
        w = snprintf(url, url_cap, "%s/movie/%lld", api, (long long)tmdb_id);
        if (w < 0 || (size_t)w >= url_cap)
            return error_set(err, ERR_USAGE, "the TMDB address is too long");
        w = snprintf(auth, auth_cap, "Authorization: Bearer %s", key);
        if (w < 0 || (size_t)w >= auth_cap)
            return error_set(err, ERR_USAGE, "the TMDB key is too long");
        return 0;
    }
    for (const char *k = key ? key : ""; *k; k++) {
        unsigned char c = (unsigned char)*k;
        if (e + 4 > sizeof(esc))
            return error_set(err, ERR_USAGE, "the TMDB key is too long");
        if (is_alnum((char)c) || c == '-' || c == '_' || c == '.' || c == '~') {
            esc[e++] = (char)c;
        } else {
            esc[e++] = '%';
            esc[e++] = hx[c >> 4];
            esc[e++] = hx[c & 15];
        }
    }
    esc[e] = '\0';
    w = snprintf(url, url_cap, "%s/movie/%lld?api_key=%s", api, (long long)tmdb_id, esc);
    if (w < 0 || (size_t)w >= url_cap)
        return error_set(err, ERR_USAGE, "the TMDB address is too long");
    return 0;
}

/* ------------------------------------------------------------------ */
/* the cache                                                           */

/* What the cache knows of an id: an open-addressing map, tmdb id -> an
 * entry, ST_* in its low two bits and above them a count of the id's
 * changes (mod 64), so that a thread can tell whether an entry changed
 * since it read it even when its state is the same (a damaged .jpg that
 * another thread has just replaced by a fresh .jpg). Entries are never
 * removed; a forgotten poster becomes ST_NONE. */
enum { ST_NONE, ST_JPG, ST_PNG, ST_MISSING };
#define ST(e) ((e) & 3)

/* The entry that follows e when the id's state becomes st. */
static int entry_next(int e, int st)
{
    return (((e & ~3) + 4) & 0xFC) | st;
}

struct idmap {
    int64_t *key;        /* (cap,) 0: empty */
    unsigned char *val;  /* (cap,) */
    size_t cap, len;     /* cap a power of two, or 0 */
};

static size_t idmap_slot(const struct idmap *m, int64_t k)
{
    uint64_t h = (uint64_t)k * 0x9E3779B97F4A7C15ull;
    size_t i = (size_t)(h >> 17) & (m->cap - 1);
    while (m->key[i] && m->key[i] != k)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static int idmap_get(const struct idmap *m, int64_t k)
{
    size_t i;
    if (!m->cap)
        return ST_NONE;
    i = idmap_slot(m, k);
    return m->key[i] ? m->val[i] : ST_NONE;
}

/* 0, or -1 when out of memory (the map is unchanged). k > 0. */
static int idmap_set(struct idmap *m, int64_t k, int v)
{
    size_t i;
    if ((m->len + 1) * 2 > m->cap) {
        struct idmap n;
        n.cap = m->cap ? m->cap * 2 : 256;
        n.len = 0;
        n.key = calloc(n.cap, sizeof(*n.key));
        n.val = calloc(n.cap, sizeof(*n.val));
        if (!n.key || !n.val) {
            free(n.key);
            free(n.val);
            return -1;
        }
        for (size_t j = 0; j < m->cap; j++)
            if (m->key[j]) {
                size_t s = idmap_slot(&n, m->key[j]);
                n.key[s] = m->key[j];
                n.val[s] = m->val[j];
                n.len++;
            }
        free(m->key);
        free(m->val);
        *m = n;
    }
    i = idmap_slot(m, k);
    if (!m->key[i]) {
        m->key[i] = k;
        m->len++;
    }
    m->val[i] = (unsigned char)v;
    return 0;
}

static void idmap_free(struct idmap *m)
{
    free(m->key);
    free(m->val);
    memset(m, 0, sizeof(*m));
}

/* How many entries are in state st. */
static long idmap_count(const struct idmap *m, int st)
{
    long n = 0;
    for (size_t i = 0; i < m->cap; i++)
        n += m->key[i] && ST(m->val[i]) == st;
    return n;
}

struct poster_cache {
    char dir[4096];
    char *key, *api, *images; /* owned; key NULL: no fetches */
    struct poster_opts o;
    int curl_up;

    pthread_rwlock_t lk; /* guards known */
    struct idmap known;  /* tmdb id -> ST_* */

    pthread_mutex_t mu;  /* guards what follows */
    int64_t *inflight;   /* (o.max_fetches,) ids being fetched; 0 free */
    int fetching;
    double backoff_until; /* monotonic seconds; no fetch before */
    long fetches, fetched, failures;
};

void poster_opts_default(struct poster_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->max_fetches = 4;
    o->backoff_s = 60;
    o->connect_ms = 3000;
    o->total_ms = 8000;
}

int poster_max_fetches(int threads)
{
    int n = threads / 4;
    return n < 1 ? 1 : n > 4 ? 4 : n;
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One line to the log callback. Control characters become '?': a line
 * may quote TMDB (jansson's error text holds a piece of its reply), and
 * an escape sequence must not reach a terminal or split a log line. */
static void plog(struct poster_cache *pc, const char *fmt, ...) ERROR_PRINTF(2, 3);
static void plog(struct poster_cache *pc, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    if (!pc->o.log)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7F)
            *p = '?';
    pc->o.log(pc->o.log_ctx, line);
}

/* "12345.jpg" -> 12345 and 'j'; "12345.png" -> 'p'; else 0. */
static int64_t cache_name(const char *name, char *kind)
{
    int64_t v = 0;
    const char *p = name;
    if (*p < '1' || *p > '9')
        return 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (p - name >= 18)
            return 0;
        v = v * 10 + (*p - '0');
    }
    if (!strcmp(p, ".jpg"))
        *kind = 'j';
    else if (!strcmp(p, ".png"))
        *kind = 'p';
    else
        return 0;
    return v;
}

static int scan(struct poster_cache *pc, struct error *err)
{
    DIR *d = opendir(pc->dir);
    struct dirent *e;
    if (!d) {
        if (errno != ENOENT)
            return error_set(err, ERR_IO, "cannot read '%s': %s", pc->dir, strerror(errno));
        return pc->key ? fs_mkdir_p(pc->dir, err) : 0;
    }
    while ((e = readdir(d))) {
        char kind = 0;
        int64_t id = cache_name(e->d_name, &kind);
        if (id > 0) {
            if (idmap_set(&pc->known, id, kind == 'j' ? ST_JPG : ST_PNG) < 0) {
                closedir(d);
                return error_set(err, ERR_NOMEM, "out of memory reading '%s'", pc->dir);
            }
        } else if (!strncmp(e->d_name, ".tmp-", 5)) {
            char p[4400];
            snprintf(p, sizeof(p), "%s/%s", pc->dir, e->d_name);
            unlink(p); /* a write cut short by a crash */
        }
    }
    closedir(d);
    return 0;
}

static int key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > KEY_MAX)
        return 0;
    for (; *k; k++)
        if ((unsigned char)*k <= 0x20 || (unsigned char)*k >= 0x7F)
            return 0;
    return 1;
}

/* A copy of url without trailing slashes; NULL when out of memory. */
static char *url_dup(const char *u)
{
    size_t n = strlen(u);
    while (n > 0 && u[n - 1] == '/')
        n--;
    return strndup(u, n);
}

static int url_ok(const char *u)
{
    return !strncmp(u, "http://", 7) || !strncmp(u, "https://", 8);
}

/* ERR_USAGE when the longest request fetch() may build does not fit in
 * its buffers: the one for the largest id, the image with the longest
 * poster_path. Else every fetch would fail, each with a log line. */
static int requests_fit(const struct poster_cache *pc, struct error *err)
{
    char url[URL_MAX], auth[KEY_MAX + 64], path[POSTER_PATH_MAX];
    int bad = 0, w;

    if (poster_tmdb_request(pc->api, pc->key, INT64_MAX, url, sizeof(url), auth, sizeof(auth),
                            NULL)) {
        if (pc->key && !poster_tmdb_request(pc->api, NULL, INT64_MAX, url, sizeof(url), auth,
                                            sizeof(auth), NULL))
            bad = error_set(err, ERR_USAGE,
                            "the TMDB key is too long for a request to '%.80s' "
                            "(at most %d bytes)", pc->api, URL_MAX - 1);
        else
            bad = error_set(err, ERR_USAGE,
                            "the TMDB API address is too long for a request "
                            "(%zu bytes; a request has at most %d)", strlen(pc->api),
                            URL_MAX - 1);
    }
    memset(path, 'p', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    w = snprintf(url, sizeof(url), "%s%s", pc->images, path);
    if (!bad && (w < 0 || (size_t)w >= sizeof(url)))
        bad = error_set(err, ERR_USAGE,
                        "the TMDB image address is too long for a request "
                        "(%zu bytes; a request has at most %d)", strlen(pc->images),
                        URL_MAX - 1);
    explicit_bzero(url, sizeof(url));
    explicit_bzero(auth, sizeof(auth));
    return bad;
}

int poster_cache_open(struct poster_cache **out, const char *dir, const struct poster_opts *o,
                      struct error *err)
{
    struct poster_cache *pc;
    struct poster_opts def;
    int rc;

    *out = NULL;
    poster_opts_default(&def);
    if (!o)
        o = &def;
    if (strlen(dir) >= sizeof(pc->dir))
        return error_set(err, ERR_USAGE, "the poster folder's name is too long");
    if (o->key && o->key[0] && !key_ok(o->key))
        return error_set(err, ERR_USAGE,
                         "the TMDB key must be printable ASCII without spaces (at most %d bytes)",
                         KEY_MAX);
    if ((o->api && !url_ok(o->api)) || (o->images && !url_ok(o->images)))
        return error_set(err, ERR_USAGE, "TMDB addresses must start with http:// or https://");
    if (!(pc = calloc(1, sizeof(*pc))))
        return error_set(err, ERR_NOMEM, "out of memory");
    pc->o = *o;
    if (pc->o.max_fetches <= 0)
        pc->o.max_fetches = def.max_fetches;
    if (pc->o.backoff_s <= 0)
        pc->o.backoff_s = def.backoff_s;
    if (pc->o.connect_ms <= 0)
        pc->o.connect_ms = def.connect_ms;
    if (pc->o.total_ms <= 0)
        pc->o.total_ms = def.total_ms;
    snprintf(pc->dir, sizeof(pc->dir), "%s", dir);
    pthread_rwlock_init(&pc->lk, NULL);
    pthread_mutex_init(&pc->mu, NULL);
    pc->key = o->key && o->key[0] ? strdup(o->key) : NULL;
    pc->api = url_dup(o->api ? o->api : POSTER_API_DEFAULT);
    pc->images = url_dup(o->images ? o->images : POSTER_IMAGES_DEFAULT);
    pc->inflight = calloc((size_t)pc->o.max_fetches, sizeof(*pc->inflight));
    pc->o.key = pc->o.api = pc->o.images = NULL; /* the copies above are the ones */
    if ((o->key && o->key[0] && !pc->key) || !pc->api || !pc->images || !pc->inflight) {
        rc = error_set(err, ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((rc = requests_fit(pc, err)))
        goto fail;
    if (pc->key) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            rc = error_set(err, ERR_NET, "cannot start libcurl");
            goto fail;
        }
        pc->curl_up = 1;
    }
    if ((rc = scan(pc, err)))
        goto fail;
    *out = pc;
    return 0;
fail:
    poster_cache_close(pc);
    return rc;
}

void poster_cache_close(struct poster_cache *pc)
{
    if (!pc)
        return;
    if (pc->key) {
        explicit_bzero(pc->key, strlen(pc->key));
        free(pc->key);
    }
    free(pc->api);
    free(pc->images);
    free(pc->inflight);
    idmap_free(&pc->known);
    pthread_rwlock_destroy(&pc->lk);
    pthread_mutex_destroy(&pc->mu);
    if (pc->curl_up)
        curl_global_cleanup();
    free(pc);
}

enum poster_state poster_cache_state(struct poster_cache *pc, int64_t tmdb_id)
{
    enum poster_state s;
    int k;
    if (!pc || tmdb_id <= 0)
        return POSTER_NONE;
    pthread_rwlock_rdlock(&pc->lk);
    k = ST(idmap_get(&pc->known, tmdb_id));
    pthread_rwlock_unlock(&pc->lk);
    if (k == ST_JPG || k == ST_PNG)
        s = POSTER_CACHED;
    else if (pc->key && k != ST_MISSING)
        s = POSTER_MAYBE;
    else
        s = POSTER_NONE;
    return s;
}

void poster_cache_stats(struct poster_cache *pc, struct poster_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (!pc)
        return;
    pthread_rwlock_rdlock(&pc->lk);
    st->cached = idmap_count(&pc->known, ST_JPG) + idmap_count(&pc->known, ST_PNG);
    st->missing = idmap_count(&pc->known, ST_MISSING);
    pthread_rwlock_unlock(&pc->lk);
    pthread_mutex_lock(&pc->mu);
    st->fetches = pc->fetches;
    st->fetched = pc->fetched;
    st->failures = pc->failures;
    st->fetching = pc->fetching;
    pthread_mutex_unlock(&pc->mu);
    st->max_fetches = pc->o.max_fetches;
    st->has_key = pc->key != NULL;
}

void poster_image_free(struct poster_image *img)
{
    if (!img)
        return;
    free(img->data);
    memset(img, 0, sizeof(*img));
}

/* ---- the folder ---- */

static void cache_path(const struct poster_cache *pc, int64_t id, const char *type, char *out,
                       size_t cap)
{
    snprintf(out, cap, "%s/%lld.%s", pc->dir, (long long)id,
             !strcmp(type, "image/png") ? "png" : "jpg");
}

/* The cached file into img: 0; ERR_NOTFOUND when it is gone or its
 * content is bad (empty, too large, not the image its name says), which
 * the caller may forget; ERR_IO or ERR_NOMEM for any other failure (a
 * file-descriptor limit, a read error), which says nothing of the file. */
static int cache_read(struct poster_cache *pc, int64_t id, const char *type,
                      struct poster_image *img, struct error *err)
{
    char path[4200];
    struct stat st;
    size_t got = 0;
    int fd, e;

    cache_path(pc, id, type, path, sizeof(path));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return error_set(err, ERR_NOTFOUND, "the cached poster is gone");
        return error_set(err, ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    }
    if (fstat(fd, &st) != 0) {
        e = errno;
        close(fd);
        return error_set(err, ERR_IO, "cannot read '%s': %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > POSTER_MAX_BYTES) {
        close(fd);
        return error_set(err, ERR_NOTFOUND, "the cached poster is damaged");
    }
    if (!(img->data = malloc((size_t)st.st_size))) {
        close(fd);
        return error_set(err, ERR_NOMEM, "out of memory reading a poster");
    }
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, img->data + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            e = errno;
            close(fd);
            poster_image_free(img);
            return error_set(err, ERR_IO, "cannot read '%s': %s", path, strerror(e));
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    img->len = got;
    img->type = poster_image_type(img->data, got);
    if (got != (size_t)st.st_size || !img->type || strcmp(img->type, type) != 0) {
        poster_image_free(img);
        return error_set(err, ERR_NOTFOUND, "the cached poster is damaged");
    }
    return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes img as the poster of id: a temporary file, fsync, rename; then
 * removes the file of the other type (a .png replacing a damaged .jpg:
 * left there, the next start could pick either) and syncs the folder. A
 * failure after the rename is logged: the poster is in place. */
static int cache_write(struct poster_cache *pc, int64_t id, const struct poster_image *img,
                       struct error *err)
{
    char tmp[4200], path[4200], other[4200];
    int fd, e;

    snprintf(tmp, sizeof(tmp), "%s/.tmp-%lld-XXXXXX", pc->dir, (long long)id);
    cache_path(pc, id, img->type, path, sizeof(path));
    fd = mkstemp(tmp);
    if (fd < 0 && errno == ENOENT) { /* the folder went away: make it again */
        if (fs_mkdir_p(pc->dir, err))
            return ERR_IO;
        fd = mkstemp(tmp);
    }
    if (fd < 0)
        return error_set(err, ERR_IO, "cannot write in '%s': %s", pc->dir, strerror(errno));
    if (fchmod(fd, 0644) != 0 || write_all(fd, img->data, img->len) != 0 || fsync(fd) != 0) {
        e = errno;
        close(fd);
        unlink(tmp);
        return error_set(err, ERR_IO, "cannot write '%s': %s", tmp, strerror(e));
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        return error_set(err, ERR_IO, "cannot write '%s': %s", path, strerror(e));
    }
    cache_path(pc, id, !strcmp(img->type, "image/png") ? "image/jpeg" : "image/png", other,
               sizeof(other));
    if (unlink(other) != 0 && errno != ENOENT)
        plog(pc, "posters: cannot remove '%s': %s", other, strerror(errno));
    fd = open(pc->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0)
        plog(pc, "posters: cannot sync the folder '%s': %s", pc->dir, strerror(errno));
    if (fd >= 0)
        close(fd);
    return 0;
}

/* ---- fetching ---- */

struct sink {
    char *p;
    size_t len, cap, max;
    int over, nomem;
};

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct sink *s = ud;
    size_t n = size * nmemb;
    if (n > s->max - s->len) {
        s->over = 1;
        return 0;
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 16384;
        char *q;
        while (cap < s->len + n + 1)
            cap *= 2;
        if (cap > s->max + 1)
            cap = s->max + 1;
        if (!(q = realloc(s->p, cap))) {
            s->nomem = 1;
            return 0;
        }
        s->p = q;
        s->cap = cap;
    }
    memcpy(s->p + s->len, ptr, n);
    s->len += n;
    s->p[s->len] = '\0';
    return n;
}

enum got { GOT_OK, GOT_NET, GOT_TOO_LARGE, GOT_NOMEM };

/* GET url into s (at most s->max bytes) before the monotonic deadline,
 * following up to 3 redirects when follow is set; *status the HTTP status.
 * On GOT_NET, why says what went wrong (never the URL: it may hold the
 * key). */
static enum got http_get(const struct poster_cache *pc, const char *url, const char *auth,
                         int follow, double deadline, struct sink *s, long *status, char *why,
                         size_t cap)
{
    char ebuf[CURL_ERROR_SIZE];
    struct curl_slist *hdr = NULL;
    long left = (long)((deadline - mono_now()) * 1000);
    CURLcode c = CURLE_OK;
    CURL *h;
    enum got g;

    *status = 0;
    why[0] = '\0';
    if (left <= 0) {
        snprintf(why, cap, "timed out");
        return GOT_NET;
    }
    if (!(h = curl_easy_init()))
        return GOT_NOMEM;
    if (auth && auth[0] && !(hdr = curl_slist_append(NULL, auth))) {
        curl_easy_cleanup(h);
        return GOT_NOMEM;
    }
    ebuf[0] = '\0';
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (c == CURLE_OK)                                                                         \
            c = curl_easy_setopt(h, opt, val);                                                     \
    } while (0)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_ERRORBUFFER, ebuf);
    SET(CURLOPT_WRITEFUNCTION, on_write);
    SET(CURLOPT_WRITEDATA, (void *)s);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, pc->o.connect_ms < left ? pc->o.connect_ms : left);
    SET(CURLOPT_TIMEOUT_MS, left);
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->max);
    SET(CURLOPT_FOLLOWLOCATION, follow ? 1L : 0L);
    SET(CURLOPT_MAXREDIRS, 3L);
    SET(CURLOPT_USERAGENT, "movierec/0.1");
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    if (hdr)
        SET(CURLOPT_HTTPHEADER, hdr);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    SET(CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
#undef SET
    if (c == CURLE_OK)
        c = curl_easy_perform(h);
    if (c == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
        g = GOT_OK;
    } else if (s->over || c == CURLE_FILESIZE_EXCEEDED) {
        g = GOT_TOO_LARGE;
    } else if (s->nomem || c == CURLE_OUT_OF_MEMORY) {
        g = GOT_NOMEM;
    } else {
        const char *m = ebuf[0] ? ebuf : curl_easy_strerror(c);
        size_t n = strlen(m);
        while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == '\r'))
            n--;
        snprintf(why, cap, "%.*s", (int)n, m);
        g = GOT_NET;
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return g;
}

enum outcome {
    FETCH_OK,      /* img filled */
    FETCH_MISSING, /* TMDB has no usable poster for the id: remember it */
    FETCH_FAILED,  /* network or HTTP failure: back off */
    FETCH_NOMEM
};

/* One poster from TMDB into img; on FETCH_FAILED why (cap bytes) says
 * what happened, for the back-off's log line. */
static enum outcome fetch(struct poster_cache *pc, int64_t id, struct poster_image *img,
                          char *why, size_t cap)
{
    double deadline = mono_now() + (double)pc->o.total_ms / 1000;
    char url[URL_MAX], auth[KEY_MAX + 64], path[POSTER_PATH_MAX], net[CURL_ERROR_SIZE];
    struct sink s = {NULL, 0, 0, POSTER_REPLY_MAX, 0, 0};
    struct error err = {0};
    enum outcome r;
    long status;
    enum got g;

    if (poster_tmdb_request(pc->api, pc->key, id, url, sizeof(url), auth, sizeof(auth), &err)) {
        plog(pc, "posters: %s", err.msg);
        return FETCH_MISSING;
    }
    /* no redirects: the key (in the URL or the header) would go along */
    g = http_get(pc, url, auth, 0, deadline, &s, &status, net, sizeof(net));
    explicit_bzero(url, sizeof(url));
    explicit_bzero(auth, sizeof(auth));
    if (g == GOT_NET) {
        snprintf(why, cap, "TMDB unreachable (%s)", net);
        r = FETCH_FAILED;
    } else if (g == GOT_NOMEM) {
        r = FETCH_NOMEM;
    } else if (g == GOT_TOO_LARGE) {
        plog(pc, "posters: TMDB's reply about TMDB id %lld is larger than %d KiB; not asking again",
              (long long)id, POSTER_REPLY_MAX / 1024);
        r = FETCH_MISSING;
    } else if (status == 404) {
        r = FETCH_MISSING; /* TMDB does not know the id */
    } else if (status != 200) {
        snprintf(why, cap, "TMDB answered HTTP %ld%s", status,
                 status == 401                    ? " (is the key right?)"
                 : status >= 300 && status < 400 ? " (a redirect: not followed with the key)"
                                                  : "");
        r = FETCH_FAILED;
    } else {
        int rc = poster_tmdb_parse(s.p ? s.p : "", s.len, path, sizeof(path), &err);
        if (rc == ERR_NOTFOUND) {
            r = FETCH_MISSING;
        } else if (rc) {
            plog(pc, "posters: TMDB id %lld: %s; not asking again", (long long)id, err.msg);
            r = FETCH_MISSING;
        } else {
            r = FETCH_OK;
        }
    }
    free(s.p);
    if (r != FETCH_OK)
        return r;

    /* the image */
    memset(&s, 0, sizeof(s));
    s.max = POSTER_MAX_BYTES;
    if ((size_t)snprintf(url, sizeof(url), "%s%s", pc->images, path) >= sizeof(url)) {
        plog(pc, "posters: the image address is too long");
        return FETCH_MISSING;
    }
    g = http_get(pc, url, NULL, 1, deadline, &s, &status, net, sizeof(net));
    if (g == GOT_NET) {
        snprintf(why, cap, "the TMDB image server is unreachable (%s)", net);
        r = FETCH_FAILED;
    } else if (g == GOT_NOMEM) {
        r = FETCH_NOMEM;
    } else if (g == GOT_TOO_LARGE) {
        plog(pc, "posters: the poster of TMDB id %lld is larger than %d MiB; not asking again",
              (long long)id, POSTER_MAX_BYTES >> 20);
        r = FETCH_MISSING;
    } else if (status == 404) {
        r = FETCH_MISSING;
    } else if (status != 200) {
        snprintf(why, cap, "the TMDB image server answered HTTP %ld", status);
        r = FETCH_FAILED;
    } else if (!(img->type = poster_image_type(s.p, s.len))) {
        plog(pc, "posters: the poster of TMDB id %lld is not a JPEG or PNG image; not asking again",
              (long long)id);
        r = FETCH_MISSING;
    } else {
        img->data = s.p;
        img->len = s.len;
        return FETCH_OK;
    }
    free(s.p);
    return r;
}

/* Records what is now known of id (ST_*). Out of memory leaves it
 * unknown: a later request asks TMDB again, which is harmless. */
static void know(struct poster_cache *pc, int64_t id, int st)
{
    pthread_rwlock_wrlock(&pc->lk);
    idmap_set(&pc->known, id, entry_next(idmap_get(&pc->known, id), st));
    pthread_rwlock_unlock(&pc->lk);
}

/* id's entry (ST() gives its state) */
static int known(struct poster_cache *pc, int64_t id)
{
    int e;
    pthread_rwlock_rdlock(&pc->lk);
    e = idmap_get(&pc->known, id);
    pthread_rwlock_unlock(&pc->lk);
    return e;
}

/* The cached poster of id, whose entry was e (ST_JPG or ST_PNG), into
 * img: cache_read()'s answer. A file gone or damaged is forgotten, unless
 * the entry has changed meanwhile (another thread has forgotten it, or
 * fetched and recorded a fresh poster). */
static int read_cached(struct poster_cache *pc, int64_t id, int e, struct poster_image *img,
                       struct error *err)
{
    int rc = cache_read(pc, id, ST(e) == ST_JPG ? "image/jpeg" : "image/png", img, err);
    if (rc == ERR_NOTFOUND) {
        pthread_rwlock_wrlock(&pc->lk);
        if (idmap_get(&pc->known, id) == e) /* idmap_set cannot fail: the id is there */
            idmap_set(&pc->known, id, entry_next(e, ST_NONE));
        pthread_rwlock_unlock(&pc->lk);
    }
    return rc; /* 0; or ERR_IO, ERR_NOMEM: the file may be fine, it stays */
}

int poster_cache_get(struct poster_cache *pc, int64_t tmdb_id, struct poster_image *img,
                     struct error *err)
{
    char why[CURL_ERROR_SIZE + 128];
    int e, slot = -1, log_backoff = 0, rc;
    struct error werr = {0};
    enum outcome r;
    double now;

    memset(img, 0, sizeof(*img));
    if (!pc || tmdb_id <= 0)
        return error_set(err, ERR_NOTFOUND, "no TMDB id");
    e = known(pc, tmdb_id);
    if (ST(e) == ST_JPG || ST(e) == ST_PNG) {
        if ((rc = read_cached(pc, tmdb_id, e, img, err)) != ERR_NOTFOUND)
            return rc;
        /* deleted or damaged: fetch it again */
    }
    if (ST(e) == ST_MISSING)
        return error_set(err, ERR_NOTFOUND, "TMDB has no poster for this movie");
    if (!pc->key)
        return error_set(err, ERR_NOTFOUND, "posters are not fetched: no TMDB key");

    pthread_mutex_lock(&pc->mu);
    /* Another thread may have finished this id since the look-up above:
     * look again. A fetch records its outcome before it frees its slot,
     * under mu, so what is read here is final unless a slot holds the id. */
    e = known(pc, tmdb_id);
    if (ST(e) != ST_NONE) {
        pthread_mutex_unlock(&pc->mu);
        if (ST(e) == ST_MISSING)
            return error_set(err, ERR_NOTFOUND, "TMDB has no poster for this movie");
        if ((rc = read_cached(pc, tmdb_id, e, img, err)) != ERR_NOTFOUND)
            return rc;
        return error_set(err, ERR_NOTFOUND, "this poster has just changed; try again");
    }
    now = mono_now();
    if (now < pc->backoff_until) {
        int wait = (int)(pc->backoff_until - now) + 1;
        pthread_mutex_unlock(&pc->mu);
        return error_set(err, ERR_NOTFOUND, "TMDB is unreachable; trying again in %d s", wait);
    }
    for (int i = 0; i < pc->o.max_fetches; i++) {
        if (pc->inflight[i] == tmdb_id) {
            pthread_mutex_unlock(&pc->mu);
            return error_set(err, ERR_NOTFOUND, "this poster is being fetched; try again");
        }
        if (!pc->inflight[i] && slot < 0)
            slot = i;
    }
    if (slot < 0) {
        pthread_mutex_unlock(&pc->mu);
        return error_set(err, ERR_NOTFOUND, "too many posters being fetched; try again");
    }
    pc->inflight[slot] = tmdb_id;
    pc->fetching++;
    pc->fetches++;
    pthread_mutex_unlock(&pc->mu);

    why[0] = '\0';
    r = fetch(pc, tmdb_id, img, why, sizeof(why));
    if (r == FETCH_OK) {
        if (cache_write(pc, tmdb_id, img, &werr) == 0)
            know(pc, tmdb_id, !strcmp(img->type, "image/png") ? ST_PNG : ST_JPG);
        else
            plog(pc, "posters: cannot cache the poster of TMDB id %lld: %s", (long long)tmdb_id,
                  werr.msg);
    } else if (r == FETCH_MISSING) {
        know(pc, tmdb_id, ST_MISSING);
    }

    pthread_mutex_lock(&pc->mu);
    pc->inflight[slot] = 0;
    pc->fetching--;
    if (r == FETCH_OK)
        pc->fetched++;
    if (r == FETCH_FAILED) {
        pc->failures++;
        now = mono_now();
        if (now >= pc->backoff_until) { /* the first failure of this back-off */
            pc->backoff_until = now + pc->o.backoff_s;
            log_backoff = 1;
        }
    }
    pthread_mutex_unlock(&pc->mu);
    if (log_backoff)
        plog(pc, "posters: %s; trying again in %d s", why, pc->o.backoff_s);

    switch (r) {
    case FETCH_OK:
        return 0;
    case FETCH_MISSING:
        rc = error_set(err, ERR_NOTFOUND, "TMDB has no poster for this movie");
        break;
    case FETCH_FAILED:
        rc = error_set(err, ERR_NOTFOUND, "TMDB is unreachable; trying again in %d s",
                       pc->o.backoff_s);
        break;
    default:
        rc = error_set(err, ERR_NOMEM, "out of memory fetching a poster");
    }
    return rc;
}
