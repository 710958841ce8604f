/*
 * test_pipeline.c - the recommendation pipeline on a small hand-made world
 * whose answers are known: three genres of ten movies each, users who
 * watch one genre, and a user who has seen three science-fiction films.
 * Each channel alone, the ranker against the model, the ALS fold-in
 * against its normal equations, exclusion of rated movies, the genre cap,
 * a movie added after training, reasons, fitting the blend, and
 * newcomers: a list from interest tags alone in the cold-start order, the
 * genre floor, and the genre feature scaled by how few ratings there are.
 */
#include "testutil.h"

#include <math.h>

#include "../../src/data/import.h"
#include "../../src/model/dataset.h"
#include "../../src/model/train.h"
#include "../../src/recall/pipeline.h"

#define NMOV 30

struct world {
    char dir[4096], db[4200];
    struct store *s;
    struct dataset d;
    struct model m;
    struct recall_bundle b;
    struct recommender r;
    int64_t ids[NMOV + 1];
    struct movie_feat mf[NMOV + 1];
    int nm;
};

static const char *const genre_of[3] = {"Sci-Fi", "Romance", "Comedy"};
static const char *const title_of[3] = {"Star Voyage", "Love Story", "Funny Day"};

static void write_world(const char *dir)
{
    char buf[65536];
    size_t n = 0;
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "movieId,title,genres\n");
    for (int m = 1; m <= NMOV; m++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%d,%s %d (199%d),%s\n", m,
                              title_of[(m - 1) / 10], m, m % 10, genre_of[(m - 1) / 10]);
    tu_write(dir, "movies.csv", buf, n);
    n = (size_t)snprintf(buf, sizeof(buf), "userId,movieId,rating,timestamp\n");
    /* users 1-10 watch science fiction, 11-20 romance, 21-25 comedy, and
     * each one comedy; the first two of each group also one more */
    for (int u = 1; u <= 25; u++) {
        int g = u <= 10 ? 0 : u <= 20 ? 1 : 2;
        for (int k = 1; k <= 10; k++)
            if (!(u % 3 == 0 && k == 10)) /* some gaps, so not all are equal */
                n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%d,%d,%.1f,%d\n", u, g * 10 + k,
                                      k % 2 ? 5.0 : 4.0, 1000 * u + k);
        if (g != 2)
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%d,%d,3.0,%d\n", u, 21 + u % 10,
                                  1000 * u + 50);
    }
    /* user 26: three science-fiction films, the last one latest */
    for (int k = 1; k <= 3; k++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "26,%d,5.0,%d\n", k, 90000 + k);
    /* user 27: nothing but one comedy (so the store knows them) */
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "27,25,2.0,95000\n");
    tu_write(dir, "ratings.csv", buf, n);
}

static int world_setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    struct import_opts io = {0};
    struct import_report rep;
    struct error err = {0};
    struct model_config c;
    struct recall_bundle_opts bo;
    int64_t *ids = NULL;
    struct movie_feat *mf = NULL;

    tu_tmpdir(w->dir);
    snprintf(w->db, sizeof(w->db), "%s/movierec.db", w->dir);
    write_world(w->dir);
    if (import_dir(w->dir, w->db, &io, &rep, &err) || store_open(&w->s, w->db, &err) ||
        dataset_load(&w->d, w->s, 1, &err)) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    model_config_default(&c, &w->d.vocab);
    c.user_emb = c.movie_emb = c.genre_emb = c.word_emb = 8;
    c.gender_emb = c.age_emb = c.occ_emb = 4;
    c.attr_fc = 8;
    c.tower = 16;
    c.conv_filters = 2;
    c.hidden1 = 16;
    c.hidden2 = 8;
    if (model_init(&w->m, &c, &err))
        return -1;
    model_init_weights(&w->m, 7);
    recall_bundle_opts_default(&bo);
    bo.threads = 1;
    bo.als.factors = 4;
    bo.als.iterations = 10;
    bo.cf.neighbours = 10;
    if (recall_bundle_build(&w->b, &w->d, NULL, &bo, &err)) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    if (feat_load_movies(w->s, &w->d.vocab, &ids, &mf, &w->nm, &err))
        return -1;
    memcpy(w->ids, ids, (size_t)w->nm * sizeof(*ids));
    memcpy(w->mf, mf, (size_t)w->nm * sizeof(*mf));
    free(ids);
    free(mf);
    if (recommender_init(&w->r, &w->m, &w->d.vocab, &w->b, w->ids, w->mf, w->nm, &err)) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    *state = w;
    return 0;
}

