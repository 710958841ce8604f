/*
 * train.c - splits, sampling, the threaded training loop, metrics.
 */
#include "train.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t mix(uint64_t a, uint64_t b)
{
    uint64_t s = a ^ (b * UINT64_C(0x9E3779B97F4A7C15));
    return nn_rng_next(&s);
}

static int rand_below(uint64_t *rng, int n)
{
    return (int)((nn_rng_next(rng) >> 33) % (uint64_t)n);
}

void train_opts_default(struct train_opts *o, enum train_label label)
{
    memset(o, 0, sizeof(*o));
    o->label = label;
    /* ml-100k: watch still gains at epoch 10 (docs/MODEL.md) and both
     * labels fit in about two and a half minutes on two cores */
    o->epochs = label == TRAIN_WATCH ? 10 : 6;
    o->patience = label == TRAIN_WATCH ? 3 : 2;
    o->seed = 42;
    o->threads = 2;
    o->batch = 256;
    o->lr = 0.001f;
    o->negatives = 4;
    o->like_threshold = 4.0f;
    o->id_dropout = 0.02f;
    o->eval_negatives = 100;
}

const char *train_label_name(enum train_label l)
{
    return l == TRAIN_LIKE ? "like" : "watch";
}

/* ------------------------------------------------------------------ */
/* metrics                                                              */

struct scored {
    float s, y;
};

static int cmp_scored(const void *a, const void *b)
{
    float x = ((const struct scored *)a)->s, y = ((const struct scored *)b)->s;
    return (x > y) - (x < y);
}

/* Area under the ROC curve by the rank sum, ties counted half. */
double metric_auc(const float *score, const float *label, int64_t n)
{
    struct scored *v = malloc((size_t)(n ? n : 1) * sizeof(*v));
    double pos = 0, rank_sum = 0;
    int64_t i = 0;

    if (!v)
        return -1;
    for (int64_t k = 0; k < n; k++) {
        v[k].s = score[k];
        v[k].y = label[k];
        pos += label[k] > 0.5f;
    }
    qsort(v, (size_t)n, sizeof(*v), cmp_scored);
    while (i < n) {
        int64_t j = i;
        double npos = 0;
        while (j < n && v[j].s == v[i].s)
            npos += v[j++].y > 0.5f;
        rank_sum += npos * ((double)(i + 1) + (double)j) / 2.0; /* mean rank of the tie */
        i = j;
    }
    free(v);
    if (pos == 0 || pos == n)
        return -1;
    return (rank_sum - pos * (pos + 1) / 2.0) / (pos * ((double)n - pos));
}

static double logloss(const float *p, const float *y, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        double q = p[i] < 1e-7f ? 1e-7 : p[i] > 1 - 1e-7f ? 1 - 1e-7 : p[i];
        s -= y[i] > 0.5f ? log(q) : log(1 - q);
    }
    return n ? s / (double)n : 0;
}

/* ------------------------------------------------------------------ */
/* scoring                                                              */

#define SCORE_BATCH 1024

