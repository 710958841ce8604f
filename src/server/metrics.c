/*
 * metrics.c - Prometheus counters and histograms (see metrics.h).
 *
 * Series live in fixed arrays that never move, so a pointer handed out
 * once stays valid until metrics_free(). Registration takes the mutex and
 * publishes the new count with a release store; updates are relaxed
 * atomic adds. Buckets hold per-bucket (not cumulative) counts; rendering
 * sums them, and prints _count as the +Inf total so the two always agree.
 */
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/banned.h"

#define MAX_HISTS 256
#define MAX_ROUTES 128
#define NCLASSES 5 /* 1xx .. 5xx */

static const double bucket_bound[METRICS_NBUCKETS] = {
    0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10,
};
static const char *const bucket_le[METRICS_NBUCKETS + 1] = {
    "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
    "0.1",     "0.25",   "0.5",   "1",      "2.5",   "10",   "+Inf",
};

struct metrics_hist {
    const char *name, *labels, *help;
    _Atomic uint64_t bucket[METRICS_NBUCKETS + 1]; /* last: above 10 s */
    _Atomic uint64_t sum_us;
};

struct route_series {
    const char *route;  /* borrowed (static) */
    char labels[160];   /* route="..." for the histogram */
    struct metrics_hist hist;
    _Atomic uint64_t code[NCLASSES];
};

struct metrics {
    pthread_mutex_t mu;
    _Atomic int nhists, nroutes;
    struct metrics_hist hists[MAX_HISTS];
    struct route_series routes[MAX_ROUTES];
};

