/*
 * model.c - the two-tower model's parameters and its forward and
 * backward passes, written with the src/nn kernels.
 */
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void model_config_default(struct model_config *c, const struct vocab *v)
{
    memset(c, 0, sizeof(*c));
    c->user_emb = 32;
    c->gender_emb = 16;
    c->age_emb = 16;
    c->occ_emb = 16;
    c->movie_emb = 32;
    c->genre_emb = 32;
    c->word_emb = 32;
    c->attr_fc = 32;
    c->tower = 200;
    c->conv_filters = 8;
    c->conv_min = 2;
    c->hidden1 = 256;
    c->hidden2 = 128;
    c->title_dropout = 0.5f;
    if (v) {
        c->nusers = v->nusers + 1;
        c->noccs = v->occupations.n + 1;
        c->nmovies = v->nmovies + 1;
        c->ngenres = v->genres.n + 1;
        c->nwords = v->words.n + 1;
    }
}

/* ------------------------------------------------------------------ */
/* parameters                                                           */

int model_init(struct model *m, const struct model_config *c, struct error *err)
{
    const int A = c->attr_fc, T = c->tower, NF = c->conv_filters;
    static const char *conv_w[] = {"movie.conv2.weight", "movie.conv3.weight", "movie.conv4.weight",
                                   "movie.conv5.weight"};
    static const char *conv_b[] = {"movie.conv2.bias", "movie.conv3.bias", "movie.conv4.bias",
                                   "movie.conv5.bias"};
    struct nn_params *p = &m->params;

    memset(m, 0, sizeof(*m));
    m->cfg = *c;
    nn_params_init(p);
#define ADD(slot, name, d0, d1, d2) m->idx[slot] = nn_params_add(p, name, d0, d1, d2)
    ADD(P_UID_EMB, "user.id_emb.weight", c->nusers, c->user_emb, 0);
    ADD(P_GEN_EMB, "user.gender_emb.weight", FEAT_GENDERS, c->gender_emb, 0);
    ADD(P_AGE_EMB, "user.age_emb.weight", FEAT_AGE_BUCKETS, c->age_emb, 0);
    ADD(P_OCC_EMB, "user.occ_emb.weight", c->noccs, c->occ_emb, 0);
    ADD(P_UID_FC_W, "user.id_fc.weight", A, c->user_emb, 0);
    ADD(P_UID_FC_B, "user.id_fc.bias", A, 0, 0);
    ADD(P_GEN_FC_W, "user.gender_fc.weight", A, c->gender_emb, 0);
    ADD(P_GEN_FC_B, "user.gender_fc.bias", A, 0, 0);
    ADD(P_AGE_FC_W, "user.age_fc.weight", A, c->age_emb, 0);
    ADD(P_AGE_FC_B, "user.age_fc.bias", A, 0, 0);
    ADD(P_OCC_FC_W, "user.occ_fc.weight", A, c->occ_emb, 0);
    ADD(P_OCC_FC_B, "user.occ_fc.bias", A, 0, 0);
    ADD(P_UFC_W, "user.fc.weight", T, 4 * A, 0);
    ADD(P_UFC_B, "user.fc.bias", T, 0, 0);
    ADD(P_MID_EMB, "movie.id_emb.weight", c->nmovies, c->movie_emb, 0);
    ADD(P_GENRE_EMB, "movie.genre_emb.weight", c->ngenres, c->genre_emb, 0);
    ADD(P_WORD_EMB, "movie.word_emb.weight", c->nwords, c->word_emb, 0);
    for (int k = 0; k < MODEL_NCONV; k++) {
        ADD(P_CONV_W0 + 2 * k, conv_w[k], NF, c->word_emb, c->conv_min + k);
        ADD(P_CONV_B0 + 2 * k, conv_b[k], NF, 0, 0);
    }
    ADD(P_MID_FC_W, "movie.id_fc.weight", A, c->movie_emb, 0);
    ADD(P_MID_FC_B, "movie.id_fc.bias", A, 0, 0);
    ADD(P_GENRE_FC_W, "movie.genre_fc.weight", A, c->genre_emb, 0);
    ADD(P_GENRE_FC_B, "movie.genre_fc.bias", A, 0, 0);
    ADD(P_TITLE_FC_W, "movie.title_fc.weight", A, MODEL_NCONV * NF, 0);
    ADD(P_TITLE_FC_B, "movie.title_fc.bias", A, 0, 0);
    ADD(P_MFC_W, "movie.fc.weight", T, 3 * A, 0);
    ADD(P_MFC_B, "movie.fc.bias", T, 0, 0);
    ADD(P_H1_W, "fusion.fc1.weight", c->hidden1, 2 * T, 0);
    ADD(P_H1_B, "fusion.fc1.bias", c->hidden1, 0, 0);
    ADD(P_H2_W, "fusion.fc2.weight", c->hidden2, c->hidden1, 0);
    ADD(P_H2_B, "fusion.fc2.bias", c->hidden2, 0, 0);
    ADD(P_OUT_W, "fusion.out.weight", 1, c->hidden2, 0);
    ADD(P_OUT_B, "fusion.out.bias", 1, 0, 0);
#undef ADD
    if (c->conv_min < 1 || c->conv_min + MODEL_NCONV - 1 > FEAT_TITLE_LEN)
        return error_set(err, ERR_USAGE, "convolution windows %d..%d do not fit %d title words",
                         c->conv_min, c->conv_min + MODEL_NCONV - 1, FEAT_TITLE_LEN);
    return nn_params_alloc(p, err);
}

