/*
 * ranker.h - the deep model as a ranker for serving: the movie side of the
 * network computed once per model load, so ranking C candidates for one
 * user costs one user tower and two small matrix products.
 *
 * The fusion's first layer on concat(u, m) splits into a user half and a
 * movie half:
 *   h1 = relu(W1 [u; m] + b1) = relu(W1u u + (W1m m + b1))
 * For every movie, mvec = its tower vector and mhalf = W1m m + b1 are
 * precomputed (n x tower and n x hidden1 floats). Per request: u = the
 * user tower (one sample), uhalf = W1u u; per candidate c:
 *   h1 = relu(uhalf + mhalf[c]);  h2 = relu(W2 h1 + b2);  p = sigmoid(w h2 + b)
 * the last three in one pass (nn_head_forward, W2 packed at load). The
 * same numbers as model_forward() up to float rounding (tested).
 *
 * struct ranker borrows the model (it must outlive the ranker) and owns
 * its tables; it is read-only after ranker_init() and may be shared by
 * threads. Each thread brings its own struct ranker_ws.
 */
#ifndef MOVIEREC_RANKER_H
#define MOVIEREC_RANKER_H

#include "features.h"
#include "model.h"

struct ranker {
    const struct model *m;
    int n, tower, h1, h2;
    float *mvec;  /* (n, tower) movie tower vectors */
    float *mhalf; /* (n, h1) W1m mvec + b1 */
    float *w2p;   /* W2 packed for nn_head_forward (nn_head_pack) */
};

/* Runs the movie tower over mf (n,) (eval mode) and fills the tables. */
int ranker_init(struct ranker *r, const struct model *m, const struct movie_feat *mf, int n,
                struct error *err);
void ranker_free(struct ranker *r);

/* One thread's scratch, for any number of candidates. */
struct ranker_ws {
    struct model_acts *acts; /* batch of one, for the user tower */
    struct batch b;
    float *uvec;  /* (tower,) the user's tower vector */
    float *uhalf; /* (h1,) */
    float *x1;    /* (6, h1) nn_head_forward's scratch */
};

int ranker_ws_alloc(struct ranker_ws *ws, const struct ranker *r, struct error *err);
void ranker_ws_free(struct ranker_ws *ws);

/* Computes the user's tower and first-layer half into ws. */
void ranker_user(const struct ranker *r, struct ranker_ws *ws, const struct user_feat *u);

/* prob (n,) of the user of the last ranker_user() for movies rows (n,)
 * (indexes into the ranker's tables). */
void ranker_score(const struct ranker *r, struct ranker_ws *ws, const int *rows, int n,
                  float *prob);
/* The same before the sigmoid: logit (n,). */
void ranker_logits(const struct ranker *r, struct ranker_ws *ws, const int *rows, int n,
                   float *logit);

#endif
