/*
 * bundle.c - the recall models on disk: recall_bundle_save(),
 * recall_bundle_load(), recall_bundle_free() (bundle.h; training is in
 * bundle_build.c).
 *
 * models/recall/<N>/recall.safetensors holds, with U the saved user ids
 * and M the saved movie ids (the vocabulary's, ascending; the unknown
 * row 0 is not saved), every table in id order:
 *   user_ids          I64 (U,)
 *   movie_ids         I64 (M,)
 *   popularity.count  I32 (M,)     popularity.nrated I32 (M,)
 *   popularity.mean   F32 (M,)
 *   itemcf.npos       I32 (M,)     itemcf.nn I32 (M,)
 *   itemcf.nbr        I32 (M, n)   neighbours as rows of movie_ids, -1 padding
 *   itemcf.sim        F32 (M, n)   0 padding
 *   als.user          F32 (U, f)   als.item F32 (M, f)
 *   group_top         I32 (BUNDLE_NGROUPS, K)  rows of movie_ids, -1 padding
 * and metadata format=movierec-recall, version=1, global_mean, nratings,
 * itemcf_neighbours (n), als_factors (f), crc32 (tensorfile.h).
 * Rows are positions, not ids, so the file needs no lookups of its own;
 * loading maps each row's id onto the vocabulary it is given.
 */
#include "bundle.h"

#include "../util/fs.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../model/tensorfile.h"
#include "../model/versiondir.h"

#define BUNDLE_FILE "recall.safetensors"
#define BUNDLE_FORMAT "movierec-recall"
#define BUNDLE_VERSION "1"
#define MAX_NEIGHBOURS 100000
#define MAX_FACTORS 65536

void recall_bundle_free(struct recall_bundle *b)
{
    popularity_free(&b->pop);
    itemcf_free(&b->cf);
    als_free(&b->als);
    free(b->group_top);
    memset(b, 0, sizeof(*b));
}

/* ------------------------------------------------------------------ */
/* saving                                                               */

/* A blend as (4, BLEND_NFEAT): mean, scale, w, {fitted, bias, 0...}. */
static void blend_pack(const struct rec_blend *bl, float *t)
{
    memset(t, 0, 4 * BLEND_NFEAT * sizeof(*t));
    for (int k = 0; k < BLEND_NFEAT; k++) {
        t[k] = bl->mean[k];
        t[BLEND_NFEAT + k] = bl->scale[k];
        t[2 * BLEND_NFEAT + k] = bl->w[k];
    }
    t[3 * BLEND_NFEAT] = (float)bl->fitted;
    t[3 * BLEND_NFEAT + 1] = bl->bias;
}

static void blend_unpack(struct rec_blend *bl, const float *t)
{
    for (int k = 0; k < BLEND_NFEAT; k++) {
        bl->mean[k] = t[k];
        bl->scale[k] = t[BLEND_NFEAT + k];
        bl->w[k] = t[2 * BLEND_NFEAT + k];
    }
    bl->fitted = t[3 * BLEND_NFEAT] != 0;
    bl->bias = t[3 * BLEND_NFEAT + 1];
}

/* A packed blend of BLEND_NFEAT - 1 features (the last one new) as one
 * of BLEND_NFEAT: the new feature gets mean 0, scale 1, weight 0. */
static void blend_widen(const float *old, float *t)
{
    const int K = BLEND_NFEAT - 1;
    memset(t, 0, 4 * BLEND_NFEAT * sizeof(*t));
    for (int k = 0; k < K; k++) {
        t[k] = old[k];
        t[BLEND_NFEAT + k] = old[K + k];
        t[2 * BLEND_NFEAT + k] = old[2 * K + k];
    }
    t[BLEND_NFEAT + K] = 1;
    t[3 * BLEND_NFEAT] = old[3 * K];
    t[3 * BLEND_NFEAT + 1] = old[3 * K + 1];
}

/* "" when t is a valid packed blend, else what is wrong. */
static const char *blend_check(const float *t)
{
    for (int i = 0; i < 4 * BLEND_NFEAT; i++)
        if (!isfinite(t[i]))
            return "a number that is not finite";
    if (t[3 * BLEND_NFEAT] != 0 && t[3 * BLEND_NFEAT] != 1)
        return "a bad 'fitted' flag";
    for (int k = 0; k < BLEND_NFEAT && t[3 * BLEND_NFEAT] != 0; k++)
        if (!(t[BLEND_NFEAT + k] > 0))
            return "a scale that is not positive";
    return "";
}

