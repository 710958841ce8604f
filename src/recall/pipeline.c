/*
 * pipeline.c - recall, merge, filter, rank, diversify, explain
 * (pipeline.h).
 */
#include "pipeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../util/banned.h"

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

#define MARK_OUT 1  /* rated by the user, or never recommended */
#define MARK_CAND 2 /* already a candidate */
#define FOLD_MAX 1000 /* latest ratings used for the ALS fold-in */
#define COLD_GENRES 3 /* favourite genres the cold-start channel serves */
#define REC_AHEAD 8   /* candidates whose features are asked for ahead */

static const char *const channel_names[REC_NCHANNELS] = {"itemcf", "embed", "als", "cold"};

const char *rec_channel_name(enum rec_channel c)
{
    return c >= 0 && c < REC_NCHANNELS ? channel_names[c] : "?";
}

const char *rec_stage_name(enum rec_stage s)
{
    static const char *const names[REC_NSTAGES] = {"user", "itemcf", "embed", "als", "cold",
                                                    "user-tower", "deep", "blend", "list"};
    return s >= 0 && s < REC_NSTAGES ? names[s] : "?";
}

void rec_opts_default(struct rec_opts *o)
{
    memset(o, 0, sizeof(*o)); /* blend NULL: the bundle's */
    o->quota[REC_ITEMCF] = 200;
    o->quota[REC_EMBED] = 100;
    o->quota[REC_ALS] = 150;
    o->quota[REC_COLD] = 50;
    o->recent = 10;
    o->like_min = 4.0f;
    o->recent_min = 0.0f;
    o->recent_decay = 0.6f;
    o->genre_cap = 5;
    o->genre_floor = 3;
    o->only = -1;
    o->prerank = 200;
}

/* ------------------------------------------------------------------ */
/* tables                                                               */

static int genre_tops(struct recommender *r)
{
    const struct popularity *p = &r->b->pop;
    struct cand *heap = malloc((size_t)r->genre_k * sizeof(*heap));
    r->genre_top = malloc((size_t)r->ngenres * r->genre_k * sizeof(int));
    if (!heap || !r->genre_top) {
        free(heap);
        return ERR_NOMEM;
    }
    for (int g = 0; g < r->ngenres; g++) {
        int nh = 0, *top = r->genre_top + (size_t)g * r->genre_k;
        for (int m = 1; m < r->nvocab; m++) {
            const int *gs = r->mf[m].genres;
            int has = g == 0; /* list 0: every genre, the most popular overall */
            if (r->gone[m] || m >= p->nmovies || p->count[m] == 0)
                continue;
            for (int k = 0; k < FEAT_MAX_GENRES && gs[k] >= 0 && !has; k++)
                has = gs[k] == g;
            if (has)
                recall_heap_push(heap, &nh, r->genre_k,
                                 (struct cand){m, (float)p->count[m] + p->mean[m] / 10.0f, -1});
        }
        recall_heap_sort(heap, nh);
        for (int k = 0; k < r->genre_k; k++)
            top[k] = k < nh ? heap[k].movie : -1;
    }
    free(heap);
    return 0;
}

int recommender_init(struct recommender *r, const struct model *m, const struct vocab *v,
                     const struct recall_bundle *b, const int64_t *ids,
                     const struct movie_feat *mf, int n, struct error *err)
{
    int extra = 0, rc;

    memset(r, 0, sizeof(*r));
    r->m = m;
    r->v = v;
    r->b = b;
    r->nvocab = v->nmovies + 1;
    if (b->nmovies != r->nvocab || b->als.nmovies != r->nvocab)
        return error_set(err, ERR_USAGE,
                         "the recall models cover %d movies, the model's vocabulary %d",
                         b->nmovies, r->nvocab);
    for (int i = 0; i < n; i++)
        extra += mf[i].movie <= 0 || mf[i].movie >= r->nvocab;
    r->n = r->nvocab + extra;
    r->ids = calloc((size_t)r->n, sizeof(*r->ids));
    r->mf = calloc((size_t)r->n, sizeof(*r->mf));
    r->gone = malloc((size_t)r->n);
    if (!r->ids || !r->mf || !r->gone)
        goto nomem;
    /* vocabulary rows first, gone until the store shows them */
    for (int i = 0; i < r->nvocab; i++) {
        struct movie_feat *f = &r->mf[i];
        memset(f, 0xff, sizeof(*f));
        f->movie = i;
        f->genres[0] = 0;
        r->ids[i] = i ? v->movie_ids[i - 1] : 0;
        r->gone[i] = 1;
    }
    extra = r->nvocab;
    for (int i = 0; i < n; i++) {
        int row = mf[i].movie > 0 && mf[i].movie < r->nvocab ? mf[i].movie : extra++;
        r->mf[row] = mf[i];
        r->ids[row] = ids[i];
        r->gone[row] = 0;
    }
    /* the extra rows must stay in id order for recommender_row(): they
     * come from ids ascending, so they are. */
    if ((rc = ranker_init(&r->rk, m, r->mf, r->n, err)))
        goto fail;
    if ((rc = embed_build(&r->emb, m, r->mf, r->n, err)))
        goto fail;
    /* the recall scans: 32 principal directions in int8, a quarter of the
     * bytes of full float rows' int8 copy, for candidates the ranker
     * scores again anyway (docs/PERFORMANCE.md) */
    if ((rc = qindex_build_reduced(&r->alsx, b->als.item, b->als.nmovies, b->als.f,
                                   REC_SCAN_RANK, err)) ||
        (rc = qindex_build_reduced(&r->embx, r->emb.vec, r->n, r->emb.dim, REC_SCAN_RANK, err)))
        goto fail;
    r->gram = malloc((size_t)b->als.f * b->als.f * sizeof(float));
    r->logpop = malloc(((size_t)r->n + 1) * sizeof(float)); /* + 1: never malloc(0) */
    if (!r->gram || !r->logpop)
        goto nomem;
    for (int i = 0; i < r->n; i++)
        r->logpop[i] = logf(1.0f + (i < b->pop.nmovies ? (float)b->pop.count[i] : 0.0f));
    als_gram(&b->als, r->gram);
    r->ngenres = v->genres.n + 1;
    r->genre_k = 200;
    if (genre_tops(r))
        goto nomem;
    return 0;
nomem:
    rc = error_set(err, ERR_NOMEM, "out of memory for the recommender (%d movies)", n);
fail:
    recommender_free(r);
    return rc;
}