void model_init_weights(struct model *m, uint64_t seed)
{
    uint64_t rng = seed ? seed : 1;
    for (int i = 0; i < P_COUNT; i++) {
        int t = m->idx[i];
        if (i == P_UID_EMB || i == P_GEN_EMB || i == P_AGE_EMB || i == P_OCC_EMB ||
            i == P_MID_EMB || i == P_GENRE_EMB || i == P_WORD_EMB) {
            nn_params_init_normal(&m->params, t, 0.0f, 0.1f, &rng);
        } else {
            /* PyTorch's Linear/Conv1d default: U(-1/sqrt(fan_in), ...) for
             * weights and biases; a bias takes its weight's fan_in. */
            int wt = (i % 2 == 0) ? t : m->idx[i - 1];
            int fan_in, fan_out;
            nn_params_fans(&m->params, wt, &fan_in, &fan_out);
            nn_params_init_uniform(&m->params, t, 1.0f / sqrtf((float)fan_in), &rng);
        }
    }
}

void model_free(struct model *m)
{
    nn_params_free(&m->params);
}

double model_forward_flops(const struct model_config *c)
{
    const double A = c->attr_fc, T = c->tower, F = c->conv_filters, C = c->word_emb;
    double macs = A * (c->user_emb + c->gender_emb + c->age_emb + c->occ_emb) + 4 * A * T;
    macs += A * (c->movie_emb + c->genre_emb + MODEL_NCONV * F) + 3 * A * T;
    for (int k = 0; k < MODEL_NCONV; k++) {
        int K = c->conv_min + k;
        macs += (double)(FEAT_TITLE_LEN - K + 1) * F * C * K;
    }
    macs += 2 * T * c->hidden1 + (double)c->hidden1 * c->hidden2 + c->hidden2;
    return 2 * macs;
}

/* ------------------------------------------------------------------ */
/* batches                                                              */

int batch_alloc(struct batch *b, int cap)
{
    memset(b, 0, sizeof(*b));
    b->user = malloc((size_t)cap * 5 * sizeof(int));
    b->genres = malloc((size_t)cap * FEAT_MAX_GENRES * sizeof(int));
    b->words = malloc((size_t)cap * FEAT_TITLE_LEN * sizeof(int));
    b->label = malloc((size_t)cap * sizeof(float));
    if (!b->user || !b->genres || !b->words || !b->label) {
        batch_free(b);
        return ERR_NOMEM;
    }
    b->gender = b->user + cap;
    b->age = b->user + 2 * cap;
    b->occ = b->user + 3 * cap;
    b->movie = b->user + 4 * cap;
    return 0;
}

void batch_free(struct batch *b)
{
    free(b->user);
    free(b->genres);
    free(b->words);
    free(b->label);
    memset(b, 0, sizeof(*b));
}

void batch_set(struct batch *b, int i, const struct user_feat *u, const struct movie_feat *mv,
               float label)
{
    b->user[i] = u->user;
    b->gender[i] = u->gender;
    b->age[i] = u->age;
    b->occ[i] = u->occ;
    b->movie[i] = mv->movie;
    memcpy(b->genres + (size_t)i * FEAT_MAX_GENRES, mv->genres, sizeof(mv->genres));
    memcpy(b->words + (size_t)i * FEAT_TITLE_LEN, mv->words, sizeof(mv->words));
    b->label[i] = label;
}

/* ------------------------------------------------------------------ */
/* activations                                                          */

