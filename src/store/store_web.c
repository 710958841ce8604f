/*
 * store_web.c - the web service's part of the SQLite backend (store.h,
 * "the web service"): accounts, sessions, interest tags, a user's ratings
 * and tags with the events they append, and browsing and searching
 * movies.
 *
 * Every value goes in through sqlite3_bind_*: user text never becomes SQL,
 * and a search text never becomes FTS5 syntax (search_query() makes each
 * word a quoted string). Fixed statements are prepared on first use and
 * kept in the handle (s->web, finalised by store_web_close()); each is
 * reset as soon as its caller is done with it. The statements of
 * store_movies_find(), whose SQL follows the query's shape (filters,
 * sort), are kept in the rest of s->web, the most recently used ones
 * (find_stmt()). Statements whose rows go to a callback are prepared per
 * call, so a callback may use the handle.
 *
 * Each write is one BEGIN IMMEDIATE transaction that also appends its row
 * to events; nothing is written when any part fails.
 */
#include "store.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../util/text.h"
#include "store_sqlite_internal.h"
#include "../util/banned.h"

#define INTERESTS_MAX 32     /* of each kind */
#define SEARCH_TEXT_MAX 256  /* bytes of a search text */
#define SEARCH_WORDS_MAX 32
#define WORD_MAX 64          /* code points of a word the typo tolerance looks at */
#define PAGE_MAX 100         /* the largest limit of a page */

/* ------------------------------------------------------------------ */
/* statements                                                          */

#define ACCOUNT_SELECT                                                                      \
    "SELECT id, name, coalesce(gender, ''), coalesce(age, 0), coalesce(occupation, ''),"    \
    " coalesce(zip, ''), created, coalesce(password_hash, '') FROM users"
#define MOVIE_SELECT                                                                        \
    "SELECT m.id, m.title, coalesce(m.year, 0), coalesce(m.release_date, ''),"              \
    " coalesce((SELECT group_concat(name, '|') FROM (SELECT g.name FROM movie_genres mg"    \
    "   JOIN genres g ON g.id = mg.genre_id WHERE mg.movie_id = m.id ORDER BY g.name)), '')," \
    " coalesce(m.imdb_id, ''), coalesce(m.imdb_url, ''), coalesce(m.tmdb_id, 0),"           \
    " coalesce(m.poster_url, ''), coalesce(ms.ratings, 0), coalesce(ms.score_sum, 0)"       \
    " FROM movies m LEFT JOIN movie_stats ms ON ms.movie_id = m.id"

enum q {
    Q_USER_EXISTS,
    Q_MOVIE_EXISTS,
    Q_EVENT,
    Q_NAME_TAKEN,
    Q_NEXT_ID,
    Q_ACCOUNT_INSERT,
    Q_ACCOUNT_BY_NAME,
    Q_ACCOUNT_BY_ID,
    Q_ACCOUNT_UPDATE,
    Q_SET_PASSWORD,
    Q_SESSIONS_END_ACCOUNT,
    Q_SESSION_INSERT,
    Q_SESSION_USER,
    Q_SESSION_DELETE,
    Q_SESSION_PURGE,
    Q_GENRE_BY_NAME,
    Q_INTERESTS_CLEAR,
    Q_INTEREST_INSERT,
    Q_RATE,
    Q_UNRATE,
    Q_TAG_FIND,
    Q_TAG_INSERT,
    Q_TAG_DELETE,
    Q_RATING_GET,
    Q_MOVIE_INFO,
    Q_FANS,
    Q_RATED_COUNT,
    Q_RATED_TIME,
    Q_RATED_SCORE,
    Q_RATED_TITLE,
    Q_GENRES,
    Q_FTS_ANY,
    Q_VOCAB,
    Q_FTS5_API,
    Q_N
};

/* The slots after the fixed statements cache store_movies_find()'s
 * statements, whose SQL depends on the query's shape (see find_stmt()). */
#define FIND_SLOTS (STORE_WEB_STMTS - Q_N)
_Static_assert(FIND_SLOTS >= 8, "raise STORE_WEB_STMTS");

static const char *const sql_of[Q_N] = {
    [Q_USER_EXISTS] = "SELECT 1 FROM users WHERE id = ?",
    [Q_MOVIE_EXISTS] = "SELECT 1 FROM movies WHERE id = ?",
    [Q_EVENT] = "INSERT INTO events (time, user_id, kind, movie_id, score, tag)"
                " VALUES (?, ?, ?, ?, ?, ?)",
    [Q_NAME_TAKEN] = "SELECT 1 FROM users WHERE name = ? COLLATE NOCASE",
    [Q_NEXT_ID] = "SELECT coalesce(max(id), 0) + 1 FROM users",
    [Q_ACCOUNT_INSERT] = "INSERT INTO users (id, name, password_hash, gender, age, occupation,"
                         " created) VALUES (?, ?, ?, ?, ?, ?, ?)",
    [Q_ACCOUNT_BY_NAME] = ACCOUNT_SELECT " WHERE name = ? COLLATE NOCASE",
    [Q_ACCOUNT_BY_ID] = ACCOUNT_SELECT " WHERE id = ?",
    [Q_ACCOUNT_UPDATE] = "UPDATE users SET gender = ?, age = ?, occupation = ?, zip = ?"
                         " WHERE id = ?",
    [Q_SET_PASSWORD] = "UPDATE users SET password_hash = ? WHERE name = ? COLLATE NOCASE",
    [Q_SESSIONS_END_ACCOUNT] =
        "DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE name = ? COLLATE NOCASE)",
    [Q_SESSION_INSERT] = "INSERT INTO sessions (token_hash, user_id, created, expires)"
                         " VALUES (?, ?, ?, ?)",
    [Q_SESSION_USER] = "SELECT user_id, expires FROM sessions WHERE token_hash = ? AND expires > ?",
    [Q_SESSION_DELETE] = "DELETE FROM sessions WHERE token_hash = ?",
    [Q_SESSION_PURGE] = "DELETE FROM sessions WHERE expires <= ?",
    [Q_GENRE_BY_NAME] = "SELECT id, name FROM genres WHERE name = ? COLLATE NOCASE"
                        " ORDER BY name = ? DESC LIMIT 1",
    [Q_INTERESTS_CLEAR] = "DELETE FROM user_interests WHERE user_id = ?",
    [Q_INTEREST_INSERT] = "INSERT INTO user_interests (user_id, kind, position, value)"
                          " VALUES (?, ?, ?, ?)",
    [Q_RATE] = "INSERT INTO ratings (user_id, movie_id, score, time) VALUES (?, ?, ?, ?)"
               " ON CONFLICT (user_id, movie_id) DO UPDATE SET score = excluded.score,"
               " time = excluded.time",
    [Q_UNRATE] = "DELETE FROM ratings WHERE user_id = ? AND movie_id = ?",
    [Q_TAG_FIND] = "SELECT 1 FROM tags WHERE user_id = ? AND movie_id = ? AND tag = ? COLLATE NOCASE",
    [Q_TAG_INSERT] = "INSERT INTO tags (user_id, movie_id, tag, time) VALUES (?, ?, ?, ?)",
    [Q_TAG_DELETE] = "DELETE FROM tags WHERE user_id = ? AND movie_id = ? AND tag = ? COLLATE NOCASE",
    [Q_RATING_GET] = "SELECT score, time FROM ratings WHERE user_id = ? AND movie_id = ?",
    [Q_MOVIE_INFO] = MOVIE_SELECT " WHERE m.id = ?",
    /* The order of the partial index ratings_fans (movie_id, score) WHERE
     * score >= 4, which also holds the key (user_id): no sort, however
     * many fans a movie has. The literal "score >= 4" lets SQLite use it. */
    [Q_FANS] = "SELECT user_id FROM ratings WHERE movie_id = ? AND score >= 4 AND score >= ?"
               " ORDER BY score DESC, user_id DESC LIMIT ?",
    [Q_RATED_COUNT] = "SELECT count(*) FROM ratings WHERE user_id = ?",
    [Q_RATED_TIME] = "SELECT movie_id, score, time FROM ratings WHERE user_id = ?"
                     " ORDER BY time DESC, movie_id DESC LIMIT ? OFFSET ?",
    [Q_RATED_SCORE] = "SELECT movie_id, score, time FROM ratings WHERE user_id = ?"
                      " ORDER BY score DESC, time DESC, movie_id DESC LIMIT ? OFFSET ?",
    [Q_RATED_TITLE] = "SELECT r.movie_id, r.score, r.time FROM ratings r"
                      " JOIN movies m ON m.id = r.movie_id WHERE r.user_id = ?"
                      " ORDER BY m.title COLLATE NOCASE, m.id LIMIT ? OFFSET ?",
    [Q_GENRES] = "SELECT g.name, count(mg.movie_id), coalesce(sum(ms.ratings), 0)"
                 "  FROM genres g LEFT JOIN movie_genres mg ON mg.genre_id = g.id"
                 "  LEFT JOIN movie_stats ms ON ms.movie_id = mg.movie_id"
                 " GROUP BY g.id ORDER BY g.name LIMIT ?",
    [Q_FTS_ANY] = "SELECT 1 FROM movies_fts WHERE movies_fts MATCH ? LIMIT 1",
    [Q_VOCAB] = "SELECT term, cnt FROM movies_fts_vocab",
    /* Hands out the connection's FTS5 API (see rank_fn_ready()); kept
     * prepared as the mark that movierec_collect() is registered. */
    [Q_FTS5_API] = "SELECT fts5(?)",
};