struct metrics *metrics_new(void)
{
    struct metrics *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

struct metrics_hist *metrics_hist(struct metrics *m, const char *name, const char *labels,
                                  const char *help)
{
    struct metrics_hist *h = NULL;
    if (!m || !name)
        return NULL;
    if (!labels)
        labels = "";
    pthread_mutex_lock(&m->mu);
    int n = atomic_load_explicit(&m->nhists, memory_order_relaxed);
    for (int i = 0; i < n; i++)
        if (strcmp(m->hists[i].name, name) == 0 && strcmp(m->hists[i].labels, labels) == 0) {
            h = &m->hists[i];
            goto out;
        }
    if (n < MAX_HISTS) {
        h = &m->hists[n];
        h->name = name;
        h->labels = labels;
        h->help = help ? help : "";
        atomic_store_explicit(&m->nhists, n + 1, memory_order_release);
    }
out:
    pthread_mutex_unlock(&m->mu);
    return h;
}

void metrics_observe(struct metrics_hist *h, double seconds)
{
    int i = 0;
    uint64_t us = 0;
    if (!h)
        return;
    if (!(seconds >= 0)) /* negative or NaN */
        seconds = 0;
    while (i < METRICS_NBUCKETS && seconds > bucket_bound[i])
        i++;
    if (seconds < 1e12)
        us = (uint64_t)llround(seconds * 1e6);
    atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
}

/* A label value with \, " and newline escaped, into out (cap bytes). */
static void label_escape(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    for (; *s && o + 3 < cap; s++) {
        if (*s == '\\' || *s == '"') {
            out[o++] = '\\';
            out[o++] = *s;
        } else if (*s == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
}

static struct route_series *route_find(struct metrics *m, const char *route)
{
    int n = atomic_load_explicit(&m->nroutes, memory_order_acquire);
    for (int i = 0; i < n; i++)
        if (m->routes[i].route == route || strcmp(m->routes[i].route, route) == 0)
            return &m->routes[i];
    return NULL;
}

void metrics_request(struct metrics *m, const char *route, int status, double seconds)
{
    struct route_series *r;
    if (!m)
        return;
    if (!route)
        route = "unknown";
    r = route_find(m, route);
    if (!r) {
        pthread_mutex_lock(&m->mu);
        r = route_find(m, route);
        int n = atomic_load_explicit(&m->nroutes, memory_order_relaxed);
        if (!r && n < MAX_ROUTES) {
            char esc[128];
            r = &m->routes[n];
            r->route = route;
            label_escape(esc, sizeof(esc), route);
            snprintf(r->labels, sizeof(r->labels), "route=\"%s\"", esc);
            r->hist.name = "movierec_http_request_seconds";
            r->hist.labels = r->labels;
            r->hist.help = "Time from a request's arrival to its reply being queued.";
            atomic_store_explicit(&m->nroutes, n + 1, memory_order_release);
        }
        pthread_mutex_unlock(&m->mu);
        if (!r)
            return; /* out of slots: route names are a fixed set, so this is a bug */
    }
    int c = status / 100 - 1;
    if (c < 0)
        c = 0;
    if (c >= NCLASSES)
        c = NCLASSES - 1;
    atomic_fetch_add_explicit(&r->code[c], 1, memory_order_relaxed);
    metrics_observe(&r->hist, seconds);
}

/* ---- rendering ---- */

struct outbuf {
    char *p;
    size_t len, cap;
    int oom;
};

static void put(void *vb, const char *fmt, ...)
{
    struct outbuf *b = vb;
    va_list ap;
    int n;
    if (b->oom)
        return;
    for (;;) {
        size_t room = b->cap - b->len;
        va_start(ap, fmt);
        n = vsnprintf(b->p + b->len, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t ncap = b->cap * 2 + (size_t)n + 1;
        char *np = realloc(b->p, ncap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
}

static void put_help(struct outbuf *b, const char *name, const char *help, const char *type)
{
    put(b, "# HELP %s ", name);
    for (const char *s = help; *s; s++) {
        if (*s == '\\')
            put(b, "\\\\");
        else if (*s == '\n')
            put(b, "\\n");
        else
            put(b, "%c", *s);
    }
    put(b, "\n# TYPE %s %s\n", name, type);
}

static void put_hist(struct outbuf *b, const struct metrics_hist *h)
{
    uint64_t cum = 0;
    const char *sep = h->labels[0] ? "," : "";
    for (int i = 0; i <= METRICS_NBUCKETS; i++) {
        cum += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
        put(b, "%s_bucket{%s%sle=\"%s\"} %llu\n", h->name, h->labels, sep, bucket_le[i],
            (unsigned long long)cum);
    }
    uint64_t us = atomic_load_explicit(&h->sum_us, memory_order_relaxed);
    const char *lo = h->labels[0] ? "{" : "", *lc = h->labels[0] ? "}" : "";
    put(b, "%s_sum%s%s%s %llu.%06llu\n", h->name, lo, h->labels, lc,
        (unsigned long long)(us / 1000000), (unsigned long long)(us % 1000000));
    put(b, "%s_count%s%s%s %llu\n", h->name, lo, h->labels, lc, (unsigned long long)cum);
}

char *metrics_render(struct metrics *m, void (*extra)(void *ctx, void *buf, metrics_put_fn put),
                     void *ctx, size_t *len)
{
    static const char *const cls[NCLASSES] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    struct outbuf b = {0};
    int nr, nh;
    b.cap = 4096;
    b.p = malloc(b.cap);
    if (!b.p)
        return NULL;
    b.p[0] = '\0';
    nr = m ? atomic_load_explicit(&m->nroutes, memory_order_acquire) : 0;
    nh = m ? atomic_load_explicit(&m->nhists, memory_order_acquire) : 0;

    if (nr > 0) {
        put_help(&b, "movierec_http_requests_total", "HTTP requests by route and status class.",
                 "counter");
        for (int i = 0; i < nr; i++) {
            const struct route_series *r = &m->routes[i];
            for (int c = 0; c < NCLASSES; c++) {
                uint64_t v = atomic_load_explicit(&r->code[c], memory_order_relaxed);
                if (v)
                    put(&b, "movierec_http_requests_total{%s,code=\"%s\"} %llu\n", r->labels,
                        cls[c], (unsigned long long)v);
            }
        }
        put_help(&b, m->routes[0].hist.name, m->routes[0].hist.help, "histogram");
        for (int i = 0; i < nr; i++)
            put_hist(&b, &m->routes[i].hist);
    }
    /* app histograms, grouped by name in order of first registration */
    for (int i = 0; i < nh; i++) {
        const struct metrics_hist *h = &m->hists[i];
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = strcmp(m->hists[j].name, h->name) == 0;
        if (seen)
            continue;
        put_help(&b, h->name, h->help, "histogram");
        for (int j = i; j < nh; j++)
            if (strcmp(m->hists[j].name, h->name) == 0)
                put_hist(&b, &m->hists[j]);
    }
    if (extra)
        extra(ctx, &b, put);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    if (len)
        *len = b.len;
    return b.p;
}
