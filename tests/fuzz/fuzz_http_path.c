/*
 * fuzz_http_path.c - libFuzzer target for the HTTP layer's routing of a
 * request target: http_route_find() (src/server/http.h), the code the
 * server's dispatch runs on every request.
 *
 * Input layout:
 *   byte 0   bits 0-2 the method (GET, HEAD, POST, PUT, DELETE, PATCH,
 *            "get", ""); bits 3-7 the params buffer's size (0: 4096,
 *            else 1 to 31 bytes, to reach the "does not fit" answer)
 *   rest     the request target, as raw bytes
 *
 * The answer is compared with a reference written here from http.h's
 * words: the path up to '?' or '#', split at each raw '/', each segment
 * percent-decoded on its own, no NUL, UTF-8 by the Unicode table; routes
 * tried in order, ":name" one non-empty segment, a final "*" the rest.
 * Beyond agreeing: params are UTF-8 without NUL, a route's pattern
 * segment count agrees with the path's, a fixed route (no ":" or "*")
 * never takes a path with a ".." segment after decoding, HEAD only ever
 * finds a GET route, and appending a query string changes nothing.
 * Broken invariants call abort().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../../src/server/http.h"
#include "../../src/util/banned.h"

/* Like the app's table (src/server/app.c), plus wildcard routes and one
 * with more params than a request keeps. Handlers are never called. */
static const struct http_route routes[] = {
    {"GET", "/healthz", NULL, "healthz"},
    {"POST", "/v1/auth/login", NULL, "login"},
    {"GET", "/v1/me", NULL, "me"},
    {"PUT", "/v1/me/ratings/:movie", NULL, "rate"},
    {"DELETE", "/v1/me/ratings/:movie", NULL, "unrate"},
    {"POST", "/v1/me/tags/:movie", NULL, "tag"},
    {"DELETE", "/v1/me/tags/:movie/:tag", NULL, "untag"},
    {"GET", "/v1/movies", NULL, "movies"},
    {"GET", "/v1/movies/:id", NULL, "movie"},
    {"GET", "/v1/movies/:id/similar", NULL, "similar"},
    {"GET", "/v1/models", NULL, "models"},
    {"POST", "/v1/models/:spec", NULL, "predict"},
    {"GET", "/v1/files/:a/*", NULL, "files"},
    {"GET", "/v1/p/:a/:b/:c/:d/:e", NULL, "five"},
    {"GET", "/", NULL, "root"},
    {"GET", "/assets/*", NULL, "assets"},
    {"PUT", "/*", NULL, "any"},
};
#define NROUTES ((int)(sizeof(routes) / sizeof(routes[0])))

static const char *const methods[8] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "get", ""};

/* The reference's decoded path; the arrays have room for the raw path. */
struct ref {
    char *path;       /* "/a/b c", NUL-terminated */
    size_t len;
    size_t *off, *n;  /* each segment, after its '/' */
    int nsegs;
};

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        abort();
    return p;
}

static int hex(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}


/* Decodes t[0..n): 0, or -1 when the path is not valid (a 400). */
static int ref_decode(struct ref *r, const unsigned char *t, size_t n)
{
    size_t i = 0;

    r->len = 0;
    r->nsegs = 0;
    r->path[0] = '\0';
    if (n == 0 || t[0] != '/')
        return -1;
    while (i < n) {
        if (t[i] == '/') {
            r->path[r->len++] = '/';
            r->off[r->nsegs] = r->len;
            r->n[r->nsegs++] = 0;
            i++;
            continue;
        }
        unsigned char c = t[i];
        if (c == '%') {
            if (n - i < 3 || hex(t[i + 1]) < 0 || hex(t[i + 2]) < 0)
                return -1;
            c = (unsigned char)(hex(t[i + 1]) * 16 + hex(t[i + 2]));
            i += 3;
        } else {
            i++;
        }
        if (c == 0)
            return -1;
        r->path[r->len++] = (char)c;
        r->n[r->nsegs - 1]++;
    }
    r->path[r->len] = '\0';
    return fuzz_utf8_valid((const unsigned char *)r->path, r->len) ? 0 : -1;
}

/* Matches pattern against r: 1 with the params (pointers and lengths in
 * r->path, at most HTTP_MAX_PARAMS), or 0. */
static int ref_match(const char *pattern, const struct ref *r, const char **pv, size_t *pn,
                     int *np)
{
    const char *s = pattern;
    int si = 0, k = 0;

    while (*s == '/') {
        const char *seg = s + 1, *e = strchr(seg, '/');
        size_t l = e ? (size_t)(e - seg) : strlen(seg);
        if (l == 1 && seg[0] == '*' && !e) {
            if (k < HTTP_MAX_PARAMS) {
                pv[k] = si < r->nsegs ? r->path + r->off[si] : "";
                pn[k++] = si < r->nsegs ? r->len - r->off[si] : 0;
            }
            *np = k;
            return 1;
        }
        if (si >= r->nsegs)
            return 0;
        if (l > 0 && seg[0] == ':') {
            if (r->n[si] == 0)
                return 0;
            if (k < HTTP_MAX_PARAMS) {
                pv[k] = r->path + r->off[si];
                pn[k++] = r->n[si];
            }
        } else if (r->n[si] != l || memcmp(r->path + r->off[si], seg, l) != 0) {
            return 0;
        }
        si++;
        if (!e)
            break;
        s = e;
    }
    if (si != r->nsegs)
        return 0;
    *np = k;
    return 1;
}