void store_web_close(struct store *s)
{
    for (int i = 0; i < STORE_WEB_STMTS; i++) {
        sqlite3_finalize(s->web[i]);
        s->web[i] = NULL;
    }
}

/* The cached statement id, prepared on first use. */
static int prep(struct store *s, enum q id, sqlite3_stmt **st, struct error *err)
{
    *st = NULL;
    if (!s->web[id] && sqlite3_prepare_v3(s->db, sql_of[id], -1, SQLITE_PREPARE_PERSISTENT,
                                          &s->web[id], NULL) != SQLITE_OK)
        return store_db_error(err, s->db, "cannot prepare a query");
    *st = s->web[id];
    return 0;
}

/* Makes a cached statement ready for its next use (and drops its
 * pointers to the caller's strings). */
static void done(sqlite3_stmt *st)
{
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

/* Steps st once: 1 a row, 0 done, or minus an error code (err set). */
static int step(struct store *s, sqlite3_stmt *st, const char *what, struct error *err)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    switch (rc) {
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
        return -error_set(err, ERR_EXISTS, "%s: %s", what, sqlite3_errmsg(s->db));
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return -error_set(err, ERR_NOTFOUND, "%s: %s", what, sqlite3_errmsg(s->db));
    default:
        return -store_db_error(err, s->db, what);
    }
}

/* Runs a cached write statement to its end and resets it: 0 or an error
 * code. *changes (may be NULL): the rows it changed. */
static int run(struct store *s, sqlite3_stmt *st, int64_t *changes, struct error *err)
{
    int rc = step(s, st, "cannot write the store", err);
    if (changes)
        *changes = sqlite3_changes64(s->db);
    done(st);
    return rc < 0 ? -rc : 0;
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *v)
{
    if (v && *v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void col_text(sqlite3_stmt *st, int i, char *out, size_t cap)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    int n = sqlite3_column_bytes(st, i);
    text_copy(out, cap, t ? t : "", t && n > 0 ? (size_t)n : 0);
}

static int begin(struct store *s, struct error *err)
{
    return store_exec(s->db, "BEGIN IMMEDIATE", "cannot write the store", err);
}

/* Commits when rc is 0, else (or when the commit fails) rolls back. */
static int finish(struct store *s, int rc, struct error *err)
{
    if (rc == 0 && (rc = store_exec(s->db, "COMMIT", "cannot write the store", err)) == 0)
        return 0;
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* 0 when a row with this id exists in users (Q_USER_EXISTS) or movies. */
static int exists(struct store *s, enum q id, int64_t key, struct error *err)
{
    sqlite3_stmt *st;
    int rc = prep(s, id, &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, key);
    rc = step(s, st, "cannot read the store", err);
    done(st);
    if (rc < 0)
        return -rc;
    if (rc == 0)
        return error_set(err, ERR_NOTFOUND, "no %s %lld", id == Q_USER_EXISTS ? "user" : "movie",
                         (long long)key);
    return 0;
}

/* Appends one row to events. movie 0 and tag NULL are stored as NULL;
 * score only for "rate". */
static int event(struct store *s, int64_t now, int64_t user, const char *kind, int64_t movie,
                 const double *score, const char *tag, struct error *err)
{
    sqlite3_stmt *st;
    int rc = prep(s, Q_EVENT, &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, user);
    sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
    if (movie)
        sqlite3_bind_int64(st, 4, movie);
    if (score)
        sqlite3_bind_double(st, 5, *score);
    bind_text_or_null(st, 6, tag);
    return run(s, st, NULL, err);
}

/* ------------------------------------------------------------------ */
/* validation                                                          */

/* 1 when s[0..n) is UTF-8 without control characters (C0, DEL, C1). */
static int clean_text(const char *s, size_t n)
{
    if (!text_utf8_valid(s, n))
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return 0;
        if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] <= 0x9f)
            return 0; /* U+0080..U+009F */
    }
    return 1;
}

static int check_name(const char *name, struct error *err)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0)
        return error_set(err, ERR_PARSE, "name is empty");
    if (n > STORE_NAME_MAX)
        return error_set(err, ERR_PARSE, "name is longer than %d bytes", STORE_NAME_MAX);
    if (!clean_text(name, n))
        return error_set(err, ERR_PARSE, "name is not UTF-8 text without control characters");
    if (name[0] == ' ' || name[n - 1] == ' ')
        return error_set(err, ERR_PARSE, "name begins or ends with a space");
    return 0;
}

static int check_hash(const char *pwhash, struct error *err)
{
    size_t n = pwhash ? strlen(pwhash) : 0;
    if (n >= STORE_HASH_MAX)
        return error_set(err, ERR_PARSE, "password hash is longer than %d bytes",
                         STORE_HASH_MAX - 1);
    if (!clean_text(pwhash ? pwhash : "", n))
        return error_set(err, ERR_PARSE, "password hash is not text");
    return 0;
}

/* gender 'M', 'F' or 0; age 1..150 or 0. */
static int check_person(char gender, int age, struct error *err)
{
    if (gender != 0 && gender != 'M' && gender != 'F')
        return error_set(err, ERR_PARSE, "gender must be 'M', 'F' or unset");
    if (age < 0 || age > 150)
        return error_set(err, ERR_PARSE, "age must be 1 to 150 or unset, not %d", age);
    return 0;
}

/* An optional text field (NULL or "": none) of at most cap - 1 bytes. */
static int check_field(const char *what, const char *v, size_t cap, struct error *err)
{
    size_t n = v ? strlen(v) : 0;
    if (n >= cap)
        return error_set(err, ERR_PARSE, "%s is longer than %zu bytes", what, cap - 1);
    if (!clean_text(v ? v : "", n))
        return error_set(err, ERR_PARSE, "%s is not UTF-8 text without control characters", what);
    return 0;
}

