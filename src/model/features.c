/*
 * features.c - vocabularies, title words, and the encoders of users and
 * movies into index inputs.
 */
#include "features.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/text.h"

/* ------------------------------------------------------------------ */
/* string tables                                                        */

static uint32_t fnv(const char *s, int n)
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

int strtab_find(const struct strtab *t, const char *s, int n)
{
    if (!t->cap)
        return 0;
    for (uint32_t h = fnv(s, n) & (uint32_t)(t->cap - 1);; h = (h + 1) & (uint32_t)(t->cap - 1)) {
        int idx = t->slot[h];
        if (!idx)
            return 0;
        if ((int)strlen(t->s[idx - 1]) == n && memcmp(t->s[idx - 1], s, (size_t)n) == 0)
            return idx;
    }
}

static int rehash(struct strtab *t, int cap)
{
    int *slot = calloc((size_t)cap, sizeof(*slot));
    if (!slot)
        return -1;
    for (int i = 0; i < t->n; i++) {
        uint32_t h = fnv(t->s[i], (int)strlen(t->s[i])) & (uint32_t)(cap - 1);
        while (slot[h])
            h = (h + 1) & (uint32_t)(cap - 1);
        slot[h] = i + 1;
    }
    free(t->slot);
    t->slot = slot;
    t->cap = cap;
    return 0;
}

int strtab_add(struct strtab *t, const char *s, int n)
{
    int idx = strtab_find(t, s, n);
    char *copy, **ns;
    if (idx)
        return idx;
    if ((t->n + 1) * 2 > t->cap && rehash(t, t->cap ? t->cap * 2 : 64) < 0)
        return -1;
    copy = malloc((size_t)n + 1);
    ns = realloc(t->s, (size_t)(t->n + 1) * sizeof(*ns));
    if (!copy || !ns) {
        free(copy);
        if (ns)
            t->s = ns;
        return -1;
    }
    t->s = ns;
    memcpy(copy, s, (size_t)n);
    copy[n] = '\0';
    t->s[t->n++] = copy;
    {
        uint32_t h = fnv(s, n) & (uint32_t)(t->cap - 1);
        while (t->slot[h])
            h = (h + 1) & (uint32_t)(t->cap - 1);
        t->slot[h] = t->n;
    }
    return t->n;
}

