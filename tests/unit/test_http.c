/*
 * test_http.c - the HTTP layer against a real server on 127.0.0.1 (port 0)
 * driven by libcurl: routing and params, JSON bodies and their errors, the
 * body cap, HEAD, cookies, static files and traversal attempts, the access
 * log, metrics text, concurrent clients, and a graceful stop while a slow
 * handler is in flight.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <stdatomic.h>
#include <time.h>

#include "../../src/server/http.h"
#include "../../src/server/metrics.h"

/* ---- handlers ---- */

static atomic_int slow_started;

static void h_echo(void *app, struct http_req *req, struct http_res *res)
{
    const char *q = http_query(req, "q");
    const char *x = http_header(req, "x-test");
    (void)app;
    http_res_json(res, 200,
                  json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:i}", "id", req->params[0], "method",
                            req->method, "path", req->path, "q", q, "x", x, "n", req->nparams));
}

static void h_body(void *app, struct http_req *req, struct http_res *res)
{
    (void)app;
    json_t *j = http_req_json(req, res);
    if (!j)
        return;
    http_res_json(res, 200, json_pack("{s:o, s:I}", "got", j, "len", (json_int_t)req->body_len));
}

static void h_unset(void *app, struct http_req *req, struct http_res *res)
{
    (void)app;
    (void)req;
    (void)res;
}

static void h_cookie(void *app, struct http_req *req, struct http_res *res)
{
    const char *sid = http_cookie(req, "sid");
    (void)app;
    http_res_header(res, "Set-Cookie", "sid=new; Path=/; HttpOnly; SameSite=Lax");
    http_res_header(res, "Set-Cookie", "theme=dark; Path=/");
    http_res_json(res, 200, json_pack("{s:s?}", "sid", sid));
}

static void h_slow(void *app, struct http_req *req, struct http_res *res)
{
    struct timespec ts = {0, 300 * 1000 * 1000};
    (void)app;
    (void)req;
    atomic_store(&slow_started, 1);
    nanosleep(&ts, NULL);
    http_res_text(res, 200, "text/plain; charset=utf-8", "slow done", 9);
}

static void h_rest(void *app, struct http_req *req, struct http_res *res)
{
    (void)app;
    http_res_json(res, 200, json_pack("{s:s, s:s}", "a", req->params[0], "rest", req->params[1]));
}

static void h_page(void *app, struct http_req *req, struct http_res *res)
{
    (void)app;
    (void)req;
    http_res_text(res, 200, "text/html; charset=utf-8", "<p>hi</p>", 9);
}

static const struct http_route routes[] = {
    {"GET", "/v1/echo/:id", h_echo, "echo"},
    {"POST", "/v1/body", h_body, "body"},
    {"PUT", "/v1/body", h_body, "body"},
    {"GET", "/v1/unset", h_unset, "unset"},
    {"GET", "/v1/cookie", h_cookie, "cookie"},
    {"GET", "/v1/slow", h_slow, "slow"},
    {"GET", "/v1/files/:a/*", h_rest, "rest"},
    {"GET", "/page", h_page, "page"},
};
#define NROUTES ((int)(sizeof(routes) / sizeof(routes[0])))

/* ---- a client ---- */

struct reply {
    long status;
    char body[65536];
    size_t len;
    char headers[16384];
    size_t hlen;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    struct reply *r = ud;
    size_t k = sz * n;
    size_t room = sizeof(r->body) - 1 - r->len;
    memcpy(r->body + r->len, p, k < room ? k : room);
    r->len += k < room ? k : room;
    r->body[r->len] = '\0';
    return k;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    struct reply *r = ud;
    size_t k = sz * n;
    size_t room = sizeof(r->headers) - 1 - r->hlen;
    memcpy(r->headers + r->hlen, p, k < room ? k : room);
    r->hlen += k < room ? k : room;
    r->headers[r->hlen] = '\0';
    return k;
}

/* A header's value (case-insensitive name) from the reply, into out. */
static const char *hval(const struct reply *r, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *l = r->headers; *l;) {
        const char *e = strstr(l, "\r\n");
        if (!e)
            break;
        if ((size_t)(e - l) > nl && strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
            const char *v = l + nl + 1;
            while (*v == ' ')
                v++;
            snprintf(out, cap, "%.*s", (int)(e - v), v);
            return out;
        }
        l = e + 2;
    }
    return NULL;
}

struct reqopt {
    const char *method; /* default GET (POST when body) */
    const char *body;
    long body_len;      /* -1: strlen */
    const char *cookie;
    int head;
    int chunked;
    struct curl_slist *hdrs;
};

static int g_port;

