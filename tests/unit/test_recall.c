/*
 * test_recall.c - the recall channels on tiny hand-made rating matrices
 * whose right answers are known: top-k order, popularity, item-CF cosine
 * neighbours and "because", ALS on a block-structured matrix, Cholesky.
 * RECALL_BENCH=1 also times ALS (64 factors, 15 iterations, 2 threads) on
 * ml-100k from the store $RECALL_BENCH_DB (default
 * /tmp/als100k/movierec.db, made by `movierec --home /tmp/als100k import`).
 */
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <time.h>

#include "../../src/model/dataset.h"
#include "../../src/nn/nn.h"
#include "../../src/recall/als.h"
#include "../../src/recall/itemcf.h"
#include "../../src/recall/popularity.h"
#include "../../src/recall/recall.h"
#include "../../src/store/store.h"

/* ---- a rating matrix built from (user, movie, score) triples ---- */

struct mat {
    int nusers, nmovies;
    int64_t start[64];
    int movie[512];
    float score[512];
};

/* triples sorted by user then movie */
static void mat_make(struct mat *m, int nusers, int nmovies, const int (*t)[3], int n)
{
    memset(m, 0, sizeof(*m));
    m->nusers = nusers;
    m->nmovies = nmovies;
    assert_true(nusers < 64 && n <= 512);
    int r = 0;
    for (int u = 0; u < nusers; u++) {
        m->start[u] = r;
        while (r < n && t[r][0] == u) {
            m->movie[r] = t[r][1];
            m->score[r] = (float)t[r][2];
            r++;
        }
    }
    m->start[nusers] = r;
    assert_int_equal(r, n); /* the triples were sorted */
}

/* ---- top-k ---- */

static void test_topk(void **state)
{
    (void)state;
    const float s[8] = {1.0f, 3.0f, 3.0f, NAN, 5.0f, 2.0f, 3.0f, -1.0f};
    struct cand out[8];
    int n = recall_topk(out, 4, s, 8, NULL);
    assert_int_equal(n, 4);
    int want[4] = {4, 1, 2, 6}; /* ties 3.0: lower index first */
    for (int i = 0; i < 4; i++) {
        assert_int_equal(out[i].movie, want[i]);
        assert_int_equal(out[i].because, -1);
    }
    assert_true(out[0].score == 5.0f && out[3].score == 3.0f);

    uint8_t ex[8] = {0, 1, 0, 0, 1, 0, 0, 0};
    n = recall_topk(out, 3, s, 8, ex);
    assert_int_equal(n, 3);
    assert_int_equal(out[0].movie, 2);
    assert_int_equal(out[1].movie, 6);
    assert_int_equal(out[2].movie, 5);

    n = recall_topk(out, 8, s, 8, NULL); /* k > eligible: NaN skipped */
    assert_int_equal(n, 7);
    assert_int_equal(out[6].movie, 7);
    assert_int_equal(recall_topk(out, 0, s, 8, NULL), 0);
    assert_int_equal(recall_topk(out, 3, s, 0, NULL), 0);

    /* against a plain sort on more data */
    float big[500];
    uint64_t st = 7;
    for (int i = 0; i < 500; i++)
        big[i] = (float)(nn_rng_next(&st) % 50); /* many ties */
    struct cand top[20];
    n = recall_topk(top, 20, big, 500, NULL);
    assert_int_equal(n, 20);
    for (int i = 1; i < 20; i++)
        assert_true(cand_better(&top[i - 1], &top[i]));
    int above = 0; /* everything not returned ranks below the last one */
    for (int m = 0; m < 500; m++) {
        struct cand c = {m, big[m], -1};
        if (cand_better(&c, &top[19]) || c.movie == top[19].movie)
            above++;
    }
    assert_int_equal(above, 20);
}

/* recall_partial_sort against recall_heap_sort: the same first k, in
 * order, and the same set after them, for sizes around its cut-over to
 * insertion sort, k from 0 to past n, many ties of score (distinct
 * movies), input sorted, reversed and shuffled. */