/* The pattern's segments, and whether its last is "*". */
static int pattern_segs(const char *pattern, int *star)
{
    int n = 0;
    for (const char *q = pattern; *q; q++)
        n += *q == '/';
    *star = n > 0 && strcmp(strrchr(pattern, '/'), "/*") == 0;
    return n;
}

/* Whether some segment of the decoded path, split at every '/' (a decoded
 * "%2F" too), is "..". */
static int has_dotdot(const char *path)
{
    for (const char *q = path; *q == '/';) {
        const char *e = strchr(q + 1, '/');
        size_t l = e ? (size_t)(e - q - 1) : strlen(q + 1);
        if (l == 2 && q[1] == '.' && q[2] == '.')
            return 1;
        if (!e)
            break;
        q = e;
    }
    return 0;
}

static int route_is_fixed(const char *pattern)
{
    return strchr(pattern, ':') == NULL && strchr(pattern, '*') == NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *method, *pv[HTTP_MAX_PARAMS];
    const char *target = (const char *)data + 1;
    size_t tlen = size ? size - 1 : 0, plen = 0, pn[HTTP_MAX_PARAMS], cap, cut = 0;
    int want = 404, want_route = -1, want_np = 0, route, np, rc;
    char *params, *qtarget;
    struct ref ref;

    if (size == 0)
        return 0;
    method = methods[data[0] & 7];
    cap = data[0] >> 3 ? (size_t)(data[0] >> 3) : 4096;

    /* the reference's answer */
    while (cut < tlen && target[cut] != '?' && target[cut] != '#')
        cut++;
    ref.path = xmalloc(cut + 1);
    ref.off = xmalloc((cut + 1) * sizeof(*ref.off));
    ref.n = xmalloc((cut + 1) * sizeof(*ref.n));
    if (ref_decode(&ref, (const unsigned char *)target, cut) != 0) {
        want = 400;
    } else {
        int is_head = strcmp(method, "HEAD") == 0;
        for (int i = 0; i < NROUTES; i++) {
            const char *v[HTTP_MAX_PARAMS];
            size_t vn[HTTP_MAX_PARAMS];
            int k;
            if (!ref_match(routes[i].pattern, &ref, v, vn, &k))
                continue;
            want = 405;
            if (strcmp(routes[i].method, method) == 0 ||
                (is_head && strcmp(routes[i].method, "GET") == 0)) {
                want = 200;
                want_route = i;
                want_np = k;
                memcpy(pv, v, sizeof(v));
                memcpy(pn, vn, sizeof(vn));
                break;
            }
        }
        for (int i = 0; i < want_np; i++)
            plen += pn[i] + 1;
        if (want == 200 && plen > cap)
            want = -1;
    }

    /* the layer's */
    params = xmalloc(cap);
    rc = http_route_find(routes, NROUTES, method, target, tlen, &route, params, cap, &np);
    if (rc != want)
        fprintf(stderr, "http_route_find: %d, the reference: %d (route %d, path '%s')\n", rc,
                want, want_route, ref.path);
    CHECK(rc == want);
    if (rc == 200) {
        size_t o = 0;
        int star, npsegs = pattern_segs(routes[route].pattern, &star);
        CHECK(route == want_route && np == want_np);
        /* the segment counts agree: equal, or the "*" took the rest */
        CHECK(star ? npsegs - 1 <= ref.nsegs : npsegs == ref.nsegs);
        CHECK(np <= HTTP_MAX_PARAMS);
        CHECK(strcmp(routes[route].method, method) == 0 ||
              (strcmp(method, "HEAD") == 0 && strcmp(routes[route].method, "GET") == 0));
        if (route_is_fixed(routes[route].pattern))
            CHECK(np == 0 && !has_dotdot(ref.path));
        for (int i = 0; i < np; i++) {
            size_t l = strnlen(params + o, cap - o);
            CHECK(l < cap - o); /* NUL-terminated within the buffer */
            CHECK(l == pn[i] && memcmp(params + o, pv[i], l) == 0);
            CHECK(fuzz_utf8_valid((const unsigned char *)params + o, l));
            o += l + 1;
        }
        CHECK(o == plen);
    } else {
        CHECK(route == -1 && np == 0);
    }

    /* a query string or fragment after the path changes nothing */
    qtarget = xmalloc(tlen + 8);
    if (tlen)
        memcpy(qtarget, target, tlen);
    memcpy(qtarget + tlen, "?x=%/..", 7);
    if (cut < tlen)
        qtarget[tlen] = '&';
    {
        int route2, np2;
        char *params2 = xmalloc(cap);
        int rc2 = http_route_find(routes, NROUTES, method, qtarget, tlen + 7, &route2, params2,
                                  cap, &np2);
        CHECK(rc2 == rc && route2 == route && np2 == np);
        if (rc == 200)
            CHECK(memcmp(params2, params, plen) == 0);
        free(params2);
    }
    free(qtarget);
    free(params);
    free(ref.path);
    free(ref.off);
    free(ref.n);
    return 0;
}
