/*
 * test_generate.c - the synthetic data set: files and headers, exact
 * counts, order and ranges, determinism, power-law popularity, ratings
 * that follow the latent tastes, bad arguments and failed writes.
 */
#include "testutil.h"

#include <math.h>
#include <signal.h>
#include <sys/resource.h>

#include "../../src/data/csv.h"
#include "../../src/data/generate.h"
#include "../../src/data/lines.h"
#include "../../src/data/movielens.h"

#include "../../src/util/banned.h"

#define T_START 820454400LL /* 1996-01-01 */
#define T_END 1701302400LL  /* 2023-11-30 */

/* ------------------------------------------------------------------ */
/* Reading the files back                                              */

typedef void record_fn(const struct csv_field *f, int nf, void *ctx);

/* Checks the header line of dir/name, then calls fn on every record.
 * Returns the number of records. */
static long read_csv(const char *dir, const char *name, const char *header, record_fn *fn,
                     void *ctx)
{
    char path[4200], first[256];
    struct lines in;
    struct csv c;
    struct error err;
    long n = 0;
    int rc;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (lines_open(&in, path, name, &err))
        fail_msg("%s", err.msg);
    csv_init(&c, &in);
    rc = csv_next(&c, &err);
    assert_int_equal(rc, 1);
    first[0] = '\0';
    for (int i = 0; i < c.nfields; i++) {
        size_t len = strlen(first);
        snprintf(first + len, sizeof(first) - len, "%s%.*s", i ? "," : "", (int)c.f[i].n,
                 c.f[i].s);
    }
    assert_string_equal(first, header);
    while ((rc = csv_next(&c, &err)) == 1) {
        fn(c.f, c.nfields, ctx);
        n++;
    }
    if (rc < 0)
        fail_msg("%s", err.msg);
    csv_free(&c);
    lines_close(&in);
    return n;
}

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[4200];
    FILE *f;
    char *buf;
    long n;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static int exists(const char *dir, const char *name)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* ------------------------------------------------------------------ */
/* A whole set, checked file by file                                   */

struct rating_check {
    int64_t users, movies;
    long n;
    int64_t last_user, last_movie;
    int64_t *per_user;   /* (users + 1) */
    int64_t *per_movie;  /* (movies + 1) */
    int64_t *pairs;      /* (n) user * (movies + 1) + movie, ascending */
    double *score;       /* (n) */
    long cap;
};

static void on_rating(const struct csv_field *f, int nf, void *ctx)
{
    struct rating_check *rc = ctx;
    struct ml_rating r;
    struct error err;
    double twice;

    if (mll_parse_rating(f, nf, &r, &err))
        fail_msg("rating %ld: %s", rc->n + 1, err.msg);
    assert_true(r.user >= 1 && r.user <= rc->users);
    assert_true(r.movie >= 1 && r.movie <= rc->movies);
    /* sorted by user, then movie; each pair once */
    assert_true(r.user > rc->last_user || (r.user == rc->last_user && r.movie > rc->last_movie));
    rc->last_user = r.user;
    rc->last_movie = r.movie;
    twice = r.score * 2;
    assert_true(twice == floor(twice) && r.score >= 0.5 && r.score <= 5);
    assert_true(r.time >= T_START && r.time <= T_END);
    rc->per_user[r.user]++;
    rc->per_movie[r.movie]++;
    assert_true(rc->n < rc->cap);
    rc->pairs[rc->n] = r.user * (rc->movies + 1) + r.movie;
    rc->score[rc->n] = r.score;
    rc->n++;
}

