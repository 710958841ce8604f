/*
 * store_sqlite.c - the SQLite backend of store.h.
 */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <libgen.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "../util/intset.h"
#include "../util/fs.h"
#include "../util/text.h"
#include "store_schema.h"
#include "store_sqlite_internal.h"

int store_db_error(struct error *err, sqlite3 *db, const char *what)
{
    int code = sqlite3_errcode(db);
    if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT)
        return error_set(err, ERR_DB, "%s: the database file is damaged or not a movierec store (%s)",
                         what, sqlite3_errmsg(db));
    if (code == SQLITE_FULL)
        return error_set(err, ERR_DB, "%s: the disk is full", what);
    if (code == SQLITE_NOMEM)
        return error_set(err, ERR_NOMEM, "%s: out of memory", what);
    return error_set(err, ERR_DB, "%s: %s", what, sqlite3_errmsg(db));
}

int store_exec(sqlite3 *db, const char *sql, const char *what, struct error *err)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return store_db_error(err, db, what);
    return 0;
}

static int get_user_version(sqlite3 *db, int *v, struct error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return store_db_error(err, db, "cannot read the schema version");
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return store_db_error(err, db, "cannot read the schema version");
    }
    *v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return 0;
}

/* Brings db from its version to store_schema_version(), each step in its
 * own transaction. */
static int migrate(sqlite3 *db, int *found, struct error *err)
{
    int v = 0;
    if (get_user_version(db, &v, err))
        return ERR_DB;
    *found = v;
    if (v > store_schema_version())
        return error_set(err, ERR_DB,
                         "the store has schema version %d but this movierec knows only up to %d; "
                         "use a newer movierec",
                         v, store_schema_version());
    for (; v < store_schema_version(); v++) {
        char setv[64];
        if (store_exec(db, "BEGIN IMMEDIATE", "cannot migrate the store", err))
            return ERR_DB;
        snprintf(setv, sizeof(setv), "PRAGMA user_version = %d", v + 1);
        if (store_exec(db, store_schema_migration(v), "cannot migrate the store", err) ||
            store_exec(db, setv, "cannot migrate the store", err)) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return ERR_DB;
        }
        if (store_exec(db, "COMMIT", "cannot migrate the store", err))
            return ERR_DB;
    }
    return 0;
}

int store_open(struct store **out, const char *path, struct error *err)
{
    struct store *s;
    int rc;

    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return error_set(err, ERR_NOMEM, "out of memory");
    rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        error_set(err, ERR_DB, "cannot open the store '%s': %s", path,
                  s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 5000);
    sqlite3_extended_result_codes(s->db, 1);
    if (store_exec(s->db, "PRAGMA journal_mode = WAL", "cannot open the store", err) ||
        store_exec(s->db, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL",
             "cannot open the store", err))
        goto fail;
    if (migrate(s->db, &s->version, err))
        goto fail;
    *out = s;
    return 0;
fail:
    error_prefix(err, "'%s'", path);
    sqlite3_close(s->db);
    free(s);
    return err ? (int)err->code : ERR_DB;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    store_web_close(s);
    sqlite3_close(s->db);
    free(s);
}

int store_file_version(struct store *s)
{
    return s->version;
}

static int query_i64(sqlite3 *db, const char *sql, int64_t *out, struct error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return store_db_error(err, db, "cannot read the store");
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return store_db_error(err, db, "cannot read the store");
    }
    *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return 0;
}

int store_counts(struct store *s, struct store_counts *c, struct error *err)
{
    memset(c, 0, sizeof(*c));
    if (query_i64(s->db, "SELECT count(*) FROM users", &c->users, err) ||
        query_i64(s->db, "SELECT count(*) FROM movies", &c->movies, err) ||
        query_i64(s->db, "SELECT count(*) FROM ratings", &c->ratings, err) ||
        query_i64(s->db, "SELECT count(*) FROM tags", &c->tags, err) ||
        query_i64(s->db, "SELECT count(*) FROM genres", &c->genres, err) ||
        query_i64(s->db, "SELECT count(*) FROM users WHERE password_hash IS NOT NULL",
                  &c->accounts, err))
        return ERR_DB;
    return 0;
}

int store_rating_histogram(struct store *s, int64_t hist[10], struct error *err)
{
    sqlite3_stmt *st;
    int rc;

    memset(hist, 0, 10 * sizeof(*hist));
    if (sqlite3_prepare_v2(s->db,
                           "SELECT CAST(round(score * 2) AS INTEGER), count(*) FROM ratings GROUP BY 1",
                           -1, &st, NULL) != SQLITE_OK)
        return store_db_error(err, s->db, "cannot read ratings");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int k = sqlite3_column_int(st, 0);
        if (k >= 1 && k <= 10)
            hist[k - 1] = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return store_db_error(err, s->db, "cannot read ratings");
    return 0;
}

int store_top_genres(struct store *s, struct store_genre_count *out, int max, int *n,
                     struct error *err)
{
    static const char sql[] =
        "SELECT g.name, count(*), coalesce(sum(ms.ratings), 0)"
        "  FROM genres g JOIN movie_genres mg ON mg.genre_id = g.id"
        "  LEFT JOIN movie_stats ms ON ms.movie_id = mg.movie_id"
        " GROUP BY g.id ORDER BY 3 DESC, 2 DESC, g.name LIMIT ?";
    sqlite3_stmt *st;
    int rc;