static long request(const char *path, const struct reqopt *o, struct reply *r)
{
    static const struct reqopt none = {0};
    char url[4096];
    CURL *c = curl_easy_init();
    assert_non_null(c);
    if (!o)
        o = &none;
    memset(r, 0, sizeof(*r));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", g_port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    struct curl_slist *h = o->hdrs;
    int own = 0;
    if (o->chunked) {
        h = curl_slist_append(NULL, "Transfer-Encoding: chunked");
        own = 1;
    }
    if (o->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, o->body);
        if (!o->chunked)
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE,
                             o->body_len >= 0 ? o->body_len : (long)strlen(o->body));
    }
    if (h)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (o->method)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, o->method);
    if (o->head)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (o->cookie)
        curl_easy_setopt(c, CURLOPT_COOKIE, o->cookie);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fail_msg("%s: %s", path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(c);
    if (own)
        curl_slist_free_all(h);
    return r->status;
}

static json_t *reply_json(const struct reply *r)
{
    json_error_t je;
    json_t *j = json_loads(r->body, 0, &je);
    if (!j)
        fail_msg("not JSON (%s): %s", je.text, r->body);
    return j;
}

static void assert_error(const struct reply *r, long status, const char *code)
{
    char ct[256];
    assert_int_equal(r->status, status);
    assert_non_null(hval(r, "Content-Type", ct, sizeof(ct)));
    assert_string_equal(ct, "application/json; charset=utf-8");
    json_t *j = reply_json(r);
    assert_string_equal(json_string_value(json_object_get(j, "error")), code);
    assert_non_null(json_string_value(json_object_get(j, "message")));
    json_decref(j);
}

/* ---- the fixture: a server per test ---- */

static char g_dir[4096];
static char g_static[4200];

struct fixture {
    struct http_server *srv;
    struct metrics *m;
    FILE *log;
};

static int setup(void **state)
{
    static struct fixture f;
    struct error err = {0};
    struct http_server_opts o = {0};
    memset(&f, 0, sizeof(f));
    f.m = metrics_new();
    f.log = tmpfile();
    assert_non_null(f.m);
    assert_non_null(f.log);
    o.bind = "127.0.0.1";
    o.port = 0;
    o.threads = 4;
    o.max_body = 1024;
    o.access_log = f.log;
    o.static_dir = g_static;
    o.metrics = f.m;
    if (http_server_start(&f.srv, &o, routes, NROUTES, NULL, &err) != 0)
        fail_msg("%s", err.msg);
    g_port = http_server_port(f.srv);
    assert_true(g_port > 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    http_server_stop(f->srv);
    metrics_free(f->m);
    fclose(f->log);
    return 0;
}

static int group_setup(void **state)
{
    char p[8400];
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    tu_tmpdir(g_dir);
    snprintf(g_static, sizeof(g_static), "%s/web", g_dir);
    mkdir(g_static, 0755);
    tu_write(g_static, "index.html", "<!doctype html><title>movierec</title>", (size_t)-1);
    tu_write(g_static, "a.css", "body{color:red}", (size_t)-1);
    tu_write(g_static, "app.js", "export {};", (size_t)-1);
    tu_write(g_dir, "secret.txt", "secret", (size_t)-1);
    snprintf(p, sizeof(p), "%s/link.txt", g_static);
    if (symlink("../secret.txt", p) != 0)
        fail_msg("cannot make a symlink");
    snprintf(p, sizeof(p), "%s/sub", g_static);
    mkdir(p, 0755);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    tu_rmtree(g_dir);
    curl_global_cleanup();
    return 0;
}

/* ---- tests ---- */

static void test_echo_params(void **state)
{
    struct reply r;
    struct reqopt o = {0};
    (void)state;
    o.hdrs = curl_slist_append(NULL, "X-Test: yes");
    assert_int_equal(request("/v1/echo/a%20b?q=hello%20world&z=1", &o, &r), 200);
    curl_slist_free_all(o.hdrs);
    char ct[256], v[256];
    assert_string_equal(hval(&r, "Content-Type", ct, sizeof(ct)), "application/json; charset=utf-8");
    assert_string_equal(hval(&r, "X-Content-Type-Options", v, sizeof(v)), "nosniff");
    assert_string_equal(hval(&r, "Referrer-Policy", v, sizeof(v)), "same-origin");
    assert_null(hval(&r, "Content-Security-Policy", v, sizeof(v)));
    json_t *j = reply_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "id")), "a b");
    assert_string_equal(json_string_value(json_object_get(j, "q")), "hello world");
    assert_string_equal(json_string_value(json_object_get(j, "x")), "yes");
    assert_string_equal(json_string_value(json_object_get(j, "path")), "/v1/echo/a b");
    assert_int_equal(json_integer_value(json_object_get(j, "n")), 1);
    json_decref(j);

    /* an encoded slash stays inside its segment */
    assert_int_equal(request("/v1/echo/a%2Fb", NULL, &r), 200);
    j = reply_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "id")), "a/b");
    assert_true(json_is_null(json_object_get(j, "q")));
    json_decref(j);
    /* UTF-8 in a param */
    assert_int_equal(request("/v1/echo/%C3%A9t%C3%A9", NULL, &r), 200);
    j = reply_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "id")), "\xc3\xa9t\xc3\xa9");
    json_decref(j);
    /* a trailing "*" takes the rest */
    assert_int_equal(request("/v1/files/x/y/z%20w", NULL, &r), 200);
    j = reply_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "a")), "x");
    assert_string_equal(json_string_value(json_object_get(j, "rest")), "y/z w");
    json_decref(j);
    /* an empty ":id" segment does not match */
    request("/v1/echo/", NULL, &r);
    assert_error(&r, 404, "not_found");
}