/* Trims tag's white space into out (STORE_TAG_MAX + 1 bytes) and checks it. */
static int check_tag(const char *tag, char *out, struct error *err)
{
    const char *p = tag ? tag : "";
    size_t n = strlen(p);

    text_trim(&p, &n);
    if (n == 0)
        return error_set(err, ERR_PARSE, "tag is empty");
    if (n > STORE_TAG_MAX)
        return error_set(err, ERR_PARSE, "tag is longer than %d bytes", STORE_TAG_MAX);
    if (!clean_text(p, n))
        return error_set(err, ERR_PARSE, "tag is not UTF-8 text without control characters");
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

static int check_score(double score, struct error *err)
{
    if (!(score >= 0.5 && score <= 5) || score * 2 != floor(score * 2))
        return error_set(err, ERR_PARSE, "score must be 0.5 to 5 in steps of 0.5, not %g", score);
    return 0;
}

static void bind_person(sqlite3_stmt *st, int i, char gender, int age)
{
    char g[2] = {gender, 0};
    if (gender)
        sqlite3_bind_text(st, i, g, 1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
    if (age > 0)
        sqlite3_bind_int(st, i + 1, age);
    else
        sqlite3_bind_null(st, i + 1);
}

/* ------------------------------------------------------------------ */
/* accounts                                                            */

int store_account_create(struct store *s, const char *name, const char *pwhash, char gender,
                         int age, const char *occupation, int64_t now, int64_t *id,
                         struct error *err)
{
    sqlite3_stmt *st = NULL;
    int64_t nid = 0;
    int rc;

    if ((rc = check_name(name, err)) || (rc = check_hash(pwhash, err)) ||
        (rc = check_person(gender, age, err)) ||
        (rc = check_field("occupation", occupation, sizeof(((struct store_account *)0)->occupation),
                          err)))
        return rc;
    if ((rc = begin(s, err)))
        return rc;
    if ((rc = prep(s, Q_NAME_TAKEN, &st, err)))
        goto out;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = step(s, st, "cannot read users", err);
    done(st);
    if (rc < 0) {
        rc = -rc;
        goto out;
    }
    if (rc == 1) {
        rc = error_set(err, ERR_EXISTS, "the name '%s' is taken", name);
        goto out;
    }
    if ((rc = prep(s, Q_NEXT_ID, &st, err)))
        goto out;
    rc = step(s, st, "cannot read users", err);
    nid = sqlite3_column_int64(st, 0);
    done(st);
    if (rc < 0) {
        rc = -rc;
        goto out;
    }
    if ((rc = prep(s, Q_ACCOUNT_INSERT, &st, err)))
        goto out;
    sqlite3_bind_int64(st, 1, nid);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    bind_text_or_null(st, 3, pwhash);
    bind_person(st, 4, gender, age);
    bind_text_or_null(st, 6, occupation);
    sqlite3_bind_int64(st, 7, now);
    if ((rc = run(s, st, NULL, err)))
        goto out;
    rc = event(s, now, nid, "register", 0, NULL, NULL, err);
out:
    rc = finish(s, rc, err);
    if (rc == 0 && id)
        *id = nid;
    return rc;
}

static int account_read(struct store *s, sqlite3_stmt *st, struct store_account *a,
                        char *pwhash, int cap, struct error *err)
{
    const char *g, *h;
    int rc = step(s, st, "cannot read users", err);

    if (rc <= 0)
        return -rc; /* 0: none (the caller says what) */
    memset(a, 0, sizeof(*a));
    a->id = sqlite3_column_int64(st, 0);
    col_text(st, 1, a->name, sizeof(a->name));
    g = (const char *)sqlite3_column_text(st, 2);
    a->gender = g && (g[0] == 'M' || g[0] == 'F') ? g[0] : 0;
    a->age = sqlite3_column_int(st, 3);
    col_text(st, 4, a->occupation, sizeof(a->occupation));
    col_text(st, 5, a->zip, sizeof(a->zip));
    a->created = sqlite3_column_int64(st, 6);
    h = (const char *)sqlite3_column_text(st, 7);
    a->has_password = h && *h;
    if (pwhash && cap > 0) {
        size_t n = h ? strlen(h) : 0;
        if (n >= (size_t)cap)
            return error_set(err, ERR_USAGE, "the password hash needs %zu bytes, not %d", n + 1,
                             cap);
        memcpy(pwhash, h ? h : "", n);
        pwhash[n] = '\0';
    }
    return 0;
}

int store_account_by_name(struct store *s, const char *name, struct store_account *a,
                          char *pwhash, int cap, struct error *err)
{
    sqlite3_stmt *st;
    int rc;

    if (check_name(name, NULL))
        return error_set(err, ERR_NOTFOUND, "no such account");
    if ((rc = prep(s, Q_ACCOUNT_BY_NAME, &st, err)))
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    a->id = 0;
    rc = account_read(s, st, a, pwhash, cap, err);
    done(st);
    if (rc == 0 && a->id == 0)
        return error_set(err, ERR_NOTFOUND, "no account '%s'", name);
    return rc;
}

int store_account_get(struct store *s, int64_t id, struct store_account *a, struct error *err)
{
    sqlite3_stmt *st;
    int rc;

    if ((rc = prep(s, Q_ACCOUNT_BY_ID, &st, err)))
        return rc;
    sqlite3_bind_int64(st, 1, id);
    a->id = 0;
    rc = account_read(s, st, a, NULL, 0, err);
    done(st);
    if (rc == 0 && a->id == 0)
        return error_set(err, ERR_NOTFOUND, "no user %lld", (long long)id);
    return rc;
}

int store_account_update(struct store *s, int64_t id, char gender, int age,
                         const char *occupation, const char *zip, int64_t now,
                         struct error *err)
{
    sqlite3_stmt *st;
    int64_t changed = 0;
    int rc;

    if ((rc = check_person(gender, age, err)) ||
        (rc = check_field("occupation", occupation, sizeof(((struct store_account *)0)->occupation),
                          err)) ||
        (rc = check_field("zip", zip, sizeof(((struct store_account *)0)->zip), err)))
        return rc;
    if ((rc = begin(s, err)))
        return rc;
    if ((rc = prep(s, Q_ACCOUNT_UPDATE, &st, err)))
        goto out;
    bind_person(st, 1, gender, age);
    bind_text_or_null(st, 3, occupation);
    bind_text_or_null(st, 4, zip);
    sqlite3_bind_int64(st, 5, id);
    if ((rc = run(s, st, &changed, err)))
        goto out;
    if (changed == 0) {
        rc = error_set(err, ERR_NOTFOUND, "no user %lld", (long long)id);
        goto out;
    }
    rc = event(s, now, id, "profile", 0, NULL, NULL, err);
out:
    return finish(s, rc, err);
}

int store_account_set_password(struct store *s, const char *name, const char *pwhash,
                               struct error *err)
{
    sqlite3_stmt *st;
    int64_t changed = 0;
    int rc;

    if (check_name(name, NULL))
        return error_set(err, ERR_NOTFOUND, "no such account");
    if ((rc = check_hash(pwhash, err)) || (rc = begin(s, err)))
        return rc;
    if ((rc = prep(s, Q_SET_PASSWORD, &st, err)))
        goto out;
    bind_text_or_null(st, 1, pwhash);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    if ((rc = run(s, st, &changed, err)))
        goto out;
    if (changed == 0) {
        rc = error_set(err, ERR_NOTFOUND, "no account '%s'", name);
        goto out;
    }
    /* a new password ends every session of the account */
    if ((rc = prep(s, Q_SESSIONS_END_ACCOUNT, &st, err)))
        goto out;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = run(s, st, NULL, err);
out:
    return finish(s, rc, err);
}

/* ------------------------------------------------------------------ */
/* sessions                                                            */

int store_session_create(struct store *s, const unsigned char hash[32], int64_t user,
                         int64_t now, int64_t expires, struct error *err)
{
    sqlite3_stmt *st;
    int rc;

    if (expires <= now)
        return error_set(err, ERR_USAGE, "a session must expire after it starts");
    if ((rc = exists(s, Q_USER_EXISTS, user, err)) || (rc = prep(s, Q_SESSION_INSERT, &st, err)))
        return rc;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, user);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int64(st, 4, expires);
    rc = run(s, st, NULL, err);
    if (rc == ERR_EXISTS)
        return error_set(err, ERR_EXISTS, "the session exists already");
    return rc;
}

int store_session_user(struct store *s, const unsigned char hash[32], int64_t now,
                       int64_t *user, struct error *err)
{
    int64_t expires;
    return store_session_expiry(s, hash, now, user, &expires, err);
}

int store_session_expiry(struct store *s, const unsigned char hash[32], int64_t now,
                         int64_t *user, int64_t *expires, struct error *err)
{
    sqlite3_stmt *st;
    int rc;

    if ((rc = prep(s, Q_SESSION_USER, &st, err)))
        return rc;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    rc = step(s, st, "cannot read sessions", err);
    if (rc == 1) {
        *user = sqlite3_column_int64(st, 0);
        *expires = sqlite3_column_int64(st, 1);
    }
    done(st);
    if (rc < 0)
        return -rc;
    if (rc == 0)
        return error_set(err, ERR_NOTFOUND, "no such session, or it has expired");
    return 0;
}

int store_session_delete(struct store *s, const unsigned char hash[32], struct error *err)
{
    sqlite3_stmt *st;
    int rc;

    if ((rc = prep(s, Q_SESSION_DELETE, &st, err)))
        return rc;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    return run(s, st, NULL, err);
}

int store_session_purge(struct store *s, int64_t now, int64_t *n, struct error *err)
{
    sqlite3_stmt *st;
    int64_t changed = 0;
    int rc;

    if ((rc = prep(s, Q_SESSION_PURGE, &st, err)))
        return rc;
    sqlite3_bind_int64(st, 1, now);
    rc = run(s, st, &changed, err);
    if (n)
        *n = rc ? 0 : changed;
    return rc;
}

/* ------------------------------------------------------------------ */
/* interests                                                           */

/* The id of the genre called name (ignoring ASCII case) and, when canon
 * is not NULL, its spelling in the store (cap bytes): 0, ERR_NOTFOUND or
 * ERR_DB. */
static int genre_lookup(struct store *s, const char *name, int64_t *id, char *canon, size_t cap,
                        struct error *err)
{
    sqlite3_stmt *st;
    int rc;

    if ((rc = prep(s, Q_GENRE_BY_NAME, &st, err)))
        return rc;
    sqlite3_bind_text(st, 1, name ? name : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name ? name : "", -1, SQLITE_STATIC);
    rc = step(s, st, "cannot read genres", err);
    if (rc == 1) {
        *id = sqlite3_column_int64(st, 0);
        if (canon)
            col_text(st, 1, canon, cap);
    }
    done(st);
    if (rc < 0)
        return -rc;
    if (rc == 0) {
        if (!name || check_field("genre", name, 64, NULL))
            return error_set(err, ERR_NOTFOUND, "no such genre");
        return error_set(err, ERR_NOTFOUND, "no genre '%s'", name);
    }
    return 0;
}

static int interest_insert(struct store *s, int64_t user, enum store_interest kind, int pos,
                           const char *value, struct error *err)
{
    sqlite3_stmt *st;
    int rc = prep(s, Q_INTEREST_INSERT, &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, user);
    sqlite3_bind_int(st, 2, (int)kind);
    sqlite3_bind_int(st, 3, pos);
    sqlite3_bind_text(st, 4, value, -1, SQLITE_TRANSIENT);
    return run(s, st, NULL, err);
}

int store_interests_set(struct store *s, int64_t user, const char *const *genres, int ngenres,
                        const char *const *tags, int ntags, int64_t now, struct error *err)
{
    char tag[INTERESTS_MAX][STORE_TAG_MAX + 1];
    int64_t gid[INTERESTS_MAX];
    sqlite3_stmt *st;
    int rc, n = 0;

    if (ngenres < 0 || ntags < 0 || (ngenres && !genres) || (ntags && !tags))
        return error_set(err, ERR_USAGE, "bad list of interests");
    if (ngenres > INTERESTS_MAX)
        return error_set(err, ERR_PARSE, "more than %d favourite genres", INTERESTS_MAX);
    if (ntags > INTERESTS_MAX)
        return error_set(err, ERR_PARSE, "more than %d interest tags", INTERESTS_MAX);
    for (int i = 0; i < ntags; i++)
        if ((rc = check_tag(tags[i], tag[i], err)))
            return rc;
    if ((rc = begin(s, err)))
        return rc;
    if ((rc = exists(s, Q_USER_EXISTS, user, err)) || (rc = prep(s, Q_INTERESTS_CLEAR, &st, err)))
        goto out;
    sqlite3_bind_int64(st, 1, user);
    if ((rc = run(s, st, NULL, err)))
        goto out;
    /* A genre or tag given twice is kept once, where it came first. */
    for (int i = 0; i < ngenres; i++) {
        char name[256];
        int64_t id = 0;
        int dup = 0;
        if ((rc = genre_lookup(s, genres[i], &id, name, sizeof(name), err)))
            goto out;
        for (int k = 0; k < n; k++)
            dup |= gid[k] == id;
        if (dup)
            continue;
        gid[n] = id;
        if ((rc = interest_insert(s, user, STORE_INTEREST_GENRE, n++, name, err)))
            goto out;
    }
    n = 0;
    for (int i = 0; i < ntags; i++) {
        int dup = 0;
        for (int k = 0; k < i; k++)
            dup |= strcasecmp(tag[k], tag[i]) == 0;
        if (dup)
            continue;
        if ((rc = interest_insert(s, user, STORE_INTEREST_TAG, n++, tag[i], err)))
            goto out;
    }
    rc = event(s, now, user, "interests", 0, NULL, NULL, err);
out:
    return finish(s, rc, err);
}

int store_interests_get(struct store *s, int64_t user, store_interest_fn fn, void *ctx,
                        struct error *err)
{
    sqlite3_stmt *st;
    int rc, stop = 0;

    if (sqlite3_prepare_v2(s->db,
                           "SELECT kind, value FROM user_interests WHERE user_id = ?"
                           " ORDER BY kind, position",
                           -1, &st, NULL) != SQLITE_OK)
        return store_db_error(err, s->db, "cannot read interests");
    sqlite3_bind_int64(st, 1, user);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 1);
        if ((stop = fn(ctx, (enum store_interest)sqlite3_column_int(st, 0), v ? v : "")))
            break;
    }
    if (!stop && rc != SQLITE_DONE)
        stop = store_db_error(err, s->db, "cannot read interests");
    sqlite3_finalize(st);
    return stop;
}

