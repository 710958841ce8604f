/*
 * test_poster.c - real posters from TMDB (src/server/poster.h): the reply
 * parser and poster_path check, the image magic, the request (v3 key in
 * the query, v4 token as Bearer), the cache folder read at open, and
 * fetches against a small HTTP server on 127.0.0.1 in this process:
 * success (JPEG and PNG, cached atomically), no poster remembered, HTTP
 * and network failures backing off with one log line, the total time
 * limit, at most max_fetches at once (4, and 1 as `serve --threads 4`
 * has), many threads at once (no id fetched twice), and a damaged file
 * found while another thread replaces it.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#include "../../src/server/poster.h"

static const char jpeg[] = "\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01"
                           "\x00\x00\xFF\xD9";
static const char png[] = "\x89PNG\r\n\x1A\n\x00\x00\x00\rIHDR\x00\x00\x00\x01";

/* ---- the parser ---- */

static void test_parse(void **state)
{
    static const struct {
        const char *json;
        int rc;
        const char *path;
    } cases[] = {
        {"{\"poster_path\":\"/qJ2tW6WMUDux911r6m7haRef0WH.jpg\",\"id\":603}", 0,
         "/qJ2tW6WMUDux911r6m7haRef0WH.jpg"},
        {"{\"adult\":false,\"poster_path\":\"/a-b_C9.png\"}", 0, "/a-b_C9.png"},
        {"{\"poster_path\":null}", ERR_NOTFOUND, ""},
        {"{\"title\":\"no poster\"}", ERR_NOTFOUND, ""},
        {"{\"poster_path\":\"\"}", ERR_NOTFOUND, ""},
        {"{\"poster_path\": \"/p1.jpg\",", ERR_PARSE, ""},
        {"", ERR_PARSE, ""},
        {"[\"/p1.jpg\"]", ERR_PARSE, ""},
        {"\"/p1.jpg\"", ERR_PARSE, ""},
        {"{\"poster_path\":42}", ERR_PARSE, ""},
        {"{\"poster_path\":{\"x\":1}}", ERR_PARSE, ""},
        {"{\"poster_path\":\"/../../etc/passwd\"}", ERR_PARSE, ""},
        {"{\"poster_path\":\"/../p1.jpg\"}", ERR_PARSE, ""},
        {"{\"poster_path\":\"/a/b.jpg\"}", ERR_PARSE, ""},
        {"{\"poster_path\":\"p1.jpg\"}", ERR_PARSE, ""},
        {"{\"poster_path\":\"/p1.jpg?x=1\"}", ERR_PARSE, ""},
        {"{\"poster_path\":\"/p1\\u0000.jpg\"}", ERR_PARSE, ""},
        {"{\"poster_path\":\"/p%2e.jpg\"}", ERR_PARSE, ""},
        {"{\"poster_path\":\"/p1.jpg\",\"poster_path\":\"/p2.jpg\"}", ERR_PARSE, ""},
        {"{\"poster_path\":\"/\\u00e9t\\u00e9.jpg\"}", ERR_PARSE, ""},
        {"{\"poster_path\":\"https://evil.example/p.jpg\"}", ERR_PARSE, ""},
    };
    char out[POSTER_PATH_MAX];
    struct error err;
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(out, 'x', sizeof(out));
        err.msg[0] = '\0';
        int rc = poster_tmdb_parse(cases[i].json, strlen(cases[i].json), out, sizeof(out), &err);
        if (rc != cases[i].rc || strcmp(out, cases[i].path) != 0)
            fail_msg("case %zu (%s): rc %d path '%s' (%s)", i, cases[i].json, rc, out, err.msg);
        if (rc)
            assert_true(err.msg[0] != '\0');
    }
    /* a reply not NUL-terminated: only n bytes are read */
    assert_int_equal(poster_tmdb_parse("{\"poster_path\":\"/p.jpg\"}xxxx", 24, out, sizeof(out),
                                       NULL),
                     0);
    assert_string_equal(out, "/p.jpg");
    /* no room for the path */
    assert_int_equal(poster_tmdb_parse("{\"poster_path\":\"/p1.jpg\"}", 25, out, 4, &err),
                     ERR_USAGE);
}