static int world_teardown(void **state)
{
    struct world *w = *state;
    recommender_free(&w->r);
    recall_bundle_free(&w->b);
    model_free(&w->m);
    dataset_free(&w->d);
    store_close(w->s);
    tu_rmtree(w->dir);
    free(w);
    return 0;
}

/* user id u's state from the dataset (rows = vocabulary indexes here) */
struct ustate {
    struct rec_user u;
    int movie[64];
    float score[64];
    int64_t time[64];
};

static void user_of(const struct world *w, int64_t id, struct ustate *us)
{
    int ui = vocab_user_index(&w->d.vocab, id), n = 0;
    assert_true(ui > 0);
    memset(us, 0, sizeof(*us));
    for (int64_t i = w->d.user_start[ui]; i < w->d.user_start[ui + 1] && n < 64; i++, n++) {
        us->movie[n] = w->d.r_movie[i];
        us->score[n] = w->d.r_score[i];
        us->time[n] = w->d.r_time[i];
    }
    us->u.feat = w->d.users[ui];
    us->u.n = n;
    us->u.movie = us->movie;
    us->u.score = us->score;
    us->u.time = us->time;
}

static int row_of(const struct world *w, int64_t id)
{
    int r = recommender_row(&w->r, id);
    assert_true(r > 0);
    return r;
}

static int genre_index(const struct world *w, const char *name)
{
    return strtab_find(&w->d.vocab.genres, name, (int)strlen(name));
}

static int run(const struct world *w, const struct rec_opts *o, const struct rec_user *u,
               struct rec_item *out, int n)
{
    struct rec_ws ws;
    struct error err = {0};
    int got;
    assert_int_equal(rec_ws_alloc(&ws, &w->r, o, &err), 0);
    got = recommender_recommend(&w->r, &ws, o, u, out, n, &err);
    rec_ws_free(&ws);
    assert_true(got >= 0);
    return got;
}

/* ------------------------------------------------------------------ */

static void test_ranker_matches_model(void **state)
{
    struct world *w = *state;
    struct ranker_ws rw;
    struct error err = {0};
    struct ustate us;
    int rows[NMOV];
    float p1[NMOV], p2[NMOV];
    struct user_feat uf[NMOV];
    struct movie_feat mf[NMOV];

    user_of(w, 26, &us);
    for (int i = 0; i < NMOV; i++) {
        rows[i] = row_of(w, i + 1);
        uf[i] = us.u.feat;
        mf[i] = w->r.mf[rows[i]];
    }
    assert_int_equal(ranker_ws_alloc(&rw, &w->r.rk, &err), 0);
    ranker_user(&w->r.rk, &rw, &us.u.feat);
    ranker_score(&w->r.rk, &rw, rows, NMOV, p1);
    ranker_ws_free(&rw);
    assert_int_equal(model_score(&w->m, uf, mf, NMOV, p2, &err), 0);
    for (int i = 0; i < NMOV; i++)
        assert_true(fabsf(p1[i] - p2[i]) < 1e-5f);
}

static void test_fold_in_solves_normal_equations(void **state)
{
    struct world *w = *state;
    const struct als *a = &w->b.als;
    const struct als_opts *o = &w->b.als_opts;
    const int f = a->f;
    struct ustate us;
    float x[16], g[256], scratch[16 * 16 + ALS_FOLD_CHUNK * 16];

    assert_true(f <= 16);
    user_of(w, 26, &us);
    als_gram(a, g);
    assert_int_equal(als_fold_in(a, o, g, us.movie, us.score, us.u.n, x, scratch), 0);
    /* (Y^T Y + lambda I + sum (c - 1) y y^T) x = sum c y, in double */
    for (int p = 0; p < f; p++) {
        double lhs = 0, rhs = 0;
        for (int m = 0; m < a->nmovies; m++)
            for (int q = 0; q < f; q++)
                lhs += (double)a->item[m * f + p] * a->item[m * f + q] * x[q];
        lhs += o->lambda * x[p];
        for (int i = 0; i < us.u.n; i++) {
            const float *y = a->item + (size_t)us.movie[i] * f;
            double c = 1 + o->alpha, dot = 0;
            for (int q = 0; q < f; q++)
                dot += (double)y[q] * x[q];
            lhs += (c - 1) * y[p] * dot;
            rhs += c * y[p];
        }
        assert_true(fabs(lhs - rhs) < 1e-3 * (1 + fabs(rhs)));
    }
    /* no ratings: a zero factor */
    assert_int_equal(als_fold_in(a, o, g, us.movie, us.score, 0, x, scratch), 0);
    for (int p = 0; p < f; p++)
        assert_true(x[p] == 0.0f);
}