static void test_not_found_and_methods(void **state)
{
    struct reply r;
    struct reqopt o = {0};
    char v[256];
    (void)state;
    request("/v1/nothing", NULL, &r);
    assert_error(&r, 404, "not_found");
    request("/v1/echo/1/extra", NULL, &r);
    assert_error(&r, 404, "not_found");

    o.method = "DELETE";
    request("/v1/echo/1", &o, &r);
    assert_error(&r, 405, "method_not_allowed");
    assert_string_equal(hval(&r, "Allow", v, sizeof(v)), "GET, HEAD");
    request("/v1/body", &o, &r);
    assert_error(&r, 405, "method_not_allowed");
    assert_string_equal(hval(&r, "Allow", v, sizeof(v)), "POST, PUT");
    o.method = "FROB";
    request("/v1/echo/1", &o, &r);
    assert_error(&r, 405, "method_not_allowed");
    request("/nothing-here", &o, &r);
    assert_error(&r, 404, "not_found");

    /* bad encodings and bytes */
    request("/v1/echo/%zz", NULL, &r);
    assert_error(&r, 400, "bad_request");
    request("/v1/echo/%4", NULL, &r);
    assert_error(&r, 400, "bad_request");
    request("/v1/echo/a%00b", NULL, &r);
    assert_error(&r, 400, "bad_request");
    request("/v1/echo/%ff%fe", NULL, &r);
    assert_error(&r, 400, "bad_request");
}

static void test_json_bodies(void **state)
{
    struct reply r;
    struct reqopt o = {0};
    (void)state;
    o.body = "{\"a\": [1, 2], \"b\": \"\xc3\xa9\"}";
    o.body_len = -1;
    assert_int_equal(request("/v1/body", &o, &r), 200);
    json_t *j = reply_json(&r);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(json_object_get(j, "got"),
                                                                       "a"), 1)), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "len")), strlen(o.body));
    json_decref(j);

    o.method = "PUT";
    o.body = "{\"a\": 1}";
    assert_int_equal(request("/v1/body", &o, &r), 200);
    o.method = NULL;

    o.body = "{\"a\": ";
    request("/v1/body", &o, &r);
    assert_error(&r, 400, "bad_json");
    j = reply_json(&r);
    const char *msg = json_string_value(json_object_get(j, "message"));
    assert_non_null(strstr(msg, "line 1 column"));
    json_decref(j);

    o.body = "{\"a\": 1, \"a\": 2}";
    request("/v1/body", &o, &r);
    assert_error(&r, 400, "bad_json");
    o.body = "[1, 2]";
    request("/v1/body", &o, &r);
    assert_error(&r, 400, "bad_json");
    o.body = "{\"a\": 1} trailing";
    request("/v1/body", &o, &r);
    assert_error(&r, 400, "bad_json");

    o.body = "";
    request("/v1/body", &o, &r);
    assert_error(&r, 400, "bad_json");
    j = reply_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "message")),
                        "a JSON body is required");
    json_decref(j);

    /* exactly max_body is fine */
    static char big[300000];
    memset(big, ' ', sizeof(big));
    big[0] = '{';
    big[1023] = '}';
    o.body = big;
    o.body_len = 1024;
    assert_int_equal(request("/v1/body", &o, &r), 200);
}

static void test_too_large(void **state)
{
    struct reply r;
    struct reqopt o = {0};
    static char big[300000];
    (void)state;
    memset(big, 'x', sizeof(big) - 1);
    o.body = big;
    o.body_len = 1025;
    request("/v1/body", &o, &r);
    assert_error(&r, 413, "too_large");
    o.body_len = 4096;
    request("/v1/body", &o, &r);
    assert_error(&r, 413, "too_large");
    /* chunked: no Content-Length, cut off while it arrives */
    o.chunked = 1;
    o.body_len = -1;
    big[3000] = '\0';
    request("/v1/body", &o, &r);
    assert_error(&r, 413, "too_large");
    /* the server still answers */
    o.chunked = 0;
    o.body = "{}";
    assert_int_equal(request("/v1/body", &o, &r), 200);
    /* a large body announced up front: 413 without reading it all */
    big[3000] = 'x';
    o.body = big;
    o.body_len = (long)sizeof(big) - 1;
    request("/v1/body", &o, &r);
    assert_error(&r, 413, "too_large");
    /* ... and sent at once, without waiting for "100 Continue" */
    o.hdrs = curl_slist_append(NULL, "Expect:");
    request("/v1/body", &o, &r);
    assert_error(&r, 413, "too_large");
    curl_slist_free_all(o.hdrs);
}

