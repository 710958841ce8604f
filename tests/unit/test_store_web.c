/*
 * test_store_web.c - the web service's part of the store (store.h, "the
 * web service"): accounts, sessions, interests, ratings and tags with
 * their events, browsing, search with typo tolerance, and the migration
 * of a version 1 store. Each test gets a small store built by the loader.
 */
#include "testutil.h"

#include <math.h>
#include <sqlite3.h>

#include "../../src/data/import.h"
#include "../../src/store/store.h"
#include "../../src/store/store_schema.h"

struct fx {
    char home[4096];
    char db[4200];
    struct store *s;
};

/* Times of the fixture's ratings are small; the tests' writes use NOW. */
#define NOW 1700000000

static const char *const g_heat[] = {"Action", "Crime", "Thriller"};
static const char *const g_scifi_action[] = {"Action", "Sci-Fi"};
static const char *const g_crime_drama[] = {"Crime", "Drama"};
static const char *const g_fantasy_scifi[] = {"Fantasy", "Sci-Fi"};
static const char *const g_toy[] = {"Animation", "Children", "Comedy"};

/*
 * id  title                           year  genres                   ratings (user:score@time)
 *  1  Heat                            1995  Action Crime Thriller    1:4@100 3:3.5@110 5:2@120
 *  2  The Matrix                      1999  Action Sci-Fi            1:5@300 2:4.5@130 3:5@140 4:3@150
 *  3  The Godfather                   1972  Crime Drama              1:5@200 2:5@160
 *  4  The Godfather: Part II          1974  Crime Drama              4:4.5@170
 *  5  La Cité des enfants perdus      1995  Fantasy Sci-Fi           -
 *  6  Toy Story                       1995  Animation Children Comedy 2:3@180
 *  7  Heat Wave                       -     -                        -
 *  8  The Matrix Reloaded             2003  Action Sci-Fi            -
 */
static void build(struct fx *f)
{
    struct store_loader *l;
    struct error err;
    const struct loader_movie movies[] = {
        {1, "Heat", 1995, "1995-12-15", g_heat, 3, "tt0113277", "https://www.imdb.com/title/tt0113277/", 949},
        {2, "The Matrix", 1999, NULL, g_scifi_action, 2, NULL, NULL, 0},
        {3, "The Godfather", 1972, NULL, g_crime_drama, 2, NULL, NULL, 0},
        {4, "The Godfather: Part II", 1974, NULL, g_crime_drama, 2, NULL, NULL, 0},
        {5, "La Cit\xc3\xa9 des enfants perdus", 1995, NULL, g_fantasy_scifi, 2, NULL, NULL, 0},
        {6, "Toy Story", 1995, NULL, g_toy, 3, NULL, NULL, 0},
        {7, "Heat Wave", 0, NULL, NULL, 0, NULL, NULL, 0},
        {8, "The Matrix Reloaded", 2003, NULL, g_scifi_action, 2, NULL, NULL, 0},
    };
    static const struct {
        int64_t user, movie;
        double score;
        int64_t time;
    } ratings[] = {
        {1, 1, 4, 100}, {1, 2, 5, 300}, {1, 3, 5, 200}, {2, 2, 4.5, 130}, {2, 3, 5, 160},
        {2, 6, 3, 180}, {3, 1, 3.5, 110}, {3, 2, 5, 140}, {4, 2, 3, 150}, {4, 4, 4.5, 170},
        {5, 1, 2, 120},
    };

    assert_int_equal(store_loader_begin(&l, f->db, &err), 0);
    for (int64_t u = 1; u <= 5; u++) {
        struct loader_user lu = {u, u % 2 ? 'M' : 'F', 20 + (int)u, "writer", "12345"};
        assert_int_equal(store_loader_user(l, &lu, &err), 0);
    }
    for (size_t i = 0; i < sizeof(movies) / sizeof(*movies); i++)
        assert_int_equal(store_loader_movie(l, &movies[i], &err), 0);
    for (size_t i = 0; i < sizeof(ratings) / sizeof(*ratings); i++)
        assert_int_equal(store_loader_rating(l, ratings[i].user, ratings[i].movie, ratings[i].score,
                                             ratings[i].time, &err),
                         0);
    assert_int_equal(store_loader_tag(l, 2, 1, "heist", 190, &err), 0);
    if (store_loader_finish(l, &err))
        fail_msg("loader: %s", err.msg);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct error err;
    tu_tmpdir(f->home);
    snprintf(f->db, sizeof(f->db), "%s/movierec.db", f->home);
    build(f);
    if (store_open(&f->s, f->db, &err))
        fail_msg("store_open: %s", err.msg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->s);
    tu_rmtree(f->home);
    free(f);
    return 0;
}

static void expect_err(int rc, struct error *err, int code, const char *want)
{
    if (rc != code || (want && !strstr(err->msg, want)))
        fail_msg("expected error %d with '%s', got %d '%s'", code, want ? want : "", rc,
                 rc ? err->msg : "");
}

/* ------------------------------------------------------------------ */

static void test_schema(void **state)
{
    struct fx *f = *state;
    assert_int_equal(store_schema_version(), 2);
    /* an import writes the newest schema: opening it migrates nothing */
    assert_int_equal(store_file_version(f->s), store_schema_version());
}