    *n = 0;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return store_db_error(err, s->db, "cannot read genres");
    sqlite3_bind_int(st, 1, max);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < max) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        struct store_genre_count *g = &out[(*n)++];
        text_copy(g->name, sizeof(g->name), name ? name : "", name ? strlen(name) : 0);
        g->movies = sqlite3_column_int64(st, 1);
        g->ratings = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return store_db_error(err, s->db, "cannot read genres");
    return 0;
}

int store_meta_get(struct store *s, const char *key, char *out, int cap, struct error *err)
{
    sqlite3_stmt *st;
    int rc;

    out[0] = '\0';
    if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL) != SQLITE_OK)
        return store_db_error(err, s->db, "cannot read meta");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        if (v)
            text_copy(out, (size_t)cap, v, strlen(v));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_db_error(err, s->db, "cannot read meta");
    return 0;
}

/* ------------------------------------------------------------------ */
/* scans                                                               */

static const char user_sql[] =
    "SELECT id, coalesce(gender, ''), coalesce(age, 0), coalesce(occupation, '') FROM users";
static const char movie_sql[] =
    "SELECT m.id, m.title, coalesce(m.year, 0),"
    "  coalesce((SELECT group_concat(name, '|') FROM (SELECT g.name FROM movie_genres mg"
    "    JOIN genres g ON g.id = mg.genre_id WHERE mg.movie_id = m.id ORDER BY g.name)), '')"
    " FROM movies m";

static void user_row(sqlite3_stmt *st, struct store_user_row *u)
{
    const char *g = (const char *)sqlite3_column_text(st, 1);
    const char *o = (const char *)sqlite3_column_text(st, 3);
    u->id = sqlite3_column_int64(st, 0);
    u->gender = g && (g[0] == 'M' || g[0] == 'F') ? g[0] : 0;
    u->age = sqlite3_column_int(st, 2);
    u->occupation = o ? o : "";
}

static void movie_row(sqlite3_stmt *st, struct store_movie_row *m)
{
    const char *t = (const char *)sqlite3_column_text(st, 1);
    const char *g = (const char *)sqlite3_column_text(st, 3);
    m->id = sqlite3_column_int64(st, 0);
    m->title = t ? t : "";
    m->year = sqlite3_column_int(st, 2);
    m->genres = g ? g : "";
}

/* Runs sql and calls row() then fn for each row. */
static int scan(struct store *s, const char *sql, int (*row)(sqlite3_stmt *, void *, void *),
                void *fn, void *ctx, struct error *err)
{
    sqlite3_stmt *st;
    int rc, stop = 0;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return store_db_error(err, s->db, "cannot read the store");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if ((stop = row(st, fn, ctx)))
            break;
    sqlite3_finalize(st);
    if (stop)
        return stop;
    if (rc != SQLITE_DONE)
        return store_db_error(err, s->db, "cannot read the store");
    return 0;
}

static int user_cb(sqlite3_stmt *st, void *fn, void *ctx)
{
    struct store_user_row u;
    user_row(st, &u);
    return ((store_user_fn)fn)(ctx, &u);
}

static int movie_cb(sqlite3_stmt *st, void *fn, void *ctx)
{
    struct store_movie_row m;
    movie_row(st, &m);
    return ((store_movie_fn)fn)(ctx, &m);
}

static int rating_cb(sqlite3_stmt *st, void *fn, void *ctx)
{
    return ((store_rating_fn)fn)(ctx, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                                 sqlite3_column_double(st, 2), sqlite3_column_int64(st, 3));
}

int store_each_user(struct store *s, store_user_fn fn, void *ctx, struct error *err)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "%s ORDER BY id", user_sql);
    return scan(s, sql, user_cb, (void *)fn, ctx, err);
}

int store_each_movie(struct store *s, store_movie_fn fn, void *ctx, struct error *err)
{
    char sql[512];
    snprintf(sql, sizeof(sql), "%s ORDER BY m.id", movie_sql);
    return scan(s, sql, movie_cb, (void *)fn, ctx, err);
}

int store_each_rating(struct store *s, store_rating_fn fn, void *ctx, struct error *err)
{
    return scan(s, "SELECT user_id, movie_id, score, time FROM ratings ORDER BY user_id, movie_id",
                rating_cb, (void *)fn, ctx, err);
}

int store_user_ratings(struct store *s, int64_t user, store_rating_fn fn, void *ctx,
                       struct error *err)
{
    sqlite3_stmt *st;
    int rc, stop = 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT user_id, movie_id, score, time FROM ratings WHERE user_id = ? "
                           "ORDER BY movie_id",
                           -1, &st, NULL) != SQLITE_OK)
        return store_db_error(err, s->db, "cannot read ratings");
    sqlite3_bind_int64(st, 1, user);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if ((stop = rating_cb(st, (void *)fn, ctx)))
            break;
    sqlite3_finalize(st);
    if (stop)
        return stop;
    if (rc != SQLITE_DONE)
        return store_db_error(err, s->db, "cannot read ratings");
    return 0;
}

/* Copies a row's strings into the handle's buffers before the statement
 * is finalised. */
static const char *keep(char *buf, size_t cap, const char *s)
{
    text_copy(buf, cap, s, strlen(s));
    return buf;
}