static void test_partial_sort(void **state)
{
    (void)state;
    const int ns[] = {0, 1, 2, 15, 16, 17, 40, 500, 1300}, ks[] = {0, 1, 7, 16, 200, 2000};
    static struct cand a[1300], b[1300];
    uint64_t st = 11;
    for (size_t ni = 0; ni < sizeof(ns) / sizeof(*ns); ni++)
        for (size_t ki = 0; ki < sizeof(ks) / sizeof(*ks); ki++)
            for (int order = 0; order < 3; order++) {
                int n = ns[ni], k = ks[ki], kk = k < n ? k : n;
                for (int i = 0; i < n; i++) {
                    int m = order == 0 ? i : order == 1 ? n - 1 - i : (int)((i * 7919L) % n);
                    a[i] = (struct cand){m, (float)(nn_rng_next(&st) % 30), i};
                }
                if (order == 0) /* already in order */
                    recall_heap_sort(a, n);
                memcpy(b, a, (size_t)n * sizeof(*a));
                recall_partial_sort(a, n, k);
                recall_heap_sort(b, n);
                for (int i = 0; i < kk; i++) {
                    assert_int_equal(a[i].movie, b[i].movie);
                    assert_true(a[i].score == b[i].score);
                    assert_int_equal(a[i].because, b[i].because);
                }
                recall_heap_sort(a + kk, n - kk); /* the rest: the same set */
                for (int i = kk; i < n; i++)
                    assert_int_equal(a[i].movie, b[i].movie);
            }
}

/* NaN scores rank below every number, among themselves by movie: the
 * heap, qsort and the partial sort then agree whatever order the input
 * came in (with NaN unordered they did not). 2000 candidates, one in
 * five NaN, scores tied in tens, shuffled three ways. */
static void test_nan_order(void **state)
{
    (void)state;
    enum { N = 2000 };
    static struct cand in[N], a[N], b[N], h[N];
    const int mult[] = {1, 7919, 1999};
    uint64_t st = 21;
    float sc[N];
    struct cand nan1 = {5, NAN, -1}, nan2 = {9, NAN, -1}, one = {100, 1.0f, -1};
    assert_true(cand_better(&one, &nan1) && !cand_better(&nan1, &one));
    assert_true(cand_better(&nan1, &nan2) && !cand_better(&nan2, &nan1));
    assert_false(cand_better(&nan1, &nan1));
    for (int m = 0; m < N; m++)
        sc[m] = nn_rng_next(&st) % 5 == 0 ? NAN : (float)(nn_rng_next(&st) % 200) - 100.0f;
    for (int pi = 0; pi < 3; pi++) {
        for (int i = 0; i < N; i++) {
            int m = (int)((i * (long)mult[pi]) % N);
            in[i] = (struct cand){m, sc[m], -1};
        }
        memcpy(a, in, sizeof(in));
        memcpy(b, in, sizeof(in));
        recall_heap_sort(a, N);
        recall_partial_sort(b, N, N);
        int nh = 0;
        for (int i = 0; i < N; i++)
            recall_heap_push(h, &nh, 300, in[i]);
        recall_heap_sort(h, nh);
        assert_int_equal(nh, 300);
        for (int i = 0; i < N; i++) {
            assert_int_equal(a[i].movie, b[i].movie);
            if (i < 300)
                assert_int_equal(a[i].movie, h[i].movie);
            if (i > 0) { /* numbers descending, then the NaNs by movie */
                assert_true(cand_better(&a[i - 1], &a[i]));
                assert_false(isnan(a[i - 1].score) && !isnan(a[i].score));
                if (isnan(a[i - 1].score))
                    assert_true(a[i - 1].movie < a[i].movie);
            }
        }
        assert_true(isnan(a[N - 1].score));
    }
}

/* k <= 0 asks for nothing: recall_partial_sort leaves a as it is (it
 * used to insertion-sort all of it, O(n^2)). */
static void test_partial_sort_k0(void **state)
{
    (void)state;
    const int n = 100000;
    struct cand *a = malloc((size_t)n * sizeof(*a)), *b = malloc((size_t)n * sizeof(*b));
    uint64_t st = 5;
    assert_true(a && b);
    for (int i = 0; i < n; i++)
        a[i] = (struct cand){(int)((i * 7919L) % n), (float)(nn_rng_next(&st) % 1000), i};
    memcpy(b, a, (size_t)n * sizeof(*a));
    for (int k = -3; k <= 0; k += 3) {
        recall_partial_sort(a, n, k);
        assert_memory_equal(a, b, (size_t)n * sizeof(*a));
    }
    free(a);
    free(b);
}