/* ------------------------------------------------------------------ */
/* ratings and tags                                                    */

int store_rate(struct store *s, int64_t user, int64_t movie, double score, int64_t now,
               struct error *err)
{
    sqlite3_stmt *st;
    int rc;

    if ((rc = check_score(score, err)) || (rc = begin(s, err)))
        return rc;
    if ((rc = exists(s, Q_USER_EXISTS, user, err)) || (rc = exists(s, Q_MOVIE_EXISTS, movie, err)) ||
        (rc = prep(s, Q_RATE, &st, err)))
        goto out;
    sqlite3_bind_int64(st, 1, user);
    sqlite3_bind_int64(st, 2, movie);
    sqlite3_bind_double(st, 3, score);
    sqlite3_bind_int64(st, 4, now);
    if ((rc = run(s, st, NULL, err)))
        goto out;
    rc = event(s, now, user, "rate", movie, &score, NULL, err);
out:
    return finish(s, rc, err);
}

int store_unrate(struct store *s, int64_t user, int64_t movie, int64_t now, struct error *err)
{
    sqlite3_stmt *st;
    int64_t changed = 0;
    int rc;

    if ((rc = begin(s, err)))
        return rc;
    if ((rc = prep(s, Q_UNRATE, &st, err)))
        goto out;
    sqlite3_bind_int64(st, 1, user);
    sqlite3_bind_int64(st, 2, movie);
    if ((rc = run(s, st, &changed, err)))
        goto out;
    if (changed == 0) {
        rc = error_set(err, ERR_NOTFOUND, "user %lld has not rated movie %lld", (long long)user,
                       (long long)movie);
        goto out;
    }
    rc = event(s, now, user, "unrate", movie, NULL, NULL, err);
out:
    return finish(s, rc, err);
}

int store_tag_add(struct store *s, int64_t user, int64_t movie, const char *tag, int64_t now,
                  struct error *err)
{
    char t[STORE_TAG_MAX + 1];
    sqlite3_stmt *st;
    int rc;

    if ((rc = check_tag(tag, t, err)) || (rc = begin(s, err)))
        return rc;
    if ((rc = exists(s, Q_USER_EXISTS, user, err)) || (rc = exists(s, Q_MOVIE_EXISTS, movie, err)) ||
        (rc = prep(s, Q_TAG_FIND, &st, err)))
        goto out;
    sqlite3_bind_int64(st, 1, user);
    sqlite3_bind_int64(st, 2, movie);
    sqlite3_bind_text(st, 3, t, -1, SQLITE_STATIC);
    rc = step(s, st, "cannot read tags", err);
    done(st);
    if (rc < 0) {
        rc = -rc;
        goto out;
    }
    if (rc == 1) {
        rc = error_set(err, ERR_EXISTS, "user %lld already tagged movie %lld '%s'",
                       (long long)user, (long long)movie, t);
        goto out;
    }
    if ((rc = prep(s, Q_TAG_INSERT, &st, err)))
        goto out;
    sqlite3_bind_int64(st, 1, user);
    sqlite3_bind_int64(st, 2, movie);
    sqlite3_bind_text(st, 3, t, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    if ((rc = run(s, st, NULL, err)))
        goto out;
    rc = event(s, now, user, "tag", movie, NULL, t, err);
out:
    return finish(s, rc, err);
}

int store_tag_remove(struct store *s, int64_t user, int64_t movie, const char *tag,
                     int64_t now, struct error *err)
{
    char t[STORE_TAG_MAX + 1];
    sqlite3_stmt *st;
    int64_t changed = 0;
    int rc;

    if (check_tag(tag, t, NULL))
        return error_set(err, ERR_NOTFOUND, "no such tag");
    if ((rc = begin(s, err)))
        return rc;
    if ((rc = prep(s, Q_TAG_DELETE, &st, err)))
        goto out;
    sqlite3_bind_int64(st, 1, user);
    sqlite3_bind_int64(st, 2, movie);
    sqlite3_bind_text(st, 3, t, -1, SQLITE_STATIC);
    if ((rc = run(s, st, &changed, err)))
        goto out;
    if (changed == 0) {
        rc = error_set(err, ERR_NOTFOUND, "user %lld has not tagged movie %lld '%s'",
                       (long long)user, (long long)movie, t);
        goto out;
    }
    rc = event(s, now, user, "untag", movie, NULL, t, err);
out:
    return finish(s, rc, err);
}

int store_rating_get(struct store *s, int64_t user, int64_t movie, double *score,
                     int64_t *time, struct error *err)
{
    sqlite3_stmt *st;
    int rc;

    if ((rc = prep(s, Q_RATING_GET, &st, err)))
        return rc;
    sqlite3_bind_int64(st, 1, user);
    sqlite3_bind_int64(st, 2, movie);
    rc = step(s, st, "cannot read ratings", err);
    if (rc == 1) {
        if (score)
            *score = sqlite3_column_double(st, 0);
        if (time)
            *time = sqlite3_column_int64(st, 1);
    }
    done(st);
    if (rc < 0)
        return -rc;
    if (rc == 0)
        return error_set(err, ERR_NOTFOUND, "user %lld has not rated movie %lld", (long long)user,
                         (long long)movie);
    return 0;
}

int store_user_tags(struct store *s, int64_t user, int64_t movie, store_tag_fn fn, void *ctx,
                    struct error *err)
{
    sqlite3_stmt *st;
    int rc, stop = 0;