/* The bundle's tables have the vocabulary's sizes and their arrays. */
static int check_shapes(const struct recall_bundle *b, const struct vocab *v, struct error *err)
{
    int nu = v->nusers + 1, nm = v->nmovies + 1;
    if (b->nusers != nu || b->nmovies != nm)
        return error_set(err, ERR_USAGE,
                         "the recall models have %d users and %d movies, the vocabulary %d and %d",
                         b->nusers - 1, b->nmovies - 1, v->nusers, v->nmovies);
    if (b->pop.nmovies != nm || !b->pop.count || !b->pop.nrated || !b->pop.mean)
        return error_set(err, ERR_USAGE, "the recall models' popularity does not fit the movies");
    if (b->cf.nmovies != nm || b->cf.n < 0 || !b->cf.npos || !b->cf.nn ||
        (b->cf.n > 0 && (!b->cf.nbr || !b->cf.sim)))
        return error_set(err, ERR_USAGE, "the recall models' item-CF does not fit the movies");
    if (b->als.nusers != nu || b->als.nmovies != nm || b->als.f < 0 ||
        (b->als.f > 0 && (!b->als.user || !b->als.item)))
        return error_set(err, ERR_USAGE,
                         "the recall models' ALS factors do not fit the vocabulary");
    if (!b->group_top)
        return error_set(err, ERR_USAGE, "the recall models have no group lists");
    return 0;
}

/* A movie index of the bundle as a row of the file: index - 1. */
static int movie_row(int m, int nmovies)
{
    return m >= 1 && m < nmovies ? m - 1 : -2;
}

int recall_bundle_save(const char *dir, const struct recall_bundle *b, const struct vocab *v,
                       const char *meta_json, int *version, char *path_out, size_t cap,
                       struct error *err)
{
    const int U = v->nusers, M = v->nmovies, n = b->cf.n, f = b->als.f;
    const int G = BUNDLE_NGROUPS, K = BUNDLE_GROUP_K;
    int *nbr = NULL, *nn = NULL, *top = NULL, rc;
    char tmp[4096], p[4200], gm[32], nr[32], ns[32], fs[32];

    if ((rc = check_shapes(b, v, err)))
        return rc;
    nbr = malloc(sizeof(int) * ((size_t)M * (size_t)n + 1));
    nn = malloc(sizeof(int) * ((size_t)M + 1));
    top = malloc(sizeof(int) * (size_t)G * (size_t)K);
    if (!nbr || !nn || !top) {
        rc = error_set(err, ERR_NOMEM, "out of memory saving the recall models");
        goto out;
    }
    for (int r = 0; r < M; r++) {
        int m = r + 1, k = b->cf.nn[m];
        if (k < 0 || k > n) {
            rc = error_set(err, ERR_USAGE, "movie %d has %d item-CF neighbours (at most %d)", m, k,
                           n);
            goto out;
        }
        nn[r] = k;
        for (int j = 0; j < n; j++) {
            int row = j < k ? movie_row(b->cf.nbr[(size_t)m * n + j], b->nmovies) : -1;
            if (row == -2) {
                rc = error_set(err, ERR_USAGE, "movie %d has a neighbour %d out of range", m,
                               b->cf.nbr[(size_t)m * n + j]);
                goto out;
            }
            nbr[(size_t)r * n + j] = row;
        }
    }
    for (int i = 0; i < G * K; i++) {
        int row = b->group_top[i] == -1 ? -1 : movie_row(b->group_top[i], b->nmovies);
        if (row == -2) {
            rc = error_set(err, ERR_USAGE, "group %d lists movie %d, out of range", i / K,
                           b->group_top[i]);
            goto out;
        }
        top[i] = row;
    }

    /* the ALS options fold-in needs; the blend: mean, scale, w, {fitted, bias} */
    float aopts[4] = {b->als_opts.lambda, b->als_opts.alpha, (float)b->als_opts.use_score,
                      b->als_opts.min_score};
    float blend[4 * BLEND_NFEAT], preb[4 * BLEND_NFEAT];
    blend_pack(&b->blend, blend);
    blend_pack(&b->pre, preb);