/* Every activation x has a gradient dx of the same shape. */
enum act {
    A_E_UID, A_E_GEN, A_E_AGE, A_E_OCC,     /* (B, emb) */
    A_H_UID, A_H_GEN, A_H_AGE, A_H_OCC,     /* (B, attr) */
    A_UCAT, A_UVEC,                         /* (B, 4 attr), (B, tower) */
    A_E_MID, A_E_GENRE, A_E_WORDS,          /* (B, emb), (B, emb), (B, L, emb) */
    A_CONV0, A_CONV1, A_CONV2, A_CONV3,     /* (B, F) */
    A_TITLE, A_TITLE_D,                     /* (B, 4F) pooled, after dropout */
    A_H_MID, A_H_GENRE, A_H_TITLE,          /* (B, attr) */
    A_MCAT, A_MVEC,                         /* (B, 3 attr), (B, tower) */
    A_X, A_H1, A_H2, A_LOGIT, A_PROB,       /* (B, 2 tower) (B, h1) (B, h2) (B,) (B,) */
    A_COUNT
};

struct model_acts {
    int cap;
    float *x[A_COUNT], *d[A_COUNT];
    int *argmax[MODEL_NCONV]; /* (B, F) */
    uint8_t *mask;            /* (B, 4F) */
    int dropped;              /* the last forward applied dropout */
    float *work;              /* conv scratch */
    float *block;
};

static int act_width(const struct model_config *c, enum act a)
{
    switch (a) {
    case A_E_UID: return c->user_emb;
    case A_E_GEN: return c->gender_emb;
    case A_E_AGE: return c->age_emb;
    case A_E_OCC: return c->occ_emb;
    case A_UCAT: return 4 * c->attr_fc;
    case A_UVEC: case A_MVEC: return c->tower;
    case A_E_MID: return c->movie_emb;
    case A_E_GENRE: return c->genre_emb;
    case A_E_WORDS: return FEAT_TITLE_LEN * c->word_emb;
    case A_CONV0: case A_CONV1: case A_CONV2: case A_CONV3: return c->conv_filters;
    case A_TITLE: case A_TITLE_D: return MODEL_NCONV * c->conv_filters;
    case A_MCAT: return 3 * c->attr_fc;
    case A_X: return 2 * c->tower;
    case A_H1: return c->hidden1;
    case A_H2: return c->hidden2;
    case A_LOGIT: case A_PROB: return 1;
    default: return c->attr_fc; /* the per-attribute FC outputs */
    }
}

int model_acts_alloc(struct model_acts **out, const struct model *m, int cap, struct error *err)
{
    const struct model_config *c = &m->cfg;
    struct model_acts *a = calloc(1, sizeof(*a));
    size_t total = 0, work = 0;
    float *p;

    *out = NULL;
    if (!a)
        return error_set(err, ERR_NOMEM, "out of memory");
    a->cap = cap;
    for (int i = 0; i < A_COUNT; i++)
        total += 2 * (size_t)cap * (size_t)act_width(c, (enum act)i);
    for (int k = 0; k < MODEL_NCONV; k++) {
        size_t w = conv1d_workspace_floats(cap, FEAT_TITLE_LEN, c->word_emb, c->conv_filters,
                                           c->conv_min + k);
        if (w > work)
            work = w;
    }
    a->block = malloc((total + work) * sizeof(float));
    a->mask = malloc((size_t)cap * MODEL_NCONV * (size_t)c->conv_filters);
    for (int k = 0; k < MODEL_NCONV; k++)
        a->argmax[k] = malloc((size_t)cap * (size_t)c->conv_filters * sizeof(int));
    if (!a->block || !a->mask || !a->argmax[0] || !a->argmax[1] || !a->argmax[2] ||
        !a->argmax[3]) {
        model_acts_free(a);
        return error_set(err, ERR_NOMEM, "out of memory for activations of %d samples", cap);
    }
    p = a->block;
    for (int i = 0; i < A_COUNT; i++) {
        size_t n = (size_t)cap * (size_t)act_width(c, (enum act)i);
        a->x[i] = p;
        a->d[i] = p + n;
        p += 2 * n;
    }
    a->work = p;
    *out = a;
    return 0;
}

void model_acts_free(struct model_acts *a)
{
    if (!a)
        return;
    free(a->block);
    free(a->mask);
    for (int k = 0; k < MODEL_NCONV; k++)
        free(a->argmax[k]);
    free(a);
}

const float *model_user_vectors(const struct model_acts *a)
{
    return a->x[A_UVEC];
}