struct sort_job {
    struct cand *a;
    int n, k;
};

static void *sort_job_run(void *p)
{
    struct sort_job *j = p;
    recall_partial_sort(j->a, j->n, j->k);
    return NULL;
}

/* recall_partial_sort(a, n, k) on a thread with a 256 KiB stack: room
 * for O(log n) frames, far too little for one frame per element */
static void partial_sort_small_stack(struct cand *a, int n, int k)
{
    struct sort_job j = {a, n, k};
    pthread_attr_t at;
    pthread_t t;
    assert_int_equal(pthread_attr_init(&at), 0);
    assert_int_equal(pthread_attr_setstacksize(&at, 256 * 1024), 0);
    assert_int_equal(pthread_create(&t, &at, sort_job_run, &j), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    pthread_attr_destroy(&at);
}

/* Inputs a median-of-three quicksort handles worst, on a small stack:
 * 100k candidates already in order, reversed, all of one score (movies
 * reversed and shuffled), an organ pipe; and at 12k (the time is O(n^2)
 * there) McIlroy's adversary for this partition: one score, movies
 * 0, 3, 2, 5, 4, ... with 1 last, which makes every pivot the second
 * best, so recursing after the pivot went one frame per two elements
 * deep (and overflowed this stack). Each against recall_heap_sort. */
static void test_partial_sort_adversarial(void **state)
{
    (void)state;
    const int big = 100000, ks[] = {10, big};
    struct cand *a = malloc((size_t)big * sizeof(*a)), *b = malloc((size_t)big * sizeof(*b));
    assert_true(a && b);
    for (int pat = 0; pat < 5; pat++)
        for (size_t ki = 0; ki < sizeof(ks) / sizeof(*ks) + (pat == 4); ki++) {
            int n = pat == 4 ? 12000 : big, k = ki < 2 ? ks[ki] : n / 2, kk = k < n ? k : n;
            for (int i = 0; i < n; i++) {
                int m = i;
                float sc = 1.0f;
                if (pat == 0)
                    sc = (float)(n - i);
                else if (pat == 1)
                    sc = (float)i;
                else if (pat == 2)
                    m = ki ? n - 1 - i : (int)((i * 7919L) % n);
                else if (pat == 3)
                    sc = (float)(i < n / 2 ? i : n - i);
                else
                    m = i == 0 ? 0 : i == n - 1 ? 1 : i % 2 ? i + 2 : i;
                a[i] = (struct cand){m, sc, i};
            }
            memcpy(b, a, (size_t)n * sizeof(*a));
            partial_sort_small_stack(a, n, k);
            recall_heap_sort(b, n);
            for (int i = 0; i < kk; i++) {
                assert_int_equal(a[i].movie, b[i].movie);
                assert_int_equal(a[i].because, b[i].because);
            }
            recall_heap_sort(a + kk, n - kk); /* the rest: the same set */
            for (int i = kk; i < n; i++)
                assert_int_equal(a[i].movie, b[i].movie);
        }
    free(a);
    free(b);
}

/* itemcf_recommend on random data (hundreds of hits, so its sort runs
 * past insertion sort) against the dense sum it stands for: every movie's
 * weighted similarities summed in liked order, because = the liked movie
 * of the largest (the earlier on ties), liked and excluded movies out,
 * the best k by cand_better. */
static void test_itemcf_random(void **state)
{
    (void)state;
    enum { NU = 400, NM = 300, PER = 25, NL = 12 };
    static int64_t start[NU + 1];
    static int movie[NU * PER];
    static float score[NU * PER], acc[NM], best[NM];
    static int because[NM];
    struct itemcf cf;
    struct itemcf_opts o;
    struct error err = {0};
    struct cand out[NM], ref[NM];
    uint64_t st = 5;
    itemcf_opts_default(&o);
    o.neighbours = 40;
    o.threads = 1;
    for (int u = 0; u < NU; u++) {
        start[u] = (int64_t)u * PER;
        for (int i = 0; i < PER; i++) { /* distinct movies per user, ascending */
            movie[u * PER + i] = 1 + (int)((u * 7 + i * (1 + u % 11)) % (NM - 1));
            score[u * PER + i] = (float)(1 + nn_rng_next(&st) % 5);
        }
        for (int i = 1; i < PER; i++) /* sort the user's movies; drop repeats by shifting */
            for (int j = i; j > 0 && movie[u * PER + j] < movie[u * PER + j - 1]; j--) {
                int t = movie[u * PER + j];
                movie[u * PER + j] = movie[u * PER + j - 1];
                movie[u * PER + j - 1] = t;
            }
        for (int i = 1; i < PER; i++)
            if (movie[u * PER + i] == movie[u * PER + i - 1])
                score[u * PER + i] = 0.0f; /* a repeat: below min_score, ignored */
    }
    start[NU] = (int64_t)NU * PER;
    assert_int_equal(itemcf_build(&cf, &o, NU, NM, start, movie, score, &err), 0);
    for (int trial = 0; trial < 20; trial++) {
        int liked[NL], k = trial % 2 ? 40 : NM, nref = 0, n;
        float w[NL];
        uint8_t ex[NM];
        for (int l = 0; l < NL; l++) {
            liked[l] = 1 + (int)(nn_rng_next(&st) % (NM - 1)); /* repeats allowed */
            w[l] = 1.0f / (float)(1 + l);
        }
        for (int m = 0; m < NM; m++) {
            ex[m] = nn_rng_next(&st) % 10 == 0;
            acc[m] = 0.0f;
            because[m] = -1;
        }
        for (int l = 0; l < NL; l++) {
            const int *ids;
            const float *sims;
            int nn = itemcf_neighbours(&cf, liked[l], &ids, &sims);
            for (int t = 0; t < nn; t++) {
                int m = ids[t];
                float v = w[l] * sims[t];
                if (because[m] < 0 || v > best[m]) {
                    best[m] = v;
                    because[m] = liked[l];
                }
                acc[m] += v;
            }
        }
        for (int l = 0; l < NL; l++)
            because[liked[l]] = -1;
        for (int m = 0; m < NM; m++)
            if (because[m] >= 0 && !ex[m])
                ref[nref++] = (struct cand){m, acc[m], because[m]};
        recall_heap_sort(ref, nref);
        assert_true(nref > 60);
        assert_int_equal(itemcf_recommend(&cf, liked, w, NL, out, k, ex, &n, &err), 0);
        assert_int_equal(n, nref < k ? nref : k);
        for (int i = 0; i < n; i++) {
            assert_int_equal(out[i].movie, ref[i].movie);
            assert_true(out[i].score == ref[i].score);
            assert_int_equal(out[i].because, ref[i].because);
        }
    }
    itemcf_free(&cf);
}

/* ---- popularity ---- */

static void test_popularity(void **state)
{
    (void)state;
    /* movies 1..4; user 0 is the empty unknown row */
    static const int t[][3] = {
        {1, 1, 5}, {1, 2, 4}, {1, 3, 2},
        {2, 1, 4}, {2, 2, 5}, {2, 4, 5},
        {3, 1, 3}, {3, 2, 5}, {3, 4, 4},
        {4, 2, 1}, {4, 3, 5},
    };
    struct mat m;
    struct popularity p;
    struct error err = {0};
    struct cand out[5];
    mat_make(&m, 5, 5, t, 11);

    assert_int_equal(popularity_build(&p, m.nusers, m.nmovies, m.start, m.movie, m.score, 4.0f,
                                      0.0f, &err), 0);
    int want_count[5] = {0, 2, 3, 1, 2};
    for (int i = 0; i < 5; i++)
        assert_int_equal(p.count[i], want_count[i]);
    assert_int_equal(p.nrated[2], 4);
    assert_true(fabsf(p.mean[2] - 15.0f / 4) < 1e-6f); /* no damping: plain mean */
    assert_true(fabsf(p.global_mean - 43.0f / 11) < 1e-6f);

    int n = popularity_top(&p, out, 5, NULL);
    assert_int_equal(n, 4); /* movie 0 has no positive rating */
    assert_int_equal(out[0].movie, 2);
    assert_int_equal(out[1].movie, 4); /* 2 positives, mean 4.5 > movie 1's 4.0 */
    assert_int_equal(out[2].movie, 1);
    assert_int_equal(out[3].movie, 3);
    assert_int_equal((int)floorf(out[0].score), 3);

    uint8_t ex[5] = {0, 0, 1, 0, 0};
    n = popularity_top(&p, out, 2, ex);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].movie, 4);
    assert_int_equal(out[1].movie, 1);

    /* genres: 0 = comedy for movies 1 and 3, 1 = drama for 2 and 3 */
    const int genres[5][3] = {{-1, -1, -1}, {0, -1, -1}, {1, -1, -1}, {1, 0, -1}, {-1, -1, -1}};
    n = popularity_top_genre(&p, &genres[0][0], 3, 0, out, 5, NULL);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].movie, 1);
    assert_int_equal(out[1].movie, 3);
    n = popularity_top_genre(&p, &genres[0][0], 3, 7, out, 5, NULL);
    assert_int_equal(n, 0);
    popularity_free(&p);

    /* damping pulls a movie toward the global mean */
    assert_int_equal(popularity_build(&p, m.nusers, m.nmovies, m.start, m.movie, m.score, 0.0f,
                                      10.0f, &err), 0);
    assert_int_equal(p.count[2], 4);
    float g = 43.0f / 11;
    assert_true(fabsf(p.mean[4] - (9.0f + 10 * g) / 12) < 1e-5f);
    assert_true(fabsf(p.mean[0] - g) < 1e-6f);
    popularity_free(&p);

    m.movie[0] = 9; /* out of range */
    assert_int_equal(popularity_build(&p, m.nusers, m.nmovies, m.start, m.movie, m.score, 4.0f,
                                      0.0f, &err), ERR_USAGE);
    assert_non_null(strstr(err.msg, "movie index 9"));
}

