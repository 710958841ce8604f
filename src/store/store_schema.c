/*
 * store_schema.c - the SQLite schema as an ordered list of migrations.
 *
 * The file's version is PRAGMA user_version; migration i takes a database
 * from version i to i + 1. Never edit a migration that has shipped: add a
 * new one at the end.
 */
#include "store_schema.h"

static const char *const migrations[] = {
    /* 0 -> 1: the paper's tables (SUMMARY.md section 4) */
    "CREATE TABLE meta ("
    "  key TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL"
    ");"
    "CREATE TABLE users ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  password_hash TEXT,"           /* NULL: cannot log in (imported users) */
    "  gender TEXT CHECK (gender IN ('M', 'F')),"
    "  age INTEGER CHECK (age BETWEEN 1 AND 150),"
    "  occupation TEXT,"
    "  zip TEXT,"
    "  created INTEGER NOT NULL"      /* unix seconds */
    ");"
    "CREATE TABLE movies ("
    "  id INTEGER PRIMARY KEY,"
    "  title TEXT NOT NULL,"
    "  year INTEGER,"
    "  release_date TEXT,"            /* YYYY-MM-DD */
    "  director TEXT,"
    "  actors TEXT,"
    "  imdb_id TEXT,"
    "  imdb_url TEXT,"
    "  tmdb_id INTEGER,"
    "  poster_url TEXT"
    ");"
    "CREATE TABLE genres ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE"
    ");"
    "CREATE TABLE movie_genres ("
    "  movie_id INTEGER NOT NULL REFERENCES movies(id) ON DELETE CASCADE,"
    "  genre_id INTEGER NOT NULL REFERENCES genres(id),"
    "  PRIMARY KEY (movie_id, genre_id)"
    ") WITHOUT ROWID;"
    "CREATE INDEX movie_genres_genre ON movie_genres(genre_id, movie_id);"
    "CREATE TABLE ratings ("
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  movie_id INTEGER NOT NULL REFERENCES movies(id) ON DELETE CASCADE,"
    "  score REAL NOT NULL CHECK (score >= 0.5 AND score <= 5),"
    "  time INTEGER NOT NULL,"
    "  PRIMARY KEY (user_id, movie_id)"
    ") WITHOUT ROWID;"
    /* No index by movie: the table is clustered by user (a user's history
     * is the online path's read), per-movie aggregates live in movie_stats
     * (kept by the triggers below), and by-movie neighbours live in the
     * recall models in memory. An index here would halve import speed. */
    "CREATE TABLE movie_stats ("
    "  movie_id INTEGER PRIMARY KEY REFERENCES movies(id) ON DELETE CASCADE,"
    "  ratings INTEGER NOT NULL,"
    "  score_sum REAL NOT NULL"
    ");"
    "CREATE TRIGGER ratings_stats_ai AFTER INSERT ON ratings BEGIN"
    "  INSERT INTO movie_stats (movie_id, ratings, score_sum) VALUES (new.movie_id, 1, new.score)"
    "    ON CONFLICT (movie_id) DO UPDATE SET ratings = ratings + 1,"
    "      score_sum = score_sum + new.score;"
    "END;"
    "CREATE TRIGGER ratings_stats_ad AFTER DELETE ON ratings BEGIN"
    "  UPDATE movie_stats SET ratings = ratings - 1, score_sum = score_sum - old.score"
    "   WHERE movie_id = old.movie_id;"
    "END;"
    "CREATE TRIGGER ratings_stats_au AFTER UPDATE OF score, movie_id ON ratings BEGIN"
    "  UPDATE movie_stats SET ratings = ratings - 1, score_sum = score_sum - old.score"
    "   WHERE movie_id = old.movie_id;"
    "  INSERT INTO movie_stats (movie_id, ratings, score_sum) VALUES (new.movie_id, 1, new.score)"
    "    ON CONFLICT (movie_id) DO UPDATE SET ratings = ratings + 1,"
    "      score_sum = score_sum + new.score;"
    "END;"
    "CREATE TABLE tags ("
    "  id INTEGER PRIMARY KEY,"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  movie_id INTEGER NOT NULL REFERENCES movies(id) ON DELETE CASCADE,"
    "  tag TEXT NOT NULL,"
    "  time INTEGER NOT NULL"
    ");"
    "CREATE INDEX tags_movie ON tags(movie_id);"
    "CREATE INDEX tags_user ON tags(user_id);"
    /* Title search (word and prefix matches) for the search of issue 5. */
    "CREATE VIRTUAL TABLE movies_fts USING fts5("
    "  title, content='movies', content_rowid='id',"
    "  tokenize='unicode61 remove_diacritics 2', prefix='2 3'"
    ");"
    "CREATE TRIGGER movies_fts_ai AFTER INSERT ON movies BEGIN"
    "  INSERT INTO movies_fts(rowid, title) VALUES (new.id, new.title);"
    "END;"
    "CREATE TRIGGER movies_fts_ad AFTER DELETE ON movies BEGIN"
    "  INSERT INTO movies_fts(movies_fts, rowid, title) VALUES ('delete', old.id, old.title);"
    "END;"
    "CREATE TRIGGER movies_fts_au AFTER UPDATE OF title ON movies BEGIN"
    "  INSERT INTO movies_fts(movies_fts, rowid, title) VALUES ('delete', old.id, old.title);"
    "  INSERT INTO movies_fts(rowid, title) VALUES (new.id, new.title);"
    "END;",

    /* 1 -> 2: the web service (store_web.c): sessions, interest tags, the
     * events the next training run reads, and the indexes its pages use. */
    "CREATE TABLE sessions ("
    "  token_hash BLOB PRIMARY KEY,"  /* a hash of the token, never the token */
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  created INTEGER NOT NULL,"
    "  expires INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX sessions_expires ON sessions(expires);"
    "CREATE TABLE user_interests ("
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  kind INTEGER NOT NULL,"        /* 1 genre, 2 free tag */
    "  position INTEGER NOT NULL,"    /* the order they were given in */
    "  value TEXT NOT NULL,"
    "  PRIMARY KEY (user_id, kind, position)"
    ") WITHOUT ROWID;"
    /* Append-only, without foreign keys so that events outlive what they
     * name; AUTOINCREMENT so that an id is never reused and a reader's
     * "after id" stays valid even if old events are pruned. */
    "CREATE TABLE events ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  time INTEGER NOT NULL,"
    "  user_id INTEGER NOT NULL,"
    "  kind TEXT NOT NULL,"           /* rate unrate tag untag register profile interests */
    "  movie_id INTEGER,"
    "  score REAL,"
    "  tag TEXT"
    ");"
    /* The fans of a movie (who rated it 4 or more). Like every secondary
     * index the bulk loader drops it for the load and builds it once at the
     * end: one sort per import. Partial, because a full index by movie
     * tripled the import time of a 5M-rating set; this one holds about
     * half of the ratings. */
    "CREATE INDEX ratings_fans ON ratings(movie_id, score) WHERE score >= 4;"
    /* Account names are unique ignoring ASCII case; logins look up by it. */
    "CREATE UNIQUE INDEX users_name_nocase ON users(name COLLATE NOCASE);"
    /* The title words with how many titles hold each, for the search's
     * typo tolerance (no storage of its own: it reads movies_fts). */
    "CREATE VIRTUAL TABLE movies_fts_vocab USING fts5vocab(movies_fts, 'row');",
};

int store_schema_version(void)
{
    return (int)(sizeof(migrations) / sizeof(*migrations));
}

const char *store_schema_migration(int from)
{
    if (from < 0 || from >= store_schema_version())
        return 0;
    return migrations[from];
}
