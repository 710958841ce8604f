/*
 * test_model.c - the two-tower model: gradients of the whole model by
 * finite differences, BLAS against the naive path, vocabularies, model
 * files (round trip, damage refused), AUC, and training on a small
 * generated set (learns, deterministic, saves its report).
 */
#include "testutil.h"

#include <math.h>

#include "../../src/data/generate.h"
#include "../../src/data/import.h"
#include "../../src/model/dataset.h"
#include "../../src/model/modelfile.h"
#include "../../src/model/report.h"
#include "../../src/model/train.h"
#include "../../src/recall/embed.h"

/* A small model: tiny vocabularies, small layers. */
static void tiny_config(struct model_config *c)
{
    model_config_default(c, NULL);
    c->user_emb = 4;
    c->gender_emb = 3;
    c->age_emb = 3;
    c->occ_emb = 3;
    c->movie_emb = 4;
    c->genre_emb = 4;
    c->word_emb = 5;
    c->attr_fc = 4;
    c->tower = 6;
    c->conv_filters = 2;
    c->hidden1 = 7;
    c->hidden2 = 5;
    c->nusers = 5;
    c->noccs = 3;
    c->nmovies = 6;
    c->ngenres = 4;
    c->nwords = 7;
}

static void tiny_batch(struct batch *b, int B, uint64_t *rng)
{
    assert_int_equal(batch_alloc(b, B), 0);
    b->B = B;
    for (int i = 0; i < B; i++) {
        struct user_feat u = {(int)(nn_rng_next(rng) % 5), (int)(nn_rng_next(rng) % 3),
                              (int)(nn_rng_next(rng) % 8), (int)(nn_rng_next(rng) % 3)};
        struct movie_feat m;
        int ng = (int)(nn_rng_next(rng) % 3), nw = (int)(nn_rng_next(rng) % 16);
        m.movie = (int)(nn_rng_next(rng) % 6);
        for (int k = 0; k < FEAT_MAX_GENRES; k++)
            m.genres[k] = k < ng ? 1 + (int)(nn_rng_next(rng) % 3) : (ng == 0 && k == 0 ? 0 : -1);
        for (int k = 0; k < FEAT_TITLE_LEN; k++)
            m.words[k] = k < nw ? (int)(nn_rng_next(rng) % 7) : -1;
        batch_set(b, i, &u, &m, (float)(nn_rng_next(rng) % 2));
    }
}

static double loss_of(const struct model *m, struct model_acts *a, const struct batch *b)
{
    float prob[16];
    double l = 0;
    model_forward(m, a, b, 0, NULL);
    model_probs(a, prob, b->B);
    for (int i = 0; i < b->B; i++) {
        double p = prob[i];
        l -= b->label[i] > 0.5f ? log(p) : log(1 - p);
    }
    return l / b->B;
}

/* Every parameter tensor: a few entries' analytic gradients against
 * central differences of the loss (no dropout: the title dropout is 0). */
static void test_model_gradients(void **state)
{
    struct model_config c;
    struct model m;
    struct model_acts *a;
    struct batch b;
    struct error err;
    uint64_t rng = 7;
    float *grad;

    tiny_config(&c);
    c.title_dropout = 0;
    assert_int_equal(model_init(&m, &c, &err), 0);
    model_init_weights(&m, 3);
    assert_int_equal(model_acts_alloc(&a, &m, 8, &err), 0);
    tiny_batch(&b, 8, &rng);
    grad = calloc(m.params.total, sizeof(float));
    model_forward(&m, a, &b, 1, &rng);
    model_backward(&m, a, &b, grad);
    for (int t = 0; t < m.params.ntensors; t++) {
        const struct nn_tensor *tn = &m.params.tensors[t];
        int checked = 0;
        for (size_t k = 0; k < tn->count && checked < 6; k += 1 + tn->count / 7) {
            float *w = m.params.data + tn->offset + k, keep = *w;
            double g = grad[tn->offset + k], lp, lm, fd;
            *w = keep + 1e-2f;
            lp = loss_of(&m, a, &b);
            *w = keep - 1e-2f;
            lm = loss_of(&m, a, &b);
            *w = keep;
            fd = (lp - lm) / 2e-2;
            if (fabs(fd - g) > 2e-3 + 0.05 * fabs(fd))
                fail_msg("%s[%zu]: analytic %.6f, numeric %.6f", tn->name, k, g, fd);
            checked++;
        }
    }
    free(grad);
    batch_free(&b);
    model_acts_free(a);
    model_free(&m);
}