/* A history longer than the fold-in's 1,000 ratings: the factor comes
 * from the ratings later than the cutoff, ties at the cutoff all left
 * out. 1,500 ratings at times i / 3 in a scrambled order: the 999 later
 * than time 166. */
static void test_fold_in_takes_the_latest(void **state)
{
    struct world *w = *state;
    enum { N = 1500 };
    const struct als *a = &w->b.als;
    const int f = a->f;
    static int movie[N], kept_m[N];
    static float score[N], kept_s[N];
    static int64_t tm[N];
    float x[16], scratch[16 * 16 + ALS_FOLD_CHUNK * 16];
    struct rec_opts o;
    struct rec_ws ws;
    struct rec_item out[5];
    struct rec_user u;
    struct error err = {0};
    int nk = 0, nz = 0;

    assert_true(f <= 16);
    for (int k = 0; k < N; k++) {
        int i = (int)((k * 7919L) % N); /* 7919 is prime: a permutation */
        movie[k] = 1 + i % NMOV;
        score[k] = (float)(1 + i % 5);
        tm[k] = i / 3;
        if (tm[k] > 166) {
            kept_m[nk] = movie[k];
            kept_s[nk++] = score[k];
        }
    }
    assert_int_equal(nk, 999);
    assert_int_equal(als_fold_in(a, &w->b.als_opts, w->r.gram, kept_m, kept_s, nk, x, scratch),
                     0);
    memset(&u, 0, sizeof(u));
    u.feat = w->d.users[1];
    u.n = N;
    u.movie = movie;
    u.score = score;
    u.time = tm;
    rec_opts_default(&o);
    assert_int_equal(rec_ws_alloc(&ws, &w->r, &o, &err), 0);
    assert_true(recommender_recommend(&w->r, &ws, &o, &u, out, 5, &err) >= 0);
    for (int p = 0; p < f; p++) {
        assert_true(ws.ufac[p] == x[p]);
        nz += x[p] != 0.0f;
    }
    assert_true(nz > 0);
    rec_ws_free(&ws);
}

static void test_itemcf_channel(void **state)
{
    struct world *w = *state;
    struct rec_opts o;
    struct rec_item out[10];
    struct ustate us;
    int got;

    rec_opts_default(&o);
    o.only = REC_ITEMCF;
    user_of(w, 26, &us);
    got = run(w, &o, &us.u, out, 5);
    assert_int_equal(got, 5);
    for (int i = 0; i < got; i++) {
        int64_t id = w->r.ids[out[i].movie];
        assert_true(id >= 4 && id <= 10); /* the other science fiction */
        assert_int_equal(out[i].reason, REASON_LIKED);
        assert_int_equal(out[i].channel, REC_ITEMCF);
        assert_true(w->r.ids[out[i].because] >= 1 && w->r.ids[out[i].because] <= 3);
        assert_true(out[i].because_liked);
        if (i)
            assert_true(out[i].rank <= out[i - 1].rank);
    }
}

static void test_als_channel(void **state)
{
    struct world *w = *state;
    struct rec_opts o;
    struct rec_item out[5];
    struct ustate us;

    rec_opts_default(&o);
    o.only = REC_ALS;
    user_of(w, 26, &us);
    assert_int_equal(run(w, &o, &us.u, out, 5), 5);
    for (int i = 0; i < 5; i++) {
        int64_t id = w->r.ids[out[i].movie];
        assert_true(id >= 4 && id <= 10);
        assert_int_equal(out[i].reason, REASON_TASTE);
    }
}

