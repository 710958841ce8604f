/*
 * test_online.c - users' online features in memory (src/server/online.h)
 * over a real store built by the loader: loading (ratings by time,
 * interest genres, tagged movies), writes applied at once, forget and
 * reload, statistics, the least-recently-used bound, and threads that
 * rate and read the same users at once (a load racing a write is never
 * kept).
 */
#include "testutil.h"

#include <pthread.h>
#include <time.h>

#include "../../src/server/online.h"
#include "../../src/store/store.h"

#define NUSERS 64
#define NMOVIES 8
#define NOW 1700000000

struct fx {
    char home[4096];
    char db[4200];
    struct store *s;
};

static const char *const g_action[] = {"Action"};
static const char *const g_drama[] = {"Drama"};
static const char *const g_comedy[] = {"Comedy", "Drama"};

/*
 * Users 1..64 ('M' when odd, age 20 + u % 50, "writer"); movies 1..8
 * (Action, Drama, Comedy|Drama in turn). Every user u but 5 rates movie
 * 1 + u % 8 (score 0.5 + (u % 10) / 2, time 1000 + u). User 1 also rates
 * movies 3 (time 300), 5 (time 100) and 7 (time 200): by movie id the
 * store gives 2, 3, 5, 7, by time it is 5, 7, 3, then 2. User 2 tagged
 * movie 4 twice and movie 6 once.
 */