static void test_accounts(void **state)
{
    struct fx *f = *state;
    struct store *s = f->s;
    struct store_account a;
    struct store_counts c;
    struct error err;
    char hash[STORE_HASH_MAX], long_name[80];
    int64_t id = 0, id2 = 0;

    assert_int_equal(store_account_create(s, "alice", "$argon2id$v=19$x", 'F', 30, "engineer",
                                          NOW, &id, &err),
                     0);
    assert_int_equal(id, 6); /* above every imported user */
    assert_int_equal(store_account_create(s, "Bob Smith", NULL, 0, 0, NULL, NOW + 1, &id2, &err), 0);
    assert_int_equal(id2, 7);
    /* names are unique ignoring ASCII case, imported ones included */
    expect_err(store_account_create(s, "ALICE", "h", 0, 0, NULL, NOW, &id, &err), &err, ERR_EXISTS,
               "the name 'ALICE' is taken");
    expect_err(store_account_create(s, "User1", "h", 0, 0, NULL, NOW, &id, &err), &err, ERR_EXISTS,
               "is taken");
    /* bad fields */
    expect_err(store_account_create(s, "", "h", 0, 0, NULL, NOW, &id, &err), &err, ERR_PARSE,
               "name is empty");
    expect_err(store_account_create(s, NULL, "h", 0, 0, NULL, NOW, &id, &err), &err, ERR_PARSE,
               "name is empty");
    memset(long_name, 'x', 65);
    long_name[65] = '\0';
    expect_err(store_account_create(s, long_name, "h", 0, 0, NULL, NOW, &id, &err), &err, ERR_PARSE,
               "longer than 64");
    long_name[64] = '\0'; /* 64 bytes is fine */
    assert_int_equal(store_account_create(s, long_name, "h", 0, 0, NULL, NOW, &id, &err), 0);
    expect_err(store_account_create(s, " carol", "h", 0, 0, NULL, NOW, &id, &err), &err, ERR_PARSE,
               "space");
    expect_err(store_account_create(s, "carol ", "h", 0, 0, NULL, NOW, &id, &err), &err, ERR_PARSE,
               "space");
    expect_err(store_account_create(s, "ca\trol", "h", 0, 0, NULL, NOW, &id, &err), &err, ERR_PARSE,
               "control");
    expect_err(store_account_create(s, "ca\xc2\x85rol", "h", 0, 0, NULL, NOW, &id, &err), &err,
               ERR_PARSE, "control");
    expect_err(store_account_create(s, "car\xffol", "h", 0, 0, NULL, NOW, &id, &err), &err,
               ERR_PARSE, "UTF-8");
    expect_err(store_account_create(s, "carol", "h", 'X', 0, NULL, NOW, &id, &err), &err, ERR_PARSE,
               "gender");
    expect_err(store_account_create(s, "carol", "h", 0, 151, NULL, NOW, &id, &err), &err,
               ERR_PARSE, "age must be 1 to 150 or unset, not 151");
    expect_err(store_account_create(s, "carol", "h", 0, -1, NULL, NOW, &id, &err), &err, ERR_PARSE,
               "age");
    expect_err(store_account_create(s, "carol", "h", 0, 0,
                                    "an occupation that is far too long to fit in sixty-four bytes, really",
                                    NOW, &id, &err),
               &err, ERR_PARSE, "occupation");
    /* UTF-8 names are fine */
    assert_int_equal(store_account_create(s, "Zo\xc3\xab", "h", 'F', 0, NULL, NOW, &id, &err), 0);

    /* by name, ignoring case, with the hash */
    assert_int_equal(store_account_by_name(s, "Alice", &a, hash, sizeof(hash), &err), 0);
    assert_int_equal(a.id, 6);
    assert_string_equal(a.name, "alice");
    assert_int_equal(a.gender, 'F');
    assert_int_equal(a.age, 30);
    assert_string_equal(a.occupation, "engineer");
    assert_string_equal(a.zip, "");
    assert_int_equal(a.created, NOW);
    assert_int_equal(a.has_password, 1);
    assert_string_equal(hash, "$argon2id$v=19$x");
    expect_err(store_account_by_name(s, "alice", &a, hash, 4, &err), &err, ERR_USAGE, "bytes");
    assert_int_equal(store_account_by_name(s, "bob smith", &a, hash, sizeof(hash), &err), 0);
    assert_int_equal(a.has_password, 0);
    assert_string_equal(hash, "");
    assert_int_equal(store_account_by_name(s, "user3", &a, NULL, 0, &err), 0);
    assert_int_equal(a.id, 3);
    assert_int_equal(a.has_password, 0); /* imported: cannot log in */
    expect_err(store_account_by_name(s, "nobody", &a, NULL, 0, &err), &err, ERR_NOTFOUND,
               "no account 'nobody'");
    expect_err(store_account_by_name(s, "", &a, NULL, 0, &err), &err, ERR_NOTFOUND, NULL);

    /* by id */
    assert_int_equal(store_account_get(s, 7, &a, &err), 0);
    assert_string_equal(a.name, "Bob Smith");
    assert_int_equal(a.gender, 0);
    assert_int_equal(a.age, 0);
    expect_err(store_account_get(s, 999, &a, &err), &err, ERR_NOTFOUND, "no user 999");

    /* update: set, then clear */
    assert_int_equal(store_account_update(s, 7, 'M', 41, "teacher", "94043", NOW + 5, &err), 0);
    assert_int_equal(store_account_get(s, 7, &a, &err), 0);
    assert_int_equal(a.gender, 'M');
    assert_int_equal(a.age, 41);
    assert_string_equal(a.occupation, "teacher");
    assert_string_equal(a.zip, "94043");
    assert_int_equal(store_account_update(s, 7, 0, 0, "", NULL, NOW + 6, &err), 0);
    assert_int_equal(store_account_get(s, 7, &a, &err), 0);
    assert_int_equal(a.gender, 0);
    assert_int_equal(a.age, 0);
    assert_string_equal(a.occupation, "");
    assert_string_equal(a.zip, "");
    expect_err(store_account_update(s, 999, 0, 0, NULL, NULL, NOW, &err), &err, ERR_NOTFOUND,
               "no user 999");
    expect_err(store_account_update(s, 7, 'x', 0, NULL, NULL, NOW, &err), &err, ERR_PARSE,
               "gender");
    expect_err(store_account_update(s, 7, 0, 0, NULL, "12345678901234567", NOW, &err), &err,
               ERR_PARSE, "zip");

    /* password */
    assert_int_equal(store_account_set_password(s, "BOB SMITH", "$argon2id$new", &err), 0);
    assert_int_equal(store_account_by_name(s, "Bob Smith", &a, hash, sizeof(hash), &err), 0);
    assert_string_equal(hash, "$argon2id$new");
    assert_int_equal(a.has_password, 1);
    expect_err(store_account_set_password(s, "nobody", "h", &err), &err, ERR_NOTFOUND,
               "no account 'nobody'");

    assert_int_equal(store_counts(s, &c, &err), 0);
    assert_int_equal(c.users, 5 + 4);
    assert_int_equal(c.accounts, 4); /* the four with a hash */
}