int store_get_user(struct store *s, int64_t id, struct store_user_row *u, struct error *err)
{
    char sql[256];
    sqlite3_stmt *st;
    int rc;
    snprintf(sql, sizeof(sql), "%s WHERE id = ?", user_sql);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return store_db_error(err, s->db, "cannot read users");
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        user_row(st, u);
        u->occupation = keep(s->buf[0], sizeof(s->buf[0]), u->occupation);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc == SQLITE_DONE)
        return error_set(err, ERR_NOTFOUND, "no user %lld", (long long)id);
    return store_db_error(err, s->db, "cannot read users");
}

int store_get_movie(struct store *s, int64_t id, struct store_movie_row *m, struct error *err)
{
    char sql[512];
    sqlite3_stmt *st;
    int rc;
    snprintf(sql, sizeof(sql), "%s WHERE m.id = ?", movie_sql);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return store_db_error(err, s->db, "cannot read movies");
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        movie_row(st, m);
        m->title = keep(s->buf[0], sizeof(s->buf[0]), m->title);
        m->genres = keep(s->buf[1], sizeof(s->buf[1]), m->genres);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc == SQLITE_DONE)
        return error_set(err, ERR_NOTFOUND, "no movie %lld", (long long)id);
    return store_db_error(err, s->db, "cannot read movies");
}

/* ------------------------------------------------------------------ */
/* the bulk loader                                                     */

#define MAX_GENRES 256
#define MAX_INDEXES 64
#define BATCH 65536

struct rating_batch {
    int64_t user[BATCH], movie[BATCH], time[BATCH];
    double score[BATCH];
    int n;
};

struct store_loader {
    sqlite3 *db;
    char *db_path, *tmp_path, *lock_path;
    int lock_fd;
    sqlite3_stmt *ins_user, *ins_movie, *ins_genre, *ins_mg, *ins_rating, *ins_tag, *ins_meta;
    struct intset users, movies;
    /* Ratings wait in a batch and go in with one INSERT ... SELECT from the
     * batch_vtab below (per-row bind/step costs twice as much), written by
     * a thread of their own while the caller parses the next batch. The
     * caller fills bat[fill]; the writer reads bat[!fill]. Every other use
     * of db waits for the writer first (writer_wait), so one thread at a
     * time touches the connection. */
    struct rating_batch *bat[2];
    int fill;
    pthread_t writer;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int writer_started, pending, busy, quit;
    int wrc;          /* the writer's first failure, ERR_OK while none */
    struct error werr;
    /* Duplicate (user, movie) pairs are caught before SQLite sees them: in
     * order while the input is sorted by (user, movie), as the ml-latest
     * files are; with a set of every pair once it is not. */
    int64_t last_user, last_movie;
    int unsorted;
    struct intset pairs;
    /* Per-movie counts and sums for movie_stats, indexed like the slots of
     * `movies` when it had st_cap slots (st_id keeps the ids, so the stats
     * survive the set growing). */
    int64_t *st_id, *st_n;
    double *st_sum;
    size_t st_cap;
    int ngenres;
    char genre_name[MAX_GENRES][48];
    int nindex;
    char *index_sql[MAX_INDEXES]; /* dropped for the load, made again at the end */
    int64_t now;
};

static void writer_stop(struct store_loader *l);

static char *str_concat(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 1);
    if (p) {
        memcpy(p, a, la);
        memcpy(p + la, b, lb + 1);
    }
    return p;
}

static void loader_free(struct store_loader *l)
{
    sqlite3_stmt *sts[] = {l->ins_user, l->ins_movie, l->ins_genre, l->ins_mg,
                           l->ins_rating, l->ins_tag, l->ins_meta};
    for (size_t i = 0; i < sizeof(sts) / sizeof(*sts); i++)
        sqlite3_finalize(sts[i]);
    if (l->db)
        sqlite3_close(l->db);
    for (int i = 0; i < l->nindex; i++)
        free(l->index_sql[i]);
    intset_free(&l->users);
    intset_free(&l->movies);
    intset_free(&l->pairs);
    writer_stop(l);
    free(l->bat[0]);
    free(l->bat[1]);
    free(l->st_id);
    free(l->st_n);
    free(l->st_sum);
    if (l->lock_fd >= 0)
        close(l->lock_fd); /* releases the flock */
    free(l->db_path);
    free(l->tmp_path);
    free(l->lock_path);
    free(l);
}

static void remove_tmp(const char *tmp)
{
    char p[4096];
    unlink(tmp);
    snprintf(p, sizeof(p), "%s-journal", tmp);
    unlink(p);
    snprintf(p, sizeof(p), "%s-wal", tmp);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", tmp);
    unlink(p);
}

