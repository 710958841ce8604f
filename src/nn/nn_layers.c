/*
 * nn_layers.c - the element-wise and gather/scatter kernels: activations,
 * binary cross-entropy with logits, embeddings, dropout, concatenation,
 * and the Adam update.
 */
#include "nn.h"

#include <math.h>
#include <string.h>

#include "../util/banned.h"

float nn_rng_normal(uint64_t *state)
{
    /* u1 in (0, 1] so the log is finite. */
    double u1 = ((double)(nn_rng_next(state) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(nn_rng_next(state) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* ------------------------------------------------------------------ */
/* Activations                                                          */

void relu_forward(float *out, const float *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void relu_backward(float *din, const float *dout, const float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        din[i] = out[i] > 0.0f ? dout[i] : 0.0f;
}

/* tanh as a rational function on [-8, 8] (the approximation Eigen uses;
 * within a few float ulps of tanhf), written so the loop vectorises:
 * glibc's tanhf costs an expm1f call per value, which was an eighth of
 * training time. */
static inline float fast_tanhf(float x)
{
    const float lim = 7.99881172180175781f;
    float c = x < lim ? x : lim; /* two plain selects, so the loop vectorises */
    c = c > -lim ? c : -lim;
    float x2 = c * c;
    float p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
    p = p * x2 + -8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    p = p * c;
    float q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    return p / q;
}

void tanh_forward(float *restrict out, const float *restrict in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = fast_tanhf(in[i]);
}

void tanh_backward(float *din, const float *dout, const float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        din[i] = dout[i] * (1.0f - out[i] * out[i]);
}

static inline float sigmoidf(float x)
{
    if (x >= 0.0f)
        return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

void sigmoid_forward(float *out, const float *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = sigmoidf(in[i]);
}

void sigmoid_backward(float *din, const float *dout, const float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        din[i] = dout[i] * out[i] * (1.0f - out[i]);
}

/* ------------------------------------------------------------------ */
/* Loss                                                                 */

float bce_with_logits_forward(float *prob, const float *restrict logit,
                              const float *restrict label, int B)
{
    double sum = 0.0;
    if (B <= 0)
        return 0.0f;
    for (int i = 0; i < B; i++) {
        double x = logit[i], y = label[i];
        sum += (x > 0.0 ? x : 0.0) - x * y + log1p(exp(-fabs(x)));
        if (prob)
            prob[i] = sigmoidf(logit[i]);
    }
    return (float)(sum / B);
}

void bce_with_logits_backward(float *restrict dlogit, const float *restrict prob,
                              const float *restrict label, int B)
{
    if (B <= 0)
        return;
    float inv = 1.0f / (float)B;
    for (int i = 0; i < B; i++)
        dlogit[i] = (prob[i] - label[i]) * inv;
}

/* ------------------------------------------------------------------ */
/* Embeddings                                                           */

int nn_indices_valid(const int *idx, size_t n, int V)
{
    for (size_t i = 0; i < n; i++)
        if (idx[i] >= V)
            return 0;
    return 1;
}

void embedding_forward(float *restrict out, const int *restrict idx,
                       const float *restrict table, int B, int C)
{
    for (int b = 0; b < B; b++) {
        float *o = out + (size_t)b * C;
        if (idx[b] < 0)
            memset(o, 0, (size_t)C * sizeof(*o));
        else
            memcpy(o, table + (size_t)idx[b] * C, (size_t)C * sizeof(*o));
    }
}

void embedding_backward(float *restrict dtable, const float *restrict dout,
                        const int *restrict idx, int B, int C)
{
    for (int b = 0; b < B; b++) {
        if (idx[b] < 0)
            continue;
        float *d = dtable + (size_t)idx[b] * C;
        const float *g = dout + (size_t)b * C;
        for (int c = 0; c < C; c++)
            d[c] += g[c];
    }
}

void embedding_bag_mean_forward(float *restrict out, const int *restrict idx,
                                const float *restrict table, int B, int MAXK, int C)
{
    for (int b = 0; b < B; b++) {
        float *o = out + (size_t)b * C;
        const int *ib = idx + (size_t)b * MAXK;
        int count = 0;
        memset(o, 0, (size_t)C * sizeof(*o));
        for (int j = 0; j < MAXK; j++) {
            if (ib[j] < 0)
                continue;
            const float *row = table + (size_t)ib[j] * C;
            for (int c = 0; c < C; c++)
                o[c] += row[c];
            count++;
        }
        if (count > 1) {
            float inv = 1.0f / (float)count;
            for (int c = 0; c < C; c++)
                o[c] *= inv;
        }
    }
}

void embedding_bag_mean_backward(float *restrict dtable, const float *restrict dout,
                                 const int *restrict idx, int B, int MAXK, int C)
{
    for (int b = 0; b < B; b++) {
        const int *ib = idx + (size_t)b * MAXK;
        const float *g = dout + (size_t)b * C;
        int count = 0;
        for (int j = 0; j < MAXK; j++)
            count += ib[j] >= 0;
        if (count == 0)
            continue;
        float inv = 1.0f / (float)count;
        for (int j = 0; j < MAXK; j++) {
            if (ib[j] < 0)
                continue;
            float *d = dtable + (size_t)ib[j] * C;
            for (int c = 0; c < C; c++)
                d[c] += g[c] * inv;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Dropout                                                              */

void dropout_forward(float *out, uint8_t *restrict mask, const float *in,
                     size_t n, float p, uint64_t *rng_state)
{
    if (p <= 0.0f) {
        memset(mask, 1, n);
        if (out != in)
            memcpy(out, in, n * sizeof(*out));
        return;
    }
    if (p >= 1.0f) {
        memset(mask, 0, n);
        memset(out, 0, n * sizeof(*out));
        return;
    }
    float scale = 1.0f / (1.0f - p);
    uint64_t s = *rng_state;
    for (size_t i = 0; i < n; i++) {
        uint8_t keep = nn_rng_uniform(&s) >= p;
        mask[i] = keep;
        out[i] = keep ? in[i] * scale : 0.0f;
    }
    *rng_state = s;
}

void dropout_backward(float *din, const float *dout, const uint8_t *mask, size_t n, float p)
{
    float scale = p <= 0.0f ? 1.0f : p >= 1.0f ? 0.0f : 1.0f / (1.0f - p);
    for (size_t i = 0; i < n; i++)
        din[i] = mask[i] ? dout[i] * scale : 0.0f;
}

/* ------------------------------------------------------------------ */
/* Concatenation                                                        */

void concat_forward(float *restrict out, const float *restrict a, const float *restrict c,
                    int B, int A, int C)
{
    for (int b = 0; b < B; b++) {
        float *o = out + (size_t)b * (A + C);
        memcpy(o, a + (size_t)b * A, (size_t)A * sizeof(*o));
        memcpy(o + A, c + (size_t)b * C, (size_t)C * sizeof(*o));
    }
}

void concat_backward(float *restrict da, float *restrict dc, const float *restrict dout, int B,
                     int A, int C)
{
    for (int b = 0; b < B; b++) {
        const float *d = dout + (size_t)b * (A + C);
        if (da)
            memcpy(da + (size_t)b * A, d, (size_t)A * sizeof(*d));
        if (dc)
            memcpy(dc + (size_t)b * C, d + A, (size_t)C * sizeof(*d));
    }
}

void concat_many_forward(float *restrict out, const float *const *parts, const int *widths,
                         int n, int B)
{
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += (size_t)widths[i];
    for (int b = 0; b < B; b++) {
        float *o = out + (size_t)b * total;
        for (int i = 0; i < n; i++) {
            memcpy(o, parts[i] + (size_t)b * widths[i], (size_t)widths[i] * sizeof(*o));
            o += widths[i];
        }
    }
}

void concat_many_backward(float *const *dparts, const float *restrict dout, const int *widths,
                          int n, int B)
{
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += (size_t)widths[i];
    for (int b = 0; b < B; b++) {
        const float *d = dout + (size_t)b * total;
        for (int i = 0; i < n; i++) {
            if (dparts[i])
                memcpy(dparts[i] + (size_t)b * widths[i], d, (size_t)widths[i] * sizeof(*d));
            d += widths[i];
        }
    }
}

/* ------------------------------------------------------------------ */
/* Adam                                                                 */

void adam_update(float *restrict params, const float *restrict grads, float *restrict m,
                 float *restrict v, size_t n, float lr, float beta1, float beta2, float eps,
                 float weight_decay, int t)
{
    if (t < 1)
        t = 1;
    const float bc1 = (float)(1.0 - pow((double)beta1, (double)t));
    const float bc2 = (float)(1.0 - pow((double)beta2, (double)t));
    const float step_size = lr / bc1;
    const float sqrt_bc2 = sqrtf(bc2);
    const float one_b1 = 1.0f - beta1, one_b2 = 1.0f - beta2;
    for (size_t i = 0; i < n; i++) {
        float g = grads[i] + weight_decay * params[i];
        float mi = beta1 * m[i] + one_b1 * g;
        float vi = beta2 * v[i] + one_b2 * g * g;
        m[i] = mi;
        v[i] = vi;
        params[i] -= step_size * mi / (sqrtf(vi) / sqrt_bc2 + eps);
    }
}
