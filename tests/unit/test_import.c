/*
 * test_import.c - the store and the import: small hand-made sets in each
 * format, every kind of bad input, atomic replacement, and the real
 * MovieLens sets when ../shared/data has them.
 */
#include "testutil.h"

#include <sqlite3.h>

#include "../../src/data/import.h"
#include "../../src/store/store.h"

struct fx {
    char dir[4096]; /* the data set */
    char home[4096];
    char db[4200];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    tu_tmpdir(f->dir);
    tu_tmpdir(f->home);
    snprintf(f->db, sizeof(f->db), "%s/movierec.db", f->home);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    tu_rmtree(f->dir);
    tu_rmtree(f->home);
    free(f);
    return 0;
}

static const char genre100k[] = "unknown|0\nAction|1\nComedy|2\nDrama|3\n\n";
static const char user100k[] = "1|24|M|technician|85711\n2|53|F|other|94043\n3|23|M|writer|32067\n";
static const char item100k[] =
    "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|1|0\n"
    "2|Usual Suspects, The (1995)|14-Aug-1995||http://y|0|0|0|1\n"
    "3|Cit\xe9 des enfants perdus, La (1995)|4-Feb-1995|||0|1|0|1\n";
static const char data100k[] = "1\t1\t5\t874965758\n2\t1\t4\t876893171\n1\t2\t3\t878542960\n"
                               "3\t3\t1\t889751712\n";

static void write_100k(const struct fx *f)
{
    tu_write(f->dir, "u.genre", genre100k, (size_t)-1);
    tu_write(f->dir, "u.user", user100k, (size_t)-1);
    tu_write(f->dir, "u.item", item100k, (size_t)-1);
    tu_write(f->dir, "u.data", data100k, (size_t)-1);
}

static const char movies_csv[] =
    "movieId,title,genres\n"
    "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n"
    "11,\"American President, The (1995)\",Comedy|Drama|Romance\n"
    "12,\"Dracula: Dead and Loving It (1995)\",Comedy|Horror\n"
    "13,Nameless (2019),(no genres listed)\n";
static const char ratings_csv[] = "userId,movieId,rating,timestamp\n"
                                  "1,1,4.0,964982703\n1,11,4.5,964981247\n2,1,0.5,964982224\n"
                                  "2,12,5.0,964983815\n3,13,3.5,964982931\n";
static const char tags_csv[] = "userId,movieId,tag,timestamp\n2,1,\"funny, sweet\",1445714994\n";
static const char links_csv[] = "movieId,imdbId,tmdbId\n1,0114709,862\n11,0112346,9087\n12,0112896,\n";

static void write_latest(const struct fx *f)
{
    tu_write(f->dir, "movies.csv", movies_csv, (size_t)-1);
    tu_write(f->dir, "ratings.csv", ratings_csv, (size_t)-1);
    tu_write(f->dir, "tags.csv", tags_csv, (size_t)-1);
    tu_write(f->dir, "links.csv", links_csv, (size_t)-1);
}

static int import(struct fx *f, int skip_bad, struct import_report *rep, struct error *err)
{
    struct import_opts o = {0};
    o.skip_bad = skip_bad;
    error_clear(err);
    return import_dir(f->dir, f->db, &o, rep, err);
}