static void build(struct fx *f)
{
    struct store_loader *l;
    struct error err;

    assert_int_equal(store_loader_begin(&l, f->db, &err), 0);
    for (int64_t u = 1; u <= NUSERS; u++) {
        struct loader_user lu = {u, u % 2 ? 'M' : 'F', 20 + (int)(u % 50), "writer", "12345"};
        assert_int_equal(store_loader_user(l, &lu, &err), 0);
    }
    for (int64_t m = 1; m <= NMOVIES; m++) {
        char title[32];
        const char *const *g = m % 3 == 1 ? g_action : m % 3 == 2 ? g_drama : g_comedy;
        struct loader_movie lm = {m, title, 1990 + (int)m, NULL, g, m % 3 == 0 ? 2 : 1,
                                  NULL, NULL, 0};
        snprintf(title, sizeof(title), "Movie %d", (int)m);
        assert_int_equal(store_loader_movie(l, &lm, &err), 0);
    }
    for (int64_t u = 1; u <= NUSERS; u++) {
        if (u == 5)
            continue; /* user 5: no ratings at all */
        if (u == 1) {
            assert_int_equal(store_loader_rating(l, 1, 2, 4.5, 1001, &err), 0);
            assert_int_equal(store_loader_rating(l, 1, 3, 3.0, 300, &err), 0);
            assert_int_equal(store_loader_rating(l, 1, 5, 5.0, 100, &err), 0);
            assert_int_equal(store_loader_rating(l, 1, 7, 2.0, 200, &err), 0);
            continue;
        }
        assert_int_equal(store_loader_rating(l, u, 1 + u % NMOVIES, 0.5 + (double)(u % 10) / 2,
                                             1000 + u, &err),
                         0);
    }
    assert_int_equal(store_loader_tag(l, 2, 4, "twisty", 50, &err), 0);
    assert_int_equal(store_loader_tag(l, 2, 6, "slow", 60, &err), 0);
    assert_int_equal(store_loader_tag(l, 2, 4, "again", 40, &err), 0);
    if (store_loader_finish(l, &err))
        fail_msg("loader: %s", err.msg);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct error err;
    const char *genres[] = {"drama", "Action"};
    tu_tmpdir(f->home);
    snprintf(f->db, sizeof(f->db), "%s/movierec.db", f->home);
    build(f);
    if (store_open(&f->s, f->db, &err))
        fail_msg("store_open: %s", err.msg);
    /* user 1's interest genres, in their order (the store's spelling) */
    if (store_interests_set(f->s, 1, genres, 2, NULL, 0, NOW, &err))
        fail_msg("interests: %s", err.msg);
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

/* ------------------------------------------------------------------ */
/* helpers                                                              */

static void get_ok(struct online *o, struct store *s, int64_t user, struct online_snap *out)
{
    struct error err = {0};
    int rc = online_get(o, s, user, out, &err);
    if (rc)
        fail_msg("online_get(%lld): %d %s", (long long)user, rc, err.msg);
    assert_int_equal(out->user, user);
}

/* The user's state loaded afresh (a table of its own). */
static void fresh(struct store *s, int64_t user, struct online_snap *out)
{
    struct online *o = online_new(16);
    assert_non_null(o);
    get_ok(o, s, user, out);
    online_free(o);
}

static void expect_same(const struct online_snap *a, const struct online_snap *b)
{
    assert_int_equal(a->user, b->user);
    assert_int_equal(a->gender, b->gender);
    assert_int_equal(a->age, b->age);
    assert_string_equal(a->occupation, b->occupation);
    if (a->n != b->n)
        fail_msg("user %lld: %d ratings in memory, %d in the store", (long long)a->user, a->n,
                 b->n);
    for (int i = 0; i < a->n; i++)
        if (a->r[i].movie != b->r[i].movie || a->r[i].score != b->r[i].score ||
            a->r[i].time != b->r[i].time)
            fail_msg("user %lld rating %d: (%lld, %g, %lld) in memory, (%lld, %g, %lld) in the "
                     "store",
                     (long long)a->user, i, (long long)a->r[i].movie, a->r[i].score,
                     (long long)a->r[i].time, (long long)b->r[i].movie, b->r[i].score,
                     (long long)b->r[i].time);
    assert_int_equal(a->ngenres, b->ngenres);
    for (int i = 0; i < a->ngenres; i++)
        assert_string_equal(a->genres[i], b->genres[i]);
    assert_int_equal(a->ntagged, b->ntagged);
    for (int i = 0; i < a->ntagged; i++)
        assert_true(a->tagged[i] == b->tagged[i]);
}

/* The snapshot equals a fresh load from s. */
static void expect_fresh(struct store *s, const struct online_snap *a)
{
    struct online_snap b;
    fresh(s, a->user, &b);
    expect_same(a, &b);
    online_snap_free(&b);
}

/* Ratings by time (then movie), each movie once. */
static void expect_ordered(const struct online_snap *a)
{
    for (int i = 1; i < a->n; i++)
        if (a->r[i - 1].time > a->r[i].time ||
            (a->r[i - 1].time == a->r[i].time && a->r[i - 1].movie >= a->r[i].movie))
            fail_msg("user %lld: ratings %d and %d out of order", (long long)a->user, i - 1, i);
    for (int i = 0; i < a->n; i++)
        for (int j = i + 1; j < a->n; j++)
            if (a->r[i].movie == a->r[j].movie)
                fail_msg("user %lld: movie %lld twice", (long long)a->user,
                         (long long)a->r[i].movie);
}

static int find_rating(const struct online_snap *a, int64_t movie)
{
    for (int i = 0; i < a->n; i++)
        if (a->r[i].movie == movie)
            return i;
    return -1;
}

/* ------------------------------------------------------------------ */

static void test_load(void **state)
{
    struct fx *f = *state;
    struct online *o = online_new(100);
    struct online_snap st;
    struct error err = {0};
    static const int64_t movie[] = {5, 7, 3, 2};
    static const float score[] = {5.0f, 2.0f, 3.0f, 4.5f};
    static const int64_t when[] = {100, 200, 300, 1001};

    assert_non_null(o);
    get_ok(o, f->s, 1, &st);
    assert_int_equal(st.gender, 'M');
    assert_int_equal(st.age, 21);
    assert_string_equal(st.occupation, "writer");
    assert_int_equal(st.n, 4); /* by time, oldest first (the store gives them by movie) */
    for (int i = 0; i < 4; i++) {
        assert_true(st.r[i].movie == movie[i]);
        assert_true(st.r[i].score == score[i]);
        assert_true(st.r[i].time == when[i]);
    }
    assert_int_equal(st.ngenres, 2); /* in the user's order, the store's spelling */
    assert_string_equal(st.genres[0], "Drama");
    assert_string_equal(st.genres[1], "Action");
    assert_int_equal(st.ntagged, 0);
    online_snap_free(&st);
    assert_null(st.r);

    /* tagged movies: each once, latest last (movie 4's latest tag is at 50) */
    get_ok(o, f->s, 2, &st);
    assert_int_equal(st.ntagged, 2);
    assert_true(st.tagged[0] == 4);
    assert_true(st.tagged[1] == 6);
    assert_int_equal(st.n, 1);
    assert_true(st.r[0].movie == 3 && st.r[0].score == 1.5f && st.r[0].time == 1002);
    assert_int_equal(st.ngenres, 0);
    assert_int_equal(st.gender, 'F');
    online_snap_free(&st);

    /* a user with no ratings */
    get_ok(o, f->s, 5, &st);
    assert_int_equal(st.n, 0);
    assert_null(st.r);
    online_snap_free(&st);

    /* the copy is the caller's: changing it changes nothing in memory */
    get_ok(o, f->s, 1, &st);
    st.r[0].score = 0.5f;
    st.ngenres = 0;
    online_snap_free(&st);
    get_ok(o, f->s, 1, &st);
    assert_true(st.r[0].score == 5.0f);
    assert_int_equal(st.ngenres, 2);
    online_snap_free(&st);

    /* unknown users */
    memset(&st, 0x55, sizeof(st));
    assert_int_equal(online_get(o, f->s, 999, &st, &err), ERR_NOTFOUND);
    assert_int_equal(st.n, 0);
    assert_null(st.r);
    online_snap_free(&st);
    assert_int_equal(online_get(o, f->s, 0, &st, &err), ERR_NOTFOUND);
    online_snap_free(&st);
    assert_int_equal(online_get(o, f->s, -3, &st, &err), ERR_NOTFOUND);
    online_snap_free(&st);
    online_free(o);
    online_free(NULL);
}

static void test_writes(void **state)
{
    struct fx *f = *state;
    struct store *s = f->s;
    struct online *o = online_new(100);
    struct online_snap st;
    struct error err = {0};
    int i;

    assert_non_null(o);
    get_ok(o, s, 1, &st); /* now in memory */
    online_snap_free(&st);

    /* a new rating: the latest, last */
    assert_int_equal(store_rate(s, 1, 8, 3.5, NOW, &err), 0);
    online_rated(o, 1, 8, 3.5f, NOW);
    get_ok(o, s, 1, &st);
    assert_int_equal(st.n, 5);
    assert_true(st.r[4].movie == 8 && st.r[4].score == 3.5f && st.r[4].time == NOW);
    expect_ordered(&st);
    expect_fresh(s, &st);
    online_snap_free(&st);

    /* a rating of a movie rated before replaces it and moves to its time */
    assert_int_equal(store_rate(s, 1, 5, 1.0, NOW + 1, &err), 0);
    online_rated(o, 1, 5, 1.0f, NOW + 1);
    get_ok(o, s, 1, &st);
    assert_int_equal(st.n, 5);
    assert_true(st.r[4].movie == 5 && st.r[4].score == 1.0f && st.r[4].time == NOW + 1);
    assert_true(st.r[0].movie == 7); /* 5 was the oldest */
    expect_ordered(&st);
    expect_fresh(s, &st);
    online_snap_free(&st);

    /* a write whose time is not the latest still lands in time order */
    assert_int_equal(store_rate(s, 1, 6, 4.0, 250, &err), 0);
    online_rated(o, 1, 6, 4.0f, 250);
    get_ok(o, s, 1, &st);
    assert_int_equal(st.n, 6);
    i = find_rating(&st, 6);
    assert_int_equal(i, 1); /* after 7 (200), before 3 (300) */
    expect_ordered(&st);
    expect_fresh(s, &st);
    online_snap_free(&st);
    /* the same time as another rating: by movie, as a load sorts them */
    assert_int_equal(store_rate(s, 1, 4, 4.0, 300, &err), 0);
    online_rated(o, 1, 4, 4.0f, 300);
    get_ok(o, s, 1, &st);
    assert_int_equal(find_rating(&st, 3) + 1, find_rating(&st, 4));
    expect_ordered(&st);
    expect_fresh(s, &st);
    online_snap_free(&st);

    /* unrated: gone; a movie never rated changes nothing */
    assert_int_equal(store_unrate(s, 1, 3, NOW + 2, &err), 0);
    online_unrated(o, 1, 3);
    online_unrated(o, 1, 999);
    get_ok(o, s, 1, &st);
    assert_int_equal(st.n, 6);
    assert_int_equal(find_rating(&st, 3), -1);
    expect_ordered(&st);
    expect_fresh(s, &st);
    online_snap_free(&st);
    /* every rating removed, then one again */
    while (1) {
        get_ok(o, s, 1, &st);
        if (st.n == 0) {
            online_snap_free(&st);
            break;
        }
        int64_t m = st.r[0].movie;
        online_snap_free(&st);
        assert_int_equal(store_unrate(s, 1, m, NOW + 3, &err), 0);
        online_unrated(o, 1, m);
    }
    assert_int_equal(store_rate(s, 1, 2, 5.0, NOW + 4, &err), 0);
    online_rated(o, 1, 2, 5.0f, NOW + 4);
    get_ok(o, s, 1, &st);
    assert_int_equal(st.n, 1);
    expect_fresh(s, &st);
    online_snap_free(&st);

    /* tagged: a movie once however many tags it gets, the latest last */
    get_ok(o, s, 3, &st);
    assert_int_equal(st.ntagged, 0);
    online_snap_free(&st);
    assert_int_equal(store_tag_add(s, 3, 2, "one", NOW, &err), 0);
    online_tagged(o, 3, 2);
    assert_int_equal(store_tag_add(s, 3, 2, "two", NOW + 1, &err), 0);
    online_tagged(o, 3, 2);
    assert_int_equal(store_tag_add(s, 3, 7, "three", NOW + 2, &err), 0);
    online_tagged(o, 3, 7);
    get_ok(o, s, 3, &st);
    assert_int_equal(st.ntagged, 2);
    assert_true(st.tagged[0] == 2 && st.tagged[1] == 7);
    expect_fresh(s, &st);
    online_snap_free(&st);

    /* writes to a user not in memory: nothing to apply, the next get loads
     * them from the store */
    assert_int_equal(store_rate(s, 4, 1, 2.5, NOW, &err), 0);
    online_rated(o, 4, 1, 2.5f, NOW);
    assert_int_equal(store_tag_add(s, 4, 1, "late", NOW, &err), 0);
    online_tagged(o, 4, 1);
    get_ok(o, s, 4, &st);
    assert_int_equal(st.n, 2);
    assert_true(st.r[1].movie == 1 && st.r[1].score == 2.5f);
    assert_int_equal(st.ntagged, 1);
    expect_fresh(s, &st);
    online_snap_free(&st);
    online_free(o);
}

/* Documents the header's "latest last" for a movie tagged again after
 * another one: the memory should agree with what a load gives. */
static void test_retag_order(void **state)
{
    struct fx *f = *state;
    struct store *s = f->s;
    struct online *o = online_new(100);
    struct online_snap st, back;
    struct error err = {0};
    char why[160];
    int same;

    assert_non_null(o);
    get_ok(o, s, 6, &st);
    online_snap_free(&st);
    assert_int_equal(store_tag_add(s, 6, 1, "first", NOW, &err), 0);
    online_tagged(o, 6, 1);
    assert_int_equal(store_tag_add(s, 6, 2, "second", NOW + 1, &err), 0);
    online_tagged(o, 6, 2);
    assert_int_equal(store_tag_add(s, 6, 1, "third", NOW + 2, &err), 0);
    online_tagged(o, 6, 1); /* movie 1 is now the latest tagged */
    get_ok(o, s, 6, &st);
    fresh(s, 6, &back); /* a load: 2 then 1 */
    same = st.ntagged == 2 && back.ntagged == 2 && back.tagged[0] == 2 && back.tagged[1] == 1 &&
           st.tagged[0] == back.tagged[0] && st.tagged[1] == back.tagged[1];
    snprintf(why, sizeof(why), "memory has %lld, %lld; a load gives %lld, %lld",
             (long long)st.tagged[0], (long long)st.tagged[1], (long long)back.tagged[0],
             (long long)back.tagged[1]);
    online_snap_free(&st);
    online_snap_free(&back);
    online_free(o);
    if (!same)
        fail_msg("movie 1 tagged again after movie 2: %s", why);
}

static void test_forget(void **state)
{
    struct fx *f = *state;
    struct store *s = f->s;
    struct online *o = online_new(100);
    struct online_snap st;
    struct error err = {0};
    const char *genres[] = {"Comedy"};

    assert_non_null(o);
    get_ok(o, s, 3, &st);
    assert_int_equal(st.age, 23);
    assert_int_equal(st.n, 1);
    assert_int_equal(st.ngenres, 0);
    online_snap_free(&st);

    /* the store changes behind the table's back: it still serves the old */
    assert_int_equal(store_account_update(s, 3, 'F', 44, "teacher", "", NOW, &err), 0);
    assert_int_equal(store_interests_set(s, 3, genres, 1, NULL, 0, NOW, &err), 0);
    assert_int_equal(store_rate(s, 3, 8, 5.0, NOW, &err), 0);
    get_ok(o, s, 3, &st);
    assert_int_equal(st.age, 23);
    assert_int_equal(st.n, 1);
    online_snap_free(&st);

    /* forget: the next get reloads */
    online_forget(o, 3);
    get_ok(o, s, 3, &st);
    assert_int_equal(st.gender, 'F');
    assert_int_equal(st.age, 44);
    assert_string_equal(st.occupation, "teacher");
    assert_int_equal(st.ngenres, 1);
    assert_string_equal(st.genres[0], "Comedy");
    assert_int_equal(st.n, 2);
    assert_true(st.r[1].movie == 8);
    expect_fresh(s, &st);
    online_snap_free(&st);
    /* forgetting someone not in memory (or unknown) is harmless */
    online_forget(o, 7);
    online_forget(o, 12345);
    get_ok(o, s, 7, &st);
    online_snap_free(&st);
    online_free(o);
}

static void test_stats(void **state)
{
    struct fx *f = *state;
    struct online *o = online_new(100);
    struct online_snap st;
    struct online_stats ss;
    struct error err = {0};

    assert_non_null(o);
    online_get_stats(o, &ss);
    assert_true(ss.hits == 0 && ss.misses == 0 && ss.updates == 0 && ss.users == 0);
    get_ok(o, f->s, 1, &st); /* miss */
    online_snap_free(&st);
    get_ok(o, f->s, 1, &st); /* hit */
    online_snap_free(&st);
    get_ok(o, f->s, 2, &st); /* miss */
    online_snap_free(&st);
    online_get_stats(o, &ss);
    assert_true(ss.hits == 1 && ss.misses == 2 && ss.updates == 0);
    assert_int_equal(ss.users, 2);

    online_rated(o, 1, 8, 3.0f, NOW); /* in memory */
    online_rated(o, 9, 8, 3.0f, NOW); /* not: still an update */
    online_tagged(o, 2, 1);
    online_unrated(o, 1, 8);
    online_forget(o, 1);
    online_get_stats(o, &ss);
    assert_true(ss.hits == 1 && ss.misses == 2 && ss.updates == 5);
    assert_int_equal(ss.users, 1); /* 1 forgotten */
    get_ok(o, f->s, 1, &st); /* miss again */
    online_snap_free(&st);
    assert_int_equal(online_get(o, f->s, 999, &st, &err), ERR_NOTFOUND);
    online_get_stats(o, &ss);
    assert_true(ss.hits == 1 && ss.misses == 4);
    assert_int_equal(ss.users, 2); /* an unknown user takes no place */
    online_free(o);
}

static void test_eviction(void **state)
{
    struct fx *f = *state;
    struct online *o = online_new(16);
    struct online_snap st;
    struct online_stats ss;
    uint64_t misses;

    assert_non_null(o);
    for (int pass = 0; pass < 3; pass++)
        for (int64_t u = 1; u <= 40; u++) {
            get_ok(o, f->s, u, &st);
            expect_fresh(f->s, &st);
            if (u != 1 && u != 5) {
                assert_int_equal(st.n, 1);
                assert_true(st.r[0].movie == 1 + u % NMOVIES);
                assert_true(st.r[0].time == 1000 + u);
            }
            online_snap_free(&st);
            online_get_stats(o, &ss);
            assert_true(ss.users <= 16);
        }
    online_get_stats(o, &ss);
    assert_true(ss.users >= 1 && ss.users <= 16);
    assert_true(ss.misses > 40); /* loaded again after being dropped */
    misses = ss.misses;
    /* a write to a dropped user is not lost: the store has it */
    get_ok(o, f->s, 1, &st);
    online_snap_free(&st);
    online_rated(o, 2, 8, 5.0f, NOW); /* 2 was dropped long ago, not yet in the store */
    get_ok(o, f->s, 2, &st);
    assert_int_equal(find_rating(&st, 8), -1); /* from the store, which lacks it */
    online_snap_free(&st);
    online_get_stats(o, &ss);
    assert_true(ss.misses > misses);
    online_free(o);

    /* least recently used goes first: 2 places per shard; users 1, 17, 33
     * share shard 1 */
    o = online_new(32);
    assert_non_null(o);
    get_ok(o, f->s, 1, &st);
    online_snap_free(&st);
    get_ok(o, f->s, 17, &st);
    online_snap_free(&st);
    get_ok(o, f->s, 1, &st); /* hit: 1 is now newer than 17 */
    online_snap_free(&st);
    get_ok(o, f->s, 33, &st); /* drops 17 */
    online_snap_free(&st);
    online_get_stats(o, &ss);
    assert_true(ss.hits == 1 && ss.misses == 3);
    assert_int_equal(ss.users, 2);
    get_ok(o, f->s, 1, &st);
    online_snap_free(&st);
    get_ok(o, f->s, 33, &st);
    online_snap_free(&st);
    online_get_stats(o, &ss);
    assert_true(ss.hits == 3 && ss.misses == 3);
    get_ok(o, f->s, 17, &st);
    online_snap_free(&st);
    online_get_stats(o, &ss);
    assert_true(ss.hits == 3 && ss.misses == 4);
    online_free(o);
}

/* ------------------------------------------------------------------ */
/* threads                                                              */

/* Four users on one shard (1, 17, 33, 49 are all 1 mod 16) with 3 places
 * per shard: they keep dropping each other, so loads are frequent and race
 * the writes. (With the "a load racing a write is not kept" rule removed
 * from online.c this test fails in about 6 runs of 10.) */
static const int64_t busy_users[] = {1, 17, 33, 49};
#define NBUSY ((int)(sizeof(busy_users) / sizeof(busy_users[0])))

struct shared {
    const char *db;
    struct online *o;
    /* One writer per user at a time, around the store write and the
     * online_* call together: two unserialised writes of one user could
     * reach the store in one order and memory in the other. */
    pthread_mutex_t user_mu[NBUSY];
    pthread_mutex_t clock_mu;
    int64_t clock;
    double stop_at;
};

struct worker {
    struct shared *sh;
    uint64_t seed;
    int rates, unrates, gets, forgets;
    char failed[256];
};

static double mono_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int64_t tick(struct shared *sh)
{
    int64_t t;
    pthread_mutex_lock(&sh->clock_mu);
    t = ++sh->clock;
    pthread_mutex_unlock(&sh->clock_mu);
    return t;
}

static int snap_ordered(const struct online_snap *a)
{
    for (int i = 1; i < a->n; i++)
        if (a->r[i - 1].time > a->r[i].time ||
            (a->r[i - 1].time == a->r[i].time && a->r[i - 1].movie >= a->r[i].movie))
            return 0;
    return 1;
}

struct truth {
    int n;
    struct online_rating r[NMOVIES * 4];
};

static int collect_rating(void *ctx, int64_t user, int64_t movie, double score, int64_t time)
{
    struct truth *t = ctx;
    (void)user;
    if (t->n == NMOVIES * 4)
        return 1;
    t->r[t->n++] = (struct online_rating){movie, (float)score, time};
    return 0;
}

/* While the caller holds user's write lock: memory (through a get) equals
 * the store. 0, or -1 with why. */
static int check_user(struct store *s, struct online *o, int64_t user, char *why, size_t cap)
{
    struct online_snap st;
    struct truth t;
    struct error err = {0};
    int rc = -1;

    memset(&t, 0, sizeof(t));
    if (store_user_ratings(s, user, collect_rating, &t, &err)) {
        snprintf(why, cap, "store_user_ratings: %s", err.msg);
        return -1;
    }
    if (online_get(o, s, user, &st, &err)) {
        snprintf(why, cap, "online_get: %s", err.msg);
        return -1;
    }
    if (st.n != t.n) {
        snprintf(why, cap, "user %lld: %d ratings in memory, %d in the store", (long long)user,
                 st.n, t.n);
        goto out;
    }
    for (int i = 0; i < t.n; i++) {
        int j = find_rating(&st, t.r[i].movie);
        if (j < 0 || st.r[j].score != t.r[i].score || st.r[j].time != t.r[i].time) {
            snprintf(why, cap, "user %lld movie %lld: memory and store differ", (long long)user,
                     (long long)t.r[i].movie);
            goto out;
        }
    }
    if (!snap_ordered(&st)) {
        snprintf(why, cap, "user %lld: a snapshot out of order", (long long)user);
        goto out;
    }
    rc = 0;
out:
    online_snap_free(&st);
    return rc;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    struct shared *sh = w->sh;
    struct store *s = NULL;
    struct error err = {0};

    if (store_open(&s, sh->db, &err)) {
        snprintf(w->failed, sizeof(w->failed), "store_open: %s", err.msg);
        return NULL;
    }
    while (mono_s() < sh->stop_at && !w->failed[0]) {
        uint64_t x = rnd(&w->seed);
        int k = (int)(x % NBUSY), what = (int)((x >> 8) % 20);
        int64_t user = busy_users[k], movie = 1 + (int64_t)((x >> 16) % NMOVIES);
        if (what < 8) { /* rate: the store first, then memory, one writer per user */
            double score = 0.5 * (double)(1 + (x >> 24) % 10);
            pthread_mutex_lock(&sh->user_mu[k]);
            int64_t t = tick(sh);
            int rc = store_rate(s, user, movie, score, t, &err);
            if (rc == 0)
                online_rated(sh->o, user, movie, (float)score, t);
            else
                snprintf(w->failed, sizeof(w->failed), "store_rate: %s", err.msg);
            /* nobody else writes this user now: memory must equal the store
             * (a get that loaded before the write must not have kept it) */
            if (rc == 0)
                check_user(s, sh->o, user, w->failed, sizeof(w->failed));
            pthread_mutex_unlock(&sh->user_mu[k]);
            w->rates++;
        } else if (what < 9) {
            pthread_mutex_lock(&sh->user_mu[k]);
            int rc = store_unrate(s, user, movie, tick(sh), &err);
            if (rc == 0)
                online_unrated(sh->o, user, movie);
            else if (rc != ERR_NOTFOUND)
                snprintf(w->failed, sizeof(w->failed), "store_unrate: %s", err.msg);
            if (rc == 0)
                check_user(s, sh->o, user, w->failed, sizeof(w->failed));
            pthread_mutex_unlock(&sh->user_mu[k]);
            w->unrates++;
        } else if (what < 13) {
            online_forget(sh->o, user);
            w->forgets++;
        } else {
            struct online_snap st;
            int rc = online_get(sh->o, s, user, &st, &err);
            if (rc)
                snprintf(w->failed, sizeof(w->failed), "online_get: %s", err.msg);
            else if (st.user != user || !snap_ordered(&st))
                snprintf(w->failed, sizeof(w->failed), "user %lld: a snapshot out of order",
                         (long long)user);
            else
                for (int i = 0; i < st.n; i++)
                    for (int j = i + 1; j < st.n; j++)
                        if (st.r[i].movie == st.r[j].movie)
                            snprintf(w->failed, sizeof(w->failed), "user %lld: movie twice",
                                     (long long)user);
            online_snap_free(&st);
            w->gets++;
        }
    }
    store_close(s);
    return NULL;
}

static void test_threads(void **state)
{
    struct fx *f = *state;
    struct shared sh;
    struct worker w[4];
    pthread_t th[4];
    struct online_stats ss;
    int rates = 0, gets = 0;

    memset(&sh, 0, sizeof(sh));
    sh.db = f->db;
    sh.o = online_new(48); /* 3 places per shard */
    assert_non_null(sh.o);
    for (int k = 0; k < NBUSY; k++)
        pthread_mutex_init(&sh.user_mu[k], NULL);
    pthread_mutex_init(&sh.clock_mu, NULL);
    sh.clock = NOW;
    sh.stop_at = mono_s() + 0.5;
    for (int i = 0; i < 4; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].sh = &sh;
        w[i].seed = 0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1);
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++) {
        if (w[i].failed[0]) {
            online_free(sh.o);
            fail_msg("thread %d: %s", i, w[i].failed);
        }
        rates += w[i].rates;
        gets += w[i].gets;
    }
    assert_true(rates > 20 && gets > 20); /* it did run */

    /* whatever is in memory now is what the store holds */
    for (int k = 0; k < NBUSY; k++) {
        struct online_snap st;
        char why[256];
        if (check_user(f->s, sh.o, busy_users[k], why, sizeof(why)))
            fail_msg("at the end: %s", why);
        get_ok(sh.o, f->s, busy_users[k], &st);
        expect_fresh(f->s, &st);
        online_snap_free(&st);
    }
    online_get_stats(sh.o, &ss);
    assert_true(ss.users <= 48);
    assert_true(ss.hits > 0 && ss.misses > 0);
    if (getenv("SHOW_STATS"))
        fprintf(stderr, "rates %d gets %d hits %llu misses %llu\n", rates, gets,
                (unsigned long long)ss.hits, (unsigned long long)ss.misses);
    for (int k = 0; k < NBUSY; k++)
        pthread_mutex_destroy(&sh.user_mu[k]);
    pthread_mutex_destroy(&sh.clock_mu);
    online_free(sh.o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retag_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eviction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
