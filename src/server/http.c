/*
 * http.c - the HTTP layer over libmicrohttpd (see http.h).
 *
 * One request's life: the URI log callback sees the raw request target
 * first and allocates a struct conn_req (MHD hands it back to every later
 * call); the access handler is called once when the headers are in (413
 * at once when Content-Length is too large), then with each piece of the
 * body, then once more with none, when the path is decoded, routed and
 * answered. The reply is logged and timed when it is queued; the request
 * completed callback frees the state and lowers the count of requests in
 * flight that http_server_stop() waits on.
 *
 * "In flight" starts at dispatch, not at the request line: with epoll,
 * MHD 0.9.75 notices a client that went away while sending its headers or
 * body only at the next wake-up of that thread (up to the connection
 * timeout), and a stop should not wait for those. A request still
 * uploading when the server stops is cut off.
 *
 * The path is decoded here from the raw target, segment by segment, so
 * that "%2F" inside a ":name" segment stays part of that segment; MHD's
 * own decoding is kept for query arguments and cookies.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../util/text.h"
#include "../util/banned.h"

#define DEFAULT_MAX_BODY (64 * 1024)
#define DEFAULT_THREADS 4
#define CONN_TIMEOUT_S 30
#define CONN_LIMIT 4096
#define CONN_MEMORY (64 * 1024)
#define STOP_WAIT_MS 10000

static const char csp_html[] =
    "default-src 'self'; img-src 'self' data: https://image.tmdb.org; style-src 'self'; "
    "script-src 'self'; frame-ancestors 'none'";

struct http_server {
    struct MHD_Daemon *d;
    int listen_fd;
    int port;
    const struct http_route *routes;
    int nroutes;
    void *app;
    size_t max_body;
    FILE *log;
    struct metrics *metrics;
    char *static_root; /* realpath of static_dir, or NULL */
    size_t static_len;
    atomic_int active; /* requests being answered: dispatched, not completed */
};

/* Per request, owned by the layer. */
struct conn_req {
    struct http_server *srv;
    char *uri;      /* the raw request target (path?query), or NULL */
    int started;    /* the first access-handler call happened */
    int queued;     /* a reply was queued */
    int counted;    /* counted in srv->active */
    int too_large;
    struct timespec t0;
    char *body;
    size_t len, cap;
    size_t seen;    /* body bytes received, kept or not */
};

/* ---------------- requests ---------------- */

static struct MHD_Connection *req_conn(const struct http_req *r)
{
    return r ? (struct MHD_Connection *)r->conn : NULL;
}

const char *http_query(const struct http_req *r, const char *key)
{
    const char *v = NULL;
    size_t vlen = 0;
    if (!req_conn(r) || !key)
        return NULL;
    if (MHD_lookup_connection_value_n(req_conn(r), MHD_GET_ARGUMENT_KIND, key, strlen(key), &v,
                                      &vlen) != MHD_YES)
        return NULL;
    return v ? v : ""; /* "?flag" without "=" */
}

const char *http_header(const struct http_req *r, const char *name)
{
    if (!req_conn(r) || !name)
        return NULL;
    return MHD_lookup_connection_value(req_conn(r), MHD_HEADER_KIND, name);
}

const char *http_cookie(const struct http_req *r, const char *name)
{
    if (!req_conn(r) || !name)
        return NULL;
    return MHD_lookup_connection_value(req_conn(r), MHD_COOKIE_KIND, name);
}

/* ---------------- replies ---------------- */

static void res_set_body(struct http_res *res, int status, const char *type, char *body,
                         size_t len)
{
    free(res->body);
    res->body = body;
    res->len = len;
    res->type = type;
    res->status = status;
    res->file = NULL;
}

/* A minimal error reply for when building the proper one failed. */
static void res_internal(struct http_res *res)
{
    static const char msg[] = "{\"error\":\"internal\",\"message\":\"the reply could not be built\"}";
    char *b = malloc(sizeof(msg));
    if (b)
        memcpy(b, msg, sizeof(msg));
    res_set_body(res, 500, "application/json; charset=utf-8", b, b ? sizeof(msg) - 1 : 0);
}

