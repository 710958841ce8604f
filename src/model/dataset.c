/*
 * dataset.c - the store read into arrays for training and evaluation.
 */
#include "dataset.h"

#include <stdlib.h>
#include <string.h>

struct loading {
    struct dataset *d;
    int64_t cap;
    int last_user;
};

static int on_user(void *ctx, const struct store_user_row *u)
{
    struct dataset *d = ctx;
    struct user_feat f;
    vocab_user_feat(&d->vocab, u, &f);
    if (f.user > 0 && f.user < d->nusers)
        d->users[f.user] = f;
    return 0;
}

static int on_movie(void *ctx, const struct store_movie_row *m)
{
    struct dataset *d = ctx;
    struct movie_feat f;
    vocab_movie_feat(&d->vocab, m, &f);
    if (f.movie > 0 && f.movie < d->nmovies)
        d->movies[f.movie] = f;
    return 0;
}

static int on_rating(void *ctx, int64_t user, int64_t movie, double score, int64_t time)
{
    struct loading *ld = ctx;
    struct dataset *d = ld->d;
    int u = vocab_user_index(&d->vocab, user), m = vocab_movie_index(&d->vocab, movie);

    if (u == 0 || m == 0)
        return 0; /* not in the vocabulary (rated after it was made) */
    if (d->nratings == ld->cap) {
        int64_t nc = ld->cap ? ld->cap * 2 : 65536;
        int *nm = realloc(d->r_movie, (size_t)nc * sizeof(*nm));
        float *ns;
        int64_t *nt;
        if (!nm)
            return ERR_NOMEM;
        d->r_movie = nm;
        ns = realloc(d->r_score, (size_t)nc * sizeof(*ns));
        if (!ns)
            return ERR_NOMEM;
        d->r_score = ns;
        nt = realloc(d->r_time, (size_t)nc * sizeof(*nt));
        if (!nt)
            return ERR_NOMEM;
        d->r_time = nt;
        ld->cap = nc;
    }
    /* ratings arrive by user id then movie id, so by index too */
    while (ld->last_user < u)
        d->user_start[++ld->last_user] = d->nratings;
    d->r_movie[d->nratings] = m;
    d->r_score[d->nratings] = (float)score;
    d->r_time[d->nratings] = time;
    d->nratings++;
    return 0;
}

static int fill(struct dataset *d, struct store *s, struct error *err)
{
    struct loading ld = {d, 0, 0};
    int rc;

    d->nusers = d->vocab.nusers + 1;
    d->nmovies = d->vocab.nmovies + 1;
    d->users = calloc((size_t)d->nusers, sizeof(*d->users));
    d->movies = calloc((size_t)d->nmovies, sizeof(*d->movies));
    d->user_start = calloc((size_t)d->nusers + 1, sizeof(*d->user_start));
    if (!d->users || !d->movies || !d->user_start)
        return error_set(err, ERR_NOMEM, "out of memory reading the store");
    /* row 0: the unknown user and movie */
    {
        struct movie_feat *f = &d->movies[0];
        for (int i = 0; i < FEAT_MAX_GENRES; i++)
            f->genres[i] = i == 0 ? 0 : -1;
        for (int i = 0; i < FEAT_TITLE_LEN; i++)
            f->words[i] = -1;
    }
    if ((rc = store_each_user(s, on_user, d, err)) || (rc = store_each_movie(s, on_movie, d, err)))
        return rc;
    rc = store_each_rating(s, on_rating, &ld, err);
    if (rc == ERR_NOMEM)
        return error_set(err, ERR_NOMEM, "out of memory reading ratings");
    if (rc)
        return rc;
    while (ld.last_user < d->nusers)
        d->user_start[++ld.last_user] = d->nratings;
    if (d->nratings == 0)
        return error_set(err, ERR_NOTFOUND, "the store holds no ratings; run 'movierec import' first");
    return 0;
}

int dataset_load(struct dataset *d, struct store *s, int min_word_count, struct error *err)
{
    int rc;
    memset(d, 0, sizeof(*d));
    if ((rc = vocab_build(&d->vocab, s, min_word_count, err)))
        return rc;
    if ((rc = fill(d, s, err)))
        dataset_free(d);
    return rc;
}

static int copy_strtab(struct strtab *dst, const struct strtab *src)
{
    for (int i = 0; i < src->n; i++)
        if (strtab_add(dst, src->s[i], (int)strlen(src->s[i])) != i + 1)
            return -1;
    return 0;
}

int dataset_load_with_vocab(struct dataset *d, struct store *s, const struct vocab *v,
                            struct error *err)
{
    struct vocab *c = &d->vocab;
    int rc;

    memset(d, 0, sizeof(*d));
    vocab_init(c);
    c->min_word_count = v->min_word_count;
    c->nusers = v->nusers;
    c->nmovies = v->nmovies;
    c->user_ids = malloc(((size_t)v->nusers + 1) * sizeof(int64_t));
    c->movie_ids = malloc(((size_t)v->nmovies + 1) * sizeof(int64_t));
    if (!c->user_ids || !c->movie_ids || copy_strtab(&c->occupations, &v->occupations) ||
        copy_strtab(&c->genres, &v->genres) || copy_strtab(&c->words, &v->words)) {
        dataset_free(d);
        return error_set(err, ERR_NOMEM, "out of memory");
    }
    memcpy(c->user_ids, v->user_ids, (size_t)v->nusers * sizeof(int64_t));
    memcpy(c->movie_ids, v->movie_ids, (size_t)v->nmovies * sizeof(int64_t));
    if ((rc = fill(d, s, err)))
        dataset_free(d);
    return rc;
}

void dataset_free(struct dataset *d)
{
    vocab_free(&d->vocab);
    free(d->users);
    free(d->movies);
    free(d->user_start);
    free(d->r_movie);
    free(d->r_score);
    free(d->r_time);
    memset(d, 0, sizeof(*d));
}

int dataset_rated(const struct dataset *d, int u, int m)
{
    int64_t lo = d->user_start[u], hi = d->user_start[u + 1] - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (d->r_movie[mid] == m)
            return 1;
        if (d->r_movie[mid] < m)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return 0;
}
