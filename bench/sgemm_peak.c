/*
 * sgemm_peak.c - what OpenBLAS sgemm reaches on large square matrices
 * with the given number of threads: the ceiling that the model's training
 * FLOP/s are compared against (bench/model.sh).
 *   cc -O2 bench/sgemm_peak.c $(pkg-config --cflags --libs openblas) -o sgemm_peak
 *   ./sgemm_peak [threads] [n]
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void openblas_set_num_threads(int n);

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 2;
    int n = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 2048;
    float *a = malloc((size_t)n * n * sizeof(float)), *b = malloc((size_t)n * n * sizeof(float));
    float *c = malloc((size_t)n * n * sizeof(float));
    double best = 0;

    if (!a || !b || !c)
        return 1;
    for (size_t i = 0; i < (size_t)n * n; i++) {
        a[i] = (float)(i % 7) * 0.1f;
        b[i] = (float)(i % 5) * 0.1f;
    }
    openblas_set_num_threads(threads);
    for (int r = 0; r < 5; r++) {
        double t0 = now(), gf;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c,
                    n);
        gf = 2.0 * n * n * n / (now() - t0) / 1e9;
        if (gf > best)
            best = gf;
    }
    printf("{\"threads\": %d, \"n\": %d, \"sgemm_gflops\": %.1f}\n", threads, n, best);
    free(a);
    free(b);
    free(c);
    return 0;
}
