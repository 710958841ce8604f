/*
 * test_bundle.c - tensor files and the recall models on disk: a
 * tensorfile round trip, every kind of damage the reader must refuse,
 * recall_bundle_save/load with the same vocabulary (identical tables) and
 * with another (ids missing, new and in another order), versions, a
 * damaged latest version, and a bundle from before the genre feature.
 */
#include "testutil.h"

#include <math.h>
#include <zlib.h>

#include "../../src/model/tensorfile.h"
#include "../../src/model/versiondir.h"
#include "../../src/recall/bundle.h"

static char dir[4096];

static int setup(void **state)
{
    (void)state;
    tu_tmpdir(dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(dir);
    return 0;
}

static void path_of(char *p, size_t cap, const char *name)
{
    snprintf(p, cap, "%s/%s", dir, name);
}

/* ------------------------------------------------------------------ */
/* tensorfile                                                           */

static void test_tensorfile_roundtrip(void **state)
{
    (void)state;
    float a[2][3] = {{1, 2, 3}, {4.5f, -0.0f, 1e-30f}};
    int32_t b[5] = {7, -1, 0, 2147483647, -2147483647 - 1};
    int64_t c[3] = {INT64_MIN, 0, INT64_MAX};
    float s = 3.25f;
    int32_t cube[2][2][2] = {{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}};
    const struct tensorfile_tensor t[] = {
        {"a", TF_F32, 2, {2, 3}, a},      {"b", TF_I32, 1, {5}, b},
        {"c.ids", TF_I64, 1, {3}, c},     {"scalar", TF_F32, 0, {0}, &s},
        {"cube", TF_I32, 3, {2, 2, 2}, cube}, {"empty", TF_F32, 2, {0, 4}, NULL},
    };
    const char *keys[] = {"format", "note"}, *vals[] = {"test", "h\xc3\xa9llo \"quoted\""};
    struct tensorfile tf;
    struct error err = {0};
    char p[4200];
    int64_t dims[3];

    path_of(p, sizeof(p), "rt.safetensors");
    assert_int_equal(tensorfile_write(p, t, 6, keys, vals, 2, &err), 0);
    assert_int_equal(tensorfile_read(p, &tf, &err), 0);
    assert_int_equal(tf.n, 6);
    assert_string_equal(tensorfile_meta(&tf, "format"), "test");
    assert_string_equal(tensorfile_meta(&tf, "note"), vals[1]);
    assert_non_null(tensorfile_meta(&tf, "crc32"));
    assert_null(tensorfile_meta(&tf, "nope"));

    const float *ra = tensorfile_get(&tf, "a", TF_F32, 2, dims);
    assert_non_null(ra);
    assert_true(dims[0] == 2 && dims[1] == 3);
    assert_memory_equal(ra, a, sizeof(a));
    const int32_t *rb = tensorfile_get(&tf, "b", TF_I32, 1, dims);
    assert_non_null(rb);
    assert_true(dims[0] == 5);
    assert_memory_equal(rb, b, sizeof(b));
    const int64_t *rc = tensorfile_get(&tf, "c.ids", TF_I64, 1, NULL);
    assert_non_null(rc);
    assert_true((uintptr_t)rc % 8 == 0); /* aligned for its dtype */
    assert_memory_equal(rc, c, sizeof(c));
    const float *rs = tensorfile_get(&tf, "scalar", TF_F32, 0, NULL);
    assert_non_null(rs);
    assert_true(*rs == 3.25f);
    const int32_t *rcube = tensorfile_get(&tf, "cube", TF_I32, 3, dims);
    assert_non_null(rcube);
    assert_true(dims[0] == 2 && dims[1] == 2 && dims[2] == 2);
    assert_memory_equal(rcube, cube, sizeof(cube));
    assert_non_null(tensorfile_get(&tf, "empty", TF_F32, 2, dims));
    assert_true(dims[0] == 0 && dims[1] == 4);

    /* wrong dtype, rank or name */
    assert_null(tensorfile_get(&tf, "a", TF_I32, 2, NULL));
    assert_null(tensorfile_get(&tf, "a", TF_F32, 1, NULL));
    assert_null(tensorfile_get(&tf, "zzz", TF_F32, 1, NULL));
    assert_non_null(tensorfile_find(&tf, "cube"));
    tensorfile_free(&tf);

    /* the writer's usage errors */
    const struct tensorfile_tensor dup[] = {{"x", TF_F32, 0, {0}, &s}, {"x", TF_F32, 0, {0}, &s}};
    assert_int_equal(tensorfile_write(p, dup, 2, NULL, NULL, 0, &err), ERR_USAGE);
    const struct tensorfile_tensor mname[] = {{"__metadata__", TF_F32, 0, {0}, &s}};
    assert_int_equal(tensorfile_write(p, mname, 1, NULL, NULL, 0, &err), ERR_USAGE);
    const char *ck[] = {"crc32"}, *cv[] = {"00000000"};
    assert_int_equal(tensorfile_write(p, t, 1, ck, cv, 1, &err), ERR_USAGE);
    const struct tensorfile_tensor neg[] = {{"n", TF_F32, 1, {-1}, &s}};
    assert_int_equal(tensorfile_write(p, neg, 1, NULL, NULL, 0, &err), ERR_USAGE);
    /* no tensors at all is a valid file */
    assert_int_equal(tensorfile_write(p, NULL, 0, NULL, NULL, 0, &err), 0);
    assert_int_equal(tensorfile_read(p, &tf, &err), 0);
    assert_int_equal(tf.n, 0);
    tensorfile_free(&tf);
}

/* Writes a file by hand: 8-byte length, header (hfmt with %s for the CRC
 * of data, and %s again to spare), data. hlen_override != 0 replaces the
 * length field. */
static void raw_file(const char *name, const char *hfmt, const void *data, size_t dlen,
                     uint64_t hlen_override)
{
    char header[2048], crc_hex[16], p[4200];
    unsigned char len8[8];
    uLong crc = crc32(0L, Z_NULL, 0);
    FILE *f;
    crc = crc32(crc, data, (uInt)dlen);
    snprintf(crc_hex, sizeof(crc_hex), "%08lx", (unsigned long)crc);
    snprintf(header, sizeof(header), hfmt, crc_hex);
    uint64_t hlen = hlen_override ? hlen_override : strlen(header);
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)(hlen >> (8 * i));
    path_of(p, sizeof(p), name);
    f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(len8, 1, 8, f), 8);
    assert_int_equal(fwrite(header, 1, strlen(header), f), strlen(header));
    if (dlen)
        assert_int_equal(fwrite(data, 1, dlen, f), dlen);
    fclose(f);
}