void http_res_json(struct http_res *res, int status, json_t *j)
{
    char *s;
    if (!j) {
        res_internal(res);
        return;
    }
    s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));
    json_decref(j);
    if (!s) {
        res_internal(res);
        return;
    }
    res_set_body(res, status, "application/json; charset=utf-8", s, strlen(s));
}

void http_res_error(struct http_res *res, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t n = text_utf8_complete(msg, strlen(msg));
    msg[n] = '\0';
    if (!text_utf8_valid(msg, n))
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)msg[i] >= 0x80)
                msg[i] = '?';
    http_res_json(res, status, json_pack("{s:s, s:s}", "error", code ? code : "error",
                                         "message", msg));
}

void http_res_header(struct http_res *res, const char *name, const char *value)
{
    char *n, *v;
    if (!name || !value || res->nheaders >= HTTP_MAX_HEADERS)
        return;
    n = strdup(name);
    v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return;
    }
    res->hname[res->nheaders] = n;
    res->hvalue[res->nheaders] = v;
    res->nheaders++;
}

void http_res_text(struct http_res *res, int status, const char *type, const char *body,
                   size_t len)
{
    char *b = malloc(len + 1);
    if (!b) {
        res_internal(res);
        return;
    }
    if (len)
        memcpy(b, body, len);
    b[len] = '\0';
    res_set_body(res, status, type, b, len);
}

void http_res_file(struct http_res *res, const char *path)
{
    size_t n = strlen(path);
    http_res_text(res, 200, NULL, path, n);
    if (res->status == 200)
        res->file = res->body;
}

json_t *http_req_json(const struct http_req *req, struct http_res *res)
{
    json_error_t je;
    json_t *j;
    if (!req->body || req->body_len == 0) {
        http_res_error(res, 400, "bad_json", "a JSON body is required");
        return NULL;
    }
    j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        http_res_error(res, 400, "bad_json", "line %d column %d: %s", je.line, je.column,
                       je.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        http_res_error(res, 400, "bad_json", "the body must be a JSON object");
        return NULL;
    }
    return j;
}

static void res_release(struct http_res *res)
{
    free(res->body);
    res->body = NULL;
    for (int i = 0; i < res->nheaders; i++) {
        free(res->hname[i]);
        free(res->hvalue[i]);
    }
    res->nheaders = 0;
}

static const char *type_by_ext(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {"html", "text/html; charset=utf-8"},
        {"htm", "text/html; charset=utf-8"},
        {"css", "text/css; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"},
        {"mjs", "text/javascript; charset=utf-8"},
        {"json", "application/json; charset=utf-8"},
        {"svg", "image/svg+xml"},
        {"png", "image/png"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"ico", "image/x-icon"},
        {"woff2", "font/woff2"},
        {"txt", "text/plain; charset=utf-8"},
    };
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    if (dot)
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            if (strcasecmp(dot + 1, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

/* ---------------- the access log and metrics ---------------- */

static double elapsed_s(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) * 1e-9;
}

/* The raw path (no query string) with control bytes, quotes, backslashes
 * and non-ASCII escaped as \xHH, into out. */
static void log_path(char *out, size_t cap, const char *uri, const char *fallback)
{
    const char *s = uri ? uri : fallback ? fallback : "";
    size_t o = 0;
    for (; *s && *s != '?' && o + 5 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    out[o] = '\0';
}

static void log_request(struct http_server *srv, struct conn_req *cr, struct MHD_Connection *c,
                        const char *method, const char *url, const char *remote, int status,
                        size_t bytes, const char *route)
{
    double s = elapsed_s(&cr->t0);
    if (srv->metrics)
        metrics_request(srv->metrics, route, status, s);
    if (!srv->log)
        return;
    char when[32], path[1024], meth[24];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    log_path(path, sizeof(path), cr->uri, url);
    log_path(meth, sizeof(meth), method, NULL);
    (void)c;
    flockfile(srv->log);
    fprintf(srv->log, "%s %s \"%s %s\" %d %.3fms %zuB route=%s\n", when, remote, meth, path,
            status, s * 1e3, bytes, route);
    fflush(srv->log);
    funlockfile(srv->log);
}

static void remote_addr(struct MHD_Connection *c, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, cap, "-");
    if (!ci || !ci->client_addr)
        return;
    if (ci->client_addr->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)ci->client_addr;
        inet_ntop(AF_INET, &a->sin_addr, out, (socklen_t)cap);
    } else if (ci->client_addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)ci->client_addr;
        inet_ntop(AF_INET6, &a->sin6_addr, out, (socklen_t)cap);
    }
}