static int prepare(struct store_loader *l, sqlite3_stmt **st, const char *sql, struct error *err)
{
    if (sqlite3_prepare_v3(l->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
        return store_db_error(err, l->db, "cannot prepare the import");
    return 0;
}

/* Saves and drops the secondary indexes and the triggers, so the load
 * appends to bare tables; store_loader_finish() fills what the triggers
 * would have and makes both again from the saved SQL. */
static int drop_secondary(struct store_loader *l, struct error *err)
{
    sqlite3_stmt *st;
    char drop[256];
    char *names[MAX_INDEXES], *types[MAX_INDEXES];
    int n = 0, rc, fail = 0;

    if (sqlite3_prepare_v2(l->db,
                           "SELECT name, sql, type FROM sqlite_master"
                           " WHERE type IN ('index', 'trigger') AND sql IS NOT NULL",
                           -1, &st, NULL) != SQLITE_OK)
        return store_db_error(err, l->db, "cannot list indexes");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < MAX_INDEXES) {
        names[n] = strdup((const char *)sqlite3_column_text(st, 0));
        l->index_sql[n] = strdup((const char *)sqlite3_column_text(st, 1));
        types[n] = strdup((const char *)sqlite3_column_text(st, 2));
        n++;
    }
    sqlite3_finalize(st);
    l->nindex = n;
    for (int i = 0; i < n; i++) {
        if (!fail && (!names[i] || !l->index_sql[i] || !types[i]))
            fail = error_set(err, ERR_NOMEM, "out of memory");
        if (!fail) {
            snprintf(drop, sizeof(drop), "DROP %s \"%s\"", types[i], names[i]);
            fail = store_exec(l->db, drop, "cannot prepare the import", err);
        }
        free(names[i]);
        free(types[i]);
    }
    return fail;
}

/* ---- batch_vtab: the current batch of ratings as a table ---------- */

struct batch_vtab {
    sqlite3_vtab base;
    struct store_loader *l; /* the module's aux pointer */
};

struct batch_cursor {
    sqlite3_vtab_cursor base;
    int i;
};

#define BV_LOADER(c) (((struct batch_vtab *)(c)->pVtab)->l)

static int bv_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                      sqlite3_vtab **out, char **errmsg)
{
    struct batch_vtab *vt;
    int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(user_id, movie_id, score, time)");
    if (rc != SQLITE_OK)
        return rc;
    vt = sqlite3_malloc(sizeof(*vt));
    if (!vt)
        return SQLITE_NOMEM;
    memset(vt, 0, sizeof(*vt));
    vt->l = aux;
    *out = &vt->base;
    return SQLITE_OK;
}

static int bv_disconnect(sqlite3_vtab *vt)
{
    sqlite3_free(vt);
    return SQLITE_OK;
}

static int bv_best_index(sqlite3_vtab *vt, sqlite3_index_info *info)
{
    info->estimatedCost = BATCH;
    info->estimatedRows = BATCH;
    return SQLITE_OK;
}

static int bv_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out)
{
    struct batch_cursor *c = sqlite3_malloc(sizeof(*c));
    if (!c)
        return SQLITE_NOMEM;
    memset(c, 0, sizeof(*c));
    *out = &c->base;
    return SQLITE_OK;
}

static int bv_close(sqlite3_vtab_cursor *c)
{
    sqlite3_free(c);
    return SQLITE_OK;
}

static int bv_filter(sqlite3_vtab_cursor *c, int idx, const char *idxstr, int argc,
                     sqlite3_value **argv)
{
    ((struct batch_cursor *)c)->i = 0;
    return SQLITE_OK;
}

static int bv_next(sqlite3_vtab_cursor *c)
{
    ((struct batch_cursor *)c)->i++;
    return SQLITE_OK;
}

static int bv_eof(sqlite3_vtab_cursor *c)
{
    const struct store_loader *l = BV_LOADER(c);
    return ((struct batch_cursor *)c)->i >= l->bat[!l->fill]->n;
}

static int bv_column(sqlite3_vtab_cursor *c, sqlite3_context *ctx, int col)
{
    const struct store_loader *l = BV_LOADER(c);
    const struct rating_batch *b = l->bat[!l->fill];
    int i = ((struct batch_cursor *)c)->i;
    switch (col) {
    case 0: sqlite3_result_int64(ctx, b->user[i]); break;
    case 1: sqlite3_result_int64(ctx, b->movie[i]); break;
    case 2: sqlite3_result_double(ctx, b->score[i]); break;
    default: sqlite3_result_int64(ctx, b->time[i]); break;
    }
    return SQLITE_OK;
}

static int bv_rowid(sqlite3_vtab_cursor *c, sqlite3_int64 *rowid)
{
    *rowid = ((struct batch_cursor *)c)->i;
    return SQLITE_OK;
}

static const sqlite3_module batch_module = {
    .iVersion = 1,
    .xConnect = bv_connect,
    .xBestIndex = bv_best_index,
    .xDisconnect = bv_disconnect,
    .xOpen = bv_open,
    .xClose = bv_close,
    .xFilter = bv_filter,
    .xNext = bv_next,
    .xEof = bv_eof,
    .xColumn = bv_column,
    .xRowid = bv_rowid,
};

/* ---- the writer thread ---------------------------------------------- */