static void test_blas_vs_naive(void **state)
{
    struct model_config c;
    struct model m;
    struct model_acts *a;
    struct batch b;
    struct error err;
    uint64_t rng = 11;
    float fast[16], slow[16];

    model_config_default(&c, NULL);
    c.nusers = 5;
    c.noccs = 3;
    c.nmovies = 6;
    c.ngenres = 4;
    c.nwords = 7;
    assert_int_equal(model_init(&m, &c, &err), 0);
    model_init_weights(&m, 5);
    assert_int_equal(model_acts_alloc(&a, &m, 16, &err), 0);
    tiny_batch(&b, 16, &rng);
    model_forward(&m, a, &b, 0, NULL);
    model_probs(a, fast, 16);
    nn_use_blas(0);
    model_forward(&m, a, &b, 0, NULL);
    model_probs(a, slow, 16);
    nn_use_blas(1);
    for (int i = 0; i < 16; i++)
        assert_float_equal(fast[i], slow[i], 1e-5);
    batch_free(&b);
    model_acts_free(a);
    model_free(&m);
}

static char words_seen[512];

static void collect_word(void *ctx, const char *w, int n)
{
    size_t len = strlen(words_seen);
    snprintf(words_seen + len, sizeof(words_seen) - len, "%s%.*s", len ? "|" : "", n, w);
}

static void test_title_words(void **state)
{
    words_seen[0] = '\0';
    assert_int_equal(feat_title_words("Dr. Strangelove, or: How I Learned (Caf\xc3\xa9)", 0,
                                      collect_word, NULL),
                     7);
    assert_string_equal(words_seen, "dr|strangelove|or|how|i|learned|caf\xc3\xa9");
    words_seen[0] = '\0';
    assert_int_equal(feat_title_words("a b c d e", 3, collect_word, NULL), 3);
    assert_string_equal(words_seen, "a|b|c");
    assert_int_equal(feat_age_bucket(0), 0);
    assert_int_equal(feat_age_bucket(17), 1);
    assert_int_equal(feat_age_bucket(18), 2);
    assert_int_equal(feat_age_bucket(56), 7);
}

static void test_auc(void **state)
{
    const float s1[] = {0.1f, 0.4f, 0.35f, 0.8f}, y1[] = {0, 0, 1, 1};
    const float s2[] = {0.5f, 0.5f}, y2[] = {0, 1};
    assert_float_equal(metric_auc(s1, y1, 4), 0.75, 1e-9);
    assert_float_equal(metric_auc(s2, y2, 2), 0.5, 1e-9);
    assert_float_equal(metric_auc(s1, y2, 2), 1.0, 1e-9);
}

/* ------------------------------------------------------------------ */
/* a small generated store                                              */

struct world {
    char dir[4096], home[4096], db[4200];
    struct store *s;
    struct dataset d;
};

static int world_setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    struct gen_options g;
    struct import_opts io = {0};
    struct import_report rep;
    struct error err;
    char set[4200];

    tu_tmpdir(w->dir);
    tu_tmpdir(w->home);
    snprintf(set, sizeof(set), "%s/set", w->dir);
    snprintf(w->db, sizeof(w->db), "%s/movierec.db", w->home);
    gen_options_init(&g);
    g.users = 120;
    g.movies = 150;
    g.ratings = 6000;
    g.seed = 5;
    if (gen_write(set, &g, &err) || import_dir(set, w->db, &io, &rep, &err) ||
        store_open(&w->s, w->db, &err) || dataset_load(&w->d, w->s, 2, &err)) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    *state = w;
    return 0;
}

static int world_teardown(void **state)
{
    struct world *w = *state;
    dataset_free(&w->d);
    store_close(w->s);
    tu_rmtree(w->dir);
    tu_rmtree(w->home);
    free(w);
    return 0;
}

static void small_opts(struct train_opts *o, enum train_label l)
{
    train_opts_default(o, l);
    o->epochs = 3;
    o->patience = 0;
    o->threads = 2;
    o->batch = 64;
}