void strtab_free(struct strtab *t)
{
    for (int i = 0; i < t->n; i++)
        free(t->s[i]);
    free(t->s);
    free(t->slot);
    memset(t, 0, sizeof(*t));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Re-numbers t so indexes follow the order of the strings in s[]. */
static int strtab_reindex(struct strtab *t)
{
    return rehash(t, t->cap ? t->cap : 64);
}

/* ------------------------------------------------------------------ */
/* words and buckets                                                    */

int feat_title_words(const char *title, int max, void (*fn)(void *ctx, const char *w, int n),
                     void *ctx)
{
    char w[128];
    int n = 0, count = 0;

    for (const char *p = title;; p++) {
        unsigned char c = (unsigned char)*p;
        int word = c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                   (c >= 'A' && c <= 'Z');
        if (word) {
            if (n < (int)sizeof(w) - 1)
                w[n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            continue;
        }
        if (n > 0) {
            n = (int)text_utf8_complete(w, (size_t)n);
            if (n > 0) {
                fn(ctx, w, n);
                count++;
            }
            n = 0;
            if (max > 0 && count >= max)
                return count;
        }
        if (!c)
            return count;
    }
}

int feat_age_bucket(int age)
{
    if (age <= 0)
        return 0;
    if (age < 18)
        return 1;
    if (age < 25)
        return 2;
    if (age < 35)
        return 3;
    if (age < 45)
        return 4;
    if (age < 50)
        return 5;
    if (age < 56)
        return 6;
    return 7;
}

/* ------------------------------------------------------------------ */
/* building                                                             */

void vocab_init(struct vocab *v)
{
    memset(v, 0, sizeof(*v));
}

void vocab_free(struct vocab *v)
{
    free(v->user_ids);
    free(v->movie_ids);
    strtab_free(&v->occupations);
    strtab_free(&v->genres);
    strtab_free(&v->words);
    memset(v, 0, sizeof(*v));
}

struct build {
    struct vocab *v;
    size_t ucap, mcap;
    struct strtab counted; /* every title word */
    int *counts;           /* (ncounts,) */
    int ncounts;
    int oom;
};

static int push_id(int64_t **a, int *n, size_t *cap, int64_t id)
{
    if ((size_t)*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 1024;
        int64_t *na = realloc(*a, nc * sizeof(*na));
        if (!na)
            return -1;
        *a = na;
        *cap = nc;
    }
    (*a)[(*n)++] = id;
    return 0;
}

static int on_user(void *ctx, const struct store_user_row *u)
{
    struct build *b = ctx;
    if (push_id(&b->v->user_ids, &b->v->nusers, &b->ucap, u->id) < 0)
        return ERR_NOMEM;
    if (u->occupation[0] && strtab_add(&b->v->occupations, u->occupation,
                                       (int)strlen(u->occupation)) < 0)
        return ERR_NOMEM;
    return 0;
}

static void count_word(void *ctx, const char *w, int n)
{
    struct build *b = ctx;
    int idx = strtab_add(&b->counted, w, n);
    if (idx < 0) {
        b->oom = 1;
        return;
    }
    if (idx > b->ncounts) { /* a new word */
        int *nc = realloc(b->counts, (size_t)b->counted.n * sizeof(*nc));
        if (!nc) {
            b->oom = 1;
            return;
        }
        b->counts = nc;
        for (int i = b->ncounts; i < b->counted.n; i++)
            b->counts[i] = 0;
        b->ncounts = b->counted.n;
    }
    b->counts[idx - 1]++;
}

static int on_movie(void *ctx, const struct store_movie_row *m)
{
    struct build *b = ctx;
    const char *g = m->genres;
    if (push_id(&b->v->movie_ids, &b->v->nmovies, &b->mcap, m->id) < 0)
        return ERR_NOMEM;
    while (*g) {
        const char *bar = strchr(g, '|');
        int n = bar ? (int)(bar - g) : (int)strlen(g);
        if (n > 0 && strtab_add(&b->v->genres, g, n) < 0)
            return ERR_NOMEM;
        g += n + (bar ? 1 : 0);
    }
    feat_title_words(m->title, 0, count_word, b);
    return b->oom ? ERR_NOMEM : 0;
}

/* Words by count descending, then byte order (qsort_r: ctx is the build). */
static int cmp_word(const void *a, const void *b, void *ctx)
{
    const struct build *bld = ctx;
    int ia = *(const int *)a, ib = *(const int *)b;
    int ca = bld->counts[ia], cb = bld->counts[ib];
    if (ca != cb)
        return cb - ca;
    return strcmp(bld->counted.s[ia], bld->counted.s[ib]);
}

int vocab_build(struct vocab *v, struct store *s, int min_word_count, struct error *err)
{
    struct build b;
    int rc, *order = NULL;

    vocab_init(v);
    memset(&b, 0, sizeof(b));
    b.v = v;
    v->min_word_count = min_word_count;
    if ((rc = store_each_user(s, on_user, &b, err)) || (rc = store_each_movie(s, on_movie, &b, err)))
        goto fail;
    /* occupations and genres in byte order */
    if (v->occupations.n > 0)
        qsort(v->occupations.s, (size_t)v->occupations.n, sizeof(char *), cmp_str);
    if (v->genres.n > 0)
        qsort(v->genres.s, (size_t)v->genres.n, sizeof(char *), cmp_str);
    if (strtab_reindex(&v->occupations) < 0 || strtab_reindex(&v->genres) < 0) {
        rc = ERR_NOMEM;
        goto fail;
    }
    /* words: count descending, then byte order; rare words stay unknown */
    order = malloc((size_t)(b.counted.n ? b.counted.n : 1) * sizeof(*order));
    if (!order) {
        rc = ERR_NOMEM;
        goto fail;
    }
    for (int i = 0; i < b.counted.n; i++)
        order[i] = i;
    qsort_r(order, (size_t)b.counted.n, sizeof(*order), cmp_word, &b);
    for (int i = 0; i < b.counted.n && b.counts[order[i]] >= min_word_count; i++)
        if (strtab_add(&v->words, b.counted.s[order[i]], (int)strlen(b.counted.s[order[i]])) < 0) {
            rc = ERR_NOMEM;
            goto fail;
        }
    free(order);
    strtab_free(&b.counted);
    free(b.counts);
    return 0;
fail:
    if (rc == ERR_NOMEM)
        error_set(err, ERR_NOMEM, "out of memory building the vocabularies");
    free(order);
    strtab_free(&b.counted);
    free(b.counts);
    vocab_free(v);
    return rc;
}

/* ------------------------------------------------------------------ */
/* encoding                                                             */

static int find_id(const int64_t *a, int n, int64_t id)
{
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (a[mid] == id)
            return mid + 1;
        if (a[mid] < id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return 0;
}

int vocab_user_index(const struct vocab *v, int64_t id)
{
    return find_id(v->user_ids, v->nusers, id);
}

int vocab_movie_index(const struct vocab *v, int64_t id)
{
    return find_id(v->movie_ids, v->nmovies, id);
}

void vocab_user_feat(const struct vocab *v, const struct store_user_row *u, struct user_feat *f)
{
    f->user = vocab_user_index(v, u->id);
    f->gender = u->gender == 'M' ? 1 : u->gender == 'F' ? 2 : 0;
    f->age = feat_age_bucket(u->age);
    f->occ = u->occupation[0] ? strtab_find(&v->occupations, u->occupation,
                                            (int)strlen(u->occupation))
                              : 0;
}

struct words_out {
    const struct vocab *v;
    struct movie_feat *f;
    int n;
};

static void put_word(void *ctx, const char *w, int n)
{
    struct words_out *o = ctx;
    if (o->n < FEAT_TITLE_LEN)
        o->f->words[o->n++] = strtab_find(&o->v->words, w, n);
}

void vocab_movie_feat(const struct vocab *v, const struct store_movie_row *m, struct movie_feat *f)
{
    const char *g = m->genres;
    int ng = 0;
    struct words_out o = {v, f, 0};

    f->movie = vocab_movie_index(v, m->id);
    for (int i = 0; i < FEAT_MAX_GENRES; i++)
        f->genres[i] = -1;
    for (int i = 0; i < FEAT_TITLE_LEN; i++)
        f->words[i] = -1;
    while (*g && ng < FEAT_MAX_GENRES) {
        const char *bar = strchr(g, '|');
        int n = bar ? (int)(bar - g) : (int)strlen(g);
        int idx = n > 0 ? strtab_find(&v->genres, g, n) : 0;
        if (idx)
            f->genres[ng++] = idx;
        g += n + (bar ? 1 : 0);
    }
    if (ng == 0)
        f->genres[0] = 0; /* "no genre" has a row of its own */
    feat_title_words(m->title, FEAT_TITLE_LEN, put_word, &o);
}

/* ------------------------------------------------------------------ */
/* every user and movie of a store                                     */

struct feat_list {
    const struct vocab *v;
    int64_t *ids;
    void *feats;
    size_t size; /* of one feature record */
    int n, cap;
};

static int list_push(struct feat_list *l, int64_t id)
{
    if (l->n == l->cap) {
        int nc = l->cap ? l->cap * 2 : 1024;
        int64_t *ni = realloc(l->ids, (size_t)nc * sizeof(*ni));
        void *nf;
        if (!ni)
            return ERR_NOMEM;
        l->ids = ni;
        nf = realloc(l->feats, (size_t)nc * l->size);
        if (!nf)
            return ERR_NOMEM;
        l->feats = nf;
        l->cap = nc;
    }
    l->ids[l->n++] = id;
    return 0;
}

static int list_user(void *ctx, const struct store_user_row *u)
{
    struct feat_list *l = ctx;
    if (list_push(l, u->id))
        return ERR_NOMEM;
    vocab_user_feat(l->v, u, (struct user_feat *)l->feats + (l->n - 1));
    return 0;
}

static int list_movie(void *ctx, const struct store_movie_row *m)
{
    struct feat_list *l = ctx;
    if (list_push(l, m->id))
        return ERR_NOMEM;
    vocab_movie_feat(l->v, m, (struct movie_feat *)l->feats + (l->n - 1));
    return 0;
}

static int load_list(struct store *s, struct feat_list *l, int users, int64_t **ids, void **feats,
                     int *n, struct error *err)
{
    int rc = users ? store_each_user(s, list_user, l, err) : store_each_movie(s, list_movie, l, err);
    if (rc) {
        free(l->ids);
        free(l->feats);
        if (rc == ERR_NOMEM)
            return error_set(err, ERR_NOMEM, "out of memory reading the store");
        return rc;
    }
    *ids = l->ids;
    *feats = l->feats;
    *n = l->n;
    return 0;
}

int feat_load_users(struct store *s, const struct vocab *v, int64_t **ids,
                    struct user_feat **feats, int *n, struct error *err)
{
    struct feat_list l = {v, NULL, NULL, sizeof(struct user_feat), 0, 0};
    void *f = NULL;
    int rc = load_list(s, &l, 1, ids, &f, n, err);
    *feats = f;
    return rc;
}

int feat_load_movies(struct store *s, const struct vocab *v, int64_t **ids,
                     struct movie_feat **feats, int *n, struct error *err)
{
    struct feat_list l = {v, NULL, NULL, sizeof(struct movie_feat), 0, 0};
    void *f = NULL;
    int rc = load_list(s, &l, 0, ids, &f, n, err);
    *feats = f;
    return rc;
}

int feat_find(const int64_t *ids, int n, int64_t id)
{
    int k = find_id(ids, n, id);
    return k - 1;
}

/* ------------------------------------------------------------------ */
/* vocab.json                                                           */

static json_t *ids_json(const int64_t *a, int n)
{
    json_t *arr = json_array();
    for (int i = 0; arr && i < n; i++)
        if (json_array_append_new(arr, json_integer(a[i])) < 0) {
            json_decref(arr);
            return NULL;
        }
    return arr;
}

static json_t *strs_json(const struct strtab *t)
{
    json_t *arr = json_array();
    for (int i = 0; arr && i < t->n; i++)
        if (json_array_append_new(arr, json_string(t->s[i])) < 0) {
            json_decref(arr);
            return NULL;
        }
    return arr;
}

int vocab_save(const struct vocab *v, const char *path, struct error *err)
{
    json_t *root = json_pack("{s:i, s:i, s:o, s:o, s:o, s:o, s:o}", "version", 1,
                             "min_word_count", v->min_word_count,
                             "users", ids_json(v->user_ids, v->nusers),
                             "movies", ids_json(v->movie_ids, v->nmovies),
                             "occupations", strs_json(&v->occupations),
                             "genres", strs_json(&v->genres), "words", strs_json(&v->words));
    if (!root)
        return error_set(err, ERR_NOMEM, "out of memory writing '%s'", path);
    if (json_dump_file(root, path, JSON_COMPACT) != 0) {
        json_decref(root);
        return error_set(err, ERR_IO, "cannot write '%s'", path);
    }
    json_decref(root);
    return 0;
}

static int load_ids(json_t *arr, int64_t **out, int *n)
{
    size_t len = json_array_size(arr);
    if (!json_is_array(arr))
        return -1;
    *out = malloc((len ? len : 1) * sizeof(**out));
    if (!*out)
        return -1;
    for (size_t i = 0; i < len; i++) {
        json_t *x = json_array_get(arr, i);
        if (!json_is_integer(x))
            return -1;
        (*out)[i] = json_integer_value(x);
        if (i > 0 && (*out)[i] <= (*out)[i - 1])
            return -1; /* must ascend */
    }
    *n = (int)len;
    return 0;
}

static int load_strs(json_t *arr, struct strtab *t)
{
    if (!json_is_array(arr))
        return -1;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *x = json_array_get(arr, i);
        if (!json_is_string(x))
            return -1;
        if (strtab_add(t, json_string_value(x), (int)json_string_length(x)) != (int)i + 1)
            return -1; /* duplicates would shift the indexes */
    }
    return 0;
}

int vocab_load(struct vocab *v, const char *path, struct error *err)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);

    vocab_init(v);
    if (!root)
        return error_set(err, ERR_PARSE, "cannot read '%s': %s (line %d)", path, je.text, je.line);
    if (json_integer_value(json_object_get(root, "version")) != 1 ||
        load_ids(json_object_get(root, "users"), &v->user_ids, &v->nusers) ||
        load_ids(json_object_get(root, "movies"), &v->movie_ids, &v->nmovies) ||
        load_strs(json_object_get(root, "occupations"), &v->occupations) ||
        load_strs(json_object_get(root, "genres"), &v->genres) ||
        load_strs(json_object_get(root, "words"), &v->words)) {
        json_decref(root);
        vocab_free(v);
        return error_set(err, ERR_PARSE, "'%s' is not a movierec vocabulary", path);
    }
    v->min_word_count = (int)json_integer_value(json_object_get(root, "min_word_count"));
    json_decref(root);
    return 0;
}
