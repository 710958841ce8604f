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
/* the web service: accounts, sessions, interests, writes, browsing    */
/* (store_web.c). Every write is one transaction that also appends to  */
/* the events table, the input of the next training run.               */

#define STORE_NAME_MAX 64   /* account names: 1..64 bytes of UTF-8, no control chars,
                             * not beginning or ending with a space */
#define STORE_TAG_MAX 64    /* a tag: 1..64 bytes of UTF-8, no control chars, white
                             * space around it trimmed; compared ignoring ASCII case */
#define STORE_HASH_MAX 256  /* a password hash string (crypto_pwhash_str) */

struct store_account {
    int64_t id;
    char name[STORE_NAME_MAX + 1];
    char gender;          /* 'M', 'F' or 0 */
    int age;              /* 0 unknown */
    char occupation[64];  /* "" unknown */
    char zip[16];         /* "" unknown */
    int64_t created;      /* unix seconds */
    int has_password;     /* 0: an imported user nobody can log in as yet */
};

/* A new account. id: the next free user id (above every imported one).
 * pwhash NULL or "": none (nobody can log in as it until one is set).
 * ERR_EXISTS when the name is taken (names compare case-insensitively for
 * ASCII), ERR_PARSE for a bad field (message says which). */
int store_account_create(struct store *s, const char *name, const char *pwhash, char gender,
                         int age, const char *occupation, int64_t now, int64_t *id,
                         struct error *err);
/* By name (case-insensitive for ASCII) or id: ERR_NOTFOUND when absent.
 * pwhash (cap bytes, may be NULL) receives the hash or "" when none. */
int store_account_by_name(struct store *s, const char *name, struct store_account *a,
                          char *pwhash, int cap, struct error *err);
int store_account_get(struct store *s, int64_t id, struct store_account *a, struct error *err);
/* Personal information; gender 0 / age 0 / "" clear a field. */
int store_account_update(struct store *s, int64_t id, char gender, int age,
                         const char *occupation, const char *zip, int64_t now,
                         struct error *err);
/* Sets the hash of an existing account (by name): ERR_NOTFOUND. NULL or
 * "" removes it (nobody can log in as the account). Ends every session
 * of the account in the same transaction. Appends no event. */
int store_account_set_password(struct store *s, const char *name, const char *pwhash,
                               struct error *err);

/* Sessions: only a hash (32 bytes) of each token is stored. create:
 * ERR_NOTFOUND for an unknown user, ERR_EXISTS for a hash already there,
 * ERR_USAGE when expires <= now. delete: 0 also when there was none. */
int store_session_create(struct store *s, const unsigned char hash[32], int64_t user,
                         int64_t now, int64_t expires, struct error *err);
/* The session's user when it exists and now < expires; else ERR_NOTFOUND. */
int store_session_user(struct store *s, const unsigned char hash[32], int64_t now,
                       int64_t *user, struct error *err);
/* The same, with the session's expiry time. */
int store_session_expiry(struct store *s, const unsigned char hash[32], int64_t now,
                         int64_t *user, int64_t *expires, struct error *err);
int store_session_delete(struct store *s, const unsigned char hash[32], struct error *err);
/* Deletes every expired session; *n (may be NULL) how many. */
int store_session_purge(struct store *s, int64_t now, int64_t *n, struct error *err);

/* Interest tags: favourite genres (names of genres in the store, matched
 * ignoring ASCII case and kept in the store's spelling) and free tags.
 * Set replaces both lists, keeping a repeated item once; ERR_NOTFOUND
 * names an unknown genre or user, ERR_PARSE a bad tag; at most 32 of
 * each. */
enum store_interest { STORE_INTEREST_GENRE = 1, STORE_INTEREST_TAG = 2 };
typedef int (*store_interest_fn)(void *ctx, enum store_interest kind, const char *value);
int store_interests_set(struct store *s, int64_t user, const char *const *genres, int ngenres,
                        const char *const *tags, int ntags, int64_t now, struct error *err);
/* Genres, then tags, each in the order they were given. */
int store_interests_get(struct store *s, int64_t user, store_interest_fn fn, void *ctx,
                        struct error *err);

/* Writes by a user. rate: score 0.5..5 in halves (ERR_PARSE otherwise),
 * insert or replace; ERR_NOTFOUND for an unknown movie or user. unrate:
 * ERR_NOTFOUND when there was no rating. tag_add: ERR_PARSE for a bad
 * tag, ERR_EXISTS when the user already put that tag on that movie.
 * tag_remove: ERR_NOTFOUND when absent. */
int store_rate(struct store *s, int64_t user, int64_t movie, double score, int64_t now,
               struct error *err);
int store_unrate(struct store *s, int64_t user, int64_t movie, int64_t now, struct error *err);
int store_tag_add(struct store *s, int64_t user, int64_t movie, const char *tag, int64_t now,
                  struct error *err);