void recommender_free(struct recommender *r)
{
    free(r->ids);
    free(r->mf);
    free(r->gone);
    ranker_free(&r->rk);
    embed_free(&r->emb);
    qindex_free(&r->alsx);
    qindex_free(&r->embx);
    free(r->gram);
    free(r->logpop);
    free(r->genre_top);
    memset(r, 0, sizeof(*r));
}

int recommender_row(const struct recommender *r, int64_t id)
{
    int lo, hi;
    if (id <= 0)
        return -1;
    /* vocabulary rows are ids ascending from row 1, extra rows too */
    lo = 1;
    hi = r->nvocab - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (r->ids[mid] == id)
            return r->gone[mid] ? -1 : mid;
        if (r->ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    lo = r->nvocab;
    hi = r->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (r->ids[mid] == id)
            return mid;
        if (r->ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

/* ------------------------------------------------------------------ */
/* scratch                                                              */

int rec_ws_alloc(struct rec_ws *ws, const struct recommender *r, const struct rec_opts *o,
                 struct error *err)
{
    size_t qs = qindex_scratch_size(&r->emb.qx), qa = qindex_scratch_size(&r->alsx);
    size_t qe = qindex_scratch_size(&r->embx);
    if (qe > qs)
        qs = qe;
    int f = r->b->als.f, cap = 0;

    memset(ws, 0, sizeof(*ws));
    for (int c = 0; c < REC_NCHANNELS; c++)
        cap += o->quota[c] > 0 ? o->quota[c] : 0;
    if (cap < 1)
        cap = 1;
    ws->capcand = cap;
    ws->capliked = o->recent < 1 ? 1 : o->recent > REC_MAX_RECENT ? REC_MAX_RECENT : o->recent;
    ws->nrows = r->n;
    ws->capfold = FOLD_MAX;
    if (ranker_ws_alloc(&ws->rw, &r->rk, err))
        return err->code;
    ws->mark = malloc((size_t)r->n + 1);
    ws->cand = malloc((size_t)cap * sizeof(*ws->cand));
    ws->rows = malloc((size_t)cap * sizeof(*ws->rows));
    ws->used = malloc((size_t)cap);
    ws->prob = malloc((size_t)cap * sizeof(*ws->prob));
    ws->feat = malloc((size_t)cap * BLEND_NFEAT * sizeof(*ws->feat));
    ws->feat2 = malloc((size_t)cap * BLEND_NFEAT * sizeof(*ws->feat2));
    ws->cand2 = malloc((size_t)cap * sizeof(*ws->cand2));
    ws->acc = calloc(2 * ((size_t)r->n + 1), sizeof(*ws->acc));
    ws->tmp = malloc((size_t)(cap > r->genre_k ? cap : r->genre_k) * sizeof(*ws->tmp));
    ws->liked = malloc((size_t)ws->capliked * sizeof(*ws->liked));
    ws->liked_w = malloc((size_t)ws->capliked * sizeof(*ws->liked_w));
    ws->liked_score = malloc((size_t)ws->capliked * sizeof(*ws->liked_score));
    ws->profile = malloc((size_t)r->emb.dim * sizeof(float) + 1);
    ws->ufac = malloc((size_t)f * sizeof(float) + 1);
    ws->gpref = malloc((size_t)r->ngenres * sizeof(float) + 1);
    ws->fold = malloc(((size_t)f * f + (size_t)ALS_FOLD_CHUNK * f) * sizeof(float) + 1);
    ws->qscratch = aligned_alloc(64, ((qs > qa ? qs : qa) + 63) / 64 * 64 + 64);
    ws->fold_movie = malloc((size_t)FOLD_MAX * sizeof(int));
    ws->fold_score = malloc((size_t)FOLD_MAX * sizeof(float));
    if (!ws->mark || !ws->cand || !ws->cand2 || !ws->rows || !ws->used || !ws->prob ||
        !ws->feat || !ws->feat2 || !ws->acc || !ws->tmp || !ws->liked || !ws->liked_w ||
        !ws->liked_score || !ws->profile || !ws->ufac || !ws->fold || !ws->qscratch ||
        !ws->fold_movie || !ws->fold_score || !ws->gpref) {
        rec_ws_free(ws);
        return error_set(err, ERR_NOMEM, "out of memory for a recommendation's scratch");
    }
    memcpy(ws->mark, r->gone, (size_t)r->n);
    return 0;
}

void rec_ws_free(struct rec_ws *ws)
{
    ranker_ws_free(&ws->rw);
    free(ws->mark);
    free(ws->cand);
    free(ws->rows);
    free(ws->used);
    free(ws->prob);
    free(ws->feat);
    free(ws->feat2);
    free(ws->cand2);
    free(ws->acc);
    free(ws->tmp);
    free(ws->liked);
    free(ws->liked_w);
    free(ws->liked_score);
    free(ws->profile);
    free(ws->ufac);
    free(ws->gpref);
    free(ws->fold);
    free(ws->qscratch);
    free(ws->fold_movie);
    free(ws->fold_score);
    memset(ws, 0, sizeof(*ws));
}

/* ------------------------------------------------------------------ */
/* the user's signals                                                   */

/* ws->liked: the user's `recent` latest ratings >= recent_min (ties: the
 * higher score, then the lower row), latest first, with weights
 * recent_decay^i; a user without any such rating is represented by their
 * latest ratings of any score. */
static int later(int64_t ta, float sa, int ra, int64_t tb, float sb, int rb)
{
    return ta > tb || (ta == tb && (sa > sb || (sa == sb && ra < rb)));
}

static void pick_liked(const struct rec_opts *o, const struct rec_user *u, struct rec_ws *ws)
{
    int k = ws->capliked < REC_MAX_RECENT ? ws->capliked : REC_MAX_RECENT;
    int64_t lt[REC_MAX_RECENT];
    float w = 1.0f;

    ws->nliked = 0;
    for (int pass = 0; pass < 2 && ws->nliked == 0; pass++)
        for (int i = 0; i < u->n; i++) {
            int pos, row = u->movie[i];
            if (row < 0 || row >= ws->nrows || (pass == 0 && !(u->score[i] >= o->recent_min)))
                continue;
            pos = ws->nliked;
            while (pos > 0 && later(u->time[i], u->score[i], row, lt[pos - 1],
                                    ws->liked_score[pos - 1], ws->liked[pos - 1]))
                pos--;
            if (pos >= k)
                continue;
            if (ws->nliked < k)
                ws->nliked++;
            for (int j = ws->nliked - 1; j > pos; j--) {
                ws->liked[j] = ws->liked[j - 1];
                lt[j] = lt[j - 1];
                ws->liked_score[j] = ws->liked_score[j - 1];
            }
            ws->liked[pos] = row;
            lt[pos] = u->time[i];
            ws->liked_score[pos] = u->score[i];
        }
    for (int i = 0; i < ws->nliked; i++, w *= o->recent_decay)
        ws->liked_w[i] = w;
}

#define REC_FEW 5 /* ratings up to which a user is a newcomer (genre_affinity) */

/* The user's genre preference: the genres of the recent movies by their
 * recency weight and score (a 5 counts 1, a 1 counts 0.2), each movie's
 * weight shared among its genres, and the interest tags, each half of the
 * whole when both are there. Sums to 1, or is all 0 for a user with
 * neither. */
static void genre_pref(const struct recommender *r, const struct rec_user *u, struct rec_ws *ws)
{
    const int G = r->ngenres;
    double from_r = 0, from_i = 0;
    float *p = ws->gpref;
    memset(p, 0, (size_t)G * sizeof(*p));
    ws->few = u->n <= REC_FEW ? 1.0f : (float)REC_FEW / (float)u->n;
    for (int i = 0; i < ws->nliked; i++) {
        const int *gs = r->mf[ws->liked[i]].genres;
        int ng = 0;
        float w = ws->liked_w[i] * ws->liked_score[i] / 5.0f;
        for (int k = 0; k < FEAT_MAX_GENRES && gs[k] >= 0; k++)
            ng += gs[k] > 0 && gs[k] < G;
        for (int k = 0; k < FEAT_MAX_GENRES && gs[k] >= 0; k++)
            if (gs[k] > 0 && gs[k] < G)
                p[gs[k]] += w / (float)ng;
        from_r += ng ? w : 0;
    }
    for (int i = 0; i < u->ngenres; i++)
        if (u->genres[i] > 0 && u->genres[i] < G)
            from_i += 1;
    for (int g = 0; g < G; g++)
        p[g] = from_r > 0 ? p[g] / (float)from_r * (from_i > 0 ? 0.5f : 1.0f) : 0.0f;
    for (int i = 0; i < u->ngenres; i++)
        if (u->genres[i] > 0 && u->genres[i] < G)
            p[u->genres[i]] += (float)(1.0 / from_i) * (from_r > 0 ? 0.5f : 1.0f);
}

/* How much of the user's genre preference the movie's genres hold, over
 * the square root of their number (a movie of six genres is not six
 * times as much to someone's taste), times how little else is known of
 * the user: 1 up to REC_FEW ratings, then REC_FEW / ratings. Measured
 * (docs/EVALUATION.md): for a user with a long history the other
 * features say it all and a plain genre feature did not help; for a
 * newcomer it is much of what there is (the blend is fitted on both). */
static float genre_affinity(const struct recommender *r, const struct rec_ws *ws, int m)
{
    const int *gs = r->mf[m].genres;
    float s = 0;
    int ng = 0;
    for (int k = 0; k < FEAT_MAX_GENRES && gs[k] >= 0; k++)
        if (gs[k] > 0 && gs[k] < r->ngenres) {
            s += ws->gpref[gs[k]];
            ng++;
        }
    return ng ? s / sqrtf((float)ng) * ws->few : 0.0f;
}

static void mark_rated(const struct recommender *r, const struct rec_user *u, struct rec_ws *ws)
{
    for (int i = 0; i < u->n; i++)
        if (u->movie[i] >= 0 && u->movie[i] < r->n)
            ws->mark[u->movie[i]] |= MARK_OUT;
}

/* Undo every mark of this request: rated rows and candidates. */
static void unmark(const struct recommender *r, const struct rec_user *u, struct rec_ws *ws)
{
    for (int i = 0; i < u->n; i++)
        if (u->movie[i] >= 0 && u->movie[i] < r->n)
            ws->mark[u->movie[i]] = r->gone[u->movie[i]];
    for (int i = 0; i < ws->ncand; i++)
        ws->mark[ws->cand[i].movie] = r->gone[ws->cand[i].movie];
}

static void add_cand(struct rec_ws *ws, int row, float score, enum rec_channel ch,
                     enum rec_reason why, int because, int genre)
{
    if (ws->ncand >= ws->capcand || (ws->mark[row] & (MARK_OUT | MARK_CAND)))
        return;
    ws->mark[row] |= MARK_CAND;
    ws->cand[ws->ncand++] = (struct rec_item){row, score, score, ch, why, because, 0, genre};
}

/* ------------------------------------------------------------------ */
/* channels                                                             */

static int ch_itemcf(const struct recommender *r, struct rec_ws *ws, int quota,
                     struct error *err)
{
    int got = 0, nl = 0, rc;
    int liked[REC_MAX_RECENT];
    float w[REC_MAX_RECENT];
    for (int i = 0; i < ws->nliked; i++)
        if (ws->liked[i] < r->nvocab) {
            w[nl] = ws->liked_w[i];
            liked[nl++] = ws->liked[i];
        }
    if ((rc = itemcf_recommend(&r->b->cf, liked, w, nl, ws->tmp, quota, ws->mark, &got, err)))
        return rc;
    for (int i = 0; i < got; i++)
        add_cand(ws, ws->tmp[i].movie, ws->tmp[i].score, REC_ITEMCF, REASON_LIKED,
                 ws->tmp[i].because, -1);
    return 0;
}

/* The user's content profile: the mean of their liked movies' unit tower
 * vectors; the nearest movies by cosine. */
static void make_profile(const struct recommender *r, struct rec_ws *ws)
{
    const int T = r->emb.dim;
    float *p = ws->profile, sw = 0;
    memset(p, 0, (size_t)T * sizeof(*p));
    for (int i = 0; i < ws->nliked; i++) {
        const float *vrow = r->emb.vec + (size_t)ws->liked[i] * T;
        for (int d = 0; d < T; d++)
            p[d] += ws->liked_w[i] * vrow[d];
        sw += ws->liked_w[i];
    }
    for (int d = 0; d < T && sw > 0; d++)
        p[d] /= sw;
}

static void ch_embed(const struct recommender *r, struct rec_ws *ws, int quota)
{
    int got;
    if (ws->nliked == 0)
        return;
    /* the int8 order as it is (no exact rescore): the ranker scores every
     * candidate again */
    got = qindex_topk(&r->embx, ws->profile, ws->mark, -1, quota, -1, ws->tmp, ws->qscratch);
    for (int i = 0; i < got; i++)
        add_cand(ws, ws->tmp[i].movie, ws->tmp[i].score, REC_EMBED, REASON_CONTENT, -1, -1);
}

/* The smallest t with at most max of time (n,) (n > max) later than t,
 * by bisection on t: a pass over the times per halving of their range
 * (at most 64), where dropping the oldest time one at a time took a pass
 * per distinct time (27 ms for a user with 5,000 ratings, 0.03 ms now). That t is
 * one of the times (or INT64_MIN). */
static int64_t fold_cutoff(const int64_t *time, int n, int max)
{
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int i = 0; i < n; i++) {
        lo = time[i] < lo ? time[i] : lo;
        hi = time[i] > hi ? time[i] : hi;
    }
    if (lo > INT64_MIN)
        lo--; /* every time is later than lo: too many */
    while (lo < hi) { /* the answer is in [lo, hi] */
        int64_t mid = lo + (int64_t)(((uint64_t)hi - (uint64_t)lo) / 2);
        int cnt = 0;
        for (int i = 0; i < n; i++)
            cnt += time[i] > mid;
        if (cnt <= max)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* The user's ALS factor, folded in from their latest ratings. */
static int user_factor(const struct recommender *r, const struct rec_user *u, struct rec_ws *ws)
{
    int n = 0;
    const struct als *a = &r->b->als;
    if (u->n <= FOLD_MAX) {
        for (int i = 0; i < u->n; i++)
            if (u->movie[i] > 0 && u->movie[i] < a->nmovies) {
                ws->fold_movie[n] = u->movie[i];
                ws->fold_score[n++] = u->score[i];
            }
    } else { /* the FOLD_MAX latest: ratings later than a threshold on time */
        int64_t lo = fold_cutoff(u->time, u->n, FOLD_MAX);
        for (int i = 0; i < u->n; i++)
            if (u->time[i] > lo && u->movie[i] > 0 && u->movie[i] < a->nmovies) {
                ws->fold_movie[n] = u->movie[i];
                ws->fold_score[n++] = u->score[i];
            }
    }
    return als_fold_in(a, &r->b->als_opts, r->gram, ws->fold_movie, ws->fold_score, n, ws->ufac,
                       ws->fold);
}

static void ch_als(const struct recommender *r, struct rec_ws *ws, int quota)
{
    int got, nz = 0;
    for (int d = 0; d < r->b->als.f; d++)
        nz |= ws->ufac[d] != 0.0f;
    if (!nz)
        return;
    got = qindex_topk(&r->alsx, ws->ufac, ws->mark, 0, quota, -1, ws->tmp, ws->qscratch);
    for (int i = 0; i < got; i++)
        add_cand(ws, ws->tmp[i].movie, ws->tmp[i].score, REC_ALS, REASON_TASTE, -1, -1);
}

/* Favourite genres: the interest tags first, then the genres of the
 * user's positive ratings by count. */
static int fav_genres(const struct recommender *r, const struct rec_opts *o,
                      const struct rec_user *u, int *out)
{
    int n = 0, cnt[256] = {0};
    for (int i = 0; i < u->ngenres && n < COLD_GENRES; i++) {
        int g = u->genres[i], dup = 0;
        if (g <= 0 || g >= r->ngenres)
            continue;
        for (int j = 0; j < n; j++)
            dup |= out[j] == g;
        if (!dup)
            out[n++] = g;
    }
    for (int i = 0; i < u->n; i++) {
        int row = u->movie[i];
        if (row < 0 || row >= r->n || !(u->score[i] >= o->like_min))
            continue;
        for (int k = 0; k < FEAT_MAX_GENRES && r->mf[row].genres[k] >= 0; k++)
            if (r->mf[row].genres[k] > 0 && r->mf[row].genres[k] < 256)
                cnt[r->mf[row].genres[k]]++;
    }
    while (n < COLD_GENRES) {
        int best = 0;
        for (int g = 1; g < r->ngenres && g < 256; g++) {
            int dup = 0;
            for (int j = 0; j < n; j++)
                dup |= out[j] == g;
            if (!dup && cnt[g] > cnt[best])
                best = g;
        }
        if (best == 0 || cnt[best] == 0)
            break;
        out[n++] = best;
    }
    return n;
}

/* Popular in the favourite genres, in the user's demographic group, and
 * overall: quota split 1/2, 1/4, the rest. */
static void ch_cold(const struct recommender *r, const struct rec_opts *o,
                    const struct rec_user *u, struct rec_ws *ws, int quota)
{
    int fav[COLD_GENRES], nf = fav_genres(r, o, u, fav), start = ws->ncand;
    int want_genre = nf ? quota / 2 : 0, want_group = quota / 4;
    const int *grp = r->b->group_top + (size_t)bundle_group(&u->feat) * BUNDLE_GROUP_K;

    /* round robin over the favourite genres */
    for (int k = 0; k < r->genre_k && ws->ncand - start < want_genre; k++)
        for (int j = 0; j < nf && ws->ncand - start < want_genre; j++) {
            int row = r->genre_top[(size_t)fav[j] * r->genre_k + k];
            if (row >= 0)
                add_cand(ws, row, (float)(quota - (ws->ncand - start)), REC_COLD, REASON_GENRE,
                         -1, fav[j]);
        }
    want_group += ws->ncand - start;
    for (int k = 0; k < BUNDLE_GROUP_K && ws->ncand - start < want_group; k++)
        if (grp[k] > 0 && grp[k] < r->n && !r->gone[grp[k]])
            add_cand(ws, grp[k], (float)(quota - (ws->ncand - start)), REC_COLD, REASON_GROUP,
                     -1, -1);
    for (int k = 0; k < r->genre_k && ws->ncand - start < quota; k++) {
        int row = r->genre_top[k]; /* list 0: overall */
        if (row < 0)
            break;
        add_cand(ws, row, (float)(quota - (ws->ncand - start)), REC_COLD, REASON_POPULAR, -1, -1);
    }
}

/* ------------------------------------------------------------------ */
/* ranking and the list                                                 */

static int cmp_item(const void *pa, const void *pb)
{
    const struct rec_item *a = pa, *b = pb;
    if (a->rank != b->rank)
        return a->rank > b->rank ? -1 : 1;
    return a->movie < b->movie ? -1 : a->movie > b->movie;
}

/* dot (n,) of two float rows: eight partial sums, so that the loop
 * vectorises without -ffast-math (a single sum is a serial chain). */
static float dotf(const float *restrict a, const float *restrict b, int n)
{
    float acc[8] = {0};
    int d = 0;
    for (; d + 8 <= n; d += 8)
        for (int t = 0; t < 8; t++)
            acc[t] += a[d + t] * b[d + t];
    for (; d < n; d++)
        acc[0] += a[d] * b[d];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

/* ws->acc[2 m] += w_l * sim(liked_l, m) over the recent movies' item-CF
 * neighbours and ws->acc[2 m + 1] = sim(liked_0, m), the latest movie's
 * (add 1), or back to 0 (add 0): one cache line per candidate for both
 * features, where the latest movie's was a search of its neighbour list. */
static void scatter_itemcf(const struct recommender *r, struct rec_ws *ws, int add)
{
    for (int l = 0; l < ws->nliked; l++) {
        const int *ids;
        const float *sims;
        int nn = itemcf_neighbours(&r->b->cf, ws->liked[l], &ids, &sims);
        for (int t = 0; t < nn; t++) {
            float *a = ws->acc + 2 * (size_t)ids[t];
            a[0] = add ? a[0] + ws->liked_w[l] * sims[t] : 0.0f;
            if (l == 0)
                a[1] = add ? sims[t] : 0.0f; /* a repeated neighbour: the last, as before */
        }
    }
}

/* A query against one of the recall indexes, ready for approx_dot(). */
static void qproj_set(struct qproj *p, const struct qindex *qx, const float *q)
{
    p->qx = qx;
    p->q = q;
    p->c = qx->basis ? qindex_project(qx, q, p->p) : 0.0f;
}

/* <row m, q>: from the r-dimensional projections when the index has them
 * (r floats per movie: one or two cache lines where the float vector
 * takes thirteen), else exactly. */
static float approx_dot(const struct qproj *p, int m)
{
    const struct qindex *qx = p->qx;
    if (qx->basis)
        return dotf(qx->projf + (size_t)m * qx->r, p->p, qx->r) + p->c;
    return dotf(qx->vec + (size_t)m * qx->dim, p->q, qx->dim);
}

/* Asks for everything row_features() reads of movie m before it is
 * read: its tower projection and ALS factor (scattered over 24 MB at 62k
 * movies), its genres, item-CF sums and popularity. */
static void prefetch_movie(const struct recommender *r, const struct rec_ws *ws, int m)
{
    const struct qindex *ix = &r->embx;
    if (ix->basis) {
        const char *v = (const char *)(ix->projf + (size_t)m * ix->r);
        for (size_t b = 0; b < (size_t)ix->r * sizeof(float); b += 64)
            __builtin_prefetch(v + b);
    }
    if (m < r->b->als.nmovies) {
        const char *a = (const char *)(r->b->als.item + (size_t)m * r->b->als.f);
        for (size_t b = 0; b < (size_t)r->b->als.f * sizeof(float); b += 64)
            __builtin_prefetch(a + b);
    }
    __builtin_prefetch(&r->mf[m].genres[0]);
    __builtin_prefetch(&r->mf[m].genres[FEAT_MAX_GENRES - 1]);
    __builtin_prefetch(ws->acc + 2 * (size_t)m);
    __builtin_prefetch(r->logpop + m);
}

/* The raw features x (BLEND_NFEAT,) of movie m (z-scores not yet set),
 * with ws->acc scattered. */
static void row_features(const struct recommender *r, const struct rec_ws *ws, int m, float logit,
                         float *x)
{
    const struct als *a = &r->b->als;

    x[BLEND_DEEP] = logit;
    /* ALS exactly: its 64 factors are not low-rank as the tower vectors are */
    x[BLEND_ALS] = m < a->nmovies ? dotf(a->item + (size_t)m * a->f, ws->ufac, a->f) : 0.0f;
    x[BLEND_ITEMCF] = ws->acc[2 * (size_t)m];
    x[BLEND_CONTENT] = approx_dot(&ws->qp_content, m);
    x[BLEND_POP] = r->logpop[m];
    x[BLEND_LASTCF] = ws->acc[2 * (size_t)m + 1];
    x[BLEND_LASTCOS] = ws->nliked ? approx_dot(&ws->qp_last, m) : 0.0f;
    x[BLEND_GENRE] = genre_affinity(r, ws, m);
    for (int k = 0; k < REC_NZ; k++)
        x[BLEND_ZDEEP + k] = (x[k] - ws->zmu[k]) / ws->zsd[k];
}

/* Column k of ws->feat (C rows) as z-scores into column BLEND_ZDEEP + k,
 * the mean and spread kept in ws->zmu/zsd[k] for recommender_score_rows(). */
static void zscore(struct rec_ws *ws, int C, int k)
{
    const int NF = BLEND_NFEAT;
    double mu = 0, sd = 0;
    for (int i = 0; i < C; i++)
        mu += ws->feat[(size_t)i * NF + k];
    mu /= C ? C : 1;
    for (int i = 0; i < C; i++) {
        double d = ws->feat[(size_t)i * NF + k] - mu;
        sd += d * d;
    }
    sd = sqrt(sd / (C ? C : 1));
    ws->zmu[k] = (float)mu;
    ws->zsd[k] = sd > 1e-9 ? (float)sd : 1.0f;
    for (int i = 0; i < C; i++)
        ws->feat[(size_t)i * NF + BLEND_ZDEEP + k] =
            (ws->feat[(size_t)i * NF + k] - ws->zmu[k]) / ws->zsd[k];
}

static float blend_score(const struct rec_blend *bl, const float *x)
{
    float s = x[BLEND_DEEP];
    if (bl->fitted) {
        s = bl->bias;
        for (int k = 0; k < BLEND_NFEAT; k++)
            s += bl->w[k] * (x[k] - bl->mean[k]) / bl->scale[k];
    }
    return s;
}

/* Keeps the k candidates the pre-ranker scores best (with their
 * features), in that order; the others are unmarked. */
static void keep_best(const struct recommender *r, const struct rec_blend *pre, struct rec_ws *ws,
                      int k)
{
    const int NF = BLEND_NFEAT;
    struct cand *key = ws->tmp; /* (rank, movie; because = the candidate's index) */
    for (int i = 0; i < ws->ncand; i++) {
        ws->cand[i].rank = blend_score(pre, ws->feat + (size_t)i * NF);
        key[i] = (struct cand){ws->cand[i].movie, ws->cand[i].rank, i};
    }
    /* the order of cmp_item: rank descending, then the lower movie */
    recall_partial_sort(key, ws->ncand, k);
    for (int i = 0; i < k; i++) {
        int c = key[i].because;
        ws->cand2[i] = ws->cand[c];
        memcpy(ws->feat2 + (size_t)i * NF, ws->feat + (size_t)c * NF, NF * sizeof(float));
    }
    for (int i = k; i < ws->ncand; i++)
        ws->mark[key[i].movie] = r->gone[key[i].movie];
    {
        struct rec_item *t = ws->cand;
        float *f = ws->feat;
        ws->cand = ws->cand2;
        ws->cand2 = t;
        ws->feat = ws->feat2;
        ws->feat2 = f;
    }
    ws->ncand = k;
}

/* The ranker (docs/MODEL.md, "The ranker's inputs"): every candidate's
 * recall features; with a fitted pre-ranker, only its best o->prerank go
 * on; the deep model's logits for those, and the blend's order. */
static void rank(const struct recommender *r, const struct rec_opts *o, const struct rec_user *u,
                 struct rec_ws *ws)
{
    const struct rec_blend *bl = o->blend ? o->blend : &r->b->blend;
    const struct rec_blend *pre = o->pre ? o->pre : &r->b->pre;
    const int NF = BLEND_NFEAT;
    double t0 = now_ms(), t1, t2, t3;

    /* 1. the recall features of every candidate (the deep logit later) */
    qproj_set(&ws->qp_content, &r->embx, ws->profile);
    qproj_set(&ws->qp_last, &r->embx,
              ws->nliked ? r->emb.vec + (size_t)ws->liked[0] * r->emb.dim : ws->profile);
    for (int k = 0; k < REC_NZ; k++) {
        ws->zmu[k] = 0;
        ws->zsd[k] = 1;
    }
    scatter_itemcf(r, ws, 1);
    for (int i = 0; i < ws->ncand; i++) {
        if (i + REC_AHEAD < ws->ncand)
            prefetch_movie(r, ws, ws->cand[i + REC_AHEAD].movie);
        row_features(r, ws, ws->cand[i].movie, 0.0f, ws->feat + (size_t)i * NF);
    }
    scatter_itemcf(r, ws, 0);
    for (int k = BLEND_ALS; k < REC_NZ; k++)
        zscore(ws, ws->ncand, k);
    /* 2. the pre-ranker's best */
    if (pre->fitted && o->prerank > 0 && ws->ncand > o->prerank)
        keep_best(r, pre, ws, o->prerank);
    t1 = now_ms();
    /* 3. the deep model on those */
    ranker_user(&r->rk, &ws->rw, &u->feat);
    t2 = now_ms();
    for (int i = 0; i < ws->ncand; i++)
        ws->rows[i] = ws->cand[i].movie;
    ranker_logits(&r->rk, &ws->rw, ws->rows, ws->ncand, ws->prob);
    for (int i = 0; i < ws->ncand; i++)
        ws->feat[(size_t)i * NF + BLEND_DEEP] = ws->prob[i];
    zscore(ws, ws->ncand, BLEND_DEEP);
    t3 = now_ms();
    /* 4. the blend */
    for (int i = 0; i < ws->ncand; i++) {
        const float *x = ws->feat + (size_t)i * NF;
        ws->cand[i].rank = blend_score(bl, x);
        ws->cand[i].score = 1.0f / (1.0f + expf(-x[BLEND_DEEP]));
    }
    ws->stage_ms[REC_STAGE_UTOWER] = t2 - t1;
    ws->stage_ms[REC_STAGE_DEEP] = t3 - t2;
    ws->stage_ms[REC_STAGE_RANK] = (t1 - t0) + (now_ms() - t3);
    ws->ranked = 1;
}

void recommender_score_rows(const struct recommender *r, struct rec_ws *ws,
                            const struct rec_opts *o, const int *rows, int n, float *out)
{
    const struct rec_blend *bl = o->blend ? o->blend : &r->b->blend;
    float x[BLEND_NFEAT];

    if (!ws->ranked) { /* no user state: nothing but the deep model could say */
        for (int i = 0; i < n; i++)
            out[i] = 0.0f;
        return;
    }
    scatter_itemcf(r, ws, 1);
    for (int c0 = 0; c0 < n; c0 += ws->capcand) {
        int C = n - c0 < ws->capcand ? n - c0 : ws->capcand;
        ranker_logits(&r->rk, &ws->rw, rows + c0, C, ws->prob);
        for (int i = 0; i < C; i++) {
            row_features(r, ws, rows[c0 + i], ws->prob[i], x);
            out[c0 + i] = 1.0f / (1.0f + expf(-blend_score(bl, x)));
        }
    }
    scatter_itemcf(r, ws, 0);
}

/* The liked movie closest (cosine) to row, for REASON_CONTENT. */
static int closest_liked(const struct recommender *r, const struct rec_ws *ws, int row)
{
    const int T = r->emb.dim;
    const float *x = r->emb.vec + (size_t)row * T;
    int best = -1;
    float bs = -2;
    for (int i = 0; i < ws->nliked; i++) {
        float s = dotf(x, r->emb.vec + (size_t)ws->liked[i] * T, T);
        if (s > bs) {
            bs = s;
            best = ws->liked[i];
        }
    }
    return best;
}

/* Takes the list from the sorted candidates in blocks of 10 (a page):
 * within a block at most `cap` movies share a genre (a shorter last block,
 * or a list shorter than 10, its share: cap * len / 10 rounded up); when
 * the candidates
 * cannot fill a block that way, the best ones left fill it. cap 0: the
 * order as it is. */
static int has_genre(const struct recommender *r, int row, int g)
{
    const int *gs = r->mf[row].genres;
    for (int k = 0; k < FEAT_MAX_GENRES && gs[k] >= 0; k++)
        if (gs[k] == g)
            return 1;
    return 0;
}

/* The list in pages of 10 from the sorted candidates: at most cap movies
 * of one genre per page (0: no cap), and at least floor of genre fav
 * (fav 0: none) when there are such candidates, each page in rank order. */
static int take_capped(const struct recommender *r, struct rec_ws *ws, int cap, int fav,
                       int floor, struct rec_item *out, int n)
{
    int got = 0;
    uint8_t *used = ws->used;
    if (cap <= 0 && fav <= 0) {
        for (; got < n && got < ws->ncand; got++)
            out[got] = ws->cand[got];
        return got;
    }
    if (cap <= 0)
        cap = 10;
    memset(used, 0, (size_t)ws->ncand);
    while (got < n && got < ws->ncand) {
        int cnt[256] = {0}, start = got, end = got + 10 < n ? got + 10 : n;
        int lim = (cap * (end - got) + 9) / 10; /* a shorter page: its share */
        int want = fav > 0 ? (floor * (end - got) + 9) / 10 : 0;
        for (int pass = fav > 0 ? -1 : 0; pass < 2; pass++)
            for (int i = 0; i < ws->ncand && got < end && (pass >= 0 || want > 0); i++) {
                const int *gs = r->mf[ws->cand[i].movie].genres;
                int ok = 1;
                if (used[i] || (pass < 0 && !has_genre(r, ws->cand[i].movie, fav)))
                    continue;
                for (int k = 0; pass <= 0 && k < FEAT_MAX_GENRES && gs[k] >= 0; k++)
                    if (gs[k] > 0 && gs[k] < 256 && cnt[gs[k]] >= lim)
                        ok = 0;
                if (!ok)
                    continue;
                for (int k = 0; k < FEAT_MAX_GENRES && gs[k] >= 0; k++)
                    if (gs[k] > 0 && gs[k] < 256)
                        cnt[gs[k]]++;
                used[i] = 1;
                out[got++] = ws->cand[i];
                want -= pass < 0;
            }
        if (fav > 0) /* the floor's picks back in rank order */
            qsort(out + start, (size_t)(got - start), sizeof(*out), cmp_item);
    }
    return got;
}

/* The genre a newcomer's list keeps a floor of: their strongest genre
 * preference when they are a newcomer (<= 2 * REC_FEW ratings, or only
 * interest tags) and it holds at least a third of the preference; else 0. */
static int floor_genre(const struct recommender *r, const struct rec_ws *ws)
{
    int best = 0;
    if (ws->few < 0.5f)
        return 0;
    for (int g = 1; g < r->ngenres; g++)
        if (ws->gpref[g] > ws->gpref[best])
            best = g;
    return ws->gpref[best] >= 1.0f / 3 ? best : 0;
}

int recommender_recommend(const struct recommender *r, struct rec_ws *ws, const struct rec_opts *o,
                          const struct rec_user *u, struct rec_item *out, int n,
                          struct error *err)
{
    int rc = 0, got;
    double t = now_ms(), t1;

    ws->ncand = 0;
    ws->ranked = 0;
    memset(ws->stage_ms, 0, sizeof(ws->stage_ms));
    if (n <= 0)
        return 0;
    mark_rated(r, u, ws);
    pick_liked(o, u, ws);
    make_profile(r, ws);
    genre_pref(r, u, ws);
    if (u->n == 0 || user_factor(r, u, ws))
        memset(ws->ufac, 0, (size_t)r->b->als.f * sizeof(*ws->ufac));
    t1 = now_ms();
    ws->stage_ms[REC_STAGE_USER] = t1 - t;
    t = t1;
    for (int c = 0; c < REC_NCHANNELS && !rc; c++) {
        int q = o->quota[c];
        if ((o->only >= 0 && o->only != c) || q <= 0)
            continue;
        if (o->only >= 0 && q < n)
            q = n;
        switch (c) {
        case REC_ITEMCF: rc = ch_itemcf(r, ws, q, err); break;
        case REC_EMBED: ch_embed(r, ws, q); break;
        case REC_ALS: ch_als(r, ws, q); break;
        case REC_COLD: ch_cold(r, o, u, ws, q); break;
        }
        t1 = now_ms();
        ws->stage_ms[REC_STAGE_ITEMCF + c] = t1 - t;
        t = t1;
    }
    if (rc) {
        unmark(r, u, ws);
        return -rc;
    }
    if (o->only < 0) {
        /* A user with nothing but interest tags: the deep model and the
         * blend know nothing of them (no ratings), while the cold-start
         * channel's order is what they asked for — popular in their
         * genres, then in their group. Keep that order; the deep model
         * still gives each movie its probability. */
        int cold_only = ws->nliked == 0 && u->ngenres > 0;
        struct rec_opts o2 = *o;
        if (cold_only)
            o2.prerank = 0; /* rank() keeps every candidate in its place */
        rank(r, &o2, u, ws);
        for (int i = 0; cold_only && i < ws->ncand; i++)
            ws->cand[i].rank = (float)(ws->ncand - i);
    }
    t = now_ms();
    qsort(ws->cand, (size_t)ws->ncand, sizeof(*ws->cand), cmp_item);
    got = take_capped(r, ws, o->only < 0 ? o->genre_cap : 0,
                      o->only < 0 && o->genre_floor > 0 ? floor_genre(r, ws) : 0, o->genre_floor,
                      out, n);
    for (int i = 0; i < got; i++) {
        if (out[i].reason == REASON_CONTENT)
            out[i].because = closest_liked(r, ws, out[i].movie);
        for (int l = 0; l < ws->nliked && out[i].because >= 0; l++)
            if (ws->liked[l] == out[i].because)
                out[i].because_liked = ws->liked_score[l] >= o->like_min;
    }
    unmark(r, u, ws);
    ws->stage_ms[REC_STAGE_LIST] = now_ms() - t;
    return got;
}

/* ------------------------------------------------------------------ */
/* similar movies                                                       */

int recommender_similar(const struct recommender *r, struct rec_ws *ws, int row, float beta,
                        const uint8_t *exclude, struct rec_item *out, int n)
{
    const int T = r->emb.dim;
    const float *x;
    const int *ids = NULL;
    const float *sims = NULL;
    int nn = 0, got, k;

    if (row <= 0 || row >= r->n || n < 1)
        return 0;
    if (n > 100)
        n = 100;
    x = r->emb.vec + (size_t)row * T;
    /* the cosine's best, with room for item-CF to reorder them */
    k = n + 50 < ws->capcand ? n + 50 : ws->capcand;
    got = qindex_topk(&r->emb.qx, x, ws->mark, row, k, 32, ws->tmp, ws->qscratch);
    ws->ncand = 0;
    for (int i = 0; i < got; i++)
        if (!exclude || !exclude[ws->tmp[i].movie])
            add_cand(ws, ws->tmp[i].movie, ws->tmp[i].score, REC_EMBED, REASON_CONTENT, row, -1);
    if (row < r->nvocab && beta != 0.0f)
        nn = itemcf_neighbours(&r->b->cf, row, &ids, &sims);
    for (int t = 0; t < nn; t++) {
        int m = ids[t];
        if (m == row || (exclude && exclude[m]) || (ws->mark[m] & MARK_OUT))
            continue;
        if (!(ws->mark[m] & MARK_CAND))
            add_cand(ws, m, dotf(r->emb.vec + (size_t)m * T, x, T), REC_EMBED, REASON_CONTENT, row,
                     -1);
    }
    /* blend: the item-CF part by a lookup in the (short) neighbour list */
    for (int i = 0; i < ws->ncand; i++) {
        struct rec_item *c = &ws->cand[i];
        for (int t = 0; t < nn; t++)
            if (ids[t] == c->movie) {
                if (beta * sims[t] > c->score)
                    c->channel = REC_ITEMCF, c->reason = REASON_LIKED;
                c->score += beta * sims[t];
                break;
            }
        c->rank = c->score;
    }
    qsort(ws->cand, (size_t)ws->ncand, sizeof(*ws->cand), cmp_item);
    got = ws->ncand < n ? ws->ncand : n;
    memcpy(out, ws->cand, (size_t)got * sizeof(*out));
    for (int i = 0; i < ws->ncand; i++)
        ws->mark[ws->cand[i].movie] = r->gone[ws->cand[i].movie];
    ws->ncand = 0;
    return got;
}

/* ------------------------------------------------------------------ */
/* fitting the blend                                                    */

/* Solves a (n, n) x = b in double by Gaussian elimination with partial
 * pivoting; a and b are destroyed, x = b on return. -1 when singular. */
static int solve_small(double *a, double *b, int n)
{
    for (int k = 0; k < n; k++) {
        int p = k;
        for (int i = k + 1; i < n; i++)
            if (fabs(a[i * n + k]) > fabs(a[p * n + k]))
                p = i;
        if (fabs(a[p * n + k]) < 1e-12)
            return -1;
        if (p != k) {
            for (int j = 0; j < n; j++) {
                double t = a[k * n + j];
                a[k * n + j] = a[p * n + j];
                a[p * n + j] = t;
            }
            double t = b[k];
            b[k] = b[p];
            b[p] = t;
        }
        for (int i = k + 1; i < n; i++) {
            double f = a[i * n + k] / a[k * n + k];
            for (int j = k; j < n; j++)
                a[i * n + j] -= f * a[k * n + j];
            b[i] -= f * b[k];
        }
    }
    for (int i = n - 1; i >= 0; i--) {
        for (int j = i + 1; j < n; j++)
            b[i] -= a[i * n + j] * b[j];
        b[i] /= a[i * n + i];
    }
    return 0;
}

int rec_blend_fit(const float *x, const uint8_t *y, int64_t n, struct rec_blend *out,
                  struct error *err)
{
    enum { K = BLEND_NFEAT, P = BLEND_NFEAT + 1 }; /* weights, then the bias */
    double mean[K] = {0}, sd[K] = {0}, w[P] = {0};
    int64_t npos = 0;
    const double l2 = 1e-5;

    memset(out, 0, sizeof(*out));
    for (int64_t i = 0; i < n; i++) {
        npos += y[i] != 0;
        for (int k = 0; k < K; k++)
            mean[k] += x[i * K + k];
    }
    if (npos == 0 || npos == n)
        return error_set(err, ERR_NOTFOUND,
                         "cannot fit the ranker's blend: %lld candidates, %lld positive",
                         (long long)n, (long long)npos);
    for (int k = 0; k < K; k++)
        mean[k] /= (double)n;
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < K; k++) {
            double d = x[i * K + k] - mean[k];
            sd[k] += d * d;
        }
    for (int k = 0; k < K; k++) {
        sd[k] = sqrt(sd[k] / (double)n);
        if (!(sd[k] > 1e-8))
            sd[k] = 1;
    }
    w[K] = log((double)npos / (double)(n - npos));
    for (int it = 0; it < 50; it++) {
        double h[P * P] = {0}, g[P] = {0}, z[P], step = 0;
        for (int64_t i = 0; i < n; i++) {
            double s = w[K], p, q;
            for (int k = 0; k < K; k++) {
                z[k] = (x[i * K + k] - mean[k]) / sd[k];
                s += w[k] * z[k];
            }
            z[K] = 1;
            p = 1.0 / (1.0 + exp(-s));
            q = p * (1 - p);
            for (int a = 0; a < P; a++) {
                g[a] += (p - (y[i] != 0)) * z[a];
                for (int b = 0; b <= a; b++)
                    h[a * P + b] += q * z[a] * z[b];
            }
        }
        for (int a = 0; a < P; a++)
            for (int b = a + 1; b < P; b++)
                h[a * P + b] = h[b * P + a];
        for (int k = 0; k < K; k++) { /* L2 on the weights, scaled by n */
            g[k] += l2 * (double)n * w[k];
            h[k * P + k] += l2 * (double)n;
        }
        if (solve_small(h, g, P))
            return error_set(err, ERR_INTEGRITY, "the ranker's blend did not converge");
        for (int a = 0; a < P; a++) {
            w[a] -= g[a];
            step += fabs(g[a]);
        }
        if (step < 1e-7)
            break;
    }
    for (int k = 0; k < K; k++) {
        if (!isfinite(w[k]))
            return error_set(err, ERR_INTEGRITY, "the ranker's blend did not converge");
        out->mean[k] = (float)mean[k];
        out->scale[k] = (float)sd[k];
        out->w[k] = (float)w[k];
    }
    out->bias = (float)w[K];
    out->fitted = 1;
    return 0;
}

void rec_reason_text(const struct recommender *r, const struct rec_item *it,
                     const char *(*title)(void *ctx, int row), void *ctx, char *buf, size_t cap)
{
    const char *t = it->because >= 0 && title ? title(ctx, it->because) : NULL;
    switch (it->reason) {
    case REASON_LIKED:
        if (t) {
            snprintf(buf, cap, "because you %s %s", it->because_liked ? "liked" : "watched", t);
            return;
        }
        break;
    case REASON_CONTENT:
        if (t) {
            snprintf(buf, cap, "like %s, which you %s", t,
                     it->because_liked ? "liked" : "watched");
            return;
        }
        break;
    case REASON_TASTE:
        snprintf(buf, cap, "people with similar taste watched it");
        return;
    case REASON_GENRE:
        if (it->genre > 0 && it->genre <= r->v->genres.n) {
            snprintf(buf, cap, "popular in %s", r->v->genres.s[it->genre - 1]);
            return;
        }
        break;
    case REASON_GROUP:
        snprintf(buf, cap, "popular with people like you");
        return;
    case REASON_POPULAR:
        break;
    }
    snprintf(buf, cap, "popular on movierec");
}