    if (sqlite3_prepare_v2(s->db,
                           "SELECT movie_id, tag, time FROM tags WHERE user_id = ?1"
                           " AND (?2 = 0 OR movie_id = ?2) ORDER BY time DESC, id DESC",
                           -1, &st, NULL) != SQLITE_OK)
        return store_db_error(err, s->db, "cannot read tags");
    sqlite3_bind_int64(st, 1, user);
    sqlite3_bind_int64(st, 2, movie);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 1);
        if ((stop = fn(ctx, sqlite3_column_int64(st, 0), t ? t : "", sqlite3_column_int64(st, 2))))
            break;
    }
    if (!stop && rc != SQLITE_DONE)
        stop = store_db_error(err, s->db, "cannot read tags");
    sqlite3_finalize(st);
    return stop;
}

int store_each_event(struct store *s, int64_t after, store_event_fn fn, void *ctx,
                     struct error *err)
{
    sqlite3_stmt *st;
    int rc, stop = 0;

    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, time, user_id, kind, coalesce(movie_id, 0),"
                           " coalesce(score, 0), coalesce(tag, '') FROM events WHERE id > ?"
                           " ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        return store_db_error(err, s->db, "cannot read events");
    sqlite3_bind_int64(st, 1, after);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_event e;
        const char *k = (const char *)sqlite3_column_text(st, 3);
        const char *t = (const char *)sqlite3_column_text(st, 6);
        e.id = sqlite3_column_int64(st, 0);
        e.time = sqlite3_column_int64(st, 1);
        e.user = sqlite3_column_int64(st, 2);
        e.kind = k ? k : "";
        e.movie = sqlite3_column_int64(st, 4);
        e.score = sqlite3_column_double(st, 5);
        e.tag = t ? t : "";
        if ((stop = fn(ctx, &e)))
            break;
    }
    if (!stop && rc != SQLITE_DONE)
        stop = store_db_error(err, s->db, "cannot read events");
    sqlite3_finalize(st);
    return stop;
}

/* ------------------------------------------------------------------ */
/* movies                                                              */

/* A row of MOVIE_SELECT into m. */
static void movie_row(sqlite3_stmt *st, struct store_movie_info *m)
{
    memset(m, 0, sizeof(*m));
    m->id = sqlite3_column_int64(st, 0);
    col_text(st, 1, m->title, sizeof(m->title));
    m->year = sqlite3_column_int(st, 2);
    col_text(st, 3, m->release_date, sizeof(m->release_date));
    col_text(st, 4, m->genres, sizeof(m->genres));
    col_text(st, 5, m->imdb_id, sizeof(m->imdb_id));
    col_text(st, 6, m->imdb_url, sizeof(m->imdb_url));
    m->tmdb_id = sqlite3_column_int64(st, 7);
    col_text(st, 8, m->poster_url, sizeof(m->poster_url));
    m->nratings = sqlite3_column_int64(st, 9);
    m->mean = m->nratings > 0 ? sqlite3_column_double(st, 10) / (double)m->nratings : 0;
}

int store_each_movie_info(struct store *s, store_movie_info_fn fn, void *ctx, struct error *err)
{
    sqlite3_stmt *st;
    struct store_movie_info m;
    int rc = 0, stop = 0;
    if (sqlite3_prepare_v2(s->db, MOVIE_SELECT " ORDER BY m.id", -1, &st, NULL) != SQLITE_OK)
        return store_db_error(err, s->db, "cannot read movies");
    while (!stop && (rc = step(s, st, "cannot read movies", err)) == 1) {
        movie_row(st, &m);
        stop = fn(ctx, &m);
    }
    sqlite3_finalize(st);
    if (stop)
        return stop;
    return rc < 0 ? -rc : 0;
}

int store_movie_info(struct store *s, int64_t id, struct store_movie_info *m,
                     struct error *err)
{
    sqlite3_stmt *st;
    int rc;

    if ((rc = prep(s, Q_MOVIE_INFO, &st, err)))
        return rc;
    sqlite3_bind_int64(st, 1, id);
    rc = step(s, st, "cannot read movies", err);
    if (rc == 1)
        movie_row(st, m);
    done(st);
    if (rc < 0)
        return -rc;
    if (rc == 0)
        return error_set(err, ERR_NOTFOUND, "no movie %lld", (long long)id);
    return 0;
}

int store_movie_fans(struct store *s, int64_t movie, double min_score, int64_t *users, int max,
                     int *n, struct error *err)
{
    sqlite3_stmt *st;
    int rc;

    *n = 0;
    if (max < 0)
        return error_set(err, ERR_USAGE, "max must not be negative, not %d", max);
    if ((rc = exists(s, Q_MOVIE_EXISTS, movie, err)) || (rc = prep(s, Q_FANS, &st, err)))
        return rc;
    sqlite3_bind_int64(st, 1, movie);
    sqlite3_bind_double(st, 2, min_score);
    sqlite3_bind_int(st, 3, max);
    while ((rc = step(s, st, "cannot read ratings", err)) == 1 && *n < max)
        users[(*n)++] = sqlite3_column_int64(st, 0);
    done(st);
    return rc < 0 ? -rc : 0;
}

static int check_page(int offset, int limit, struct error *err)
{
    if (limit < 1 || limit > PAGE_MAX)
        return error_set(err, ERR_USAGE, "limit must be 1 to %d, not %d", PAGE_MAX, limit);
    if (offset < 0)
        return error_set(err, ERR_USAGE, "offset must not be negative, not %d", offset);
    return 0;
}

int store_user_rated(struct store *s, int64_t user, enum store_rated_sort sort, int offset,
                     int limit, struct store_rated *out, int *n, int64_t *total,
                     struct error *err)
{
    int64_t ids[PAGE_MAX];
    sqlite3_stmt *st;
    enum q id;
    int rc, k = 0;

    *n = 0;
    *total = 0;
    switch (sort) {
    case STORE_RATED_TIME: id = Q_RATED_TIME; break;
    case STORE_RATED_SCORE: id = Q_RATED_SCORE; break;
    case STORE_RATED_TITLE: id = Q_RATED_TITLE; break;
    default: return error_set(err, ERR_USAGE, "unknown sort %d", (int)sort);
    }
    if ((rc = check_page(offset, limit, err)) || (rc = exists(s, Q_USER_EXISTS, user, err)) ||
        (rc = prep(s, Q_RATED_COUNT, &st, err)))
        return rc;
    sqlite3_bind_int64(st, 1, user);
    rc = step(s, st, "cannot read ratings", err);
    if (rc == 1)
        *total = sqlite3_column_int64(st, 0);
    done(st);
    if (rc < 0)
        return -rc;
    if ((rc = prep(s, id, &st, err)))
        return rc;
    sqlite3_bind_int64(st, 1, user);
    sqlite3_bind_int(st, 2, limit);
    sqlite3_bind_int(st, 3, offset);
    while ((rc = step(s, st, "cannot read ratings", err)) == 1 && k < limit) {
        ids[k] = sqlite3_column_int64(st, 0);
        out[k].score = sqlite3_column_double(st, 1);
        out[k].time = sqlite3_column_int64(st, 2);
        k++;
    }
    done(st);
    if (rc < 0)
        return -rc;
    for (int i = 0; i < k; i++)
        if ((rc = store_movie_info(s, ids[i], &out[i].m, err)))
            return rc;
    *n = k;
    return 0;
}

int store_genres(struct store *s, struct store_genre_count *out, int max, int *n,
                 struct error *err)
{
    sqlite3_stmt *st;
    int rc;

    *n = 0;
    if (max < 0)
        return error_set(err, ERR_USAGE, "max must not be negative, not %d", max);
    if ((rc = prep(s, Q_GENRES, &st, err)))
        return rc;
    sqlite3_bind_int(st, 1, max);
    while ((rc = step(s, st, "cannot read genres", err)) == 1 && *n < max) {
        struct store_genre_count *g = &out[(*n)++];
        col_text(st, 0, g->name, sizeof(g->name));
        g->movies = sqlite3_column_int64(st, 1);
        g->ratings = sqlite3_column_int64(st, 2);
    }
    done(st);
    return rc < 0 ? -rc : 0;
}

/* ------------------------------------------------------------------ */
/* search: the user's words as a safe FTS5 query, with typo tolerance  */

/* The next code point of valid UTF-8 s[*i..n). */
static uint32_t utf8_next(const char *s, size_t n, size_t *i)
{
    unsigned c = (unsigned char)s[*i];
    int len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    for (int k = 1; k < len && *i + (size_t)k < n; k++)
        cp = (cp << 6) | ((unsigned char)s[*i + (size_t)k] & 0x3f);
    *i += (size_t)len;
    return cp;
}

/* Whether c belongs to a word: ASCII letters and digits, and any other
 * character but the common punctuation and symbol blocks (roughly what
 * FTS5's unicode61 tokenizer keeps; a word made only of characters it
 * drops matches nothing, and so finds nothing). */
