/*
 * http.h - the HTTP layer of `movierec serve`: libmicrohttpd with a thread
 * pool, a route table with path parameters, request bodies capped and
 * collected, JSON replies through jansson, an access log, per-route
 * metrics, static files, and a graceful stop.
 *
 * The layer knows nothing of movies: the app (src/server/app.c) gives it a
 * table of routes and a context pointer. A handler runs on one of the
 * pool's threads, reads struct http_req and fills struct http_res; the
 * layer sends it, logs one access line and records the route's latency.
 *
 * Ownership: http_server_start() returns a server the caller stops with
 * http_server_stop(). Strings in a struct http_req live until the handler
 * returns. A struct http_res owns its body and headers; the layer frees
 * them after sending.
 */
#ifndef MOVIEREC_HTTP_H
#define MOVIEREC_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "../util/error.h"
#include "metrics.h"

#define HTTP_MAX_PARAMS 4
#define HTTP_MAX_HEADERS 8

struct http_req {
    const char *method;  /* "GET", "POST", "PUT", "DELETE", ... */
    const char *path;    /* decoded, without the query string */
    const char *body;    /* NUL-terminated copy of the body ("" when none) */
    size_t body_len;
    char remote[64];     /* the client's address, "127.0.0.1" */
    const char *params[HTTP_MAX_PARAMS]; /* the route's ":name" segments, decoded */
    int nparams;
    void *conn;          /* the layer's (struct MHD_Connection *) */
    void *user;          /* free for the app: e.g. the session's user */
};

/* The query string's value of key (decoded), or NULL. */
const char *http_query(const struct http_req *r, const char *key);
/* A request header (case-insensitive name), or NULL. */
const char *http_header(const struct http_req *r, const char *name);
/* A cookie's value, or NULL. */
const char *http_cookie(const struct http_req *r, const char *name);

struct http_res {
    int status;          /* 0 until set: the layer answers 500 */
    char *body;          /* malloc'd, owned */
    size_t len;
    const char *type;    /* static string: "application/json", ... */
    char *hname[HTTP_MAX_HEADERS], *hvalue[HTTP_MAX_HEADERS]; /* owned */
    int nheaders;
    const char *file;    /* set by http_res_file: a path to send instead of body
                          * (it points into body, which then holds the path) */
};

/* Sets the reply to the JSON value j (stolen, may be NULL: 500). */
void http_res_json(struct http_res *res, int status, json_t *j);
/* {"error": code, "message": text} with the status. */
void http_res_error(struct http_res *res, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Adds a header (copied). Several Set-Cookie headers are fine. */
void http_res_header(struct http_res *res, const char *name, const char *value);
/* A plain reply with a body (copied). */
void http_res_text(struct http_res *res, int status, const char *type, const char *body,
                   size_t len);
/* Sends the file at path (copied) with status 200, Content-Type from its
 * extension unless res->type is set afterwards; 404 if it cannot be
 * opened as a regular file when the reply is sent. */
void http_res_file(struct http_res *res, const char *path);
/* Parses the request body as a JSON object: NULL, with a 400 reply already
 * set on res ("bad_json": what is wrong and where), when it is not one. */
json_t *http_req_json(const struct http_req *req, struct http_res *res);

typedef void (*http_handler)(void *app, struct http_req *req, struct http_res *res);

struct http_route {
    const char *method;  /* "GET", ...; a GET route also answers HEAD */
    const char *pattern; /* "/v1/movies/:id": ":name" matches one non-empty
                          * segment; a segment "*" at the end matches the
                          * rest (possibly empty), itself a param */
    http_handler fn;
    const char *name;    /* label in metrics and the access log: "movie" */
};

/* Routes a request target the way the server does (its dispatch and
 * tests/fuzz/fuzz_http_path.c share the code): the path, target[0..len)
 * up to the first '?' or '#', is percent-decoded segment by segment (a
 * "%2F" stays inside its segment) and matched against routes in order.
 * Returns 200 with *route the index of the first route that matches the
 * path and answers method (a GET route also answers HEAD) and its params,
 * at most HTTP_MAX_PARAMS, copied into params (cap bytes) one after
 * another, each NUL-terminated, *nparams of them; 405 when routes match
 * the path but none answers method; 404 when none matches; 400 when the
 * path is not valid (empty, not starting with '/', a bad percent-encoding,
 * a NUL raw or as "%00", or not UTF-8 once decoded); -1 when out of memory
 * or the params do not fit in cap. No ".." is resolved: a ":name" or "*"
 * param may be ".." or hold "../", and handlers that use one as a file
 * name must refuse it. */
int http_route_find(const struct http_route *routes, int nroutes, const char *method,
                    const char *target, size_t len, int *route, char *params, size_t cap,
                    int *nparams);

struct http_server_opts {
    const char *bind;       /* "127.0.0.1" (default) */
    int port;               /* 0: any free port (see http_server_port) */
    int threads;            /* thread pool size; default 4 */
    size_t max_body;        /* larger bodies get 413; default 64 KiB */
    FILE *access_log;       /* one line per request, or NULL */
    const char *static_dir; /* files served for GET paths no route takes, or NULL */
    struct metrics *metrics; /* per-route counts and latency, or NULL */
};

struct http_server;

/* Starts listening and serving on the pool's threads. routes are borrowed
 * (static tables); app is passed to every handler. Unknown path: 404;
 * known path, wrong method: 405 with Allow; both as JSON errors. */
int http_server_start(struct http_server **out, const struct http_server_opts *o,
                      const struct http_route *routes, int nroutes, void *app,
                      struct error *err);
/* The port actually bound. */
int http_server_port(const struct http_server *s);
/* Stops accepting, lets requests in flight finish, frees s. */
void http_server_stop(struct http_server *s);

#endif