static void test_unset_status(void **state)
{
    struct reply r;
    (void)state;
    request("/v1/unset", NULL, &r);
    assert_error(&r, 500, "internal");
}

static void test_head(void **state)
{
    struct reply r, g;
    struct reqopt o = {0};
    char a[64], b[64];
    (void)state;
    o.head = 1;
    assert_int_equal(request("/v1/echo/42", &o, &r), 200);
    assert_int_equal(r.len, 0);
    assert_non_null(hval(&r, "Content-Length", a, sizeof(a)));
    assert_string_equal(hval(&r, "Content-Type", b, sizeof(b)), "application/json; charset=utf-8");
    /* the same headers as GET, no body */
    request("/page", NULL, &g);
    assert_int_equal(request("/page", &o, &r), 200);
    assert_int_equal(r.len, 0);
    assert_string_equal(hval(&r, "Content-Length", a, sizeof(a)),
                        hval(&g, "Content-Length", b, sizeof(b)));
    assert_string_equal(a, "9");
    assert_non_null(hval(&r, "Content-Security-Policy", a, sizeof(a)));
    assert_int_equal(request("/", &o, &r), 200);
    assert_int_equal(r.len, 0);
}

static void test_cookies(void **state)
{
    struct reply r;
    struct reqopt o = {0};
    (void)state;
    o.cookie = "other=1; sid=abc123";
    assert_int_equal(request("/v1/cookie", &o, &r), 200);
    json_t *j = reply_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "sid")), "abc123");
    json_decref(j);
    assert_non_null(strstr(r.headers, "Set-Cookie: sid=new; Path=/; HttpOnly; SameSite=Lax\r\n"));
    assert_non_null(strstr(r.headers, "Set-Cookie: theme=dark; Path=/\r\n"));
    assert_int_equal(request("/v1/cookie", NULL, &r), 200);
    j = reply_json(&r);
    assert_true(json_is_null(json_object_get(j, "sid")) || !json_object_get(j, "sid"));
    json_decref(j);
}

static void test_static(void **state)
{
    struct reply r;
    char v[512];
    (void)state;
    assert_int_equal(request("/", NULL, &r), 200);
    assert_string_equal(r.body, "<!doctype html><title>movierec</title>");
    assert_string_equal(hval(&r, "Content-Type", v, sizeof(v)), "text/html; charset=utf-8");
    assert_string_equal(hval(&r, "Cache-Control", v, sizeof(v)), "no-cache");
    assert_non_null(hval(&r, "Content-Security-Policy", v, sizeof(v)));
    assert_non_null(strstr(v, "frame-ancestors 'none'"));
    assert_string_equal(hval(&r, "X-Content-Type-Options", v, sizeof(v)), "nosniff");
    assert_int_equal(request("/index.html?x=1", NULL, &r), 200);
    assert_int_equal(request("/a.css", NULL, &r), 200);
    assert_string_equal(r.body, "body{color:red}");
    assert_string_equal(hval(&r, "Content-Type", v, sizeof(v)), "text/css; charset=utf-8");
    assert_null(hval(&r, "Content-Security-Policy", v, sizeof(v)));
    assert_int_equal(request("/app.js", NULL, &r), 200);
    assert_string_equal(hval(&r, "Content-Type", v, sizeof(v)), "text/javascript; charset=utf-8");
    /* a handler's own html reply gets the CSP too */
    assert_int_equal(request("/page", NULL, &r), 200);
    assert_non_null(hval(&r, "Content-Security-Policy", v, sizeof(v)));

    static const char *const refused[] = {
        "/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt", "/sub/../../secret.txt",
        "/link.txt", "/missing.html", "/sub", "/sub/", "/v1/index.html", "/v1/", "/.."};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        request(refused[i], NULL, &r);
        if (r.status != 404 && r.status != 400)
            fail_msg("%s: %ld %s", refused[i], r.status, r.body);
        assert_null(strstr(r.body, "secret"));
    }
    request("/%zz", NULL, &r);
    assert_error(&r, 400, "bad_request");
    /* other methods don't reach static files */
    struct reqopt o = {0};
    o.body = "x";
    request("/index.html", &o, &r);
    assert_error(&r, 404, "not_found");
}

/* With web/404.html, a missing page gets that page and status 404; the
 * traversal attempts still get nothing else, and /v1 stays JSON. */