static void test_cold_channel(void **state)
{
    struct world *w = *state;
    struct rec_opts o;
    struct rec_item out[10];
    struct rec_user u;
    int romance = genre_index(w, "Romance"), got;

    rec_opts_default(&o);
    o.only = REC_COLD;
    memset(&u, 0, sizeof(u));
    u.genres = &romance; /* a new account with one interest tag */
    u.ngenres = 1;
    got = run(w, &o, &u, out, 5);
    assert_int_equal(got, 5);
    for (int i = 0; i < got; i++) {
        int64_t id = w->r.ids[out[i].movie];
        assert_true(id >= 11 && id <= 20);
        assert_int_equal(out[i].reason, REASON_GENRE);
        assert_int_equal(out[i].genre, romance);
    }
    /* no tags, no ratings: popular with the group, then overall */
    u.genres = NULL;
    u.ngenres = 0;
    got = run(w, &o, &u, out, 10);
    assert_int_equal(got, 10);
    for (int i = 0; i < got; i++)
        assert_true(out[i].reason == REASON_GROUP || out[i].reason == REASON_POPULAR);
}

static void test_pipeline_excludes_rated_and_caps_genres(void **state)
{
    struct world *w = *state;
    struct rec_opts o;
    struct rec_item out[27];
    struct ustate us;
    int got, cnt[3] = {0}, seen[NMOV + 1] = {0};

    struct rec_blend by_cf = {.fitted = 1};
    for (int k = 0; k < BLEND_NFEAT; k++)
        by_cf.scale[k] = 1;
    by_cf.w[BLEND_ITEMCF] = 1; /* a ranker that follows item-CF */

    rec_opts_default(&o);
    o.genre_cap = 4;
    o.blend = &by_cf;
    user_of(w, 26, &us);
    got = run(w, &o, &us.u, out, 27);
    assert_int_equal(got, 27); /* every movie but the three rated */
    for (int i = 0; i < got; i++) {
        int64_t id = w->r.ids[out[i].movie];
        assert_true(id >= 4 && id <= NMOV);
        assert_int_equal(seen[id]++, 0);
        if (i < 10)
            cnt[(id - 1) / 10]++;
        assert_true(out[i].score > 0 && out[i].score < 1);
    }
    for (int g = 0; g < 3; g++)
        assert_true(cnt[g] <= 4);
    assert_int_equal(cnt[0], 4); /* science fiction first, as many as allowed */
    /* a list of 5 gets its share of the cap: ceil(4 * 5 / 10) = 2 */
    got = run(w, &o, &us.u, out, 5);
    memset(cnt, 0, sizeof(cnt));
    for (int i = 0; i < got; i++)
        cnt[(w->r.ids[out[i].movie] - 1) / 10]++;
    assert_int_equal(got, 5);
    assert_int_equal(cnt[0], 2);
    /* without the cap, the seven other science-fiction films lead */
    o.genre_cap = 0;
    got = run(w, &o, &us.u, out, 10);
    memset(cnt, 0, sizeof(cnt));
    for (int i = 0; i < 7; i++)
        assert_true(w->r.ids[out[i].movie] >= 4 && w->r.ids[out[i].movie] <= 10);
    for (int i = 0; i < got; i++)
        cnt[(w->r.ids[out[i].movie] - 1) / 10]++;
    assert_int_equal(cnt[0], 7);
}