static void test_path_safe(void **state)
{
    static const char *good[] = {"/a.j", "/p1.jpg", "/A-b_9.jpeg", "/x.PNG", "/a.12345"};
    static const char *bad[] = {
        "", "/", "/.jpg", "/a.", "a.jpg", "//a.jpg", "/a/b.jpg", "/../a.jpg", "/a..jpg",
        "/a.b.jpg", "/a.jpg/", "/a b.jpg", "/a.jp-g", "/a.123456", "/a\\b.jpg", "/a%2f.jpg",
        "/\xc3\xa9.jpg", "/a.jpg\n"};
    char lng[POSTER_PATH_MAX + 8];
    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (!poster_path_safe(good[i]))
            fail_msg("'%s' refused", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (poster_path_safe(bad[i]))
            fail_msg("'%s' taken", bad[i]);
    assert_false(poster_path_safe(NULL));
    lng[0] = '/';
    memset(lng + 1, 'a', sizeof(lng) - 1);
    memcpy(lng + POSTER_PATH_MAX - 5, ".jpg", 5); /* strlen POSTER_PATH_MAX - 1: fits */
    assert_true(poster_path_safe(lng));
    memcpy(lng + POSTER_PATH_MAX - 4, ".jpg", 5); /* one more: too long */
    assert_false(poster_path_safe(lng));
}

static void test_image_type(void **state)
{
    (void)state;
    assert_string_equal(poster_image_type(jpeg, sizeof(jpeg) - 1), "image/jpeg");
    assert_string_equal(poster_image_type(png, sizeof(png) - 1), "image/png");
    assert_null(poster_image_type(jpeg, 2));
    assert_null(poster_image_type(png, 7));
    assert_null(poster_image_type("<html>", 6));
    assert_null(poster_image_type("", 0));
    assert_null(poster_image_type("GIF89a....", 10));
}

static void test_request(void **state)
{
    char url[256], auth[256], big[1100];
    struct error err;
    (void)state;
    assert_int_equal(poster_tmdb_request("https://api.themoviedb.org/3", "abc123", 603, url,
                                         sizeof(url), auth, sizeof(auth), &err),
                     0);
    assert_string_equal(url, "https://api.themoviedb.org/3/movie/603?api_key=abc123");
    assert_string_equal(auth, "");
    assert_int_equal(poster_tmdb_request("http://h", "a&b=c#", 7, url, sizeof(url), auth,
                                         sizeof(auth), &err),
                     0);
    assert_string_equal(url, "http://h/movie/7?api_key=a%26b%3Dc%23");
    assert_true(poster_key_is_bearer("eyJhbGciOiJIUzI1NiJ9.e30.c2ln"));
    assert_false(poster_key_is_bearer("abc123"));
    assert_int_equal(poster_tmdb_request("http://h", "eyJhbGciOiJIUzI1NiJ9.e30.c2ln", 7, url,
                                         sizeof(url), auth, sizeof(auth), &err),
                     0);
    assert_string_equal(url, "http://h/movie/7");
    assert_string_equal(auth, "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln");
    assert_int_equal(poster_tmdb_request("http://h", "abc", 7, url, 10, auth, sizeof(auth), &err),
                     ERR_USAGE);
    memset(big, 'k', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(poster_tmdb_request("http://h", big, 7, url, sizeof(url), auth, sizeof(auth),
                                         &err),
                     ERR_USAGE);
}

/* ---- a small HTTP server: the fake TMDB ---- */

struct fake {
    int fd, port;
    pthread_t th;
    atomic_int stop, hold, requests, bearer, api_key;
    atomic_int all_ok;       /* every id has a poster: even ids a PNG, odd a JPEG */
    atomic_int per_id[64];   /* GET /movie/<id> for each id < 64 */
    pthread_t conn[256];
    int nconn;
};

struct conn_arg {
    struct fake *f;
    int fd;
};

static void reply(int fd, const char *status, const char *body, size_t n)
{
    char head[256];
    int h = snprintf(head, sizeof(head),
                     "HTTP/1.1 %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", status, n);
    /* MSG_NOSIGNAL: the client may have given up (the time-limit test) */
    if (send(fd, head, (size_t)h, MSG_NOSIGNAL) != h ||
        (n && send(fd, body, n, MSG_NOSIGNAL) != (ssize_t)n))
        return;
}

/* A 302 to location (a path on this server) */
static void redirect(int fd, const char *location)
{
    char head[512];
    int h = snprintf(head, sizeof(head),
                     "HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n",
                     location);
    if (send(fd, head, (size_t)h, MSG_NOSIGNAL) != h)
        return;
}

static void *conn_main(void *p)
{
    struct conn_arg *ca = p;
    struct fake *f = ca->f;
    char req[8192], path[512];
    size_t got = 0;
    int fd = ca->fd;
    long id = 0;

    free(ca);
    req[0] = '\0';
    while (got < sizeof(req) - 1 && !strstr(req, "\r\n\r\n")) {
        ssize_t r = read(fd, req + got, sizeof(req) - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        req[got] = '\0';
    }
    req[got] = '\0';
    atomic_fetch_add(&f->requests, 1);
    if (strstr(req, "Authorization: Bearer "))
        atomic_fetch_add(&f->bearer, 1);
    if (strstr(req, "api_key="))
        atomic_fetch_add(&f->api_key, 1);
    if (sscanf(req, "GET %511s", path) != 1)
        path[0] = '\0';
    while (atomic_load(&f->hold) && !atomic_load(&f->stop))
        usleep(5000);
    if (sscanf(path, "/movie/%ld", &id) == 1) {
        char body[128];
        if (id > 0 && id < 64)
            atomic_fetch_add(&f->per_id[id], 1);
        if (atomic_load(&f->all_ok))
            snprintf(body, sizeof(body), "{\"poster_path\":\"%s\"}", id % 2 ? "/a.jpg" : "/b.png");
        else if (id == 2)
            snprintf(body, sizeof(body), "{\"poster_path\":\"/b.png\"}");
        else if (id == 3)
            snprintf(body, sizeof(body), "{\"poster_path\":null}");
        else if (id == 6)
            snprintf(body, sizeof(body), "{\"poster_path\":\"/../a.jpg\"}");
        else if (id == 7)
            snprintf(body, sizeof(body), "{\"poster_path\":\"/page.jpg\"}");
        else if (id == 30) /* not JSON, and jansson's error quotes the escape */
            snprintf(body, sizeof(body), "{\x1b[2J\x1b]0;owned\x07}");
        else if (id == 32) /* an image that has moved */
            snprintf(body, sizeof(body), "{\"poster_path\":\"/moved.jpg\"}");
        else
            snprintf(body, sizeof(body), "{\"poster_path\":\"/a.jpg\"}");
        if (atomic_load(&f->all_ok))
            reply(fd, "200 OK", body, strlen(body));
        else if (id == 4)
            reply(fd, "500 Internal Server Error", "oops", 4);
        else if (id == 5)
            reply(fd, "401 Unauthorized", "{}", 2);
        else if (id == 8)
            reply(fd, "404 Not Found", "{}", 2);
        else if (id == 31) /* elsewhere: the key must not follow */
            redirect(fd, "/movie/33");
        else
            reply(fd, "200 OK", body, strlen(body));
    } else if (!strcmp(path, "/img/a.jpg")) {
        reply(fd, "200 OK", jpeg, sizeof(jpeg) - 1);
    } else if (!strcmp(path, "/img/b.png")) {
        reply(fd, "200 OK", png, sizeof(png) - 1);
    } else if (!strcmp(path, "/img/moved.jpg")) {
        redirect(fd, "/img/a.jpg");
    } else if (!strcmp(path, "/img/page.jpg")) {
        reply(fd, "200 OK", "<html></html>", 13);
    } else {
        reply(fd, "404 Not Found", "", 0);
    }
    close(fd);
    return NULL;
}

static void *fake_main(void *p)
{
    struct fake *f = p;
    while (!atomic_load(&f->stop)) {
        struct pollfd pf = {f->fd, POLLIN, 0};
        if (poll(&pf, 1, 20) <= 0)
            continue;
        int c = accept(f->fd, NULL, NULL);
        if (c < 0)
            continue;
        struct conn_arg *ca = malloc(sizeof(*ca));
        if (!ca || f->nconn >= 256) {
            free(ca);
            close(c);
            continue;
        }
        ca->f = f;
        ca->fd = c;
        if (pthread_create(&f->conn[f->nconn], NULL, conn_main, ca) == 0)
            f->nconn++;
        else {
            free(ca);
            close(c);
        }
    }
    return NULL;
}

/* A listening socket on 127.0.0.1:0; its port in *port. */
static int listen_any(int *port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static struct fake *fake_start(void)
{
    struct fake *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->fd = listen_any(&f->port);
    assert_int_equal(listen(f->fd, 64), 0);
    assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
    return f;
}

static void fake_stop(struct fake *f)
{
    atomic_store(&f->stop, 1);
    pthread_join(f->th, NULL);
    for (int i = 0; i < f->nconn; i++)
        pthread_join(f->conn[i], NULL);
    close(f->fd);
    free(f);
}

/* A port nothing listens on. */
static int closed_port(void)
{
    int port, fd = listen_any(&port);
    close(fd);
    return port;
}

/* ---- the log ---- */

struct logbuf {
    pthread_mutex_t mu;
    char text[8192];
    int lines;
};

static void log_line(void *ctx, const char *line)
{
    struct logbuf *l = ctx;
    size_t n;
    pthread_mutex_lock(&l->mu);
    n = strlen(l->text);
    snprintf(l->text + n, sizeof(l->text) - n, "%s\n", line);
    l->lines++;
    pthread_mutex_unlock(&l->mu);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static struct poster_cache *open_cache_n(const char *dir, const char *key, int port,
                                         struct logbuf *lb, int backoff_s, long total_ms,
                                         int max_fetches)
{
    struct poster_cache *pc = NULL;
    struct poster_opts o;
    struct error err = {0};
    char api[64], images[64];
    snprintf(api, sizeof(api), "http://127.0.0.1:%d", port);
    snprintf(images, sizeof(images), "http://127.0.0.1:%d/img/", port);
    poster_opts_default(&o);
    o.key = key;
    o.api = api;
    o.images = images;
    o.backoff_s = backoff_s;
    o.total_ms = total_ms;
    o.max_fetches = max_fetches;
    o.log = log_line;
    o.log_ctx = lb;
    if (poster_cache_open(&pc, dir, &o, &err))
        fail_msg("poster_cache_open: %s", err.msg);
    return pc;
}

static struct poster_cache *open_cache(const char *dir, const char *key, int port,
                                       struct logbuf *lb, int backoff_s, long total_ms)
{
    return open_cache_n(dir, key, port, lb, backoff_s, total_ms, 0);
}

static int file_equal(const char *path, const char *data, size_t n)
{
    char buf[256];
    FILE *f = fopen(path, "rb");
    size_t got;
    if (!f)
        return 0;
    got = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    return got == n && memcmp(buf, data, n) == 0;
}

/* ---- the cache ---- */

static void test_folder_without_key(void **state)
{
    char dir[4096], sub[4200], p[4300];
    struct poster_cache *pc;
    struct poster_image img;
    struct poster_stats st;
    struct error err = {0};
    struct logbuf lb = {PTHREAD_MUTEX_INITIALIZER, "", 0};
    (void)state;
    tu_tmpdir(dir);
    /* no folder, no key: nothing is made */
    snprintf(sub, sizeof(sub), "%s/posters", dir);
    pc = open_cache(sub, NULL, closed_port(), &lb, 60, 8000);
    assert_int_equal(access(sub, F_OK), -1);
    assert_int_equal(poster_cache_state(pc, 12), POSTER_NONE);
    assert_int_equal(poster_cache_get(pc, 12, &img, &err), ERR_NOTFOUND);
    assert_non_null(strstr(err.msg, "no TMDB key"));
    poster_cache_close(pc);

    mkdir(sub, 0755);
    tu_write(sub, "12.jpg", jpeg, sizeof(jpeg) - 1);
    tu_write(sub, "13.png", png, sizeof(png) - 1);
    tu_write(sub, "14.gif", "GIF89a", 6);
    tu_write(sub, "0.jpg", jpeg, sizeof(jpeg) - 1);
    tu_write(sub, "015.jpg", jpeg, sizeof(jpeg) - 1);
    tu_write(sub, "16.jpg.bak", jpeg, sizeof(jpeg) - 1);
    tu_write(sub, "17.png", jpeg, sizeof(jpeg) - 1); /* a JPEG named .png: refused when read */
    tu_write(sub, ".tmp-18-abcdef", jpeg, 3);
    pc = open_cache(sub, "", closed_port(), &lb, 60, 8000);
    snprintf(p, sizeof(p), "%s/.tmp-18-abcdef", sub);
    assert_int_equal(access(p, F_OK), -1); /* leftover removed */
    poster_cache_stats(pc, &st);
    assert_int_equal(st.cached, 3);
    assert_int_equal(st.has_key, 0);
    assert_int_equal(poster_cache_state(pc, 12), POSTER_CACHED);
    assert_int_equal(poster_cache_state(pc, 13), POSTER_CACHED);
    assert_int_equal(poster_cache_state(pc, 14), POSTER_NONE);
    assert_int_equal(poster_cache_state(pc, 15), POSTER_NONE);
    assert_int_equal(poster_cache_state(pc, 0), POSTER_NONE);
    assert_int_equal(poster_cache_state(pc, -3), POSTER_NONE);
    assert_int_equal(poster_cache_get(pc, 12, &img, &err), 0);
    assert_string_equal(img.type, "image/jpeg");
    assert_int_equal(img.len, sizeof(jpeg) - 1);
    assert_memory_equal(img.data, jpeg, img.len);
    poster_image_free(&img);
    assert_int_equal(poster_cache_get(pc, 13, &img, &err), 0);
    assert_string_equal(img.type, "image/png");
    poster_image_free(&img);
    /* a file that cannot be opened now (no descriptor left): ERR_IO, and
     * it stays cached, for it may be fine */
    {
        struct rlimit was, low;
        int fd = open("/dev/null", O_RDONLY);
        assert_true(fd >= 0);
        close(fd); /* the lowest free descriptor: the next open() would get it */
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &was), 0);
        low = was;
        low.rlim_cur = (rlim_t)fd;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
        err.msg[0] = '\0';
        int rc = poster_cache_get(pc, 13, &img, &err);
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &was), 0);
        assert_int_equal(rc, ERR_IO);
        assert_non_null(strstr(err.msg, "13.png"));
        assert_null(img.data);
        assert_int_equal(poster_cache_state(pc, 13), POSTER_CACHED);
        assert_int_equal(poster_cache_get(pc, 13, &img, &err), 0);
        poster_image_free(&img);
    }
    assert_int_equal(poster_cache_get(pc, 17, &img, &err), ERR_NOTFOUND);
    assert_null(img.data);
    assert_int_equal(poster_cache_state(pc, 17), POSTER_NONE); /* forgotten */
    /* a file deleted under the server: forgotten, not an error */
    snprintf(p, sizeof(p), "%s/12.jpg", sub);
    unlink(p);
    assert_int_equal(poster_cache_get(pc, 12, &img, &err), ERR_NOTFOUND);
    assert_int_equal(poster_cache_state(pc, 12), POSTER_NONE);
    poster_cache_stats(pc, &st);
    assert_int_equal(st.cached, 1);
    assert_int_equal(st.fetches, 0);
    assert_int_equal(lb.lines, 0);
    poster_cache_close(pc);
    tu_rmtree(dir);
}

static void test_bad_options(void **state)
{
    struct poster_cache *pc = NULL;
    struct poster_opts o;
    struct error err = {0};
    (void)state;
    poster_opts_default(&o);
    o.key = "has space";
    assert_int_equal(poster_cache_open(&pc, "/nonexistent/x", &o, &err), ERR_USAGE);
    assert_null(pc);
    o.key = "line\nbreak";
    assert_int_equal(poster_cache_open(&pc, "/nonexistent/x", &o, &err), ERR_USAGE);
    o.key = "abc";
    o.api = "ftp://x";
    assert_int_equal(poster_cache_open(&pc, "/nonexistent/x", &o, &err), ERR_USAGE);
    o.api = NULL;
    o.images = "file:///etc";
    assert_int_equal(poster_cache_open(&pc, "/nonexistent/x", &o, &err), ERR_USAGE);

    /* addresses too long for any request: refused at open, with or without
     * a key, rather than every fetch failing */
    char lng[3000], dir[4096];
    tu_tmpdir(dir);
    memcpy(lng, "http://", 7);
    memset(lng + 7, 'a', sizeof(lng) - 8);
    lng[sizeof(lng) - 1] = '\0';
    o.images = NULL;
    o.api = lng;
    err.msg[0] = '\0';
    assert_int_equal(poster_cache_open(&pc, dir, &o, &err), ERR_USAGE);
    assert_non_null(strstr(err.msg, "TMDB API address is too long"));
    assert_null(pc);
    o.key = NULL;
    assert_int_equal(poster_cache_open(&pc, dir, &o, &err), ERR_USAGE);
    o.key = "abc";
    o.api = NULL;
    o.images = lng;
    assert_int_equal(poster_cache_open(&pc, dir, &o, &err), ERR_USAGE);
    assert_non_null(strstr(err.msg, "TMDB image address is too long"));
    /* a v3 key that fits KEY_MAX but not a URL once escaped */
    memset(lng, '!', 1000);
    lng[1000] = '\0';
    o.key = lng;
    o.images = NULL;
    assert_int_equal(poster_cache_open(&pc, dir, &o, &err), ERR_USAGE);
    assert_non_null(strstr(err.msg, "TMDB key is too long"));
    assert_null(strstr(err.msg, "!!!")); /* the key stays out of the message */
    /* long ones that fit: taken */
    o.key = "abc";
    lng[0] = '\0';
    snprintf(lng, sizeof(lng), "http://%01900d", 0);
    o.api = lng;
    o.images = lng;
    assert_int_equal(poster_cache_open(&pc, dir, &o, &err), 0);
    poster_cache_close(pc);
    tu_rmtree(dir);
}

static void test_fetch(void **state)
{
    char dir[4096], p[4300];
    struct fake *f = fake_start();
    struct logbuf lb = {PTHREAD_MUTEX_INITIALIZER, "", 0};
    struct poster_cache *pc;
    struct poster_image img;
    struct poster_stats st;
    struct error err = {0};
    (void)state;
    tu_tmpdir(dir);
    snprintf(p, sizeof(p), "%s/posters", dir);
    pc = open_cache(p, "v3key", f->port, &lb, 60, 8000);
    assert_int_equal(access(p, F_OK), 0); /* made, with a key */
    poster_cache_close(pc);
    tu_write(p, "2.jpg", "damaged", 7); /* TMDB has a PNG for 2 */
    pc = open_cache(p, "v3key", f->port, &lb, 60, 8000);

    assert_int_equal(poster_cache_state(pc, 1), POSTER_MAYBE);
    assert_int_equal(poster_cache_get(pc, 1, &img, &err), 0);
    assert_string_equal(img.type, "image/jpeg");
    assert_memory_equal(img.data, jpeg, sizeof(jpeg) - 1);
    poster_image_free(&img);
    assert_int_equal(poster_cache_state(pc, 1), POSTER_CACHED);
    snprintf(p, sizeof(p), "%s/posters/1.jpg", dir);
    assert_true(file_equal(p, jpeg, sizeof(jpeg) - 1));
    assert_int_equal(atomic_load(&f->api_key), 1);
    assert_int_equal(atomic_load(&f->bearer), 0);
    assert_int_equal(poster_cache_get(pc, 1, &img, &err), 0); /* from the folder */
    poster_image_free(&img);
    assert_int_equal(atomic_load(&f->requests), 2);

    assert_int_equal(poster_cache_get(pc, 2, &img, &err), 0);
    assert_string_equal(img.type, "image/png");
    poster_image_free(&img);
    snprintf(p, sizeof(p), "%s/posters/2.png", dir);
    assert_true(file_equal(p, png, sizeof(png) - 1));
    snprintf(p, sizeof(p), "%s/posters/2.jpg", dir);
    assert_int_equal(access(p, F_OK), -1); /* the damaged one, replaced */

    /* no poster, an unsafe path, not an image, unknown: remembered */
    for (int64_t id = 3; id <= 8; id++) {
        if (id == 4 || id == 5)
            continue;
        int before = atomic_load(&f->requests);
        assert_int_equal(poster_cache_get(pc, id, &img, &err), ERR_NOTFOUND);
        assert_null(img.data);
        assert_int_equal(poster_cache_state(pc, id), POSTER_NONE);
        assert_int_equal(poster_cache_get(pc, id, &img, &err), ERR_NOTFOUND);
        assert_int_equal(atomic_load(&f->requests), before + (id == 6 || id == 3 || id == 8 ? 1 : 2));
    }
    assert_non_null(strstr(lb.text, "not a plain '/name.ext'"));
    assert_non_null(strstr(lb.text, "not a JPEG or PNG"));
    assert_int_equal(lb.lines, 2);
    poster_cache_stats(pc, &st);
    assert_int_equal(st.cached, 2);
    assert_int_equal(st.missing, 4);
    assert_int_equal(st.fetched, 2);
    assert_int_equal(st.failures, 0);
    /* a reply with control characters: quoted in the log as '?' */
    assert_int_equal(poster_cache_get(pc, 30, &img, &err), ERR_NOTFOUND);
    assert_int_equal(lb.lines, 3);
    assert_non_null(strstr(lb.text, "TMDB id 30: TMDB's reply is not JSON"));
    assert_non_null(strstr(lb.text, "near '?'"));
    for (const char *c = lb.text; *c; c++)
        if (((unsigned char)*c < 0x20 && *c != '\n') || *c == 0x7F)
            fail_msg("a control character (0x%02x) in the log: %s", (unsigned char)*c, lb.text);
    /* an image request follows a redirect (it carries no key) */
    assert_int_equal(poster_cache_get(pc, 32, &img, &err), 0);
    assert_string_equal(img.type, "image/jpeg");
    poster_image_free(&img);
    poster_cache_close(pc);

    /* a restart reads the folder */
    snprintf(p, sizeof(p), "%s/posters", dir);
    pc = open_cache(p, NULL, f->port, &lb, 60, 8000);
    assert_int_equal(poster_cache_state(pc, 1), POSTER_CACHED);
    assert_int_equal(poster_cache_state(pc, 2), POSTER_CACHED);
    assert_int_equal(poster_cache_state(pc, 3), POSTER_NONE);
    assert_int_equal(poster_cache_get(pc, 2, &img, &err), 0); /* the PNG, the only file */
    assert_string_equal(img.type, "image/png");
    poster_image_free(&img);
    poster_cache_close(pc);

    /* a v4 token goes as Bearer */
    pc = open_cache(p, "eyJhbGciOiJIUzI1NiJ9.e30.c2ln", f->port, &lb, 60, 8000);
    assert_int_equal(poster_cache_get(pc, 9, &img, &err), 0);
    poster_image_free(&img);
    assert_int_equal(atomic_load(&f->bearer), 1);
    assert_int_equal(atomic_load(&f->api_key), 8);
    poster_cache_close(pc);
    fake_stop(f);
    tu_rmtree(dir);
}

static void test_backoff(void **state)
{
    char dir[4096];
    struct fake *f = fake_start();
    struct logbuf lb = {PTHREAD_MUTEX_INITIALIZER, "", 0};
    struct poster_cache *pc;
    struct poster_image img;
    struct poster_stats st;
    struct error err = {0};
    double t0;
    (void)state;
    tu_tmpdir(dir);
/* the key (distinctive, so that a leak shows) never reaches the log or a
 * client's message */
#define KEY "Zq7xLeakCanary93"
#define NO_KEY()                                                                                   \
    do {                                                                                           \
        assert_null(strstr(lb.text, KEY));                                                         \
        assert_null(strstr(lb.text, "api_key"));                                                   \
        assert_null(strstr(err.msg, KEY));                                                         \
    } while (0)

    /* unreachable: at once, one line, no fetch during the back-off */
    pc = open_cache(dir, KEY, closed_port(), &lb, 1, 8000);
    t0 = now_s();
    assert_int_equal(poster_cache_get(pc, 1, &img, &err), ERR_NOTFOUND);
    assert_true(now_s() - t0 < 2);
    assert_non_null(strstr(lb.text, "posters: TMDB unreachable ("));
    assert_non_null(strstr(lb.text, "); trying again in 1 s"));
    NO_KEY();
    assert_int_equal(poster_cache_get(pc, 2, &img, &err), ERR_NOTFOUND);
    assert_non_null(strstr(err.msg, "trying again"));
    assert_int_equal(poster_cache_get(pc, 1, &img, &err), ERR_NOTFOUND);
    assert_int_equal(poster_cache_state(pc, 1), POSTER_MAYBE); /* not known missing */
    poster_cache_stats(pc, &st);
    assert_int_equal(st.fetches, 1);
    assert_int_equal(st.failures, 1);
    assert_int_equal(lb.lines, 1);
    usleep(1100 * 1000);
    assert_int_equal(poster_cache_get(pc, 1, &img, &err), ERR_NOTFOUND);
    poster_cache_stats(pc, &st);
    assert_int_equal(st.fetches, 2);
    assert_int_equal(lb.lines, 2);
    poster_cache_close(pc);

    /* HTTP failures back off too; a 401 hints at the key */
    lb.text[0] = '\0';
    lb.lines = 0;
    pc = open_cache(dir, KEY, f->port, &lb, 60, 8000);
    assert_int_equal(poster_cache_get(pc, 5, &img, &err), ERR_NOTFOUND);
    NO_KEY();
    assert_non_null(strstr(lb.text, "TMDB answered HTTP 401 (is the key right?); trying again in 60 s"));
    assert_int_equal(poster_cache_get(pc, 1, &img, &err), ERR_NOTFOUND);
    assert_int_equal(poster_cache_state(pc, 5), POSTER_MAYBE);
    poster_cache_close(pc);
    pc = open_cache(dir, KEY, f->port, &lb, 60, 8000);
    assert_int_equal(poster_cache_get(pc, 4, &img, &err), ERR_NOTFOUND);
    NO_KEY();
    assert_non_null(strstr(lb.text, "TMDB answered HTTP 500; trying again"));
    poster_cache_close(pc);

    /* a server that does not answer: the total time limit */
    lb.text[0] = '\0';
    atomic_store(&f->hold, 1);
    pc = open_cache(dir, KEY, f->port, &lb, 60, 400);
    t0 = now_s();
    assert_int_equal(poster_cache_get(pc, 1, &img, &err), ERR_NOTFOUND);
    NO_KEY();
    assert_true(now_s() - t0 < 1.5);
    assert_non_null(strstr(lb.text, "TMDB unreachable"));
    atomic_store(&f->hold, 0);
    poster_cache_close(pc);

    /* a redirect of the API request is not followed: the key would go along */
    lb.text[0] = '\0';
    pc = open_cache(dir, KEY, f->port, &lb, 60, 8000);
    assert_int_equal(poster_cache_get(pc, 31, &img, &err), ERR_NOTFOUND);
    NO_KEY();
    assert_non_null(strstr(lb.text, "TMDB answered HTTP 302 (a redirect: not followed"));
    assert_int_equal(atomic_load(&f->per_id[33]), 0); /* not followed */
    assert_int_equal(poster_cache_state(pc, 31), POSTER_MAYBE);
    poster_cache_close(pc);
    /* the v3 key did go to TMDB, so the checks above could have failed */
    assert_true(atomic_load(&f->api_key) >= 4);
    fake_stop(f);
    tu_rmtree(dir);
#undef NO_KEY
#undef KEY
}

struct getter {
    struct poster_cache *pc;
    int64_t id;
    int rc;
};

static void *get_main(void *p)
{
    struct getter *g = p;
    struct poster_image img;
    g->rc = poster_cache_get(g->pc, g->id, &img, NULL);
    poster_image_free(&img);
    return NULL;
}

/* n fetches held by a fake that does not answer: one more answers at once */
static void at_most(int n)
{
    char dir[4096];
    struct fake *f = fake_start();
    struct logbuf lb = {PTHREAD_MUTEX_INITIALIZER, "", 0};
    struct poster_cache *pc;
    struct poster_image img;
    struct poster_stats st;
    struct error err = {0};
    struct getter g[4];
    pthread_t th[4];
    double t0;
    assert_true(n >= 1 && n <= 4);
    tu_tmpdir(dir);
    pc = open_cache_n(dir, "k", f->port, &lb, 60, 8000, n == 4 ? 0 : n); /* 0: the default, 4 */
    poster_cache_stats(pc, &st);
    assert_int_equal(st.max_fetches, n);
    atomic_store(&f->hold, 1);
    for (int i = 0; i < n; i++) {
        g[i] = (struct getter){pc, 10 + i, -1};
        assert_int_equal(pthread_create(&th[i], NULL, get_main, &g[i]), 0);
    }
    t0 = now_s();
    do {
        poster_cache_stats(pc, &st);
        usleep(2000);
    } while (st.fetching < n && now_s() - t0 < 5);
    assert_int_equal(st.fetching, n);
    /* one more answers at once, without waiting for a slot */
    t0 = now_s();
    assert_int_equal(poster_cache_get(pc, 20, &img, &err), ERR_NOTFOUND);
    assert_non_null(strstr(err.msg, "too many"));
    assert_int_equal(poster_cache_get(pc, 10, &img, &err), ERR_NOTFOUND);
    assert_non_null(strstr(err.msg, "being fetched"));
    assert_true(now_s() - t0 < 0.5);
    assert_int_equal(poster_cache_state(pc, 20), POSTER_MAYBE);
    atomic_store(&f->hold, 0);
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(g[i].rc, 0);
        assert_int_equal(poster_cache_state(pc, 10 + i), POSTER_CACHED);
    }
    poster_cache_stats(pc, &st);
    assert_int_equal(st.fetches, n);
    assert_int_equal(st.fetching, 0);
    poster_cache_close(pc);
    fake_stop(f);
    tu_rmtree(dir);
}

