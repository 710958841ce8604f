/*
 * pipeline_eval.h - `movierec evaluate --pipeline`: every recall channel,
 * the deep model and the whole pipeline on the leave-one-out split
 * (docs/EVALUATION.md).
 *
 * Each user's latest rating is held out (train_latest(), the split the
 * watch model was trained with, so the deep model never saw it); the
 * recall channels are trained here on the other ratings. Per method:
 *   Recall@20, NDCG@20   full ranking: the top 20 of every movie the user
 *                        has not rated; with one held-out movie Recall@20
 *                        is the share of users whose movie is in it
 *   HR@10, NDCG@10       the held-out movie among `negatives` (100)
 *                        sampled unrated movies, by the method's scores
 *                        (ties count against it; a movie a channel does
 *                        not return scores below all it does)
 *   coverage             distinct movies in all top-10 lists / catalogue
 *   diversity            intra-list genre diversity of a top-10 list: the
 *                        mean over its pairs of 1 - Jaccard(genres), averaged
 *                        over users (0: all the same genres, 1: none shared)
 * "ranker" is the pipeline's ranker (the blend) applied to every movie,
 * not only the recalled ones: what `movierec score` serves.
 * The similar-* rows rank the movies similar to the user's latest kept
 * rating (recommender_similar(); the user's rated movies left out) as a
 * guess at the held-out one: how well "similar movies" lead on.
 * "pipeline-deep" ranks the candidates by the deep model alone;
 * "pipeline" by the blend (bundle.h, struct rec_blend), fitted by 2-fold
 * cross-fitting over users: the blend that ranks a user's list was fitted
 * on the other half of the users, never on the movie being predicted.
 */
#ifndef MOVIEREC_PIPELINE_EVAL_H
#define MOVIEREC_PIPELINE_EVAL_H

#include "pipeline.h"

enum pe_method { PE_POPULAR, PE_ITEMCF, PE_EMBED, PE_ALS, PE_COLD, PE_DEEP, PE_PIPE_DEEP,
                 PE_PIPELINE, PE_RANKER,
                 PE_PIPE_NEW, /* the pipeline for the user as a newcomer: their
                               * PE_NEW_RATINGS latest ratings, an unknown id */
                 /* similar movies of the user's latest kept rating, as a
                  * guess at the next one: deep cosine, item-CF, blend */
                 PE_SIM_DEEP, PE_SIM_ITEMCF, PE_SIM_BLEND, PE_NMETHODS };

#define PE_NEW_RATINGS 5

const char *pe_method_name(enum pe_method m);

struct pe_row {
    double recall20, ndcg20, hr10, ndcg10, coverage, diversity;
};

struct pe_result {
    int users;      /* users evaluated */
    int negatives;
    int catalogue;  /* recommendable movies */
    double seconds; /* the whole evaluation, recall training included */
    double train_seconds; /* of which training the recall channels */
    float similar_beta;   /* the blend evaluated in similar-blend */
    struct pe_row rows[PE_NMETHODS];
    struct rec_blend blend[2], pre[2]; /* fitted on each half */
};

struct pe_opts {
    struct recall_bundle_opts bundle;
    struct rec_opts rec;
    int threads;
    int negatives; /* 100 */
    uint64_t seed;
    int max_users; /* 0: all */
    float similar_beta; /* REC_SIMILAR_BETA */
    void (*on_progress)(void *ctx, int done, int total);
    void *ctx;
};

void pe_opts_default(struct pe_opts *o);

/* Fits the ranker: for users[i] with held-out rating held[i] (an index
 * into d's ratings; i < n), the pipeline's candidates from r (recall
 * trained without the held-out ratings) are labelled 1 for the held-out
 * movie, 0 otherwise. First the pre-ranker on every candidate's recall
 * features (*pre), then the blend on the candidates that pre-ranker keeps
 * (o->prerank of them, with the deep model's logits: *out). Users whose
 * held-out movie is not among the candidates add nothing. At most
 * max_users (0: all) users are used, spread evenly. */
int pe_fit_blend(const struct dataset *d, const struct recommender *r, const struct rec_opts *o,
                 const int *users, const int64_t *held, int n, int max_users,
                 struct rec_blend *pre, struct rec_blend *out, struct error *err);

/* What `movierec train` does to fit the blend it saves with the recall
 * bundle: recall channels trained on d without each user's latest rating
 * (the watch model's split, so m never saw those either), then
 * pe_fit_blend() on every such user (at most max_users). d must be read
 * with v, the watch model's vocabulary. */
int pe_fit_blend_split(const struct dataset *d, const struct model *m, const struct vocab *v,
                       const struct recall_bundle_opts *bo, const struct rec_opts *ro,
                       int max_users, struct rec_blend *pre, struct rec_blend *out,
                       struct error *err);

/* d: the store read with the model's vocabulary (dataset_load_with_vocab);
 * m, v: the watch model. */
int pipeline_evaluate(const struct dataset *d, const struct model *m, const struct vocab *v,
                      const struct pe_opts *o, struct pe_result *out, struct error *err);

#endif