static void test_new_and_gone_movies(void **state)
{
    struct world *w = *state;
    struct recommender r;
    struct error err = {0};
    struct rec_opts o;
    struct rec_item out[40];
    struct ustate us;
    int64_t ids[NMOV + 1];
    struct movie_feat mf[NMOV + 1];
    int got, n = 0, found = 0, row31;

    /* the store now: movie 30 is gone, movie 31 is new (its genre and
     * title words known, its id not) */
    for (int i = 0; i < w->nm; i++)
        if (w->ids[i] != 30) {
            ids[n] = w->ids[i];
            mf[n++] = w->mf[i];
        }
    ids[n] = 31;
    mf[n] = w->mf[0];
    mf[n++].movie = 0;
    assert_int_equal(recommender_init(&r, &w->m, &w->d.vocab, &w->b, ids, mf, n, &err), 0);
    row31 = recommender_row(&r, 31);
    assert_int_equal(row31, r.nvocab);
    assert_int_equal(recommender_row(&r, 30), -1);
    assert_int_equal(recommender_row(&r, 32), -1);

    rec_opts_default(&o);
    o.only = REC_EMBED;
    o.quota[REC_EMBED] = 40;
    user_of(w, 26, &us);
    {
        struct rec_ws ws;
        assert_int_equal(rec_ws_alloc(&ws, &r, &o, &err), 0);
        got = recommender_recommend(&r, &ws, &o, &us.u, out, 40, &err);
        rec_ws_free(&ws);
    }
    assert_int_equal(got, 27); /* 30 - 3 rated - movie 30 + movie 31 */
    for (int i = 0; i < got; i++) {
        assert_true(r.ids[out[i].movie] != 30);
        found |= out[i].movie == row31;
    }
    assert_true(found);
    /* similar movies of the new movie: from its vector alone, never itself
     * or a gone one; and the new movie among movie 1's */
    {
        struct rec_ws ws;
        int sim_found = 0;
        assert_int_equal(rec_ws_alloc(&ws, &r, &o, &err), 0);
        got = recommender_similar(&r, &ws, row31, REC_SIMILAR_BETA, NULL, out, 40);
        assert_int_equal(got, 29); /* the store's 30 movies but itself */
        for (int i = 0; i < got; i++)
            assert_true(out[i].movie != row31 && r.ids[out[i].movie] != 30);
        got = recommender_similar(&r, &ws, recommender_row(&r, 1), REC_SIMILAR_BETA, NULL, out,
                                  40);
        for (int i = 0; i < got; i++)
            sim_found |= out[i].movie == row31;
        assert_true(sim_found);
        rec_ws_free(&ws);
    }
    recommender_free(&r);
}

static void test_mismatched_bundle_refused(void **state)
{
    struct world *w = *state;
    struct recommender r;
    struct recall_bundle b = w->b;
    struct error err = {0};
    b.nmovies = w->b.nmovies - 1;
    assert_int_equal(recommender_init(&r, &w->m, &w->d.vocab, &b, w->ids, w->mf, w->nm, &err),
                     ERR_USAGE);
    assert_non_null(strstr(err.msg, "recall models cover"));
}

static const char *titles(void *ctx, int row)
{
    (void)ctx;
    return row == 1 ? "Star Voyage 1" : NULL;
}

static void test_reason_text(void **state)
{
    struct world *w = *state;
    char buf[256];
    struct rec_item it = {.movie = 5, .because = 1, .because_liked = 1, .genre = -1,
                          .reason = REASON_LIKED};
    rec_reason_text(&w->r, &it, titles, NULL, buf, sizeof(buf));
    assert_string_equal(buf, "because you liked Star Voyage 1");
    it.because_liked = 0;
    rec_reason_text(&w->r, &it, titles, NULL, buf, sizeof(buf));
    assert_string_equal(buf, "because you watched Star Voyage 1");
    it.reason = REASON_CONTENT;
    rec_reason_text(&w->r, &it, titles, NULL, buf, sizeof(buf));
    assert_string_equal(buf, "like Star Voyage 1, which you watched");
    it.reason = REASON_GENRE;
    it.genre = genre_index(w, "Comedy");
    rec_reason_text(&w->r, &it, titles, NULL, buf, sizeof(buf));
    assert_string_equal(buf, "popular in Comedy");
    it.reason = REASON_TASTE;
    rec_reason_text(&w->r, &it, titles, NULL, buf, sizeof(buf));
    assert_string_equal(buf, "people with similar taste watched it");
    it.reason = REASON_LIKED;
    it.because = 2; /* no title known: a reason without one */
    rec_reason_text(&w->r, &it, titles, NULL, buf, sizeof(buf));
    assert_string_equal(buf, "popular on movierec");
}