static void *writer_main(void *arg)
{
    struct store_loader *l = arg;

    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->pending && !l->quit)
            pthread_cond_wait(&l->cv, &l->mu);
        if (!l->pending)
            break; /* quit, and nothing left to write */
        l->pending = 0;
        l->busy = 1;
        pthread_mutex_unlock(&l->mu);

        int rc = sqlite3_step(l->ins_rating);
        struct error e;
        if (rc != SQLITE_DONE)
            store_db_error(&e, l->db, "cannot write ratings");
        sqlite3_reset(l->ins_rating);

        pthread_mutex_lock(&l->mu);
        if (rc != SQLITE_DONE && l->wrc == ERR_OK) {
            l->wrc = e.code;
            l->werr = e;
        }
        l->busy = 0;
        pthread_cond_broadcast(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static int writer_start(struct store_loader *l, struct error *err)
{
    if (pthread_mutex_init(&l->mu, NULL) != 0)
        return error_set(err, ERR_NOMEM, "cannot start the import's writer");
    if (pthread_cond_init(&l->cv, NULL) != 0) {
        pthread_mutex_destroy(&l->mu);
        return error_set(err, ERR_NOMEM, "cannot start the import's writer");
    }
    if (pthread_create(&l->writer, NULL, writer_main, l) != 0) {
        pthread_cond_destroy(&l->cv);
        pthread_mutex_destroy(&l->mu);
        return error_set(err, ERR_NOMEM, "cannot start the import's writer");
    }
    l->writer_started = 1;
    return 0;
}

/* Waits until the writer holds no batch; returns its failure, if any. */
static int writer_wait(struct store_loader *l, struct error *err)
{
    int rc;
    if (!l->writer_started)
        return 0;
    pthread_mutex_lock(&l->mu);
    while (l->pending || l->busy)
        pthread_cond_wait(&l->cv, &l->mu);
    rc = l->wrc;
    if (rc && err)
        *err = l->werr;
    pthread_mutex_unlock(&l->mu);
    return rc;
}

static void writer_stop(struct store_loader *l)
{
    if (!l->writer_started)
        return;
    pthread_mutex_lock(&l->mu);
    l->quit = 1;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->writer, NULL);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    l->writer_started = 0;
}

/* Hands the filled batch to the writer and starts filling the other. */
static int flush_ratings(struct store_loader *l, struct error *err)
{
    int rc;
    if (l->bat[l->fill]->n == 0)
        return writer_wait(l, err);
    if ((rc = writer_wait(l, err)))
        return rc;
    pthread_mutex_lock(&l->mu);
    l->fill = !l->fill;
    l->bat[l->fill]->n = 0;
    l->pending = 1;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return 0;
}