static void test_static_not_found_page(void **state)
{
    struct reply r;
    char v[512];
    (void)state;
    tu_write(g_static, "404.html", "<!doctype html><title>lost</title>", (size_t)-1);
    static const char *const missing[] = {"/missing.html", "/no/such/page", "/sub/", "/../secret.txt",
                                          "/%2E%2E%2Fsecret.txt", "/link.txt"};
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        assert_int_equal(request(missing[i], NULL, &r), 404);
        assert_string_equal(r.body, "<!doctype html><title>lost</title>");
        assert_string_equal(hval(&r, "Content-Type", v, sizeof(v)), "text/html; charset=utf-8");
        assert_non_null(hval(&r, "Content-Security-Policy", v, sizeof(v)));
    }
    request("/v1/nothing", NULL, &r);
    assert_error(&r, 404, "not_found");
    assert_int_equal(request("/404.html", NULL, &r), 200);
}

static void test_odd_requests(void **state)
{
    struct reply r;
    struct reqopt o = {0};
    static char hdr[100000];
    (void)state;
    /* a header larger than the connection's memory: MHD answers itself */
    memcpy(hdr, "X-Big: ", 7);
    memset(hdr + 7, 'a', sizeof(hdr) - 8);
    o.hdrs = curl_slist_append(NULL, hdr);
    CURL *c = curl_easy_init();
    char url[128];
    memset(&r, 0, sizeof(r));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/echo/1", g_port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, o.hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_perform(c); /* a 431 or a closed connection; either is fine */
    curl_easy_cleanup(c);
    curl_slist_free_all(o.hdrs);
    /* still serving */
    assert_int_equal(request("/v1/echo/1", NULL, &r), 200);
}

/* Sends raw bytes on a fresh connection (then half-closes it when shut); the status of the reply, or 0
 * when the server closed without one. */
static int raw_request(const char *data, size_t n, int shut)
{
    struct sockaddr_in a;
    char buf[4096];
    size_t got = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0), status = 0;
    struct timeval tv = {shut ? 0 : 5, shut ? 300000 : 0}; /* an answer may never come */
    assert_true(fd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)g_port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    if (send(fd, data, n, MSG_NOSIGNAL) < 0) {
        close(fd);
        return 0;
    }
    if (shut) /* an incomplete request: say there is no more */
        shutdown(fd, SHUT_WR);
    for (;;) {
        ssize_t k = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
        if (k <= 0)
            break;
        got += (size_t)k;
        if (got == sizeof(buf) - 1 || memmem(buf, got, "\r\n\r\n", 4))
            break;
    }
    buf[got] = '\0';
    close(fd);
    if (got > 12 && strncmp(buf, "HTTP/1.", 7) == 0)
        status = (int)strtol(buf + 9, NULL, 10);
    return status;
}

