/*
 * test_nn.c - the neural-network kernels: every BLAS path against its
 * naive path (and the ranker's packed head against its naive loops),
 * every backward against central finite differences, BCE
 * against hand-computed values, embeddings and bag-means with padding,
 * conv1d + max-pool against a direct loop, dropout, concatenation, Adam
 * against hand-computed torch steps, the parameter block, and a small
 * two-tower network built from the kernels checked end to end.
 */
#include "testutil.h"

#include <float.h>
#include <math.h>

#include "../../src/nn/nn.h"
#include "../../src/util/error.h"

#include "../../src/util/banned.h"

/* Under ASan an impossible allocation must return NULL, not abort. */
#if defined(__SANITIZE_ADDRESS__)
#define TEST_NN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_NN_ASAN 1
#endif
#endif
#ifdef TEST_NN_ASAN
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}
#endif

/* ------------------------------------------------------------------ */
/* Helpers                                                              */

/* Allocations of the running test, freed by the teardown. */
#define MAX_ALLOCS 256
static void *allocs[MAX_ALLOCS];
static int nallocs;

static void *talloc(size_t bytes)
{
    void *p;
    if (nallocs == MAX_ALLOCS)
        fail_msg("too many test allocations");
    p = calloc(1, bytes ? bytes : 1);
    if (!p)
        fail_msg("out of memory");
    allocs[nallocs++] = p;
    return p;
}

static float *fbuf(size_t n)
{
    return talloc(n * sizeof(float));
}

static int free_all(void **state)
{
    (void)state;
    for (int i = 0; i < nallocs; i++)
        free(allocs[i]);
    nallocs = 0;
    return 0;
}

static void fill(float *x, size_t n, float lo, float hi, uint64_t *s)
{
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * nn_rng_uniform(s);
}

/* Uniform in [-hi, -lo] U [lo, hi]: away from relu's kink at 0. */
static void fill_away_from_zero(float *x, size_t n, float lo, float hi, uint64_t *s)
{
    for (size_t i = 0; i < n; i++) {
        float m = lo + (hi - lo) * nn_rng_uniform(s);
        x[i] = (nn_rng_next(s) & 1) ? m : -m;
    }
}

static float *fcopy(const float *x, size_t n)
{
    float *y = fbuf(n);
    memcpy(y, x, n * sizeof(*x));
    return y;
}

static void check_close(const char *what, const float *got, const float *want, size_t n,
                        double rtol, double atol)
{
    for (size_t i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        if (!isfinite(g) || !(fabs(g - w) <= atol + rtol * fabs(w)))
            fail_msg("%s: element %zu is %.9g, want %.9g (rtol %g, atol %g)", what, i, g, w,
                     rtol, atol);
    }
}

static void check_equal_f(const char *what, const float *got, const float *want, size_t n)
{
    check_close(what, got, want, n, 0.0, 0.0);
}

static double dot_d(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * (double)b[i];
    return s;
}

/* Central finite differences of a scalar loss f(ctx) with respect to each
 * element of x (all of them up to 400, else 400 chosen at random),
 * compared with the analytic gradient g. */
typedef double loss_fn(void *ctx);

static void grad_check(const char *what, float *x, const float *g, size_t n, loss_fn *f,
                       void *ctx)
{
    const float h = 1e-3f;
    uint64_t s = 12345;
    size_t checks = n <= 400 ? n : 400;
    for (size_t j = 0; j < checks; j++) {
        size_t i = n <= 400 ? j : (size_t)(nn_rng_next(&s) % n);
        float orig = x[i];
        float xp = orig + h, xm = orig - h;
        x[i] = xp;
        double lp = f(ctx);
        x[i] = xm;
        double lm = f(ctx);
        x[i] = orig;
        double num = (lp - lm) / ((double)xp - (double)xm);
        double ana = g[i];
        double tol = 1e-3 + 1e-2 * fmax(fabs(num), fabs(ana));
        if (!(fabs(num - ana) <= tol))
            fail_msg("%s: gradient %zu is %.7g, finite differences give %.7g", what, i, ana,
                     num);
    }
}

/* ------------------------------------------------------------------ */
/* sgemm and the linear layer: BLAS against naive                       */

static void test_sgemm_vs_naive(void **state)
{
    static const int sizes[][3] = {{1, 1, 1},   {3, 5, 7},    {1, 17, 9},  {7, 1, 3},
                                   {33, 8, 64}, {64, 65, 130}, {5, 200, 96}};
    uint64_t s = 1;
    (void)state;
    for (size_t si = 0; si < sizeof(sizes) / sizeof(*sizes); si++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int ab = 0; ab < 2; ab++) {
                    int M = sizes[si][0], N = sizes[si][1], K = sizes[si][2];
                    int pad = ab ? 3 : 0; /* leading dimensions wider than the rows */
                    int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
                    size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb;
                    size_t nc = (size_t)M * ldc;
                    float alpha = ab ? 0.5f : 1.0f, beta = ab ? 1.5f : 0.0f;
                    float *A = fbuf(na), *Bm = fbuf(nb), *C1 = fbuf(nc), *C2 = fbuf(nc);
                    char what[96];
                    fill(A, na, -1, 1, &s);
                    fill(Bm, nb, -1, 1, &s);
                    if (beta == 0.0f) { /* beta == 0 must not read C */
                        for (size_t i = 0; i < nc; i++)
                            C1[i] = C2[i] = NAN;
                    } else {
                        fill(C1, nc, -1, 1, &s);
                        memcpy(C2, C1, nc * sizeof(*C1));
                    }
                    nn_sgemm(ta, tb, M, N, K, alpha, A, lda, Bm, ldb, beta, C1, ldc);
                    nn_sgemm_naive(ta, tb, M, N, K, alpha, A, lda, Bm, ldb, beta, C2, ldc);
                    for (int i = 0; i < M; i++) {
                        snprintf(what, sizeof(what), "sgemm %dx%dx%d ta=%d tb=%d ab=%d row %d",
                                 M, N, K, ta, tb, ab, i);
                        check_close(what, C1 + (size_t)i * ldc, C2 + (size_t)i * ldc,
                                    (size_t)N, 1e-4, 1e-5);
                    }
                    free_all(NULL);
                }
}

static void test_sgemm_switch(void **state)
{
    const int M = 4, N = 3, K = 5;
    float A[20], Bm[15], C1[12], C2[12];
    uint64_t s = 2;
    (void)state;
    fill(A, 20, -1, 1, &s);
    fill(Bm, 15, -1, 1, &s);
    assert_int_equal(nn_use_blas(0), 1);
    nn_sgemm(0, 0, M, N, K, 1.0f, A, K, Bm, N, 0.0f, C1, N);
    assert_int_equal(nn_use_blas(1), 0);
    nn_sgemm_naive(0, 0, M, N, K, 1.0f, A, K, Bm, N, 0.0f, C2, N);
    check_equal_f("nn_sgemm with BLAS off is the naive path", C1, C2, 12);
    /* K == 0: C = beta * C */
    for (int i = 0; i < 12; i++)
        C1[i] = 2.0f;
    nn_sgemm(0, 0, M, N, 0, 1.0f, A, 1, Bm, N, 0.5f, C1, N);
    for (int i = 0; i < 12; i++)
        assert_true(C1[i] == 1.0f);
    nn_blas_threads(1);
}

static const int linear_sizes[][3] = {{1, 1, 1},     {1, 7, 5},    {3, 7, 5},  {2, 1, 9},
                                      {17, 128, 200}, {5, 96, 200}, {64, 400, 256}, {256, 128, 1}};

static void test_matmul_forward_vs_naive(void **state)
{
    uint64_t s = 3;
    (void)state;
    for (size_t si = 0; si < sizeof(linear_sizes) / sizeof(*linear_sizes); si++)
        for (int with_b = 0; with_b < 2; with_b++) {
            int B = linear_sizes[si][0], IN = linear_sizes[si][1], OUT = linear_sizes[si][2];
            float *in = fbuf((size_t)B * IN), *w = fbuf((size_t)OUT * IN), *b = fbuf(OUT);
            float *o1 = fbuf((size_t)B * OUT), *o2 = fbuf((size_t)B * OUT);
            char what[64];
            fill(in, (size_t)B * IN, -1, 1, &s);
            fill(w, (size_t)OUT * IN, -0.5f, 0.5f, &s);
            fill(b, OUT, -1, 1, &s);
            for (size_t i = 0; i < (size_t)B * OUT; i++)
                o1[i] = o2[i] = NAN; /* overwritten, never read */
            matmul_forward(o1, in, w, with_b ? b : NULL, B, IN, OUT);
            matmul_forward_naive(o2, in, w, with_b ? b : NULL, B, IN, OUT);
            snprintf(what, sizeof(what), "matmul_forward B=%d IN=%d OUT=%d b=%d", B, IN, OUT,
                     with_b);
            check_close(what, o1, o2, (size_t)B * OUT, 1e-4, 1e-5);
            /* the reference itself, against a plain dot product */
            for (int i = 0; i < B; i++)
                for (int o = 0; o < OUT; o++) {
                    double want = dot_d(in + (size_t)i * IN, w + (size_t)o * IN, (size_t)IN) +
                                  (with_b ? b[o] : 0.0);
                    assert_true(fabs(o2[(size_t)i * OUT + o] - want) <= 1e-5 * (1 + fabs(want)));
                }
            free_all(NULL);
        }
}

/* The ranker's head: the packed kernel (AVX2 where built) and its plain C
 * path (nn_head_forward_ref, on every build) against the naive loops, and
 * the naive loops against the layers built from matmul_forward_naive and
 * relu, for one shape with rows repeated and in any order. */