/* ---- item-CF ---- */

/* Users 1-3 like movies 1-3 (cluster A), users 4-6 movies 4-6 (cluster B);
 * low ratings across clusters are not positive. In A: user 1 likes 1, 2, 3;
 * user 2 likes 1, 2; user 3 likes 2, 3. n_1 = 2, n_2 = 3, n_3 = 2;
 * co(1,2) = 2, co(1,3) = 1, co(2,3) = 2:
 * sim(1,2) = 2/sqrt(6), sim(1,3) = 1/2, sim(2,3) = 2/sqrt(6). */
static const int cf_t[][3] = {
    {1, 1, 5}, {1, 2, 4}, {1, 3, 5}, {1, 4, 1},
    {2, 1, 4}, {2, 2, 5}, {2, 5, 2},
    {3, 2, 5}, {3, 3, 4}, {3, 6, 3},
    {4, 1, 2}, {4, 4, 5}, {4, 5, 5}, {4, 6, 4},
    {5, 4, 4}, {5, 5, 5},
    {6, 5, 4}, {6, 6, 5},
};

static void check_cf(const struct itemcf *cf)
{
    const int *ids;
    const float *sims;
    float s6 = (float)(2.0 / sqrt(6.0));

    assert_int_equal(itemcf_neighbours(cf, 1, &ids, &sims), 2);
    assert_int_equal(ids[0], 2);
    assert_true(fabsf(sims[0] - s6) < 1e-6f);
    assert_int_equal(ids[1], 3);
    assert_true(fabsf(sims[1] - 0.5f) < 1e-6f);

    assert_int_equal(itemcf_neighbours(cf, 2, &ids, &sims), 2);
    assert_int_equal(ids[0], 1); /* tie 2/sqrt(6): lower index first */
    assert_int_equal(ids[1], 3);
    assert_true(fabsf(sims[0] - s6) < 1e-6f && fabsf(sims[1] - s6) < 1e-6f);

    assert_int_equal(itemcf_neighbours(cf, 3, &ids, &sims), 2);
    assert_int_equal(ids[0], 2);
    assert_int_equal(ids[1], 1);

    /* cluster B is the mirror image: 5 is everyone's, 4 and 6 half */
    assert_int_equal(itemcf_neighbours(cf, 4, &ids, &sims), 2);
    assert_int_equal(ids[0], 5);
    assert_int_equal(ids[1], 6);
    for (int m = 4; m <= 6; m++) {
        int n = itemcf_neighbours(cf, m, &ids, &sims);
        for (int i = 0; i < n; i++)
            assert_true(ids[i] >= 4 && ids[i] <= 6);
    }
    assert_int_equal(itemcf_neighbours(cf, 0, &ids, &sims), 0);
    assert_int_equal(itemcf_neighbours(cf, 99, &ids, &sims), 0);
}