static int has_pair(const struct rating_check *rc, int64_t user, int64_t movie)
{
    int64_t key = user * (rc->movies + 1) + movie;
    long lo = 0, hi = rc->n;
    while (lo < hi) {
        long mid = lo + (hi - lo) / 2;
        if (rc->pairs[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < rc->n && rc->pairs[lo] == key;
}

struct movie_check {
    int64_t next;
    int quoted, article, noyear, nogenres;
};

static void on_movie(const struct csv_field *f, int nf, void *ctx)
{
    static const char *genres[] = {"Action", "Adventure", "Animation", "Children", "Comedy",
                                   "Crime", "Documentary", "Drama", "Fantasy", "Film-Noir",
                                   "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
                                   "Thriller", "War", "Western"};
    struct movie_check *mc = ctx;
    struct ml_movie m;
    struct error err;

    if (mll_parse_movie(f, nf, &m, &err))
        fail_msg("movie %lld: %s", (long long)mc->next, err.msg);
    assert_int_equal(m.id, mc->next);
    mc->next++;
    if (f[2].n == 18 && !memcmp(f[2].s, "(no genres listed)", 18)) {
        assert_int_equal(m.ngenres, 0); /* the parser drops the marker */
        mc->nogenres++;
    } else {
        assert_true(m.ngenres >= 1 && m.ngenres <= 3);
    }
    for (int i = 0; i < m.ngenres; i++) {
        int ok = 0;
        for (size_t k = 0; k < sizeof(genres) / sizeof(*genres); k++)
            ok |= !strcmp(m.genres[i], genres[k]);
        if (!ok)
            fail_msg("unknown genre '%s'", m.genres[i]);
    }
    if (memchr(f[1].s, ',', f[1].n) || memchr(f[1].s, '"', f[1].n))
        mc->quoted++;
    /* "Night Garden, The (2001)" becomes "The Night Garden" */
    if (f[1].n > 12 && memmem(f[1].s, f[1].n, ", The (", 7)) {
        assert_true(!strncmp(m.title, "The ", 4));
        mc->article++;
    }
    if (m.year == 0)
        mc->noyear++;
    else
        assert_true(m.year >= 1900 && m.year <= 2023);
}

struct tag_check {
    const struct rating_check *ratings;
    int comma;
};

static void on_tag(const struct csv_field *f, int nf, void *ctx)
{
    struct tag_check *tc = ctx;
    struct ml_tag t;
    struct error err;

    if (mll_parse_tag(f, nf, &t, &err))
        fail_msg("tag: %s", err.msg);
    assert_true(has_pair(tc->ratings, t.user, t.movie));
    assert_true(t.time >= T_START && t.time <= T_END + 1000);
    if (strchr(t.tag, ','))
        tc->comma++;
}

struct link_check {
    int64_t next;
    int no_tmdb;
};

static void on_link(const struct csv_field *f, int nf, void *ctx)
{
    struct link_check *lc = ctx;
    struct ml_link l;
    struct error err;

    if (mll_parse_link(f, nf, &l, &err))
        fail_msg("link: %s", err.msg);
    assert_int_equal(l.movie, lc->next);
    lc->next++;
    assert_int_equal(f[1].n, 7);
    for (size_t i = 0; i < f[1].n; i++)
        assert_true(f[1].s[i] >= '0' && f[1].s[i] <= '9');
    if (l.tmdb_id == 0)
        lc->no_tmdb++;
}

struct user_check {
    int64_t next;
    int male, female;
};

static void on_user(const struct csv_field *f, int nf, void *ctx)
{
    static const char *occ[] = {
        "administrator", "artist", "doctor", "educator", "engineer", "entertainment",
        "executive", "healthcare", "homemaker", "lawyer", "librarian", "marketing", "none",
        "other", "programmer", "retired", "salesman", "scientist", "student", "technician",
        "writer"};
    struct user_check *uc = ctx;
    struct ml_user u;
    struct error err;
    int ok = 0;

    assert_int_equal(nf, 4);
    if (mll_parse_user(f, nf, &u, &err))
        fail_msg("user: %s", err.msg);
    assert_int_equal(u.id, uc->next);
    uc->next++;
    assert_true(u.gender == 'M' || u.gender == 'F');
    uc->male += u.gender == 'M';
    uc->female += u.gender == 'F';
    assert_true(u.age >= 1 && u.age <= 90);
    for (size_t k = 0; k < sizeof(occ) / sizeof(*occ); k++)
        ok |= !strcmp(u.occupation, occ[k]);
    if (!ok)
        fail_msg("unknown occupation '%s'", u.occupation);
}

/* Reads every file of a set made with o and checks it; leaves the
 * ratings in rc (the caller frees its arrays). */
static void check_set(const char *dir, const struct gen_options *o, struct rating_check *rc)
{
    struct movie_check mc = {.next = 1};
    struct tag_check tc = {.ratings = rc};
    struct link_check lc = {.next = 1};
    struct user_check uc = {.next = 1};
    int64_t base = o->ratings / o->users < 20 ? o->ratings / o->users : 20;
    long n;

    memset(rc, 0, sizeof(*rc));
    rc->users = o->users;
    rc->movies = o->movies;
    rc->cap = (long)o->ratings;
    rc->per_user = calloc((size_t)o->users + 1, sizeof(int64_t));
    rc->per_movie = calloc((size_t)o->movies + 1, sizeof(int64_t));
    rc->pairs = malloc((size_t)o->ratings * sizeof(int64_t));
    rc->score = malloc((size_t)o->ratings * sizeof(double));
    assert_true(rc->per_user && rc->per_movie && rc->pairs && rc->score);

    n = read_csv(dir, "ratings.csv", "userId,movieId,rating,timestamp", on_rating, rc);
    assert_int_equal(n, o->ratings);
    for (int64_t u = 1; u <= o->users; u++)
        assert_true(rc->per_user[u] >= base && rc->per_user[u] >= 1 &&
                    rc->per_user[u] <= (o->movies + 1) / 2);

    n = read_csv(dir, "movies.csv", "movieId,title,genres", on_movie, &mc);
    assert_int_equal(n, o->movies);
    if (o->movies >= 500) {
        assert_true(mc.quoted > 0);
        assert_true(mc.article > 0);
        assert_true(mc.nogenres > 0 && mc.nogenres < o->movies / 10);
    }

    n = read_csv(dir, "tags.csv", "userId,movieId,tag,timestamp", on_tag, &tc);
    assert_true(n >= 1);
    if (o->ratings >= 50000) {
        assert_true(n >= o->ratings / 1000);
        assert_true(tc.comma > 0);
    }

    n = read_csv(dir, "links.csv", "movieId,imdbId,tmdbId", on_link, &lc);
    assert_int_equal(n, o->movies);
    assert_true(lc.no_tmdb < o->movies / 10 + 1);

    n = read_csv(dir, "users.csv", "userId,gender,age,occupation", on_user, &uc);
    assert_int_equal(n, o->users);
    if (o->users >= 500)
        assert_true(uc.male > uc.female && uc.female > 0);

    /* no temporary files left */
    assert_false(exists(dir, ".ratings.csv.tmp"));
    assert_false(exists(dir, ".movies.csv.tmp"));
}

static void free_check(struct rating_check *rc)
{
    free(rc->per_user);
    free(rc->per_movie);
    free(rc->pairs);
    free(rc->score);
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */

static void test_defaults(void **state)
{
    struct gen_options o;
    gen_options_init(&o);
    assert_int_equal(o.users, 1000);
    assert_int_equal(o.movies, 1700);
    assert_int_equal(o.ratings, 100000);
    assert_int_equal(o.seed, 1);
    assert_int_equal(o.force, 0);
    assert_int_equal(gen_options_check(&o, NULL), 0);
}

/* The default-sized set, read back; popularity is skewed and ratings
 * follow the latent tastes. */
static void test_default_set(void **state)
{
    char dir[4096], sub[4200];
    struct gen_options o;
    struct gen_model *m;
    struct rating_check rc;
    struct error err;
    int64_t *counts, top = 0, top_model = 0;
    double sa = 0, sr = 0, saa = 0, srr = 0, sar = 0, rand_aff = 0, nr;
    int64_t ntop;
    double *pops;

    tu_tmpdir(dir);
    snprintf(sub, sizeof(sub), "%s/a/b", dir); /* parents are made */
    gen_options_init(&o);
    assert_int_equal(gen_model_new(&m, &o, &err), 0);
    assert_int_equal(gen_model_write(m, sub, &err), 0);
    check_set(sub, &o, &rc);
    for (int64_t u = 1; u <= o.users; u++)
        assert_int_equal(rc.per_user[u], gen_model_user_count(m, u));

    /* the 10% most rated movies hold well over 10% of the ratings */
    ntop = o.movies / 10;
    counts = malloc((size_t)o.movies * sizeof(*counts));
    pops = malloc((size_t)o.movies * sizeof(*pops));
    assert_true(counts && pops);
    for (int64_t i = 0; i < o.movies; i++) {
        counts[i] = rc.per_movie[i + 1];
        pops[i] = gen_model_popularity(m, i + 1);
        assert_true(pops[i] > 0 && pops[i] < 1);
    }
    for (int64_t k = 0; k < ntop; k++) { /* partial selection sort: the top ntop */
        int64_t best = k;
        for (int64_t i = k + 1; i < o.movies; i++)
            if (counts[i] > counts[best])
                best = i;
        int64_t t = counts[k];
        counts[k] = counts[best];
        counts[best] = t;
        top += counts[k];
    }
    assert_true((double)top / (double)o.ratings > 0.3);
    /* and the movies the model calls popular are the ones rated most */
    for (int64_t i = 0; i < o.movies; i++) {
        int64_t above = 0;
        for (int64_t j = 0; j < o.movies && above < ntop; j++)
            above += pops[j] > pops[i];
        if (above < ntop)
            top_model += rc.per_movie[i + 1];
    }
    assert_true((double)top_model / (double)o.ratings > 0.3);

    /* ratings correlate with the latent affinity, and watched movies have
     * a higher affinity than movies at random */
    nr = (double)rc.n;
    for (long i = 0; i < rc.n; i++) {
        int64_t user = rc.pairs[i] / (o.movies + 1), movie = rc.pairs[i] % (o.movies + 1);
        double a = gen_model_affinity(m, user, movie), r = rc.score[i];
        sa += a;
        sr += r;
        saa += a * a;
        srr += r * r;
        sar += a * r;
        rand_aff += gen_model_affinity(m, user, 1 + (int64_t)((i * 7919) % o.movies));
    }
    {
        double cov = sar / nr - (sa / nr) * (sr / nr);
        double va = saa / nr - (sa / nr) * (sa / nr), vr = srr / nr - (sr / nr) * (sr / nr);
        double corr = cov / sqrt(va * vr);
        double mean = sr / nr;
        assert_true(corr > 0.2);
        assert_true(sa / nr > rand_aff / nr + 0.3);
        assert_true(mean > 3.0 && mean < 4.0);
    }
    assert_true(gen_model_affinity(m, 0, 1) == 0 && gen_model_affinity(m, 1, o.movies + 1) == 0);
    assert_int_equal(gen_model_user_count(m, o.users + 1), 0);

    free(counts);
    free(pops);
    free_check(&rc);
    gen_model_free(m);
    tu_rmtree(dir);
}

/* Extremes: one rating per user; every user at the cap (half the movies,
 * the O(movies) pick); R/N below 20. */
static void test_shapes(void **state)
{
    static const int64_t shapes[][3] = {
        {300, 50, 300}, {10, 100, 500}, {40, 21, 420}, {500, 2000, 5000}};
    for (size_t k = 0; k < sizeof(shapes) / sizeof(*shapes); k++) {
        char dir[4096];
        struct gen_options o;
        struct rating_check rc;
        struct error err;

        tu_tmpdir(dir);
        gen_options_init(&o);
        o.users = shapes[k][0];
        o.movies = shapes[k][1];
        o.ratings = shapes[k][2];
        o.seed = 100 + k;
        if (gen_write(dir, &o, &err))
            fail_msg("%lld/%lld/%lld: %s", (long long)o.users, (long long)o.movies,
                     (long long)o.ratings, err.msg);
        check_set(dir, &o, &rc);
        free_check(&rc);
        tu_rmtree(dir);
    }
}

static const char *set_files[] = {"movies.csv", "ratings.csv", "tags.csv", "links.csv",
                                  "users.csv"};

static void test_determinism(void **state)
{
    char a[4096], b[4096], c[4096];
    struct gen_options o;
    struct error err;
    size_t na, nb, nc;
    char *fa, *fb, *fc;

    tu_tmpdir(a);
    tu_tmpdir(b);
    tu_tmpdir(c);
    gen_options_init(&o);
    o.users = 300;
    o.movies = 800;
    o.ratings = 30000;
    o.seed = 42;
    assert_int_equal(gen_write(a, &o, &err), 0);
    assert_int_equal(gen_write(b, &o, &err), 0);
    o.seed = 43;
    assert_int_equal(gen_write(c, &o, &err), 0);
    for (size_t i = 0; i < sizeof(set_files) / sizeof(*set_files); i++) {
        fa = slurp(a, set_files[i], &na);
        fb = slurp(b, set_files[i], &nb);
        fc = slurp(c, set_files[i], &nc);
        if (na != nb || memcmp(fa, fb, na) != 0)
            fail_msg("%s differs between two runs with the same seed", set_files[i]);
        if (na == nc && memcmp(fa, fc, na) == 0)
            fail_msg("%s is the same for seeds 42 and 43", set_files[i]);
        free(fa);
        free(fb);
        free(fc);
    }
    tu_rmtree(a);
    tu_rmtree(b);
    tu_rmtree(c);
}

static void test_bad_arguments(void **state)
{
    static const int64_t bad[][3] = {
        {0, 100, 100},            /* no users */
        {-5, 100, 100},
        {10, 19, 100},            /* too few movies */
        {10, 100, 9},             /* fewer ratings than users */
        {10, 100, 501},           /* more than half of users x movies */
        {1000000000LL, 100, 100000000000LL},
        {10, 100000000LL, 100},   /* too many movies */
    };
    char dir[4096], sub[4200];
    struct gen_options o;
    struct error err;
    struct gen_model *m = (struct gen_model *)&o;

    tu_tmpdir(dir);
    snprintf(sub, sizeof(sub), "%s/out", dir);
    for (size_t k = 0; k < sizeof(bad) / sizeof(*bad); k++) {
        gen_options_init(&o);
        o.users = bad[k][0];
        o.movies = bad[k][1];
        o.ratings = bad[k][2];
        error_clear(&err);
        assert_int_equal(gen_options_check(&o, &err), ERR_USAGE);
        assert_true(err.msg[0] != '\0');
        assert_int_equal(gen_write(sub, &o, &err), ERR_USAGE);
        assert_int_equal(gen_model_new(&m, &o, &err), ERR_USAGE);
        assert_null(m);
        assert_false(exists(sub, ""));
    }
    gen_options_init(&o);
    o.ratings = 999;
    assert_int_equal(gen_options_check(&o, &err), ERR_USAGE);
    assert_non_null(strstr(err.msg, "--ratings 999"));
    o.ratings = 1000; /* exactly one each */
    assert_int_equal(gen_options_check(&o, &err), 0);

    /* a file where the folder should be */
    tu_write(dir, "plain", "x", (size_t)-1);
    snprintf(sub, sizeof(sub), "%s/plain", dir);
    gen_options_init(&o);
    o.users = 20;
    o.movies = 40;
    o.ratings = 400;
    assert_int_equal(gen_write(sub, &o, &err), ERR_IO);
    assert_non_null(strstr(err.msg, "plain"));
    tu_rmtree(dir);
}

static void test_exists_and_force(void **state)
{
    char dir[4096];
    struct gen_options o;
    struct error err;
    struct rating_check rc;

    tu_tmpdir(dir);
    gen_options_init(&o);
    o.users = 50;
    o.movies = 100;
    o.ratings = 2000;
    assert_int_equal(gen_write(dir, &o, &err), 0);
    assert_int_equal(gen_write(dir, &o, &err), ERR_EXISTS);
    assert_non_null(strstr(err.msg, "ratings.csv"));
    o.force = 1;
    o.ratings = 2500;
    assert_int_equal(gen_write(dir, &o, &err), 0);
    check_set(dir, &o, &rc);
    free_check(&rc);
    tu_rmtree(dir);
}

struct progress_log {
    int calls;
    uint64_t last, total;
    int monotonic;
};

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    struct progress_log *p = ctx;
    if (done < p->last)
        p->monotonic = 0;
    p->calls++;
    p->last = done;
    p->total = total;
}

static void test_progress(void **state)
{
    char dir[4096];
    struct gen_options o;
    struct error err;
    struct progress_log log = {.monotonic = 1};

    tu_tmpdir(dir);
    gen_options_init(&o);
    o.ratings = 200000;
    o.progress = on_progress;
    o.progress_ctx = &log;
    assert_int_equal(gen_write(dir, &o, &err), 0);
    assert_true(log.calls >= 2);
    assert_true(log.monotonic);
    assert_int_equal(log.last, 200000);
    assert_int_equal(log.total, 200000);
    tu_rmtree(dir);
}

/* A write that fails (here: past the file size limit, as on a full
 * disk) is an ERR_IO naming the file, and leaves no set behind. */
static void test_write_error(void **state)
{
    char dir[4096];
    struct gen_options o;
    struct error err;
    struct rlimit old, lim;
    void (*old_handler)(int);
    int rc;

    tu_tmpdir(dir);
    gen_options_init(&o);
    o.ratings = 120000; /* ratings.csv passes the 1 MiB buffer */
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 200000;
    old_handler = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    rc = gen_write(dir, &o, &err);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, old_handler);
    assert_int_equal(rc, ERR_IO);
    assert_non_null(strstr(err.msg, "cannot write"));
    assert_non_null(strstr(err.msg, "ratings.csv"));
    for (size_t i = 0; i < sizeof(set_files) / sizeof(*set_files); i++)
        assert_false(exists(dir, set_files[i]));
    assert_false(exists(dir, ".ratings.csv.tmp"));
    assert_false(exists(dir, ".movies.csv.tmp"));
    tu_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),       cmocka_unit_test(test_default_set),
        cmocka_unit_test(test_shapes),         cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_bad_arguments),  cmocka_unit_test(test_exists_and_force),
        cmocka_unit_test(test_progress),       cmocka_unit_test(test_write_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