/* ---------------- sending ---------------- */

/* Queues res (consuming it) and logs the request. Returns MHD's answer. */
static enum MHD_Result send_res(struct conn_req *cr, struct MHD_Connection *c, const char *method,
                                const char *url, const char *remote, struct http_res *res,
                                const char *route, const char *cache)
{
    struct MHD_Response *resp = NULL;
    size_t bytes = 0;
    enum MHD_Result ret;

    if (res->status < 100 || res->status > 599) {
        res_release(res);
        http_res_error(res, 500, "internal", "the handler did not set a reply");
    }
    if (res->file) {
        int fd = open(res->file, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
            if (!res->type)
                res->type = type_by_ext(res->file);
            bytes = (size_t)st.st_size;
            resp = MHD_create_response_from_fd((size_t)st.st_size, fd);
            if (!resp)
                close(fd);
            free(res->body);
            res->body = NULL;
            res->file = NULL;
        } else {
            if (fd >= 0)
                close(fd);
            res->file = NULL;
            http_res_error(res, 404, "not_found", "no such file");
        }
    }
    if (!resp && res->body) {
        bytes = res->len;
        resp = MHD_create_response_from_buffer_with_free_callback(res->len, res->body, free);
        if (resp)
            res->body = NULL;
    } else if (!resp) {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (!resp) {
        res_release(res);
        return MHD_NO;
    }
    if (res->type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, res->type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "same-origin");
    if (res->type && strncmp(res->type, "text/html", 9) == 0)
        MHD_add_response_header(resp, "Content-Security-Policy", csp_html);
    if (cache)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, cache);
    for (int i = 0; i < res->nheaders; i++)
        MHD_add_response_header(resp, res->hname[i], res->hvalue[i]);
    ret = MHD_queue_response(c, (unsigned int)res->status, resp);
    MHD_destroy_response(resp);
    cr->queued = 1;
    log_request(cr->srv, cr, c, method, url, remote, res->status, bytes, route);
    res_release(res);
    return ret;
}

/* ---------------- paths and routes ---------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

struct seg {
    size_t off, len; /* in the decoded path, after the segment's leading '/' */
};

/* The decoded raw path. */
struct dpath {
    char *path;   /* "/a/b c" */
    char *copies; /* each segment again, NUL-terminated (params) */
    struct seg *segs;
    size_t *copy_off;
    int nsegs;
};

static void dpath_free(struct dpath *p)
{
    free(p->path);
    free(p->copies);
    free(p->segs);
    free(p->copy_off);
}

/* Decodes raw[0..n) (a path starting with '/') segment by segment.
 * Returns 0, -1 on a bad encoding (400), -2 when out of memory. */