static void test_itemcf(void **state)
{
    (void)state;
    struct mat m;
    struct itemcf cf;
    struct itemcf_opts o;
    struct error err = {0};
    struct cand out[8];
    int n;

    mat_make(&m, 7, 7, cf_t, (int)(sizeof(cf_t) / sizeof(cf_t[0])));
    itemcf_opts_default(&o);
    assert_true(o.min_score == 4.0f && o.neighbours == 50 && o.threads == 2);
    assert_int_equal(itemcf_build(&cf, &o, m.nusers, m.nmovies, m.start, m.movie, m.score, &err),
                     0);
    assert_int_equal(cf.npos[2], 3);
    check_cf(&cf);

    /* liked movie 1 only: the rest of cluster A, because of 1 */
    int liked[2] = {1, 5};
    assert_int_equal(itemcf_recommend(&cf, liked, NULL, 1, out, 8, NULL, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].movie, 2);
    assert_int_equal(out[1].movie, 3);
    assert_int_equal(out[0].because, 1);
    assert_int_equal(out[1].because, 1);
    assert_true(fabsf(out[0].score - (float)(2.0 / sqrt(6.0))) < 1e-6f);

    /* liked 1 and 5: both clusters; 4 and 6 because of 5, summed alone */
    assert_int_equal(itemcf_recommend(&cf, liked, NULL, 2, out, 8, NULL, &n, &err), 0);
    assert_int_equal(n, 4);
    for (int i = 0; i < n; i++) {
        assert_true(out[i].movie != 1 && out[i].movie != 5);
        assert_int_equal(out[i].because, out[i].movie <= 3 ? 1 : 5);
    }

    /* liked 1 and 3: 2 sums two similarities, because of the larger (3) */
    int l13[2] = {1, 3};
    assert_int_equal(itemcf_recommend(&cf, l13, NULL, 2, out, 8, NULL, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].movie, 2);
    assert_true(fabsf(out[0].score - (float)(4.0 / sqrt(6.0))) < 1e-5f);
    assert_int_equal(out[0].because, 1); /* equal sims: the earlier liked */

    uint8_t ex[7] = {0, 0, 1, 0, 0, 0, 0};
    assert_int_equal(itemcf_recommend(&cf, liked, NULL, 1, out, 8, ex, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].movie, 3);
    int bad[2] = {-4, 77};
    assert_int_equal(itemcf_recommend(&cf, bad, NULL, 2, out, 8, NULL, &n, &err), 0);
    assert_int_equal(n, 0);
    itemcf_free(&cf);

    /* one thread and a cap of 1 neighbour */
    o.threads = 1;
    o.neighbours = 1;
    assert_int_equal(itemcf_build(&cf, &o, m.nusers, m.nmovies, m.start, m.movie, m.score, &err),
                     0);
    const int *ids;
    const float *sims;
    assert_int_equal(itemcf_neighbours(&cf, 1, &ids, &sims), 1);
    assert_int_equal(ids[0], 2);
    itemcf_free(&cf);

    /* three threads give the same neighbours */
    o.threads = 3;
    o.neighbours = 50;
    assert_int_equal(itemcf_build(&cf, &o, m.nusers, m.nmovies, m.start, m.movie, m.score, &err),
                     0);
    check_cf(&cf);
    itemcf_free(&cf);

    o.neighbours = 0;
    assert_int_equal(itemcf_build(&cf, &o, m.nusers, m.nmovies, m.start, m.movie, m.score, &err),
                     ERR_USAGE);
}