static void check_head(int B, int H1, int H2, int V, uint64_t *s)
{
    float *u = fbuf((size_t)H1), *m = fbuf((size_t)V * H1), *w2 = fbuf((size_t)H2 * H1);
    float *b2 = fbuf((size_t)H2), *wo = fbuf((size_t)H2), bo = 0.25f;
    float *w2p = fbuf(nn_head_packed_floats(H1, H2)), *work = fbuf((size_t)6 * H1);
    float *got = fbuf((size_t)B), *plain = fbuf((size_t)B), *want = fbuf((size_t)B);
    float *layers = fbuf((size_t)B), *h1 = fbuf((size_t)B * H1), *h2 = fbuf((size_t)B * H2);
    int *rows = talloc((size_t)B * sizeof(int));
    char what[80];
    fill(u, (size_t)H1, -1, 1, s);
    fill(m, (size_t)V * H1, -1, 1, s);
    fill(w2, (size_t)H2 * H1, -0.5f, 0.5f, s);
    fill(b2, (size_t)H2, -0.5f, 0.5f, s);
    fill(wo, (size_t)H2, -1, 1, s);
    for (int b = 0; b < B; b++)
        rows[b] = (int)(nn_rng_next(s) % (uint64_t)V);
    for (int b = 0; b < B; b++)
        got[b] = plain[b] = NAN; /* overwritten, never read */
    nn_head_pack(w2p, w2, H1, H2);
    nn_head_forward(got, work, u, m, rows, w2p, b2, wo, bo, B, H1, H2);
    nn_head_forward_ref(plain, work, u, m, rows, w2p, b2, wo, bo, B, H1, H2);
    nn_head_forward_naive(want, u, m, rows, w2, b2, wo, bo, B, H1, H2);
    snprintf(what, sizeof(what), "nn_head_forward B=%d H1=%d H2=%d", B, H1, H2);
    check_close(what, got, want, (size_t)B, 1e-5, 1e-5 * H1);
    snprintf(what, sizeof(what), "nn_head_forward_ref B=%d H1=%d H2=%d", B, H1, H2);
    check_close(what, plain, want, (size_t)B, 1e-5, 1e-5 * H1);
    /* the reference against the layers one by one */
    for (int b = 0; b < B; b++)
        for (int k = 0; k < H1; k++)
            h1[(size_t)b * H1 + k] = u[k] + m[(size_t)rows[b] * H1 + k];
    relu_forward(h1, h1, (size_t)B * H1);
    matmul_forward_naive(h2, h1, w2, b2, B, H1, H2);
    relu_forward(h2, h2, (size_t)B * H2);
    matmul_forward_naive(layers, h2, wo, &bo, B, H2, 1);
    check_close("nn_head_forward_naive", want, layers, (size_t)B, 1e-5, 1e-5 * H1);
    free_all(NULL);
}

/* Shapes with every remainder: B = 1 .. 13 (last tiles of 1 to 6
 * candidates, one tile and two) and past, H2 past and short of the panel
 * of 16, odd H1. */
static void test_head_vs_naive(void **state)
{
    static const int sizes[][4] = {/* B, H1, H2, V */
                                   {1, 1, 1, 1},      {5, 3, 8, 7},     {6, 16, 16, 10},
                                   {7, 37, 17, 20},   {11, 5, 33, 4},   {13, 256, 128, 50},
                                   {200, 256, 128, 300}, {2, 64, 15, 3}};
    uint64_t s = 77;
    (void)state;
    for (size_t si = 0; si < sizeof(sizes) / sizeof(*sizes); si++)
        check_head(sizes[si][0], sizes[si][1], sizes[si][2], sizes[si][3], &s);
    for (int B = 1; B <= 13; B++)
        check_head(B, 19, 33, 23, &s);
}

static void test_matmul_backward_vs_naive(void **state)
{
    uint64_t s = 4;
    (void)state;
    for (size_t si = 0; si < sizeof(linear_sizes) / sizeof(*linear_sizes); si++)
        for (int variant = 0; variant < 3; variant++) {
            /* 0: everything; 1: din NULL; 2: db NULL */
            int B = linear_sizes[si][0], IN = linear_sizes[si][1], OUT = linear_sizes[si][2];
            size_t nin = (size_t)B * IN, nw = (size_t)OUT * IN, nout = (size_t)B * OUT;
            float *in = fbuf(nin), *w = fbuf(nw), *dout = fbuf(nout);
            float *din1 = fbuf(nin), *din2 = fbuf(nin), *dw1 = fbuf(nw), *dw2 = fbuf(nw);
            float *db1 = fbuf(OUT), *db2 = fbuf(OUT), *db0 = fbuf(OUT), *dw0;
            char what[96];
            fill(in, nin, -1, 1, &s);
            fill(w, nw, -1, 1, &s);
            fill(dout, nout, -1, 1, &s);
            fill(dw1, nw, -1, 1, &s); /* dw and db accumulate onto these */
            fill(db1, OUT, -1, 1, &s);
            memcpy(dw2, dw1, nw * sizeof(float));
            memcpy(db2, db1, OUT * sizeof(float));
            memcpy(db0, db1, OUT * sizeof(float));
            dw0 = fcopy(dw1, nw);
            for (size_t i = 0; i < nin; i++)
                din1[i] = din2[i] = NAN; /* din is overwritten */
            matmul_backward(variant == 1 ? NULL : din1, dw1, variant == 2 ? NULL : db1, dout,
                            in, w, B, IN, OUT);
            matmul_backward_naive(variant == 1 ? NULL : din2, dw2, variant == 2 ? NULL : db2,
                                  dout, in, w, B, IN, OUT);
            snprintf(what, sizeof(what), "matmul_backward B=%d IN=%d OUT=%d v=%d dw", B, IN, OUT,
                     variant);
            check_close(what, dw1, dw2, nw, 1e-4, 1e-4);
            if (variant != 1) {
                snprintf(what, sizeof(what), "matmul_backward B=%d IN=%d OUT=%d din", B, IN, OUT);
                check_close(what, din1, din2, nin, 1e-4, 1e-4);
            } else {
                for (size_t i = 0; i < nin; i++)
                    assert_true(isnan(din1[i]));
            }
            if (variant != 2) {
                snprintf(what, sizeof(what), "matmul_backward B=%d IN=%d OUT=%d db", B, IN, OUT);
                check_close(what, db1, db2, OUT, 1e-4, 1e-4);
            } else {
                check_equal_f("db untouched when NULL", db1, db0, OUT);
            }
            /* the reference accumulates: dw - dw0 == dout^T in */
            for (int o = 0; o < OUT && si < 4; o++)
                for (int k = 0; k < IN; k++) {
                    double want = dw0[(size_t)o * IN + k];
                    for (int i = 0; i < B; i++)
                        want += (double)dout[(size_t)i * OUT + o] * in[(size_t)i * IN + k];
                    assert_true(fabs(dw2[(size_t)o * IN + k] - want) <= 1e-5);
                }
            free_all(NULL);
        }
}

/* ------------------------------------------------------------------ */
/* Finite differences: linear layer and activations                     */

struct lin_ctx {
    float *in, *w, *b, *out, *r;
    int B, IN, OUT;
};

static double lin_loss(void *vctx)
{
    struct lin_ctx *c = vctx;
    matmul_forward(c->out, c->in, c->w, c->b, c->B, c->IN, c->OUT);
    return dot_d(c->out, c->r, (size_t)c->B * c->OUT);
}

static void test_matmul_backward_fd(void **state)
{
    static const int sizes[][3] = {{3, 7, 5}, {1, 4, 3}, {4, 1, 2}};
    uint64_t s = 5;
    (void)state;
    for (size_t si = 0; si < 3; si++) {
        struct lin_ctx c;
        int B = sizes[si][0], IN = sizes[si][1], OUT = sizes[si][2];
        c.B = B, c.IN = IN, c.OUT = OUT;
        c.in = fbuf((size_t)B * IN), c.w = fbuf((size_t)OUT * IN), c.b = fbuf(OUT);
        c.out = fbuf((size_t)B * OUT), c.r = fbuf((size_t)B * OUT);
        float *din = fbuf((size_t)B * IN), *dw = fbuf((size_t)OUT * IN), *db = fbuf(OUT);
        fill(c.in, (size_t)B * IN, -1, 1, &s);
        fill(c.w, (size_t)OUT * IN, -1, 1, &s);
        fill(c.b, OUT, -1, 1, &s);
        fill(c.r, (size_t)B * OUT, -1, 1, &s);
        /* d(sum out*r)/d out = r */
        matmul_backward(din, dw, db, c.r, c.in, c.w, B, IN, OUT);
        grad_check("linear din", c.in, din, (size_t)B * IN, lin_loss, &c);
        grad_check("linear dw", c.w, dw, (size_t)OUT * IN, lin_loss, &c);
        grad_check("linear db", c.b, db, OUT, lin_loss, &c);
        free_all(NULL);
    }
}

enum act { ACT_RELU, ACT_TANH, ACT_SIGMOID };

struct act_ctx {
    enum act kind;
    float *in, *out, *r;
    size_t n;
};

static void act_forward(enum act kind, float *out, const float *in, size_t n)
{
    if (kind == ACT_RELU)
        relu_forward(out, in, n);
    else if (kind == ACT_TANH)
        tanh_forward(out, in, n);
    else
        sigmoid_forward(out, in, n);
}

static void act_backward(enum act kind, float *din, const float *dout, const float *out,
                         size_t n)
{
    if (kind == ACT_RELU)
        relu_backward(din, dout, out, n);
    else if (kind == ACT_TANH)
        tanh_backward(din, dout, out, n);
    else
        sigmoid_backward(din, dout, out, n);
}

static double act_loss(void *vctx)
{
    struct act_ctx *c = vctx;
    act_forward(c->kind, c->out, c->in, c->n);
    return dot_d(c->out, c->r, c->n);
}