static int dpath_parse(struct dpath *p, const char *raw, size_t n)
{
    int nsegs = 0;
    size_t o = 0, co = 0;
    memset(p, 0, sizeof(*p));
    if (n == 0 || raw[0] != '/')
        return -1;
    for (size_t i = 0; i < n; i++)
        nsegs += raw[i] == '/';
    p->path = malloc(n + 1);
    p->copies = malloc(n + (size_t)nsegs + 1);
    p->segs = calloc((size_t)nsegs, sizeof(*p->segs));
    p->copy_off = calloc((size_t)nsegs, sizeof(*p->copy_off));
    if (!p->path || !p->copies || !p->segs || !p->copy_off) {
        dpath_free(p);
        return -2;
    }
    for (size_t i = 0; i < n;) {
        if (raw[i] == '/') {
            p->path[o++] = '/';
            p->segs[p->nsegs].off = o;
            p->nsegs++;
            i++;
            continue;
        }
        char ch = raw[i];
        if (ch == '%') {
            int hi = i + 2 < n ? hexval(raw[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(raw[i + 2]) : -1;
            if (i + 2 >= n || hi < 0 || lo < 0)
                goto bad;
            ch = (char)(hi * 16 + lo);
            i += 3;
        } else {
            i++;
        }
        if (ch == '\0')
            goto bad;
        p->path[o++] = ch;
        p->segs[p->nsegs - 1].len++;
    }
    p->path[o] = '\0';
    if (!text_utf8_valid(p->path, o))
        goto bad;
    for (int s = 0; s < p->nsegs; s++) {
        p->copy_off[s] = co;
        memcpy(p->copies + co, p->path + p->segs[s].off, p->segs[s].len);
        co += p->segs[s].len;
        p->copies[co++] = '\0';
    }
    return 0;
bad:
    dpath_free(p);
    memset(p, 0, sizeof(*p));
    return -1;
}

/* Does pattern match p? Fills params (pointers into p) when it does. */
static int route_match(const char *pattern, const struct dpath *p, const char **params,
                       int *nparams)
{
    const char *s = pattern;
    int si = 0, np = 0;
    if (*s != '/')
        return 0;
    while (*s == '/') {
        const char *e = strchr(s + 1, '/');
        size_t plen = e ? (size_t)(e - s - 1) : strlen(s + 1);
        const char *pseg = s + 1;
        if (plen == 1 && pseg[0] == '*' && !e) {
            if (np < HTTP_MAX_PARAMS)
                params[np++] = si < p->nsegs ? p->path + p->segs[si].off : "";
            *nparams = np;
            return 1;
        }
        if (si >= p->nsegs)
            return 0;
        const struct seg *g = &p->segs[si];
        if (pseg[0] == ':') {
            if (g->len == 0)
                return 0;
            if (np < HTTP_MAX_PARAMS)
                params[np++] = p->copies + p->copy_off[si];
        } else if (g->len != plen || memcmp(p->path + g->off, pseg, plen) != 0) {
            return 0;
        }
        si++;
        if (!e)
            break;
        s = e;
    }
    if (si != p->nsegs)
        return 0;
    *nparams = np;
    return 1;
}

static int method_is(const char *m, const char *want)
{
    return strcmp(m, want) == 0;
}

/* The index of the first route that matches p and answers method (a GET
 * route also answers HEAD), with its params; -2 when routes match p but
 * none answers method (405), -1 when none matches p (404). */
static int route_find(const struct http_route *routes, int nroutes, const char *method,
                      const struct dpath *p, const char **params, int *nparams)
{
    int known = 0, is_head = method_is(method, "HEAD");
    for (int i = 0; i < nroutes; i++) {
        const struct http_route *rt = &routes[i];
        if (!route_match(rt->pattern, p, params, nparams))
            continue;
        known = 1;
        if (method_is(rt->method, method) || (is_head && method_is(rt->method, "GET")))
            return i;
    }
    return known ? -2 : -1;
}

int http_route_find(const struct http_route *routes, int nroutes, const char *method,
                    const char *target, size_t len, int *route, char *params, size_t cap,
                    int *nparams)
{
    const char *ps[HTTP_MAX_PARAMS];
    struct dpath p;
    size_t n = 0, o = 0;
    int np = 0, found, rc;

    *route = -1;
    *nparams = 0;
    while (n < len && target[n] != '?' && target[n] != '#')
        n++;
    rc = dpath_parse(&p, target, n);
    if (rc == -2)
        return -1;
    if (rc < 0)
        return 400;
    found = route_find(routes, nroutes, method, &p, ps, &np);
    if (found < 0) {
        dpath_free(&p);
        return found == -2 ? 405 : 404;
    }
    for (int i = 0; i < np; i++) {
        size_t l = strlen(ps[i]) + 1;
        if (l > cap - o) {
            dpath_free(&p);
            return -1;
        }
        memcpy(params + o, ps[i], l);
        o += l;
    }
    dpath_free(&p);
    *route = found;
    *nparams = np;
    return 200;
}

/* "GET, HEAD, POST" from the routes matching p, into out. */
static void allow_list(const struct http_server *srv, const struct dpath *p, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < srv->nroutes; i++) {
        const char *params[HTTP_MAX_PARAMS];
        int np;
        const char *m = srv->routes[i].method;
        if (!route_match(srv->routes[i].pattern, p, params, &np))
            continue;
        for (int k = 0; k < 2; k++) {
            const char *add = k == 0 ? m : method_is(m, "GET") ? "HEAD" : NULL;
            char probe[40];
            if (!add)
                continue;
            snprintf(probe, sizeof(probe), "%s,", add);
            /* skip duplicates: look for "M," at a boundary of "A, B, " */
            int dup = 0;
            for (const char *q = out; *q; ) {
                const char *comma = strchr(q, ',');
                size_t l = comma ? (size_t)(comma - q) : strlen(q);
                if (l == strlen(add) && memcmp(q, add, l) == 0)
                    dup = 1;
                if (!comma)
                    break;
                q = comma + 2;
            }
            if (!dup && o + strlen(add) + 3 < cap)
                o += (size_t)snprintf(out + o, cap - o, "%s%s", o ? ", " : "", add);
        }
    }
}

/* The site's own "not found" page (web/404.html) with status 404 when it
 * exists, so a mistyped page address shows a page, not JSON. */
static void static_not_found(const struct http_server *srv, struct http_res *res)
{
    char page[PATH_MAX];
    struct stat st;
    int w = snprintf(page, sizeof(page), "%s/404.html", srv->static_root);
    if (w > 0 && (size_t)w < sizeof(page) && stat(page, &st) == 0 && S_ISREG(st.st_mode)) {
        http_res_file(res, page);
        res->status = 404;
        return;
    }
    http_res_error(res, 404, "not_found", "no such page");
}

/* A static file for a GET/HEAD path no route took; fills res. */
static const char *serve_static(const struct http_server *srv, const struct dpath *p,
                                struct http_res *res)
{
    char full[PATH_MAX], real[PATH_MAX];
    const char *s = p->path;
    /* no ".." component, even one made of a decoded "%2F" */
    for (const char *q = s; *q;) {
        const char *e = strchr(q + 1, '/');
        size_t l = e ? (size_t)(e - q - 1) : strlen(q + 1);
        if (l == 2 && q[1] == '.' && q[2] == '.') {
            static_not_found(srv, res);
            return "static";
        }
        if (!e)
            break;
        q = e;
    }
    size_t n = strlen(s);
    int w = snprintf(full, sizeof(full), "%s%s%s", srv->static_root, s,
                     n && s[n - 1] == '/' ? "index.html" : "");
    if (w < 0 || (size_t)w >= sizeof(full) || !realpath(full, real) ||
        strncmp(real, srv->static_root, srv->static_len) != 0 ||
        real[srv->static_len] != '/') {
        static_not_found(srv, res);
        return "static";
    }
    struct stat st;
    if (stat(real, &st) != 0 || !S_ISREG(st.st_mode)) {
        static_not_found(srv, res);
        return "static";
    }
    http_res_file(res, real);
    return "static";
}

/* Routes and answers one complete request. */
static enum MHD_Result dispatch(struct conn_req *cr, struct MHD_Connection *c, const char *url,
                                const char *method)
{
    struct http_server *srv = cr->srv;
    struct http_res res;
    struct http_req req;
    struct dpath p;
    const char *route = "not_found", *cache = NULL;
    const char *raw = cr->uri ? cr->uri : url;
    size_t rawlen = strcspn(raw, "?#");
    int rc;

    if (!cr->counted) {
        cr->counted = 1;
        atomic_fetch_add(&srv->active, 1);
    }

    memset(&res, 0, sizeof(res));
    memset(&req, 0, sizeof(req));
    remote_addr(c, req.remote, sizeof(req.remote));

    if (cr->too_large) {
        http_res_error(&res, 413, "too_large", "the body is larger than %zu bytes", srv->max_body);
        return send_res(cr, c, method, url, req.remote, &res, "too_large", NULL);
    }
    rc = dpath_parse(&p, raw, rawlen);
    if (rc == -2)
        return MHD_NO;
    if (rc < 0) {
        http_res_error(&res, 400, "bad_request", "the path is not valid");
        return send_res(cr, c, method, url, req.remote, &res, "bad_request", NULL);
    }

    int is_head = method_is(method, "HEAD");
    int found = route_find(srv->routes, srv->nroutes, method, &p, req.params, &req.nparams);
    if (found >= 0) {
        const struct http_route *rt = &srv->routes[found];
        route = rt->name ? rt->name : rt->pattern;
        req.method = method;
        req.path = p.path;
        req.body = cr->body ? cr->body : "";
        req.body_len = cr->len;
        req.conn = c;
        rt->fn(srv->app, &req, &res);
    } else if (found == -2) {
        char allow[128];
        allow_list(srv, &p, allow, sizeof(allow));
        http_res_error(&res, 405, "method_not_allowed", "%s is not allowed here", method);
        http_res_header(&res, "Allow", allow);
        route = "method_not_allowed";
    } else if (srv->static_root && (is_head || method_is(method, "GET")) &&
               strncmp(p.path, "/v1/", 4) != 0 && strcmp(p.path, "/v1") != 0) {
        route = serve_static(srv, &p, &res);
        cache = "no-cache";
    } else {
        http_res_error(&res, 404, "not_found", "no such resource");
    }
    enum MHD_Result ret = send_res(cr, c, method, url, req.remote, &res, route, cache);
    dpath_free(&p);
    return ret;
}

/* ---------------- MHD callbacks ---------------- */

static void *uri_cb(void *cls, const char *uri, struct MHD_Connection *c)
{
    struct http_server *srv = cls;
    struct conn_req *cr = calloc(1, sizeof(*cr));
    (void)c;
    if (!cr)
        return NULL;
    cr->srv = srv;
    cr->uri = uri ? strdup(uri) : NULL;
    return cr;
}

static void completed_cb(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *srv = cls;
    struct conn_req *cr = *con_cls;
    (void)c;
    (void)toe;
    if (!cr)
        return;
    *con_cls = NULL;
    if (cr->counted)
        atomic_fetch_sub(&srv->active, 1);
    free(cr->uri);
    free(cr->body);
    free(cr);
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    struct http_server *srv = cls;
    struct conn_req *cr = *con_cls;
    (void)version;

    if (!cr) { /* the URI callback did not run or could not allocate */
        cr = uri_cb(srv, NULL, c);
        if (!cr)
            return MHD_NO;
        *con_cls = cr;
    }
    if (cr->queued) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!cr->started) {
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        cr->started = 1;
        clock_gettime(CLOCK_MONOTONIC, &cr->t0);
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(cl, &end, 10);
            if (errno || end == cl || v > srv->max_body) {
                cr->too_large = 1;
                return dispatch(cr, c, url, method);
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        cr->seen += n;
        if (cr->too_large || cr->len + n > srv->max_body) {
            /* drop it; read a little more so the 413 can be sent, then give up */
            cr->too_large = 1;
            free(cr->body);
            cr->body = NULL;
            cr->len = cr->cap = 0;
            return cr->seen > 4 * srv->max_body + 65536 ? MHD_NO : MHD_YES;
        }
        if (cr->len + n + 1 > cr->cap) {
            size_t ncap = cr->cap ? cr->cap : 1024;
            while (ncap < cr->len + n + 1)
                ncap *= 2;
            if (ncap > srv->max_body + 1)
                ncap = srv->max_body + 1;
            char *nb = realloc(cr->body, ncap);
            if (!nb)
                return MHD_NO;
            cr->body = nb;
            cr->cap = ncap;
        }
        memcpy(cr->body + cr->len, upload_data, n);
        cr->len += n;
        cr->body[cr->len] = '\0';
        return MHD_YES;
    }
    return dispatch(cr, c, url, method);
}

/* ---------------- the server ---------------- */

static int listen_socket(const char *bind_addr, int port, int *family, struct error *err)
{
    struct sockaddr_storage ss;
    socklen_t slen;
    int fd, one = 1;
    memset(&ss, 0, sizeof(ss));
    if (strcmp(bind_addr, "localhost") == 0)
        bind_addr = "127.0.0.1";
    if (port < 0 || port > 65535)
        return error_set(err, ERR_USAGE, "invalid port %d", port), -1;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, bind_addr, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        slen = sizeof(*a4);
    } else if (inet_pton(AF_INET6, bind_addr, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        slen = sizeof(*a6);
    } else {
        return error_set(err, ERR_USAGE, "invalid bind address '%s'", bind_addr), -1;
    }
    *family = ss.ss_family;
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return error_set(err, ERR_IO, "cannot create a socket: %s", strerror(errno)), -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, slen) != 0 || listen(fd, 1024) != 0) {
        int e = errno;
        close(fd);
        return error_set(err, ERR_IO, "cannot listen on %s%s%s:%d: %s",
                         ss.ss_family == AF_INET6 ? "[" : "", bind_addr,
                         ss.ss_family == AF_INET6 ? "]" : "", port, strerror(e)),
               -1;
    }
    return fd;
}