const float *model_movie_vectors(const struct model_acts *a)
{
    return a->x[A_MVEC];
}

/* ------------------------------------------------------------------ */
/* forward                                                              */

/* x = relu(in W^T + b) */
static void fc_relu(float *out, const float *in, const float *w, const float *b, int B, int IN,
                    int OUT)
{
    matmul_forward(out, in, w, b, B, IN, OUT);
    relu_forward(out, out, (size_t)B * OUT);
}

/* The user tower of every sample: x[A_UVEC] (B, tower). */
static void user_tower(const struct model *m, struct model_acts *a, const struct batch *bt)
{
    const struct model_config *c = &m->cfg;
    const int B = bt->B, A = c->attr_fc, T = c->tower;
    float **x = a->x;

    embedding_forward(x[A_E_UID], bt->user, model_p(m, P_UID_EMB), B, c->user_emb);
    embedding_forward(x[A_E_GEN], bt->gender, model_p(m, P_GEN_EMB), B, c->gender_emb);
    embedding_forward(x[A_E_AGE], bt->age, model_p(m, P_AGE_EMB), B, c->age_emb);
    embedding_forward(x[A_E_OCC], bt->occ, model_p(m, P_OCC_EMB), B, c->occ_emb);
    fc_relu(x[A_H_UID], x[A_E_UID], model_p(m, P_UID_FC_W), model_p(m, P_UID_FC_B), B,
            c->user_emb, A);
    fc_relu(x[A_H_GEN], x[A_E_GEN], model_p(m, P_GEN_FC_W), model_p(m, P_GEN_FC_B), B,
            c->gender_emb, A);
    fc_relu(x[A_H_AGE], x[A_E_AGE], model_p(m, P_AGE_FC_W), model_p(m, P_AGE_FC_B), B,
            c->age_emb, A);
    fc_relu(x[A_H_OCC], x[A_E_OCC], model_p(m, P_OCC_FC_W), model_p(m, P_OCC_FC_B), B,
            c->occ_emb, A);
    {
        const float *parts[4] = {x[A_H_UID], x[A_H_GEN], x[A_H_AGE], x[A_H_OCC]};
        const int widths[4] = {A, A, A, A};
        concat_many_forward(x[A_UCAT], parts, widths, 4, B);
    }
    matmul_forward(x[A_UVEC], x[A_UCAT], model_p(m, P_UFC_W), model_p(m, P_UFC_B), B, 4 * A, T);
    tanh_forward(x[A_UVEC], x[A_UVEC], (size_t)B * T);
}

const float *model_user_tower(const struct model *m, struct model_acts *a, const struct batch *bt)
{
    user_tower(m, a, bt);
    return a->x[A_UVEC];
}

const float *model_forward(const struct model *m, struct model_acts *a, const struct batch *bt,
                           int training, uint64_t *rng)
{
    const struct model_config *c = &m->cfg;
    const int B = bt->B, A = c->attr_fc, T = c->tower, F = c->conv_filters, L = FEAT_TITLE_LEN;
    float **x = a->x;

    user_tower(m, a, bt);

    /* movie tower */
    embedding_forward(x[A_E_MID], bt->movie, model_p(m, P_MID_EMB), B, c->movie_emb);
    embedding_bag_mean_forward(x[A_E_GENRE], bt->genres, model_p(m, P_GENRE_EMB), B,
                               FEAT_MAX_GENRES, c->genre_emb);
    word_embedding_forward(x[A_E_WORDS], bt->words, model_p(m, P_WORD_EMB), B, L, c->word_emb);
    for (int k = 0; k < MODEL_NCONV; k++)
        conv1d_maxpool_relu_forward(x[A_CONV0 + k], a->argmax[k], a->work, x[A_E_WORDS],
                                    model_p(m, P_CONV_W0 + 2 * k), model_p(m, P_CONV_B0 + 2 * k),
                                    B, L, c->word_emb, F, c->conv_min + k);
    {
        const float *parts[4] = {x[A_CONV0], x[A_CONV1], x[A_CONV2], x[A_CONV3]};
        const int widths[4] = {F, F, F, F};
        concat_many_forward(x[A_TITLE], parts, widths, 4, B);
    }
    a->dropped = training && c->title_dropout > 0;
    if (a->dropped)
        dropout_forward(x[A_TITLE_D], a->mask, x[A_TITLE], (size_t)B * 4 * F, c->title_dropout,
                        rng);
    else
        memcpy(x[A_TITLE_D], x[A_TITLE], (size_t)B * 4 * F * sizeof(float));
    fc_relu(x[A_H_MID], x[A_E_MID], model_p(m, P_MID_FC_W), model_p(m, P_MID_FC_B), B,
            c->movie_emb, A);
    fc_relu(x[A_H_GENRE], x[A_E_GENRE], model_p(m, P_GENRE_FC_W), model_p(m, P_GENRE_FC_B), B,
            c->genre_emb, A);
    fc_relu(x[A_H_TITLE], x[A_TITLE_D], model_p(m, P_TITLE_FC_W), model_p(m, P_TITLE_FC_B), B,
            4 * F, A);
    {
        const float *parts[3] = {x[A_H_MID], x[A_H_GENRE], x[A_H_TITLE]};
        const int widths[3] = {A, A, A};
        concat_many_forward(x[A_MCAT], parts, widths, 3, B);
    }
    matmul_forward(x[A_MVEC], x[A_MCAT], model_p(m, P_MFC_W), model_p(m, P_MFC_B), B, 3 * A, T);
    tanh_forward(x[A_MVEC], x[A_MVEC], (size_t)B * T);

    /* fusion */
    concat_forward(x[A_X], x[A_UVEC], x[A_MVEC], B, T, T);
    fc_relu(x[A_H1], x[A_X], model_p(m, P_H1_W), model_p(m, P_H1_B), B, 2 * T, c->hidden1);
    fc_relu(x[A_H2], x[A_H1], model_p(m, P_H2_W), model_p(m, P_H2_B), B, c->hidden1, c->hidden2);
    matmul_forward(x[A_LOGIT], x[A_H2], model_p(m, P_OUT_W), model_p(m, P_OUT_B), B, c->hidden2,
                   1);
    return x[A_LOGIT];
}