    /* Row 0 (unknown) is skipped: every table starts at index 1. */
    const struct tensorfile_tensor t[] = {
        {"user_ids", TF_I64, 1, {U}, v->user_ids},
        {"movie_ids", TF_I64, 1, {M}, v->movie_ids},
        {"popularity.count", TF_I32, 1, {M}, b->pop.count + 1},
        {"popularity.nrated", TF_I32, 1, {M}, b->pop.nrated + 1},
        {"popularity.mean", TF_F32, 1, {M}, b->pop.mean + 1},
        {"itemcf.npos", TF_I32, 1, {M}, b->cf.npos + 1},
        {"itemcf.nn", TF_I32, 1, {M}, nn},
        {"itemcf.nbr", TF_I32, 2, {M, n}, nbr},
        {"itemcf.sim", TF_F32, 2, {M, n}, n ? b->cf.sim + n : NULL},
        {"als.user", TF_F32, 2, {U, f}, f ? b->als.user + f : NULL},
        {"als.item", TF_F32, 2, {M, f}, f ? b->als.item + f : NULL},
        {"group_top", TF_I32, 2, {G, K}, top},
        {"als.opts", TF_F32, 1, {4}, aopts},
        {"ranker.blend", TF_F32, 2, {4, BLEND_NFEAT}, blend},
        {"ranker.pre", TF_F32, 2, {4, BLEND_NFEAT}, preb},
    };
    snprintf(gm, sizeof(gm), "%.9g", (double)b->pop.global_mean);
    snprintf(nr, sizeof(nr), "%lld", (long long)b->nratings);
    snprintf(ns, sizeof(ns), "%d", n);
    snprintf(fs, sizeof(fs), "%d", f);
    const char *keys[] = {"format", "version", "global_mean", "nratings", "itemcf_neighbours",
                          "als_factors"};
    const char *vals[] = {BUNDLE_FORMAT, BUNDLE_VERSION, gm, nr, ns, fs};

    if ((rc = versiondir_begin(dir, tmp, sizeof(tmp), err)))
        goto out;
    snprintf(p, sizeof(p), "%s/" BUNDLE_FILE, tmp);
    if ((rc = tensorfile_write(p, t, (int)(sizeof(t) / sizeof(t[0])), keys, vals,
                               (int)(sizeof(keys) / sizeof(keys[0])), err)))
        goto abort;
    snprintf(p, sizeof(p), "%s/meta.json", tmp);
    if ((rc = fs_write_text(p, meta_json ? meta_json : "{}\n", err)))
        goto abort;
    rc = versiondir_commit(dir, tmp, version, path_out, cap, err);
    goto out;
abort:
    versiondir_abort(tmp);
out:
    free(nbr);
    free(nn);
    free(top);
    return rc;
}

/* ------------------------------------------------------------------ */
/* loading                                                              */

struct loader {
    const char *path;
    const struct tensorfile *tf;
    struct error *err;
};

/* The tensor name with that dtype and shape (-1: any, copied back). */
static const void *need(struct loader *l, const char *name, enum tensorfile_dtype dtype, int ndim,
                        int64_t *dims, int *rc)
{
    int64_t got[TENSORFILE_MAX_DIMS];
    const void *p = tensorfile_get(l->tf, name, dtype, ndim, got);
    if (!p) {
        *rc = error_set(l->err, ERR_FORMAT,
                        "'%s': tensor '%s' is missing or not %s with %d dimension%s", l->path,
                        name, tensorfile_dtype_name(dtype), ndim, ndim == 1 ? "" : "s");
        return NULL;
    }
    for (int k = 0; k < ndim; k++) {
        if (dims[k] >= 0 && got[k] != dims[k]) {
            *rc = error_set(l->err, ERR_FORMAT,
                            "'%s': tensor '%s' has %lld in dimension %d, the other tables %lld",
                            l->path, name, (long long)got[k], k, (long long)dims[k]);
            return NULL;
        }
        dims[k] = got[k];
    }
    return p;
}

static int meta_num(struct loader *l, const char *key, double *out)
{
    const char *s = tensorfile_meta(l->tf, key);
    char *end;
    if (!s || !*s)
        return error_set(l->err, ERR_FORMAT, "'%s': no '%s' in its metadata", l->path, key);
    errno = 0;
    *out = strtod(s, &end);
    if (*end || errno || !isfinite(*out))
        return error_set(l->err, ERR_FORMAT, "'%s': metadata '%s' is not a number: '%.40s'",
                         l->path, key, s);
    return 0;
}

static int all_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

static int strictly_ascending(const int64_t *x, int64_t n)
{
    for (int64_t i = 1; i < n; i++)
        if (x[i] <= x[i - 1])
            return 0;
    return 1;
}