static void test_activations_fd(void **state)
{
    static const char *names[] = {"relu", "tanh", "sigmoid"};
    const size_t n = 64;
    uint64_t s = 6;
    (void)state;
    for (int k = 0; k < 3; k++) {
        struct act_ctx c = {(enum act)k, fbuf(n), fbuf(n), fbuf(n), n};
        float *din = fbuf(n), *inplace, *dinplace;
        char what[64];
        fill_away_from_zero(c.in, n, 0.05f, 3.0f, &s);
        fill(c.r, n, -1, 1, &s);
        act_forward(c.kind, c.out, c.in, n);
        act_backward(c.kind, din, c.r, c.out, n);
        /* in place gives the same, forward and backward */
        inplace = fcopy(c.in, n);
        act_forward(c.kind, inplace, inplace, n);
        snprintf(what, sizeof(what), "%s in place", names[k]);
        check_equal_f(what, inplace, c.out, n);
        dinplace = fcopy(c.r, n);
        act_backward(c.kind, dinplace, dinplace, c.out, n);
        check_equal_f(what, dinplace, din, n);
        snprintf(what, sizeof(what), "%s backward", names[k]);
        grad_check(what, c.in, din, n, act_loss, &c);
        free_all(NULL);
    }
}

static void test_activation_values(void **state)
{
    float in[8] = {-1000.0f, -100.0f, -2.0f, 0.0f, 0.5f, 2.0f, 100.0f, 1000.0f};
    float out[8];
    (void)state;
    relu_forward(out, in, 8);
    for (int i = 0; i < 8; i++)
        assert_true(out[i] == (in[i] > 0 ? in[i] : 0.0f));
    tanh_forward(out, in, 8);
    for (int i = 0; i < 8; i++)
        assert_true(fabs(out[i] - tanh(in[i])) <= 1e-6);
    sigmoid_forward(out, in, 8);
    for (int i = 0; i < 8; i++) {
        double want = 1.0 / (1.0 + exp(-(double)in[i]));
        assert_true(isfinite(out[i]));
        assert_true(fabs(out[i] - want) <= 1e-6 * fmax(want, 1e-30) + 1e-37);
    }
    assert_true(out[3] == 0.5f);
    assert_true(out[0] == 0.0f && out[7] == 1.0f);
}

/* ------------------------------------------------------------------ */
/* Binary cross-entropy                                                 */

static void test_bce_values(void **state)
{
    const float logit[8] = {0.0f, 2.0f, -3.0f, 100.0f, -100.0f, 1000.0f, -1000.0f, 0.5f};
    const float label[8] = {1, 1, 0, 0, 1, 1, 0, 0.3f};
    const double each[8] = {0.693147181, 0.126928011, 0.0485873516, 100, 100, 0, 0, 0.824076984};
    float prob[8], dlogit[8];
    (void)state;
    for (int i = 0; i < 8; i++) {
        float l = bce_with_logits_forward(NULL, &logit[i], &label[i], 1);
        assert_true(isfinite(l));
        if (!(fabs(l - each[i]) <= 1e-6 * (1 + each[i])))
            fail_msg("bce(%g, %g) = %.9g, want %.9g", logit[i], label[i], l, each[i]);
    }
    float mean = bce_with_logits_forward(prob, logit, label, 8);
    assert_true(fabs(mean - 25.2115924) <= 1e-5);
    for (int i = 0; i < 8; i++) {
        double want = 1.0 / (1.0 + exp(-(double)logit[i]));
        assert_true(isfinite(prob[i]));
        assert_true(fabs(prob[i] - want) <= 1e-6);
    }
    assert_true(prob[5] == 1.0f && prob[6] == 0.0f);
    bce_with_logits_backward(dlogit, prob, label, 8);
    for (int i = 0; i < 8; i++) {
        assert_true(isfinite(dlogit[i]));
        assert_true(fabs(dlogit[i] - (prob[i] - label[i]) / 8.0) <= 1e-7);
    }
    /* saturated and right: no gradient; saturated and wrong: -1/B or 1/B */
    assert_true(dlogit[5] == 0.0f && dlogit[6] == 0.0f);
    assert_true(fabs(dlogit[3] - 0.125) <= 1e-7 && fabs(dlogit[4] + 0.125) <= 1e-7);
    assert_true(bce_with_logits_forward(NULL, logit, label, 0) == 0.0f);
}

struct bce_ctx {
    float *logit, *label, *prob;
    int B;
};

static double bce_loss(void *vctx)
{
    struct bce_ctx *c = vctx;
    return bce_with_logits_forward(NULL, c->logit, c->label, c->B);
}

static void test_bce_backward_fd(void **state)
{
    const int B = 13;
    struct bce_ctx c = {fbuf(B), fbuf(B), fbuf(B), B};
    float *dlogit = fbuf(B);
    uint64_t s = 7;
    (void)state;
    fill(c.logit, B, -4, 4, &s);
    for (int i = 0; i < B; i++)
        c.label[i] = i % 3 == 0 ? 1.0f : i % 3 == 1 ? 0.0f : nn_rng_uniform(&s);
    bce_with_logits_forward(c.prob, c.logit, c.label, B);
    bce_with_logits_backward(dlogit, c.prob, c.label, B);
    /* the loss is a mean, gradients are O(1/B): tighten the absolute part */
    for (int i = 0; i < B; i++) {
        float orig = c.logit[i];
        c.logit[i] = orig + 1e-2f;
        double lp = bce_loss(&c);
        c.logit[i] = orig - 1e-2f;
        double lm = bce_loss(&c);
        c.logit[i] = orig;
        double num = (lp - lm) / 2e-2;
        assert_true(fabs(num - dlogit[i]) <= 1e-4 + 1e-2 * fabs(num));
    }
    grad_check("bce dlogit", c.logit, dlogit, B, bce_loss, &c);
}

/* ------------------------------------------------------------------ */
/* Embeddings                                                           */

static void test_embedding(void **state)
{
    enum { V = 6, C = 3, B = 5 };
    float table[V * C], out[B * C], dtable[V * C], dout[B * C];
    const int idx[B] = {2, -1, 0, 2, 5};
    uint64_t s = 8;
    (void)state;
    fill(table, V * C, -1, 1, &s);
    fill(dout, B * C, -1, 1, &s);
    for (int i = 0; i < B * C; i++)
        out[i] = NAN;
    embedding_forward(out, idx, table, B, C);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            assert_true(out[b * C + c] == (idx[b] < 0 ? 0.0f : table[idx[b] * C + c]));
    memset(dtable, 0, sizeof(dtable));
    dtable[4 * C] = 7.0f; /* accumulates onto what is there */
    embedding_backward(dtable, dout, idx, B, C);
    for (int c = 0; c < C; c++) {
        assert_true(fabs(dtable[2 * C + c] - (dout[0 * C + c] + dout[3 * C + c])) <= 1e-7);
        assert_true(dtable[0 * C + c] == dout[2 * C + c]);
        assert_true(dtable[5 * C + c] == dout[4 * C + c]);
        assert_true(dtable[1 * C + c] == 0.0f && dtable[3 * C + c] == 0.0f);
        assert_true(dtable[4 * C + c] == (c == 0 ? 7.0f : 0.0f));
    }
    assert_true(nn_indices_valid(idx, B, V));
    assert_false(nn_indices_valid(idx, B, 5));
    assert_true(nn_indices_valid(idx, 0, 0));
}

struct emb_ctx {
    float *table, *out, *r;
    const int *idx;
    int B, MAXK, C, bag;
};

static double emb_loss(void *vctx)
{
    struct emb_ctx *c = vctx;
    if (c->bag)
        embedding_bag_mean_forward(c->out, c->idx, c->table, c->B, c->MAXK, c->C);
    else
        embedding_forward(c->out, c->idx, c->table, c->B, c->C);
    return dot_d(c->out, c->r, (size_t)c->B * c->C);
}

static void test_embedding_fd(void **state)
{
    enum { V = 7, C = 4, B = 6 };
    const int idx[B] = {3, 3, -1, 0, 6, 3};
    struct emb_ctx c = {fbuf(V * C), fbuf(B * C), fbuf(B * C), idx, B, 1, C, 0};
    float *dtable = fbuf(V * C);
    uint64_t s = 9;
    (void)state;
    fill(c.table, V * C, -1, 1, &s);
    fill(c.r, B * C, -1, 1, &s);
    embedding_backward(dtable, c.r, idx, B, C);
    grad_check("embedding dtable", c.table, dtable, V * C, emb_loss, &c);
}

static void test_embedding_bag_mean(void **state)
{
    enum { V = 5, C = 2, B = 5, MAXK = 4 };
    const float table[V * C] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    const int idx[B * MAXK] = {
        0,  2,  -1, -1, /* mean of rows 0, 2 */
        -1, -1, -1, -1, /* no genre: zeros */
        -1, 4,  -1, 1,  /* padding in the middle */
        3,  3,  1,  -1, /* a repeated index counts twice */
        2,  -1, -1, -1, /* one genre: the row itself */
    };
    const float want[B * C] = {3, 4, 0, 0, 6, 7, (7 + 7 + 3) / 3.0f, (8 + 8 + 4) / 3.0f, 5, 6};
    float out[B * C], dtable[V * C], dout[B * C];
    (void)state;
    for (int i = 0; i < B * C; i++)
        out[i] = NAN;
    embedding_bag_mean_forward(out, idx, table, B, MAXK, C);
    check_close("bag mean", out, want, B * C, 1e-6, 0);
    for (int i = 0; i < B * C; i++)
        dout[i] = (float)(i + 1);
    memset(dtable, 0, sizeof(dtable));
    embedding_bag_mean_backward(dtable, dout, idx, B, MAXK, C);
    /* row 0: bag 0 / 2; row 1: bag 2 / 2 + bag 3 / 3; row 2: bag 0 / 2 + bag 4;
     * row 3: 2 * bag 3 / 3; row 4: bag 2 / 2 */
    const float dwant[V * C] = {
        1 / 2.0f,           2 / 2.0f,           5 / 2.0f + 7 / 3.0f, 6 / 2.0f + 8 / 3.0f,
        1 / 2.0f + 9,       2 / 2.0f + 10,      2 * 7 / 3.0f,        2 * 8 / 3.0f,
        5 / 2.0f,           6 / 2.0f,
    };
    check_close("bag mean backward", dtable, dwant, V * C, 1e-6, 1e-7);
}