void model_probs(const struct model_acts *a, float *prob, int B)
{
    sigmoid_forward(prob, a->x[A_LOGIT], (size_t)B);
}

/* ------------------------------------------------------------------ */
/* backward                                                             */

#define G(p) (grad + m->params.tensors[m->idx[p]].offset)

/* din (may be NULL) and the parameter grads of out = relu(in W^T + b),
 * given dout; dout is overwritten (the relu gate is applied in place). */
static void fc_relu_back(float *din, float *dw, float *db, float *dout, const float *out,
                         const float *in, const float *w, int B, int IN, int OUT)
{
    relu_backward(dout, dout, out, (size_t)B * OUT);
    matmul_backward(din, dw, db, dout, in, w, B, IN, OUT);
}

float model_backward(const struct model *m, struct model_acts *a, const struct batch *bt,
                     float *grad)
{
    const struct model_config *c = &m->cfg;
    const int B = bt->B, A = c->attr_fc, T = c->tower, F = c->conv_filters, L = FEAT_TITLE_LEN;
    float **x = a->x, **d = a->d;
    float loss = bce_with_logits_forward(x[A_PROB], x[A_LOGIT], bt->label, B);

    bce_with_logits_backward(d[A_LOGIT], x[A_PROB], bt->label, B);
    /* fusion */
    matmul_backward(d[A_H2], G(P_OUT_W), G(P_OUT_B), d[A_LOGIT], x[A_H2], model_p(m, P_OUT_W), B,
                    c->hidden2, 1);
    fc_relu_back(d[A_H1], G(P_H2_W), G(P_H2_B), d[A_H2], x[A_H2], x[A_H1], model_p(m, P_H2_W), B,
                 c->hidden1, c->hidden2);
    fc_relu_back(d[A_X], G(P_H1_W), G(P_H1_B), d[A_H1], x[A_H1], x[A_X], model_p(m, P_H1_W), B,
                 2 * T, c->hidden1);
    concat_backward(d[A_UVEC], d[A_MVEC], d[A_X], B, T, T);

    /* movie tower */
    tanh_backward(d[A_MVEC], d[A_MVEC], x[A_MVEC], (size_t)B * T);
    matmul_backward(d[A_MCAT], G(P_MFC_W), G(P_MFC_B), d[A_MVEC], x[A_MCAT], model_p(m, P_MFC_W),
                    B, 3 * A, T);
    {
        float *parts[3] = {d[A_H_MID], d[A_H_GENRE], d[A_H_TITLE]};
        const int widths[3] = {A, A, A};
        concat_many_backward(parts, d[A_MCAT], widths, 3, B);
    }
    fc_relu_back(d[A_E_MID], G(P_MID_FC_W), G(P_MID_FC_B), d[A_H_MID], x[A_H_MID], x[A_E_MID],
                 model_p(m, P_MID_FC_W), B, c->movie_emb, A);
    fc_relu_back(d[A_E_GENRE], G(P_GENRE_FC_W), G(P_GENRE_FC_B), d[A_H_GENRE], x[A_H_GENRE],
                 x[A_E_GENRE], model_p(m, P_GENRE_FC_W), B, c->genre_emb, A);
    fc_relu_back(d[A_TITLE_D], G(P_TITLE_FC_W), G(P_TITLE_FC_B), d[A_H_TITLE], x[A_H_TITLE],
                 x[A_TITLE_D], model_p(m, P_TITLE_FC_W), B, 4 * F, A);
    embedding_backward(G(P_MID_EMB), d[A_E_MID], bt->movie, B, c->movie_emb);
    embedding_bag_mean_backward(G(P_GENRE_EMB), d[A_E_GENRE], bt->genres, B, FEAT_MAX_GENRES,
                                c->genre_emb);
    /* title: dropout mask (if it was applied), split, convolutions, words */
    if (a->dropped)
        dropout_backward(d[A_TITLE], d[A_TITLE_D], a->mask, (size_t)B * 4 * F, c->title_dropout);
    else
        memcpy(d[A_TITLE], d[A_TITLE_D], (size_t)B * 4 * F * sizeof(float));
    {
        float *parts[4] = {d[A_CONV0], d[A_CONV1], d[A_CONV2], d[A_CONV3]};
        const int widths[4] = {F, F, F, F};
        concat_many_backward(parts, d[A_TITLE], widths, 4, B);
    }
    memset(d[A_E_WORDS], 0, (size_t)B * L * c->word_emb * sizeof(float));
    for (int k = 0; k < MODEL_NCONV; k++)
        conv1d_maxpool_relu_backward(d[A_E_WORDS], G(P_CONV_W0 + 2 * k), G(P_CONV_B0 + 2 * k),
                                     a->work, d[A_CONV0 + k], a->argmax[k], x[A_E_WORDS],
                                     model_p(m, P_CONV_W0 + 2 * k), x[A_CONV0 + k], B, L,
                                     c->word_emb, F, c->conv_min + k);
    word_embedding_backward(G(P_WORD_EMB), d[A_E_WORDS], bt->words, B, L, c->word_emb);

    /* user tower */
    tanh_backward(d[A_UVEC], d[A_UVEC], x[A_UVEC], (size_t)B * T);
    matmul_backward(d[A_UCAT], G(P_UFC_W), G(P_UFC_B), d[A_UVEC], x[A_UCAT], model_p(m, P_UFC_W),
                    B, 4 * A, T);
    {
        float *parts[4] = {d[A_H_UID], d[A_H_GEN], d[A_H_AGE], d[A_H_OCC]};
        const int widths[4] = {A, A, A, A};
        concat_many_backward(parts, d[A_UCAT], widths, 4, B);
    }
    fc_relu_back(d[A_E_UID], G(P_UID_FC_W), G(P_UID_FC_B), d[A_H_UID], x[A_H_UID], x[A_E_UID],
                 model_p(m, P_UID_FC_W), B, c->user_emb, A);
    fc_relu_back(d[A_E_GEN], G(P_GEN_FC_W), G(P_GEN_FC_B), d[A_H_GEN], x[A_H_GEN], x[A_E_GEN],
                 model_p(m, P_GEN_FC_W), B, c->gender_emb, A);
    fc_relu_back(d[A_E_AGE], G(P_AGE_FC_W), G(P_AGE_FC_B), d[A_H_AGE], x[A_H_AGE], x[A_E_AGE],
                 model_p(m, P_AGE_FC_W), B, c->age_emb, A);
    fc_relu_back(d[A_E_OCC], G(P_OCC_FC_W), G(P_OCC_FC_B), d[A_H_OCC], x[A_H_OCC], x[A_E_OCC],
                 model_p(m, P_OCC_FC_W), B, c->occ_emb, A);
    embedding_backward(G(P_UID_EMB), d[A_E_UID], bt->user, B, c->user_emb);
    embedding_backward(G(P_GEN_EMB), d[A_E_GEN], bt->gender, B, c->gender_emb);
    embedding_backward(G(P_AGE_EMB), d[A_E_AGE], bt->age, B, c->age_emb);
    embedding_backward(G(P_OCC_EMB), d[A_E_OCC], bt->occ, B, c->occ_emb);
    return loss;
}