static void test_blend_fit(void **state)
{
    enum { N = 4000 };
    static float x[N * BLEND_NFEAT];
    static uint8_t y[N];
    struct rec_blend b;
    struct error err = {0};
    uint64_t rng = 11;
    (void)state;
    /* y depends on features 1 and 2 only, 2 twice as strongly */
    for (int i = 0; i < N; i++) {
        double s = 0;
        for (int k = 0; k < BLEND_NFEAT; k++)
            x[i * BLEND_NFEAT + k] = nn_rng_normal(&rng) * (1.0f + k);
        s = 1.0 * x[i * BLEND_NFEAT + 1] / 2 + 2.0 * x[i * BLEND_NFEAT + 2] / 3 - 1;
        y[i] = nn_rng_uniform(&rng) < 1 / (1 + exp(-s));
    }
    assert_int_equal(rec_blend_fit(x, y, N, &b, &err), 0);
    assert_true(b.fitted);
    assert_true(b.w[2] > b.w[1] && b.w[1] > 0.5f);
    assert_true(fabsf(b.w[0]) < 0.2f && fabsf(b.w[3]) < 0.2f && fabsf(b.w[4]) < 0.2f);
    /* all of one class: nothing to fit */
    memset(y, 0, sizeof(y));
    assert_int_equal(rec_blend_fit(x, y, N, &b, &err), ERR_NOTFOUND);
    assert_false(b.fitted);
}

/* ------------------------------------------------------------------ */
/* newcomers: interest tags, the genre floor, the genre feature          */

static int genre_of_row(const struct world *w, int row)
{
    return (int)((w->r.ids[row] - 1) / 10); /* 0 Sci-Fi, 1 Romance, 2 Comedy */
}

/* A blend that ranks by the genre feature alone, times sign. */
static void genre_blend(struct rec_blend *b, float sign)
{
    memset(b, 0, sizeof(*b));
    b->fitted = 1;
    for (int k = 0; k < BLEND_NFEAT; k++)
        b->scale[k] = 1;
    b->w[BLEND_GENRE] = sign;
}

static void test_interest_only_keeps_cold_order(void **state)
{
    struct world *w = *state;
    struct rec_opts o, oc;
    struct rec_item out[20], cold[20];
    struct rec_user u;
    int romance = genre_index(w, "Romance"), got, ncold;
    const int *top;

    assert_true(romance > 0);
    top = w->r.genre_top + (size_t)romance * w->r.genre_k;
    memset(&u, 0, sizeof(u)); /* a new account: no ratings, one interest genre */
    u.genres = &romance;
    u.ngenres = 1;

    /* the cold-start channel alone: popular in Romance, by popularity */
    rec_opts_default(&oc);
    oc.only = REC_COLD;
    ncold = run(w, &oc, &u, cold, 20);
    assert_int_equal(ncold, 20);
    for (int i = 0; i < 10; i++)
        assert_int_equal(cold[i].movie, top[i]);

    /* the whole pipeline, no cap and no floor: the same list in the same
     * order (not the deep model's), each with its probability */
    rec_opts_default(&o);
    o.genre_cap = 0;
    o.genre_floor = 0;
    got = run(w, &o, &u, out, 20);
    assert_int_equal(got, 20);
    for (int i = 0; i < got; i++) {
        if (out[i].movie != cold[i].movie)
            fail_msg("item %d: movie %lld, the cold-start channel's is %lld", i,
                     (long long)w->r.ids[out[i].movie], (long long)w->r.ids[cold[i].movie]);
        assert_int_equal(out[i].reason, cold[i].reason);
        assert_int_equal(out[i].channel, REC_COLD);
        assert_true(out[i].score > 0 && out[i].score < 1);
        if (i)
            assert_true(out[i].rank < out[i - 1].rank);
    }
    for (int i = 0; i < 10; i++) {
        assert_int_equal(out[i].reason, REASON_GENRE);
        assert_int_equal(out[i].genre, romance);
        assert_int_equal(genre_of_row(w, out[i].movie), 1);
    }

    /* with the default cap (5 a page) the first five are still the five
     * most popular in Romance, in that order */
    rec_opts_default(&o);
    got = run(w, &o, &u, out, 10);
    assert_int_equal(got, 10);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(out[i].movie, top[i]);
        assert_int_equal(out[i].reason, REASON_GENRE);
        assert_int_equal(out[i].genre, romance);
    }
    for (int i = 5; i < 10; i++)
        assert_true(genre_of_row(w, out[i].movie) != 1);
    for (int i = 1; i < got; i++)
        assert_true(out[i].rank <= out[i - 1].rank);
}

/* Sci-Fi movies among out[from, to). */
static int scifi_in(const struct world *w, const struct rec_item *out, int from, int to)
{
    int n = 0;
    for (int i = from; i < to; i++)
        n += genre_of_row(w, out[i].movie) == 0;
    return n;
}

