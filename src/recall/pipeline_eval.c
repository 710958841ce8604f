/*
 * pipeline_eval.c - the leave-one-out evaluation of every method
 * (pipeline_eval.h).
 */
#include "pipeline_eval.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../model/train.h"
#include "../nn/nn.h"

#define TOPN 20
#define PE_FIT_USERS 5000 /* users per blend fit, at most */

static const char *const method_names[PE_NMETHODS] = {
    "popularity", "itemcf", "embed", "als", "cold", "deep", "pipeline-deep", "pipeline", "ranker",
    "pipeline-new",
    "similar-deep", "similar-itemcf", "similar-blend"};

const char *pe_method_name(enum pe_method m)
{
    return m >= 0 && m < PE_NMETHODS ? method_names[m] : "?";
}

void pe_opts_default(struct pe_opts *o)
{
    memset(o, 0, sizeof(*o));
    recall_bundle_opts_default(&o->bundle);
    rec_opts_default(&o->rec);
    o->threads = 2;
    o->negatives = 100;
    o->seed = 7;
    o->similar_beta = REC_SIMILAR_BETA;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

struct sums {
    double recall20, ndcg20, hr10, ndcg10, genres10; /* genres10: diversity */
};

struct job {
    const struct dataset *d;
    const struct recommender *r;
    const struct pe_opts *o;
    const int *users;    /* (nusers_eval,) */
    const int64_t *held; /* (nusers_eval,) rating index */
    const struct rec_blend *blend; /* (2,) fitted on users of even, odd position */
    const struct rec_blend *pre;   /* (2,) the same for the pre-ranker */
    int lo, hi;
    struct sums s[PE_NMETHODS];
    uint8_t *covered;    /* (PE_NMETHODS, n) */
    int rc;
    struct error err;
    int *done;           /* shared counter, for progress (thread 0 reports) */
    pthread_mutex_t *mu;
};

/* scratch of one thread */
struct tws {
    struct rec_ws ws;
    struct rec_item list[TOPN];
    float *dense;   /* (n,) */
    int *rows;      /* (n,) */
    int *movie;     /* the user's kept ratings */
    float *score;
    int64_t *time;
    int *neg;       /* (negatives,) */
    struct cand *top; /* (TOPN,) */
    uint8_t *rated; /* (n,) */
};

/* 1 - Jaccard similarity of two movies' genre sets (0 when both have none) */
static double genre_distance(const int *a, const int *b)
{
    int na = 0, nb = 0, both = 0;
    for (int i = 0; i < FEAT_MAX_GENRES && a[i] > 0; i++) {
        na++;
        for (int j = 0; j < FEAT_MAX_GENRES && b[j] > 0; j++)
            both += a[i] == b[j];
    }
    for (int j = 0; j < FEAT_MAX_GENRES && b[j] > 0; j++)
        nb++;
    return na + nb - both ? 1.0 - (double)both / (na + nb - both) : 0.0;
}

static void score_list(struct sums *s, const struct rec_item *list, int got, int held_row,
                       const struct recommender *r, uint8_t *covered)
{
    int top = got < 10 ? got : 10, pairs = 0;
    double d = 0;
    for (int i = 0; i < got; i++)
        if (list[i].movie == held_row) {
            s->recall20 += 1;
            s->ndcg20 += 1.0 / log2(i + 2.0);
        }
    for (int i = 0; i < top; i++) {
        covered[list[i].movie] = 1;
        for (int j = i + 1; j < top; j++, pairs++)
            d += genre_distance(r->mf[list[i].movie].genres, r->mf[list[j].movie].genres);
    }
    s->genres10 += pairs ? d / pairs : 0;
}

/* HR@10 / NDCG@10 of the held-out row among the negatives by score(row). */
static void score_sampled(struct sums *s, float pos, const float *negs, int nneg)
{
    int rank = 0;
    for (int j = 0; j < nneg; j++)
        rank += negs[j] >= pos;
    if (rank < 10) {
        s->hr10 += 1;
        s->ndcg10 += 1.0 / log2(rank + 2.0);
    }
}

static void sampled_dense(struct sums *s, const float *dense, int held_row, const int *neg,
                          int nneg)
{
    float nv[1024];
    for (int j = 0; j < nneg; j++)
        nv[j] = dense[neg[j]];
    score_sampled(s, dense[held_row], nv, nneg);
}

/* scores of the last recommend's candidates; -inf for the rest */
static void cand_dense(float *dense, int n, const struct rec_ws *ws)
{
    for (int i = 0; i < n; i++)
        dense[i] = -INFINITY;
    for (int i = 0; i < ws->ncand; i++)
        dense[ws->cand[i].movie] = ws->cand[i].rank;
}

/* Method me's scores of every movie in t->dense: its top 20 among the
 * movies the user has not rated (gone ones and -inf never listed), and
 * the held-out movie among the sampled negatives. */
static void score_dense(struct job *j, struct tws *t, enum pe_method me, int held_row)
{
    const struct recommender *r = j->r;
    const int n = r->n;
    int got;
    for (int i = 0; i < n; i++)
        if (r->gone[i])
            t->dense[i] = -INFINITY;
    got = recall_topk(t->top, TOPN, t->dense, n, t->rated);
    while (got > 0 && t->top[got - 1].score == -INFINITY)
        got--;
    for (int i = 0; i < got; i++)
        t->list[i] = (struct rec_item){.movie = t->top[i].movie, .score = t->top[i].score};
    score_list(&j->s[me], t->list, got, held_row, r, j->covered + (size_t)me * n);
    sampled_dense(&j->s[me], t->dense, held_row, t->neg, j->o->negatives);
}

/* u's ratings without the held-out one, as a rec_user over t's arrays */
static void user_state(const struct dataset *d, int u, int64_t held, int *movie, float *score,
                       int64_t *time, struct rec_user *ru)
{
    int nr = 0;
    for (int64_t i = d->user_start[u]; i < d->user_start[u + 1]; i++) {
        if (i == held)
            continue;
        movie[nr] = d->r_movie[i];
        score[nr] = d->r_score[i];
        time[nr++] = d->r_time[i];
    }
    memset(ru, 0, sizeof(*ru));
    ru->feat = d->users[u];
    ru->n = nr;
    ru->movie = movie;
    ru->score = score;
    ru->time = time;
}

/* The user as a newcomer: only their k latest ratings (by time) and an id
 * the model does not know. Reorders the state's arrays. */
static void as_newcomer(struct rec_user *ru, int *movie, float *score, int64_t *time, int k)
{
    int n = ru->n < k ? ru->n : k;
    for (int i = 0; i < n; i++) { /* selection of the latest k */
        int best = i;
        for (int j = i + 1; j < ru->n; j++)
            if (time[j] > time[best] || (time[j] == time[best] && movie[j] > movie[best]))
                best = j;
        int m = movie[i];
        float s = score[i];
        int64_t t = time[i];
        movie[i] = movie[best], score[i] = score[best], time[i] = time[best];
        movie[best] = m, score[best] = s, time[best] = t;
    }
    ru->n = n;
    ru->feat.user = 0;
}

/* One pass over the users: every kept candidate's features and label,
 * for the user as they are and as a newcomer (PE_NEW_RATINGS latest
 * ratings, an unknown id), so that the blend also learns what counts
 * when little is known (BLEND_GENRE). */
static int collect(const struct dataset *d, const struct recommender *r, const struct rec_opts *o,
                   const int *users, const int64_t *held, int n, int use, float **xo,
                   uint8_t **yo, int64_t *rowso, struct error *err)
{
    struct rec_ws ws;
    struct rec_item top[1];
    struct rec_user ru;
    int maxr = 1, rc = 0;
    int *movie = NULL;
    float *score = NULL, *x = NULL;
    int64_t *time = NULL, rows = 0, cap;
    uint8_t *y = NULL;

    for (int i = 0; i < n; i++) {
        int c = (int)(d->user_start[users[i] + 1] - d->user_start[users[i]]);
        if (c > maxr)
            maxr = c;
    }
    if ((rc = rec_ws_alloc(&ws, r, o, err)))
        return rc;
    cap = 2 * (int64_t)use * ws.capcand;
    movie = malloc((size_t)maxr * sizeof(*movie));
    score = malloc((size_t)maxr * sizeof(*score));
    time = malloc((size_t)maxr * sizeof(*time));
    x = malloc((size_t)cap * BLEND_NFEAT * sizeof(*x) + 1);
    y = malloc((size_t)cap + 1);
    if (!movie || !score || !time || !x || !y) {
        rc = error_set(err, ERR_NOMEM, "out of memory fitting the ranker");
        goto out;
    }
    for (int kk = 0; kk < 2 * use; kk++) {
        int k = kk / 2, i = (int)((int64_t)k * n / use), hr = d->r_movie[held[i]], got, in = 0;
        user_state(d, users[i], held[i], movie, score, time, &ru);
        if (kk % 2) {
            if (ru.n <= PE_NEW_RATINGS)
                continue; /* already a newcomer */
            as_newcomer(&ru, movie, score, time, PE_NEW_RATINGS);
        }
        got = recommender_recommend(r, &ws, o, &ru, top, 1, err);
        if (got < 0) {
            rc = -got;
            goto out;
        }
        for (int c = 0; c < ws.ncand; c++)
            in |= ws.rows[c] == hr;
        if (!in)
            continue; /* nothing to learn about ranking it */
        /* ws.feat rows go with ws.rows (the order before sorting) */
        for (int c = 0; c < ws.ncand; c++) {
            memcpy(x + (size_t)rows * BLEND_NFEAT, ws.feat + (size_t)c * BLEND_NFEAT,
                   BLEND_NFEAT * sizeof(*x));
            y[rows++] = ws.rows[c] == hr;
        }
    }
out:
    rec_ws_free(&ws);
    free(movie);
    free(score);
    free(time);
    if (rc) {
        free(x);
        free(y);
        return rc;
    }
    *xo = x;
    *yo = y;
    *rowso = rows;
    return 0;
}

int pe_fit_blend(const struct dataset *d, const struct recommender *r, const struct rec_opts *o,
                 const int *users, const int64_t *held, int n, int max_users,
                 struct rec_blend *pre, struct rec_blend *out, struct error *err)
{
    static const struct rec_blend unfitted;
    struct rec_opts ro = *o;
    int use = max_users > 0 && n > max_users ? max_users : n, rc;
    float *x = NULL;
    uint8_t *y = NULL;
    int64_t rows = 0;

    memset(pre, 0, sizeof(*pre));
    memset(out, 0, sizeof(*out));
    ro.only = -1;
    ro.blend = &unfitted;
    ro.pre = &unfitted;
    /* 1. the pre-ranker on every candidate, recall features only */
    if ((rc = collect(d, r, &ro, users, held, n, use, &x, &y, &rows, err)))
        return rc;
    for (int64_t i = 0; i < rows; i++)
        x[i * BLEND_NFEAT + BLEND_DEEP] = x[i * BLEND_NFEAT + BLEND_ZDEEP] = 0;
    rc = rec_blend_fit(x, y, rows, pre, err);
    free(x);
    free(y);
    if (rc)
        return rc;
    /* 2. the blend on what the pre-ranker keeps */
    ro.pre = pre;
    if ((rc = collect(d, r, &ro, users, held, n, use, &x, &y, &rows, err)))
        return rc;
    rc = rec_blend_fit(x, y, rows, out, err);
    free(x);
    free(y);
    return rc;
}

/* The leave-latest-out split: users (n,) with their held-out rating held
 * (n,) (malloc'd), and keep (nratings,) 0 for the held ones. */
static int split_latest(const struct dataset *d, int negatives, int **users, int64_t **held,
                        uint8_t **keep, int *n, struct error *err)
{
    *n = 0;
    *keep = malloc((size_t)d->nratings + 1);
    *users = malloc((size_t)d->nusers * sizeof(int));
    *held = malloc((size_t)d->nusers * sizeof(int64_t));
    if (!*keep || !*users || !*held)
        return error_set(err, ERR_NOMEM, "out of memory");
    memset(*keep, 1, (size_t)d->nratings + 1);
    for (int u = 1; u < d->nusers; u++) {
        int64_t h = train_latest(d, u, negatives);
        if (h < 0)
            continue;
        (*keep)[h] = 0;
        (*users)[*n] = u;
        (*held)[(*n)++] = h;
    }
    if (*n == 0)
        return error_set(err, ERR_NOTFOUND, "no user has two ratings to split");
    return 0;
}

/* The recommender over the dataset's movies (rows = vocabulary indexes). */
static int rec_on_dataset(struct recommender *r, const struct dataset *d, const struct model *m,
                          const struct vocab *v, const struct recall_bundle *b, struct error *err)
{
    int64_t *ids = malloc(((size_t)d->nmovies + 1) * sizeof(int64_t));
    int rc;
    if (!ids)
        return error_set(err, ERR_NOMEM, "out of memory");
    for (int i = 1; i < d->nmovies; i++)
        ids[i - 1] = v->movie_ids[i - 1];
    rc = recommender_init(r, m, v, b, ids, d->movies + 1, d->nmovies - 1, err);
    free(ids);
    return rc;
}

int pe_fit_blend_split(const struct dataset *d, const struct model *m, const struct vocab *v,
                       const struct recall_bundle_opts *bo, const struct rec_opts *ro,
                       int max_users, struct rec_blend *pre, struct rec_blend *out,
                       struct error *err)
{
    struct recall_bundle b;
    struct recommender r;
    int *users = NULL, n = 0, rc;
    int64_t *held = NULL;
    uint8_t *keep = NULL;

    memset(&b, 0, sizeof(b));
    memset(&r, 0, sizeof(r));
    if (d->nmovies - 1 < 200)
        return error_set(err, ERR_NOTFOUND, "too few movies (%d) to fit the ranker's blend",
                         d->nmovies - 1);
    if ((rc = split_latest(d, 100, &users, &held, &keep, &n, err)))
        goto out;
    if ((rc = recall_bundle_build(&b, d, keep, bo, err)))
        goto out;
    if ((rc = rec_on_dataset(&r, d, m, v, &b, err)))
        goto out;
    rc = pe_fit_blend(d, &r, ro, users, held, n, max_users, pre, out, err);
out:
    recommender_free(&r);
    recall_bundle_free(&b);
    free(users);
    free(held);
    free(keep);
    return rc;
}

static int eval_user(struct job *j, struct tws *t, int q, int u, int64_t held)
{
    const struct dataset *d = j->d;
    const struct recommender *r = j->r;
    const int n = r->n, nneg = j->o->negatives;
    int nr, held_row = d->r_movie[held], got;
    struct rec_user ru;
    struct rec_opts ro = j->o->rec;
    uint64_t rng = j->o->seed * 0x9E3779B97F4A7C15ull + (uint64_t)u * 0xBF58476D1CE4E5B9ull + 1;

    for (int64_t i = d->user_start[u]; i < d->user_start[u + 1]; i++)
        t->rated[d->r_movie[i]] = 1;
    user_state(d, u, held, t->movie, t->score, t->time, &ru);
    nr = ru.n;
    /* the same negatives for every method: unrated, recommendable */
    for (int k = 0; k < nneg;) {
        int mv = 1 + (int)((nn_rng_next(&rng) >> 11) % (uint64_t)(n - 1)), dup = 0;
        if (t->rated[mv] || r->gone[mv])
            continue;
        for (int w = 0; w < k && !dup; w++)
            dup = t->neg[w] == mv;
        if (!dup)
            t->neg[k++] = mv;
    }
    t->rated[held_row] = 0; /* from here: the movies the user is known to have rated */

    /* popularity: count, the damped mean breaks ties */
    {
        const struct popularity *p = &r->b->pop;
        for (int i = 0; i < n; i++)
            t->dense[i] = i < p->nmovies && !r->gone[i] ? (float)p->count[i] + p->mean[i] / 10.0f
                                                        : -INFINITY;
        for (int i = 0; i < nr; i++)
            t->dense[t->movie[i]] = -INFINITY;
        score_dense(j, t, PE_POPULAR, held_row);
    }
    /* each channel alone: cold start as the pipeline runs it; item-CF,
     * content and ALS by their exact scores over every movie (the
     * pipeline's own scans are int8 approximations of these) */
    static const enum pe_method pm[REC_NCHANNELS] = {PE_ITEMCF, PE_EMBED, PE_ALS, PE_COLD};
    for (int c = 0; c < REC_NCHANNELS; c++) {
        enum pe_method me = pm[c];
        ro.only = c;
        got = recommender_recommend(r, &t->ws, &ro, &ru, t->list, TOPN, &j->err);
        if (got < 0)
            return -got;
        if (c == REC_COLD) {
            score_list(&j->s[me], t->list, got, held_row, r, j->covered + (size_t)me * n);
            cand_dense(t->dense, n, &t->ws);
            sampled_dense(&j->s[me], t->dense, held_row, t->neg, nneg);
            continue;
        }
        /* the user state (recent movies, profile, factor) the call set */
        if (c == REC_ITEMCF) {
            for (int i = 0; i < n; i++)
                t->dense[i] = -INFINITY;
            for (int l = 0; l < t->ws.nliked; l++) {
                const int *ids;
                const float *sims;
                int nn = itemcf_neighbours(&r->b->cf, t->ws.liked[l], &ids, &sims);
                for (int w = 0; w < nn; w++)
                    t->dense[ids[w]] = (t->dense[ids[w]] == -INFINITY ? 0 : t->dense[ids[w]]) +
                                       t->ws.liked_w[l] * sims[w];
            }
        } else if (c == REC_EMBED) {
            for (int i = 0; i < n; i++) {
                const float *x = r->emb.vec + (size_t)i * r->emb.dim;
                float sdot = 0;
                for (int w = 0; w < r->emb.dim; w++)
                    sdot += x[w] * t->ws.profile[w];
                t->dense[i] = t->ws.nliked ? sdot : -INFINITY;
            }
        } else {
            const struct als *a = &r->b->als;
            for (int i = 0; i < n; i++) {
                const float *y = a->item + (size_t)i * a->f;
                float sdot = 0;
                for (int w = 0; w < a->f && i < a->nmovies; w++)
                    sdot += y[w] * t->ws.ufac[w];
                t->dense[i] = sdot;
            }
        }
        score_dense(j, t, me, held_row);
    }
    /* the deep model over the whole catalogue */
    {
        int nrow = 0;
        ranker_user(&r->rk, &t->ws.rw, &ru.feat);
        for (int i = 0; i < n; i++)
            t->rows[nrow++] = i;
        ranker_score(&r->rk, &t->ws.rw, t->rows, n, t->dense);
        score_dense(j, t, PE_DEEP, held_row);
    }
    /* the pipeline, ranked by the deep model alone, then by the blend
     * fitted on the other half of the users */
    for (int k = 0; k < 2; k++) {
        static const struct rec_blend unfitted;
        enum pe_method me = k ? PE_PIPELINE : PE_PIPE_DEEP;
        ro.only = -1;
        ro.blend = k ? &j->blend[1 - q % 2] : &unfitted;
        ro.pre = k ? &j->pre[1 - q % 2] : &unfitted;
        got = recommender_recommend(r, &t->ws, &ro, &ru, t->list, TOPN, &j->err);
        if (got < 0)
            return -got;
        score_list(&j->s[me], t->list, got, held_row, r, j->covered + (size_t)me * n);
        cand_dense(t->dense, n, &t->ws);
        sampled_dense(&j->s[me], t->dense, held_row, t->neg, nneg);
    }
    /* the same ranker over every movie (what `score` serves) */
    for (int i = 0; i < n; i++)
        t->rows[i] = i;
    recommender_score_rows(r, &t->ws, &ro, t->rows, n, t->dense);
    score_dense(j, t, PE_RANKER, held_row);
    /* the pipeline for the user as a newcomer (last: it reorders the state) */
    as_newcomer(&ru, t->movie, t->score, t->time, PE_NEW_RATINGS);
    got = recommender_recommend(r, &t->ws, &ro, &ru, t->list, TOPN, &j->err);
    if (got < 0)
        return -got;
    score_list(&j->s[PE_PIPE_NEW], t->list, got, held_row, r,
               j->covered + (size_t)PE_PIPE_NEW * n);
    cand_dense(t->dense, n, &t->ws);
    sampled_dense(&j->s[PE_PIPE_NEW], t->dense, held_row, t->neg, nneg);

    /* similar movies of the latest kept rating */
    {
        int last = -1;
        for (int i = 0; i < nr; i++)
            if (last < 0 || t->time[i] > t->time[last] ||
                (t->time[i] == t->time[last] && t->movie[i] > t->movie[last]))
                last = i;
        for (int k = 0; k < 3 && last >= 0; k++) {
            enum pe_method me = (enum pe_method)(PE_SIM_DEEP + k);
            if (k == 1) { /* item-CF neighbours alone */
                const int *ids;
                const float *sims;
                int nn = itemcf_neighbours(&r->b->cf, t->movie[last], &ids, &sims);
                got = 0;
                for (int w = 0; w < nn && got < TOPN; w++)
                    if (!t->rated[ids[w]])
                        t->list[got++] = (struct rec_item){.movie = ids[w], .score = sims[w]};
            } else {
                got = recommender_similar(r, &t->ws, t->movie[last], k ? j->o->similar_beta : 0,
                                          t->rated, t->list, TOPN);
            }
            score_list(&j->s[me], t->list, got, held_row, r, j->covered + (size_t)me * n);
        }
    }

    for (int64_t i = d->user_start[u]; i < d->user_start[u + 1]; i++)
        t->rated[d->r_movie[i]] = 0;
    return 0;
}

static void *run_job(void *arg)
{
    struct job *j = arg;
    struct tws t;
    const int n = j->r->n;
    int maxr = 1;

    memset(&t, 0, sizeof(t));
    for (int q = j->lo; q < j->hi; q++) {
        int u = j->users[q];
        int cnt = (int)(j->d->user_start[u + 1] - j->d->user_start[u]);
        if (cnt > maxr)
            maxr = cnt;
    }
    t.dense = malloc((size_t)n * sizeof(float));
    t.rows = malloc((size_t)n * sizeof(int));
    t.movie = malloc((size_t)maxr * sizeof(int));
    t.score = malloc((size_t)maxr * sizeof(float));
    t.time = malloc((size_t)maxr * sizeof(int64_t));
    t.neg = malloc((size_t)j->o->negatives * sizeof(int));
    t.top = malloc(TOPN * sizeof(*t.top));
    t.rated = calloc((size_t)n, 1);
    if (!t.dense || !t.rows || !t.movie || !t.score || !t.time || !t.neg || !t.top || !t.rated) {
        j->rc = error_set(&j->err, ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((j->rc = rec_ws_alloc(&t.ws, j->r, &j->o->rec, &j->err)))
        goto out;
    for (int q = j->lo; q < j->hi && !j->rc; q++) {
        j->rc = eval_user(j, &t, q, j->users[q], j->held[q]);
        if (j->mu) {
            pthread_mutex_lock(j->mu);
            (*j->done)++;
            if (j->lo == 0 && j->o->on_progress)
                j->o->on_progress(j->o->ctx, *j->done, -1);
            pthread_mutex_unlock(j->mu);
        }
    }
out:
    rec_ws_free(&t.ws);
    free(t.dense);
    free(t.rows);
    free(t.movie);
    free(t.score);
    free(t.time);
    free(t.neg);
    free(t.top);
    free(t.rated);
    return NULL;
}

int pipeline_evaluate(const struct dataset *d, const struct model *m, const struct vocab *v,
                      const struct pe_opts *o, struct pe_result *out, struct error *err)
{
    double t0 = now_s();
    struct recall_bundle b;
    struct recommender r;
    uint8_t *keep = NULL, *covered = NULL;
    int *users = NULL, nu = 0, threads = o->threads < 1 ? 1 : o->threads > 16 ? 16 : o->threads;
    int64_t *held = NULL;
    struct job jobs[16];
    pthread_t tid[16];
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    int done = 0, rc;

    memset(out, 0, sizeof(*out));
    memset(&b, 0, sizeof(b));
    memset(&r, 0, sizeof(r));
    if (o->negatives < 1 || o->negatives > 1000)
        return error_set(err, ERR_USAGE, "negatives must be 1 to 1000");
    if (d->nmovies - 1 < 2 * o->negatives)
        return error_set(err, ERR_NOTFOUND,
                         "too few movies (%d) to rank a held-out movie among %d others",
                         d->nmovies - 1, o->negatives);
    if ((rc = split_latest(d, o->negatives, &users, &held, &keep, &nu, err)))
        goto done;
    if (o->max_users > 0 && nu > o->max_users)
        nu = o->max_users;
    {
        struct recall_bundle_opts bo = o->bundle;
        bo.threads = threads;
        if ((rc = recall_bundle_build(&b, d, keep, &bo, err)))
            goto done;
    }
    out->train_seconds = now_s() - t0;
    if ((rc = rec_on_dataset(&r, d, m, v, &b, err)))
        goto done;
    /* 2-fold cross-fitting of the blend over users */
    {
        int *fu = malloc((size_t)nu * sizeof(int));
        int64_t *fh = malloc((size_t)nu * sizeof(int64_t));
        if (!fu || !fh) {
            free(fu);
            free(fh);
            rc = error_set(err, ERR_NOMEM, "out of memory");
            goto done;
        }
        for (int f = 0; f < 2 && !rc; f++) {
            int k = 0;
            for (int p = f; p < nu; p += 2) {
                fu[k] = users[p];
                fh[k++] = held[p];
            }
            rc = pe_fit_blend(d, &r, &o->rec, fu, fh, k, PE_FIT_USERS, &out->pre[f],
                              &out->blend[f], err);
        }
        free(fu);
        free(fh);
        if (rc)
            goto done;
    }
    covered = calloc((size_t)PE_NMETHODS * r.n, 1);
    if (!covered) {
        rc = error_set(err, ERR_NOMEM, "out of memory");
        goto done;
    }
    nn_blas_threads(1);
    memset(jobs, 0, sizeof(jobs));
    for (int t = 0; t < threads; t++) {
        jobs[t].d = d;
        jobs[t].r = &r;
        jobs[t].o = o;
        jobs[t].users = users;
        jobs[t].held = held;
        jobs[t].blend = out->blend;
        jobs[t].pre = out->pre;
        jobs[t].lo = (int)((int64_t)nu * t / threads);
        jobs[t].hi = (int)((int64_t)nu * (t + 1) / threads);
        jobs[t].covered = calloc((size_t)PE_NMETHODS * r.n, 1);
        jobs[t].done = &done;
        jobs[t].mu = &mu;
        if (!jobs[t].covered) {
            rc = error_set(err, ERR_NOMEM, "out of memory");
            for (int q = 0; q < t; q++)
                free(jobs[q].covered);
            goto done;
        }
    }
    for (int t = 1; t < threads; t++)
        if (pthread_create(&tid[t], NULL, run_job, &jobs[t]))
            run_job(&jobs[t]), tid[t] = 0;
    run_job(&jobs[0]);
    for (int t = 1; t < threads; t++)
        if (tid[t])
            pthread_join(tid[t], NULL);
    rc = 0;
    for (int t = 0; t < threads; t++) {
        if (jobs[t].rc && !rc) {
            rc = jobs[t].rc;
            *err = jobs[t].err;
        }
        for (int me = 0; me < PE_NMETHODS; me++) {
            struct pe_row *row = &out->rows[me];
            row->recall20 += jobs[t].s[me].recall20;
            row->ndcg20 += jobs[t].s[me].ndcg20;
            row->hr10 += jobs[t].s[me].hr10;
            row->ndcg10 += jobs[t].s[me].ndcg10;
            row->diversity += jobs[t].s[me].genres10;
        }
        for (size_t i = 0; i < (size_t)PE_NMETHODS * r.n; i++)
            covered[i] |= jobs[t].covered[i];
        free(jobs[t].covered);
    }
    if (rc)
        goto done;
    for (int i = 0; i < r.n; i++)
        out->catalogue += !r.gone[i];
    for (int me = 0; me < PE_NMETHODS; me++) {
        struct pe_row *row = &out->rows[me];
        int cov = 0;
        for (int i = 0; i < r.n; i++)
            cov += covered[(size_t)me * r.n + i];
        row->recall20 /= nu;
        row->ndcg20 /= nu;
        row->hr10 /= nu;
        row->ndcg10 /= nu;
        row->diversity /= nu;
        row->coverage = out->catalogue ? (double)cov / out->catalogue : 0;
    }
    out->users = nu;
    out->negatives = o->negatives;
    out->similar_beta = o->similar_beta;
    out->seconds = now_s() - t0;
done:
    recommender_free(&r);
    recall_bundle_free(&b);
    free(keep);
    free(users);
    free(held);
    free(covered);
    return rc;
}