static void test_embedding_bag_mean_fd(void **state)
{
    enum { V = 8, C = 3, B = 4, MAXK = 5 };
    const int idx[B * MAXK] = {1, 5, 7, -1, -1, -1, -1, -1, -1, -1,
                               2, -1, 2, 0, 6,  4,  3,  1,  0,  5};
    struct emb_ctx c = {fbuf(V * C), fbuf(B * C), fbuf(B * C), idx, B, MAXK, C, 1};
    float *dtable = fbuf(V * C);
    uint64_t s = 10;
    (void)state;
    fill(c.table, V * C, -1, 1, &s);
    fill(c.r, B * C, -1, 1, &s);
    embedding_bag_mean_backward(dtable, c.r, idx, B, MAXK, C);
    grad_check("bag mean dtable", c.table, dtable, V * C, emb_loss, &c);
}

static void test_word_embedding(void **state)
{
    enum { V = 4, C = 3, B = 2, L = 5 };
    const int ids[B * L] = {0, 3, 1, -1, -1, 2, 2, -1, -1, -1};
    float table[V * C], out[B * L * C], dtable[V * C] = {0}, dout[B * L * C];
    uint64_t s = 11;
    (void)state;
    fill(table, V * C, -1, 1, &s);
    fill(dout, B * L * C, -1, 1, &s);
    word_embedding_forward(out, ids, table, B, L, C);
    for (int i = 0; i < B * L; i++)
        for (int c = 0; c < C; c++)
            assert_true(out[i * C + c] == (ids[i] < 0 ? 0.0f : table[ids[i] * C + c]));
    word_embedding_backward(dtable, dout, ids, B, L, C);
    for (int c = 0; c < C; c++) {
        assert_true(dtable[0 * C + c] == dout[0 * C + c]); /* row 0 is a real word */
        assert_true(dtable[3 * C + c] == dout[1 * C + c]);
        assert_true(dtable[1 * C + c] == dout[2 * C + c]);
        assert_true(fabs(dtable[2 * C + c] - (dout[5 * C + c] + dout[6 * C + c])) <= 1e-7);
    }
}

/* ------------------------------------------------------------------ */
/* Text-CNN                                                             */

/* z[b, t, f] by a direct loop over the PyTorch layout (the reference of
 * the reference). */
static double conv_z(const float *x, const float *w, const float *bias, int b, int t, int f,
                     int L, int C, int K)
{
    double z = bias[f];
    for (int k = 0; k < K; k++)
        for (int c = 0; c < C; c++)
            z += (double)w[(f * C + c) * K + k] * x[(b * L + t + k) * C + c];
    return z;
}

static void test_conv_hand(void **state)
{
    /* C = 1, K = 2, L = 4: z = x[t] - x[t+1] = {-2, 1, -3}, max 1 at t = 1 */
    const float x[4] = {1, 3, 2, 5}, w[2] = {1, -1};
    float bias[1] = {0}, out[1], work[64], dx[4] = {0}, dw[2] = {0}, db[1] = {0}, dout[1] = {2};
    int arg[1];
    (void)state;
    assert_true(conv1d_workspace_floats(1, 4, 1, 1, 2) == 2 + 1 * 4 * 1); /* F*C*K + B*L*F */
    assert_true(conv1d_workspace_floats(1, 2, 8, 8, 2) == 2 * 8 * 8 * 2); /* backward's */
    conv1d_maxpool_relu_forward(out, arg, work, x, w, bias, 1, 4, 1, 1, 2);
    assert_true(fabs(out[0] - 1.0f) <= 1e-6 && arg[0] == 1);
    conv1d_maxpool_relu_backward(dx, dw, db, work, dout, arg, x, w, out, 1, 4, 1, 1, 2);
    assert_true(dx[0] == 0 && dx[1] == 2 && dx[2] == -2 && dx[3] == 0);
    assert_true(dw[0] == 2 * 3 && dw[1] == 2 * 2 && db[0] == 2);
    /* all windows negative: relu gives 0, the backward passes nothing */
    bias[0] = -5;
    conv1d_maxpool_relu_forward(out, arg, work, x, w, bias, 1, 4, 1, 1, 2);
    assert_true(out[0] == 0.0f && arg[0] == 1);
    memset(dw, 0, sizeof(dw));
    memset(dx, 0, sizeof(dx));
    db[0] = 0;
    conv1d_maxpool_relu_backward(dx, dw, db, work, dout, arg, x, w, out, 1, 4, 1, 1, 2);
    for (int i = 0; i < 4; i++)
        assert_true(dx[i] == 0.0f);
    assert_true(dw[0] == 0 && dw[1] == 0 && db[0] == 0);
    /* C = 2, K = 2: the channel/window order of w is (F, C, K) */
    {
        const float x2[6] = {1, 10, 2, 20, 3, 30}; /* (L=3, C=2) */
        const float w2[4] = {1, 0, 0, 1};          /* w[0,0,0]=1, w[0,1,1]=1 */
        float b2[1] = {0}, o2[1];
        int a2[1];
        conv1d_maxpool_relu_forward(o2, a2, work, x2, w2, b2, 1, 3, 2, 1, 2);
        /* z[t] = x[t, 0] + x[t+1, 1]: {1 + 20, 2 + 30} */
        assert_true(o2[0] == 32.0f && a2[0] == 1);
        conv1d_maxpool_relu_forward_naive(o2, a2, x2, w2, b2, 1, 3, 2, 1, 2);
        assert_true(o2[0] == 32.0f && a2[0] == 1);
    }
}

static void test_conv_fast_vs_naive(void **state)
{
    static const int sizes[][5] = {
        /* B, L, C, F, K */
        {1, 15, 32, 8, 2}, {1, 15, 32, 8, 3}, {4, 15, 32, 8, 4}, {7, 15, 32, 8, 5},
        {3, 6, 3, 5, 4},   {2, 5, 1, 1, 5},   {1, 1, 1, 1, 1},   {5, 9, 7, 3, 1},
        {64, 15, 32, 8, 5},
    };
    uint64_t s = 12;
    (void)state;
    for (size_t si = 0; si < sizeof(sizes) / sizeof(*sizes); si++) {
        int B = sizes[si][0], L = sizes[si][1], C = sizes[si][2], F = sizes[si][3];
        int K = sizes[si][4], T = L - K + 1;
        size_t nx = (size_t)B * L * C, nw = (size_t)F * C * K, no = (size_t)B * F;
        float *x = fbuf(nx), *w = fbuf(nw), *bias = fbuf(F), *o1 = fbuf(no), *o2 = fbuf(no);
        float *work = fbuf(conv1d_workspace_floats(B, L, C, F, K));
        int *a1 = talloc(no * sizeof(int)), *a2 = talloc(no * sizeof(int));
        char what[96];
        fill(x, nx, -1, 1, &s);
        fill(w, nw, -0.3f, 0.3f, &s);
        fill(bias, F, -0.5f, 0.5f, &s);
        conv1d_maxpool_relu_forward(o1, a1, work, x, w, bias, B, L, C, F, K);
        conv1d_maxpool_relu_forward_naive(o2, a2, x, w, bias, B, L, C, F, K);
        snprintf(what, sizeof(what), "conv B=%d L=%d C=%d F=%d K=%d", B, L, C, F, K);
        check_close(what, o1, o2, no, 1e-4, 1e-5);
        for (int b = 0; b < B; b++)
            for (int f = 0; f < F; f++) {
                size_t bf = (size_t)b * F + f;
                double best = -INFINITY;
                int arg = -1;
                for (int t = 0; t < T; t++) {
                    double z = conv_z(x, w, bias, b, t, f, L, C, K);
                    if (z > best)
                        best = z, arg = t;
                }
                /* against the direct loop */
                assert_true(fabs(o2[bf] - fmax(best, 0.0)) <= 1e-5);
                assert_int_equal(a2[bf], arg);
                /* the fast argmax is a maximising window (ties may differ) */
                assert_true(a1[bf] >= 0 && a1[bf] < T);
                assert_true(conv_z(x, w, bias, b, a1[bf], f, L, C, K) >= best - 1e-5);
            }
        /* no workspace: the naive path */
        conv1d_maxpool_relu_forward(o1, a1, NULL, x, w, bias, B, L, C, F, K);
        check_equal_f("conv without workspace", o1, o2, no);
        free_all(NULL);
    }
}

static void test_conv_short_input(void **state)
{
    /* L < K: no window; out 0, argmax -1, backward does nothing */
    enum { B = 2, L = 3, C = 2, F = 3, K = 4 };
    float x[B * L * C], w[F * C * K], bias[F] = {1, 2, 3}, out[B * F], dx[B * L * C];
    float dw[F * C * K] = {0}, db[F] = {0}, dout[B * F];
    int arg[B * F];
    uint64_t s = 13;
    (void)state;
    fill(x, B * L * C, -1, 1, &s);
    fill(w, F * C * K, -1, 1, &s);
    fill(dout, B * F, -1, 1, &s);
    assert_true(conv1d_workspace_floats(B, L, C, F, K) == 0);
    conv1d_maxpool_relu_forward(out, arg, NULL, x, w, bias, B, L, C, F, K);
    for (int i = 0; i < B * F; i++)
        assert_true(out[i] == 0.0f && arg[i] == -1);
    conv1d_maxpool_relu_forward_naive(out, arg, x, w, bias, B, L, C, F, K);
    for (int i = 0; i < B * F; i++)
        assert_true(out[i] == 0.0f && arg[i] == -1);
    memset(dx, 0, sizeof(dx));
    conv1d_maxpool_relu_backward(dx, dw, db, NULL, dout, arg, x, w, out, B, L, C, F, K);
    for (int i = 0; i < B * L * C; i++)
        assert_true(dx[i] == 0.0f);
    for (int i = 0; i < F * C * K; i++)
        assert_true(dw[i] == 0.0f);
    for (int i = 0; i < F; i++)
        assert_true(db[i] == 0.0f);
}