int http_server_start(struct http_server **out, const struct http_server_opts *o,
                      const struct http_route *routes, int nroutes, void *app,
                      struct error *err)
{
    static const struct http_server_opts defaults = {0};
    struct http_server *s;
    unsigned int flags;
    int family = AF_INET;
    *out = NULL;
    if (!o)
        o = &defaults;
    if (nroutes < 0 || (nroutes > 0 && !routes))
        return error_set(err, ERR_USAGE, "no routes given");
    for (int i = 0; i < nroutes; i++)
        if (!routes[i].method || !routes[i].pattern || routes[i].pattern[0] != '/' ||
            !routes[i].fn)
            return error_set(err, ERR_USAGE, "route %d is incomplete", i);
    s = calloc(1, sizeof(*s));
    if (!s)
        return error_set(err, ERR_NOMEM, "out of memory");
    s->routes = routes;
    s->nroutes = nroutes;
    s->app = app;
    s->max_body = o->max_body ? o->max_body : DEFAULT_MAX_BODY;
    s->log = o->access_log;
    s->metrics = o->metrics;
    s->listen_fd = -1;
    atomic_init(&s->active, 0);
    if (o->static_dir) {
        s->static_root = realpath(o->static_dir, NULL);
        if (!s->static_root) {
            int e = errno;
            free(s);
            return error_set(err, ERR_IO, "cannot open '%s': %s", o->static_dir, strerror(e));
        }
        s->static_len = strlen(s->static_root);
        if (s->static_len == 1) /* "/": keep the '/' that follows it in checks */
            s->static_len = 0;
    }
    s->listen_fd = listen_socket(o->bind ? o->bind : "127.0.0.1", o->port, &family, err);
    if (s->listen_fd < 0) {
        int code = err ? (int)err->code : ERR_IO;
        free(s->static_root);
        free(s);
        return code ? code : ERR_IO;
    }
    struct sockaddr_storage ss;
    socklen_t slen = sizeof(ss);
    if (getsockname(s->listen_fd, (struct sockaddr *)&ss, &slen) == 0)
        s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);

    flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC;
    if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
        flags |= MHD_USE_EPOLL;
    else if (MHD_is_feature_supported(MHD_FEATURE_POLL) == MHD_YES)
        flags |= MHD_USE_POLL;
    if (family == AF_INET6)
        flags |= MHD_USE_IPv6;
    unsigned int threads = o->threads > 0 ? (unsigned int)o->threads : DEFAULT_THREADS;
    s->d = MHD_start_daemon(
        flags, 0, NULL, NULL, access_cb, s, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)s->listen_fd,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)CONN_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CONN_LIMIT,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY, MHD_OPTION_URI_LOG_CALLBACK,
        uri_cb, s, MHD_OPTION_NOTIFY_COMPLETED, completed_cb, s, MHD_OPTION_END);
    if (!s->d) {
        close(s->listen_fd);
        free(s->static_root);
        free(s);
        return error_set(err, ERR_IO, "cannot start the HTTP server");
    }
    *out = s;
    return 0;
}

int http_server_port(const struct http_server *s)
{
    return s ? s->port : 0;
}

void http_server_stop(struct http_server *s)
{
    if (!s)
        return;
    MHD_socket fd = MHD_quiesce_daemon(s->d);
    for (int waited = 0; waited < STOP_WAIT_MS && atomic_load(&s->active) > 0; waited += 2) {
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(s->d);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    free(s->static_root);
    free(s);
}