/* Reads dir/name and expects code with `want` in the message (and the
 * file's name). */
static void expect_bad(const char *name, int code, const char *want)
{
    struct tensorfile tf;
    struct error err = {0};
    char p[4200];
    path_of(p, sizeof(p), name);
    int rc = tensorfile_read(p, &tf, &err);
    if (getenv("SHOW_ERRORS"))
        fprintf(stderr, "%d %s\n", rc, err.msg);
    if (rc != code || !strstr(err.msg, want) || !strstr(err.msg, name))
        fail_msg("%s: got %d '%s', want %d with '%s'", name, rc, err.msg, code, want);
    assert_null(tf.t);
    assert_null(tf.data);
}

static void truncate_copy(const char *from, const char *to, long keep)
{
    char p[4200], buf[8192];
    FILE *f;
    path_of(p, sizeof(p), from);
    f = fopen(p, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    assert_true(keep <= (long)n);
    tu_write(dir, to, buf, keep < 0 ? n : (size_t)keep);
}

/* fmt (1024 bytes) = a header with one tensor and a "%s" for the CRC. */
static void one_tensor(char *fmt, const char *name, const char *dtype, const char *shape,
                       const char *offs)
{
    snprintf(fmt, 1024,
             "{\"%s\":{\"dtype\":\"%s\",\"shape\":%s,\"data_offsets\":%s},"
             "\"__metadata__\":{\"crc32\":\"%%s\"}}",
             name, dtype, shape, offs);
}

static void test_tensorfile_damage(void **state)
{
    (void)state;
    const float d[4] = {1, 2, 3, 4};
    const char *meta = "\"__metadata__\":{\"crc32\":\"%s\"}";
    char fmt[1024];

    /* a good file by hand first: the helper itself is right */
    one_tensor(fmt, "x", "F32", "[2,2]", "[0,16]");
    raw_file("good", fmt, d, 16, 0);
    {
        struct tensorfile tf;
        struct error err = {0};
        char p[4200];
        path_of(p, sizeof(p), "good");
        assert_int_equal(tensorfile_read(p, &tf, &err), 0);
        tensorfile_free(&tf);
    }

    /* truncated: in the data, in the header, before the length */
    {
        char p[4200];
        struct stat st;
        path_of(p, sizeof(p), "good");
        assert_int_equal(stat(p, &st), 0);
        truncate_copy("good", "trunc_data", (long)st.st_size - 2);
    }
    expect_bad("trunc_data", ERR_INTEGRITY, "truncated");
    truncate_copy("good", "trunc_header", 20);
    expect_bad("trunc_header", ERR_INTEGRITY, "past the end");
    truncate_copy("good", "trunc_len", 5);
    expect_bad("trunc_len", ERR_INTEGRITY, "too short");
    tu_write(dir, "empty", "", 0);
    expect_bad("empty", ERR_INTEGRITY, "too short");

    /* header length past the end, or absurd */
    raw_file("hlen_past", fmt, d, 16, 4000);
    expect_bad("hlen_past", ERR_INTEGRITY, "past the end");
    raw_file("hlen_huge", fmt, d, 16, (uint64_t)1 << 40);
    expect_bad("hlen_huge", ERR_FORMAT, "not a tensor file");

    /* bad JSON, not an object, duplicate names */
    raw_file("badjson", "{\"x\":{\"dtype\":\"F32\",", d, 16, 0);
    expect_bad("badjson", ERR_FORMAT, "not JSON");
    raw_file("array", "[1,2,3]", d, 16, 0);
    expect_bad("array", ERR_FORMAT, "not a JSON object");
    snprintf(fmt, sizeof(fmt),
             "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
             "\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},%s}",
             meta);
    raw_file("dupname", fmt, d, 16, 0);
    expect_bad("dupname", ERR_FORMAT, "not JSON");

    /* unknown dtype */
    one_tensor(fmt, "x", "F16", "[8]", "[0,16]");
    raw_file("dtype", fmt, d, 16, 0);
    expect_bad("dtype", ERR_FORMAT, "unknown dtype 'F16'");

    /* shape against range */
    one_tensor(fmt, "x", "F32", "[3]", "[0,16]");
    raw_file("shape", fmt, d, 16, 0);
    expect_bad("shape", ERR_FORMAT, "shape needs 12 bytes");
    one_tensor(fmt, "x", "F32", "[-4]", "[0,16]");
    raw_file("shape_neg", fmt, d, 16, 0);
    expect_bad("shape_neg", ERR_FORMAT, "bad shape");
    one_tensor(fmt, "x", "I64", "[4611686018427387904,4]", "[0,16]");
    raw_file("shape_ovf", fmt, d, 16, 0);
    expect_bad("shape_ovf", ERR_FORMAT, "shape too large");
    one_tensor(fmt, "x", "F32", "[4]", "[8,0]");
    raw_file("offs_back", fmt, d, 16, 0);
    expect_bad("offs_back", ERR_FORMAT, "bad data_offsets");
    snprintf(fmt, sizeof(fmt), "{\"x\":{\"dtype\":\"F32\",\"shape\":[4]},%s}", meta);
    raw_file("no_offs", fmt, d, 16, 0);
    expect_bad("no_offs", ERR_FORMAT, "needs exactly");

    /* ranges: overlapping, a hole, bytes after the last, misaligned, past the end */
    snprintf(fmt, sizeof(fmt),
             "{\"a\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]},"
             "\"b\":{\"dtype\":\"I32\",\"shape\":[3],\"data_offsets\":[4,16]},%s}",
             meta);
    raw_file("overlap", fmt, d, 16, 0);
    expect_bad("overlap", ERR_FORMAT, "overlap");
    snprintf(fmt, sizeof(fmt),
             "{\"a\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]},"
             "\"b\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[8,16]},%s}",
             meta);
    raw_file("hole", fmt, d, 16, 0);
    expect_bad("hole", ERR_FORMAT, "belong to no tensor");
    one_tensor(fmt, "a", "I32", "[2]", "[0,8]");
    raw_file("trailing", fmt, d, 16, 0);
    expect_bad("trailing", ERR_FORMAT, "belong to no tensor");
    snprintf(fmt, sizeof(fmt),
             "{\"a\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]},"
             "\"b\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[4,12]},%s}",
             meta);
    raw_file("misaligned", fmt, d, 12, 0);
    expect_bad("misaligned", ERR_FORMAT, "not aligned");
    one_tensor(fmt, "a", "I32", "[8]", "[0,32]");
    raw_file("past_end", fmt, d, 16, 0);
    expect_bad("past_end", ERR_INTEGRITY, "truncated");

    /* metadata: not strings, no checksum */
    raw_file("meta_num",
             "{\"a\":{\"dtype\":\"I32\",\"shape\":[4],\"data_offsets\":[0,16]},"
             "\"__metadata__\":{\"crc32\":\"%s\",\"n\":3}}",
             d, 16, 0);
    expect_bad("meta_num", ERR_FORMAT, "metadata 'n' is not a string");
    raw_file("no_crc", "{\"a\":{\"dtype\":\"I32\",\"shape\":[4],\"data_offsets\":[0,16]}}", d, 16,
             0);
    expect_bad("no_crc", ERR_FORMAT, "no crc32");

    /* one flipped data byte */
    {
        float e[4] = {1, 2, 3, 4};
        const struct tensorfile_tensor t[] = {{"x", TF_F32, 1, {4}, e}};
        struct error err = {0};
        char p[4200];
        path_of(p, sizeof(p), "flip");
        assert_int_equal(tensorfile_write(p, t, 1, NULL, NULL, 0, &err), 0);
        FILE *f = fopen(p, "r+b");
        assert_non_null(f);
        assert_int_equal(fseek(f, -3, SEEK_END), 0);
        int ch = fgetc(f);
        assert_int_equal(fseek(f, -3, SEEK_END), 0);
        fputc(ch ^ 0x10, f);
        fclose(f);
        expect_bad("flip", ERR_INTEGRITY, "checksum");
    }

    /* not there */
    {
        struct tensorfile tf;
        struct error err = {0};
        char p[4200];
        path_of(p, sizeof(p), "missing");
        assert_int_equal(tensorfile_read(p, &tf, &err), ERR_IO);
    }
}

/* ------------------------------------------------------------------ */
/* bundles                                                              */

#define NU 6 /* user ids 10..60 */
#define NM 9 /* movie ids 100..900 */

struct world {
    struct vocab v;
    struct recall_bundle b;
};

static void vocab_make(struct vocab *v, const int64_t *users, int nu, const int64_t *movies, int nm)
{
    vocab_init(v);
    v->user_ids = malloc(sizeof(int64_t) * (size_t)(nu ? nu : 1));
    v->movie_ids = malloc(sizeof(int64_t) * (size_t)(nm ? nm : 1));
    assert_true(v->user_ids && v->movie_ids);
    memcpy(v->user_ids, users, sizeof(int64_t) * (size_t)nu);
    memcpy(v->movie_ids, movies, sizeof(int64_t) * (size_t)nm);
    v->nusers = nu;
    v->nmovies = nm;
}

/* A bundle from a small random rating matrix, trained by the channels
 * themselves (users and movies 1..N; row 0 unknown and empty). */
static void world_make(struct world *w, uint64_t seed)
{
    int64_t users[NU], movies[NM];
    int64_t start[NU + 2];
    int movie[(NU + 1) * (NM + 1)];
    float score[(NU + 1) * (NM + 1)];
    struct error err = {0};
    uint64_t s = seed * 2654435761u + 1;
    int r = 0;

    for (int i = 0; i < NU; i++)
        users[i] = 10 * (i + 1);
    for (int i = 0; i < NM; i++)
        movies[i] = 100 * (i + 1);
    vocab_make(&w->v, users, NU, movies, NM);
    memset(&w->b, 0, sizeof(w->b));
    start[0] = 0;
    start[1] = 0; /* user 0: none */
    for (int u = 1; u <= NU; u++) {
        for (int m = 1; m <= NM; m++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            if (s % 10 < 6) {
                movie[r] = m;
                score[r] = (float)(1 + (s >> 8) % 5);
                r++;
            }
        }
        start[u + 1] = r;
    }
    w->b.nusers = NU + 1;
    w->b.nmovies = NM + 1;
    w->b.nratings = r;
    assert_int_equal(popularity_build(&w->b.pop, NU + 1, NM + 1, start, movie, score, 0.0f, 10.0f,
                                      &err), 0);
    struct itemcf_opts co;
    itemcf_opts_default(&co);
    co.min_score = 3;
    co.neighbours = 4;
    co.threads = 1;
    assert_int_equal(itemcf_build(&w->b.cf, &co, NU + 1, NM + 1, start, movie, score, &err), 0);
    struct als_opts ao;
    als_opts_default(&ao);
    ao.factors = 3;
    ao.iterations = 3;
    assert_int_equal(als_train(&w->b.als, &ao, NU + 1, NM + 1, start, movie, score, 1, seed, &err),
                     0);
    w->b.als_opts = ao;
    w->b.blend.fitted = 1;
    for (int k = 0; k < BLEND_NFEAT; k++) {
        w->b.blend.mean[k] = 0.5f * k;
        w->b.blend.scale[k] = 1.0f + k;
        w->b.blend.w[k] = 0.25f - 0.1f * k;
    }
    w->b.blend.bias = -3.5f;
    w->b.pre = w->b.blend;
    w->b.pre.w[BLEND_DEEP] = w->b.pre.w[BLEND_ZDEEP] = 0;
    w->b.pre.bias = -2.25f;
    w->b.group_top = malloc(sizeof(int) * BUNDLE_NGROUPS * BUNDLE_GROUP_K);
    assert_non_null(w->b.group_top);
    for (int g = 0; g < BUNDLE_NGROUPS; g++)
        for (int k = 0; k < BUNDLE_GROUP_K; k++)
            w->b.group_top[g * BUNDLE_GROUP_K + k] = k < 5 ? 1 + (g + 2 * k) % NM : -1;
}

static void world_free(struct world *w)
{
    recall_bundle_free(&w->b);
    vocab_free(&w->v);
}

/* Same tables on the id rows (row 0, unknown, is not saved: it loads
 * empty). */
static void assert_same(const struct recall_bundle *a, const struct recall_bundle *b)
{
    int n = a->cf.n, f = a->als.f;
    assert_int_equal(a->nusers, b->nusers);
    assert_int_equal(a->nmovies, b->nmovies);
    assert_true(a->nratings == b->nratings);
    assert_true(a->pop.global_mean == b->pop.global_mean);
    assert_int_equal(b->pop.nmovies, b->nmovies);
    assert_int_equal(b->cf.nmovies, b->nmovies);
    assert_int_equal(b->cf.n, n);
    assert_int_equal(b->als.f, f);
    assert_true(a->als_opts.lambda == b->als_opts.lambda && a->als_opts.alpha == b->als_opts.alpha &&
                a->als_opts.use_score == b->als_opts.use_score &&
                a->als_opts.min_score == b->als_opts.min_score);
    assert_memory_equal(&a->blend, &b->blend, sizeof(a->blend));
    assert_memory_equal(&a->pre, &b->pre, sizeof(a->pre));
    assert_int_equal(b->als.nusers, b->nusers);
    assert_int_equal(b->als.nmovies, b->nmovies);
    size_t m1 = (size_t)a->nmovies - 1, u1 = (size_t)a->nusers - 1;
    assert_memory_equal(a->pop.count + 1, b->pop.count + 1, m1 * sizeof(int));
    assert_memory_equal(a->pop.nrated + 1, b->pop.nrated + 1, m1 * sizeof(int));
    assert_memory_equal(a->pop.mean + 1, b->pop.mean + 1, m1 * sizeof(float));
    assert_memory_equal(a->cf.npos + 1, b->cf.npos + 1, m1 * sizeof(int));
    assert_memory_equal(a->cf.nn + 1, b->cf.nn + 1, m1 * sizeof(int));
    assert_memory_equal(a->cf.nbr + n, b->cf.nbr + n, m1 * n * sizeof(int));
    assert_memory_equal(a->cf.sim + n, b->cf.sim + n, m1 * n * sizeof(float));
    assert_memory_equal(a->als.user + f, b->als.user + f, u1 * f * sizeof(float));
    assert_memory_equal(a->als.item + f, b->als.item + f, m1 * f * sizeof(float));
    assert_memory_equal(a->group_top, b->group_top,
                        sizeof(int) * BUNDLE_NGROUPS * BUNDLE_GROUP_K);
    /* the unknown row */
    assert_int_equal(b->pop.count[0], 0);
    assert_int_equal(b->cf.nn[0], 0);
    for (int k = 0; k < f; k++)
        assert_true(b->als.user[k] == 0 && b->als.item[k] == 0);
}

static void test_bundle_roundtrip(void **state)
{
    (void)state;
    struct world w;
    struct recall_bundle back;
    struct error err = {0};
    char bdir[4200], out[4200], p[4400];
    int version = 0, loaded = 0;

    world_make(&w, 1);
    assert_true(w.b.cf.n == 4 && w.b.als.f == 3);
    snprintf(bdir, sizeof(bdir), "%s/models/recall", dir);
    assert_int_equal(recall_bundle_save(bdir, &w.b, &w.v, "{\"k\":1}\n", &version, out,
                                        sizeof(out), &err), 0);
    assert_int_equal(version, 1);
    snprintf(p, sizeof(p), "%s/1", bdir);
    assert_string_equal(out, p);
    snprintf(p, sizeof(p), "%s/1/meta.json", bdir);
    assert_int_equal(access(p, R_OK), 0);
    assert_int_equal(recall_bundle_load(bdir, 0, &w.v, &back, &loaded, &err), 0);
    assert_int_equal(loaded, 1);
    assert_same(&w.b, &back);
    recall_bundle_free(&back);
    assert_null(back.group_top);

    /* a blend not fitted yet (train without a watch model) saves and loads */
    memset(&w.b.blend, 0, sizeof(w.b.blend));
    memset(&w.b.pre, 0, sizeof(w.b.pre));
    assert_int_equal(recall_bundle_save(bdir, &w.b, &w.v, NULL, &version, NULL, 0, &err), 0);
    assert_int_equal(recall_bundle_load(bdir, version, &w.v, &back, &loaded, &err), 0);
    assert_false(back.blend.fitted);
    assert_same(&w.b, &back);
    recall_bundle_free(&back);
    {
        char rm[4400];
        snprintf(rm, sizeof(rm), "%s/%d", bdir, version); /* keep version numbering as before */
        tu_rmtree(rm);
    }

    /* a bundle that does not fit the vocabulary is refused, nothing left behind */
    w.v.nmovies--;
    assert_int_equal(recall_bundle_save(bdir, &w.b, &w.v, NULL, &version, NULL, 0, &err),
                     ERR_USAGE);
    w.v.nmovies++;
    assert_int_equal(versiondir_latest(bdir, &err), 1);
    world_free(&w);
}

/* The original movie index of a v2 movie index, 0 if v1 lacks it. */
static int old_movie(const struct vocab *v1, const struct vocab *v2, int m2)
{
    return m2 > 0 ? vocab_movie_index(v1, v2->movie_ids[m2 - 1]) : 0;
}

static void test_bundle_remap(void **state)
{
    (void)state;
    struct world w;
    struct vocab v2;
    struct recall_bundle b2;
    struct error err = {0};
    char bdir[4200];
    int version = 0, loaded = 0;
    /* movies 100, 400, 600, 800 gone; 50, 1000, 1100 new; users 10, 30, 50 gone */
    const int64_t users2[] = {5, 20, 40, 60, 70};
    const int64_t movies2[] = {50, 200, 300, 500, 700, 900, 1000, 1100};

    world_make(&w, 2);
    snprintf(bdir, sizeof(bdir), "%s/recall", dir);
    assert_int_equal(recall_bundle_save(bdir, &w.b, &w.v, NULL, &version, NULL, 0, &err), 0);
    vocab_make(&v2, users2, 5, movies2, 8);
    assert_int_equal(recall_bundle_load(bdir, 0, &v2, &b2, &loaded, &err), 0);
    assert_int_equal(b2.nusers, 6);
    assert_int_equal(b2.nmovies, 9);
    assert_true(b2.pop.global_mean == w.b.pop.global_mean);
    assert_true(b2.nratings == w.b.nratings);

    const int n = w.b.cf.n, f = w.b.als.f;
    int dropped = 0;
    for (int m2 = 0; m2 < b2.nmovies; m2++) {
        int m1 = old_movie(&w.v, &v2, m2);
        const int *nb2 = b2.cf.nbr + (size_t)m2 * n;
        const float *s2 = b2.cf.sim + (size_t)m2 * n;
        if (!m1) { /* unknown to the file: an empty row */
            assert_int_equal(b2.pop.count[m2], 0);
            assert_int_equal(b2.pop.nrated[m2], 0);
            assert_true(b2.pop.mean[m2] == w.b.pop.global_mean);
            assert_int_equal(b2.cf.npos[m2], 0);
            assert_int_equal(b2.cf.nn[m2], 0);
            for (int j = 0; j < n; j++)
                assert_true(nb2[j] == -1 && s2[j] == 0);
            for (int k = 0; k < f; k++)
                assert_true(b2.als.item[(size_t)m2 * f + k] == 0);
            continue;
        }
        assert_int_equal(b2.pop.count[m2], w.b.pop.count[m1]);
        assert_int_equal(b2.pop.nrated[m2], w.b.pop.nrated[m1]);
        assert_true(b2.pop.mean[m2] == w.b.pop.mean[m1]);
        assert_int_equal(b2.cf.npos[m2], w.b.cf.npos[m1]);
        assert_memory_equal(b2.als.item + (size_t)m2 * f, w.b.als.item + (size_t)m1 * f,
                            sizeof(float) * f);
        /* neighbours v2 knows, in the same order */
        int kept = 0;
        for (int j = 0; j < w.b.cf.nn[m1]; j++) {
            int old = w.b.cf.nbr[(size_t)m1 * n + j];
            int to = vocab_movie_index(&v2, w.v.movie_ids[old - 1]);
            if (!to) {
                dropped++;
                continue;
            }
            assert_int_equal(nb2[kept], to);
            assert_true(s2[kept] == w.b.cf.sim[(size_t)m1 * n + j]);
            kept++;
        }
        assert_int_equal(b2.cf.nn[m2], kept);
        for (int j = kept; j < n; j++)
            assert_true(nb2[j] == -1 && s2[j] == 0);
    }
    assert_true(dropped > 0); /* the test did exercise dropping */
    for (int u2 = 1; u2 < b2.nusers; u2++) {
        int u1 = vocab_user_index(&w.v, v2.user_ids[u2 - 1]);
        for (int k = 0; k < f; k++)
            assert_true(b2.als.user[(size_t)u2 * f + k] ==
                        (u1 ? w.b.als.user[(size_t)u1 * f + k] : 0.0f));
    }
    for (int g = 0; g < BUNDLE_NGROUPS; g++) {
        int kept = 0;
        const int *row = b2.group_top + g * BUNDLE_GROUP_K;
        for (int k = 0; k < BUNDLE_GROUP_K; k++) {
            int old = w.b.group_top[g * BUNDLE_GROUP_K + k];
            if (old < 0)
                continue;
            int to = vocab_movie_index(&v2, w.v.movie_ids[old - 1]);
            if (to)
                assert_int_equal(row[kept++], to);
        }
        for (int k = kept; k < BUNDLE_GROUP_K; k++)
            assert_int_equal(row[k], -1);
    }
    recall_bundle_free(&b2);

    /* an empty vocabulary: everything unknown, nothing breaks */
    struct vocab v0;
    vocab_make(&v0, users2, 0, movies2, 0);
    assert_int_equal(recall_bundle_load(bdir, 0, &v0, &b2, &loaded, &err), 0);
    assert_int_equal(b2.nmovies, 1);
    assert_int_equal(b2.group_top[0], -1);
    recall_bundle_free(&b2);
    vocab_free(&v0);
    vocab_free(&v2);
    world_free(&w);
}

/* Rewrites version `from`'s file as a new version folder `to` with
 * mutate() applied to a copy of its tensors. */
static void rewrite(const char *bdir, int from, int to,
                    void (*mutate)(struct tensorfile_tensor *t, int n, void **copies))
{
    struct tensorfile tf;
    struct error err = {0};
    char p[4200];
    struct tensorfile_tensor t[32];
    void *copies[32] = {0};
    const char *keys[32], *vals[32];
    int nmeta = 0;

    snprintf(p, sizeof(p), "%s/%d/recall.safetensors", bdir, from);
    assert_int_equal(tensorfile_read(p, &tf, &err), 0);
    assert_true(tf.n <= 32 && tf.nmeta <= 32);
    for (int i = 0; i < tf.n; i++) {
        size_t nb = tf.t[i].end - tf.t[i].begin;
        t[i].name = tf.t[i].name;
        t[i].dtype = tf.t[i].dtype;
        t[i].ndim = tf.t[i].ndim;
        memcpy(t[i].dims, tf.t[i].dims, sizeof(t[i].dims));
        copies[i] = malloc(nb ? nb : 1);
        assert_non_null(copies[i]);
        memcpy(copies[i], tf.data + tf.t[i].begin, nb);
        t[i].data = copies[i];
    }
    for (int i = 0; i < tf.nmeta; i++)
        if (strcmp(tf.meta_keys[i], "crc32") != 0) {
            keys[nmeta] = tf.meta_keys[i];
            vals[nmeta++] = tf.meta_values[i];
        }
    mutate(t, tf.n, copies);
    snprintf(p, sizeof(p), "%s/%d", bdir, to);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/%d/recall.safetensors", bdir, to);
    assert_int_equal(tensorfile_write(p, t, tf.n, keys, vals, nmeta, &err), 0);
    for (int i = 0; i < tf.n; i++)
        free(copies[i]);
    tensorfile_free(&tf);
}

static int find_t(struct tensorfile_tensor *t, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(t[i].name, name) == 0)
            return i;
    fail_msg("no tensor %s", name);
    return -1;
}

