/*
 * ranker.c - the deep model split at its first fused layer (ranker.h).
 */
#include "ranker.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RANKER_BATCH 1024
#define RANKER_TILE 6 /* rows of nn_head_forward's scratch */

int ranker_init(struct ranker *r, const struct model *m, const struct movie_feat *mf, int n,
                struct error *err)
{
    const struct model_config *c = &m->cfg;
    const int T = c->tower, H1 = c->hidden1;
    struct model_acts *a = NULL;
    struct batch b;
    struct user_feat nobody = {0, 0, 0, 0};
    const float *b1 = model_p(m, P_H1_B);
    int rc;

    memset(r, 0, sizeof(*r));
    r->m = m;
    r->n = n;
    r->tower = T;
    r->h1 = H1;
    r->h2 = c->hidden2;
    r->mvec = malloc(((size_t)n * T + 1) * sizeof(float));
    r->mhalf = malloc(((size_t)n * H1 + 1) * sizeof(float));
    r->w2p = malloc((nn_head_packed_floats(H1, c->hidden2) + 1) * sizeof(float));
    if (!r->mvec || !r->mhalf || !r->w2p) {
        ranker_free(r);
        return error_set(err, ERR_NOMEM, "out of memory for the ranker's tables (%d movies)", n);
    }
    if ((rc = model_acts_alloc(&a, m, RANKER_BATCH, err))) {
        ranker_free(r);
        return rc;
    }
    if (batch_alloc(&b, RANKER_BATCH)) {
        model_acts_free(a);
        ranker_free(r);
        return error_set(err, ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n; i += RANKER_BATCH) {
        int k = n - i < RANKER_BATCH ? n - i : RANKER_BATCH;
        b.B = k;
        for (int j = 0; j < k; j++)
            batch_set(&b, j, &nobody, &mf[i + j], 0);
        model_forward(m, a, &b, 0, NULL);
        memcpy(r->mvec + (size_t)i * T, model_movie_vectors(a), (size_t)k * T * sizeof(float));
    }
    batch_free(&b);
    model_acts_free(a);
    /* mhalf (n, H1) = mvec (n, T) . W1[:, T:2T]^T + b1; W1 is (H1, 2T) */
    if (n > 0)
        nn_sgemm(0, 1, n, H1, T, 1.0f, r->mvec, T, model_p(m, P_H1_W) + T, 2 * T, 0.0f, r->mhalf,
                 H1);
    for (int i = 0; i < n; i++) {
        float *row = r->mhalf + (size_t)i * H1;
        for (int j = 0; j < H1; j++)
            row[j] += b1[j];
    }
    nn_head_pack(r->w2p, model_p(m, P_H2_W), H1, c->hidden2);
    return 0;
}

void ranker_free(struct ranker *r)
{
    free(r->mvec);
    free(r->mhalf);
    free(r->w2p);
    memset(r, 0, sizeof(*r));
}

int ranker_ws_alloc(struct ranker_ws *ws, const struct ranker *r, struct error *err)
{
    int rc;
    memset(ws, 0, sizeof(*ws));
    if ((rc = model_acts_alloc(&ws->acts, r->m, 1, err)))
        return rc;
    if (batch_alloc(&ws->b, 1))
        goto nomem;
    ws->uvec = malloc((size_t)r->tower * sizeof(float));
    ws->uhalf = malloc((size_t)r->h1 * sizeof(float));
    ws->x1 = malloc((size_t)RANKER_TILE * r->h1 * sizeof(float));
    if (!ws->uvec || !ws->uhalf || !ws->x1)
        goto nomem;
    return 0;
nomem:
    ranker_ws_free(ws);
    return error_set(err, ERR_NOMEM, "out of memory for the ranker's scratch");
}

void ranker_ws_free(struct ranker_ws *ws)
{
    model_acts_free(ws->acts);
    if (ws->b.user)
        batch_free(&ws->b);
    free(ws->uvec);
    free(ws->uhalf);
    free(ws->x1);
    memset(ws, 0, sizeof(*ws));
}

void ranker_user(const struct ranker *r, struct ranker_ws *ws, const struct user_feat *u)
{
    const int T = r->tower;
    struct movie_feat none;
    memset(&none, 0xff, sizeof(none)); /* -1 padding everywhere */
    none.movie = 0;
    none.genres[0] = 0;
    ws->b.B = 1;
    batch_set(&ws->b, 0, u, &none, 0);
    memcpy(ws->uvec, model_user_tower(r->m, ws->acts, &ws->b), (size_t)T * sizeof(float));
    /* uhalf (H1,) = W1[:, 0:T] (H1, T; stride 2T) . uvec (T,) */
    nn_sgemv(ws->uhalf, model_p(r->m, P_H1_W), ws->uvec, r->h1, T, 2 * T);
}

void ranker_score(const struct ranker *r, struct ranker_ws *ws, const int *rows, int n,
                  float *prob)
{
    ranker_logits(r, ws, rows, n, prob);
    for (int i = 0; i < n; i++)
        prob[i] = 1.0f / (1.0f + expf(-prob[i]));
}

void ranker_logits(const struct ranker *r, struct ranker_ws *ws, const int *rows, int n,
                   float *logit)
{
    /* per candidate: relu(W2 relu(uhalf + mhalf[row]) + b2) . wo + bo,
     * one pass with W2 packed (nn_head_forward) */
    nn_head_forward(logit, ws->x1, ws->uhalf, r->mhalf, rows, r->w2p, model_p(r->m, P_H2_B),
                    model_p(r->m, P_OUT_W), model_p(r->m, P_OUT_B)[0], n, r->h1, r->h2);
}