static int word_char(uint32_t c)
{
    if (c < 0x80)
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (c < 0xc0)
        return c == 0xaa || c == 0xb2 || c == 0xb3 || c == 0xb5 || c == 0xb9 || c == 0xba ||
               (c >= 0xbc && c <= 0xbe);
    if (c == 0xd7 || c == 0xf7)
        return 0;
    if ((c >= 0x2000 && c <= 0x206f) || (c >= 0x20a0 && c <= 0x20cf) ||
        (c >= 0x2190 && c <= 0x2bff) || (c >= 0x3000 && c <= 0x3004) ||
        (c >= 0x3008 && c <= 0x303f) || (c >= 0xfe00 && c <= 0xfe0f) ||
        (c >= 0xfe30 && c <= 0xfe6f) || (c >= 0xff00 && c <= 0xff0f) ||
        (c >= 0xff1a && c <= 0xff20) || (c >= 0xff3b && c <= 0xff40) ||
        (c >= 0xff5b && c <= 0xff65) || (c >= 0x1f000 && c <= 0x1faff))
        return 0;
    return 1;
}

/* c lowercased, and without its accent for the Latin-1 letters, the way
 * the title index folds words (remove_diacritics). */
static uint32_t fold(uint32_t c)
{
    static const char latin1[] = "aaaaaaaceeeeiiiidnooooo_ouuuuyts" /* U+00C0..U+00DF */
                                 "aaaaaaaceeeeiiiidnooooo_ouuuuyty"; /* U+00E0..U+00FF */
    if (c >= 'A' && c <= 'Z')
        return c + 32;
    if (c >= 0xc0 && c <= 0xff && c != 0xc6 && c != 0xe6 && c != 0xd0 && c != 0xf0 &&
        c != 0xde && c != 0xfe && c != 0xdf && latin1[c - 0xc0] != '_')
        return (uint32_t)latin1[c - 0xc0];
    return c;
}

/* The folded code points of s[0..n) into cp (at most max): how many, or
 * max + 1 when there are more. */
static int decode(const char *s, size_t n, uint32_t *cp, int max, int folded)
{
    size_t i = 0;
    int k = 0;
    while (i < n) {
        uint32_t c = utf8_next(s, n, &i);
        if (k == max)
            return max + 1;
        cp[k++] = folded ? fold(c) : c;
    }
    return k;
}

/* The Levenshtein distance of a and b, or maxd + 1 when it is larger. */
static int distance(const uint32_t *a, int na, const uint32_t *b, int nb, int maxd)
{
    int prev[WORD_MAX + 4], cur[WORD_MAX + 4];

    if (abs(na - nb) > maxd)
        return maxd + 1;
    for (int j = 0; j <= nb; j++)
        prev[j] = j;
    for (int i = 1; i <= na; i++) {
        int best;
        cur[0] = best = i;
        for (int j = 1; j <= nb; j++) {
            int d = prev[j - 1] + (a[i - 1] != b[j - 1]);
            if (prev[j] + 1 < d)
                d = prev[j] + 1;
            if (cur[j - 1] + 1 < d)
                d = cur[j - 1] + 1;
            cur[j] = d;
            if (d < best)
                best = d;
        }
        if (best > maxd)
            return maxd + 1;
        memcpy(prev, cur, (size_t)(nb + 1) * sizeof(*prev));
    }
    return prev[nb] > maxd ? maxd + 1 : prev[nb];
}

/* Appends "s" (with '"' doubled, and * for a prefix match) to q. */
static int put_string(char *q, size_t cap, size_t *len, const char *s, size_t n, int prefix)
{
    if (*len + 2 * n + 8 >= cap)
        return -1;
    if (*len)
        *len += (size_t)snprintf(q + *len, cap - *len, " AND ");
    q[(*len)++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            q[(*len)++] = '"';
        q[(*len)++] = s[i];
    }
    q[(*len)++] = '"';
    if (prefix)
        q[(*len)++] = '*';
    q[*len] = '\0';
    return 0;
}

/* 1 when the FTS5 query q matches some title, 0 when none, or minus an
 * error code. */
static int fts_any(struct store *s, const char *q, struct error *err)
{
    sqlite3_stmt *st;
    int rc = prep(s, Q_FTS_ANY, &st, err);
    if (rc)
        return -rc;
    sqlite3_bind_text(st, 1, q, -1, SQLITE_STATIC);
    rc = step(s, st, "cannot search titles", err);
    done(st);
    return rc;
}

/* The title word closest to word[0..n) (see store.h) into out: 1, 0 when
 * none is close enough, or minus an error code. */
static int closest_term(struct store *s, const char *word, size_t n, char *out, size_t cap,
                        struct error *err)
{
    uint32_t w[WORD_MAX], t[WORD_MAX];
    int nw = decode(word, n, w, WORD_MAX, 1), maxd, best = -1, rc;
    int64_t best_cnt = 0;
    sqlite3_stmt *st;

    if (nw < 3 || nw > WORD_MAX)
        return 0;
    maxd = nw <= 5 ? 1 : 2;
    if ((rc = prep(s, Q_VOCAB, &st, err)))
        return -rc;
    while ((rc = step(s, st, "cannot search titles", err)) == 1) {
        const char *term = (const char *)sqlite3_column_text(st, 0);
        size_t tn = (size_t)sqlite3_column_bytes(st, 0);
        int64_t cnt = sqlite3_column_int64(st, 1);
        int nt, d;
        if (!term || tn >= cap || !text_utf8_valid(term, tn))
            continue;
        nt = decode(term, tn, t, WORD_MAX, 0);
        if (nt > WORD_MAX)
            continue;
        d = distance(w, nw, t, nt, maxd);
        /* terms come in order, so a tie of both keeps the first */
        if (d <= maxd && (best < 0 || d < best || (d == best && cnt > best_cnt))) {
            best = d;
            best_cnt = cnt;
            memcpy(out, term, tn);
            out[tn] = '\0';
        }
    }
    done(st);
    if (rc < 0)
        return rc;
    return best >= 0;
}

/* Turns the user's text into an FTS5 query in q: each word a quoted
 * string matching as a prefix (one FTS5 phrase per word, *words of them),
 * all of them ANDed. With typos, a word that matches no title is replaced
 * by the closest title word, if one is close enough; *fixed: how many
 * were. Returns 0 (q "" when the text has no words) or an error code. */
