/*
 * cmd_serve.c - `movierec serve [--port 8080] [--bind 127.0.0.1]
 * [--threads N]`: the HTTP JSON API (docs/API.md) and the web pages over
 * the home folder's store and newest models (src/server/app.h).
 *
 * A TMDB key for real posters (src/server/poster.h) comes from the
 * environment (MOVIEREC_TMDB_KEY, removed from it and wiped once read) or
 * a file (--tmdb-key-file), never from the command line, which any user of
 * the machine can read with ps.
 *
 * Signals are taken synchronously: every thread starts with them blocked
 * and this thread waits in sigwait(). SIGHUP asks the reloader to look for
 * new models now and forgets the cached sessions (so one ended in the
 * store, as by `user passwd`, stops at once); SIGINT and SIGTERM stop
 * accepting, let requests in flight finish, close the store and exit 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../nn/nn.h"
#include "../server/app.h"
#include "cli.h"

static const char usage[] =
    "movierec serve [--port N] [--bind ADDR] [--threads N] [--reload-interval S] "
    "[--access-log FILE|-] [--web DIR] [--login-attempts N] [--rec-cache S] "
    "[--tmdb-key-file FILE] [--tmdb-api URL] [--tmdb-images URL]";

static void help(void)
{
    printf("usage: %s\n\n"
           "Serves the JSON API (docs/API.md) and the web pages over the home folder's\n"
           "store and newest models. New model versions under models/ are picked up\n"
           "without a restart (polled, and at once on SIGHUP; SIGHUP also makes sessions\n"
           "ended by `movierec user passwd` stop at once). SIGINT or SIGTERM stops it\n"
           "cleanly.\n\n"
           "options:\n"
           "  --port N             TCP port (default 8080; 0: any free one)\n"
           "  --bind ADDR          address to listen on (default 127.0.0.1)\n"
           "  --threads N          request threads (default 8); a quarter of them (1 to 4)\n"
           "                       may fetch posters from TMDB at once\n"
           "  --reload-interval S  look for new models every S seconds (default 5; 0: only\n"
           "                       on SIGHUP)\n"
           "  --access-log FILE    one line per request (default <home>/logs/access.log;\n"
           "                       '-' for standard output)\n"
           "  --web DIR            the pages to serve (default: the web/ folder beside the\n"
           "                       build)\n"
           "  --login-attempts N   login and register attempts per client address per 15\n"
           "                       minutes (default 30; failed logins per name: 10)\n"
           "  --rec-cache S        reuse a user's list for up to S seconds while neither\n"
           "                       they nor the models change (default 300; 0: off)\n"
           "  --tmdb-key-file FILE real posters from TMDB with the key in FILE (default:\n"
           "                       the environment variable MOVIEREC_TMDB_KEY; a v4 token\n"
           "                       \"eyJ...\" or a v3 key); without a key only posters\n"
           "                       already in <home>/posters/ are served\n"
           "  --tmdb-api URL       TMDB's API (default %s)\n"
           "  --tmdb-images URL    TMDB's posters (default %s)\n",
           usage, POSTER_API_DEFAULT, POSTER_IMAGES_DEFAULT);
}

/* The key in path, without surrounding white space, into out (cap
 * bytes): 0, or 1 with the message printed. */
static int read_key_file(const char *path, char *out, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t n = 0, b = 0;
    ssize_t r;
    if (fd < 0)
        return cli_fail("cannot open the TMDB key file '%s': %s", path, strerror(errno));
    while (n + 1 < cap && (r = read(fd, out + n, cap - 1 - n)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            return cli_fail("cannot read the TMDB key file '%s': %s", path, strerror(e));
        }
        n += (size_t)r;
    }
    close(fd);
    if (n + 1 >= cap)
        return cli_fail("the TMDB key file '%s' is too large for a key", path);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' ' ||
                     out[n - 1] == '\t'))
        n--;
    while (b < n && (out[b] == ' ' || out[b] == '\t' || out[b] == '\n' || out[b] == '\r'))
        b++;
    memmove(out, out + b, n - b);
    out[n - b] = '\0';
    if (!out[0])
        return cli_fail("the TMDB key file '%s' is empty", path);
    return 0;
}