int model_score(const struct model *m, const struct user_feat *u, const struct movie_feat *mv,
                int n, float *prob, struct error *err)
{
    struct model_acts *a;
    struct batch b;
    int rc;

    if ((rc = model_acts_alloc(&a, m, SCORE_BATCH, err)))
        return rc;
    if (batch_alloc(&b, SCORE_BATCH)) {
        model_acts_free(a);
        return error_set(err, ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n; i += SCORE_BATCH) {
        int k = n - i < SCORE_BATCH ? n - i : SCORE_BATCH;
        b.B = k;
        for (int j = 0; j < k; j++)
            batch_set(&b, j, &u[i + j], &mv[i + j], 0);
        model_forward(m, a, &b, 0, NULL);
        model_probs(a, prob + i, k);
    }
    batch_free(&b);
    model_acts_free(a);
    return 0;
}

/* ------------------------------------------------------------------ */
/* the validation split                                                 */

struct split {
    uint8_t *held;       /* (nratings,) 1 = validation */
    /* watch: per evaluated user, 1 positive + neg candidates */
    int nusers_eval;
    int *eval_user;      /* (nusers_eval,) */
    int *eval_movie;     /* (nusers_eval, 1 + neg) positive first */
    int neg;
    /* like: validation pairs are the held ratings */
};

static void split_free(struct split *s)
{
    free(s->held);
    free(s->eval_user);
    free(s->eval_movie);
    memset(s, 0, sizeof(*s));
}

int64_t train_latest(const struct dataset *d, int u, int neg)
{
    int64_t a = d->user_start[u], b = d->user_start[u + 1], last = -1;
    if (b - a < 2 || d->nmovies - 1 - (int)(b - a) < neg)
        return -1;
    for (int64_t i = a; i < b; i++)
        if (last < 0 || d->r_time[i] > d->r_time[last] ||
            (d->r_time[i] == d->r_time[last] && d->r_movie[i] > d->r_movie[last]))
            last = i;
    return last;
}

static int split_make(struct split *s, const struct dataset *d, const struct train_opts *o,
                      struct error *err)
{
    uint64_t rng = mix(o->seed, 0x5EED);

    memset(s, 0, sizeof(*s));
    s->held = calloc((size_t)d->nratings, 1);
    if (!s->held)
        return error_set(err, ERR_NOMEM, "out of memory");
    if (o->label == TRAIN_LIKE) {
        for (int64_t i = 0; i < d->nratings; i++)
            s->held[i] = rand_below(&rng, 10) == 0;
        return 0;
    }
    /* A catalogue too small for 100 negatives ranks among half of it. */
    s->neg = o->eval_negatives;
    if (s->neg > (d->nmovies - 1) / 2)
        s->neg = (d->nmovies - 1) / 2;
    if (s->neg < 1)
        return error_set(err, ERR_NOTFOUND, "too few movies (%d) to validate a model",
                         d->nmovies - 1);
    s->eval_user = malloc((size_t)d->nusers * sizeof(int));
    s->eval_movie = malloc((size_t)d->nusers * (size_t)(1 + s->neg) * sizeof(int));
    if (!s->eval_user || !s->eval_movie)
        return error_set(err, ERR_NOMEM, "out of memory");
    for (int u = 1; u < d->nusers; u++) {
        int64_t last = train_latest(d, u, s->neg);
        int *row;
        if (last < 0)
            continue; /* nothing to hold out, or nothing to rank against */
        s->held[last] = 1;
        row = s->eval_movie + (size_t)s->nusers_eval * (size_t)(1 + s->neg);
        row[0] = d->r_movie[last];
        for (int k = 1; k <= s->neg;) {
            int mv = 1 + rand_below(&rng, d->nmovies - 1), dup = 0;
            if (dataset_rated(d, u, mv))
                continue;
            for (int j = 1; j < k && !dup; j++)
                dup = row[j] == mv;
            if (!dup)
                row[k++] = mv;
        }
        s->eval_user[s->nusers_eval++] = u;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* evaluation                                                           */

static int evaluate(const struct model *m, const struct dataset *d, const struct split *s,
                    const struct train_opts *o, struct eval_metrics *out, struct error *err)
{
    struct user_feat *uf = NULL;
    struct movie_feat *mf = NULL;
    float *prob = NULL, *lab = NULL, *p2 = NULL;
    int64_t n = 0, k = 0;
    double t0;
    int rc = ERR_NOMEM;

    out->logloss = out->auc = out->hr10 = out->ndcg10 = -1;
    if (o->label == TRAIN_WATCH)
        n = (int64_t)s->nusers_eval * (1 + s->neg);
    else
        for (int64_t i = 0; i < d->nratings; i++)
            n += s->held[i];
    if (n == 0)
        return error_set(err, ERR_NOTFOUND,
                         "no validation data: no user has both a rating to hold out and %d "
                         "unrated movies (too few ratings or movies)",
                         s->neg);
    uf = malloc((size_t)n * sizeof(*uf));
    mf = malloc((size_t)n * sizeof(*mf));
    prob = malloc((size_t)n * sizeof(*prob));
    lab = malloc((size_t)n * sizeof(*lab));
    p2 = malloc((size_t)n * sizeof(*p2));
    if (!uf || !mf || !prob || !lab || !p2) {
        error_set(err, ERR_NOMEM, "out of memory");
        goto done;
    }
    if (o->label == TRAIN_WATCH) {
        for (int i = 0; i < s->nusers_eval; i++)
            for (int j = 0; j <= s->neg; j++, k++) {
                uf[k] = d->users[s->eval_user[i]];
                mf[k] = d->movies[s->eval_movie[(size_t)i * (size_t)(1 + s->neg) + (size_t)j]];
                lab[k] = j == 0;
            }
    } else {
        for (int u = 1; u < d->nusers; u++)
            for (int64_t i = d->user_start[u]; i < d->user_start[u + 1]; i++)
                if (s->held[i]) {
                    uf[k] = d->users[u];
                    mf[k] = d->movies[d->r_movie[i]];
                    lab[k++] = d->r_score[i] >= o->like_threshold;
                }
    }
    t0 = now_s();
    if ((rc = model_score(m, uf, mf, (int)n, prob, err)))
        goto done;
    out->pairs = n;
    out->pairs_per_s = n / (now_s() - t0 + 1e-9);
    if (o->label == TRAIN_WATCH) {
        /* logloss and AUC over each positive and its first 4 negatives */
        double hits = 0, ndcg = 0;
        int64_t m2 = 0;
        int stride = 1 + s->neg, take = s->neg < 4 ? s->neg : 4;
        for (int i = 0; i < s->nusers_eval; i++) {
            const float *row = prob + (size_t)i * (size_t)stride;
            int rank = 0;
            for (int j = 1; j < stride; j++)
                rank += row[j] >= row[0];
            hits += rank < 10;
            ndcg += rank < 10 ? 1.0 / log2(rank + 2.0) : 0;
            for (int j = 0; j <= take; j++) {
                p2[m2] = row[j];
                lab[m2++] = j == 0;
            }
        }
        out->hr10 = hits / s->nusers_eval;
        out->ndcg10 = ndcg / s->nusers_eval;
        out->logloss = logloss(p2, lab, m2);
        out->auc = metric_auc(p2, lab, m2);
    } else {
        out->logloss = logloss(prob, lab, n);
        out->auc = metric_auc(prob, lab, n);
    }
    rc = 0;
done:
    free(uf);
    free(mf);
    free(prob);
    free(lab);
    free(p2);
    return rc;
}

int train_evaluate(const struct model *m, const struct dataset *d, const struct train_opts *o,
                   struct eval_metrics *out, struct error *err)
{
    struct split s;
    int rc = split_make(&s, d, o, err);
    if (!rc)
        rc = evaluate(m, d, &s, o, out, err);
    split_free(&s);
    return rc;
}

/* ------------------------------------------------------------------ */
/* the threaded training loop                                           */

struct worker {
    struct trainer *t;
    int id;
    pthread_t th;
    struct model_acts *acts;
    struct batch b;
    float *grad;  /* (params.total,); worker 0 uses params.grad */
    int n;        /* samples in this worker's chunk of the current batch */
    float loss;
};

struct trainer {
    const struct model *m;
    const struct dataset *d;
    const struct train_opts *o;
    int nthreads, started; /* threads wanted; worker threads running */
    struct worker *w;
    /* Each step: the caller bumps gen and wakes the workers, works on chunk
     * 0, then waits until pending (workers still busy) is 0. */
    pthread_mutex_t mu;
    pthread_cond_t wake, idle;
    uint64_t gen;
    int pending, quit;
    /* the current batch */
    const int *su, *sm;
    const float *sl;
    int64_t off;
    int B;
    uint64_t step_seed;
};

static void worker_step(struct worker *w)
{
    struct trainer *t = w->t;
    const struct dataset *d = t->d;
    int chunk = (t->B + t->nthreads - 1) / t->nthreads;
    int64_t first = t->off + (int64_t)w->id * chunk;
    uint64_t rng = mix(t->step_seed, (uint64_t)w->id + 1);

    w->n = t->B - w->id * chunk;
    if (w->n > chunk)
        w->n = chunk;
    memset(w->grad, 0, t->m->params.total * sizeof(float));
    w->loss = 0;
    if (w->n <= 0) {
        w->n = 0;
        return;
    }
    w->b.B = w->n;
    for (int i = 0; i < w->n; i++) {
        struct user_feat uf = d->users[t->su[first + i]];
        struct movie_feat mf = d->movies[t->sm[first + i]];
        if (t->o->id_dropout > 0) {
            if (nn_rng_uniform(&rng) < t->o->id_dropout)
                uf.user = 0;
            if (nn_rng_uniform(&rng) < t->o->id_dropout)
                mf.movie = 0;
        }
        batch_set(&w->b, i, &uf, &mf, t->sl[first + i]);
    }
    model_forward(t->m, w->acts, &w->b, 1, &rng);
    w->loss = model_backward(t->m, w->acts, &w->b, w->grad);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct trainer *t = w->t;
    uint64_t seen = 0;

    for (;;) {
        pthread_mutex_lock(&t->mu);
        while (t->gen == seen && !t->quit)
            pthread_cond_wait(&t->wake, &t->mu);
        if (t->quit) {
            pthread_mutex_unlock(&t->mu);
            break;
        }
        seen = t->gen;
        pthread_mutex_unlock(&t->mu);
        worker_step(w);
        pthread_mutex_lock(&t->mu);
        if (--t->pending == 0)
            pthread_cond_signal(&t->idle);
        pthread_mutex_unlock(&t->mu);
    }
    return NULL;
}

static void trainer_free(struct trainer *t)
{
    if (!t->w)
        return;
    if (t->nthreads > 1) {
        pthread_mutex_lock(&t->mu);
        t->quit = 1;
        pthread_cond_broadcast(&t->wake);
        pthread_mutex_unlock(&t->mu);
        for (int i = 1; i <= t->started; i++)
            pthread_join(t->w[i].th, NULL);
        pthread_mutex_destroy(&t->mu);
        pthread_cond_destroy(&t->wake);
        pthread_cond_destroy(&t->idle);
    }
    for (int i = 0; i < t->nthreads; i++) {
        model_acts_free(t->w[i].acts);
        batch_free(&t->w[i].b);
        if (i > 0)
            free(t->w[i].grad);
    }
    free(t->w);
    t->w = NULL;
}

static int trainer_init(struct trainer *t, const struct model *m, const struct dataset *d,
                        const struct train_opts *o, struct error *err)
{
    int chunk;

    memset(t, 0, sizeof(*t));
    t->m = m;
    t->d = d;
    t->o = o;
    t->nthreads = o->threads < 1 ? 1 : o->threads > 64 ? 64 : o->threads;
    chunk = (o->batch + t->nthreads - 1) / t->nthreads;
    t->w = calloc((size_t)t->nthreads, sizeof(*t->w));
    if (!t->w)
        return error_set(err, ERR_NOMEM, "out of memory");
    for (int i = 0; i < t->nthreads; i++) {
        struct worker *w = &t->w[i];
        int rc;
        w->t = t;
        w->id = i;
        w->grad = i == 0 ? m->params.grad : malloc(m->params.total * sizeof(float));
        if ((rc = model_acts_alloc(&w->acts, m, chunk, err)) || !w->grad ||
            batch_alloc(&w->b, chunk)) {
            int n = t->nthreads;
            t->nthreads = 1; /* no threads yet: free the buffers only */
            trainer_free(t);
            return error_set(err, ERR_NOMEM, "out of memory for %d training threads", n);
        }
    }
    if (t->nthreads > 1) {
        pthread_mutex_init(&t->mu, NULL);
        pthread_cond_init(&t->wake, NULL);
        pthread_cond_init(&t->idle, NULL);
        for (int i = 1; i < t->nthreads; i++) {
            if (pthread_create(&t->w[i].th, NULL, worker_main, &t->w[i]) != 0) {
                trainer_free(t);
                return error_set(err, ERR_NOMEM, "cannot start training thread %d", i);
            }
            t->started = i;
        }
    }
    return 0;
}

/* One optimiser step over samples [off, off + B) of the epoch's arrays. */
static float trainer_step(struct trainer *t, struct model *m)
{
    float loss = 0;
    size_t total = m->params.total;

    if (t->nthreads > 1) {
        pthread_mutex_lock(&t->mu);
        t->gen++;
        t->pending = t->nthreads - 1;
        pthread_cond_broadcast(&t->wake);
        pthread_mutex_unlock(&t->mu);
    }
    worker_step(&t->w[0]);
    if (t->nthreads > 1) {
        pthread_mutex_lock(&t->mu);
        while (t->pending > 0)
            pthread_cond_wait(&t->idle, &t->mu);
        pthread_mutex_unlock(&t->mu);
    }
    /* Each worker's gradient is its chunk's mean; weight by chunk size. */
    {
        float s0 = (float)t->w[0].n / (float)t->B;
        float *g = m->params.grad;
        for (size_t i = 0; i < total; i++)
            g[i] *= s0;
        for (int k = 1; k < t->nthreads; k++) {
            const float *gk = t->w[k].grad;
            float sk = (float)t->w[k].n / (float)t->B;
            if (t->w[k].n == 0)
                continue;
            for (size_t i = 0; i < total; i++)
                g[i] += sk * gk[i];
        }
    }
    for (int k = 0; k < t->nthreads; k++)
        loss += t->w[k].loss * (float)t->w[k].n / (float)t->B;
    nn_params_adam_step(&m->params, t->o->lr, 0.9f, 0.999f, 1e-8f, 0.0f);
    return loss;
}

/* The epoch's samples: positives and sampled negatives, shuffled. */
static int64_t make_samples(const struct dataset *d, const struct split *s,
                            const struct train_opts *o, int epoch, int *su, int *sm, float *sl)
{
    uint64_t rng = mix(o->seed, (uint64_t)epoch * 7919 + 1);
    int64_t n = 0;

    for (int u = 1; u < d->nusers; u++)
        for (int64_t i = d->user_start[u]; i < d->user_start[u + 1]; i++) {
            if (s->held[i])
                continue;
            su[n] = u;
            sm[n] = d->r_movie[i];
            if (o->label == TRAIN_LIKE) {
                sl[n++] = d->r_score[i] >= o->like_threshold;
                continue;
            }
            sl[n++] = 1;
            if (d->user_start[u + 1] - d->user_start[u] >= d->nmovies - 1)
                continue; /* rated everything: no negative to draw */
            for (int k = 0; k < o->negatives;) {
                int mv = 1 + rand_below(&rng, d->nmovies - 1);
                if (dataset_rated(d, u, mv))
                    continue;
                su[n] = u;
                sm[n] = mv;
                sl[n++] = 0;
                k++;
            }
        }
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)((nn_rng_next(&rng) >> 11) % (uint64_t)(i + 1));
        int tu = su[i], tm = sm[i];
        float tl = sl[i];
        su[i] = su[j];
        sm[i] = sm[j];
        sl[i] = sl[j];
        su[j] = tu;
        sm[j] = tm;
        sl[j] = tl;
    }
    return n;
}

static double stop_metric(const struct train_opts *o, const struct eval_metrics *e)
{
    return o->label == TRAIN_WATCH ? e->hr10 + 1e-3 * e->ndcg10 : e->auc;
}

int train_run(struct model *m, const struct dataset *d, const struct train_opts *o,
              struct train_result *r, struct error *err)
{
    struct trainer t;
    struct split s;
    int *su = NULL, *sm = NULL;
    float *sl = NULL, *best = NULL;
    double best_metric = -1;
    int64_t cap;
    int rc, since_best = 0;

    memset(r, 0, sizeof(*r));
    if (o->epochs < 1 || o->epochs > TRAIN_MAX_EPOCHS || o->batch < 1)
        return error_set(err, ERR_USAGE, "epochs must be 1..%d and the batch at least 1",
                         TRAIN_MAX_EPOCHS);
    nn_blas_threads(1); /* our threads split the batch; OpenBLAS must not fight them */
    if ((rc = split_make(&s, d, o, err)))
        goto out_split;
    cap = d->nratings * (o->label == TRAIN_WATCH ? 1 + o->negatives : 1);
    su = malloc((size_t)cap * sizeof(*su));
    sm = malloc((size_t)cap * sizeof(*sm));
    sl = malloc((size_t)cap * sizeof(*sl));
    best = malloc(m->params.total * sizeof(float));
    if (!su || !sm || !sl || !best) {
        rc = error_set(err, ERR_NOMEM, "out of memory for %lld training samples", (long long)cap);
        goto out_split;
    }
    if ((rc = trainer_init(&t, m, d, o, err)))
        goto out_split;
    for (int epoch = 1; epoch <= o->epochs; epoch++) {
        struct train_epoch *e = &r->epochs[r->nepochs];
        struct eval_metrics ev;
        int64_t n = make_samples(d, &s, o, epoch, su, sm, sl);
        double t0 = now_s(), loss_sum = 0;
        int64_t steps = 0;

        t.su = su;
        t.sm = sm;
        t.sl = sl;
        for (int64_t off = 0; off < n; off += o->batch) {
            t.off = off;
            t.B = (int)(n - off < o->batch ? n - off : o->batch);
            t.step_seed = mix(o->seed, ((uint64_t)epoch << 40) ^ (uint64_t)steps);
            loss_sum += trainer_step(&t, m);
            steps++;
            if (o->on_progress && (steps % 64 == 0 || off + t.B >= n))
                o->on_progress(o->ctx, epoch, off + t.B, n, loss_sum / (double)steps);
        }
        memset(e, 0, sizeof(*e));
        e->epoch = epoch;
        e->seconds = now_s() - t0;
        e->train_loss = steps ? loss_sum / (double)steps : 0;
        e->samples_per_s = n / (e->seconds + 1e-9);
        r->train_seconds += e->seconds;
        r->train_samples += n;
        if ((rc = evaluate(m, d, &s, o, &ev, err)))
            goto out;
        r->score_pairs_per_s = ev.pairs_per_s;
        e->val_logloss = ev.logloss;
        e->val_auc = ev.auc;
        e->hr10 = ev.hr10;
        e->ndcg10 = ev.ndcg10;
        r->nepochs++;
        if (stop_metric(o, &ev) > best_metric) {
            best_metric = stop_metric(o, &ev);
            r->best_epoch = r->nepochs - 1;
            e->best = 1;
            memcpy(best, m->params.data, m->params.total * sizeof(float));
            since_best = 0;
        } else {
            since_best++;
        }
        if (o->on_epoch)
            o->on_epoch(o->ctx, e);
        if (o->patience > 0 && since_best >= o->patience)
            break;
    }
    memcpy(m->params.data, best, m->params.total * sizeof(float));
    rc = 0;
out:
    trainer_free(&t);
out_split:
    split_free(&s);
    free(su);
    free(sm);
    free(sl);
    free(best);
    return rc;
}
