/*
 * train.h - training the model on a dataset: labels, splits, negative
 * sampling, epochs over threads, evaluation, early stopping.
 *
 * Labels (docs/MODEL.md):
 *   TRAIN_WATCH  every rating is a positive; each epoch draws `negatives`
 *                unrated movies per positive; each user's latest rating is
 *                held out and ranked among 100 sampled unrated movies.
 *   TRAIN_LIKE   rated pairs only, label 1 when score >= like_threshold;
 *                a random 10% of the ratings is held out.
 *
 * The same seed and thread count give the same model.
 */
#ifndef MOVIEREC_TRAIN_H
#define MOVIEREC_TRAIN_H

#include <stdint.h>

#include "dataset.h"
#include "model.h"

enum train_label { TRAIN_WATCH = 0, TRAIN_LIKE = 1 };

struct train_epoch;

struct train_opts {
    enum train_label label;
    int epochs;          /* at most this many */
    int patience;        /* stop after this many epochs without a better metric */
    uint64_t seed;
    int threads;
    int batch;
    float lr;
    int negatives;       /* watch: per positive */
    float like_threshold;
    float id_dropout;
    int eval_negatives;  /* watch: 100 */
    /* Called after each epoch and during it (done/total samples);
     * may be NULL. */
    void (*on_progress)(void *ctx, int epoch, int64_t done, int64_t total, double loss);
    void (*on_epoch)(void *ctx, const struct train_epoch *e);
    void *ctx;
};

struct train_epoch {
    int epoch;               /* 1-based */
    double train_loss;       /* mean over the epoch */
    double val_logloss, val_auc;
    double hr10, ndcg10;     /* watch only, else -1 */
    double seconds;          /* training time of the epoch, without evaluation */
    double samples_per_s;
    int best;                /* the best so far by the stopping metric */
};

void train_opts_default(struct train_opts *o, enum train_label label);
const char *train_label_name(enum train_label l);

#define TRAIN_MAX_EPOCHS 200

struct train_result {
    int nepochs;
    struct train_epoch epochs[TRAIN_MAX_EPOCHS];
    int best_epoch;               /* index into epochs */
    double train_seconds;         /* all epochs, training only */
    int64_t train_samples;
    double score_pairs_per_s;     /* inference speed measured in evaluation */
};

/* Trains m (initialised by the caller) on d; m ends holding the weights
 * of the best epoch. */
int train_run(struct model *m, const struct dataset *d, const struct train_opts *o,
              struct train_result *r, struct error *err);

/* The validation split and metrics, on their own (evaluate). */
struct eval_metrics {
    double logloss, auc, hr10, ndcg10; /* -1 when not measured */
    int64_t pairs;
    double pairs_per_s;
};
int train_evaluate(const struct model *m, const struct dataset *d, const struct train_opts *o,
                   struct eval_metrics *out, struct error *err);

/* The watch split's held-out rating of user u: the index (into d's
 * ratings) of their latest rating (ties: the higher movie index), or -1
 * when the user has fewer than 2 ratings or fewer than neg unrated movies
 * to rank it against. */
int64_t train_latest(const struct dataset *d, int u, int neg);

/* Scores pairs of user and movie features; prob (n,). Batches inside. */
int model_score(const struct model *m, const struct user_feat *u, const struct movie_feat *mv,
                int n, float *prob, struct error *err);

double metric_auc(const float *score, const float *label, int64_t n);

#endif
