/*
 * store.h - the system's data: users, movies, genres, ratings, tags,
 * accounts, behind one interface.
 *
 * The default backend is SQLite (store_sqlite.c: WAL, foreign keys on, a
 * schema version with migrations in store_schema.c). A PostgreSQL backend
 * implements the same functions in its own file, chosen at build time the
 * way redis puts ae_epoll.c and ae_kqueue.c behind ae.h; callers never see
 * SQL handles.
 *
 * Ownership: store_open() returns a handle the caller frees with
 * store_close(). A handle is used by one thread at a time; open one per
 * thread. Strings passed in are copied; strings handed out are owned by
 * the caller's buffers.
 *
 * Bulk loads (import) go through a struct store_loader, which builds a
 * complete new database beside the live one and swaps it in with rename()
 * on store_loader_finish(): a crash or kill -9 at any point leaves the
 * previous store untouched.
 */
#ifndef MOVIEREC_STORE_H
#define MOVIEREC_STORE_H

#include <stdint.h>

#include "../util/error.h"

struct store;

/* Opens (creating if needed) the database at path and brings its schema
 * up to date. A database written by a newer movierec is refused. */
int store_open(struct store **out, const char *path, struct error *err);
void store_close(struct store *s);

/* The schema version this build writes, and the one found in the file. */
int store_schema_version(void);
int store_file_version(struct store *s);

/* ------------------------------------------------------------------ */
/* reading                                                             */

struct store_counts {
    int64_t users, movies, ratings, tags, genres, accounts;
};

int store_counts(struct store *s, struct store_counts *c, struct error *err);

/* Ratings per half star: hist[0] counts 0.5, ..., hist[9] counts 5.0. */
int store_rating_histogram(struct store *s, int64_t hist[10], struct error *err);

struct store_genre_count {
    char name[48];
    int64_t movies, ratings;
};

/* Genres ordered by number of ratings, at most max of them. */
int store_top_genres(struct store *s, struct store_genre_count *out, int max, int *n,
                     struct error *err);

/* A value from the meta table ("dataset", "imported_at"); "" if unset. */
int store_meta_get(struct store *s, const char *key, char *out, int cap, struct error *err);

/* Whole-table scans for training and serving. The callback gets each row
 * in id order (ratings: by user, then movie); strings in a row are valid
 * only during the call. A non-zero return from the callback stops the
 * scan and is returned. */
struct store_user_row {
    int64_t id;
    char gender;            /* 'M', 'F' or 0 */
    int age;                /* 0 unknown */
    const char *occupation; /* "" unknown */
};

struct store_movie_row {
    int64_t id;
    const char *title;
    int year;           /* 0 unknown */
    const char *genres; /* names joined by '|', in name order; "" none */
};

typedef int (*store_user_fn)(void *ctx, const struct store_user_row *u);
typedef int (*store_movie_fn)(void *ctx, const struct store_movie_row *m);
typedef int (*store_rating_fn)(void *ctx, int64_t user, int64_t movie, double score, int64_t time);

int store_each_user(struct store *s, store_user_fn fn, void *ctx, struct error *err);
int store_each_movie(struct store *s, store_movie_fn fn, void *ctx, struct error *err);
int store_each_rating(struct store *s, store_rating_fn fn, void *ctx, struct error *err);
/* The ratings of one user, by movie id (the primary key's order: cheap). */
int store_user_ratings(struct store *s, int64_t user, store_rating_fn fn, void *ctx,
                       struct error *err);

/* One user or movie by id: 0, ERR_NOTFOUND, or ERR_DB. Strings point into
 * buffers owned by the store handle, valid until its next call. */
int store_get_user(struct store *s, int64_t id, struct store_user_row *u, struct error *err);
int store_get_movie(struct store *s, int64_t id, struct store_movie_row *m, struct error *err);

/* ------------------------------------------------------------------ */
/* bulk loading                                                        */

struct store_loader;

struct loader_user {
    int64_t id;
    char gender;            /* 'M', 'F' or 0 */
    int age;                /* 0 unknown */
    const char *occupation; /* NULL or "" unknown */
    const char *zip;
};

struct loader_movie {
    int64_t id;
    const char *title;
    int year;                  /* 0 unknown */
    const char *release_date;  /* "YYYY-MM-DD", NULL or "" */
    const char *const *genres; /* ngenres names */
    int ngenres;
    const char *imdb_id, *imdb_url; /* NULL or "" unknown */
    int64_t tmdb_id;                /* 0 unknown */
};

/* Starts building a new database for db_path. Fails with ERR_EXISTS when
 * another import holds the lock. */
int store_loader_begin(struct store_loader **out, const char *db_path, struct error *err);

/* Each add returns 0; ERR_EXISTS for a duplicate (same id, or the same
 * user and movie rated twice); ERR_NOTFOUND for a rating or tag naming a
 * user or movie not added before; ERR_PARSE for an out-of-range value;
 * ERR_DB or ERR_NOMEM when the load cannot go on. After the first three
 * the load can go on (the record is not stored). */
int store_loader_user(struct store_loader *l, const struct loader_user *u, struct error *err);
int store_loader_movie(struct store_loader *l, const struct loader_movie *m, struct error *err);
int store_loader_rating(struct store_loader *l, int64_t user, int64_t movie, double score,
                        int64_t time, struct error *err);
int store_loader_tag(struct store_loader *l, int64_t user, int64_t movie, const char *tag,
                     int64_t time, struct error *err);
int store_loader_has_user(struct store_loader *l, int64_t id);
int store_loader_has_movie(struct store_loader *l, int64_t id);
int store_loader_meta(struct store_loader *l, const char *key, const char *value,
                      struct error *err);

/* Builds indexes and the title search index, makes the file durable and
 * renames it over db_path. Frees l whatever the outcome; on failure the
 * old store is unchanged. */
int store_loader_finish(struct store_loader *l, struct error *err);

/* Drops the half-built database. Frees l. */
void store_loader_abort(struct store_loader *l);

#endif