static void test_at_most_four(void **state)
{
    (void)state;
    at_most(4);
}

/* `serve --threads 4` fetches one at a time: three threads stay free */
static void test_at_most_one(void **state)
{
    (void)state;
    at_most(1);
}

static void test_max_fetches(void **state)
{
    static const int threads[] = {1, 2, 3, 4, 7, 8, 12, 16, 17, 64, 256};
    static const int want[] = {1, 1, 1, 1, 1, 2, 3, 4, 4, 4, 4};
    (void)state;
    for (size_t i = 0; i < sizeof(threads) / sizeof(threads[0]); i++)
        if (poster_max_fetches(threads[i]) != want[i])
            fail_msg("%d threads: %d fetches, wanted %d", threads[i],
                     poster_max_fetches(threads[i]), want[i]);
}

/* Many threads reading while others fetch and record, against a TMDB
 * that has a poster for every id: ids 1 to 10 start as damaged files (read,
 * forgotten, fetched again), 11 to 15 as good ones, the rest not cached. */
#define HAMMER_IDS 40

struct hammer_arg {
    struct poster_cache *pc;
    int seed;
    atomic_int *got; /* (HAMMER_IDS + 1,) 1 once a get answered 0 for the id */
};

static void *hammer(void *p)
{
    struct hammer_arg *h = p;
    struct poster_image img;
    struct error err;
    char mine[HAMMER_IDS + 1] = {0};
    unsigned x = (unsigned)h->seed * 2654435761u + 1;
    for (int i = 0; i < 300; i++) {
        x = x * 1103515245u + 12345u;
        int64_t id = 1 + (int64_t)(x >> 16) % HAMMER_IDS;
        enum poster_state s = poster_cache_state(h->pc, id);
        if (s == POSTER_NONE)
            return (void *)"an id TMDB has a poster for is POSTER_NONE";
        if (mine[id] && s != POSTER_CACHED)
            return (void *)"a poster served before is no longer POSTER_CACHED";
        if (i % 3)
            continue;
        err.msg[0] = '\0';
        int rc = poster_cache_get(h->pc, id, &img, &err);
        if (rc == 0) {
            if (!img.type || !img.len ||
                strcmp(img.type, id > 10 && id <= 15 ? "image/jpeg"
                                 : id % 2           ? "image/jpeg"
                                                    : "image/png"))
                return (void *)"a poster of the wrong type";
            poster_image_free(&img);
            mine[id] = 1;
            atomic_store(&h->got[id], 1);
        } else if (rc != ERR_NOTFOUND || !strstr(err.msg, "try again")) {
            return (void *)"a get failed other than 'try again'";
        }
    }
    return NULL;
}