/* web/ next to the binary's build folder (build/movierec -> ../web) */
static void default_web(char *out, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    out[0] = 0;
    if (n <= 0)
        return;
    exe[n] = 0;
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(exe, '/');
        if (!slash)
            return;
        *slash = 0;
    }
    snprintf(out, cap, "%s/web", exe);
    if (access(out, R_OK) != 0)
        out[0] = 0;
}

int cmd_serve(struct cli *c, int argc, char **argv)
{
    int64_t port = 8080, threads = 8, reload = 5, attempts = 30, rec_cache = 300;
    const char *bind = "127.0.0.1", *log_path = NULL, *web = NULL;
    const char *key_file = NULL, *tmdb_api = NULL, *tmdb_images = NULL, *key = NULL;
    char *env_key;
    char web_buf[PATH_MAX], logp[4200], key_buf[2048];
    struct app_opts ao;
    struct app *a = NULL;
    struct http_server *srv = NULL;
    struct http_server_opts ho;
    struct error err = {0};
    FILE *alog = NULL;
    sigset_t set;
    int sig, open_rc, rc = 1;

    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            help();
            return 0;
        } else if (!strcmp(argv[i], "--port")) {
            if (i + 1 >= argc || cli_parse_count(argv[++i], &port) || port > 65535)
                return cli_usage_fail(usage, "--port takes a number from 0 to 65535");
        } else if (!strcmp(argv[i], "--bind")) {
            if (i + 1 >= argc || !argv[i + 1][0])
                return cli_usage_fail(usage, "--bind takes an address like 127.0.0.1");
            bind = argv[++i];
        } else if (!strcmp(argv[i], "--threads")) {
            if (i + 1 >= argc || cli_parse_count(argv[++i], &threads) || threads < 1 ||
                threads > 256)
                return cli_usage_fail(usage, "--threads takes a number from 1 to 256");
        } else if (!strcmp(argv[i], "--reload-interval")) {
            if (i + 1 >= argc || cli_parse_count(argv[++i], &reload) || reload > 86400)
                return cli_usage_fail(usage, "--reload-interval takes seconds (0 to 86400)");
        } else if (!strcmp(argv[i], "--access-log")) {
            if (i + 1 >= argc || !argv[i + 1][0])
                return cli_usage_fail(usage, "--access-log takes a file name or '-'");
            log_path = argv[++i];
        } else if (!strcmp(argv[i], "--login-attempts")) {
            if (i + 1 >= argc || cli_parse_count(argv[++i], &attempts) || attempts < 1 ||
                attempts > 1000000000)
                return cli_usage_fail(usage, "--login-attempts takes a positive number");
        } else if (!strcmp(argv[i], "--rec-cache")) {
            if (i + 1 >= argc || cli_parse_count(argv[++i], &rec_cache) || rec_cache > 86400)
                return cli_usage_fail(usage, "--rec-cache takes seconds (0 to 86400)");
        } else if (!strcmp(argv[i], "--tmdb-key-file")) {
            if (i + 1 >= argc || !argv[i + 1][0])
                return cli_usage_fail(usage, "--tmdb-key-file takes a file name");
            key_file = argv[++i];
        } else if (!strcmp(argv[i], "--tmdb-api") || !strcmp(argv[i], "--tmdb-images")) {
            const char *opt = argv[i];
            if (i + 1 >= argc ||
                (strncmp(argv[i + 1], "http://", 7) && strncmp(argv[i + 1], "https://", 8)))
                return cli_usage_fail(usage, "%s takes an http:// or https:// address", opt);
            if (!strcmp(opt, "--tmdb-api"))
                tmdb_api = argv[++i];
            else
                tmdb_images = argv[++i];
        } else if (!strncmp(argv[i], "--tmdb-key", 10)) {
            return cli_usage_fail(usage,
                                  "a key on the command line shows in 'ps'; put it in "
                                  "MOVIEREC_TMDB_KEY or a file for --tmdb-key-file");
        } else if (!strcmp(argv[i], "--web")) {
            if (i + 1 >= argc || !argv[i + 1][0])
                return cli_usage_fail(usage, "--web takes a folder");
            web = argv[++i];
        } else {
            return cli_usage_fail(usage, "unknown argument '%s'", argv[i]);
        }
    }
    if (web && access(web, R_OK) != 0)
        return cli_fail("cannot read the web folder '%s': %s", web, strerror(errno));
    if (!web) {
        default_web(web_buf, sizeof(web_buf));
        web = web_buf[0] ? web_buf : NULL;
    }
    /* the key leaves the environment: no child inherits it, and its bytes
     * are wiped from /proc/<pid>/environ too */
    key_buf[0] = '\0';
    if ((env_key = getenv("MOVIEREC_TMDB_KEY"))) {
        size_t n = strlen(env_key);
        int fits = n < sizeof(key_buf);
        if (!key_file && fits)
            memcpy(key_buf, env_key, n + 1);
        explicit_bzero(env_key, n);
        unsetenv("MOVIEREC_TMDB_KEY");
        if (!key_file && !fits)
            return cli_fail("MOVIEREC_TMDB_KEY is too long for a key");
    }
    if (key_file && read_key_file(key_file, key_buf, sizeof(key_buf)))
        return 1;
    key = key_buf[0] ? key_buf : NULL;

    /* every thread made from here on inherits the blocked signals */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    nn_blas_threads(1); /* one request, one core: the pool's threads share the machine */

    if (cli_home_make(c, &err))
        return cli_fail_err(&err);
    if (!log_path) {
        cli_path(c, "logs/access.log", logp, sizeof(logp));
        log_path = logp;
    }
    if (!strcmp(log_path, "-"))
        alog = stdout;
    else if (!(alog = fopen(log_path, "a")))
        return cli_fail("cannot open the access log '%s': %s", log_path, strerror(errno));

    app_opts_default(&ao);
    ao.reload_s = (int)reload;
    ao.login_attempts = (int)attempts;
    ao.rec_cache_s = (int)rec_cache;
    ao.tmdb_key = key;
    ao.tmdb_api = tmdb_api;
    ao.tmdb_images = tmdb_images;
    ao.poster_fetches = poster_max_fetches((int)threads); /* a fetch holds a thread */
    open_rc = app_open(&a, c->home, &ao, &err);
    explicit_bzero(key_buf, sizeof(key_buf)); /* the poster cache has its copy */
    if (open_rc == ERR_USAGE) { /* a TMDB option: the key or an address */
        rc = cli_usage_fail(usage, "%s", err.msg);
        goto out;
    }
    if (open_rc) {
        cli_fail_err(&err);
        goto out;
    }
    memset(&ho, 0, sizeof(ho));
    ho.bind = bind;
    ho.port = (int)port;
    ho.threads = (int)threads;
    ho.max_body = 64 * 1024;
    ho.access_log = alog;
    ho.static_dir = web;
    ho.metrics = a->metrics;
    if (http_server_start(&srv, &ho, app_routes, app_nroutes, a, &err)) {
        cli_fail_err(&err);
        goto out;
    }
    printf("movierec: serving http://%s:%d/ (store %s/movierec.db; %d threads; "
           "Ctrl-C to stop)\n",
           bind, http_server_port(srv), c->home, (int)threads);
    fflush(stdout);
    for (;;) {
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            app_log(a, "SIGHUP: looking for new models; cached sessions forgotten");
            app_sessions_forget(a);
            app_reload_request(a);
            continue;
        }
        break;
    }
    app_log(a, "%s: stopping (finishing requests in flight)", sig == SIGINT ? "SIGINT" : "SIGTERM");
    http_server_stop(srv);
    srv = NULL;
    rc = 0;
out:
    if (srv)
        http_server_stop(srv);
    if (a)
        app_log(a, "stopped");
    app_close(a);
    if (alog && alog != stdout)
        fclose(alog);
    return rc;
}