/* ---- ALS ---- */

static void test_cholesky(void **state)
{
    (void)state;
    /* A = [[4, 12, -16], [12, 37, -43], [-16, -43, 98]] = L L^T with
     * L = [[2, 0, 0], [6, 1, 0], [-8, 5, 3]]; A x = b for x = (1, 2, 3) */
    float a[9] = {4, 12, -16, 12, 37, -43, -16, -43, 98};
    float uw[9] = {2, 6, -8, 0, 1, 5, 0, 0, 3}; /* U = L^T */
    float x[3] = {4 + 24 - 48, 12 + 74 - 129, -16 - 86 + 294};
    assert_int_equal(als_cholesky(a, 3), 0);
    for (int i = 0; i < 3; i++)
        for (int j = i; j < 3; j++)
            assert_true(fabsf(a[i * 3 + j] - uw[i * 3 + j]) < 1e-5f);
    assert_true(a[3] == 12 && a[6] == -16 && a[7] == -43); /* lower untouched */
    als_cholesky_solve(a, x, 3);
    assert_true(fabsf(x[0] - 1) < 1e-4f && fabsf(x[1] - 2) < 1e-4f && fabsf(x[2] - 3) < 1e-4f);

    float np[4] = {1, 2, 2, 1}; /* eigenvalues 3 and -1 */
    assert_int_equal(als_cholesky(np, 2), ERR_INTEGRITY);
}