static void test_raw_requests(void **state)
{
    static const struct {
        const char *req;
        int want; /* 0: anything, the server must only survive */
        int shut;
    } cases[] = {
        {"GET /v1/echo/1 HTTP/1.1\r\nHost: x\r\n\r\n", 200, 0},
        {"GET /v1/echo/1 HTTP/1.0\r\n\r\n", 200, 0},
        {"GET /v1/echo/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n", 0, 0},
        {"GET /v1/echo/%C3%28 HTTP/1.1\r\nHost: x\r\n\r\n", 400, 0},
        {"GET * HTTP/1.1\r\nHost: x\r\n\r\n", 0, 0},
        {"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 0, 0},
        {"GET http://x/v1/echo/1 HTTP/1.1\r\nHost: x\r\n\r\n", 0, 0},
        {"GET v1/echo/1 HTTP/1.1\r\nHost: x\r\n\r\n", 0, 0},
        {"GET / HTTP/1.1\r\nHost: x\r\nCookie: ;;;=;=x;sid\r\n\r\n", 200, 0},
        {"G\x01T /v1/echo/1 HTTP/1.1\r\nHost: x\r\n\r\n", 0, 0},
        {"POST /v1/body HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", 0, 0},
        {"POST /v1/body HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", 0, 0},
        {"POST /v1/body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, 0},
        {"POST /v1/body HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{}", 0, 1},
        {"GET /v1/echo/1?%zz=%zz&&=&a HTTP/1.1\r\nHost: x\r\n\r\n", 200, 0},
        {"\r\n\r\n", 0, 1},
        {"GET\r\n\r\n", 0, 1},
        {"GET /v1/echo/1 HTTP/9.9\r\n\r\n", 0, 0},
        {"GET /v1/echo/1 HTTP/1.1\r\nHost: x\r\nX-Half", 0, 1},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int st = raw_request(cases[i].req, strlen(cases[i].req), cases[i].shut);
        if (getenv("HTTP_TEST_VERBOSE"))
            print_message("case %zu: %d at %ld\n", i, st, (long)time(NULL));
        if (cases[i].want && st != cases[i].want)
            fail_msg("case %zu: got %d, want %d", i, st, cases[i].want);
        /* still serving */
        assert_int_equal(raw_request(cases[0].req, strlen(cases[0].req), 0), 200);
    }
}

static int count_lines(FILE *f, char *buf, size_t cap)
{
    int n = 0;
    rewind(f);
    size_t len = fread(buf, 1, cap - 1, f);
    buf[len] = '\0';
    for (size_t i = 0; i < len; i++)
        n += buf[i] == '\n';
    return n;
}

static void test_access_log(void **state)
{
    struct fixture *f = *state;
    struct reply r;
    struct reqopt o = {0};
    static char buf[65536];
    (void)state;
    request("/v1/echo/7?q=secret-token", NULL, &r);
    request("/v1/nope?password=hunter2", NULL, &r);
    o.cookie = "sid=cookie-value";
    request("/v1/cookie?x=1", &o, &r);
    o.cookie = NULL;
    o.body = "{\"password\":\"body-secret\"}";
    o.body_len = -1;
    request("/v1/body", &o, &r);
    request("/a.css", NULL, &r);
    request("/v1/echo/%0a%22x", NULL, &r);
    http_server_stop(f->srv);
    f->srv = NULL;
    int n = count_lines(f->log, buf, sizeof(buf));
    assert_int_equal(n, 6);
    assert_null(strchr(buf, '?'));
    assert_null(strstr(buf, "secret"));
    assert_null(strstr(buf, "hunter2"));
    assert_null(strstr(buf, "cookie-value"));
    assert_non_null(strstr(buf, " 127.0.0.1 \"GET /v1/echo/7\" 200 "));
    assert_non_null(strstr(buf, "route=echo\n"));
    assert_non_null(strstr(buf, "\"GET /v1/nope\" 404 "));
    assert_non_null(strstr(buf, "route=not_found\n"));
    assert_non_null(strstr(buf, "\"POST /v1/body\" 200 "));
    assert_non_null(strstr(buf, "route=static\n"));
    /* "2026-11-28T07:55:01Z 127.0.0.1 ..." */
    assert_true(buf[4] == '-' && buf[10] == 'T' && buf[19] == 'Z' && buf[20] == ' ');
    assert_non_null(strstr(buf, "ms "));
    /* every line: time, address, quoted request, status, duration, size, route */
    for (char *l = buf; *l;) {
        char *e = strchr(l, '\n');
        char when[32], addr[64], meth[16], path[512], route[64];
        int status;
        double ms;
        size_t bytes;
        *e = '\0';
        if (sscanf(l, "%31s %63s \"%15s %511[^\"]\" %d %lfms %zuB route=%63s", when, addr, meth,
                   path, &status, &ms, &bytes, route) != 8)
            fail_msg("bad log line: %s", l);
        l = e + 1;
    }
}

/* Is the metrics text well formed? Checks every sample line's shape,
 * HELP/TYPE once per name, and cumulative buckets. */
static void check_prom(const char *text)
{
    char names[64][128];
    int nnames = 0;
    char line[1024];
    const char *p = text;
    unsigned long long prev = 0;
    char prev_series[512] = "";
    while (*p) {
        const char *e = strchr(p, '\n');
        assert_non_null(e);
        size_t n = (size_t)(e - p);
        assert_true(n < sizeof(line));
        memcpy(line, p, n);
        line[n] = '\0';
        p = e + 1;
        if (strncmp(line, "# TYPE ", 7) == 0) {
            char name[128], type[32];
            assert_int_equal(sscanf(line + 7, "%127s %31s", name, type), 2);
            for (int i = 0; i < nnames; i++)
                if (strcmp(names[i], name) == 0)
                    fail_msg("TYPE twice for %s", name);
            assert_true(nnames < 64);
            snprintf(names[nnames++], sizeof(names[0]), "%s", name);
            continue;
        }
        if (strncmp(line, "# HELP ", 7) == 0)
            continue;
        assert_true(line[0] != '#');
        /* name{labels} value  or  name value */
        char *sp = strrchr(line, ' ');
        assert_non_null(sp);
        char *end;
        strtod(sp + 1, &end);
        if (*end != '\0' || end == sp + 1)
            fail_msg("bad value: %s", line);
        char *brace = strchr(line, '{');
        if (brace) {
            assert_true(sp[-1] == '}');
            /* labels: k="v",k="v" */
            const char *q = brace + 1;
            while (*q != '}') {
                while ((*q >= 'a' && *q <= 'z') || *q == '_')
                    q++;
                assert_true(q[0] == '=' && q[1] == '"');
                q += 2;
                while (*q != '"') {
                    if (*q == '\\')
                        q++;
                    q++;
                }
                q++;
                if (*q == ',')
                    q++;
            }
        }
        /* cumulative buckets within one series */
        char *le = strstr(line, "le=\"");
        if (le && strstr(line, "_bucket{")) {
            char series[512];
            snprintf(series, sizeof(series), "%.*s", (int)(le - line), line);
            unsigned long long v = strtoull(sp + 1, NULL, 10);
            if (strcmp(series, prev_series) == 0)
                assert_true(v >= prev);
            snprintf(prev_series, sizeof(prev_series), "%s", series);
            prev = v;
        }
    }
}

static void extra_gauges(void *ctx, void *buf, metrics_put_fn put)
{
    put(buf, "# HELP movierec_model_version The loaded model's version.\n");
    put(buf, "# TYPE movierec_model_version gauge\n");
    put(buf, "movierec_model_version{model=\"%s\"} %d\n", (const char *)ctx, 3);
}

static void test_metrics(void **state)
{
    struct fixture *f = *state;
    struct reply r;
    (void)state;
    for (int i = 0; i < 5; i++)
        request("/v1/echo/1", NULL, &r);
    request("/v1/nope", NULL, &r);
    request("/v1/unset", NULL, &r);
    request("/", NULL, &r);

    struct metrics_hist *h1 = metrics_hist(f->m, "movierec_rec_stage_seconds",
                                           "stage=\"itemcf\"", "Time per recommendation stage.");
    struct metrics_hist *h2 = metrics_hist(f->m, "movierec_rec_stage_seconds", "stage=\"rank\"",
                                           "Time per recommendation stage.");
    struct metrics_hist *h3 = metrics_hist(f->m, "movierec_load_seconds", NULL, "Load time.");
    assert_non_null(h1);
    assert_non_null(h2);
    assert_non_null(h3);
    assert_ptr_equal(metrics_hist(f->m, "movierec_rec_stage_seconds", "stage=\"itemcf\"", "x"),
                     h1);
    metrics_observe(h1, 0.0001);
    metrics_observe(h1, 0.003);
    metrics_observe(h1, 100);
    metrics_observe(h2, 1.5);
    metrics_observe(h3, -1);

    size_t len = 0;
    char *t = metrics_render(f->m, extra_gauges, "ranker", &len);
    assert_non_null(t);
    assert_int_equal(len, strlen(t));
    check_prom(t);
    assert_non_null(strstr(t, "# TYPE movierec_http_requests_total counter\n"));
    assert_non_null(strstr(t, "movierec_http_requests_total{route=\"echo\",code=\"2xx\"} 5\n"));
    assert_non_null(strstr(t, "movierec_http_requests_total{route=\"not_found\",code=\"4xx\"} 1\n"));
    assert_non_null(strstr(t, "movierec_http_requests_total{route=\"unset\",code=\"5xx\"} 1\n"));
    assert_non_null(strstr(t, "movierec_http_requests_total{route=\"static\",code=\"2xx\"} 1\n"));
    assert_non_null(strstr(t, "# TYPE movierec_http_request_seconds histogram\n"));
    assert_non_null(strstr(t, "movierec_http_request_seconds_count{route=\"echo\"} 5\n"));
    assert_non_null(strstr(t, "movierec_http_request_seconds_bucket{route=\"echo\",le=\"+Inf\"} 5\n"));
    assert_non_null(strstr(t, "movierec_http_request_seconds_bucket{route=\"echo\",le=\"0.00025\"} "));
    assert_non_null(strstr(t, "movierec_http_request_seconds_sum{route=\"echo\"} "));
    assert_non_null(strstr(t, "# TYPE movierec_rec_stage_seconds histogram\n"));
    assert_non_null(strstr(t,
        "movierec_rec_stage_seconds_bucket{stage=\"itemcf\",le=\"0.00025\"} 1\n"));
    assert_non_null(strstr(t,
        "movierec_rec_stage_seconds_bucket{stage=\"itemcf\",le=\"0.005\"} 2\n"));
    assert_non_null(strstr(t, "movierec_rec_stage_seconds_bucket{stage=\"itemcf\",le=\"10\"} 2\n"));
    assert_non_null(strstr(t,
        "movierec_rec_stage_seconds_bucket{stage=\"itemcf\",le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(t, "movierec_rec_stage_seconds_sum{stage=\"itemcf\"} 100.003100\n"));
    assert_non_null(strstr(t, "movierec_rec_stage_seconds_count{stage=\"rank\"} 1\n"));
    assert_non_null(strstr(t, "movierec_load_seconds_bucket{le=\"0.00025\"} 1\n"));
    assert_non_null(strstr(t, "movierec_load_seconds_sum 0.000000\n"));
    assert_non_null(strstr(t, "movierec_load_seconds_count 1\n"));
    assert_non_null(strstr(t, "movierec_model_version{model=\"ranker\"} 3\n"));
    free(t);

    /* an empty registry renders to an empty text */
    struct metrics *m = metrics_new();
    t = metrics_render(m, NULL, NULL, &len);
    assert_non_null(t);
    assert_int_equal(len, 0);
    free(t);
    metrics_request(NULL, "x", 200, 0.1);
    metrics_observe(NULL, 0.1);
    metrics_free(m);
}

struct client_arg {
    int n, ok;
    int id;
};

static void *client_thread(void *vp)
{
    struct client_arg *a = vp;
    CURL *c = curl_easy_init();
    static _Thread_local struct reply r;
    char url[128];
    if (!c)
        return NULL;
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    for (int i = 0; i < a->n; i++) {
        long st = 0;
        memset(&r, 0, sizeof(r));
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/echo/t%d-%d", g_port, a->id, i);
        curl_easy_setopt(c, CURLOPT_URL, url); /* one handle: keep-alive */
        if (curl_easy_perform(c) == CURLE_OK &&
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st) == CURLE_OK && st == 200) {
            char want[64];
            snprintf(want, sizeof(want), "\"id\":\"t%d-%d\"", a->id, i);
            if (strstr(r.body, want))
                a->ok++;
        }
    }
    curl_easy_cleanup(c);
    return NULL;
}

static void test_concurrent(void **state)
{
    struct fixture *f = *state;
    pthread_t th[6];
    struct client_arg a[6];
    for (int i = 0; i < 6; i++) {
        a[i].n = 60;
        a[i].ok = 0;
        a[i].id = i;
        assert_int_equal(pthread_create(&th[i], NULL, client_thread, &a[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(a[i].ok, 60);
    }
    size_t len;
    char *t = metrics_render(f->m, NULL, NULL, &len);
    assert_non_null(strstr(t, "movierec_http_request_seconds_count{route=\"echo\"} 360\n"));
    free(t);
}

static void *slow_client(void *vp)
{
    struct reply *r = vp;
    request("/v1/slow", NULL, r);
    return NULL;
}

static void test_graceful_stop(void **state)
{
    struct fixture *f = *state;
    static struct reply r;
    pthread_t th;
    atomic_store(&slow_started, 0);
    assert_int_equal(pthread_create(&th, NULL, slow_client, &r), 0);
    for (int i = 0; i < 5000 && !atomic_load(&slow_started); i++) {
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_true(atomic_load(&slow_started));
    http_server_stop(f->srv);
    f->srv = NULL;
    pthread_join(th, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "slow done");

    /* nothing listens any more */
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/echo/1", g_port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    assert_int_not_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
}

static void test_start_errors(void **state)
{
    struct fixture *f = *state;
    struct http_server *s = NULL;
    struct error err = {0};
    struct http_server_opts o = {0};
    (void)state;
    o.bind = "not-an-address";
    assert_int_equal(http_server_start(&s, &o, routes, NROUTES, NULL, &err), ERR_USAGE);
    assert_null(s);
    assert_non_null(strstr(err.msg, "not-an-address"));
    o.bind = "127.0.0.1";
    o.port = http_server_port(f->srv);
    assert_int_not_equal(http_server_start(&s, &o, routes, NROUTES, NULL, &err), 0);
    assert_null(s);
    assert_non_null(strstr(err.msg, "cannot listen on 127.0.0.1:"));
    o.port = 0;
    o.static_dir = "/no/such/folder";
    assert_int_equal(http_server_start(&s, &o, routes, NROUTES, NULL, &err), ERR_IO);
    assert_null(s);
    /* defaults: no opts at all; 0.0.0.0 */
    assert_int_equal(http_server_start(&s, NULL, routes, NROUTES, NULL, &err), 0);
    assert_true(http_server_port(s) > 0);
    http_server_stop(s);
    o.static_dir = NULL;
    o.bind = "0.0.0.0";
    assert_int_equal(http_server_start(&s, &o, routes, NROUTES, NULL, &err), 0);
    g_port = http_server_port(s);
    struct reply r;
    assert_int_equal(request("/v1/echo/1", NULL, &r), 200);
    http_server_stop(s);
    /* IPv6 loopback, where the machine has it */
    o.bind = "::1";
    if (http_server_start(&s, &o, routes, NROUTES, NULL, &err) == 0) {
        char url[128];
        long st = 0;
        CURL *c = curl_easy_init();
        snprintf(url, sizeof(url), "http://[::1]:%d/v1/echo/6", http_server_port(s));
        memset(&r, 0, sizeof(r));
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
        assert_int_equal(curl_easy_perform(c), CURLE_OK);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
        assert_int_equal(st, 200);
        curl_easy_cleanup(c);
        http_server_stop(s);
    } else {
        print_message("no IPv6 loopback here: %s\n", err.msg);
    }
    /* one thread */
    o.bind = NULL;
    o.threads = 1;
    assert_int_equal(http_server_start(&s, &o, routes, NROUTES, NULL, &err), 0);
    g_port = http_server_port(s);
    assert_int_equal(request("/v1/echo/1", NULL, &r), 200);
    http_server_stop(s);
    http_server_stop(NULL);
    g_port = http_server_port(f->srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_echo_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_found_and_methods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unset_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cookies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_static, setup, teardown),
        cmocka_unit_test_setup_teardown(test_static_not_found_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_odd_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_access_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_graceful_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