static void test_sessions(void **state)
{
    struct fx *f = *state;
    struct store *s = f->s;
    struct error err;
    unsigned char h1[32], h2[32], h3[32];
    int64_t user = 0, n = -1;

    memset(h1, 1, sizeof(h1));
    memset(h2, 2, sizeof(h2));
    memset(h3, 3, sizeof(h3));
    assert_int_equal(store_session_create(s, h1, 2, 1000, 2000, &err), 0);
    assert_int_equal(store_session_user(s, h1, 1500, &user, &err), 0);
    assert_int_equal(user, 2);
    expect_err(store_session_user(s, h1, 2000, &user, &err), &err, ERR_NOTFOUND, "expired");
    expect_err(store_session_user(s, h2, 1500, &user, &err), &err, ERR_NOTFOUND, NULL);
    expect_err(store_session_create(s, h1, 2, 1000, 2000, &err), &err, ERR_EXISTS, NULL);
    expect_err(store_session_create(s, h2, 999, 1000, 2000, &err), &err, ERR_NOTFOUND, "no user 999");
    expect_err(store_session_create(s, h2, 2, 1000, 1000, &err), &err, ERR_USAGE, NULL);

    assert_int_equal(store_session_delete(s, h1, &err), 0);
    expect_err(store_session_user(s, h1, 1500, &user, &err), &err, ERR_NOTFOUND, NULL);
    assert_int_equal(store_session_delete(s, h1, &err), 0); /* gone already: fine */

    assert_int_equal(store_session_create(s, h2, 3, 1000, 1100, &err), 0);
    assert_int_equal(store_session_create(s, h3, 4, 1000, 5000, &err), 0);
    assert_int_equal(store_session_purge(s, 1200, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(store_session_purge(s, 1200, NULL, &err), 0);
    expect_err(store_session_user(s, h2, 1000, &user, &err), &err, ERR_NOTFOUND, NULL);
    assert_int_equal(store_session_user(s, h3, 1200, &user, &err), 0);
    assert_int_equal(user, 4);

    /* a new password ends every session of that account, and only those */
    int64_t erin = 0;
    assert_int_equal(store_account_create(s, "erin", "$argon2id$old", 'F', 0, NULL, 1000, &erin, &err), 0);
    assert_int_equal(store_session_create(s, h1, erin, 1000, 5000, &err), 0);
    assert_int_equal(store_session_create(s, h2, erin, 1000, 5000, &err), 0);
    assert_int_equal(store_account_set_password(s, "ERIN", "$argon2id$new", &err), 0);
    expect_err(store_session_user(s, h1, 1200, &user, &err), &err, ERR_NOTFOUND, NULL);
    expect_err(store_session_user(s, h2, 1200, &user, &err), &err, ERR_NOTFOUND, NULL);
    assert_int_equal(store_session_user(s, h3, 1200, &user, &err), 0);
    assert_int_equal(user, 4);
}

struct interests {
    int n;
    char v[80][80];
};

static int collect_interest(void *ctx, enum store_interest kind, const char *value)
{
    struct interests *x = ctx;
    snprintf(x->v[x->n++], sizeof(x->v[0]), "%c:%s", kind == STORE_INTEREST_GENRE ? 'g' : 't', value);
    return 0;
}

static void test_interests(void **state)
{
    struct fx *f = *state;
    struct store *s = f->s;
    struct error err;
    struct interests x;
    const char *genres[] = {"sci-fi", "Drama", "Sci-Fi"};
    const char *tags[] = {"space", " noir ", "SPACE", "time travel"};
    const char *bad_genres[] = {"Drama", "Western"};
    const char *bad_tags[] = {"ok", "  "};
    const char *many[33];

    assert_int_equal(store_interests_set(s, 1, genres, 3, tags, 4, NOW, &err), 0);
    memset(&x, 0, sizeof(x));
    assert_int_equal(store_interests_get(s, 1, collect_interest, &x, &err), 0);
    assert_int_equal(x.n, 5);
    assert_string_equal(x.v[0], "g:Sci-Fi"); /* the store's spelling, once */
    assert_string_equal(x.v[1], "g:Drama");
    assert_string_equal(x.v[2], "t:space");
    assert_string_equal(x.v[3], "t:noir"); /* trimmed */
    assert_string_equal(x.v[4], "t:time travel");

    /* a failed set changes nothing */
    expect_err(store_interests_set(s, 1, bad_genres, 2, NULL, 0, NOW, &err), &err, ERR_NOTFOUND,
               "no genre 'Western'");
    expect_err(store_interests_set(s, 1, NULL, 0, bad_tags, 2, NOW, &err), &err, ERR_PARSE,
               "tag is empty");
    for (int i = 0; i < 33; i++)
        many[i] = "Drama";
    expect_err(store_interests_set(s, 1, many, 33, NULL, 0, NOW, &err), &err, ERR_PARSE, "32");
    expect_err(store_interests_set(s, 1, NULL, 0, many, 33, NOW, &err), &err, ERR_PARSE, "32");
    expect_err(store_interests_set(s, 999, genres, 1, NULL, 0, NOW, &err), &err, ERR_NOTFOUND,
               "no user 999");
    memset(&x, 0, sizeof(x));
    assert_int_equal(store_interests_get(s, 1, collect_interest, &x, &err), 0);
    assert_int_equal(x.n, 5);

    /* set replaces both lists */
    assert_int_equal(store_interests_set(s, 1, bad_genres, 1, NULL, 0, NOW, &err), 0);
    memset(&x, 0, sizeof(x));
    assert_int_equal(store_interests_get(s, 1, collect_interest, &x, &err), 0);
    assert_int_equal(x.n, 1);
    assert_string_equal(x.v[0], "g:Drama");
    assert_int_equal(store_interests_set(s, 1, NULL, 0, NULL, 0, NOW, &err), 0);
    memset(&x, 0, sizeof(x));
    assert_int_equal(store_interests_get(s, 1, collect_interest, &x, &err), 0);
    assert_int_equal(x.n, 0);
}

static void test_rate(void **state)
{
    struct fx *f = *state;
    struct store *s = f->s;
    struct store_movie_info m;
    struct error err;
    double score = 0;
    int64_t t = 0;

    assert_int_equal(store_movie_info(s, 5, &m, &err), 0);
    assert_int_equal(m.nratings, 0);
    assert_int_equal(store_rate(s, 1, 5, 4.5, NOW, &err), 0);
    assert_int_equal(store_rating_get(s, 1, 5, &score, &t, &err), 0);
    assert_true(score == 4.5);
    assert_int_equal(t, NOW);
    assert_int_equal(store_movie_info(s, 5, &m, &err), 0);
    assert_int_equal(m.nratings, 1);
    assert_true(m.mean == 4.5);
    /* again: replaces */
    assert_int_equal(store_rate(s, 1, 5, 0.5, NOW + 1, &err), 0);
    assert_int_equal(store_rating_get(s, 1, 5, &score, &t, &err), 0);
    assert_true(score == 0.5);
    assert_int_equal(t, NOW + 1);
    assert_int_equal(store_movie_info(s, 5, &m, &err), 0);
    assert_int_equal(m.nratings, 1);
    assert_true(m.mean == 0.5);
    /* an imported rating is replaced too */
    assert_int_equal(store_rate(s, 1, 1, 5, NOW + 2, &err), 0);
    assert_int_equal(store_movie_info(s, 1, &m, &err), 0);
    assert_int_equal(m.nratings, 3);
    assert_true(fabs(m.mean - 10.5 / 3) < 1e-9);

    expect_err(store_rate(s, 1, 5, 5.2, NOW, &err), &err, ERR_PARSE,
               "score must be 0.5 to 5 in steps of 0.5, not 5.2");
    expect_err(store_rate(s, 1, 5, 0, NOW, &err), &err, ERR_PARSE, "score");
    expect_err(store_rate(s, 1, 5, 5.5, NOW, &err), &err, ERR_PARSE, "score");
    expect_err(store_rate(s, 1, 5, 3.25, NOW, &err), &err, ERR_PARSE, "score");
    expect_err(store_rate(s, 1, 5, NAN, NOW, &err), &err, ERR_PARSE, "score");
    expect_err(store_rate(s, 1, 999, 3, NOW, &err), &err, ERR_NOTFOUND, "no movie 999");
    expect_err(store_rate(s, 999, 5, 3, NOW, &err), &err, ERR_NOTFOUND, "no user 999");

    assert_int_equal(store_unrate(s, 1, 5, NOW + 3, &err), 0);
    expect_err(store_unrate(s, 1, 5, NOW + 3, &err), &err, ERR_NOTFOUND, "has not rated");
    expect_err(store_rating_get(s, 1, 5, &score, &t, &err), &err, ERR_NOTFOUND, NULL);
    assert_int_equal(store_movie_info(s, 5, &m, &err), 0);
    assert_int_equal(m.nratings, 0);
    assert_true(m.mean == 0);
}

struct tags {
    int n;
    int64_t movie[16];
    char tag[16][80];
};

static int collect_tag(void *ctx, int64_t movie, const char *tag, int64_t time)
{
    struct tags *x = ctx;
    x->movie[x->n] = movie;
    snprintf(x->tag[x->n++], sizeof(x->tag[0]), "%s", tag);
    return 0;
}

static int stop_at_first(void *ctx, int64_t movie, const char *tag, int64_t time)
{
    (*(int *)ctx)++;
    return 42;
}

static void test_tags(void **state)
{
    struct fx *f = *state;
    struct store *s = f->s;
    struct error err;
    struct tags x;
    char long_tag[80];
    int calls = 0;

    assert_int_equal(store_tag_add(s, 2, 1, "great heist", NOW, &err), 0);
    assert_int_equal(store_tag_add(s, 2, 2, "  bullet time ", NOW + 1, &err), 0);
    assert_int_equal(store_tag_add(s, 2, 1, "Pacino", NOW + 2, &err), 0);
    expect_err(store_tag_add(s, 2, 1, "Great Heist", NOW, &err), &err, ERR_EXISTS, "already");
    expect_err(store_tag_add(s, 2, 1, "   ", NOW, &err), &err, ERR_PARSE, "tag is empty");
    expect_err(store_tag_add(s, 2, 1, NULL, NOW, &err), &err, ERR_PARSE, "tag is empty");
    memset(long_tag, 'a', 65);
    long_tag[65] = '\0';
    expect_err(store_tag_add(s, 2, 1, long_tag, NOW, &err), &err, ERR_PARSE, "longer than 64");
    expect_err(store_tag_add(s, 2, 1, "bad\ntag", NOW, &err), &err, ERR_PARSE, "control");
    expect_err(store_tag_add(s, 2, 999, "x", NOW, &err), &err, ERR_NOTFOUND, "no movie 999");
    expect_err(store_tag_add(s, 999, 1, "x", NOW, &err), &err, ERR_NOTFOUND, "no user 999");

    memset(&x, 0, sizeof(x));
    assert_int_equal(store_user_tags(s, 2, 0, collect_tag, &x, &err), 0);
    assert_int_equal(x.n, 4); /* newest first, the imported one last */
    assert_string_equal(x.tag[0], "Pacino");
    assert_string_equal(x.tag[1], "bullet time");
    assert_int_equal(x.movie[1], 2);
    assert_string_equal(x.tag[2], "great heist");
    assert_string_equal(x.tag[3], "heist");
    memset(&x, 0, sizeof(x));
    assert_int_equal(store_user_tags(s, 2, 2, collect_tag, &x, &err), 0);
    assert_int_equal(x.n, 1);
    assert_int_equal(store_user_tags(s, 2, 0, stop_at_first, &calls, &err), 42);
    assert_int_equal(calls, 1);

    assert_int_equal(store_tag_remove(s, 2, 1, "GREAT HEIST", NOW + 3, &err), 0);
    expect_err(store_tag_remove(s, 2, 1, "great heist", NOW + 3, &err), &err, ERR_NOTFOUND, NULL);
    expect_err(store_tag_remove(s, 2, 1, "", NOW + 3, &err), &err, ERR_NOTFOUND, NULL);
    memset(&x, 0, sizeof(x));
    assert_int_equal(store_user_tags(s, 2, 1, collect_tag, &x, &err), 0);
    assert_int_equal(x.n, 2);
}

struct events {
    int n;
    struct {
        int64_t id, time, user, movie;
        char kind[16], tag[80];
        double score;
    } e[32];
};

static int collect_event(void *ctx, const struct store_event *e)
{
    struct events *x = ctx;
    if (x->n == 32)
        return 1;
    x->e[x->n].id = e->id;
    x->e[x->n].time = e->time;
    x->e[x->n].user = e->user;
    x->e[x->n].movie = e->movie;
    x->e[x->n].score = e->score;
    snprintf(x->e[x->n].kind, sizeof(x->e[0].kind), "%s", e->kind);
    snprintf(x->e[x->n].tag, sizeof(x->e[0].tag), "%s", e->tag);
    x->n++;
    return 0;
}

static void test_events(void **state)
{
    struct fx *f = *state;
    struct store *s = f->s;
    struct error err;
    struct events x;
    const char *genres[] = {"Drama"};
    const char *bad[] = {"Western"};
    static const char *const kinds[] = {"register", "profile", "interests", "rate", "rate",
                                        "unrate", "tag", "untag"};
    int64_t id = 0;

    memset(&x, 0, sizeof(x));
    assert_int_equal(store_each_event(s, 0, collect_event, &x, &err), 0);
    assert_int_equal(x.n, 0); /* an import has none */

    assert_int_equal(store_account_create(s, "dave", "secret-hash", 'M', 0, NULL, NOW, &id, &err), 0);
    assert_int_equal(store_account_set_password(s, "dave", "another-secret-hash", &err), 0);
    assert_int_equal(store_account_update(s, id, 'M', 33, NULL, NULL, NOW + 1, &err), 0);
    assert_int_equal(store_interests_set(s, id, genres, 1, NULL, 0, NOW + 2, &err), 0);
    assert_int_equal(store_rate(s, id, 2, 4, NOW + 3, &err), 0);
    assert_int_equal(store_rate(s, id, 3, 2.5, NOW + 4, &err), 0);
    assert_int_equal(store_unrate(s, id, 2, NOW + 5, &err), 0);
    assert_int_equal(store_tag_add(s, id, 3, "classic", NOW + 6, &err), 0);
    assert_int_equal(store_tag_remove(s, id, 3, "classic", NOW + 7, &err), 0);
    /* failures append nothing */
    assert_int_not_equal(store_rate(s, id, 2, 7, NOW, &err), 0);
    assert_int_not_equal(store_rate(s, id, 999, 3, NOW, &err), 0);
    assert_int_not_equal(store_unrate(s, id, 2, NOW, &err), 0);
    assert_int_not_equal(store_interests_set(s, id, bad, 1, NULL, 0, NOW, &err), 0);
    assert_int_not_equal(store_account_create(s, "DAVE", "h", 0, 0, NULL, NOW, &id, &err), 0);
    assert_int_not_equal(store_tag_remove(s, id, 3, "classic", NOW, &err), 0);

    memset(&x, 0, sizeof(x));
    assert_int_equal(store_each_event(s, 0, collect_event, &x, &err), 0);
    assert_int_equal(x.n, 8);
    for (int i = 0; i < 8; i++) {
        assert_string_equal(x.e[i].kind, kinds[i]);
        assert_int_equal(x.e[i].time, NOW + i);
        assert_int_equal(x.e[i].user, id);
        assert_null(strstr(x.e[i].tag, "secret"));
        if (i > 0)
            assert_true(x.e[i].id > x.e[i - 1].id);
    }
    assert_int_equal(x.e[0].movie, 0);
    assert_int_equal(x.e[3].movie, 2);
    assert_true(x.e[3].score == 4);
    assert_true(x.e[4].score == 2.5);
    assert_int_equal(x.e[5].movie, 2);
    assert_string_equal(x.e[6].tag, "classic");
    assert_string_equal(x.e[7].tag, "classic");
    assert_string_equal(x.e[3].tag, "");

    /* from an id on */
    {
        int64_t after = x.e[5].id;
        memset(&x, 0, sizeof(x));
        assert_int_equal(store_each_event(s, after, collect_event, &x, &err), 0);
        assert_int_equal(x.n, 2);
        assert_string_equal(x.e[0].kind, "tag");
    }
}

/* ------------------------------------------------------------------ */
/* browsing                                                            */

/* Runs q and checks the ids found (want, ending with 0) and the total. */
static void expect_find(struct store *s, const struct store_movie_query *q, const int64_t *want,
                        int64_t want_total)
{
    struct store_movie_info out[100];
    struct error err;
    int64_t total = -1;
    int n = -1, k = 0;
    char got[512] = "";
    size_t len = 0;

    if (store_movies_find(s, q, out, &n, &total, &err))
        fail_msg("store_movies_find: %s", err.msg);
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(got + len, sizeof(got) - len, " %lld", (long long)out[i].id);
    while (want[k])
        k++;
    if (n != k || total != want_total)
        fail_msg("text '%s': got %d movies (%s ) of %lld, want %d of %lld", q->text ? q->text : "",
                 n, got, (long long)total, k, (long long)want_total);
    for (int i = 0; i < n; i++)
        if (out[i].id != want[i])
            fail_msg("text '%s': got (%s ), differs at %d", q->text ? q->text : "", got, i);
}

#define FIND(q, total, ...) \
    do { \
        const int64_t want_[] = {__VA_ARGS__, 0}; \
        expect_find(s, (q), want_, (total)); \
    } while (0)

static void test_list(void **state)
{
    struct fx *f = *state;
    struct store *s = f->s;
    struct store_movie_info out[100];
    struct store_movie_query q = {0};
    struct error err;
    int64_t total;
    int n;

    q.limit = 100;
    q.sort = STORE_SORT_RATING;
    FIND(&q, 8, 2, 3, 4, 1, 6, 5, 7, 8);
    q.sort = STORE_SORT_POPULAR;
    FIND(&q, 8, 2, 1, 3, 4, 6, 5, 7, 8);
    q.sort = STORE_SORT_YEAR;
    FIND(&q, 8, 8, 2, 1, 5, 6, 4, 3, 7);
    q.sort = STORE_SORT_TITLE;
    FIND(&q, 8, 1, 7, 5, 3, 4, 2, 8, 6);
    /* paging */
    q.offset = 3;
    q.limit = 3;
    FIND(&q, 8, 3, 4, 2);
    q.offset = 7;
    FIND(&q, 8, 6);
    q.offset = 8;
    {
        const int64_t none[] = {0};
        expect_find(s, &q, none, 8);
    }
    q.offset = 0;
    q.limit = 100;
    /* by genre (any case), by years */
    q.genre = "crime";
    FIND(&q, 3, 1, 3, 4);
    q.genre = "Sci-Fi";
    q.sort = STORE_SORT_YEAR;
    FIND(&q, 3, 8, 2, 5);
    q.year_max = 1999;
    FIND(&q, 2, 2, 5);
    q.genre = NULL;
    q.year_min = 1990;
    FIND(&q, 4, 2, 1, 5, 6);
    q.year_max = 0;
    FIND(&q, 5, 8, 2, 1, 5, 6);
    q.year_min = 0;
    q.genre = "";
    FIND(&q, 8, 8, 2, 1, 5, 6, 4, 3, 7);

    /* bad queries */
    q.genre = "Western";
    expect_err(store_movies_find(s, &q, out, &n, &total, &err), &err, ERR_NOTFOUND,
               "no genre 'Western'");
    q.genre = NULL;
    q.limit = 0;
    expect_err(store_movies_find(s, &q, out, &n, &total, &err), &err, ERR_USAGE, "limit");
    q.limit = 101;
    expect_err(store_movies_find(s, &q, out, &n, &total, &err), &err, ERR_USAGE, "limit");
    q.limit = 10;
    q.offset = -1;
    expect_err(store_movies_find(s, &q, out, &n, &total, &err), &err, ERR_USAGE, "offset");
    q.offset = 0;
    q.sort = STORE_SORT_RELEVANCE;
    expect_err(store_movies_find(s, &q, out, &n, &total, &err), &err, ERR_USAGE, "relevance");
    q.sort = (enum store_sort)99;
    expect_err(store_movies_find(s, &q, out, &n, &total, &err), &err, ERR_USAGE, "sort");
    q.sort = STORE_SORT_TITLE;
    q.year_min = 2000;
    q.year_max = 1990;
    expect_err(store_movies_find(s, &q, out, &n, &total, &err), &err, ERR_USAGE, NULL);
}

static void test_search(void **state)
{
    struct fx *f = *state;
    struct store *s = f->s;
    struct store_movie_info out[100];
    struct store_movie_query q = {0};
    struct error err;
    int64_t total;
    int n;

    q.limit = 100;
    q.sort = STORE_SORT_RELEVANCE;
    q.text = "heat";
    FIND(&q, 2, 1, 7); /* the shorter title first */
    q.text = "HEAT";
    FIND(&q, 2, 1, 7);
    q.text = "godf"; /* a prefix */
    FIND(&q, 2, 3, 4);
    q.text = "god part"; /* every word, each as a prefix */
    FIND(&q, 1, 4);
    q.text = "godfather 2";
    FIND(&q, 0, 0);
    /* typos: the closest title word */
    q.text = "matrx";
    q.sort = STORE_SORT_TITLE;
    FIND(&q, 2, 2, 8);
    q.text = "godfathr";
    FIND(&q, 2, 3, 4);
    q.text = "the godfahter part"; /* a transposition is two edits */
    FIND(&q, 1, 4);
    q.text = "heet";
    FIND(&q, 2, 1, 7);
    q.text = "hxxt"; /* two edits is too many for a short word */
    FIND(&q, 0, 0);
    q.text = "xyzzy";
    FIND(&q, 0, 0);
    /* diacritics, either way */
    q.text = "cite";
    FIND(&q, 1, 5);
    q.text = "CIT\xc3\x89";
    FIND(&q, 1, 5);
    q.text = "enfant perdu";
    FIND(&q, 1, 5);
    q.text = "perdùs";
    FIND(&q, 1, 5);
    /* FTS5 syntax is only text */
    q.text = "\"heat\"";
    FIND(&q, 2, 1, 7);
    q.text = "heat)";
    FIND(&q, 2, 1, 7);
    q.text = "NEAR(heat wave";
    FIND(&q, 0, 0);
    q.text = "heat OR matrix";
    FIND(&q, 0, 0);
    q.text = "heat* wave^";
    FIND(&q, 1, 7);
    q.text = "-heat";
    FIND(&q, 2, 1, 7);
    q.text = "title:heat";
    FIND(&q, 0, 0);
    q.text = "\xe2\x80\x9cheat\xe2\x80\x9d \xe2\x98\x85"; /* curly quotes, a star */
    FIND(&q, 2, 1, 7);
    /* no words at all: nothing, not an error */
    q.text = "!!! \"\" ( ) * : ^ -";
    FIND(&q, 0, 0);
    q.text = "";
    FIND(&q, 0, 0);
    q.text = "\"";
    FIND(&q, 0, 0);
    /* with filters and other sorts */
    q.text = "the";
    q.sort = STORE_SORT_POPULAR;
    FIND(&q, 4, 2, 3, 4, 8);
    q.offset = 1;
    q.limit = 2;
    FIND(&q, 4, 3, 4);
    q.offset = 0;
    q.limit = 100;
    q.genre = "Crime";
    FIND(&q, 2, 3, 4);
    q.genre = NULL;
    q.year_min = 1999;
    q.sort = STORE_SORT_YEAR;
    FIND(&q, 2, 8, 2);
    q.year_min = 0;
    q.sort = STORE_SORT_RATING;
    FIND(&q, 4, 2, 3, 4, 8);
    /* bad text */
    q.text = "caf\xe9";
    expect_err(store_movies_find(s, &q, out, &n, &total, &err), &err, ERR_USAGE, "UTF-8");
    {
        char big[400];
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        q.text = big;
        expect_err(store_movies_find(s, &q, out, &n, &total, &err), &err, ERR_USAGE, "longer");
        for (size_t i = 1; i < 100; i += 2)
            big[i] = ' ';
        big[100] = '\0';
        expect_err(store_movies_find(s, &q, out, &n, &total, &err), &err, ERR_USAGE, "words");
    }
}

/* The same queries in many shapes, more shapes than the handle keeps
 * statements for, in turn and again in the other order: each answer is
 * the one it gets alone, whatever was cached or dropped before it. */
static void test_find_shapes(void **state)
{
    struct fx *f = *state;
    struct store *s = f->s;
    struct error err;
    static const struct {
        enum store_sort sort;
        const char *text, *genre;
        int ymin, ymax, offset, limit;
        int64_t total, want[9];
    } c[] = {
        {STORE_SORT_RATING, NULL, NULL, 0, 0, 0, 100, 8, {2, 3, 4, 1, 6, 5, 7, 8}},
        {STORE_SORT_POPULAR, NULL, NULL, 0, 0, 0, 100, 8, {2, 1, 3, 4, 6, 5, 7, 8}},
        {STORE_SORT_YEAR, NULL, NULL, 0, 0, 0, 100, 8, {8, 2, 1, 5, 6, 4, 3, 7}},
        {STORE_SORT_TITLE, NULL, NULL, 0, 0, 0, 100, 8, {1, 7, 5, 3, 4, 2, 8, 6}},
        {STORE_SORT_TITLE, NULL, NULL, 0, 0, 3, 3, 8, {3, 4, 2}},
        {STORE_SORT_TITLE, NULL, NULL, 0, 0, 8, 3, 8, {0}},
        {STORE_SORT_TITLE, NULL, "crime", 0, 0, 0, 100, 3, {1, 3, 4}},
        {STORE_SORT_YEAR, NULL, "Sci-Fi", 0, 0, 0, 100, 3, {8, 2, 5}},
        {STORE_SORT_YEAR, NULL, "Sci-Fi", 0, 1999, 0, 100, 2, {2, 5}},
        {STORE_SORT_YEAR, NULL, NULL, 1990, 1999, 0, 100, 4, {2, 1, 5, 6}},
        {STORE_SORT_YEAR, NULL, NULL, 1990, 0, 0, 100, 5, {8, 2, 1, 5, 6}},
        {STORE_SORT_RELEVANCE, "heat", NULL, 0, 0, 0, 100, 2, {1, 7}},
        {STORE_SORT_RELEVANCE, "heat", NULL, 1990, 0, 0, 100, 1, {1}},
        {STORE_SORT_RELEVANCE, "godf", NULL, 0, 0, 0, 8, 2, {3, 4}},
        {STORE_SORT_RELEVANCE, "god part", NULL, 0, 0, 0, 8, 1, {4}},
        {STORE_SORT_RELEVANCE, "matrx", NULL, 0, 0, 0, 8, 2, {2, 8}},
        {STORE_SORT_RELEVANCE, "the godfahter part", NULL, 0, 0, 0, 8, 1, {4}},
        {STORE_SORT_RELEVANCE, "matrx", "sci-fi", 0, 2000, 0, 8, 1, {2}},
        /* "the": The Matrix and The Godfather tie on bm25; more ratings first */
        {STORE_SORT_RELEVANCE, "the", NULL, 0, 0, 0, 100, 4, {2, 3, 8, 4}},
        {STORE_SORT_RELEVANCE, "the", NULL, 0, 0, 1, 2, 4, {3, 8}},
        {STORE_SORT_RELEVANCE, "the", NULL, 0, 0, 10, 2, 4, {0}},
        {STORE_SORT_RELEVANCE, "the", "Sci-Fi", 0, 0, 0, 100, 2, {2, 8}},
        {STORE_SORT_RELEVANCE, "the", "crime", 1973, 1980, 0, 100, 1, {4}},
        {STORE_SORT_RELEVANCE, "xyzzy", NULL, 0, 0, 0, 8, 0, {0}},
        {STORE_SORT_TITLE, "matrx", NULL, 0, 0, 0, 100, 2, {2, 8}},
        {STORE_SORT_POPULAR, "the", NULL, 0, 0, 0, 100, 4, {2, 3, 4, 8}},
        {STORE_SORT_POPULAR, "the", NULL, 0, 0, 1, 2, 4, {3, 4}},
        {STORE_SORT_POPULAR, "the", "Crime", 0, 0, 0, 100, 2, {3, 4}},
        {STORE_SORT_YEAR, "the", NULL, 1999, 0, 0, 100, 2, {8, 2}},
        {STORE_SORT_RATING, "the", NULL, 0, 0, 0, 100, 4, {2, 3, 4, 8}},
        {STORE_SORT_RATING, "the", NULL, 0, 1999, 0, 100, 3, {2, 3, 4}},
    };
    const int nc = (int)(sizeof(c) / sizeof(*c));

    for (int round = 0; round < 4; round++)
        for (int j = 0; j < nc; j++) {
            int i = round % 2 ? nc - 1 - j : (j * 7 + round) % nc;
            struct store_movie_query q = {0};
            q.sort = c[i].sort;
            q.text = c[i].text;
            q.genre = c[i].genre;
            q.year_min = c[i].ymin;
            q.year_max = c[i].ymax;
            q.offset = c[i].offset;
            q.limit = c[i].limit;
            q.ids_only = (i + round) % 2;
            expect_find(s, &q, c[i].want, c[i].total);
        }
    /* a cached statement sees later writes: three more ratings of The
     * Godfather put it before The Matrix, its tie on bm25 */
    for (int64_t u = 3; u <= 5; u++)
        assert_int_equal(store_rate(s, u, 3, 4, NOW, &err), 0);
    {
        struct store_movie_query q = {0};
        q.sort = STORE_SORT_RELEVANCE;
        q.text = "the";
        q.limit = 100;
        FIND(&q, 4, 3, 2, 8, 4);
    }
}

/* Relevance ranking against SQLite's own bm25() ORDER BY: a store of
 * generated titles (repeated words, lengths from 1 to 7 words, tied
 * ratings), every word, prefix and pair, with and without filters and
 * pages. */
static void test_search_rank(void **state)
{
    struct fx *f = *state;
    static const char *const vocab[] = {"red", "river", "rider", "night", "knight", "moon",
                                        "story", "the", "of", "return", "new", "york"};
    static const char *const genres[] = {"Drama", "Comedy", "Western"};
    const int nv = (int)(sizeof(vocab) / sizeof(*vocab));
    char path[4300];
    struct store_loader *l;
    struct store *s;
    sqlite3 *db;
    struct error err;
    uint32_t seed = 12345;
    int queries = 0;

#define RND(n) ((int)((seed = seed * 1103515245u + 12345u) >> 16) % (n))
    snprintf(path, sizeof(path), "%s/rank.db", f->home);
    assert_int_equal(store_loader_begin(&l, path, &err), 0);
    for (int64_t u = 1; u <= 6; u++) {
        struct loader_user lu = {u, 'F', 30, "writer", "12345"};
        assert_int_equal(store_loader_user(l, &lu, &err), 0);
    }
    for (int64_t m = 1; m <= 90; m++) {
        char title[256] = "";
        size_t len = 0;
        int words = 1 + RND(7);
        const char *g[1] = {genres[RND(3)]};
        for (int w = 0; w < words; w++) {
            const char *word = w && RND(4) == 0 ? "red" : vocab[RND(nv)];
            len += (size_t)snprintf(title + len, sizeof(title) - len, "%s%s", w ? " " : "", word);
        }
        struct loader_movie lm = {m, title, RND(5) ? 1950 + RND(60) : 0, NULL, g, 1, NULL, NULL, 0};
        assert_int_equal(store_loader_movie(l, &lm, &err), 0);
    }
    for (int64_t m = 1; m <= 90; m++)
        for (int64_t u = 1; u <= 6; u++)
            if (RND(3) == 0)
                assert_int_equal(store_loader_rating(l, u, m, 1 + RND(5), 100, &err), 0);
    if (store_loader_finish(l, &err))
        fail_msg("loader: %s", err.msg);
    assert_int_equal(store_open(&s, path, &err), 0);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);

    for (int i = 0; i < 3 * nv; i++) {
        for (int filt = 0; filt < 4; filt++) {
            char text[64], match[128], sql[1024];
            const char *a = vocab[i % nv], *b = vocab[(i * 5 + 3) % nv];
            struct store_movie_query q = {0};
            struct store_movie_info out[100];
            int64_t want[200], total = 0;
            int nwant = 0, n = 0;
            sqlite3_stmt *st;

            if (i < nv) { /* a word */
                snprintf(text, sizeof(text), "%s", a);
                snprintf(match, sizeof(match), "\"%s\"*", a);
            } else if (i < 2 * nv) { /* a prefix of 3 letters */
                snprintf(text, sizeof(text), "%.3s", a);
                snprintf(match, sizeof(match), "\"%.3s\"*", a);
            } else { /* two words */
                snprintf(text, sizeof(text), "%s %.3s", a, b);
                snprintf(match, sizeof(match), "\"%s\"* AND \"%.3s\"*", a, b);
            }
            q.text = text;
            q.sort = STORE_SORT_RELEVANCE;
            q.ids_only = 1;
            q.limit = filt == 3 ? 4 : 100;
            q.offset = filt == 3 ? 2 : 0;
            q.genre = filt == 1 ? "drama" : NULL;
            q.year_min = filt == 2 ? 1960 : 0;
            q.year_max = filt == 2 ? 1995 : 0;
            snprintf(sql, sizeof(sql),
                     "SELECT m.id FROM movies_fts JOIN movies m ON m.id = movies_fts.rowid%s"
                     " LEFT JOIN movie_stats ms ON ms.movie_id = m.id"
                     " WHERE movies_fts MATCH ?1%s"
                     " ORDER BY bm25(movies_fts), coalesce(ms.ratings, 0) DESC, m.id",
                     filt == 1 ? " JOIN movie_genres mg ON mg.movie_id = m.id JOIN genres g"
                                 " ON g.id = mg.genre_id AND g.name = 'Drama'" : "",
                     filt == 2 ? " AND m.year >= 1960 AND m.year <= 1995" : "");
            assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
            sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
            while (sqlite3_step(st) == SQLITE_ROW && nwant < 200)
                want[nwant++] = sqlite3_column_int64(st, 0);
            sqlite3_finalize(st);

            if (store_movies_find(s, &q, out, &n, &total, &err))
                fail_msg("'%s': %s", text, err.msg);
            if (total != nwant)
                fail_msg("'%s' (filter %d): total %lld, bm25 finds %d", text, filt,
                         (long long)total, nwant);
            for (int k = 0; k < n || q.offset + k < nwant; k++) {
                if (k >= q.limit)
                    break;
                if (k >= n || q.offset + k >= nwant || out[k].id != want[q.offset + k])
                    fail_msg("'%s' (filter %d): at %d got %lld, bm25 order has %lld", text, filt,
                             q.offset + k, k < n ? (long long)out[k].id : -1LL,
                             q.offset + k < nwant ? (long long)want[q.offset + k] : -1LL);
            }
            queries += nwant > 1;
        }
    }
    assert_true(queries > 50); /* most have something to order */
    sqlite3_close(db);
    store_close(s);
#undef RND
}

static void test_movie_info(void **state)
{
    struct fx *f = *state;
    struct store *s = f->s;
    struct store_movie_info m;
    struct error err;

    assert_int_equal(store_movie_info(s, 1, &m, &err), 0);
    assert_int_equal(m.id, 1);
    assert_string_equal(m.title, "Heat");
    assert_int_equal(m.year, 1995);
    assert_string_equal(m.release_date, "1995-12-15");
    assert_string_equal(m.genres, "Action|Crime|Thriller");
    assert_string_equal(m.imdb_id, "tt0113277");
    assert_string_equal(m.imdb_url, "https://www.imdb.com/title/tt0113277/");
    assert_int_equal(m.tmdb_id, 949);
    assert_string_equal(m.poster_url, "");
    assert_int_equal(m.nratings, 3);
    assert_true(fabs(m.mean - 9.5 / 3) < 1e-9);
    assert_int_equal(store_movie_info(s, 7, &m, &err), 0);
    assert_string_equal(m.title, "Heat Wave");
    assert_int_equal(m.year, 0);
    assert_string_equal(m.genres, "");
    assert_string_equal(m.imdb_id, "");
    assert_int_equal(m.tmdb_id, 0);
    assert_int_equal(m.nratings, 0);
    assert_true(m.mean == 0);
    expect_err(store_movie_info(s, 999, &m, &err), &err, ERR_NOTFOUND, "no movie 999");
}

static void test_fans(void **state)
{
    struct fx *f = *state;
    struct store *s = f->s;
    struct error err;
    int64_t users[8];
    int n = -1;

    assert_int_equal(store_movie_fans(s, 2, 4.5, users, 8, &n, &err), 0);
    assert_int_equal(n, 3); /* best score first, then the newest user */
    assert_int_equal(users[0], 3);
    assert_int_equal(users[1], 1);
    assert_int_equal(users[2], 2);
    assert_int_equal(store_movie_fans(s, 2, 4.5, users, 2, &n, &err), 0);
    assert_int_equal(n, 2);
    /* fans rated 4 or more, whatever lower bound is asked for */
    assert_int_equal(store_movie_fans(s, 2, 0.5, users, 8, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(users[0], 3);
    assert_int_equal(store_movie_fans(s, 5, 0.5, users, 8, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(store_movie_fans(s, 2, 4, users, 0, &n, &err), 0);
    assert_int_equal(n, 0);
    expect_err(store_movie_fans(s, 999, 4, users, 8, &n, &err), &err, ERR_NOTFOUND, "no movie");
}

static void test_user_rated(void **state)
{
    struct fx *f = *state;
    struct store *s = f->s;
    struct store_rated out[100];
    struct error err;
    int64_t total = -1;
    int n = -1;

    assert_int_equal(store_user_rated(s, 1, STORE_RATED_TIME, 0, 10, out, &n, &total, &err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(total, 3);
    assert_int_equal(out[0].m.id, 2);
    assert_int_equal(out[0].time, 300);
    assert_true(out[0].score == 5);
    assert_string_equal(out[0].m.title, "The Matrix");
    assert_int_equal(out[0].m.nratings, 4);
    assert_int_equal(out[1].m.id, 3);
    assert_int_equal(out[2].m.id, 1);
    assert_true(out[2].score == 4);
    assert_int_equal(store_user_rated(s, 1, STORE_RATED_SCORE, 0, 10, out, &n, &total, &err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(out[0].m.id, 2); /* 5 at 300 */
    assert_int_equal(out[1].m.id, 3); /* 5 at 200 */
    assert_int_equal(out[2].m.id, 1);
    assert_int_equal(store_user_rated(s, 1, STORE_RATED_TITLE, 0, 10, out, &n, &total, &err), 0);
    assert_int_equal(out[0].m.id, 1);
    assert_int_equal(out[1].m.id, 3);
    assert_int_equal(out[2].m.id, 2);
    assert_int_equal(store_user_rated(s, 1, STORE_RATED_TITLE, 1, 1, out, &n, &total, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(total, 3);
    assert_int_equal(out[0].m.id, 3);
    /* past the end: nothing, the total still right */
    assert_int_equal(store_user_rated(s, 5, STORE_RATED_TIME, 5, 10, out, &n, &total, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(total, 1);
    expect_err(store_user_rated(s, 999, STORE_RATED_TIME, 0, 10, out, &n, &total, &err), &err,
               ERR_NOTFOUND, "no user 999");
    expect_err(store_user_rated(s, 1, STORE_RATED_TIME, 0, 0, out, &n, &total, &err), &err,
               ERR_USAGE, "limit");
    expect_err(store_user_rated(s, 1, STORE_RATED_TIME, 0, 101, out, &n, &total, &err), &err,
               ERR_USAGE, "limit");
    expect_err(store_user_rated(s, 1, STORE_RATED_TIME, -1, 10, out, &n, &total, &err), &err,
               ERR_USAGE, "offset");
    expect_err(store_user_rated(s, 1, (enum store_rated_sort)9, 0, 10, out, &n, &total, &err),
               &err, ERR_USAGE, "sort");
}

static void test_genres(void **state)
{
    struct fx *f = *state;
    struct store *s = f->s;
    struct store_genre_count g[32];
    struct error err;
    static const struct {
        const char *name;
        int64_t movies, ratings;
    } want[] = {
        {"Action", 3, 7}, {"Animation", 1, 1}, {"Children", 1, 1}, {"Comedy", 1, 1}, {"Crime", 3, 6},
        {"Drama", 2, 3},  {"Fantasy", 1, 0},   {"Sci-Fi", 3, 4},   {"Thriller", 1, 3},
    };
    int n = -1;

    assert_int_equal(store_genres(s, g, 32, &n, &err), 0);
    assert_int_equal(n, 9);
    for (int i = 0; i < n; i++) {
        assert_string_equal(g[i].name, want[i].name);
        assert_int_equal(g[i].movies, want[i].movies);
        assert_int_equal(g[i].ratings, want[i].ratings);
    }
    assert_int_equal(store_genres(s, g, 2, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(g[1].name, "Animation");
}

/* A store written by a movierec of schema version 1 gains the tables. */
static void test_migrate_v1(void **state)
{
    struct fx *f = *state;
    struct store *s;
    struct store_movie_query q = {0};
    struct store_movie_info out[4];
    struct error err;
    char path[4200];
    sqlite3 *db;
    int64_t id = 0, total = 0, fans[4];
    int n = 0;

    snprintf(path, sizeof(path), "%s/v1.db", f->home);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, store_schema_migration(0), NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "PRAGMA user_version = 1;"
                                  "INSERT INTO users (id, name, created) VALUES (1, 'user1', 0), (9, 'user9', 0);"
                                  "INSERT INTO movies (id, title, year) VALUES (1, 'The Matrix', 1999);"
                                  "INSERT INTO ratings VALUES (1, 1, 5, 10), (9, 1, 4, 11);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);

    assert_int_equal(store_open(&s, path, &err), 0);
    assert_int_equal(store_file_version(s), 1);
    assert_int_equal(store_account_create(s, "erin", "h", 0, 0, NULL, NOW, &id, &err), 0);
    assert_int_equal(id, 10);
    expect_err(store_account_create(s, "USER9", "h", 0, 0, NULL, NOW, &id, &err), &err, ERR_EXISTS,
               "taken");
    assert_int_equal(store_movie_fans(s, 1, 4, fans, 4, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(fans[0], 1);
    q.text = "matrx";
    q.limit = 4;
    q.sort = STORE_SORT_RELEVANCE;
    assert_int_equal(store_movies_find(s, &q, out, &n, &total, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].nratings, 2);
    store_close(s);
    assert_int_equal(store_open(&s, path, &err), 0);
    assert_int_equal(store_file_version(s), store_schema_version());
    store_close(s);
}

/* The real ml-latest-small, when ../shared/data has it. */
static void test_real_latest_small(void **state)
{
    struct fx *f = *state;
    struct store_movie_info out[100];
    struct store_movie_query q = {0};
    struct import_opts o = {0};
    struct import_report rep;
    struct error err;
    struct store *s;
    char dir[4096];
    int64_t total = 0;
    int n = 0;

    if (!tu_dataset("ml-latest-small", dir, sizeof(dir))) {
        print_message("skipped: ../shared/data/ml-latest-small is not here\n");
        skip();
    }
    store_close(f->s);
    f->s = NULL;
    assert_int_equal(import_dir(dir, f->db, &o, &rep, &err), 0);
    assert_int_equal(store_open(&s, f->db, &err), 0);
    f->s = s;
    q.limit = 5;
    q.sort = STORE_SORT_RELEVANCE;
    q.text = "matrx";
    assert_int_equal(store_movies_find(s, &q, out, &n, &total, &err), 0);
    assert_true(n >= 1);
    assert_string_equal(out[0].title, "The Matrix");
    q.text = "godfathr";
    assert_int_equal(store_movies_find(s, &q, out, &n, &total, &err), 0);
    assert_true(n >= 1);
    assert_string_equal(out[0].title, "The Godfather");
    q.text = "shawshank";
    assert_int_equal(store_movies_find(s, &q, out, &n, &total, &err), 0);
    assert_int_equal(n, 1);
    q.text = NULL;
    q.sort = STORE_SORT_RATING;
    q.limit = 1;
    assert_int_equal(store_movies_find(s, &q, out, &n, &total, &err), 0);
    assert_int_equal(total, 9742);
    assert_string_equal(out[0].title, "The Shawshank Redemption");
    /* a registered user goes above the 610 imported ones */
    {
        int64_t id = 0;
        assert_int_equal(store_account_create(s, "frank", "h", 0, 0, NULL, NOW, &id, &err), 0);
        assert_int_equal(id, 611);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accounts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search, setup, teardown),
        cmocka_unit_test_setup_teardown(test_find_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_rank, setup, teardown),
        cmocka_unit_test_setup_teardown(test_movie_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_rated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_genres, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_v1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_real_latest_small, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