static void *alloc0(size_t n, size_t size)
{
    return calloc(n ? n : 1, size);
}

/* Checks the file's tables against each other, then builds b on v. */
static int load_tables(struct loader *l, const struct vocab *v, struct recall_bundle *b)
{
    const struct tensorfile *tf = l->tf;
    const char *fmt = tensorfile_meta(tf, "format"), *ver = tensorfile_meta(tf, "version");
    int64_t U[1] = {-1}, M[1] = {-1}, MN[2], UF[2], MF[2], GK[2] = {BUNDLE_NGROUPS, -1};
    double gmean, nratings, n_meta, f_meta;
    int rc = 0, *mrow = NULL, *urow = NULL;

    if (!fmt || strcmp(fmt, BUNDLE_FORMAT) != 0)
        return error_set(l->err, ERR_FORMAT, "'%s' is not a movierec recall file (format '%s')",
                         l->path, fmt ? fmt : "");
    if (!ver || strcmp(ver, BUNDLE_VERSION) != 0)
        return error_set(l->err, ERR_FORMAT,
                         "'%s' is recall format version '%s'; this movierec reads '%s'", l->path,
                         ver ? ver : "", BUNDLE_VERSION);
    if ((rc = meta_num(l, "global_mean", &gmean)) || (rc = meta_num(l, "nratings", &nratings)) ||
        (rc = meta_num(l, "itemcf_neighbours", &n_meta)) ||
        (rc = meta_num(l, "als_factors", &f_meta)))
        return rc;

    const int64_t *user_ids = need(l, "user_ids", TF_I64, 1, U, &rc);
    if (!user_ids)
        return rc;
    const int64_t *movie_ids = need(l, "movie_ids", TF_I64, 1, M, &rc);
    if (!movie_ids)
        return rc;
    if (U[0] > INT32_MAX - 1 || M[0] > INT32_MAX - 1)
        return error_set(l->err, ERR_FORMAT, "'%s': too many users or movies", l->path);
    MN[0] = M[0], MN[1] = -1;
    UF[0] = U[0], UF[1] = -1;
    MF[0] = M[0], MF[1] = -1;
    const int *count = need(l, "popularity.count", TF_I32, 1, M, &rc);
    const int *nrated = count ? need(l, "popularity.nrated", TF_I32, 1, M, &rc) : NULL;
    const float *mean = nrated ? need(l, "popularity.mean", TF_F32, 1, M, &rc) : NULL;
    const int *npos = mean ? need(l, "itemcf.npos", TF_I32, 1, M, &rc) : NULL;
    const int *nn = npos ? need(l, "itemcf.nn", TF_I32, 1, M, &rc) : NULL;
    const int *nbr = nn ? need(l, "itemcf.nbr", TF_I32, 2, MN, &rc) : NULL;
    const float *sim = nbr ? need(l, "itemcf.sim", TF_F32, 2, MN, &rc) : NULL;
    const float *auser = sim ? need(l, "als.user", TF_F32, 2, UF, &rc) : NULL;
    const float *aitem = auser ? need(l, "als.item", TF_F32, 2, MF, &rc) : NULL;
    const int *top = aitem ? need(l, "group_top", TF_I32, 2, GK, &rc) : NULL;
    int64_t AO[1] = {4}, BL[2] = {4, -1}, BL2[2] = {4, -1};
    const float *aopts = top ? need(l, "als.opts", TF_F32, 1, AO, &rc) : NULL;
    const float *blend = aopts ? need(l, "ranker.blend", TF_F32, 2, BL, &rc) : NULL;
    const float *preb = blend ? need(l, "ranker.pre", TF_F32, 2, BL2, &rc) : NULL;
    if (!preb)
        return rc;
    /* bundles from before BLEND_GENRE have one feature less: it gets weight 0 */
    float blend_new[4 * BLEND_NFEAT], pre_new[4 * BLEND_NFEAT];
    if (BL[1] != BL2[1] || (BL[1] != BLEND_NFEAT && BL[1] != BLEND_NFEAT - 1))
        return error_set(l->err, ERR_FORMAT,
                         "'%s': the ranker has %lld and %lld features; this movierec knows %d",
                         l->path, (long long)BL[1], (long long)BL2[1], BLEND_NFEAT);
    if (BL[1] == BLEND_NFEAT - 1) {
        blend_widen(blend, blend_new);
        blend_widen(preb, pre_new);
        blend = blend_new;
        preb = pre_new;
    }
    if (UF[1] != MF[1])
        return error_set(l->err, ERR_FORMAT,
                         "'%s': ALS user factors have %lld numbers, item factors %lld", l->path,
                         (long long)UF[1], (long long)MF[1]);
    if (MN[1] > MAX_NEIGHBOURS || MF[1] > MAX_FACTORS || GK[1] > INT32_MAX)
        return error_set(l->err, ERR_FORMAT,
                         "'%s': implausible sizes (%lld neighbours, %lld factors)", l->path,
                         (long long)MN[1], (long long)MF[1]);
    if (n_meta != (double)MN[1] || f_meta != (double)MF[1])
        return error_set(l->err, ERR_FORMAT,
                         "'%s': its metadata says %g neighbours and %g factors, "
                         "its tables %lld and %lld",
                         l->path, n_meta, f_meta, (long long)MN[1], (long long)MF[1]);
    if (nratings < 0 || nratings != floor(nratings))
        return error_set(l->err, ERR_FORMAT, "'%s': bad nratings in its metadata", l->path);

    /* ---- the values ---- */
    /* Without movies the file's n and f carry no data (nor bound): keep 0. */
    const int nU = (int)U[0], nM = (int)M[0], gk = (int)GK[1];
    const int n = nM ? (int)MN[1] : 0, f = nM ? (int)MF[1] : 0;
#define BROKEN(...)                                                                                \
    do {                                                                                           \
        char what_[512];                                                                           \
        snprintf(what_, sizeof(what_), __VA_ARGS__);                                               \
        return error_set(l->err, ERR_INTEGRITY, "'%s' is damaged: %s", l->path, what_);           \
    } while (0)
    if (!strictly_ascending(user_ids, nU) || !strictly_ascending(movie_ids, nM))
        BROKEN("its user or movie ids do not ascend");
    for (int r = 0; r < nM; r++) {
        if (count[r] < 0 || nrated[r] < 0 || npos[r] < 0 || !isfinite(mean[r]))
            BROKEN("movie %lld has a negative count or a bad mean", (long long)movie_ids[r]);
        if (nn[r] < 0 || nn[r] > n)
            BROKEN("movie %lld has %d neighbours, at most %d", (long long)movie_ids[r], nn[r], n);
        for (int j = 0; j < n; j++) {
            int x = nbr[(size_t)r * n + j];
            if (j < nn[r] ? (x < 0 || x >= nM || !isfinite(sim[(size_t)r * n + j])) : x != -1)
                BROKEN("movie %lld has a bad neighbour (row %d, slot %d)", (long long)movie_ids[r],
                       x, j);
        }
    }
    for (int i = 0; i < BUNDLE_NGROUPS * gk; i++)
        if (top[i] < -1 || top[i] >= nM)
            BROKEN("group %d lists movie row %d of %d", i / (gk ? gk : 1), top[i], nM);
    if (!all_finite(auser, (size_t)nU * f) || !all_finite(aitem, (size_t)nM * f))
        BROKEN("its ALS factors are not all finite");
    if (!all_finite(aopts, 4) || !(aopts[0] > 0) || !(aopts[1] >= 0) ||
        (aopts[2] != 0 && aopts[2] != 1))
        BROKEN("its ALS options are out of range");
    if (*blend_check(blend))
        BROKEN("its ranker blend has %s", blend_check(blend));
    if (*blend_check(preb))
        BROKEN("its pre-ranker has %s", blend_check(preb));
#undef BROKEN

    /* ---- onto v ---- */
    const int vu = v->nusers + 1, vm = v->nmovies + 1;
    mrow = alloc0((size_t)nM, sizeof(int));
    urow = alloc0((size_t)nU, sizeof(int));
    b->pop.count = alloc0((size_t)vm, sizeof(int));
    b->pop.nrated = alloc0((size_t)vm, sizeof(int));
    b->pop.mean = alloc0((size_t)vm, sizeof(float));
    b->cf.npos = alloc0((size_t)vm, sizeof(int));
    b->cf.nn = alloc0((size_t)vm, sizeof(int));
    b->cf.nbr = alloc0((size_t)vm * n, sizeof(int));
    b->cf.sim = alloc0((size_t)vm * n, sizeof(float));
    b->als.user = alloc0((size_t)vu * f, sizeof(float));
    b->als.item = alloc0((size_t)vm * f, sizeof(float));
    b->group_top = alloc0((size_t)BUNDLE_NGROUPS * BUNDLE_GROUP_K, sizeof(int));
    if (!mrow || !urow || !b->pop.count || !b->pop.nrated || !b->pop.mean || !b->cf.npos ||
        !b->cf.nn || !b->cf.nbr || !b->cf.sim || !b->als.user || !b->als.item || !b->group_top) {
        rc = error_set(l->err, ERR_NOMEM, "out of memory loading '%s'", l->path);
        goto out;
    }
    b->nusers = vu;
    b->nmovies = vm;
    b->nratings = (int64_t)nratings;
    b->als_opts.factors = f;
    b->als_opts.lambda = aopts[0];
    b->als_opts.alpha = aopts[1];
    b->als_opts.use_score = aopts[2] != 0;
    b->als_opts.min_score = aopts[3];
    blend_unpack(&b->blend, blend);
    blend_unpack(&b->pre, preb);
    b->pop.nmovies = vm;
    b->pop.global_mean = (float)gmean;
    b->cf.nmovies = vm;
    b->cf.n = n;
    b->als.nusers = vu;
    b->als.nmovies = vm;
    b->als.f = f;
    for (int r = 0; r < nM; r++)
        mrow[r] = vocab_movie_index(v, movie_ids[r]);
    for (int r = 0; r < nU; r++)
        urow[r] = vocab_user_index(v, user_ids[r]);

    for (int m = 0; m < vm; m++)
        b->pop.mean[m] = (float)gmean; /* an unrated movie's damped mean */
    for (size_t i = 0; i < (size_t)vm * n; i++)
        b->cf.nbr[i] = -1;
    for (int r = 0; r < nM; r++) {
        int m = mrow[r], kept = 0;
        if (!m)
            continue;
        b->pop.count[m] = count[r];
        b->pop.nrated[m] = nrated[r];
        b->pop.mean[m] = mean[r];
        b->cf.npos[m] = npos[r];
        for (int j = 0; j < nn[r]; j++) {
            int to = mrow[nbr[(size_t)r * n + j]];
            if (!to)
                continue; /* a neighbour v does not know */
            b->cf.nbr[(size_t)m * n + kept] = to;
            b->cf.sim[(size_t)m * n + kept] = sim[(size_t)r * n + j];
            kept++;
        }
        b->cf.nn[m] = kept;
        if (f)
            memcpy(b->als.item + (size_t)m * f, aitem + (size_t)r * f, sizeof(float) * (size_t)f);
    }
    for (int r = 0; r < nU; r++)
        if (urow[r] && f)
            memcpy(b->als.user + (size_t)urow[r] * f, auser + (size_t)r * f,
                   sizeof(float) * (size_t)f);
    for (int g = 0; g < BUNDLE_NGROUPS; g++) {
        int *out = b->group_top + (size_t)g * BUNDLE_GROUP_K, kept = 0;
        for (int j = 0; j < gk && kept < BUNDLE_GROUP_K; j++) {
            int x = top[(size_t)g * gk + j];
            if (x >= 0 && mrow[x])
                out[kept++] = mrow[x];
        }
        while (kept < BUNDLE_GROUP_K)
            out[kept++] = -1;
    }
out:
    free(mrow);
    free(urow);
    return rc;
}