static void test_threads(void **state)
{
    char dir[4096], name[32], p[4200];
    struct fake *f = fake_start();
    struct logbuf lb = {PTHREAD_MUTEX_INITIALIZER, "", 0};
    struct poster_cache *pc;
    struct poster_stats st;
    struct hammer_arg ha[6];
    atomic_int got[HAMMER_IDS + 1];
    pthread_t th[6];
    long cached = 0;
    void *r;
    (void)state;
    tu_tmpdir(dir);
    for (int id = 1; id <= 15; id++) {
        snprintf(name, sizeof(name), "%d.jpg", id);
        if (id <= 10)
            tu_write(dir, name, "not an image", 12);
        else
            tu_write(dir, name, jpeg, sizeof(jpeg) - 1);
    }
    for (int id = 0; id <= HAMMER_IDS; id++)
        atomic_init(&got[id], 0);
    atomic_store(&f->all_ok, 1);
    pc = open_cache(dir, "k", f->port, &lb, 60, 8000);
    for (int i = 0; i < 6; i++) {
        ha[i] = (struct hammer_arg){pc, i, got};
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &ha[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        assert_int_equal(pthread_join(th[i], &r), 0);
        if (r)
            fail_msg("thread %d: %s", i, (const char *)r);
    }
    poster_cache_stats(pc, &st);
    assert_int_equal(st.fetching, 0);
    assert_int_equal(st.failures, 0);
    assert_int_equal(st.missing, 0);
    assert_int_equal(st.fetches, st.fetched);
    for (int id = 1; id <= HAMMER_IDS; id++) {
        enum poster_state s = poster_cache_state(pc, id);
        if (atomic_load(&got[id]) && s != POSTER_CACHED)
            fail_msg("TMDB id %d was served but is not POSTER_CACHED (%d)", id, (int)s);
        if (atomic_load(&f->per_id[id]) > 1) /* another thread fetched it meanwhile */
            fail_msg("TMDB id %d was fetched %d times", id, atomic_load(&f->per_id[id]));
        if (id > 10 && id <= 15 && atomic_load(&f->per_id[id]))
            fail_msg("TMDB id %d was fetched though cached", id);
        if (id <= 10 && id % 2 == 0 && s == POSTER_CACHED) { /* a PNG replaced the .jpg */
            snprintf(name, sizeof(name), "/%d.jpg", id);
            snprintf(p, sizeof(p), "%s%s", dir, name);
            if (access(p, F_OK) == 0)
                fail_msg("the damaged %d.jpg is still there beside %d.png", id, id);
        }
        cached += s == POSTER_CACHED;
    }
    assert_int_equal(st.cached, cached);
    assert_int_equal(atomic_load(&f->requests), 2 * st.fetches);
    assert_true(st.fetches >= 5); /* the test did fetch, concurrently with the rest */
    assert_int_equal(lb.lines, 0);
    poster_cache_close(pc);
    fake_stop(f);
    tu_rmtree(dir);
}

/* A cached file found damaged by one thread while another replaces it
 * with a fresh poster: the first must neither forget the fresh poster nor
 * fetch it again. The damaged file is a FIFO, whose open() holds the
 * reader until the test opens the other end. */
struct racer {
    struct poster_cache *pc;
    int64_t id;
    atomic_long tid;
    int rc;
};

static void *race_main(void *p)
{
    struct racer *r = p;
    struct poster_image img;
    atomic_store(&r->tid, (long)syscall(SYS_gettid));
    r->rc = poster_cache_get(r->pc, r->id, &img, NULL);
    poster_image_free(&img);
    return NULL;
}

/* 1 when thread tid of this process sleeps (its state in /proc is 'S') */
static int sleeping(long tid)
{
    char p[64], buf[512], *e;
    FILE *f;
    size_t n;
    snprintf(p, sizeof(p), "/proc/self/task/%ld/stat", tid);
    if (!(f = fopen(p, "r")))
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    e = strrchr(buf, ')'); /* after "tid (name)" */
    return e && e[1] == ' ' && e[2] == 'S';
}

static void test_stale_read(void **state)
{
    char dir[4096], p[4300], q[4300];
    struct fake *f = fake_start();
    struct logbuf lb = {PTHREAD_MUTEX_INITIALIZER, "", 0};
    struct poster_cache *pc;
    struct poster_image img;
    struct poster_stats st;
    struct error err = {0};
    struct racer a;
    pthread_t th;
    double t0;
    int fd;
    (void)state;
    tu_tmpdir(dir);
    atomic_store(&f->all_ok, 1);
    snprintf(p, sizeof(p), "%s/7.jpg", dir);
    snprintf(q, sizeof(q), "%s/fifo", dir);
    assert_int_equal(mkfifo(p, 0644), 0);
    pc = open_cache(dir, "k", f->port, &lb, 60, 8000);
    assert_int_equal(poster_cache_state(pc, 7), POSTER_CACHED);

    /* A: the map says 7.jpg; its open() waits */
    a.pc = pc;
    a.id = 7;
    a.rc = -1;
    atomic_init(&a.tid, 0);
    assert_int_equal(pthread_create(&th, NULL, race_main, &a), 0);
    t0 = now_s();
    while (!(atomic_load(&a.tid) && sleeping(atomic_load(&a.tid))) && now_s() - t0 < 5)
        usleep(2000);
    usleep(20000);
    assert_true(sleeping(atomic_load(&a.tid)));
    /* B (this thread): the file is gone, so it is forgotten, fetched, cached */
    assert_int_equal(rename(p, q), 0);
    assert_int_equal(poster_cache_get(pc, 7, &img, &err), 0);
    assert_string_equal(img.type, "image/jpeg");
    poster_image_free(&img);
    assert_int_equal(atomic_load(&f->per_id[7]), 1);
    /* A goes on: what it opened is no poster, but the entry is B's now */
    fd = open(q, O_WRONLY | O_NONBLOCK);
    assert_true(fd >= 0); /* A is the reader */
    close(fd);
    pthread_join(th, NULL);
    assert_int_equal(a.rc, 0); /* B's poster */
    assert_int_equal(poster_cache_state(pc, 7), POSTER_CACHED);
    assert_int_equal(atomic_load(&f->per_id[7]), 1); /* not fetched again */
    poster_cache_stats(pc, &st);
    assert_int_equal(st.fetches, 1);
    assert_int_equal(st.fetching, 0);
    assert_true(file_equal(p, jpeg, sizeof(jpeg) - 1));
    poster_cache_close(pc);
    fake_stop(f);
    tu_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_path_safe),
        cmocka_unit_test(test_image_type),
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_folder_without_key),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_fetch),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_max_fetches),
        cmocka_unit_test(test_at_most_four),
        cmocka_unit_test(test_at_most_one),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_stale_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