static void test_genre_floor(void **state)
{
    struct world *w = *state;
    struct rec_opts o;
    struct rec_blend against, unfitted;
    struct rec_item out[30];
    struct ustate us;
    int got;

    /* user 26 rated three Sci-Fi films 5: a newcomer who leans to Sci-Fi.
     * A ranker that puts Sci-Fi last (the genre feature, weight -1) gives
     * a first page without any; the floor brings 3 of the 7 left into
     * every page of 10. */
    genre_blend(&against, -1.0f);
    memset(&unfitted, 0, sizeof(unfitted));
    rec_opts_default(&o);
    o.blend = &against;
    o.pre = &unfitted;
    user_of(w, 26, &us);
    assert_int_equal(us.u.n, 3);

    o.genre_floor = 0;
    got = run(w, &o, &us.u, out, 27);
    assert_int_equal(got, 27);
    assert_int_equal(scifi_in(w, out, 0, 10), 0);
    assert_int_equal(scifi_in(w, out, 10, 20), 0);
    assert_int_equal(scifi_in(w, out, 20, 27), 7);

    o.genre_floor = 3;
    got = run(w, &o, &us.u, out, 27);
    assert_int_equal(got, 27);
    assert_int_equal(scifi_in(w, out, 0, 10), 3);
    assert_int_equal(scifi_in(w, out, 10, 20), 3);
    assert_int_equal(scifi_in(w, out, 20, 27), 1); /* all there is left */
    for (int p = 0; p < got; p += 10) {
        int cnt[3] = {0};
        for (int i = p; i < got && i < p + 10; i++) {
            if (i > p) /* each page in rank order */
                assert_true(out[i].rank <= out[i - 1].rank);
            cnt[genre_of_row(w, out[i].movie)]++;
        }
        if (p < 20) /* the cap of 5 still holds */
            assert_true(cnt[0] <= 5 && cnt[1] <= 5 && cnt[2] <= 5);
    }
    for (int i = 0; i < got; i++) /* nothing lost, nothing twice */
        for (int j = i + 1; j < got; j++)
            assert_true(out[i].movie != out[j].movie);

    /* a list of 5: its share of the floor, ceil(3 * 5 / 10) = 2 */
    got = run(w, &o, &us.u, out, 5);
    assert_int_equal(got, 5);
    assert_int_equal(scifi_in(w, out, 0, 5), 2);

    /* without any cap the floor still holds */
    o.genre_cap = 0;
    got = run(w, &o, &us.u, out, 10);
    assert_int_equal(scifi_in(w, out, 0, 10), 3);
    for (int i = 1; i < got; i++)
        assert_true(out[i].rank <= out[i - 1].rank);

    /* a ranker that likes Sci-Fi: the floor adds nothing, cap 5 holds */
    genre_blend(&against, 1.0f);
    o.genre_cap = 5;
    got = run(w, &o, &us.u, out, 10);
    assert_int_equal(scifi_in(w, out, 0, 10), 5);
}

/* Runs the pipeline for u and copies the genre feature of every candidate
 * out by movie row: g (NMOV + 1,) with -1 for rows that were no
 * candidate. Returns ws.few. */
static float genre_feature(const struct world *w, const struct rec_opts *o,
                           const struct rec_user *u, float *g)
{
    struct rec_ws ws;
    struct error err = {0};
    struct rec_item out[10];
    float few;

    assert_int_equal(rec_ws_alloc(&ws, &w->r, o, &err), 0);
    assert_true(recommender_recommend(&w->r, &ws, o, u, out, 10, &err) > 0);
    assert_true(ws.ranked);
    for (int i = 0; i <= NMOV; i++)
        g[i] = -1;
    for (int i = 0; i < ws.ncand; i++) {
        assert_true(ws.rows[i] > 0 && ws.rows[i] <= NMOV);
        g[ws.rows[i]] = ws.feat[(size_t)i * BLEND_NFEAT + BLEND_GENRE];
    }
    few = ws.few;
    rec_ws_free(&ws);
    return few;
}