int recall_bundle_load(const char *dir, int version, const struct vocab *v,
                       struct recall_bundle *b, int *loaded, struct error *err)
{
    char folder[4096], path[4200];
    struct tensorfile tf;
    struct stat st;
    int rc, ver = 0;

    memset(b, 0, sizeof(*b));
    if ((rc = versiondir_find(dir, version, "recall models", folder, sizeof(folder), &ver, err))) {
        if (rc == ERR_NOTFOUND && version <= 0) {
            char m[sizeof(err->msg)];
            snprintf(m, sizeof(m), "%s", err->msg);
            error_set(err, ERR_NOTFOUND, "%.300s; run 'movierec train' first", m);
        }
        return rc;
    }
    snprintf(path, sizeof(path), "%s/" BUNDLE_FILE, folder);
    if (stat(path, &st) < 0 && errno == ENOENT)
        return error_set(err, ERR_INTEGRITY, "'%s' has no " BUNDLE_FILE " (an incomplete copy?)",
                         folder);
    if ((rc = tensorfile_read(path, &tf, err)))
        return rc;
    struct loader l = {path, &tf, err};
    rc = load_tables(&l, v, b);
    tensorfile_free(&tf);
    if (rc) {
        recall_bundle_free(b);
        return rc;
    }
    if (loaded)
        *loaded = ver;
    return 0;
}