static int search_query(struct store *s, const char *text, int typos, char *q, size_t cap,
                        int *words, int *fixed, struct error *err)
{
    size_t n = strlen(text), i = 0, len = 0;

    q[0] = '\0';
    *words = *fixed = 0;
    if (n > SEARCH_TEXT_MAX)
        return error_set(err, ERR_USAGE, "search text is longer than %d bytes", SEARCH_TEXT_MAX);
    if (!text_utf8_valid(text, n))
        return error_set(err, ERR_USAGE, "search text is not UTF-8");
    while (i < n) {
        char one[2 * SEARCH_TEXT_MAX + 16], term[4 * WORD_MAX + 16];
        size_t start = i, end, olen = 0;
        int rc, hit, close = 0;

        if (!word_char(utf8_next(text, n, &i)))
            continue;
        end = i;
        while (end < n) {
            size_t j = end;
            if (!word_char(utf8_next(text, n, &j)))
                break;
            end = j;
        }
        i = end;
        if (++*words > SEARCH_WORDS_MAX)
            return error_set(err, ERR_USAGE, "search text has more than %d words",
                             SEARCH_WORDS_MAX);
        if (typos) {
            if (put_string(one, sizeof(one), &olen, text + start, end - start, 1))
                return error_set(err, ERR_USAGE, "search text is too long");
            if ((hit = fts_any(s, one, err)) < 0)
                return -hit;
            if (!hit &&
                (close = closest_term(s, text + start, end - start, term, sizeof(term), err)) < 0)
                return -close;
        }
        if (close) {
            rc = put_string(q, cap, &len, term, strlen(term), 0);
            ++*fixed;
        } else { /* as typed: it matches, or nothing is close */
            rc = put_string(q, cap, &len, text + start, end - start, 1);
        }
        if (rc)
            return error_set(err, ERR_USAGE, "search text is too long");
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* finding movies: a statement cache, and ranking by relevance in C     */

/* The statement of sql (made only of fixed fragments) ready in *out, from
 * the cache in s->web[Q_N..]: most recently used first, so that a miss
 * prepares it in front and finalises the least recently used one when
 * the cache is full. Each caller resets it before the next find_stmt(). */
static int find_stmt(struct store *s, const char *sql, sqlite3_stmt **out, struct error *err)
{
    sqlite3_stmt **c = s->web + Q_N, *st = NULL;
    int i;

    *out = NULL;
    for (i = 0; i < FIND_SLOTS && c[i]; i++)
        if (!strcmp(sqlite3_sql(c[i]), sql))
            break;
    if (i < FIND_SLOTS && c[i]) {
        st = c[i];
    } else {
        if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
            return store_db_error(err, s->db, "cannot find movies");
        if (i == FIND_SLOTS) {
            sqlite3_finalize(c[--i]);
            c[i] = NULL;
        }
    }
    memmove(c + 1, c, (size_t)i * sizeof(*c));
    c[0] = st;
    *out = st;
    return 0;
}

/*
 * Relevance is FTS5's bm25(), but bm25() itself costs most of a search:
 * for every match it reads the row's length with a statement of its own,
 * and once per query it runs every phrase again to count its matches.
 * So the ranked search reads each match's length from the docsize table
 * in its own join, gathers the matches with movierec_collect() (below)
 * and computes bm25() here with the same formula, constants and order of
 * operations as SQLite's fts5_aux.c. A single phrase without filters
 * needs no second run: its count of matches is the search's own.
 */
struct hit {
    int64_t id, ratings, len; /* len: the row's tokens */
    double score;             /* bm25(): lower is better */
};

/* What movierec_collect() gathers from the matches of one search. */
struct collect {
    int hits;                 /* in: count each phrase's matches (nhit) */
    int np;                   /* the query's phrases; 0 before the first match */
    sqlite3_int64 nrow, ntok; /* the index's rows, and their tokens in all */
    sqlite3_int64 nhit[SEARCH_WORDS_MAX];
    struct hit *h;            /* the matches, n of them (room for cap) */
    int32_t *tf;              /* tf[i * np + p]: phrase p's instances in match i */
    size_t n, cap;
};

/* The sum of the varints of a docsize blob (one per column): the row's
 * tokens, as FTS5's xColumnSize(-1) adds them up. */
static int64_t doc_tokens(const unsigned char *p, int n)
{
    int64_t sum = 0;
    int i = 0;
    while (i < n) {
        uint64_t v = 0;
        int k = 0;
        while (k < 8 && i < n) {
            unsigned char c = p[i++];
            v = (v << 7) | (c & 0x7f);
            k++;
            if (!(c & 0x80))
                break;
            if (k == 8 && i < n) /* the ninth byte holds eight bits */
                v = (v << 8) | p[i++];
        }
        sum += (int64_t)v;
    }
    return sum;
}

static int count_cb(const Fts5ExtensionApi *api, Fts5Context *fts, void *ctx)
{
    (void)api;
    (void)fts;
    ++*(sqlite3_int64 *)ctx;
    return SQLITE_OK;
}

/* movierec_collect(movies_fts, sink, docsize, ratings), an FTS5
 * auxiliary function: appends the current match to the struct collect
 * bound as sink (a pointer of type "movierec_collect"), with what bm25()
 * would read of it; the first call also reads what bm25() reads once a
 * query. Returns 1. The statement calls it as the last term of its
 * WHERE, where the other filters have passed (an aggregate's argument
 * cannot call an auxiliary function), and only counts the rows: the
 * matches never come back one by one. */
static void collect_fn(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx,
                       int nval, sqlite3_value **val)
{
    struct collect *c = nval == 3 ? sqlite3_value_pointer(val[0], "movierec_collect") : NULL;
    int rc = SQLITE_OK, ninst = 0, np;
    struct hit *h;
    int32_t *tf;

    if (!c) {
        sqlite3_result_error(ctx, "movierec_collect: no sink", -1);
        return;
    }
    if (!c->np) {
        np = api->xPhraseCount(fts);
        if (np < 1 || np > SEARCH_WORDS_MAX) {
            sqlite3_result_error(ctx, "movierec_collect: too many phrases", -1);
            return;
        }
        rc = api->xRowCount(fts, &c->nrow);
        if (rc == SQLITE_OK)
            rc = api->xColumnTotalSize(fts, -1, &c->ntok);
        for (int i = 0; rc == SQLITE_OK && c->hits && i < np; i++)
            rc = api->xQueryPhrase(fts, i, &c->nhit[i], count_cb);
        if (rc != SQLITE_OK) {
            sqlite3_result_error_code(ctx, rc);
            return;
        }
        c->np = np;
    }
    np = c->np;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        struct hit *h2 = realloc(c->h, cap * sizeof(*h2));
        int32_t *tf2 = h2 ? realloc(c->tf, cap * (size_t)np * sizeof(*tf2)) : NULL;
        if (h2)
            c->h = h2;
        if (!tf2) {
            sqlite3_result_error_nomem(ctx);
            return;
        }
        c->tf = tf2;
        c->cap = cap;
    }
    h = &c->h[c->n];
    tf = c->tf + c->n * (size_t)np;
    memset(tf, 0, (size_t)np * sizeof(*tf));
    h->id = api->xRowid(fts);
    h->len = doc_tokens(sqlite3_value_blob(val[1]), sqlite3_value_bytes(val[1]));
    h->ratings = sqlite3_value_int64(val[2]);
    h->score = 0;
    rc = api->xInstCount(fts, &ninst);
    for (int i = 0; rc == SQLITE_OK && i < ninst; i++) {
        int ip, ic, io;
        if ((rc = api->xInst(fts, i, &ip, &ic, &io)) == SQLITE_OK && ip >= 0 && ip < np)
            tf[ip]++;
    }
    if (rc != SQLITE_OK) {
        sqlite3_result_error_code(ctx, rc);
        return;
    }
    c->n++;
    sqlite3_result_int(ctx, 1);
}

/* Registers movierec_collect() with the connection's FTS5, once a handle
 * (the prepared Q_FTS5_API marks it done). */
static int rank_fn_ready(struct store *s, struct error *err)
{
    fts5_api *api = NULL;
    sqlite3_stmt *st;
    int rc;

    if (s->web[Q_FTS5_API])
        return 0;
    if ((rc = prep(s, Q_FTS5_API, &st, err)))
        return rc;
    sqlite3_bind_pointer(st, 1, &api, "fts5_api_ptr", NULL);
    rc = step(s, st, "cannot rank titles", err);
    done(st);
    if (rc >= 0 && (!api || api->xCreateFunction(api, "movierec_collect", NULL, collect_fn,
                                                 NULL) != SQLITE_OK))
        rc = -error_set(err, ERR_DB, "cannot rank titles: no FTS5 auxiliary functions");
    if (rc < 0) {
        sqlite3_finalize(s->web[Q_FTS5_API]);
        s->web[Q_FTS5_API] = NULL;
        return -rc;
    }
    return 0;
}

/* The relevance order: bm25(), then most ratings, then id. */
static int hit_cmp(const void *pa, const void *pb)
{
    const struct hit *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score < b->score ? -1 : 1;
    if (a->ratings != b->ratings)
        return a->ratings > b->ratings ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

/* Restores the max-heap h[0..n) (the worst hit on top) below i. */
static void sift_down(struct hit *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && hit_cmp(&h[l], &h[m]) > 0)
            m = l;
        if (r < n && hit_cmp(&h[r], &h[m]) > 0)
            m = r;
        if (m == i)
            return;
        struct hit t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* Sorts the best m of h[0..n) into h[0..m). */
static void best_first(struct hit *h, size_t n, size_t m)
{
    if (m >= n) {
        qsort(h, n, sizeof(*h), hit_cmp);
        return;
    }
    for (size_t i = m / 2; i-- > 0;)
        sift_down(h, m, i);
    for (size_t i = m; i < n; i++)
        if (hit_cmp(&h[i], &h[0]) < 0) {
            h[0] = h[i];
            sift_down(h, m, 0);
        }
    qsort(h, m, sizeof(*h), hit_cmp);
}

/* bm25() of each match in c, as fts5_aux.c computes it; nhit[p]: the
 * rows phrase p matches. Each step is a statement of its own, so that no
 * compiler fuses a multiply and an add that SQLite's build does not. */
static void bm25_scores(struct collect *c, const sqlite3_int64 *nhit)
{
    const double k1 = 1.2, b = 0.75;
    double idf[SEARCH_WORDS_MAX], avgdl = (double)c->ntok / (double)c->nrow;

    for (int p = 0; p < c->np; p++) {
        idf[p] = log(((double)(c->nrow - nhit[p]) + 0.5) / ((double)nhit[p] + 0.5));
        if (idf[p] <= 0.0)
            idf[p] = 1e-6;
    }
    for (size_t i = 0; i < c->n; i++) {
        double D = (double)c->h[i].len, score = 0.0;
        for (int p = 0; p < c->np; p++) {
            double f = (double)c->tf[i * (size_t)c->np + (size_t)p];
            double num = f * (k1 + 1.0);
            double lw = 1 - b + b * D / avgdl;
            double kl = k1 * lw;
            double den = f + kl;
            double term = idf[p] * (num / den);
            score += term;
        }
        c->h[i].score = -1.0 * score;
    }
}

/* Filters the ranked and the sorted statements share. */
static void bind_find(sqlite3_stmt *st, const struct store_movie_query *q, int64_t genre,
                      const char *match);

/* The page of q by relevance (match: the FTS5 query of words phrases)
 * into ids, *k of them, and *total. One pass over the matches: their
 * count, and the best offset + limit of them kept. */
static int find_ranked(struct store *s, const struct store_movie_query *q, int64_t genre,
                       const char *match, int words, int64_t *ids, int *k, int64_t *total,
                       struct error *err)
{
    struct collect c;
    char sql[1024];
    sqlite3_stmt *st;
    int rc;

    *k = 0;
    *total = 0;
    memset(&c, 0, sizeof(c));
    /* one run for a lone phrase without filters: its matches are the rows */
    c.hits = words != 1 || genre || q->year_min || q->year_max;
    if ((rc = rank_fn_ready(s, err)))
        return rc;
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM movies_fts%s%s"
             " LEFT JOIN movies_fts_docsize d ON d.id = movies_fts.rowid"
             " LEFT JOIN movie_stats ms ON ms.movie_id = movies_fts.rowid"
             " WHERE movies_fts MATCH :match%s%s"
             " AND movierec_collect(movies_fts, :sink, d.sz, coalesce(ms.ratings, 0))",
             q->year_min || q->year_max ? " JOIN movies m ON m.id = movies_fts.rowid" : "",
             genre ? " JOIN movie_genres mg ON mg.movie_id = movies_fts.rowid"
                     " AND mg.genre_id = :genre" : "",
             q->year_min ? " AND m.year >= :ymin" : "", q->year_max ? " AND m.year <= :ymax" : "");
    if ((rc = find_stmt(s, sql, &st, err)))
        return rc;
    bind_find(st, q, genre, match);
    sqlite3_bind_pointer(st, sqlite3_bind_parameter_index(st, ":sink"), &c, "movierec_collect",
                         NULL);
    while ((rc = step(s, st, "cannot search titles", err)) == 1)
        ;
    done(st);
    if (rc == 0 && c.n && c.np != 1 && !c.hits) /* cannot be: one word is one phrase */
        rc = -error_set(err, ERR_DB, "cannot search titles: %d phrases for one word", c.np);
    if (rc == 0 && c.n) {
        sqlite3_int64 one = (sqlite3_int64)c.n;
        bm25_scores(&c, c.hits ? c.nhit : &one);
        *total = (int64_t)c.n;
        if ((size_t)q->offset < c.n) {
            size_t want = (size_t)q->offset + (size_t)q->limit;
            best_first(c.h, c.n, want);
            for (size_t i = (size_t)q->offset; i < c.n && i < want; i++)
                ids[(*k)++] = c.h[i].id;
        }
    }
    free(c.h);
    free(c.tf);
    return rc < 0 ? -rc : 0;
}

/* ORDER BY of each sort; the list and the search share the FROM names m
 * (movies) and ms (movie_stats). Relevance is ranked by find_ranked(),
 * in this order but outside SQL. */
static const char *const order_of[] = {
    [STORE_SORT_RATING] = ("(coalesce(ms.score_sum, 0) + 30.0) / (coalesce(ms.ratings, 0) + 10)"
                           " DESC, coalesce(ms.ratings, 0) DESC, m.id"),
    [STORE_SORT_POPULAR] = "coalesce(ms.ratings, 0) DESC, m.id",
    [STORE_SORT_YEAR] = "m.year IS NULL, m.year DESC, m.title COLLATE NOCASE, m.id",
    [STORE_SORT_TITLE] = "m.title COLLATE NOCASE, m.id",
    [STORE_SORT_RELEVANCE] = "bm25(movies_fts), coalesce(ms.ratings, 0) DESC, m.id",
};

static void bind_named(sqlite3_stmt *st, const char *name, int64_t v)
{
    int i = sqlite3_bind_parameter_index(st, name);
    if (i)
        sqlite3_bind_int64(st, i, v);
}

/* Binds the parameters the statement of store_movies_find() names. */
static void bind_find(sqlite3_stmt *st, const struct store_movie_query *q, int64_t genre,
                      const char *match)
{
    int i = sqlite3_bind_parameter_index(st, ":match");
    if (i)
        sqlite3_bind_text(st, i, match, -1, SQLITE_STATIC);
    bind_named(st, ":genre", genre);
    bind_named(st, ":ymin", q->year_min);
    bind_named(st, ":ymax", q->year_max);
    bind_named(st, ":limit", q->limit);
    bind_named(st, ":offset", q->offset);
}

/* The page of q in another order (SQL's), into ids, *k of them, and
 * *total: a count, then the page. */
static int find_sorted(struct store *s, const struct store_movie_query *q, int64_t genre,
                       const char *match, int64_t *ids, int *k, int64_t *total,
                       struct error *err)
{
    char from[256], where[256], sql[1024];
    sqlite3_stmt *st;
    int rc;

    *k = 0;
    *total = 0;
    /* Only fixed fragments go into the SQL; the values are bound. */
    snprintf(from, sizeof(from), "%s%s",
             q->text ? "movies_fts JOIN movies m ON m.id = movies_fts.rowid" : "movies m",
             genre ? " JOIN movie_genres mg ON mg.movie_id = m.id AND mg.genre_id = :genre" : "");
    snprintf(where, sizeof(where), " WHERE 1%s%s%s", q->text ? " AND movies_fts MATCH :match" : "",
             q->year_min ? " AND m.year >= :ymin" : "", q->year_max ? " AND m.year <= :ymax" : "");

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s%s", from, where);
    if ((rc = find_stmt(s, sql, &st, err)))
        return rc;
    bind_find(st, q, genre, match);
    rc = step(s, st, "cannot find movies", err);
    if (rc == 1)
        *total = sqlite3_column_int64(st, 0);
    done(st);
    if (rc < 0)
        return -rc;
    if (*total <= q->offset)
        return 0;

    snprintf(sql, sizeof(sql),
             "SELECT m.id FROM %s LEFT JOIN movie_stats ms ON ms.movie_id = m.id%s"
             " ORDER BY %s LIMIT :limit OFFSET :offset",
             from, where, order_of[q->sort]);
    if ((rc = find_stmt(s, sql, &st, err)))
        return rc;
    bind_find(st, q, genre, match);
    while ((rc = step(s, st, "cannot find movies", err)) == 1 && *k < q->limit)
        ids[(*k)++] = sqlite3_column_int64(st, 0);
    done(st);
    return rc < 0 ? -rc : 0;
}

int store_movies_find(struct store *s, const struct store_movie_query *q,
                      struct store_movie_info *out, int *n, int64_t *total, struct error *err)
{
    char match[2048] = "";
    int64_t genre = 0, ids[PAGE_MAX];
    int rc, k = 0;

    *n = 0;
    *total = 0;
    if ((int)q->sort < (int)STORE_SORT_RATING || (int)q->sort > (int)STORE_SORT_RELEVANCE)
        return error_set(err, ERR_USAGE, "unknown sort %d", (int)q->sort);
    if (q->sort == STORE_SORT_RELEVANCE && !q->text)
        return error_set(err, ERR_USAGE, "sorting by relevance needs a search text");
    if ((rc = check_page(q->offset, q->limit, err)))
        return rc;
    if (q->year_min < 0 || q->year_max < 0)
        return error_set(err, ERR_USAGE, "a year must not be negative");
    if (q->year_min && q->year_max && q->year_min > q->year_max)
        return error_set(err, ERR_USAGE, "the years run from %d to %d", q->year_min, q->year_max);
    if (q->genre && *q->genre && (rc = genre_lookup(s, q->genre, &genre, NULL, 0, err)))
        return rc;
    /* The words as typed first: when anything matches, every word matches
     * some title, and the typo tolerance would change nothing. Only when
     * nothing does, the words that match no title are replaced (a look
     * through the title words each) and the search runs again. */
    for (int typos = 0;; typos = 1) {
        int words = 0, fixed = 0;
        if (q->text) {
            if ((rc = search_query(s, q->text, typos, match, sizeof(match), &words, &fixed, err)))
                return rc;
            if (!match[0])
                return 0; /* no words: nothing matches */
            if (typos && !fixed)
                break;
        }
        rc = q->sort == STORE_SORT_RELEVANCE
                 ? find_ranked(s, q, genre, match, words, ids, &k, total, err)
                 : find_sorted(s, q, genre, match, ids, &k, total, err);
        if (rc)
            return rc;
        if (!q->text || *total || typos)
            break;
    }
    /* The page's details afterwards: one cheap lookup per movie rather
     * than the genre list of every matching movie before the sort. */
    for (int i = 0; i < k; i++) {
        if (q->ids_only) {
            memset(&out[i], 0, sizeof(out[i]));
            out[i].id = ids[i];
        } else if ((rc = store_movie_info(s, ids[i], &out[i], err))) {
            return rc;
        }
    }
    *n = k;
    return 0;
}