/* 2 groups of 10 users x 2 groups of 10 movies; user u in group g rates
 * the movies of group g except one (a different one per user); no rating
 * across groups. Row/column 0 is the empty unknown. */
static void block_matrix(struct mat *m)
{
    static int t[512][3];
    int n = 0;
    for (int u = 1; u <= 20; u++) {
        int g = (u - 1) / 10, skip = (u - 1) % 10;
        for (int i = 0; i < 10; i++)
            if (i != skip) {
                t[n][0] = u;
                t[n][1] = 1 + g * 10 + i;
                t[n][2] = 3 + (u + i) % 3;
                n++;
            }
    }
    mat_make(m, 21, 21, (const int(*)[3])t, n);
}

static void test_als(void **state)
{
    (void)state;
    struct mat m;
    struct als a, b;
    struct als_opts o;
    struct error err = {0};
    float s[21];

    block_matrix(&m);
    als_opts_default(&o);
    assert_true(o.factors == 64 && o.iterations == 15 && o.alpha == 10.0f && o.lambda == 0.1f);
    o.factors = 8;
    assert_int_equal(als_train(&a, &o, m.nusers, m.nmovies, m.start, m.movie, m.score, 2, 42,
                               &err), 0);
    for (int u = 1; u <= 20; u++) {
        int g = (u - 1) / 10, skip = (u - 1) % 10;
        int unrated = 1 + g * 10 + skip;
        als_score_user(&a, u, s);
        for (int i = 1; i <= 20; i++)
            if ((i - 1) / 10 != g && !(s[unrated] > s[i]))
                fail_msg("user %d: unrated in-block movie %d scores %g, out-of-block %d %g", u,
                         unrated, s[unrated], i, s[i]);
        assert_true(s[unrated] > 0.3f); /* close to the preference 1 */
    }
    als_score_user(&a, 0, s); /* the empty row: zero factor */
    for (int i = 0; i < 21; i++)
        assert_true(s[i] == 0.0f);
    als_score_user(&a, 99, s);
    assert_true(s[3] == 0.0f);

    /* same seed, other thread count: bit for bit; other seed: different */
    assert_int_equal(als_train(&b, &o, m.nusers, m.nmovies, m.start, m.movie, m.score, 1, 42,
                               &err), 0);
    assert_memory_equal(a.user, b.user, sizeof(float) * 21 * 8);
    assert_memory_equal(a.item, b.item, sizeof(float) * 21 * 8);
    als_free(&b);
    assert_int_equal(als_train(&b, &o, m.nusers, m.nmovies, m.start, m.movie, m.score, 2, 43,
                               &err), 0);
    assert_true(memcmp(a.item, b.item, sizeof(float) * 21 * 8) != 0);
    als_free(&b);
    als_free(&a);

    /* with scores as confidence, the default 64 factors */
    o.factors = 64;
    o.use_score = 1;
    o.alpha = 2.0f;
    assert_int_equal(als_train(&a, &o, m.nusers, m.nmovies, m.start, m.movie, m.score, 2, 1,
                               &err), 0);
    als_score_user(&a, 15, s);
    for (int i = 1; i <= 10; i++)
        assert_true(s[15] > s[i]); /* user 15 skipped movie 15 */
    als_free(&a);

    o.lambda = 0;
    assert_int_equal(als_train(&a, &o, m.nusers, m.nmovies, m.start, m.movie, m.score, 2, 1,
                               &err), ERR_USAGE);
}

/* ---- no ratings at all ---- */

