/*
 * catalog.h - every movie's display information in memory (title, year,
 * genres, links, poster, rating count and mean), so that a page of
 * recommendations, similar movies or search results costs no query per
 * movie. Loaded once when the server starts (movies change only by
 * `movierec import`, which refuses to run beside a server); the rating
 * statistics are refreshed from the store after each rating the server
 * writes (catalog_refresh), so they match the store.
 *
 * Thread-safe: lookups copy under a striped lock. Ownership:
 * catalog_load() / catalog_free().
 */
#ifndef MOVIEREC_CATALOG_H
#define MOVIEREC_CATALOG_H

#include <pthread.h>
#include <stdint.h>

#include "../store/store.h"

struct catalog_movie; /* compact: strings in one block */

struct catalog {
    struct catalog_movie *m; /* (n,) by id */
    int n, cap;
    pthread_mutex_t mu[16];  /* stripes for the statistics */
};

int catalog_load(struct catalog *c, struct store *s, struct error *err);
void catalog_free(struct catalog *c);
/* The movie's information into out: 0, or ERR_NOTFOUND. */
int catalog_get(struct catalog *c, int64_t id, struct store_movie_info *out);
/* Just the title (NUL-terminated, cap bytes): 0 or ERR_NOTFOUND. */
int catalog_title(struct catalog *c, int64_t id, char *out, size_t cap);
/* Re-reads the movie's rating statistics from the store. */
void catalog_refresh(struct catalog *c, struct store *s, int64_t id);

#endif
