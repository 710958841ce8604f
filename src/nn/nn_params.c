/*
 * nn_params.c - the parameter block: a table of named tensors laid out in
 * one contiguous allocation (values, grads, Adam m and v), initialisers,
 * and one Adam step over everything.
 */
#include "nn.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/error.h"

#include "../util/banned.h"

void nn_params_init(struct nn_params *p)
{
    memset(p, 0, sizeof(*p));
}

static int layout_error(struct nn_params *p, int code, const char *msg, const char *name)
{
    if (!p->err) {
        p->err = code;
        snprintf(p->errmsg, sizeof(p->errmsg), "%s '%.*s'", msg, NN_NAME_MAX, name);
    }
    return -1;
}

static size_t round_up(size_t n)
{
    return (n + NN_ALIGN_FLOATS - 1) / NN_ALIGN_FLOATS * NN_ALIGN_FLOATS;
}

int nn_params_add(struct nn_params *p, const char *name, int d0, int d1, int d2)
{
    const size_t limit = SIZE_MAX / (4 * sizeof(float)) - 2 * NN_ALIGN_FLOATS;
    struct nn_tensor *t;
    size_t count;

    if (!name)
        name = "";
    if (p->data)
        return layout_error(p, ERR_USAGE, "tensor added after allocation:", name);
    if (!*name || strlen(name) >= NN_NAME_MAX)
        return layout_error(p, ERR_USAGE, "bad tensor name", name);
    if (d0 <= 0 || d1 < 0 || d2 < 0 || (d1 == 0 && d2 > 0))
        return layout_error(p, ERR_USAGE, "bad shape for tensor", name);
    if (nn_params_find(p, name) >= 0)
        return layout_error(p, ERR_USAGE, "duplicate tensor", name);

    count = (size_t)d0;
    if (d1 > 0) {
        if (count > limit / (size_t)d1)
            return layout_error(p, ERR_NOMEM, "tensor too large:", name);
        count *= (size_t)d1;
    }
    if (d2 > 0) {
        if (count > limit / (size_t)d2)
            return layout_error(p, ERR_NOMEM, "tensor too large:", name);
        count *= (size_t)d2;
    }
    if (round_up(count) > limit - p->total)
        return layout_error(p, ERR_NOMEM, "parameters too large at tensor", name);

    if (p->ntensors == p->cap) {
        int ncap = p->cap ? p->cap * 2 : 16;
        struct nn_tensor *nt = realloc(p->tensors, (size_t)ncap * sizeof(*nt));
        if (!nt)
            return layout_error(p, ERR_NOMEM, "out of memory adding tensor", name);
        p->tensors = nt;
        p->cap = ncap;
    }
    t = &p->tensors[p->ntensors];
    memset(t, 0, sizeof(*t));
    memcpy(t->name, name, strlen(name) + 1);
    t->offset = p->total;
    t->count = count;
    t->shape[0] = d0;
    t->shape[1] = d1;
    t->shape[2] = d1 > 0 ? d2 : 0;
    t->ndim = 1 + (d1 > 0) + (d1 > 0 && d2 > 0);
    p->total += round_up(count);
    return p->ntensors++;
}

int nn_params_alloc(struct nn_params *p, struct error *err)
{
    size_t bytes;
    float *base;

    if (p->err)
        return error_set(err, (enum err_code)p->err, "%s", p->errmsg);
    if (p->data)
        return error_set(err, ERR_USAGE, "parameters already allocated");
    if (p->total == 0)
        return 0;
    bytes = 4 * p->total * sizeof(float); /* a multiple of 64: total is */
    base = aligned_alloc(64, bytes);
    if (!base)
        return error_set(err, ERR_NOMEM, "cannot allocate %zu bytes of parameters: %s", bytes,
                         strerror(ENOMEM));
    memset(base, 0, bytes);
    p->data = base;
    p->grad = base + p->total;
    p->m = base + 2 * p->total;
    p->v = base + 3 * p->total;
    p->step = 0;
    return 0;
}

void nn_params_free(struct nn_params *p)
{
    free(p->data);
    free(p->tensors);
    nn_params_init(p);
}

int nn_params_find(const struct nn_params *p, const char *name)
{
    for (int i = 0; i < p->ntensors; i++)
        if (strcmp(p->tensors[i].name, name) == 0)
            return i;
    return -1;
}

float *nn_params_tensor(const struct nn_params *p, int idx)
{
    return p->data + p->tensors[idx].offset;
}

float *nn_params_grad(const struct nn_params *p, int idx)
{
    return p->grad + p->tensors[idx].offset;
}

void nn_params_fans(const struct nn_params *p, int idx, int *fan_in, int *fan_out)
{
    const struct nn_tensor *t = &p->tensors[idx];
    int receptive = t->ndim == 3 ? t->shape[2] : 1;
    if (t->ndim == 1) {
        *fan_in = *fan_out = t->shape[0];
        return;
    }
    *fan_in = t->shape[1] * receptive;
    *fan_out = t->shape[0] * receptive;
}

/* ------------------------------------------------------------------ */
/* Initialisers                                                         */

void nn_params_init_uniform(struct nn_params *p, int idx, float bound, uint64_t *rng)
{
    float *x = nn_params_tensor(p, idx);
    size_t n = p->tensors[idx].count;
    for (size_t i = 0; i < n; i++)
        x[i] = (2.0f * nn_rng_uniform(rng) - 1.0f) * bound;
}

void nn_params_init_xavier_uniform(struct nn_params *p, int idx, uint64_t *rng)
{
    int fi, fo;
    nn_params_fans(p, idx, &fi, &fo);
    nn_params_init_uniform(p, idx, (float)sqrt(6.0 / ((double)fi + (double)fo)), rng);
}

void nn_params_init_kaiming_uniform(struct nn_params *p, int idx, uint64_t *rng)
{
    int fi, fo;
    nn_params_fans(p, idx, &fi, &fo);
    nn_params_init_uniform(p, idx, (float)sqrt(6.0 / (double)fi), rng);
}

void nn_params_init_normal(struct nn_params *p, int idx, float mean, float std, uint64_t *rng)
{
    float *x = nn_params_tensor(p, idx);
    size_t n = p->tensors[idx].count;
    for (size_t i = 0; i < n; i++)
        x[i] = mean + std * nn_rng_normal(rng);
}

void nn_params_init_const(struct nn_params *p, int idx, float value)
{
    float *x = nn_params_tensor(p, idx);
    size_t n = p->tensors[idx].count;
    for (size_t i = 0; i < n; i++)
        x[i] = value;
}

/* ------------------------------------------------------------------ */
/* Training                                                             */

void nn_params_zero_grad(struct nn_params *p)
{
    if (p->grad)
        memset(p->grad, 0, p->total * sizeof(*p->grad));
}

void nn_params_adam_step(struct nn_params *p, float lr, float beta1, float beta2, float eps,
                         float weight_decay)
{
    p->step++;
    if (p->data)
        adam_update(p->data, p->grad, p->m, p->v, p->total, lr, beta1, beta2, eps, weight_decay,
                    p->step);
}
