/*
 * recommend.c - latency of one personalised recommendation (every recall
 * channel + ranking of up to 500 candidates, top 10) and of similar
 * movies, in process, one thread. Run by bench/recommend.sh.
 *
 *   recommend HOME [-q QUERIES] [--synthetic] [--als-iterations N] [-S SEED]
 *   recommend HOME --als-runs N      time ALS training alone (64 factors,
 *                                    15 iterations, 2 threads), N times
 *   recommend HOME --save-models     save the --synthetic models (random-weight
 *                                    watch and like models, the recall models
 *                                    with timing weights) as new versions under
 *                                    HOME/models, for bench/serve.sh at ml-25m size
 *
 * HOME holds a store. Without --synthetic it needs trained models
 * (engine_load: models/watch and models/recall). With --synthetic the
 * watch model is built here with random weights (its cost does not depend
 * on its values), for stores too large to train a deep model on in a
 * benchmark's time, and the recall channels are loaded from
 * HOME/models/recall when `train --label recall` saved them there, else
 * trained here (ALS with --als-iterations, default 15). Prints a table row per
 * measurement: median, p90, p99, mean in ms.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/model/dataset.h"
#include "../src/nn/nn.h"
#include "../src/recall/engine.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, double *ms, int n)
{
    double sum = 0;
    qsort(ms, (size_t)n, sizeof(*ms), cmp_d);
    for (int i = 0; i < n; i++)
        sum += ms[i];
    printf("%-34s %8.3f %8.3f %8.3f %8.3f   (%d runs)\n", what, ms[n / 2], ms[n * 9 / 10],
           ms[(int)((n - 1) * 0.99)], sum / n, n);
}

static void die(const char *what, const struct error *err)
{
    fprintf(stderr, "recommend bench: %s: %s\n", what, err->msg);
    exit(1);
}

int main(int argc, char **argv)
{
    const char *home = NULL;
    int queries = 2000, synthetic = 0, als_iter = 15, als_runs = 0, save = 0;
    uint64_t seed = 1;
    char path[4200];
    struct error err = {0};
    struct store *s = NULL;
    struct dataset d;
    struct model mdl;
    struct recall_bundle b;
    struct recommender rec, *r;
    struct engine e;
    int64_t *ids = NULL;
    struct movie_feat *mf = NULL;
    int nm = 0;
    double t0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-q") && i + 1 < argc)
            queries = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-S") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--synthetic"))
            synthetic = 1;
        else if (!strcmp(argv[i], "--save-models"))
            save = synthetic = 1;
        else if (!strcmp(argv[i], "--als-iterations") && i + 1 < argc)
            als_iter = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--als-runs") && i + 1 < argc)
            als_runs = atoi(argv[++i]);
        else if (!home)
            home = argv[i];
        else {
            fprintf(stderr, "usage: recommend HOME [-q N] [--synthetic] [--als-iterations N]\n");
            return 2;
        }
    }
    if (!home || queries < 10)
        return fprintf(stderr, "usage: recommend HOME [-q N] [--synthetic]\n"), 2;
    nn_blas_threads(1);
    setvbuf(stdout, NULL, _IOLBF, 0);
    snprintf(path, sizeof(path), "%s/movierec.db", home);
    if (store_open(&s, path, &err))
        die("store", &err);
    t0 = now();
    if (dataset_load(&d, s, 2, &err))
        die("dataset", &err);
    printf("store: %d users, %d movies, %lld ratings (read in %.1f s)\n", d.nusers - 1,
           d.nmovies - 1, (long long)d.nratings, now() - t0);
    if (als_runs > 0) { /* ALS alone: 64 factors, 15 iterations, 2 threads */
        struct als_opts ao;
        double *sec = malloc((size_t)als_runs * sizeof(double));
        als_opts_default(&ao);
        for (int k = 0; k < als_runs; k++) {
            struct als a;
            t0 = now();
            if (als_train(&a, &ao, d.nusers, d.nmovies, d.user_start, d.r_movie, d.r_score, 2, 1,
                          &err))
                die("als", &err);
            sec[k] = now() - t0;
            als_free(&a);
        }
        report("ALS 64 factors 15 iterations (s)", sec, als_runs);
        free(sec);
        return 0;
    }
    if (synthetic) {
        struct model_config c;
        struct recall_bundle_opts bo;
        model_config_default(&c, &d.vocab);
        if (model_init(&mdl, &c, &err))
            die("model", &err);
        model_init_weights(&mdl, seed);
        recall_bundle_opts_default(&bo);
        bo.als.iterations = als_iter;
        t0 = now();
        snprintf(path, sizeof(path), "%s/models/recall", home);
        if (recall_bundle_load(path, 0, &d.vocab, &b, NULL, &err) == 0) {
            printf("recall channels loaded from %s in %.1f s\n", path, now() - t0);
        } else {
            printf("no recall models to load (%s): training them\n", err.msg);
            fflush(stdout);
            error_clear(&err);
            if (recall_bundle_build(&b, &d, NULL, &bo, &err))
                die("recall channels", &err);
            printf("recall channels trained in %.1f s (ALS %d iterations, 2 threads)\n",
                   now() - t0, als_iter);
        }
        if (!b.pre.fitted) {
            /* no watch model was there to fit the ranker: weights of the
             * right shape for timing (their values do not change the cost) */
            b.pre.fitted = b.blend.fitted = 1;
            for (int k = 0; k < BLEND_NFEAT; k++) {
                b.pre.scale[k] = b.blend.scale[k] = 1;
                b.pre.w[k] = k == BLEND_DEEP || k == BLEND_ZDEEP ? 0.0f : 0.1f;
                b.blend.w[k] = 0.1f;
            }
            printf("ranker weights: synthetic (for timing)\n");
        }
        if (save) { /* for bench/serve.sh: the server loads what is saved */
            int v;
            snprintf(path, sizeof(path), "%s/models/watch", home);
            if (modelfile_save(path, &mdl, &d.vocab, NULL, 0, &v, NULL, 0, &err))
                die("save watch", &err);
            printf("saved the random-weight model as %s/%d (and as like)\n", path, v);
            snprintf(path, sizeof(path), "%s/models/like", home);
            if (modelfile_save(path, &mdl, &d.vocab, NULL, 0, &v, NULL, 0, &err))
                die("save like", &err);
            snprintf(path, sizeof(path), "%s/models/recall", home);
            if (recall_bundle_save(path, &b, &d.vocab, NULL, &v, NULL, 0, &err))
                die("save recall", &err);
            printf("saved the recall models with the timing weights as %s/%d\n", path, v);
            return 0;
        }
        if (feat_load_movies(s, &d.vocab, &ids, &mf, &nm, &err))
            die("movies", &err);
        t0 = now();
        if (recommender_init(&rec, &mdl, &d.vocab, &b, ids, mf, nm, &err))
            die("recommender", &err);
        r = &rec;
    } else {
        snprintf(path, sizeof(path), "%s/models", home);
        t0 = now();
        if (engine_load(&e, path, s, &err))
            die("models", &err);
        r = &e.r;
        if (e.v.nmovies != d.vocab.nmovies)
            fprintf(stderr, "note: the model's vocabulary differs from the store's\n");
    }
    printf("model load (movie towers, first-layer halves, int8 tables): %.2f s\n", now() - t0);

    /* the users, as the server would hold them: rows of the recommender */
    {
        struct rec_opts o;
        struct rec_ws ws;
        struct rec_item out[10];
        double *ms = malloc((size_t)queries * sizeof(double));
        int *movie = malloc(((size_t)d.nmovies + 1) * sizeof(int));
        float *score = malloc(((size_t)d.nmovies + 1) * sizeof(float));
        int64_t *tm = malloc(((size_t)d.nmovies + 1) * sizeof(int64_t));
        int64_t cands = 0, rated = 0;
        double stage[REC_NSTAGES] = {0};
        uint64_t rng = seed * 0x9E3779B97F4A7C15ull + 1;
        if (!ms || !movie || !score || !tm)
            return fprintf(stderr, "out of memory\n"), 1;
        rec_opts_default(&o);
        if (rec_ws_alloc(&ws, r, &o, &err))
            die("scratch", &err);
        for (int q = -queries / 10; q < queries; q++) { /* the first tenth warms up */
            int u = 1 + (int)(nn_rng_next(&rng) % (uint64_t)(d.nusers - 1)), n = 0, got;
            struct rec_user ru;
            memset(&ru, 0, sizeof(ru));
            for (int64_t i = d.user_start[u]; i < d.user_start[u + 1]; i++) {
                int row = recommender_row(r, d.vocab.movie_ids[d.r_movie[i] - 1]);
                if (row < 0)
                    continue;
                movie[n] = row;
                score[n] = d.r_score[i];
                tm[n++] = d.r_time[i];
            }
            ru.feat = d.users[u];
            ru.n = n;
            ru.movie = movie;
            ru.score = score;
            ru.time = tm;
            t0 = now();
            got = recommender_recommend(r, &ws, &o, &ru, out, 10, &err);
            if (got < 0)
                die("recommend", &err);
            if (q >= 0) {
                ms[q] = (now() - t0) * 1e3;
                cands += ws.ncand;
                rated += n;
                for (int k = 0; k < REC_NSTAGES; k++)
                    stage[k] += ws.stage_ms[k];
            }
        }
        printf("\n%-34s %8s %8s %8s %8s\n", "ms per call, one thread", "median", "p90", "p99",
               "mean");
        report("recommend (top 10 of all channels)", ms, queries);
        printf("  mean candidates ranked %.0f, mean ratings per user %.0f\n",
               (double)cands / queries, (double)rated / queries);
        printf("  mean ms per stage:");
        for (int k = 0; k < REC_NSTAGES; k++)
            printf(" %s %.3f", rec_stage_name((enum rec_stage)k), stage[k] / queries);
        printf("\n");
        for (int q = -queries / 10; q < queries; q++) {
            int row = 1 + (int)(nn_rng_next(&rng) % (uint64_t)(r->n - 1));
            if (r->gone[row]) {
                q--;
                continue;
            }
            t0 = now();
            recommender_similar(r, &ws, row, REC_SIMILAR_BETA, NULL, out, 10);
            if (q >= 0)
                ms[q] = (now() - t0) * 1e3;
        }
        report("similar (top 10, cosine + item-CF)", ms, queries);
        for (int q = -queries / 10; q < queries; q++) {
            int row = 1 + (int)(nn_rng_next(&rng) % (uint64_t)(r->n - 1));
            if (r->gone[row]) {
                q--;
                continue;
            }
            t0 = now();
            recommender_similar(r, &ws, row, 0.0f, NULL, out, 10);
            if (q >= 0)
                ms[q] = (now() - t0) * 1e3;
        }
        report("similar (top 10, deep cosine only)", ms, queries);
        rec_ws_free(&ws);
        free(ms);
        free(movie);
        free(score);
        free(tm);
    }
    return 0;
}