int store_loader_begin(struct store_loader **out, const char *db_path, struct error *err)
{
    struct store_loader *l;
    int found;

    *out = NULL;
    l = calloc(1, sizeof(*l));
    if (!l)
        return error_set(err, ERR_NOMEM, "out of memory");
    l->lock_fd = -1;
    intset_init(&l->users);
    intset_init(&l->movies);
    l->now = (int64_t)time(NULL);
    l->db_path = strdup(db_path);
    l->tmp_path = str_concat(db_path, ".import");
    l->lock_path = str_concat(db_path, ".lock");
    if (!l->db_path || !l->tmp_path || !l->lock_path) {
        error_set(err, ERR_NOMEM, "out of memory");
        goto fail;
    }
    l->lock_fd = open(l->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (l->lock_fd < 0) {
        error_set(err, ERR_IO, "cannot open '%s': %s", l->lock_path, strerror(errno));
        goto fail;
    }
    if (flock(l->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        error_set(err, ERR_EXISTS, "another import into '%s' is running", db_path);
        goto fail;
    }
    remove_tmp(l->tmp_path); /* left by an import that was killed */
    /* NOMUTEX: the loader serialises its two threads itself (writer_wait). */
    if (sqlite3_open_v2(l->tmp_path, &l->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        error_set(err, ERR_DB, "cannot create '%s': %s", l->tmp_path,
                  l->db ? sqlite3_errmsg(l->db) : "out of memory");
        goto fail;
    }
    sqlite3_extended_result_codes(l->db, 1);
    /* Nothing here needs a journal: until the rename the file is only a draft. */
    if (store_exec(l->db,
             "PRAGMA page_size = 16384; PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
             "PRAGMA locking_mode = EXCLUSIVE;"
             "PRAGMA cache_size = -262144; PRAGMA foreign_keys = OFF; PRAGMA threads = 2;"
             /* every value was checked before it got here */
             "PRAGMA ignore_check_constraints = ON",
             "cannot prepare the import", err) ||
        migrate(l->db, &found, err) || drop_secondary(l, err))
        goto fail;
    if (sqlite3_create_module(l->db, "import_batch", &batch_module, l) != SQLITE_OK) {
        store_db_error(err, l->db, "cannot prepare the import");
        goto fail;
    }
    l->bat[0] = malloc(sizeof(*l->bat[0]));
    l->bat[1] = malloc(sizeof(*l->bat[1]));
    if (!l->bat[0] || !l->bat[1]) {
        error_set(err, ERR_NOMEM, "out of memory");
        goto fail;
    }
    l->bat[0]->n = l->bat[1]->n = 0;
    if (prepare(l, &l->ins_user,
                "INSERT INTO users (id, name, gender, age, occupation, zip, created)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)", err) ||
        prepare(l, &l->ins_movie,
                "INSERT INTO movies (id, title, year, release_date, imdb_id, imdb_url, tmdb_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)", err) ||
        prepare(l, &l->ins_genre, "INSERT INTO genres (id, name) VALUES (?, ?)", err) ||
        prepare(l, &l->ins_mg, "INSERT INTO movie_genres (movie_id, genre_id) VALUES (?, ?)", err) ||
        prepare(l, &l->ins_rating,
                "INSERT INTO ratings (user_id, movie_id, score, time)"
                " SELECT user_id, movie_id, score, time FROM import_batch", err) ||
        prepare(l, &l->ins_tag, "INSERT INTO tags (user_id, movie_id, tag, time) VALUES (?, ?, ?, ?)",
                err) ||
        prepare(l, &l->ins_meta, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", err))
        goto fail;
    if (store_exec(l->db, "BEGIN", "cannot start the import", err) || writer_start(l, err))
        goto fail;
    *out = l;
    return 0;
fail:
    if (l->db) {
        sqlite3_close(l->db);
        l->db = NULL;
    }
    if (l->tmp_path && l->lock_fd >= 0 && err && err->code != ERR_EXISTS)
        remove_tmp(l->tmp_path);
    {
        int code = err ? (int)err->code : ERR_DB;
        loader_free(l);
        return code;
    }
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s && *s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static int step_insert(struct store_loader *l, sqlite3_stmt *st, struct error *err)
{
    int rc = writer_wait(l, err);
    if (rc)
        return rc;
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return 0;
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return error_set(err, ERR_PARSE, "%s", sqlite3_errmsg(l->db));
    return store_db_error(err, l->db, "cannot write the store");
}

int store_loader_user(struct store_loader *l, const struct loader_user *u, struct error *err)
{
    char name[32], g[2] = {u->gender, 0};
    int rc;

    if (u->id < 1)
        return error_set(err, ERR_PARSE, "user id %lld is not positive", (long long)u->id);
    if (intset_has(&l->users, u->id))
        return error_set(err, ERR_EXISTS, "user %lld appears twice", (long long)u->id);
    snprintf(name, sizeof(name), "user%lld", (long long)u->id);
    sqlite3_bind_int64(l->ins_user, 1, u->id);
    sqlite3_bind_text(l->ins_user, 2, name, -1, SQLITE_TRANSIENT);
    bind_text_or_null(l->ins_user, 3, u->gender ? g : NULL);
    if (u->age > 0)
        sqlite3_bind_int(l->ins_user, 4, u->age);
    else
        sqlite3_bind_null(l->ins_user, 4);
    bind_text_or_null(l->ins_user, 5, u->occupation);
    bind_text_or_null(l->ins_user, 6, u->zip);
    sqlite3_bind_int64(l->ins_user, 7, l->now);
    if ((rc = step_insert(l, l->ins_user, err)))
        return rc;
    if (intset_add(&l->users, u->id) < 0)
        return error_set(err, ERR_NOMEM, "out of memory");
    return 0;
}

static int genre_find(const struct store_loader *l, const char *name)
{
    for (int i = 0; i < l->ngenres; i++)
        if (!strcmp(l->genre_name[i], name))
            return i + 1;
    return 0;
}

/* The id of a genre, adding it if new; store_loader_movie() has checked
 * that there is room. */
static int genre_id(struct store_loader *l, const char *name, struct error *err)
{
    int id = genre_find(l, name);
    if (id)
        return id;
    text_copy(l->genre_name[l->ngenres], sizeof(l->genre_name[0]), name, strlen(name));
    l->ngenres++;
    sqlite3_bind_int(l->ins_genre, 1, l->ngenres);
    sqlite3_bind_text(l->ins_genre, 2, name, -1, SQLITE_STATIC);
    if (step_insert(l, l->ins_genre, err))
        return -1;
    return l->ngenres;
}

int store_loader_movie(struct store_loader *l, const struct loader_movie *m, struct error *err)
{
    int rc, fresh = 0;

    if (m->id < 1)
        return error_set(err, ERR_PARSE, "movie id %lld is not positive", (long long)m->id);
    if (!m->title || !*m->title)
        return error_set(err, ERR_PARSE, "movie %lld has no title", (long long)m->id);
    if (intset_has(&l->movies, m->id))
        return error_set(err, ERR_EXISTS, "movie %lld appears twice", (long long)m->id);
    /* Check everything that can refuse the movie before writing any of it. */
    for (int i = 0; i < m->ngenres; i++)
        fresh += !genre_find(l, m->genres[i]);
    if (l->ngenres + fresh > MAX_GENRES)
        return error_set(err, ERR_PARSE, "more than %d different genres", MAX_GENRES);
    sqlite3_bind_int64(l->ins_movie, 1, m->id);
    sqlite3_bind_text(l->ins_movie, 2, m->title, -1, SQLITE_STATIC);
    if (m->year > 0)
        sqlite3_bind_int(l->ins_movie, 3, m->year);
    else
        sqlite3_bind_null(l->ins_movie, 3);
    bind_text_or_null(l->ins_movie, 4, m->release_date);
    bind_text_or_null(l->ins_movie, 5, m->imdb_id);
    bind_text_or_null(l->ins_movie, 6, m->imdb_url);
    if (m->tmdb_id > 0)
        sqlite3_bind_int64(l->ins_movie, 7, m->tmdb_id);
    else
        sqlite3_bind_null(l->ins_movie, 7);
    if ((rc = step_insert(l, l->ins_movie, err)))
        return rc;
    for (int i = 0; i < m->ngenres; i++) {
        int gid = genre_id(l, m->genres[i], err);
        if (gid < 0)
            return err ? (int)err->code : ERR_DB; /* only ERR_DB/ERR_NOMEM get here */
        sqlite3_bind_int64(l->ins_mg, 1, m->id);
        sqlite3_bind_int(l->ins_mg, 2, gid);
        if ((rc = step_insert(l, l->ins_mg, err)))
            return rc == ERR_PARSE ? ERR_DB : rc;
    }
    if (intset_add(&l->movies, m->id) < 0)
        return error_set(err, ERR_NOMEM, "out of memory");
    return 0;
}

static int check_refs(struct store_loader *l, int64_t user, int64_t movie, struct error *err)
{
    if (!intset_has(&l->users, user))
        return error_set(err, ERR_NOTFOUND, "unknown user %lld", (long long)user);
    if (!intset_has(&l->movies, movie))
        return error_set(err, ERR_NOTFOUND, "unknown movie %lld", (long long)movie);
    return 0;
}

/* Makes the stats arrays match the slots of l->movies again. */
static int stats_rebuild(struct store_loader *l, struct error *err)
{
    size_t cap = l->movies.cap;
    int64_t *id = calloc(cap ? cap : 1, sizeof(*id));
    int64_t *cnt = calloc(cap ? cap : 1, sizeof(*cnt));
    double *sum = calloc(cap ? cap : 1, sizeof(*sum));

    if (!id || !cnt || !sum) {
        free(id);
        free(cnt);
        free(sum);
        return error_set(err, ERR_NOMEM, "out of memory");
    }
    memcpy(id, l->movies.slot, cap * sizeof(*id));
    for (size_t i = 0; i < l->st_cap; i++)
        if (l->st_n[i]) {
            long k = intset_find(&l->movies, l->st_id[i]);
            cnt[k] = l->st_n[i];
            sum[k] = l->st_sum[i];
        }
    free(l->st_id);
    free(l->st_n);
    free(l->st_sum);
    l->st_id = id;
    l->st_n = cnt;
    l->st_sum = sum;
    l->st_cap = cap;
    return 0;
}

/* The input stopped being sorted: from now on remember every pair. */
static int go_unsorted(struct store_loader *l, struct error *err)
{
    sqlite3_stmt *st;
    int rc;

    l->unsorted = 1;
    if (flush_ratings(l, err) || writer_wait(l, err))
        return ERR_DB;
    if (sqlite3_prepare_v2(l->db, "SELECT user_id, movie_id FROM ratings", -1, &st, NULL) != SQLITE_OK)
        return store_db_error(err, l->db, "cannot read ratings");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (intset_add(&l->pairs, (sqlite3_column_int64(st, 0) << 31) | sqlite3_column_int64(st, 1)) < 0) {
            sqlite3_finalize(st);
            return error_set(err, ERR_NOMEM, "out of memory");
        }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return store_db_error(err, l->db, "cannot read ratings");
    return 0;
}

int store_loader_rating(struct store_loader *l, int64_t user, int64_t movie, double score,
                        int64_t time, struct error *err)
{
    long slot;
    int rc;

    if (user != l->last_user && !intset_has(&l->users, user))
        return error_set(err, ERR_NOTFOUND, "unknown user %lld", (long long)user);
    slot = intset_find(&l->movies, movie);
    if (slot < 0)
        return error_set(err, ERR_NOTFOUND, "unknown movie %lld", (long long)movie);
    if (!(score >= 0.5 && score <= 5))
        return error_set(err, ERR_PARSE, "rating %g is outside 0.5..5", score);
    if (!l->unsorted && (user < l->last_user || (user == l->last_user && movie < l->last_movie)) &&
        (rc = go_unsorted(l, err)))
        return rc;
    if (l->unsorted) {
        rc = intset_add(&l->pairs, (user << 31) | movie);
        if (rc < 0)
            return error_set(err, ERR_NOMEM, "out of memory");
        if (rc == 0)
            return error_set(err, ERR_EXISTS, "user %lld rated movie %lld twice", (long long)user,
                             (long long)movie);
    } else {
        if (user == l->last_user && movie == l->last_movie)
            return error_set(err, ERR_EXISTS, "user %lld rated movie %lld twice", (long long)user,
                             (long long)movie);
        l->last_user = user;
        l->last_movie = movie;
    }
    if (l->st_cap != l->movies.cap && (rc = stats_rebuild(l, err)))
        return rc;
    l->st_n[slot]++;
    l->st_sum[slot] += score;
    {
        struct rating_batch *b = l->bat[l->fill];
        b->user[b->n] = user;
        b->movie[b->n] = movie;
        b->score[b->n] = score;
        b->time[b->n] = time;
        if (++b->n == BATCH)
            return flush_ratings(l, err);
    }
    return 0;
}

int store_loader_tag(struct store_loader *l, int64_t user, int64_t movie, const char *tag,
                     int64_t time, struct error *err)
{
    int rc;
    if ((rc = check_refs(l, user, movie, err)))
        return rc;
    if (!tag || !*tag)
        return error_set(err, ERR_PARSE, "empty tag");
    sqlite3_bind_int64(l->ins_tag, 1, user);
    sqlite3_bind_int64(l->ins_tag, 2, movie);
    sqlite3_bind_text(l->ins_tag, 3, tag, -1, SQLITE_STATIC);
    sqlite3_bind_int64(l->ins_tag, 4, time);
    return step_insert(l, l->ins_tag, err);
}

int store_loader_has_user(struct store_loader *l, int64_t id)
{
    return intset_has(&l->users, id);
}

int store_loader_has_movie(struct store_loader *l, int64_t id)
{
    return intset_has(&l->movies, id);
}

int store_loader_meta(struct store_loader *l, const char *key, const char *value,
                      struct error *err)
{
    sqlite3_bind_text(l->ins_meta, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(l->ins_meta, 2, value, -1, SQLITE_STATIC);
    return step_insert(l, l->ins_meta, err);
}

/* The old store may have a write-ahead log; fold it into the file and make
 * sure it is gone, so it can never be replayed onto the new file. */
static int retire_old(const char *db_path, struct error *err)
{
    char wal[4096];
    sqlite3 *db = NULL;

    if (access(db_path, F_OK) != 0)
        return 0;
    snprintf(wal, sizeof(wal), "%s-wal", db_path);
    if (access(wal, F_OK) == 0) {
        if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK)
            sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
        sqlite3_close(db);
        if (access(wal, F_OK) == 0)
            return error_set(err, ERR_EXISTS,
                             "the store '%s' is in use by another process (a running server?); "
                             "stop it and import again",
                             db_path);
    }
    return 0;
}

static int write_movie_stats(struct store_loader *l, struct error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(l->db,
                           "INSERT INTO movie_stats (movie_id, ratings, score_sum) VALUES (?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK)
        return store_db_error(err, l->db, "cannot write movie stats");
    for (size_t i = 0; i < l->st_cap; i++) {
        if (!l->st_n[i])
            continue;
        sqlite3_bind_int64(st, 1, l->st_id[i]);
        sqlite3_bind_int64(st, 2, l->st_n[i]);
        sqlite3_bind_double(st, 3, l->st_sum[i]);
        if (sqlite3_step(st) != SQLITE_DONE) {
            sqlite3_finalize(st);
            return store_db_error(err, l->db, "cannot write movie stats");
        }
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return 0;
}

int store_loader_finish(struct store_loader *l, struct error *err)
{
    char ts[32], *dir = NULL, *dcopy = NULL;
    int rc = ERR_DB;

    snprintf(ts, sizeof(ts), "%lld", (long long)l->now);
    if (flush_ratings(l, err) || writer_wait(l, err) ||
        store_loader_meta(l, "imported_at", ts, err) ||
        write_movie_stats(l, err))
        goto fail;
    writer_stop(l); /* every batch is in; the connection is ours alone now */
    if (store_exec(l->db, "INSERT INTO movies_fts(movies_fts) VALUES ('rebuild')",
             "cannot build the title index", err) ||
        store_exec(l->db, "COMMIT", "cannot finish the import", err))
        goto fail;
    for (int i = 0; i < l->nindex; i++)
        if (store_exec(l->db, l->index_sql[i], "cannot build the indexes", err))
            goto fail;
    if (store_exec(l->db, "PRAGMA ignore_check_constraints = OFF; PRAGMA analysis_limit = 2000; ANALYZE",
             "cannot analyze the store", err) ||
        store_exec(l->db, "PRAGMA locking_mode = NORMAL; PRAGMA journal_mode = WAL",
             "cannot finish the import", err))
        goto fail;
    {
        sqlite3_stmt *sts[] = {l->ins_user, l->ins_movie, l->ins_genre, l->ins_mg,
                               l->ins_rating, l->ins_tag, l->ins_meta};
        for (size_t i = 0; i < sizeof(sts) / sizeof(*sts); i++)
            sqlite3_finalize(sts[i]);
        l->ins_user = l->ins_movie = l->ins_genre = l->ins_mg = NULL;
        l->ins_rating = l->ins_tag = l->ins_meta = NULL;
    }
    if (sqlite3_close(l->db) != SQLITE_OK) {
        rc = store_db_error(err, l->db, "cannot close the new store");
        goto fail;
    }
    l->db = NULL;
    if ((rc = fs_fsync_path(l->tmp_path, err)) || (rc = retire_old(l->db_path, err)))
        goto fail;
    if (rename(l->tmp_path, l->db_path) < 0) {
        rc = error_set(err, ERR_IO, "cannot rename '%s' to '%s': %s", l->tmp_path, l->db_path,
                       strerror(errno));
        goto fail;
    }
    dcopy = strdup(l->db_path);
    if (dcopy) {
        dir = dirname(dcopy);
        fs_fsync_path(dir, NULL);
    }
    free(dcopy);
    loader_free(l);
    return 0;
fail:
    store_loader_abort(l);
    return err ? (int)err->code : rc;
}

void store_loader_abort(struct store_loader *l)
{
    if (!l)
        return;
    writer_stop(l);
    {
        sqlite3_stmt *sts[] = {l->ins_user, l->ins_movie, l->ins_genre, l->ins_mg,
                               l->ins_rating, l->ins_tag, l->ins_meta};
        for (size_t i = 0; i < sizeof(sts) / sizeof(*sts); i++)
            sqlite3_finalize(sts[i]);
        l->ins_user = l->ins_movie = l->ins_genre = l->ins_mg = NULL;
        l->ins_rating = l->ins_tag = l->ins_meta = NULL;
    }
    if (l->db) {
        sqlite3_close(l->db);
        l->db = NULL;
    }
    remove_tmp(l->tmp_path);
    loader_free(l);
}