static void bad_neighbour(struct tensorfile_tensor *t, int n, void **copies)
{
    int i = find_t(t, n, "itemcf.nbr"), k = find_t(t, n, "itemcf.nn");
    int *nn = copies[k], *nbr = copies[i];
    int cols = (int)t[i].dims[1];
    for (int r = 0;; r++)
        if (nn[r] > 0) {
            nbr[r * cols] = 999; /* no such row */
            return;
        }
}

static void short_sim(struct tensorfile_tensor *t, int n, void **copies)
{
    (void)copies;
    int i = find_t(t, n, "itemcf.sim");
    t[i].dims[0]--; /* one movie short of the others */
}

static void nan_factor(struct tensorfile_tensor *t, int n, void **copies)
{
    ((float *)copies[find_t(t, n, "als.item")])[1] = NAN;
}

static void drop_ids(struct tensorfile_tensor *t, int n, void **copies)
{
    (void)copies;
    int i = find_t(t, n, "movie_ids");
    t[i].name = "movies"; /* "movie_ids" missing */
}

static void unsorted_ids(struct tensorfile_tensor *t, int n, void **copies)
{
    int64_t *ids = copies[find_t(t, n, "user_ids")];
    int64_t x = ids[0];
    ids[0] = ids[1];
    ids[1] = x;
}