struct conv_ctx {
    float *x, *w, *bias, *out, *r, *work;
    int *arg;
    int B, L, C, F, K;
};

static double conv_loss(void *vctx)
{
    struct conv_ctx *c = vctx;
    conv1d_maxpool_relu_forward(c->out, c->arg, c->work, c->x, c->w, c->bias, c->B, c->L, c->C,
                                c->F, c->K);
    return dot_d(c->out, c->r, (size_t)c->B * c->F);
}

/* The smallest distance from a kink: between the best and second-best
 * window, and between the best window and 0 (relu). */
static double conv_margin(const struct conv_ctx *c)
{
    double margin = INFINITY;
    int T = c->L - c->K + 1;
    for (int b = 0; b < c->B; b++)
        for (int f = 0; f < c->F; f++) {
            double best = -INFINITY, second = -INFINITY;
            for (int t = 0; t < T; t++) {
                double z = conv_z(c->x, c->w, c->bias, b, t, f, c->L, c->C, c->K);
                if (z > best)
                    second = best, best = z;
                else if (z > second)
                    second = z;
            }
            margin = fmin(margin, fabs(best));
            if (T > 1)
                margin = fmin(margin, best - second);
        }
    return margin;
}

static void test_conv_backward_fd(void **state)
{
    static const int sizes[][5] = {{2, 7, 3, 4, 3}, {3, 6, 2, 3, 2}, {1, 5, 4, 2, 5},
                                   {2, 15, 4, 3, 4}};
    uint64_t s = 14;
    (void)state;
    for (size_t si = 0; si < sizeof(sizes) / sizeof(*sizes); si++) {
        struct conv_ctx c;
        c.B = sizes[si][0], c.L = sizes[si][1], c.C = sizes[si][2], c.F = sizes[si][3];
        c.K = sizes[si][4];
        size_t nx = (size_t)c.B * c.L * c.C, nw = (size_t)c.F * c.C * c.K;
        size_t no = (size_t)c.B * c.F;
        c.x = fbuf(nx), c.w = fbuf(nw), c.bias = fbuf(c.F), c.out = fbuf(no), c.r = fbuf(no);
        c.work = fbuf(conv1d_workspace_floats(c.B, c.L, c.C, c.F, c.K));
        c.arg = talloc(no * sizeof(int));
        /* redraw until no kink is within reach of the 1e-3 steps */
        int tries = 0, active = 0;
        do {
            if (++tries > 10000)
                fail_msg("could not draw conv data away from the kinks");
            fill(c.x, nx, -1, 1, &s);
            fill(c.w, nw, -1, 1, &s);
            fill(c.bias, c.F, -0.5f, 0.5f, &s);
            conv_loss(&c);
            active = 0;
            for (size_t i = 0; i < no; i++)
                active += c.out[i] > 0;
        } while (conv_margin(&c) < 0.05 || active == 0 || (no > 1 && active == (int)no));
        fill(c.r, no, -1, 1, &s);
        conv_loss(&c);
        float *dx = fbuf(nx), *dw = fbuf(nw), *db = fbuf(c.F);
        float *dx0 = fbuf(nx), *dw0 = fbuf(nw), *db0 = fbuf(c.F);
        fill(dx0, nx, -1, 1, &s); /* dx, dw and db accumulate */
        fill(dw0, nw, -1, 1, &s);
        fill(db0, c.F, -1, 1, &s);
        memcpy(dx, dx0, nx * sizeof(float));
        memcpy(dw, dw0, nw * sizeof(float));
        memcpy(db, db0, c.F * sizeof(float));
        conv1d_maxpool_relu_backward(dx, dw, db, c.work, c.r, c.arg, c.x, c.w, c.out, c.B, c.L,
                                     c.C, c.F, c.K);
        for (size_t i = 0; i < nx; i++)
            dx[i] -= dx0[i];
        for (size_t i = 0; i < nw; i++)
            dw[i] -= dw0[i];
        for (int i = 0; i < c.F; i++)
            db[i] -= db0[i];
        grad_check("conv dx", c.x, dx, nx, conv_loss, &c);
        grad_check("conv dw", c.w, dw, nw, conv_loss, &c);
        grad_check("conv db", c.bias, db, c.F, conv_loss, &c);
        /* without workspace (strided loops), with and without dx: the same */
        for (int with_dx = 0; with_dx < 2; with_dx++) {
            float *dx2 = fbuf(nx), *dw2 = fbuf(nw), *db2 = fbuf(c.F);
            conv1d_maxpool_relu_backward(with_dx ? dx2 : NULL, dw2, db2, NULL, c.r, c.arg, c.x,
                                         c.w, c.out, c.B, c.L, c.C, c.F, c.K);
            check_close("conv dw without workspace", dw2, dw, nw, 1e-5, 1e-6);
            check_close("conv db without workspace", db2, db, c.F, 1e-5, 1e-6);
            if (with_dx)
                check_close("conv dx without workspace", dx2, dx, nx, 1e-5, 1e-6);
        }
        /* with workspace, no dx */
        float *dw3 = fbuf(nw), *db3 = fbuf(c.F);
        conv1d_maxpool_relu_backward(NULL, dw3, db3, c.work, c.r, c.arg, c.x, c.w, c.out, c.B,
                                     c.L, c.C, c.F, c.K);
        check_close("conv dw without dx", dw3, dw, nw, 1e-5, 1e-6);
        free_all(NULL);
    }
}

/* ------------------------------------------------------------------ */
/* Dropout and concatenation                                            */

static void test_dropout(void **state)
{
    const size_t n = 100000;
    const float p = 0.5f;
    float *in = fbuf(n), *o1 = fbuf(n), *o2 = fbuf(n), *din = fbuf(n), *dout = fbuf(n);
    uint8_t *m1 = talloc(n), *m2 = talloc(n);
    uint64_t s = 15, r1 = 99, r2 = 99;
    size_t kept = 0, same = 0;
    (void)state;
    fill(in, n, -1, 1, &s);
    fill(dout, n, -1, 1, &s);
    dropout_forward(o1, m1, in, n, p, &r1);
    dropout_forward(o2, m2, in, n, p, &r2);
    assert_true(r1 == r2 && r1 != 99);
    assert_memory_equal(m1, m2, n);
    check_equal_f("dropout is deterministic", o1, o2, n);
    for (size_t i = 0; i < n; i++) {
        assert_true(m1[i] == 0 || m1[i] == 1);
        assert_true(o1[i] == (m1[i] ? in[i] * 2.0f : 0.0f));
        kept += m1[i];
    }
    /* binomial(n, 0.5): sd 158; 5 sd */
    assert_true(fabs((double)kept - 0.5 * n) < 800);
    /* the state advanced: the next mask differs */
    dropout_forward(o2, m2, in, n, p, &r2);
    for (size_t i = 0; i < n; i++)
        same += m1[i] == m2[i];
    assert_true(same < n * 0.55 && same > n * 0.45);
    /* backward */
    dropout_backward(din, dout, m1, n, p);
    for (size_t i = 0; i < n; i++)
        assert_true(din[i] == (m1[i] ? dout[i] * 2.0f : 0.0f));
    /* in place */
    memcpy(o2, in, n * sizeof(float));
    r2 = 99;
    dropout_forward(o2, m2, o2, n, p, &r2);
    check_equal_f("dropout in place", o2, o1, n);
    /* p = 0.2: scale 1.25, about 80% kept */
    r1 = 7;
    kept = 0;
    dropout_forward(o1, m1, in, n, 0.2f, &r1);
    for (size_t i = 0; i < n; i++) {
        kept += m1[i];
        assert_true(o1[i] == (m1[i] ? in[i] * (1.0f / 0.8f) : 0.0f));
    }
    assert_true(fabs((double)kept - 0.8 * n) < 700); /* sd 126 */
    /* p = 0: identity; p = 1: all zero, no NaN */
    dropout_forward(o1, m1, in, n, 0.0f, &r1);
    check_equal_f("dropout p=0", o1, in, n);
    dropout_backward(din, dout, m1, n, 0.0f);
    check_equal_f("dropout backward p=0", din, dout, n);
    dropout_forward(o1, m1, in, n, 1.0f, &r1);
    dropout_backward(din, dout, m1, n, 1.0f);
    for (size_t i = 0; i < n; i++)
        assert_true(o1[i] == 0.0f && m1[i] == 0 && din[i] == 0.0f);
}

