/*
 * test_golden.c - the C model against PyTorch: weights and expected
 * outputs of a small model of the same architecture, made once by
 * bench/make_golden.py (torch) and committed in tests/fixtures/golden/.
 * Checks that safetensors from torch load, and that the towers, the
 * logits and the probabilities match torch's in eval mode.
 */
#include "testutil.h"

#include <jansson.h>
#include <math.h>

#include "../../src/model/modelfile.h"
#include "../../src/model/train.h"

#define DIR "tests/fixtures/golden/"

static int ints(json_t *arr, int *out, int n)
{
    if (json_array_size(arr) != (size_t)n)
        return -1;
    for (int i = 0; i < n; i++)
        out[i] = (int)json_integer_value(json_array_get(arr, (size_t)i));
    return 0;
}

static void test_golden(void **state)
{
    struct model m;
    struct model_acts *a;
    struct batch b;
    struct error err;
    json_error_t je;
    json_t *root = json_load_file(DIR "tiny.json", 0, &je);
    int n;
    float prob[64];
    double worst = 0;

    if (!root)
        fail_msg("cannot read " DIR "tiny.json: %s", je.text);
    if (safetensors_load(&m, DIR "tiny.safetensors", &err))
        fail_msg("%s", err.msg);
    n = (int)json_array_size(root);
    assert_true(n > 0 && n <= 64);
    assert_int_equal(model_acts_alloc(&a, &m, n, &err), 0);
    assert_int_equal(batch_alloc(&b, n), 0);
    b.B = n;
    for (int i = 0; i < n; i++) {
        json_t *s = json_array_get(root, (size_t)i);
        struct user_feat u = {(int)json_integer_value(json_object_get(s, "user")),
                              (int)json_integer_value(json_object_get(s, "gender")),
                              (int)json_integer_value(json_object_get(s, "age")),
                              (int)json_integer_value(json_object_get(s, "occ"))};
        struct movie_feat mv;
        mv.movie = (int)json_integer_value(json_object_get(s, "movie"));
        assert_int_equal(ints(json_object_get(s, "genres"), mv.genres, FEAT_MAX_GENRES), 0);
        assert_int_equal(ints(json_object_get(s, "words"), mv.words, FEAT_TITLE_LEN), 0);
        batch_set(&b, i, &u, &mv, 0);
    }
    model_forward(&m, a, &b, 0, NULL);
    model_probs(a, prob, n);
    for (int i = 0; i < n; i++) {
        json_t *s = json_array_get(root, (size_t)i);
        const float *uv = model_user_vectors(a) + (size_t)i * (size_t)m.cfg.tower;
        const float *mvv = model_movie_vectors(a) + (size_t)i * (size_t)m.cfg.tower;
        double want_logit = json_number_value(json_object_get(s, "logit"));
        double want_prob = json_number_value(json_object_get(s, "prob"));
        json_t *ju = json_object_get(s, "user_vec"), *jm = json_object_get(s, "movie_vec");
        double logit = 0;
        assert_int_equal(json_array_size(ju), (size_t)m.cfg.tower);
        for (int k = 0; k < m.cfg.tower; k++) {
            double du = fabs(uv[k] - json_number_value(json_array_get(ju, (size_t)k)));
            double dm = fabs(mvv[k] - json_number_value(json_array_get(jm, (size_t)k)));
            worst = du > worst ? du : worst;
            worst = dm > worst ? dm : worst;
            if (du > 1e-4 || dm > 1e-4)
                fail_msg("sample %d: tower value %d differs from torch by %g / %g", i, k, du, dm);
        }
        logit = log(prob[i] / (1 - prob[i]));
        if (fabs(prob[i] - want_prob) > 1e-5 || fabs(logit - want_logit) > 1e-4)
            fail_msg("sample %d: prob %.7f logit %.7f, torch %.7f %.7f", i, prob[i], logit,
                     want_prob, want_logit);
    }
    print_message("largest difference from torch: %g\n", worst);
    batch_free(&b);
    model_acts_free(a);
    model_free(&m);
    json_decref(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_golden)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