static void test_bundle_versions(void **state)
{
    (void)state;
    struct world w;
    struct recall_bundle back;
    struct error err = {0};
    char bdir[4200], p[4400];
    int version = 0, loaded = 0;

    snprintf(bdir, sizeof(bdir), "%s/versions", dir);
    assert_int_equal(recall_bundle_load(bdir, 0, NULL, &back, &loaded, &err), ERR_NOTFOUND);
    assert_non_null(strstr(err.msg, "no recall models"));

    world_make(&w, 3);
    assert_int_equal(recall_bundle_save(bdir, &w.b, &w.v, NULL, &version, NULL, 0, &err), 0);
    assert_int_equal(version, 1);
    int64_t first = w.b.nratings;
    w.b.nratings = 12345;
    assert_int_equal(recall_bundle_save(bdir, &w.b, &w.v, NULL, &version, NULL, 0, &err), 0);
    assert_int_equal(version, 2);
    /* leftovers that are not versions are ignored */
    snprintf(p, sizeof(p), "%s/.tmp-1-abc", bdir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/07", bdir);
    assert_int_equal(mkdir(p, 0755), 0);

    assert_int_equal(recall_bundle_load(bdir, 0, &w.v, &back, &loaded, &err), 0);
    assert_int_equal(loaded, 2);
    assert_true(back.nratings == 12345);
    recall_bundle_free(&back);
    assert_int_equal(recall_bundle_load(bdir, 1, &w.v, &back, &loaded, &err), 0);
    assert_int_equal(loaded, 1);
    assert_true(back.nratings == first);
    recall_bundle_free(&back);
    assert_int_equal(recall_bundle_load(bdir, 5, &w.v, &back, &loaded, &err), ERR_NOTFOUND);
    assert_non_null(strstr(err.msg, "no version 5"));

    /* the latest damaged: tables that disagree, then one flipped data byte;
     * the error names the file; version 1 still loads */
    rewrite(bdir, 2, 3, short_sim);
    assert_int_equal(recall_bundle_load(bdir, 0, &w.v, &back, &loaded, &err), ERR_FORMAT);
    assert_non_null(strstr(err.msg, "/3/recall.safetensors"));
    assert_non_null(strstr(err.msg, "itemcf.sim"));
    snprintf(p, sizeof(p), "%s/3/recall.safetensors", bdir);
    {
        FILE *f = fopen(p, "r+b");
        assert_non_null(f);
        assert_int_equal(fseek(f, -1, SEEK_END), 0);
        int ch = fgetc(f);
        assert_int_equal(fseek(f, -1, SEEK_END), 0);
        fputc(ch ^ 1, f);
        fclose(f);
    }
    loaded = -7;
    assert_int_equal(recall_bundle_load(bdir, 0, &w.v, &back, &loaded, &err), ERR_INTEGRITY);
    assert_non_null(strstr(err.msg, "/3/recall.safetensors"));
    assert_non_null(strstr(err.msg, "checksum"));
    assert_int_equal(loaded, -7);
    assert_null(back.pop.count);
    assert_int_equal(recall_bundle_load(bdir, 1, &w.v, &back, &loaded, &err), 0);
    recall_bundle_free(&back);

    /* a checksum-valid file whose tables do not hold together */
    rewrite(bdir, 1, 4, bad_neighbour);
    assert_int_equal(recall_bundle_load(bdir, 4, &w.v, &back, &loaded, &err), ERR_INTEGRITY);
    assert_non_null(strstr(err.msg, "bad neighbour"));
    rewrite(bdir, 1, 5, nan_factor);
    assert_int_equal(recall_bundle_load(bdir, 5, &w.v, &back, &loaded, &err), ERR_INTEGRITY);
    assert_non_null(strstr(err.msg, "ALS"));
    rewrite(bdir, 1, 6, drop_ids);
    assert_int_equal(recall_bundle_load(bdir, 6, &w.v, &back, &loaded, &err), ERR_FORMAT);
    assert_non_null(strstr(err.msg, "'movie_ids' is missing"));
    rewrite(bdir, 1, 7, unsorted_ids);
    assert_int_equal(recall_bundle_load(bdir, 7, &w.v, &back, &loaded, &err), ERR_INTEGRITY);
    assert_non_null(strstr(err.msg, "ascend"));

    /* a version folder without its file; a generic tensor file that is not ours */
    snprintf(p, sizeof(p), "%s/8", bdir);
    assert_int_equal(mkdir(p, 0755), 0);
    assert_int_equal(recall_bundle_load(bdir, 0, &w.v, &back, &loaded, &err), ERR_INTEGRITY);
    assert_non_null(strstr(err.msg, "/8' has no recall.safetensors"));
    snprintf(p, sizeof(p), "%s/9", bdir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/9/recall.safetensors", bdir);
    assert_int_equal(tensorfile_write(p, NULL, 0, NULL, NULL, 0, &err), 0);
    assert_int_equal(recall_bundle_load(bdir, 0, &w.v, &back, &loaded, &err), ERR_FORMAT);
    assert_non_null(strstr(err.msg, "not a movierec recall file"));

    /* the next save still counts up past everything */
    assert_int_equal(recall_bundle_save(bdir, &w.b, &w.v, NULL, &version, NULL, 0, &err), 0);
    assert_int_equal(version, 10);
    assert_int_equal(recall_bundle_load(bdir, 0, &w.v, &back, &loaded, &err), 0);
    assert_int_equal(loaded, 10);
    recall_bundle_free(&back);
    world_free(&w);
}

/* ------------------------------------------------------------------ */
/* versiondir                                                           */

static void test_versiondir(void **state)
{
    (void)state;
    struct error err = {0};
    char vdir[4200], tmp[4096], out[4096];
    int version = 0;

    snprintf(vdir, sizeof(vdir), "%s/vd/a/b", dir);
    assert_int_equal(versiondir_latest(vdir, &err), 0);
    assert_int_equal(versiondir_begin(vdir, tmp, sizeof(tmp), &err), 0);
    tu_write(tmp, "x.txt", "x", (size_t)-1);
    assert_int_equal(versiondir_commit(vdir, tmp, &version, out, sizeof(out), &err), 0);
    assert_int_equal(version, 1);
    assert_int_equal(access(tmp, F_OK), -1);
    /* a number taken by someone else meanwhile: the next one */
    char p[4400];
    snprintf(p, sizeof(p), "%s/2", vdir);
    assert_int_equal(versiondir_begin(vdir, tmp, sizeof(tmp), &err), 0);
    tu_write(tmp, "y.txt", "y", (size_t)-1);
    assert_int_equal(mkdir(p, 0755), 0);
    tu_write(p, "other", "o", (size_t)-1);
    assert_int_equal(versiondir_commit(vdir, tmp, &version, out, sizeof(out), &err), 0);
    assert_int_equal(version, 3);
    snprintf(p, sizeof(p), "%s/3/y.txt", vdir);
    assert_int_equal(access(p, R_OK), 0);
    /* abort removes the temporary folder */
    assert_int_equal(versiondir_begin(vdir, tmp, sizeof(tmp), &err), 0);
    tu_write(tmp, "z.txt", "z", (size_t)-1);
    versiondir_abort(tmp);
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(versiondir_latest(vdir, &err), 3);
    int got = 0;
    assert_int_equal(versiondir_find(vdir, 0, "things", out, sizeof(out), &got, &err), 0);
    assert_int_equal(got, 3);
    assert_int_equal(versiondir_find(vdir, 4, "things", out, sizeof(out), &got, &err),
                     ERR_NOTFOUND);
}

/* ranker.blend and ranker.pre narrowed to `cols` features (the first
 * ones), as a movierec from before the newer features wrote them. */
static int narrow_cols;

static void narrow_blends(struct tensorfile_tensor *t, int n, void **copies)
{
    const char *names[] = {"ranker.blend", "ranker.pre"};
    for (int j = 0; j < 2; j++) {
        int i = find_t(t, n, names[j]);
        float *x = copies[i], wide[4 * BLEND_NFEAT];
        assert_int_equal(t[i].dims[1], BLEND_NFEAT);
        memcpy(wide, x, sizeof(wide));
        memset(x, 0, sizeof(wide));
        for (int r = 0; r < 4; r++)
            for (int k = 0; k < narrow_cols; k++)
                x[r * narrow_cols + k] = wide[r * BLEND_NFEAT + k];
        /* the last row: {fitted, bias, 0...} */
        x[3 * narrow_cols] = wide[3 * BLEND_NFEAT];
        x[3 * narrow_cols + 1] = wide[3 * BLEND_NFEAT + 1];
        t[i].dims[1] = narrow_cols;
    }
}

static void narrow_pre_only(struct tensorfile_tensor *t, int n, void **copies)
{
    int i = find_t(t, n, "ranker.pre");
    float *x = copies[i], wide[4 * BLEND_NFEAT];
    memcpy(wide, x, sizeof(wide));
    for (int r = 0; r < 4; r++)
        for (int k = 0; k < BLEND_NFEAT - 1; k++)
            x[r * (BLEND_NFEAT - 1) + k] = wide[r * BLEND_NFEAT + k];
    t[i].dims[1] = BLEND_NFEAT - 1; /* ranker.blend keeps every feature */
}

static void expect_widened(const struct rec_blend *got, const struct rec_blend *want)
{
    assert_int_equal(got->fitted, want->fitted);
    assert_true(got->bias == want->bias);
    for (int k = 0; k < BLEND_NFEAT - 1; k++) {
        assert_true(got->mean[k] == want->mean[k]);
        assert_true(got->scale[k] == want->scale[k]);
        assert_true(got->w[k] == want->w[k]);
    }
    /* the feature the old file lacks: no weight, neutral scale */
    assert_true(got->w[BLEND_GENRE] == 0.0f);
    assert_true(got->scale[BLEND_GENRE] == 1.0f);
    assert_true(got->mean[BLEND_GENRE] == 0.0f);
}

static void test_bundle_old_blend(void **state)
{
    (void)state;
    struct world w;
    struct recall_bundle back;
    struct error err = {0};
    char bdir[4200];
    int version = 0, loaded = 0;

    assert_int_equal(BLEND_GENRE, BLEND_NFEAT - 1); /* the newest feature is the last */
    snprintf(bdir, sizeof(bdir), "%s/oldblend", dir);
    world_make(&w, 4);
    assert_true(w.b.blend.w[BLEND_GENRE] != 0.0f && w.b.blend.scale[BLEND_GENRE] != 1.0f);
    assert_int_equal(recall_bundle_save(bdir, &w.b, &w.v, NULL, &version, NULL, 0, &err), 0);
    assert_int_equal(version, 1);

    /* one feature fewer (before BLEND_GENRE): loads, the new one off */
    narrow_cols = BLEND_NFEAT - 1;
    rewrite(bdir, 1, 2, narrow_blends);
    if (recall_bundle_load(bdir, 2, &w.v, &back, &loaded, &err))
        fail_msg("an old bundle: %s", err.msg);
    assert_int_equal(loaded, 2);
    expect_widened(&back.blend, &w.b.blend);
    expect_widened(&back.pre, &w.b.pre);
    assert_true(back.pre.w[BLEND_DEEP] == 0.0f && back.pre.bias == -2.25f);
    /* the tables themselves are as saved */
    {
        struct recall_bundle same = back;
        same.blend = w.b.blend;
        same.pre = w.b.pre;
        assert_same(&w.b, &same);
    }
    recall_bundle_free(&back);

    /* an unfitted old blend stays unfitted */
    memset(&w.b.blend, 0, sizeof(w.b.blend));
    memset(&w.b.pre, 0, sizeof(w.b.pre));
    assert_int_equal(recall_bundle_save(bdir, &w.b, &w.v, NULL, &version, NULL, 0, &err), 0);
    assert_int_equal(version, 3);
    rewrite(bdir, 3, 4, narrow_blends);
    assert_int_equal(recall_bundle_load(bdir, 4, &w.v, &back, &loaded, &err), 0);
    assert_false(back.blend.fitted);
    assert_false(back.pre.fitted);
    assert_true(back.blend.w[BLEND_GENRE] == 0.0f);
    recall_bundle_free(&back);

    /* two features fewer: refused, saying why and which file */
    narrow_cols = BLEND_NFEAT - 2;
    rewrite(bdir, 1, 5, narrow_blends);
    memset(&back, 0x5a, sizeof(back));
    assert_int_equal(recall_bundle_load(bdir, 5, &w.v, &back, &loaded, &err), ERR_FORMAT);
    if (!strstr(err.msg, "/5/recall.safetensors") || !strstr(err.msg, "features"))
        fail_msg("unexpected message: %s", err.msg);
    {
        char want[64];
        snprintf(want, sizeof(want), "%d", BLEND_NFEAT - 2);
        assert_non_null(strstr(err.msg, want));
    }
    assert_null(back.pop.count); /* left empty */
    assert_null(back.group_top);

    /* the blend and the pre-ranker of different widths: refused too */
    rewrite(bdir, 1, 6, narrow_pre_only);
    assert_int_equal(recall_bundle_load(bdir, 6, &w.v, &back, &loaded, &err), ERR_FORMAT);
    assert_non_null(strstr(err.msg, "features"));
    world_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tensorfile_roundtrip), cmocka_unit_test(test_tensorfile_damage),
        cmocka_unit_test(test_bundle_roundtrip),     cmocka_unit_test(test_bundle_remap),
        cmocka_unit_test(test_bundle_versions),      cmocka_unit_test(test_versiondir),
        cmocka_unit_test(test_bundle_old_blend),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