static void test_concat(void **state)
{
    enum { B = 3, A = 2, C = 4 };
    float a[B * A], c[B * C], out[B * (A + C)], da[B * A], dc[B * C];
    uint64_t s = 16;
    (void)state;
    fill(a, B * A, -1, 1, &s);
    fill(c, B * C, -1, 1, &s);
    concat_forward(out, a, c, B, A, C);
    for (int b = 0; b < B; b++) {
        for (int j = 0; j < A; j++)
            assert_true(out[b * (A + C) + j] == a[b * A + j]);
        for (int j = 0; j < C; j++)
            assert_true(out[b * (A + C) + A + j] == c[b * C + j]);
    }
    concat_backward(da, dc, out, B, A, C);
    check_equal_f("concat split a", da, a, B * A);
    check_equal_f("concat split c", dc, c, B * C);
    memset(dc, 0, sizeof(dc));
    concat_backward(NULL, dc, out, B, A, C);
    check_equal_f("concat split c only", dc, c, B * C);

    /* n-way: the user tower's four 32-wide parts, here 1, 3, 2 */
    float p0[B * 1], p1[B * 3], p2[B * 2], o3[B * 6], d0[B * 1], d2[B * 2];
    const float *parts[3] = {p0, p1, p2};
    const int widths[3] = {1, 3, 2};
    float *dparts[3] = {d0, NULL, d2};
    fill(p0, B, -1, 1, &s);
    fill(p1, B * 3, -1, 1, &s);
    fill(p2, B * 2, -1, 1, &s);
    concat_many_forward(o3, parts, widths, 3, B);
    for (int b = 0; b < B; b++) {
        assert_true(o3[b * 6] == p0[b]);
        for (int j = 0; j < 3; j++)
            assert_true(o3[b * 6 + 1 + j] == p1[b * 3 + j]);
        for (int j = 0; j < 2; j++)
            assert_true(o3[b * 6 + 4 + j] == p2[b * 2 + j]);
    }
    concat_many_backward(dparts, o3, widths, 3, B);
    check_equal_f("concat_many split 0", d0, p0, B);
    check_equal_f("concat_many split 2", d2, p2, B * 2);
}

/* ------------------------------------------------------------------ */
/* Adam                                                                 */

static void test_adam_hand(void **state)
{
    /* torch.optim.Adam(lr=1e-3) from p = 1 with grads 0.1, -0.2, 0.3 */
    const float g1[3] = {0.1f, -0.2f, 0.3f};
    const double want1[3][3] = {{0.999, 0.01, 1e-05},
                                {0.999366104, -0.011, 4.999e-05},
                                {0.999022863, 0.0201, 0.00013994001}};
    /* lr 0.01, betas (0.8, 0.99), eps 1e-6, weight_decay 0.1, from -0.5 */
    const float g2[3] = {2.0f, 0.0f, -1.0f};
    const double want2[3][3] = {{-0.509999995, 0.39, 0.038025},
                                {-0.516093129, 0.3018, 0.03767076},
                                {-0.516592897, 0.0311181375, 0.0483528739}};
    /* The hyperparameters are float, so 1 - 0.999f is 1.00005e-3, not 1e-3:
     * m and v agree to 1e-4 relative; the parameter to 1e-7. */
    float p = 1.0f, m = 0.0f, v = 0.0f;
    (void)state;
    for (int t = 1; t <= 3; t++) {
        adam_update(&p, &g1[t - 1], &m, &v, 1, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, t);
        if (fabs(p - want1[t - 1][0]) > 1e-7 || fabs(m - want1[t - 1][1]) > 1e-4 * fabs(m) ||
            fabs(v - want1[t - 1][2]) > 1e-4 * fabs(v))
            fail_msg("adam step %d: p %.9g m %.9g v %.9g, want %.9g %.9g %.9g", t, p, m, v,
                     want1[t - 1][0], want1[t - 1][1], want1[t - 1][2]);
    }
    p = -0.5f, m = 0.0f, v = 0.0f;
    for (int t = 1; t <= 3; t++) {
        adam_update(&p, &g2[t - 1], &m, &v, 1, 1e-2f, 0.8f, 0.99f, 1e-6f, 0.1f, t);
        if (fabs(p - want2[t - 1][0]) > 1e-7 || fabs(m - want2[t - 1][1]) > 1e-4 * fabs(m) ||
            fabs(v - want2[t - 1][2]) > 1e-4 * fabs(v))
            fail_msg("adam+wd step %d: p %.9g m %.9g v %.9g, want %.9g %.9g %.9g", t, p, m, v,
                     want2[t - 1][0], want2[t - 1][1], want2[t - 1][2]);
    }
}

static void test_adam_vs_double(void **state)
{
    const size_t n = 1001;
    float *p = fbuf(n), *g = fbuf(n), *m = fbuf(n), *v = fbuf(n);
    double *pd = talloc(n * sizeof(double)), *md = talloc(n * sizeof(double));
    double *vd = talloc(n * sizeof(double));
    uint64_t s = 17;
    (void)state;
    fill(p, n, -1, 1, &s);
    for (size_t i = 0; i < n; i++)
        pd[i] = p[i];
    for (int t = 1; t <= 5; t++) {
        fill(g, n, -1, 1, &s);
        adam_update(p, g, m, v, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, t);
        for (size_t i = 0; i < n; i++) {
            double gi = g[i] + 0.01 * pd[i];
            md[i] = 0.9 * md[i] + 0.1 * gi;
            vd[i] = 0.999 * vd[i] + 0.001 * gi * gi;
            pd[i] -= 1e-3 / (1 - pow(0.9, t)) * md[i] /
                     (sqrt(vd[i]) / sqrt(1 - pow(0.999, t)) + 1e-8);
        }
    }
    for (size_t i = 0; i < n; i++)
        if (fabs(p[i] - pd[i]) > 1e-6 || fabs(m[i] - md[i]) > 1e-6 || fabs(v[i] - vd[i]) > 1e-7)
            fail_msg("adam element %zu: %.9g, want %.9g", i, p[i], pd[i]);
}

/* ------------------------------------------------------------------ */
/* Parameter block                                                      */

static void test_params_layout(void **state)
{
    struct nn_params p;
    struct error err;
    int fi, fo;
    (void)state;
    nn_params_init(&p);
    int a = nn_params_add(&p, "fc.w", 5, 3, 0);
    int b = nn_params_add(&p, "fc.b", 5, 0, 0);
    int c = nn_params_add(&p, "conv.w", 8, 32, 3);
    int d = nn_params_add(&p, "one", 1, 0, 0);
    int e = nn_params_add(&p, "emb", 17, 32, 0);
    assert_int_equal(a, 0);
    assert_int_equal(b, 1);
    assert_int_equal(c, 2);
    assert_int_equal(d, 3);
    assert_int_equal(e, 4);
    /* more than the first table's 16 entries */
    for (int i = 0; i < 40; i++) {
        char name[32];
        snprintf(name, sizeof(name), "extra.%d", i);
        assert_int_equal(nn_params_add(&p, name, i + 1, 0, 0), 5 + i);
    }
    assert_int_equal(nn_params_alloc(&p, &err), 0);
    assert_int_equal(p.ntensors, 45);
    assert_true(p.total % NN_ALIGN_FLOATS == 0);
    assert_int_equal(p.tensors[a].ndim, 2);
    assert_int_equal(p.tensors[b].ndim, 1);
    assert_int_equal(p.tensors[c].ndim, 3);
    assert_true(p.tensors[a].count == 15 && p.tensors[b].count == 5);
    assert_true(p.tensors[c].count == 8 * 32 * 3 && p.tensors[e].count == 17 * 32);
    assert_true(p.tensors[c].shape[0] == 8 && p.tensors[c].shape[1] == 32 &&
                p.tensors[c].shape[2] == 3);
    assert_true(p.tensors[b].shape[1] == 0 && p.tensors[b].shape[2] == 0);
    size_t end = 0;
    for (int i = 0; i < p.ntensors; i++) {
        const struct nn_tensor *t = &p.tensors[i];
        assert_true(t->offset % NN_ALIGN_FLOATS == 0);
        assert_true(t->offset >= end); /* no overlap, in order */
        end = t->offset + t->count;
        assert_true(((uintptr_t)nn_params_tensor(&p, i) & 63) == 0);
        assert_true(((uintptr_t)nn_params_grad(&p, i) & 63) == 0);
        assert_true(((uintptr_t)(p.m + t->offset) & 63) == 0);
        assert_true(((uintptr_t)(p.v + t->offset) & 63) == 0);
        assert_ptr_equal(nn_params_tensor(&p, i), p.data + t->offset);
        assert_ptr_equal(nn_params_grad(&p, i), p.grad + t->offset);
        assert_int_equal(nn_params_find(&p, t->name), i);
    }
    assert_true(end <= p.total);
    assert_int_equal(nn_params_find(&p, "nope"), -1);
    /* zeroed, all four blocks */
    for (size_t i = 0; i < p.total; i++)
        assert_true(p.data[i] == 0 && p.grad[i] == 0 && p.m[i] == 0 && p.v[i] == 0);
    nn_params_fans(&p, a, &fi, &fo);
    assert_true(fi == 3 && fo == 5);
    nn_params_fans(&p, c, &fi, &fo);
    assert_true(fi == 32 * 3 && fo == 8 * 3);
    nn_params_fans(&p, b, &fi, &fo);
    assert_true(fi == 5 && fo == 5);
    /* adding after allocation is an error */
    assert_int_equal(nn_params_add(&p, "late", 2, 0, 0), -1);
    assert_int_equal(nn_params_alloc(&p, &err), ERR_USAGE);
    nn_params_free(&p);
    assert_null(p.data);
    assert_null(p.tensors);
    /* nothing at all */
    nn_params_init(&p);
    assert_int_equal(nn_params_alloc(&p, &err), 0);
    nn_params_adam_step(&p, 1e-3f, 0.9f, 0.999f, 1e-8f, 0);
    nn_params_zero_grad(&p);
    nn_params_free(&p);
}

