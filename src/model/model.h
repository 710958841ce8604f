/*
 * model.h - the paper's two-tower model (docs/MODEL.md): parameters,
 * forward and backward over a batch.
 *
 * struct model owns one nn_params block (values, grads, Adam moments).
 * struct model_acts holds one thread's activations and gradients for
 * batches of up to `cap` samples; each training thread has its own and
 * writes its parameter gradients into a grad block of its own (same
 * layout as model->params.data), which the trainer sums.
 */
#ifndef MOVIEREC_MODEL_H
#define MOVIEREC_MODEL_H

#include <stdint.h>

#include "../nn/nn.h"
#include "../util/error.h"
#include "features.h"

#define MODEL_NCONV 4 /* window sizes conv_min .. conv_min + 3 */

struct model_config {
    int user_emb, gender_emb, age_emb, occ_emb; /* 32 16 16 16 */
    int movie_emb, genre_emb, word_emb;         /* 32 32 32 */
    int attr_fc;                                /* 32, per-attribute FC */
    int tower;                                  /* 200 */
    int conv_filters, conv_min;                 /* 8 filters, windows 2..5 */
    int hidden1, hidden2;                       /* 256 128 */
    float title_dropout;                        /* 0.5 */
    /* vocabulary sizes, unknown rows included */
    int nusers, noccs, nmovies, ngenres, nwords;
};

/* The defaults of docs/MODEL.md, with vocabulary sizes from v. */
void model_config_default(struct model_config *c, const struct vocab *v);

enum model_param {
    P_UID_EMB, P_GEN_EMB, P_AGE_EMB, P_OCC_EMB,
    P_UID_FC_W, P_UID_FC_B, P_GEN_FC_W, P_GEN_FC_B, P_AGE_FC_W, P_AGE_FC_B, P_OCC_FC_W, P_OCC_FC_B,
    P_UFC_W, P_UFC_B,
    P_MID_EMB, P_GENRE_EMB, P_WORD_EMB,
    P_CONV_W0, P_CONV_B0, P_CONV_W1, P_CONV_B1, P_CONV_W2, P_CONV_B2, P_CONV_W3, P_CONV_B3,
    P_MID_FC_W, P_MID_FC_B, P_GENRE_FC_W, P_GENRE_FC_B, P_TITLE_FC_W, P_TITLE_FC_B,
    P_MFC_W, P_MFC_B,
    P_H1_W, P_H1_B, P_H2_W, P_H2_B, P_OUT_W, P_OUT_B,
    P_COUNT
};

struct model {
    struct model_config cfg;
    struct nn_params params;
    int idx[P_COUNT]; /* tensor index of each parameter in params */
};

/* Lays out and allocates the parameters (uninitialised). */
int model_init(struct model *m, const struct model_config *c, struct error *err);
/* PyTorch-default initialisation from a seed (docs/MODEL.md). */
void model_init_weights(struct model *m, uint64_t seed);
void model_free(struct model *m);

static inline float *model_p(const struct model *m, enum model_param p)
{
    return m->params.data + m->params.tensors[m->idx[p]].offset;
}

/* One batch of inputs, B samples. */
struct batch {
    int B;
    int *user, *gender, *age, *occ;  /* (B,) */
    int *movie;                      /* (B,) */
    int *genres;                     /* (B, FEAT_MAX_GENRES) */
    int *words;                      /* (B, FEAT_TITLE_LEN) */
    float *label;                    /* (B,) */
};

int batch_alloc(struct batch *b, int cap);
void batch_free(struct batch *b);
/* Writes sample i from encoded user and movie features. */
void batch_set(struct batch *b, int i, const struct user_feat *u, const struct movie_feat *mv,
               float label);

struct model_acts;

int model_acts_alloc(struct model_acts **out, const struct model *m, int cap, struct error *err);
void model_acts_free(struct model_acts *a);

/* Forward: logits (B,) and, for training, dropout drawn from *rng.
 * Returns a pointer to the (B,) logits inside acts. */
const float *model_forward(const struct model *m, struct model_acts *a, const struct batch *b,
                           int training, uint64_t *rng);
/* Sigmoid probabilities of the last forward into prob (B,). */
void model_probs(const struct model_acts *a, float *prob, int B);
/* Mean BCE of the last forward, and the backward: gradients of every
 * parameter ADDED into grad (a block laid out like m->params.data). */
float model_backward(const struct model *m, struct model_acts *a, const struct batch *b,
                     float *grad);

/* Floating-point operations of one sample's forward pass (2 per
 * multiply-add of every matmul and convolution); training costs about
 * three times that (the backward computes two products per forward one). */
double model_forward_flops(const struct model_config *c);

/* The user tower alone (the movie inputs of bt are not read): (B, tower)
 * user vectors inside a. Serving computes the movie side once per load. */
const float *model_user_tower(const struct model *m, struct model_acts *a, const struct batch *bt);

/* The towers alone, for serving: user (B, tower) and movie (B, tower)
 * vectors of the last forward. */
const float *model_user_vectors(const struct model_acts *a);
const float *model_movie_vectors(const struct model_acts *a);

#endif