int store_tag_remove(struct store *s, int64_t user, int64_t movie, const char *tag,
                     int64_t now, struct error *err);
/* One user's rating of one movie: ERR_NOTFOUND when none. */
int store_rating_get(struct store *s, int64_t user, int64_t movie, double *score,
                     int64_t *time, struct error *err);
/* A user's tags (movie 0: on every movie), newest first. */
typedef int (*store_tag_fn)(void *ctx, int64_t movie, const char *tag, int64_t time);
int store_user_tags(struct store *s, int64_t user, int64_t movie, store_tag_fn fn, void *ctx,
                    struct error *err);

/* The events table, oldest first, from id > after: what the next
 * training run reads. kind: "rate", "unrate", "tag", "untag", "register",
 * "profile", "interests". */
struct store_event {
    int64_t id, time, user, movie; /* movie 0 when none */
    const char *kind;
    double score;                  /* rate */
    const char *tag;               /* tag, untag; "" otherwise */
};
typedef int (*store_event_fn)(void *ctx, const struct store_event *e);
int store_each_event(struct store *s, int64_t after, store_event_fn fn, void *ctx,
                     struct error *err);

/* Browsing movies. */
struct store_movie_info {
    int64_t id;
    char title[256];
    int year;                /* 0 unknown */
    char release_date[16];   /* "" unknown */
    char genres[256];        /* names joined by '|', in name order */
    char imdb_id[16];        /* "tt0114709" or "" */
    char imdb_url[256];      /* "" unknown */
    int64_t tmdb_id;         /* 0 unknown */
    char poster_url[256];    /* "" unknown */
    int64_t nratings;
    double mean;             /* 0 when no ratings */
};
enum store_sort {
    STORE_SORT_RATING,  /* damped mean: (sum + 10 * 3.0) / (n + 10), best first */
    STORE_SORT_POPULAR, /* number of ratings, most first */
    STORE_SORT_YEAR,    /* newest first */
    STORE_SORT_TITLE,   /* A to Z */
    STORE_SORT_RELEVANCE /* search only: FTS5's bm25, then most ratings */
};
struct store_movie_query {
    const char *genre;   /* genre name (ASCII case ignored), NULL or "": any */
    int year_min, year_max; /* 0: no bound */
    const char *text;    /* search: words of the title (letters and digits;
                          * anything else separates words, so no FTS5 syntax),
                          * all must match, each also as a prefix; a word
                          * nothing matches is replaced by the closest title
                          * word (edit distance <= 1 for 3..5 letters, <= 2
                          * longer; ties: the commoner word). No words: no
                          * results. At most 256 bytes, 32 words. NULL: list */
    enum store_sort sort;
    int offset, limit;   /* limit 1..100 */
    int ids_only;        /* fill only out[i].id (the caller has the details) */
};
/* Movies matching q into out (limit,), *n of them; *total: how many match
 * in all. ERR_NOTFOUND for an unknown genre; ERR_USAGE for a bad query
 * (limit, offset < 0, year_min > year_max, relevance without text, text
 * not UTF-8 or too long). */
int store_movies_find(struct store *s, const struct store_movie_query *q,
                      struct store_movie_info *out, int *n, int64_t *total, struct error *err);
int store_movie_info(struct store *s, int64_t id, struct store_movie_info *out,
                     struct error *err);
/* Every movie's info, by id (the server's catalogue in memory). A non-zero
 * return from fn stops the scan and is returned. */
typedef int (*store_movie_info_fn)(void *ctx, const struct store_movie_info *m);
int store_each_movie_info(struct store *s, store_movie_info_fn fn, void *ctx, struct error *err);
/* Up to max users who rated the movie >= max(4, min_score): the highest
 * scores first, then the newest users (highest ids) first, the order of
 * the partial index of ratings >= 4 by (movie, score), so no sort however
 * many fans a movie has.
 * ERR_NOTFOUND for an unknown movie. */
int store_movie_fans(struct store *s, int64_t movie, double min_score, int64_t *users, int max,
                     int *n, struct error *err);
/* A user's rated movies with their ratings, for "my page": TIME newest
 * first, SCORE best first then newest, TITLE A to Z; offset, limit 1..100
 * and *total as in store_movies_find(). ERR_NOTFOUND for an unknown user. */
enum store_rated_sort { STORE_RATED_TIME, STORE_RATED_SCORE, STORE_RATED_TITLE };
struct store_rated {
    struct store_movie_info m;
    double score;
    int64_t time;
};
int store_user_rated(struct store *s, int64_t user, enum store_rated_sort sort, int offset,
                     int limit, struct store_rated *out, int *n, int64_t *total,
                     struct error *err);
/* Every genre name with its number of movies (movies) and the ratings of
 * those movies (ratings), by name; at most max. */
int store_genres(struct store *s, struct store_genre_count *out, int max, int *n,
                 struct error *err);

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