static void test_genre_feature(void **state)
{
    struct world *w = *state;
    struct rec_opts o;
    struct rec_blend unfitted;
    struct ustate us;
    struct rec_user many;
    int movie[20];
    float score[20], g_new[NMOV + 1], g_many[NMOV + 1], lo = 1e9f, hi = -1e9f;
    int64_t when[20];
    int ncommon = 0;

    memset(&unfitted, 0, sizeof(unfitted));
    rec_opts_default(&o);
    o.pre = &unfitted;
    o.recent = 3; /* the same three latest ratings stand for both users */

    /* the newcomer: three Sci-Fi films, all 5 */
    user_of(w, 26, &us);
    assert_true(genre_feature(w, &o, &us.u, g_new) == 1.0f);
    for (int row = 1; row <= NMOV; row++) {
        if (g_new[row] < 0)
            continue;
        if (genre_of_row(w, row) == 0)
            lo = g_new[row] < lo ? g_new[row] : lo;
        else
            hi = g_new[row] > hi ? g_new[row] : hi;
    }
    assert_true(lo < 1e9f && hi > -1e9f); /* both kinds were candidates */
    assert_true(lo > hi);
    assert_true(fabsf(lo - 1.0f) < 1e-5f); /* all of the preference, one genre */
    assert_true(hi == 0.0f);

    /* 20 ratings: the same three latest, and 17 older ones of Romance and
     * Comedy rated 3: the same preference (o.recent = 3), the feature
     * scaled by 5 / 20 */
    for (int i = 0; i < 3; i++) {
        movie[i] = us.movie[i];
        score[i] = us.score[i];
        when[i] = us.time[i];
    }
    for (int i = 3; i < 20; i++) {
        movie[i] = row_of(w, 11 + (i - 3)); /* 11 .. 27 */
        score[i] = 3.0f;
        when[i] = 10 + i;
    }
    memset(&many, 0, sizeof(many));
    many.feat = us.u.feat;
    many.n = 20;
    many.movie = movie;
    many.score = score;
    many.time = when;
    assert_true(fabsf(genre_feature(w, &o, &many, g_many) - 5.0f / 20.0f) < 1e-6f);
    for (int row = 1; row <= NMOV; row++) {
        if (g_new[row] < 0 || g_many[row] < 0)
            continue;
        ncommon++;
        if (fabsf(g_many[row] - g_new[row] * 5.0f / 20.0f) > 1e-6f)
            fail_msg("movie %lld: genre feature %g with 20 ratings, %g with 3",
                     (long long)w->r.ids[row], g_many[row], g_new[row]);
    }
    assert_true(ncommon >= 7); /* Sci-Fi 4..10 at least */

    /* a newcomer with an interest genre too: half the preference each */
    {
        int romance = genre_index(w, "Romance");
        us.u.genres = &romance;
        us.u.ngenres = 1;
        genre_feature(w, &o, &us.u, g_new);
        for (int row = 1; row <= NMOV; row++) {
            float want = genre_of_row(w, row) == 2 ? 0.0f : 0.5f;
            if (g_new[row] >= 0 && fabsf(g_new[row] - want) > 1e-5f)
                fail_msg("movie %lld: genre feature %g, want %g", (long long)w->r.ids[row],
                         g_new[row], want);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ranker_matches_model),
        cmocka_unit_test(test_fold_in_solves_normal_equations),
        cmocka_unit_test(test_fold_in_takes_the_latest),
        cmocka_unit_test(test_itemcf_channel),
        cmocka_unit_test(test_als_channel),
        cmocka_unit_test(test_cold_channel),
        cmocka_unit_test(test_pipeline_excludes_rated_and_caps_genres),
        cmocka_unit_test(test_new_and_gone_movies),
        cmocka_unit_test(test_mismatched_bundle_refused),
        cmocka_unit_test(test_reason_text),
        cmocka_unit_test(test_blend_fit),
        cmocka_unit_test(test_interest_only_keeps_cold_order),
        cmocka_unit_test(test_genre_floor),
        cmocka_unit_test(test_genre_feature),
    };
    void *w = NULL;
    if (world_setup(&w))
        return 1;
    int rc = 0;
    {
        /* every test shares the world: cmocka's group state */
        struct CMUnitTest t[sizeof(tests) / sizeof(tests[0])];
        for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
            t[i] = tests[i];
            t[i].initial_state = w;
        }
        rc = cmocka_run_group_tests(t, NULL, NULL);
    }
    world_teardown(&w);
    return rc;
}
