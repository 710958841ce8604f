/*
 * cli.c - shared helpers of the subcommands: messages, the home folder,
 * option values, the progress bar.
 */
#include "cli.h"
#include "../util/fs.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../recall/engine.h"
#include "../store/store.h"
#include "../util/text.h"

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int cli_usage_fail(const char *usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fprintf(stderr, "usage: %s\n", usage);
    return 2;
}

int cli_fail_err(const struct error *err)
{
    fprintf(stderr, "error: %s\n", err->msg[0] ? err->msg : "unknown failure");
    return 1;
}

int cli_home_make(struct cli *c, struct error *err)
{
    static const char *subdirs[] = {"models", "reports", "logs"};
    char p[4096];

    if (fs_mkdir_p(c->home, err))
        return ERR_IO;
    for (size_t i = 0; i < sizeof(subdirs) / sizeof(*subdirs); i++) {
        cli_path(c, subdirs[i], p, sizeof(p));
        if (fs_mkdir_p(p, err))
            return ERR_IO;
    }
    return 0;
}

void cli_path(const struct cli *c, const char *rel, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", c->home, rel);
}

void cli_db_path(const struct cli *c, char *out, size_t cap)
{
    cli_path(c, "movierec.db", out, cap);
}

int cli_store_open(const struct cli *c, struct store **s, struct error *err)
{
    char db[4096];
    *s = NULL;
    cli_db_path(c, db, sizeof(db));
    if (access(db, F_OK) != 0)
        return error_set(err, ERR_NOTFOUND,
                         "no store in '%s' yet; run 'movierec --home %s import <folder>' first",
                         c->home, c->home);
    return store_open(s, db, err);
}

int cli_is_help(const char *arg)
{
    return !strcmp(arg, "-h") || !strcmp(arg, "--help");
}

int cli_parse_count(const char *s, int64_t *out)
{
    int64_t v;
    if (!s || text_parse_i64(s, strlen(s), &v) < 0 || v < 0)
        return -1;
    *out = v;
    return 0;
}

int cli_tty(void)
{
    return isatty(STDERR_FILENO);
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void progress_begin(struct progress *p, const char *label, uint64_t total)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->label, sizeof(p->label), "%s", label);
    p->total = total;
    p->start = p->last = cli_now();
    p->active = cli_tty();
    p->unit = "lines";
}

void progress_update(struct progress *p, uint64_t done, uint64_t items)
{
    double now, frac, rate;
    char bar[31];
    int fill;

    if (!p->active)
        return;
    now = cli_now();
    if (now - p->last < 0.1)
        return;
    p->last = now;
    frac = p->total ? (double)done / (double)p->total : 0;
    if (frac > 1)
        frac = 1;
    fill = (int)(frac * 30);
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
    bar[30] = '\0';
    rate = now > p->start ? items / (now - p->start) : 0;
    {
        double eta = frac > 0 ? (now - p->start) * (1 - frac) / frac : 0;
        fprintf(stderr, "\r%-14s [%s] %3d%%  %.0f %s/s  ETA %.0fs  %s ", p->label, bar,
                (int)(frac * 100), rate, p->unit, eta, p->extra);
    }
    fflush(stderr);
}

void progress_end(struct progress *p)
{
    if (p->active) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
}

int cli_rec_option(int argc, char **argv, int *i, struct rec_opts *o, char *msg, size_t cap)
{
    const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    int64_t n;

    if (!strcmp(a, "--genre-cap")) {
        if (cli_parse_count(v, &n) || n > 10) {
            snprintf(msg, cap, "--genre-cap takes a number from 0 (no cap) to 10");
            return -1;
        }
        o->genre_cap = (int)n;
    } else if (!strcmp(a, "--prerank")) {
        if (cli_parse_count(v, &n) || n > 5000) {
            snprintf(msg, cap, "--prerank takes a number from 0 (rank every candidate) to 5000");
            return -1;
        }
        o->prerank = (int)n;
    } else if (!strcmp(a, "--recent")) {
        if (cli_parse_count(v, &n) || n < 1 || n > REC_MAX_RECENT) {
            snprintf(msg, cap, "--recent takes a number from 1 to %d", REC_MAX_RECENT);
            return -1;
        }
        o->recent = (int)n;
    } else if (!strcmp(a, "--quota")) {
        /* itemcf=200,embed=100,als=150,cold=50 (any subset) */
        char buf[256], *save = NULL;
        if (!v || strlen(v) >= sizeof(buf)) {
            snprintf(msg, cap, "--quota takes CHANNEL=N[,CHANNEL=N...]");
            return -1;
        }
        snprintf(buf, sizeof(buf), "%s", v);
        for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(t, '=');
            int ch = -1;
            if (eq) {
                *eq = 0;
                for (int k = 0; k < REC_NCHANNELS; k++)
                    if (!strcmp(t, rec_channel_name((enum rec_channel)k)))
                        ch = k;
            }
            if (ch < 0 || cli_parse_count(eq + 1, &n) || n > 5000) {
                snprintf(msg, cap,
                         "--quota takes CHANNEL=N[,...] with CHANNEL one of itemcf, embed, als, "
                         "cold and N from 0 to 5000");
                return -1;
            }
            o->quota[ch] = (int)n;
        }
    } else {
        return 0;
    }
    (*i)++;
    return 1;
}

int cli_engine_open(const struct cli *c, struct store **s, struct engine *e, struct error *err)
{
    char models[4200];
    int rc;
    if ((rc = cli_store_open(c, s, err)))
        return rc;
    cli_path(c, "models", models, sizeof(models));
    if ((rc = engine_load(e, models, *s, err))) {
        store_close(*s);
        *s = NULL;
    }
    return rc;
}
