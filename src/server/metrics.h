/*
 * metrics.h - counters and latency histograms for /metrics, written in the
 * Prometheus text format (version 0.0.4).
 *
 * Series are registered up front (metrics_route, metrics_hist) and then
 * updated from any thread without locks (atomic adds); labels are fixed at
 * registration. Gauges that belong to the app (model versions) are added
 * by the app when it renders, with metrics_render()'s extra callback.
 *
 * Ownership: metrics_new() / metrics_free(). Names and help strings are
 * borrowed (static).
 */
#ifndef MOVIEREC_METRICS_H
#define MOVIEREC_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_NBUCKETS 14 /* 0.25 ms .. 10 s, then +Inf */

struct metrics;
struct metrics_hist; /* one histogram series (count, sum, buckets) */

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* A histogram series name{labels} with help text, e.g.
 * ("movierec_rec_stage_seconds", "stage=\"itemcf\"", "...").
 * Same name, same help. Returns NULL when out of memory or slots (256). */
struct metrics_hist *metrics_hist(struct metrics *m, const char *name, const char *labels,
                                  const char *help);
void metrics_observe(struct metrics_hist *h, double seconds);

/* Requests of one route: movierec_http_requests_total{route,status class}
 * and movierec_http_request_seconds{route} (a histogram). */
void metrics_request(struct metrics *m, const char *route, int status, double seconds);

/* The text of every series into a malloc'd string (*len bytes); extra, if
 * given, appends more lines (gauges) to the buffer through put(). NULL
 * when out of memory. */
typedef void (*metrics_put_fn)(void *buf, const char *fmt, ...);
char *metrics_render(struct metrics *m, void (*extra)(void *ctx, void *buf, metrics_put_fn put),
                     void *ctx, size_t *len);

#endif