static void test_empty(void **state)
{
    (void)state;
    int64_t start[4] = {0, 0, 0, 0};
    int mv[1] = {0};
    float sc[1] = {0};
    struct error err = {0};
    struct popularity p;
    struct itemcf cf;
    struct als a;
    struct cand out[4];
    float s[5];
    int n, liked[1] = {2};

    assert_int_equal(popularity_build(&p, 3, 5, start, mv, sc, 4.0f, 10.0f, &err), 0);
    assert_int_equal(popularity_top(&p, out, 4, NULL), 0);
    popularity_free(&p);
    assert_int_equal(itemcf_build(&cf, NULL, 3, 5, start, mv, sc, &err), 0);
    assert_int_equal(itemcf_recommend(&cf, liked, NULL, 1, out, 4, NULL, &n, &err), 0);
    assert_int_equal(n, 0);
    itemcf_free(&cf);
    assert_int_equal(als_train(&a, NULL, 3, 5, start, mv, sc, 2, 1, &err), 0);
    als_score_user(&a, 1, s);
    for (int i = 0; i < 5; i++)
        assert_true(s[i] == 0.0f);
    als_free(&a);
}

/* ---- ml-100k timing (RECALL_BENCH=1) ---- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void test_bench_ml100k(void **state)
{
    (void)state;
    const char *on = getenv("RECALL_BENCH"), *db = getenv("RECALL_BENCH_DB");
    struct store *st = NULL;
    struct dataset d;
    struct error err = {0};
    struct als a;
    struct itemcf cf;

    if (!on || strcmp(on, "1") != 0)
        skip();
    if (!db || !*db)
        db = "/tmp/als100k/movierec.db";
    if (access(db, R_OK) != 0) {
        fprintf(stderr, "bench: no store at %s (run movierec --home ... import ml-100k)\n", db);
        skip();
    }
    memset(&d, 0, sizeof(d));
    if (store_open(&st, db, &err) || dataset_load(&d, st, 1, &err))
        fail_msg("bench: %s", err.msg);

    double t0 = now();
    assert_int_equal(als_train(&a, NULL, d.nusers, d.nmovies, d.user_start, d.r_movie,
                               d.r_score, 2, 1, &err), 0);
    double t1 = now();
    for (size_t i = 0; i < (size_t)d.nmovies * a.f; i++)
        if (!isfinite(a.item[i]))
            fail_msg("bench: item factor %zu is %g", i, a.item[i]);
    assert_int_equal(itemcf_build(&cf, NULL, d.nusers, d.nmovies, d.user_start, d.r_movie,
                                  d.r_score, &err), 0);
    double t2 = now();
    /* sanity: for nearly every user, rated movies outscore unrated ones */
    float *sc = malloc((size_t)d.nmovies * sizeof(*sc));
    int good = 0, users = 0;
    assert_non_null(sc);
    for (int u = 1; u < d.nusers; u++) {
        double in = 0, all = 0;
        int64_t n = d.user_start[u + 1] - d.user_start[u];
        if (n == 0)
            continue;
        als_score_user(&a, u, sc);
        for (int m = 0; m < d.nmovies; m++)
            all += sc[m];
        for (int64_t r = d.user_start[u]; r < d.user_start[u + 1]; r++)
            in += sc[d.r_movie[r]];
        users++;
        good += in / (double)n > (all - in) / (double)(d.nmovies - n);
    }
    free(sc);
    assert_true(good >= users * 99 / 100);
    const int *ids;
    const float *sims;
    assert_true(itemcf_neighbours(&cf, d.r_movie[0], &ids, &sims) > 0);
    fprintf(stderr,
            "bench: ml-100k %d users, %d movies, %lld ratings: als (64 factors, 15 iterations, "
            "2 threads) %.3f s; itemcf (50 neighbours, 2 threads) %.3f s\n",
            d.nusers, d.nmovies, (long long)d.nratings, t1 - t0, t2 - t1);
    itemcf_free(&cf);
    als_free(&a);
    dataset_free(&d);
    store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topk),       cmocka_unit_test(test_partial_sort),
        cmocka_unit_test(test_nan_order),       cmocka_unit_test(test_partial_sort_k0), cmocka_unit_test(test_partial_sort_adversarial),
        cmocka_unit_test(test_popularity), cmocka_unit_test(test_itemcf),
        cmocka_unit_test(test_itemcf_random), cmocka_unit_test(test_cholesky),
        cmocka_unit_test(test_als),        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_bench_ml100k),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