static void test_dataset(void **state)
{
    struct world *w = *state;
    const struct dataset *d = &w->d;
    assert_int_equal(d->nusers, 121);
    assert_int_equal(d->nmovies, 151);
    assert_int_equal(d->nratings, 6000);
    assert_int_equal(d->user_start[d->nusers], 6000);
    for (int u = 1; u < d->nusers; u++)
        for (int64_t i = d->user_start[u] + 1; i < d->user_start[u + 1]; i++)
            assert_true(d->r_movie[i] > d->r_movie[i - 1]);
    assert_true(dataset_rated(d, 1, d->r_movie[d->user_start[1]]));
    assert_true(d->vocab.words.n > 0);
    assert_true(d->vocab.genres.n > 10);
}

static void test_train_learns_and_is_deterministic(void **state)
{
    struct world *w = *state;
    struct model_config c;
    struct model m1, m2;
    struct train_opts o;
    struct train_result *r = calloc(1, sizeof(*r));
    struct error err;

    small_opts(&o, TRAIN_WATCH);
    model_config_default(&c, &w->d.vocab);
    for (int k = 0; k < 2; k++) {
        struct model *m = k ? &m2 : &m1;
        assert_int_equal(model_init(m, &c, &err), 0);
        model_init_weights(m, o.seed);
        if (train_run(m, &w->d, &o, r, &err))
            fail_msg("train: %s", err.msg);
    }
    for (int i = 0; i < r->nepochs; i++)
        print_message("epoch %d loss %.4f auc %.4f hr %.4f\n", r->epochs[i].epoch,
                      r->epochs[i].train_loss, r->epochs[i].val_auc, r->epochs[i].hr10);
    assert_int_equal(r->nepochs, 3);
    assert_true(r->epochs[2].train_loss < r->epochs[0].train_loss);
    assert_true(r->epochs[r->best_epoch].val_auc > 0.6);
    assert_true(r->epochs[r->best_epoch].hr10 > 0.2); /* random ranking gives ~0.1 */
    assert_memory_equal(m1.params.data, m2.params.data, m1.params.total * sizeof(float));
    {
        char *csv = report_csv(r), *html = report_html(r, "t", "{}"), *js = report_json(r, "{}");
        assert_non_null(strstr(csv, "epoch,train_loss"));
        assert_non_null(strstr(html, "<svg"));
        assert_non_null(strstr(js, "\"epochs\""));
        free(csv);
        free(html);
        free(js);
    }
    /* the like label trains too */
    small_opts(&o, TRAIN_LIKE);
    model_init_weights(&m1, 1);
    if (train_run(&m1, &w->d, &o, r, &err))
        fail_msg("train like: %s", err.msg);
    assert_true(r->epochs[r->best_epoch].val_auc > 0.55);
    assert_true(r->epochs[0].hr10 < 0);
    model_free(&m1);
    model_free(&m2);
    free(r);
}