/* One value from the store. */
static int64_t q(const struct fx *f, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t v = -1;
    assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void qtext(const struct fx *f, const char *sql, char *out, size_t cap)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    out[0] = '\0';
    assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_import_100k(void **state)
{
    struct fx *f = *state;
    struct import_report rep;
    struct error err;
    char s[256];

    write_100k(f);
    assert_int_equal(import(f, 0, &rep, &err), 0);
    assert_int_equal(rep.format, ML_100K);
    assert_int_equal(rep.users, 3);
    assert_int_equal(rep.movies, 3);
    assert_int_equal(rep.ratings, 4);
    assert_int_equal(q(f, "SELECT count(*) FROM ratings"), 4);
    qtext(f, "SELECT title FROM movies WHERE id = 2", s, sizeof(s));
    assert_string_equal(s, "The Usual Suspects");
    qtext(f, "SELECT title FROM movies WHERE id = 3", s, sizeof(s));
    assert_string_equal(s, "La Cit\xc3\xa9 des enfants perdus"); /* Latin-1 -> UTF-8 */
    qtext(f, "SELECT release_date FROM movies WHERE id = 3", s, sizeof(s));
    assert_string_equal(s, "1995-02-04");
    qtext(f, "SELECT group_concat(name, '|') FROM (SELECT g.name FROM movie_genres mg"
             " JOIN genres g ON g.id = mg.genre_id WHERE mg.movie_id = 3 ORDER BY g.name)", s, sizeof(s));
    assert_string_equal(s, "Action|Drama");
    assert_int_equal(q(f, "SELECT age FROM users WHERE id = 2"), 53);
    assert_int_equal(q(f, "SELECT count(*) FROM users WHERE password_hash IS NULL"), 3);
    assert_int_equal(q(f, "SELECT ratings FROM movie_stats WHERE movie_id = 1"), 2);
    /* title search index */
    assert_int_equal(q(f, "SELECT rowid FROM movies_fts WHERE movies_fts MATCH 'usual*'"), 2);
    assert_int_equal(q(f, "SELECT rowid FROM movies_fts WHERE movies_fts MATCH 'cite'"), 3);
}

static void test_import_latest(void **state)
{
    struct fx *f = *state;
    struct import_report rep;
    struct error err;
    char s[256];

    write_latest(f);
    assert_int_equal(import(f, 0, &rep, &err), 0);
    assert_int_equal(rep.format, ML_LATEST);
    assert_int_equal(rep.users, 3); /* made from the ratings */
    assert_int_equal(rep.movies, 4);
    assert_int_equal(rep.ratings, 5);
    assert_int_equal(rep.tags, 1);
    qtext(f, "SELECT title FROM movies WHERE id = 11", s, sizeof(s));
    assert_string_equal(s, "The American President");
    qtext(f, "SELECT imdb_id FROM movies WHERE id = 1", s, sizeof(s));
    assert_string_equal(s, "tt0114709");
    assert_int_equal(q(f, "SELECT tmdb_id FROM movies WHERE id = 1"), 862);
    assert_int_equal(q(f, "SELECT tmdb_id IS NULL FROM movies WHERE id = 12"), 1);
    qtext(f, "SELECT tag FROM tags", s, sizeof(s));
    assert_string_equal(s, "funny, sweet");
    assert_int_equal(q(f, "SELECT count(*) FROM movie_genres WHERE movie_id = 13"), 0);
    assert_int_equal(q(f, "SELECT CAST(score * 2 AS INT) FROM ratings WHERE user_id = 2 AND movie_id = 1"), 1);
    /* users.csv gives demographics */
    tu_write(f->dir, "users.csv", "userId,gender,age,occupation\n1,F,30,writer\n2,M,,\n3,,41,other\n",
             (size_t)-1);
    assert_int_equal(import(f, 0, &rep, &err), 0);
    assert_int_equal(q(f, "SELECT age FROM users WHERE id = 3"), 41);
    qtext(f, "SELECT gender FROM users WHERE id = 1", s, sizeof(s));
    assert_string_equal(s, "F");
}

static void test_import_1m(void **state)
{
    struct fx *f = *state;
    struct import_report rep;
    struct error err;

    tu_write(f->dir, "users.dat", "1::F::1::10::48067\n2::M::56::16::70072\n", (size_t)-1);
    tu_write(f->dir, "movies.dat", "1::Toy Story (1995)::Animation|Children's|Comedy\n"
                                   "2::Jumanji (1995)::Adventure|Children's|Fantasy\n", (size_t)-1);
    tu_write(f->dir, "ratings.dat", "1::1::5::978300760\n2::2::3::978302109\n2::1::4::978301968\n",
             (size_t)-1);
    assert_int_equal(import(f, 0, &rep, &err), 0);
    assert_int_equal(rep.format, ML_1M);
    assert_int_equal(q(f, "SELECT count(*) FROM ratings"), 3);
    assert_int_equal(q(f, "SELECT age FROM users WHERE id = 2"), 56);
}

/* A failed import names file, line and problem, and leaves the previous
 * store exactly as it was. */
static void expect_fail(struct fx *f, const char *want, int64_t ratings_before)
{
    struct import_report rep;
    struct error err;
    int rc = import(f, 0, &rep, &err);
    if (rc == 0 || !strstr(err.msg, want))
        fail_msg("expected an error with '%s', got rc %d '%s'", want, rc, err.msg);
    if (ratings_before >= 0)
        assert_int_equal(q(f, "SELECT count(*) FROM ratings"), ratings_before);
    else
        assert_int_equal(access(f->db, F_OK), -1);
}

static void test_bad_input(void **state)
{
    struct fx *f = *state;
    struct import_report rep;
    struct error err;
    char dup[512];

    /* no store yet: a failure leaves none */
    write_100k(f);
    tu_write(f->dir, "u.data", "1\t1\t5\t874965758\n1\t2\t7\t874965758\n", (size_t)-1);
    expect_fail(f, "u.data:2: rating '7' is outside 1..5", -1);

    /* a good import, then every bad case must leave its 4 ratings */
    write_100k(f);
    assert_int_equal(import(f, 0, &rep, &err), 0);

    tu_write(f->dir, "u.data", "1\t1\t5\t874965758\n1\t1\t4\t874965759\n", (size_t)-1);
    expect_fail(f, "u.data:2: user 1 rated movie 1 twice", 4);
    tu_write(f->dir, "u.data", "1\t1\t5\t874965758\n9\t1\t4\t874965759\n", (size_t)-1);
    expect_fail(f, "u.data:2: unknown user 9", 4);
    tu_write(f->dir, "u.data", "1\t99\t5\t874965758\n", (size_t)-1);
    expect_fail(f, "u.data:1: unknown movie 99", 4);
    tu_write(f->dir, "u.data", "", 0);
    expect_fail(f, "is empty", 4);
    tu_write(f->dir, "u.data", "1\t1\t5\t87496\0" "758\n", 16);
    expect_fail(f, "u.data:1: line holds a NUL byte", 4);
    tu_write(f->dir, "u.data", data100k, (size_t)-1);
    tu_write(f->dir, "u.user", "1|24|M|technician|85711\n1|25|F|other|94043\n", (size_t)-1);
    expect_fail(f, "u.user:2: user 1 appears twice", 4);
    tu_write(f->dir, "u.user", user100k, (size_t)-1);
    {
        char p[4200];
        snprintf(p, sizeof(p), "%s/u.item", f->dir);
        unlink(p);
    }
    expect_fail(f, "u.item", 4);
    assert_non_null(strstr(err.msg, "")); /* message checked in expect_fail */

    /* ml-latest cases */
    tu_rmtree(f->dir);
    tu_tmpdir(f->dir);
    write_latest(f);
    tu_write(f->dir, "ratings.csv", "userId,movieId,rating,timestamp\n", (size_t)-1);
    expect_fail(f, "'ratings.csv' has a header but no ratings", 4);
    tu_write(f->dir, "ratings.csv", "user,movie,score,time\n1,1,4.0,964982703\n", (size_t)-1);
    expect_fail(f, "ratings.csv:1: expected the header 'userId,movieId,rating,timestamp'", 4);
    tu_write(f->dir, "movies.csv", "movieId,title,genres\n1,Caf\xe9 (1995),Drama\n", (size_t)-1);
    tu_write(f->dir, "ratings.csv", ratings_csv, (size_t)-1);
    expect_fail(f, "movies.csv:2: title is not valid UTF-8", 4);
    tu_write(f->dir, "movies.csv", movies_csv, (size_t)-1);
    snprintf(dup, sizeof(dup), "%s1,1,3.0,964982704\n", ratings_csv);
    tu_write(f->dir, "ratings.csv", dup, (size_t)-1);
    expect_fail(f, "ratings.csv:7: user 1 rated movie 1 twice", 4);
    tu_write(f->dir, "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,777,4.0,1\n",
             (size_t)-1);
    expect_fail(f, "ratings.csv:3: unknown movie 777", 4);
    tu_write(f->dir, "ratings.csv", ratings_csv, (size_t)-1);
    tu_write(f->dir, "tags.csv", "userId,movieId,tag,timestamp\n1,1,\"open quote,1\n", (size_t)-1);
    expect_fail(f, "tags.csv:2: a quoted field is not closed", 4);

    /* unknown format, missing folder */
    tu_rmtree(f->dir);
    tu_tmpdir(f->dir);
    tu_write(f->dir, "notes.txt", "hello\n", (size_t)-1);
    expect_fail(f, "holds no MovieLens data set", 4);
    {
        struct import_opts o = {0};
        assert_int_not_equal(import_dir("/nonexistent/ml", f->db, &o, &rep, &err), 0);
        assert_non_null(strstr(err.msg, "No such file or directory"));
    }
    assert_int_equal(q(f, "SELECT count(*) FROM ratings"), 4);
}

static void test_crlf_and_bom(void **state)
{
    struct fx *f = *state;
    struct import_report rep;
    struct error err;
    char s[128];

    tu_write(f->dir, "movies.csv", "\xEF\xBB\xBFmovieId,title,genres\r\n1,Toy Story (1995),Comedy\r\n",
             (size_t)-1);
    tu_write(f->dir, "ratings.csv", "userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n\r\n",
             (size_t)-1);
    assert_int_equal(import(f, 0, &rep, &err), 0);
    assert_int_equal(rep.ratings, 1);
    qtext(f, "SELECT group_concat(name) FROM genres", s, sizeof(s));
    assert_string_equal(s, "Comedy"); /* no stray \r */
}

static void test_skip_bad(void **state)
{
    struct fx *f = *state;
    struct import_report rep;
    struct error err;
    char big[8192];
    size_t n = 0;

    write_100k(f);
    n += (size_t)snprintf(big + n, sizeof(big) - n, "%s", data100k);
    for (int i = 0; i < 12; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "1\t3\t%d\t1\n", 6 + i);
    n += (size_t)snprintf(big + n, sizeof(big) - n, "1\t1\t2\t1\n"); /* duplicate */
    tu_write(f->dir, "u.data", big, n);
    assert_int_equal(import(f, 1, &rep, &err), 0);
    assert_int_equal(rep.ratings, 4);
    assert_int_equal(rep.skipped, 13);
    assert_int_equal(rep.nshown, IMPORT_MAX_SHOWN);
    assert_string_equal(rep.shown[0], "u.data:5: rating '6' is outside 1..5");
    assert_int_equal(q(f, "SELECT count(*) FROM ratings"), 4);
}

static void test_too_many_genres(void **state)
{
    struct fx *f = *state;
    struct import_report rep;
    struct error err;
    char movies[65536];
    size_t n = (size_t)snprintf(movies, sizeof(movies), "movieId,title,genres\n");

    /* 9 movies with 32 new genres each: the 9th crosses the limit of 256 */
    for (int m = 1; m <= 9; m++) {
        n += (size_t)snprintf(movies + n, sizeof(movies) - n, "%d,Film %d (2000),", m, m);
        for (int g = 0; g < 32; g++)
            n += (size_t)snprintf(movies + n, sizeof(movies) - n, "%sG%d_%d", g ? "|" : "", m, g);
        n += (size_t)snprintf(movies + n, sizeof(movies) - n, "\n");
    }
    tu_write(f->dir, "movies.csv", movies, n);
    tu_write(f->dir, "ratings.csv", "userId,movieId,rating,timestamp\n1,8,4.0,1\n1,9,4.0,1\n",
             (size_t)-1);
    assert_int_equal(import(f, 1, &rep, &err), 0);
    assert_int_equal(rep.movies, 8);
    assert_int_equal(rep.skipped, 2); /* the movie, and the rating of it */
    assert_string_equal(rep.shown[0], "movies.csv:10: more than 256 different genres");
    assert_string_equal(rep.shown[1], "ratings.csv:3: unknown movie 9");
    assert_int_equal(q(f, "SELECT count(*) FROM movies"), 8);
    assert_int_equal(q(f, "SELECT count(*) FROM genres"), 256);
}

static void test_unsorted_duplicates(void **state)
{
    struct fx *f = *state;
    struct import_report rep;
    struct error err;

    /* sorted at first, then out of order: the duplicate comes much later */
    write_latest(f);
    tu_write(f->dir, "ratings.csv",
             "userId,movieId,rating,timestamp\n1,1,4.0,1\n1,11,4.0,1\n2,1,4.0,1\n3,12,4.0,1\n"
             "1,12,4.0,1\n2,11,3.0,1\n1,11,2.0,1\n",
             (size_t)-1);
    expect_fail(f, "ratings.csv:8: user 1 rated movie 11 twice", -1);
    tu_write(f->dir, "ratings.csv",
             "userId,movieId,rating,timestamp\n1,1,4.0,1\n1,11,4.0,1\n2,1,4.0,1\n3,12,4.0,1\n"
             "1,12,4.0,1\n2,11,3.0,1\n",
             (size_t)-1);
    assert_int_equal(import(f, 0, &rep, &err), 0);
    assert_int_equal(q(f, "SELECT count(*) FROM ratings"), 6);
    assert_int_equal(q(f, "SELECT sum(ratings) FROM movie_stats"), 6);
}

static void test_store(void **state)
{
    struct fx *f = *state;
    struct store *s;
    struct store_counts c;
    struct error err;
    int64_t hist[10];

    assert_int_equal(store_open(&s, f->db, &err), 0);
    assert_int_equal(store_file_version(s), 0);
    assert_int_equal(store_counts(s, &c, &err), 0);
    assert_int_equal(c.ratings, 0);
    store_close(s);
    assert_int_equal(store_open(&s, f->db, &err), 0);
    assert_int_equal(store_file_version(s), store_schema_version());
    assert_int_equal(store_rating_histogram(s, hist, &err), 0);
    store_close(s);

    /* a store from the future is refused */
    {
        sqlite3 *db;
        char sql[64];
        assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", store_schema_version() + 1);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
    }
    assert_int_not_equal(store_open(&s, f->db, &err), 0);
    assert_non_null(strstr(err.msg, "newer movierec"));
    /* not a database at all */
    tu_write(f->home, "movierec.db", "this is not sqlite, just text that is long enough........."
                                     "...............................................", (size_t)-1);
    {
        char p[4200];
        snprintf(p, sizeof(p), "%s/movierec.db-wal", f->home);
        unlink(p);
    }
    assert_int_not_equal(store_open(&s, f->db, &err), 0);
    assert_non_null(strstr(err.msg, "not a movierec store"));
}

static void test_loader_lock(void **state)
{
    struct fx *f = *state;
    struct store_loader *a, *b;
    struct error err;

    assert_int_equal(store_loader_begin(&a, f->db, &err), 0);
    assert_int_equal(store_loader_begin(&b, f->db, &err), ERR_EXISTS);
    assert_non_null(strstr(err.msg, "another import"));
    store_loader_abort(a);
    assert_int_equal(access(f->db, F_OK), -1); /* nothing was swapped in */
}

static void test_real_ml100k(void **state)
{
    struct fx *f = *state;
    struct import_opts o = {0};
    struct import_report rep;
    struct error err;
    char dir[4096], s[256];

    if (!tu_dataset("ml-100k", dir, sizeof(dir))) {
        print_message("skipped: ../shared/data/ml-100k is not here\n");
        skip();
    }
    assert_int_equal(import_dir(dir, f->db, &o, &rep, &err), 0);
    assert_int_equal(rep.users, 943);
    assert_int_equal(rep.movies, 1682);
    assert_int_equal(rep.ratings, 100000);
    assert_int_equal(q(f, "SELECT CAST(score AS INT) FROM ratings WHERE user_id = 196 AND movie_id = 242"), 3);
    assert_int_equal(q(f, "SELECT time FROM ratings WHERE user_id = 196 AND movie_id = 242"), 881250949);
    qtext(f, "SELECT title || ' ' || year FROM movies WHERE id = 1", s, sizeof(s));
    assert_string_equal(s, "Toy Story 1995");
    qtext(f, "SELECT occupation || ' ' || zip FROM users WHERE id = 1", s, sizeof(s));
    assert_string_equal(s, "technician 85711");
    assert_int_equal(q(f, "SELECT count(*) FROM genres"), 18); /* 'unknown' is no genre */
    assert_int_equal(q(f, "SELECT count(*) FROM users WHERE gender = 'F'"), 273);
}

static void test_real_latest_small(void **state)
{
    struct fx *f = *state;
    struct import_opts o = {0};
    struct import_report rep;
    struct error err;
    char dir[4096], s[256];

    if (!tu_dataset("ml-latest-small", dir, sizeof(dir))) {
        print_message("skipped: ../shared/data/ml-latest-small is not here\n");
        skip();
    }
    assert_int_equal(import_dir(dir, f->db, &o, &rep, &err), 0);
    assert_int_equal(rep.users, 610);
    assert_int_equal(rep.movies, 9742);
    assert_int_equal(rep.ratings, 100836);
    assert_int_equal(rep.tags, 3683);
    qtext(f, "SELECT title FROM movies WHERE id = 11", s, sizeof(s));
    assert_string_equal(s, "The American President");
    qtext(f, "SELECT imdb_id FROM movies WHERE id = 1", s, sizeof(s));
    assert_string_equal(s, "tt0114709");
    assert_int_equal(q(f, "SELECT CAST(score * 10 AS INT) FROM ratings WHERE user_id = 1 AND movie_id = 1"), 40);
    assert_int_equal(q(f, "SELECT sum(ratings) FROM movie_stats"), 100836);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_import_100k, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_latest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_1m, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crlf_and_bom, setup, teardown),
        cmocka_unit_test_setup_teardown(test_skip_bad, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsorted_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_many_genres, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loader_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_real_ml100k, setup, teardown),
        cmocka_unit_test_setup_teardown(test_real_latest_small, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