static void test_params_errors(void **state)
{
    static const int bad[][3] = {{0, 1, 1}, {-1, 0, 0}, {3, -2, 0}, {3, 0, 4}, {2, 2, -1}};
    struct nn_params p;
    struct error err;
    char long_name[NN_NAME_MAX + 8];
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        nn_params_init(&p);
        assert_int_equal(nn_params_add(&p, "ok", 2, 2, 0), 0);
        assert_int_equal(nn_params_add(&p, "bad", bad[i][0], bad[i][1], bad[i][2]), -1);
        assert_int_equal(nn_params_add(&p, "after", 2, 0, 0), 1); /* layout goes on */
        error_clear(&err);
        assert_int_equal(nn_params_alloc(&p, &err), ERR_USAGE);
        assert_int_equal(err.code, ERR_USAGE);
        assert_non_null(strstr(err.msg, "'bad'"));
        assert_null(p.data);
        nn_params_free(&p);
    }
    nn_params_init(&p);
    assert_int_equal(nn_params_add(&p, "x", 2, 0, 0), 0);
    assert_int_equal(nn_params_add(&p, "x", 3, 0, 0), -1);
    assert_int_equal(nn_params_alloc(&p, &err), ERR_USAGE);
    assert_non_null(strstr(err.msg, "duplicate"));
    nn_params_free(&p);

    nn_params_init(&p);
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    assert_int_equal(nn_params_add(&p, long_name, 2, 0, 0), -1);
    assert_int_equal(nn_params_add(&p, "", 2, 0, 0), -1);
    assert_int_equal(nn_params_alloc(&p, NULL), ERR_USAGE);
    nn_params_free(&p);

    /* more than memory can hold: ERR_NOMEM, reported, nothing exits */
    nn_params_init(&p);
    assert_int_equal(nn_params_add(&p, "huge", 1 << 30, 1 << 30, 1 << 30), -1);
    assert_int_equal(nn_params_alloc(&p, &err), ERR_NOMEM);
    assert_non_null(strstr(err.msg, "huge"));
    nn_params_free(&p);
    nn_params_init(&p);
    for (int i = 0; i < 20; i++) { /* each fits, the sum does not */
        char name[16];
        snprintf(name, sizeof(name), "big%d", i);
        nn_params_add(&p, name, 1 << 30, 1 << 28, 0);
    }
    assert_int_equal(nn_params_alloc(&p, &err), ERR_NOMEM);
    nn_params_free(&p);
    /* 2^45 floats x 4 blocks = 512 TiB, past any address space: the
     * allocation itself fails */
    nn_params_init(&p);
    assert_int_equal(nn_params_add(&p, "tera", 1 << 23, 1 << 22, 0), 0);
    assert_int_equal(nn_params_alloc(&p, &err), ERR_NOMEM);
    assert_non_null(strstr(err.msg, "cannot allocate"));
    assert_null(p.data);
    nn_params_free(&p);
}

static void layout_small(struct nn_params *p)
{
    struct error err;
    nn_params_init(p);
    nn_params_add(p, "w1", 7, 3, 0);
    nn_params_add(p, "b1", 7, 0, 0);
    nn_params_add(p, "conv", 4, 5, 3);
    nn_params_add(p, "emb", 11, 6, 0);
    if (nn_params_alloc(p, &err))
        fail_msg("%s", err.msg);
}

static void test_params_adam_block(void **state)
{
    struct nn_params a, b;
    uint64_t s = 18;
    (void)state;
    layout_small(&a);
    layout_small(&b);
    for (int i = 0; i < a.ntensors; i++) {
        size_t n = a.tensors[i].count;
        fill(nn_params_tensor(&a, i), n, -1, 1, &s);
        memcpy(nn_params_tensor(&b, i), nn_params_tensor(&a, i), n * sizeof(float));
    }
    for (int step = 1; step <= 3; step++) {
        for (int i = 0; i < a.ntensors; i++) {
            size_t n = a.tensors[i].count;
            fill(nn_params_grad(&a, i), n, -1, 1, &s);
            memcpy(nn_params_grad(&b, i), nn_params_grad(&a, i), n * sizeof(float));
        }
        nn_params_adam_step(&a, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.05f);
        for (int i = 0; i < b.ntensors; i++) {
            const struct nn_tensor *t = &b.tensors[i];
            adam_update(b.data + t->offset, b.grad + t->offset, b.m + t->offset,
                        b.v + t->offset, t->count, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.05f, step);
        }
        assert_int_equal(a.step, step);
        for (int i = 0; i < a.ntensors; i++) {
            const struct nn_tensor *t = &a.tensors[i];
            check_close("block adam = per-tensor adam", a.data + t->offset, b.data + t->offset,
                        t->count, 1e-6, 1e-7);
            check_close("block adam m", a.m + t->offset, b.m + t->offset, t->count, 1e-6, 0);
        }
        /* the padding between tensors stays zero */
        for (int i = 0; i < a.ntensors; i++) {
            const struct nn_tensor *t = &a.tensors[i];
            size_t next = i + 1 < a.ntensors ? a.tensors[i + 1].offset : a.total;
            for (size_t j = t->offset + t->count; j < next; j++)
                assert_true(a.data[j] == 0 && a.m[j] == 0 && a.v[j] == 0);
        }
    }
    nn_params_zero_grad(&a);
    for (size_t i = 0; i < a.total; i++)
        assert_true(a.grad[i] == 0.0f);
    nn_params_free(&a);
    nn_params_free(&b);
}

static void test_params_init(void **state)
{
    struct nn_params p, q;
    uint64_t s1 = 42, s2 = 42;
    (void)state;
    layout_small(&p);
    layout_small(&q);
    int w1 = nn_params_find(&p, "w1"), conv = nn_params_find(&p, "conv");
    int emb = nn_params_find(&p, "emb"), b1 = nn_params_find(&p, "b1");
    nn_params_init_xavier_uniform(&p, w1, &s1);
    nn_params_init_kaiming_uniform(&p, conv, &s1);
    nn_params_init_normal(&p, emb, 0.0f, 0.01f, &s1);
    nn_params_init_const(&p, b1, 0.25f);
    nn_params_init_xavier_uniform(&q, w1, &s2);
    nn_params_init_kaiming_uniform(&q, conv, &s2);
    nn_params_init_normal(&q, emb, 0.0f, 0.01f, &s2);
    assert_true(s1 == s2);
    assert_memory_equal(nn_params_tensor(&p, w1), nn_params_tensor(&q, w1), 21 * sizeof(float));
    assert_memory_equal(nn_params_tensor(&p, conv), nn_params_tensor(&q, conv),
                        60 * sizeof(float));
    assert_memory_equal(nn_params_tensor(&p, emb), nn_params_tensor(&q, emb), 66 * sizeof(float));
    const float *w = nn_params_tensor(&p, w1);
    float xb = sqrtf(6.0f / (3 + 7)), kb = sqrtf(6.0f / (5 * 3));
    int distinct = 0;
    for (int i = 0; i < 21; i++) {
        assert_true(fabsf(w[i]) <= xb);
        distinct += w[i] != w[0];
    }
    assert_true(distinct > 15);
    const float *cw = nn_params_tensor(&p, conv);
    for (int i = 0; i < 60; i++)
        assert_true(fabsf(cw[i]) <= kb);
    for (int i = 0; i < 7; i++)
        assert_true(nn_params_tensor(&p, b1)[i] == 0.25f);
    /* normal: mean and std over many draws */
    {
        uint64_t s = 3;
        double sum = 0, sq = 0;
        const int n = 200000;
        for (int i = 0; i < n; i++) {
            double z = nn_rng_normal(&s);
            assert_true(isfinite(z));
            sum += z, sq += z * z;
        }
        assert_true(fabs(sum / n) < 0.01);
        assert_true(fabs(sqrt(sq / n - (sum / n) * (sum / n)) - 1.0) < 0.01);
        float u;
        for (int i = 0; i < 100000; i++) {
            u = nn_rng_uniform(&s);
            assert_true(u >= 0.0f && u < 1.0f);
        }
    }
    const float *e = nn_params_tensor(&p, emb);
    double sq = 0;
    for (int i = 0; i < 66; i++)
        sq += (double)e[i] * e[i];
    assert_true(sqrt(sq / 66) > 0.005 && sqrt(sq / 66) < 0.015);
    nn_params_free(&p);
    nn_params_free(&q);
}

/* ------------------------------------------------------------------ */
/* A small two-tower network from the kernels, checked end to end       */
/*                                                                      */
/* user: emb(uid) -> FC relu; movie: bag-mean(genres) ++ text-CNN(title) */
/* -> FC tanh; concat -> FC relu -> FC -> BCE. Every parameter's        */
/* gradient against finite differences of the mean loss.                */

enum { MB = 3, MU = 5, MG = 4, MW = 6, ME = 4, ML = 6, MKMAX = 3, MF = 3, MK = 2, MH = 5 };

struct mini {
    struct nn_params p;
    int uemb, fu_w, fu_b, gemb, wemb, cw, cb, fm_w, fm_b, f1_w, f1_b, f2_w, f2_b;
    int uid[MB], genres[MB * MKMAX], words[MB * ML];
    float label[MB];
    /* activations */
    float ue[MB * ME], uh[MB * ME], ge[MB * ME], we[MB * ML * ME], co[MB * MF];
    int carg[MB * MF];
    float mcat[MB * (ME + MF)], mh[MB * ME], cat[MB * 2 * ME], h1[MB * MH], logit[MB], prob[MB];
    float work[MB * ML * (ME * MK + MF)];
};

static double mini_forward(void *vctx)
{
    struct mini *m = vctx;
    struct nn_params *p = &m->p;
#define T_(i) nn_params_tensor(p, m->i)
    embedding_forward(m->ue, m->uid, T_(uemb), MB, ME);
    matmul_forward(m->uh, m->ue, T_(fu_w), T_(fu_b), MB, ME, ME);
    relu_forward(m->uh, m->uh, MB * ME);
    embedding_bag_mean_forward(m->ge, m->genres, T_(gemb), MB, MKMAX, ME);
    word_embedding_forward(m->we, m->words, T_(wemb), MB, ML, ME);
    conv1d_maxpool_relu_forward(m->co, m->carg, m->work, m->we, T_(cw), T_(cb), MB, ML, ME, MF,
                                MK);
    concat_forward(m->mcat, m->ge, m->co, MB, ME, MF);
    matmul_forward(m->mh, m->mcat, T_(fm_w), T_(fm_b), MB, ME + MF, ME);
    tanh_forward(m->mh, m->mh, MB * ME);
    concat_forward(m->cat, m->uh, m->mh, MB, ME, ME);
    matmul_forward(m->h1, m->cat, T_(f1_w), T_(f1_b), MB, 2 * ME, MH);
    relu_forward(m->h1, m->h1, MB * MH);
    matmul_forward(m->logit, m->h1, T_(f2_w), T_(f2_b), MB, MH, 1);
#undef T_
    return bce_with_logits_forward(m->prob, m->logit, m->label, MB);
}