static void test_model_files(void **state)
{
    struct world *w = *state;
    struct model_config c;
    struct model m, back;
    struct vocab v;
    struct error err;
    char dir[4200], path[4200], file[4400];
    int version, loaded;
    float p1[32], p2[32];
    struct user_feat uf[32];
    struct movie_feat mf[32];
    const struct modelfile_extra extra[] = {{"meta.json", "{}\n"}};

    model_config_default(&c, &w->d.vocab);
    assert_int_equal(model_init(&m, &c, &err), 0);
    model_init_weights(&m, 9);
    snprintf(dir, sizeof(dir), "%s/models/watch", w->home);
    assert_int_equal(modelfile_latest(dir, &err), 0);
    assert_int_equal(modelfile_save(dir, &m, &w->d.vocab, extra, 1, &version, path, sizeof(path),
                                    &err), 0);
    assert_int_equal(version, 1);
    assert_int_equal(modelfile_save(dir, &m, &w->d.vocab, extra, 1, &version, path, sizeof(path),
                                    &err), 0);
    assert_int_equal(version, 2);
    assert_int_equal(modelfile_latest(dir, &err), 2);
    assert_int_equal(modelfile_load(dir, 0, &back, &v, &loaded, &err), 0);
    assert_int_equal(loaded, 2);
    for (int i = 0; i < 32; i++) {
        uf[i] = w->d.users[1 + i % 100];
        mf[i] = w->d.movies[1 + (i * 7) % 150];
    }
    uf[0].user = 0;  /* unknown user */
    mf[1].movie = 0; /* unknown movie */
    assert_int_equal(model_score(&m, uf, mf, 32, p1, &err), 0);
    assert_int_equal(model_score(&back, uf, mf, 32, p2, &err), 0);
    assert_memory_equal(p1, p2, sizeof(p1));
    assert_int_equal(v.nusers, w->d.vocab.nusers);
    assert_int_equal(v.words.n, w->d.vocab.words.n);
    assert_string_equal(v.words.s[0], w->d.vocab.words.s[0]);
    model_free(&back);
    vocab_free(&v);

    /* damage: a flipped byte in the data, a truncated file, garbage */
    snprintf(file, sizeof(file), "%s/model.safetensors", path);
    {
        FILE *f = fopen(file, "r+b");
        long size;
        assert_non_null(f);
        fseek(f, 0, SEEK_END);
        size = ftell(f);
        fseek(f, size - 100, SEEK_SET);
        fputc(0x55, f);
        fclose(f);
        assert_int_equal(safetensors_load(&back, file, &err), ERR_INTEGRITY);
        assert_non_null(strstr(err.msg, "damaged"));
        assert_int_equal(truncate(file, size / 2), 0);
        assert_int_equal(safetensors_load(&back, file, &err), ERR_INTEGRITY);
        assert_int_equal(truncate(file, 5), 0);
        assert_int_equal(safetensors_load(&back, file, &err), ERR_INTEGRITY);
        tu_write(path, "model.safetensors", "\x10\0\0\0\0\0\0\0{\"a\":1}         ", (size_t)24);
        assert_int_equal(safetensors_load(&back, file, &err), ERR_INTEGRITY);
        assert_non_null(strstr(err.msg, "not a movierec model"));
    }
    assert_int_not_equal(modelfile_load(dir, 2, &back, &v, &loaded, &err), 0);
    assert_int_equal(modelfile_load(dir, 1, &back, &v, &loaded, &err), 0);
    model_free(&back);
    vocab_free(&v);
    model_free(&m);
}

/* Similar movies by the movie tower: unit vectors, itself excluded,
 * sorted, and a movie whose features equal another's is its nearest. */
static void test_similar(void **state)
{
    struct world *w = *state;
    struct model_config c;
    struct model m;
    struct embed_index ix;
    struct error err;
    struct cand out[10];
    struct movie_feat *mf;
    float *scratch;
    int n = w->d.nmovies - 1, got;

    model_config_default(&c, &w->d.vocab);
    assert_int_equal(model_init(&m, &c, &err), 0);
    model_init_weights(&m, 4);
    mf = malloc((size_t)(n + 1) * sizeof(*mf));
    memcpy(mf, w->d.movies + 1, (size_t)n * sizeof(*mf));
    mf[n] = mf[3]; /* a twin of row 3 */
    assert_int_equal(embed_build(&ix, &m, mf, n + 1, &err), 0);
    assert_int_equal(posix_memalign((void **)&scratch, 64, embed_scratch_size(&ix)), 0);
    for (int i = 0; i <= n; i++) {
        double s2 = 0;
        for (int d = 0; d < ix.dim; d++)
            s2 += (double)ix.vec[(size_t)i * ix.dim + d] * ix.vec[(size_t)i * ix.dim + d];
        assert_float_equal(s2, 1.0, 1e-4);
    }
    got = embed_similar(&ix, 3, out, 10, scratch);
    assert_int_equal(got, 10);
    assert_int_equal(out[0].movie, n); /* the twin */
    assert_float_equal(out[0].score, 1.0, 1e-4);
    for (int i = 0; i < got; i++) {
        assert_int_not_equal(out[i].movie, 3);
        if (i)
            assert_true(out[i].score <= out[i - 1].score);
    }
    embed_free(&ix);
    free(mf);
    free(scratch);
    model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_gradients),
        cmocka_unit_test(test_blas_vs_naive),
        cmocka_unit_test(test_title_words),
        cmocka_unit_test(test_auc),
        cmocka_unit_test_setup_teardown(test_dataset, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_train_learns_and_is_deterministic, world_setup,
                                        world_teardown),
        cmocka_unit_test_setup_teardown(test_model_files, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_similar, world_setup, world_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
