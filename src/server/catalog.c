/*
 * catalog.c - the movies' display information in memory (catalog.h).
 */
#include "catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct catalog_movie {
    int64_t id, tmdb_id, nratings;
    double mean;
    int year;
    /* offsets into text: title, release date, genres, imdb id, imdb url, poster */
    char *text;
    unsigned short off[6];
};

enum { F_TITLE, F_DATE, F_GENRES, F_IMDB, F_IMDBURL, F_POSTER, F_N };

static int add(void *ctx, const struct store_movie_info *m)
{
    struct catalog *c = ctx;
    const char *f[F_N] = {m->title, m->release_date, m->genres, m->imdb_id, m->imdb_url,
                          m->poster_url};
    size_t len = 0, pos = 0;
    struct catalog_movie *cm;
    if (c->n == c->cap) {
        int cap = c->cap ? c->cap * 2 : 1024;
        struct catalog_movie *nm = realloc(c->m, (size_t)cap * sizeof(*nm));
        if (!nm)
            return ERR_NOMEM;
        c->m = nm;
        c->cap = cap;
    }
    for (int i = 0; i < F_N; i++)
        len += strlen(f[i]) + 1;
    cm = &c->m[c->n];
    memset(cm, 0, sizeof(*cm));
    if (!(cm->text = malloc(len)))
        return ERR_NOMEM;
    for (int i = 0; i < F_N; i++) {
        size_t l = strlen(f[i]);
        cm->off[i] = (unsigned short)pos;
        memcpy(cm->text + pos, f[i], l + 1);
        pos += l + 1;
    }
    cm->id = m->id;
    cm->tmdb_id = m->tmdb_id;
    cm->nratings = m->nratings;
    cm->mean = m->mean;
    cm->year = m->year;
    c->n++;
    return 0;
}

int catalog_load(struct catalog *c, struct store *s, struct error *err)
{
    int rc;
    memset(c, 0, sizeof(*c));
    for (int i = 0; i < 16; i++)
        pthread_mutex_init(&c->mu[i], NULL);
    rc = store_each_movie_info(s, add, c, err);
    if (rc == ERR_NOMEM)
        rc = error_set(err, ERR_NOMEM, "out of memory for the movie catalogue");
    if (rc)
        catalog_free(c);
    return rc;
}

void catalog_free(struct catalog *c)
{
    for (int i = 0; i < c->n; i++)
        free(c->m[i].text);
    free(c->m);
    for (int i = 0; i < 16; i++)
        pthread_mutex_destroy(&c->mu[i]);
    memset(c, 0, sizeof(*c));
}

static struct catalog_movie *find(struct catalog *c, int64_t id)
{
    int lo = 0, hi = c->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (c->m[mid].id == id)
            return &c->m[mid];
        if (c->m[mid].id < id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

static pthread_mutex_t *stripe(struct catalog *c, int64_t id)
{
    return &c->mu[(uint64_t)id % 16];
}

int catalog_get(struct catalog *c, int64_t id, struct store_movie_info *out)
{
    struct catalog_movie *m = find(c, id);
    if (!m)
        return ERR_NOTFOUND;
    out->id = m->id;
    out->year = m->year;
    out->tmdb_id = m->tmdb_id;
    snprintf(out->title, sizeof(out->title), "%s", m->text + m->off[F_TITLE]);
    snprintf(out->release_date, sizeof(out->release_date), "%s", m->text + m->off[F_DATE]);
    snprintf(out->genres, sizeof(out->genres), "%s", m->text + m->off[F_GENRES]);
    snprintf(out->imdb_id, sizeof(out->imdb_id), "%s", m->text + m->off[F_IMDB]);
    snprintf(out->imdb_url, sizeof(out->imdb_url), "%s", m->text + m->off[F_IMDBURL]);
    snprintf(out->poster_url, sizeof(out->poster_url), "%s", m->text + m->off[F_POSTER]);
    pthread_mutex_lock(stripe(c, id));
    out->nratings = m->nratings;
    out->mean = m->mean;
    pthread_mutex_unlock(stripe(c, id));
    return 0;
}

int catalog_title(struct catalog *c, int64_t id, char *out, size_t cap)
{
    struct catalog_movie *m = find(c, id);
    if (!m)
        return ERR_NOTFOUND;
    snprintf(out, cap, "%s", m->text + m->off[F_TITLE]);
    return 0;
}

void catalog_refresh(struct catalog *c, struct store *s, int64_t id)
{
    struct catalog_movie *m = find(c, id);
    struct store_movie_info info;
    if (!m || store_movie_info(s, id, &info, NULL))
        return;
    pthread_mutex_lock(stripe(c, id));
    m->nratings = info.nratings;
    m->mean = info.mean;
    pthread_mutex_unlock(stripe(c, id));
}