static void mini_backward(struct mini *m)
{
    struct nn_params *p = &m->p;
    float dlogit[MB], dh1[MB * MH], dcat[MB * 2 * ME], duh[MB * ME], dmh[MB * ME];
    float due[MB * ME], dmcat[MB * (ME + MF)], dge[MB * ME], dco[MB * MF], dwe[MB * ML * ME];
#define T_(i) nn_params_tensor(p, m->i)
#define G_(i) nn_params_grad(p, m->i)
    nn_params_zero_grad(p);
    bce_with_logits_backward(dlogit, m->prob, m->label, MB);
    matmul_backward(dh1, G_(f2_w), G_(f2_b), dlogit, m->h1, T_(f2_w), MB, MH, 1);
    relu_backward(dh1, dh1, m->h1, MB * MH);
    matmul_backward(dcat, G_(f1_w), G_(f1_b), dh1, m->cat, T_(f1_w), MB, 2 * ME, MH);
    concat_backward(duh, dmh, dcat, MB, ME, ME);
    tanh_backward(dmh, dmh, m->mh, MB * ME);
    matmul_backward(dmcat, G_(fm_w), G_(fm_b), dmh, m->mcat, T_(fm_w), MB, ME + MF, ME);
    concat_backward(dge, dco, dmcat, MB, ME, MF);
    memset(dwe, 0, sizeof(dwe));
    conv1d_maxpool_relu_backward(dwe, G_(cw), G_(cb), m->work, dco, m->carg, m->we, T_(cw),
                                 m->co, MB, ML, ME, MF, MK);
    word_embedding_backward(G_(wemb), dwe, m->words, MB, ML, ME);
    embedding_bag_mean_backward(G_(gemb), dge, m->genres, MB, MKMAX, ME);
    relu_backward(duh, duh, m->uh, MB * ME);
    matmul_backward(due, G_(fu_w), G_(fu_b), duh, m->ue, T_(fu_w), MB, ME, ME);
    embedding_backward(G_(uemb), due, m->uid, MB, ME);
#undef T_
#undef G_
}

/* Distance of the nearest relu / max-pool kink in the current forward. */
static double mini_margin(struct mini *m)
{
    double margin = INFINITY;
    { /* the relu inputs, recomputed */
        float pre[MB * MH], preu[MB * ME];
        matmul_forward(pre, m->cat, nn_params_tensor(&m->p, m->f1_w),
                       nn_params_tensor(&m->p, m->f1_b), MB, 2 * ME, MH);
        for (int i = 0; i < MB * MH; i++)
            margin = fmin(margin, fabs(pre[i]));
        matmul_forward(preu, m->ue, nn_params_tensor(&m->p, m->fu_w),
                       nn_params_tensor(&m->p, m->fu_b), MB, ME, ME);
        for (int i = 0; i < MB * ME; i++)
            margin = fmin(margin, fabs(preu[i]));
    }
    struct conv_ctx c = {m->we, nn_params_tensor(&m->p, m->cw), nn_params_tensor(&m->p, m->cb),
                         NULL, NULL, NULL, NULL, MB, ML, ME, MF, MK};
    return fmin(margin, conv_margin(&c));
}

/* Every sample has live units in each relu layer, so that every layer's
 * gradient is exercised (and the network can learn). */
static int mini_alive(const struct mini *m)
{
    for (int b = 0; b < MB; b++) {
        int h = 0, u = 0, c = 0;
        for (int j = 0; j < MH; j++)
            h += m->h1[b * MH + j] > 0;
        for (int j = 0; j < ME; j++)
            u += m->uh[b * ME + j] > 0;
        for (int j = 0; j < MF; j++)
            c += m->co[b * MF + j] > 0;
        if (h < 2 || u < 1 || c < 1)
            return 0;
    }
    return 1;
}

static void test_mini_model_fd(void **state)
{
    struct mini *m = talloc(sizeof(*m));
    struct error err;
    uint64_t s = 19;
    int tries = 0;
    (void)state;
    nn_params_init(&m->p);
    m->uemb = nn_params_add(&m->p, "user.emb", MU, ME, 0);
    m->fu_w = nn_params_add(&m->p, "user.fc.w", ME, ME, 0);
    m->fu_b = nn_params_add(&m->p, "user.fc.b", ME, 0, 0);
    m->gemb = nn_params_add(&m->p, "genre.emb", MG, ME, 0);
    m->wemb = nn_params_add(&m->p, "word.emb", MW, ME, 0);
    m->cw = nn_params_add(&m->p, "conv.w", MF, ME, MK);
    m->cb = nn_params_add(&m->p, "conv.b", MF, 0, 0);
    m->fm_w = nn_params_add(&m->p, "movie.fc.w", ME, ME + MF, 0);
    m->fm_b = nn_params_add(&m->p, "movie.fc.b", ME, 0, 0);
    m->f1_w = nn_params_add(&m->p, "fc1.w", MH, 2 * ME, 0);
    m->f1_b = nn_params_add(&m->p, "fc1.b", MH, 0, 0);
    m->f2_w = nn_params_add(&m->p, "fc2.w", 1, MH, 0);
    m->f2_b = nn_params_add(&m->p, "fc2.b", 1, 0, 0);
    if (nn_params_alloc(&m->p, &err))
        fail_msg("%s", err.msg);
    const int uid[MB] = {4, 0, 4};
    const int genres[MB * MKMAX] = {0, 2, -1, -1, -1, -1, 3, 1, 1};
    const int words[MB * ML] = {1, 5, 2, -1, -1, -1, 0, 0, 3, 4, 5, 2, 3, -1, -1, -1, -1, -1};
    const float label[MB] = {1, 0, 1};
    memcpy(m->uid, uid, sizeof(uid));
    memcpy(m->genres, genres, sizeof(genres));
    memcpy(m->words, words, sizeof(words));
    memcpy(m->label, label, sizeof(label));
    assert_true(conv1d_workspace_floats(MB, ML, ME, MF, MK) <= sizeof(m->work) / sizeof(float));
    do {
        if (++tries > 10000)
            fail_msg("could not draw parameters away from the kinks");
        for (int i = 0; i < m->p.ntensors; i++)
            nn_params_init_uniform(&m->p, i, 1.0f, &s);
        mini_forward(m);
    } while (mini_margin(m) < 0.03 || !mini_alive(m));
    mini_forward(m);
    mini_backward(m);
    for (int i = 0; i < m->p.ntensors; i++)
        grad_check(m->p.tensors[i].name, nn_params_tensor(&m->p, i), nn_params_grad(&m->p, i),
                   m->p.tensors[i].count, mini_forward, m);
    /* a few Adam steps at lr 1e-2 lower the loss */
    double l0 = mini_forward(m), l1 = l0;
    for (int step = 0; step < 50; step++) {
        l1 = mini_forward(m);
        mini_backward(m);
        nn_params_adam_step(&m->p, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.0f);
    }
    l1 = mini_forward(m);
    if (!(l1 < l0 * 0.5))
        fail_msg("50 Adam steps took the loss from %g to %g only", l0, l1);
    nn_params_free(&m->p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_sgemm_vs_naive, free_all),
        cmocka_unit_test_teardown(test_sgemm_switch, free_all),
        cmocka_unit_test_teardown(test_matmul_forward_vs_naive, free_all),
        cmocka_unit_test_teardown(test_head_vs_naive, free_all),
        cmocka_unit_test_teardown(test_matmul_backward_vs_naive, free_all),
        cmocka_unit_test_teardown(test_matmul_backward_fd, free_all),
        cmocka_unit_test_teardown(test_activations_fd, free_all),
        cmocka_unit_test_teardown(test_activation_values, free_all),
        cmocka_unit_test_teardown(test_bce_values, free_all),
        cmocka_unit_test_teardown(test_bce_backward_fd, free_all),
        cmocka_unit_test_teardown(test_embedding, free_all),
        cmocka_unit_test_teardown(test_embedding_fd, free_all),
        cmocka_unit_test_teardown(test_embedding_bag_mean, free_all),
        cmocka_unit_test_teardown(test_embedding_bag_mean_fd, free_all),
        cmocka_unit_test_teardown(test_word_embedding, free_all),
        cmocka_unit_test_teardown(test_conv_hand, free_all),
        cmocka_unit_test_teardown(test_conv_fast_vs_naive, free_all),
        cmocka_unit_test_teardown(test_conv_short_input, free_all),
        cmocka_unit_test_teardown(test_conv_backward_fd, free_all),
        cmocka_unit_test_teardown(test_dropout, free_all),
        cmocka_unit_test_teardown(test_concat, free_all),
        cmocka_unit_test_teardown(test_adam_hand, free_all),
        cmocka_unit_test_teardown(test_adam_vs_double, free_all),
        cmocka_unit_test_teardown(test_params_layout, free_all),
        cmocka_unit_test_teardown(test_params_errors, free_all),
        cmocka_unit_test_teardown(test_params_adam_block, free_all),
        cmocka_unit_test_teardown(test_params_init, free_all),
        cmocka_unit_test_teardown(test_mini_model_fd, free_all),
    };
    nn_blas_threads(1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
