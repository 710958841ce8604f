/*
 * bundle.h - the recall models trained from the ratings, saved together
 * beside the deep models: models/recall/<version>/
 *   recall.safetensors  popularity, item-CF neighbours, ALS factors and the
 *                       popular lists per demographic group, with the user
 *                       and movie ids they index (so a bundle can be used
 *                       with any vocabulary) and a CRC-32 in its metadata
 *   meta.json           options, sizes, data set and time
 * written like modelfile.h's versions: a temporary folder, fsync, rename.
 *
 * In memory every table is indexed by the movie and user indexes of one
 * vocabulary (features.h; row 0 = unknown). recall_bundle_load() maps the
 * saved ids onto the vocabulary it is given: a movie or user the bundle
 * never saw gets an empty row (no neighbours, a zero factor, count 0).
 * `struct recall_bundle` owns everything; recall_bundle_free() releases it.
 * A loaded bundle is read-only and may be shared by threads.
 */
#ifndef MOVIEREC_BUNDLE_H
#define MOVIEREC_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "../model/dataset.h"
#include "../model/features.h"
#include "../util/error.h"
#include "als.h"
#include "itemcf.h"
#include "popularity.h"

/* Demographic groups: gender (0 unknown, 1 M, 2 F) x age bucket (0..7). */
#define BUNDLE_NGROUPS (FEAT_GENDERS * FEAT_AGE_BUCKETS)
#define BUNDLE_GROUP_K 200 /* popular movies kept per group */

static inline int bundle_group(const struct user_feat *u)
{
    return u->gender * FEAT_AGE_BUCKETS + u->age;
}

/* The final ranker: a logistic blend of the deep model's logit with the
 * recall channels' scores for the same candidate (docs/MODEL.md, "The
 * ranker's inputs"). Features, in this order: */
enum blend_feature {
    BLEND_DEEP,     /* the watch model's logit */
    BLEND_ALS,      /* the ALS score x_u . y_i (folded-in user factor) */
    BLEND_ITEMCF,   /* item-CF similarity to the recent movies, by recency weight */
    BLEND_CONTENT,  /* cosine of the movie's tower vector with the recent-content profile */
    BLEND_POP,      /* log(1 + the movie's rating count) */
    BLEND_ZDEEP,    /* the first four as z-scores within this user's candidates: */
    BLEND_ZALS,     /*   the scales of ALS and item-CF scores differ from user to */
    BLEND_ZITEMCF,  /*   user; within one list only the order counts */
    BLEND_ZCONTENT,
    BLEND_LASTCF,   /* item-CF similarity to the latest movie alone */
    BLEND_LASTCOS,  /* tower-vector cosine with the latest movie alone */
    BLEND_GENRE,    /* the movie's genres in the user's genre preference (recent
                     * movies by recency and score, and interest tags), weighed
                     * by how few ratings the user has (pipeline.c) */
    BLEND_NFEAT
};

/* score = bias + sum_k w[k] * (x[k] - mean[k]) / scale[k]; fitted = 0
 * means "not fitted": the deep logit alone ranks. */
struct rec_blend {
    int fitted;
    float mean[BLEND_NFEAT], scale[BLEND_NFEAT], w[BLEND_NFEAT], bias;
};

struct recall_bundle_opts {
    struct itemcf_opts cf;
    struct als_opts als;
    float pop_min_score; /* popularity counts ratings >= this; default 0 (every rating) */
    float pop_damping;   /* default 10 */
    int threads;         /* default 2 */
    uint64_t seed;
};

void recall_bundle_opts_default(struct recall_bundle_opts *o);

struct recall_bundle {
    int nusers, nmovies;     /* the vocabulary's sizes, unknown rows included */
    struct popularity pop;   /* (nmovies) */
    struct itemcf cf;        /* (nmovies) */
    struct als als;          /* user (nusers, f), item (nmovies, f) */
    struct als_opts als_opts; /* as trained: fold-in needs the same */
    int *group_top;          /* (BUNDLE_NGROUPS, BUNDLE_GROUP_K) movie indexes, best
                              * first, -1 padding */
    int64_t nratings;        /* ratings it was trained on */
    struct rec_blend blend;  /* fitted by train (pipeline_eval.h), saved with the bundle */
    struct rec_blend pre;    /* the pre-ranker: a blend of the recall features alone
                              * (w = 0 on the deep ones), picks what the deep model ranks */
};

/* Trains every channel on d's ratings, or on a subset: keep (nratings,)
 * or NULL; keep[r] == 0 leaves rating r out (the evaluation's held-out
 * ratings). */
int recall_bundle_build(struct recall_bundle *b, const struct dataset *d, const uint8_t *keep,
                        const struct recall_bundle_opts *o, struct error *err);
void recall_bundle_free(struct recall_bundle *b);

/* Saves a new version under dir (models/recall), ids from v (the vocab
 * the bundle is indexed by); meta_json (may be NULL) is written as
 * meta.json. *version gets the number, path_out (cap bytes) the folder. */
int recall_bundle_save(const char *dir, const struct recall_bundle *b, const struct vocab *v,
                       const char *meta_json, int *version, char *path_out, size_t cap,
                       struct error *err);

/* Loads version `version` (0: the latest) from dir, checked (format,
 * shapes, bounds, checksum), remapped onto v's indexes: neighbours and
 * group entries whose movie v does not know are dropped, the rest keep
 * their order; row 0 (unknown) is never saved and loads empty. *loaded
 * (may be NULL) gets the version. ERR_NOTFOUND when there is none;
 * ERR_FORMAT / ERR_INTEGRITY for a damaged one (the message names the
 * file), b left empty. The file's layout: bundle.c. */
int recall_bundle_load(const char *dir, int version, const struct vocab *v,
                       struct recall_bundle *b, int *loaded, struct error *err);

#endif
