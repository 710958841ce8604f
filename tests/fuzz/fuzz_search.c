/*
 * fuzz_search.c - libFuzzer target for the store's browsing and title
 * search, store_movies_find() (src/store/store.h).
 *
 * Input layout:
 *   byte 0   bits 0-2 the sort (5 to 7 are not sorts: ERR_USAGE); bit 3
 *            no text (a plain list); bit 4 no genre
 *   byte 1   year_min, byte 2 year_max: 0 none, 255 -1, 200 to 254 a
 *            year far ahead, else 1940 + b % 100
 *   byte 3   limit (255: -1), byte 4 offset (250 to 255: negative, 200
 *            to 249: large, else b % 20)
 *   rest     the search text, then 0x1E (record separator), then the
 *            genre name; each ends at a NUL like the C string it becomes
 *
 * The store is built once per process through store_loader_* in a
 * temporary folder (under $TMPDIR, else /dev/shm, else /tmp), removed at
 * exit: the movies below, with accents, quotes, digits, FTS5 keywords and
 * syntax in their titles. Each input runs the query with its own sort and
 * with two more, each with ids_only 0 and 1, and checks: the answer is 0,
 * ERR_USAGE or ERR_NOTFOUND exactly when store.h says so, with a message;
 * never ERR_DB (FTS5 syntax from the text reaching SQLite); n <= limit and
 * n = min(limit, total - offset); every id is a movie of the store, once,
 * meeting the genre and year bounds, with its title and year; a list
 * without text counts what the table below says; a search counts no more;
 * ids_only returns the same page, and every sort the same total.
 * Broken invariants call abort().
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "../../src/store/store.h"
#include "../../src/util/error.h"
#include "../../src/util/banned.h"

#define SEP 0x1E
#define PAGE_MAX 100         /* store.h: limit 1..100 */
#define TEXT_MAX 256         /* store.h: at most 256 bytes */

static const char *const g_action_crime[] = {"Action", "Crime", "Thriller"};
static const char *const g_comedy_romance[] = {"Comedy", "Romance"};
static const char *const g_scifi_action[] = {"Action", "Sci-Fi"};
static const char *const g_crime_mystery[] = {"Crime", "Mystery", "Thriller"};
static const char *const g_scifi[] = {"Sci-Fi"};
static const char *const g_fantasy_scifi[] = {"Fantasy", "Sci-Fi"};
static const char *const g_action_drama[] = {"Action", "Crime", "Drama"};
static const char *const g_wuxia[] = {"Action", "Drama", "Romance"};
static const char *const g_anim[] = {"Animation", "Fantasy"};
static const char *const g_comedy[] = {"Comedy"};
static const char *const g_war[] = {"Comedy", "War"};
static const char *const g_film_noir[] = {"Film-Noir", "(no genres listed)"};

static const struct loader_movie movies[] = {
    {1, "Heat (1995)", 1995, "1995-12-15", g_action_crime, 3, "tt0113277", NULL, 949},
    {2, "Am\xc3\xa9lie", 2001, NULL, g_comedy_romance, 2, NULL, NULL, 0},
    {3, "The Matrix", 1999, NULL, g_scifi_action, 2, NULL, NULL, 0},
    {4, "Se7en", 1995, NULL, g_crime_mystery, 3, NULL, NULL, 0},
    {5, "\"Weird\" Title", 0, NULL, NULL, 0, NULL, NULL, 0},
    {6, "The Matrix Reloaded", 2003, NULL, g_scifi_action, 2, NULL, NULL, 0},
    {7, "2001: A Space Odyssey", 1968, NULL, g_scifi, 1, NULL, NULL, 0},
    {8, "La Cit\xc3\xa9 des enfants perdus", 1995, NULL, g_fantasy_scifi, 2, NULL, NULL, 0},
    {9, "L\xc3\xa9on: The Professional", 1994, NULL, g_action_drama, 3, NULL, NULL, 0},
    {10, "Crouching Tiger, Hidden Dragon (Wo hu cang long)", 2000, NULL, g_wuxia, 3, NULL, NULL,
     0},
    {11, "\xe5\x8d\x83\xe3\x81\xa8\xe5\x8d\x83\xe5\xb0\x8b\xe3\x81\xae\xe7\xa5\x9e\xe9\x9a\xa0"
         "\xe3\x81\x97 (Spirited Away)",
     2001, NULL, g_anim, 2, NULL, NULL, 0},
    {12, "AND OR NOT NEAR(title: \"x\"* ^y)", 1980, NULL, g_comedy, 1, NULL, NULL, 0},
    {13, "\xc3\x86on Flux", 2005, NULL, g_scifi_action, 2, NULL, NULL, 0},
    {14, "M*A*S*H", 1970, NULL, g_war, 2, NULL, NULL, 0},
    {15, "Stra\xc3\x9f" "e 42 \xe2\x80\x93 Caf\xc3\xa9 'Noir'", 1947, NULL, g_film_noir, 2, NULL,
     NULL, 0},
};
#define NMOVIES ((int)(sizeof(movies) / sizeof(movies[0])))

static const struct {
    int64_t user, movie;
    double score;
} ratings[] = {
    {1, 1, 4}, {1, 3, 5}, {1, 4, 4.5}, {1, 9, 4}, {2, 3, 4.5}, {2, 2, 5}, {2, 11, 5},
    {3, 3, 3}, {3, 6, 2}, {3, 14, 3.5}, {4, 1, 3}, {4, 8, 4}, {4, 12, 1}, {4, 15, 4},
};

static char root[4096], dbpath[4200];
static struct store *store;

static void remove_root(void)
{
    DIR *d;
    struct dirent *e;

    if (store)
        store_close(store);
    store = NULL;
    if (!root[0] || !(d = opendir(root)))
        return;
    while ((e = readdir(d))) {
        char p[4400];
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof(p), "%s/%s", root, e->d_name);
            unlink(p);
        }
    }
    closedir(d);
    rmdir(root);
}

static void die(const char *what, const struct error *err)
{
    fprintf(stderr, "fuzz_search: %s: %s\n", what, err ? err->msg : "failed");
    abort();
}

static void setup_once(void)
{
    const char *base = getenv("TMPDIR");
    struct store_loader *l;
    struct error err;
    struct stat st;

    if (store)
        return;
    if (!base || !*base)
        base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0
                   ? "/dev/shm"
                   : "/tmp";
    snprintf(root, sizeof(root), "%s/movierec-fuzz-search-XXXXXX", base);
    if (!mkdtemp(root))
        die("cannot make a temporary folder", NULL);
    atexit(remove_root);
    snprintf(dbpath, sizeof(dbpath), "%s/movierec.db", root);

    if (store_loader_begin(&l, dbpath, &err))
        die("loader", &err);
    for (int64_t u = 1; u <= 4; u++) {
        struct loader_user lu = {u, u % 2 ? 'M' : 'F', 20 + (int)u, "writer", "12345"};
        if (store_loader_user(l, &lu, &err))
            die("loader user", &err);
    }
    for (int i = 0; i < NMOVIES; i++)
        if (store_loader_movie(l, &movies[i], &err))
            die("loader movie", &err);
    for (size_t i = 0; i < sizeof(ratings) / sizeof(ratings[0]); i++)
        if (store_loader_rating(l, ratings[i].user, ratings[i].movie, ratings[i].score,
                                100 + (int64_t)i, &err))
            die("loader rating", &err);
    if (store_loader_finish(l, &err))
        die("loader finish", &err);
    if (store_open(&store, dbpath, &err))
        die("store_open", &err);
}

/* ---- the reference ---- */

static int ascii_caseeq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b + 32) : *b;
        if (x != y)
            return 0;
    }
    return *a == *b;
}

/* Whether some movie has a genre called g (ASCII case ignored). */
static int genre_known(const char *g)
{
    for (int i = 0; i < NMOVIES; i++)
        for (int k = 0; k < movies[i].ngenres; k++)
            if (ascii_caseeq(movies[i].genres[k], g))
                return 1;
    return 0;
}

static const struct loader_movie *movie_by_id(int64_t id)
{
    for (int i = 0; i < NMOVIES; i++)
        if (movies[i].id == id)
            return &movies[i];
    return NULL;
}

/* Whether m meets the query's genre and year bounds. */
static int passes(const struct loader_movie *m, const struct store_movie_query *q)
{
    if (q->year_min && (m->year == 0 || m->year < q->year_min))
        return 0;
    if (q->year_max && (m->year == 0 || m->year > q->year_max))
        return 0;
    if (q->genre && *q->genre) {
        for (int k = 0; k < m->ngenres; k++)
            if (ascii_caseeq(m->genres[k], q->genre))
                return 1;
        return 0;
    }
    return 1;
}


/* The error store.h promises for q, checked in the order store_movies_find
 * runs them; -1 when the text decides (0 or ERR_USAGE). */
static int expected_rc(const struct store_movie_query *q)
{
    if ((int)q->sort < (int)STORE_SORT_RATING || (int)q->sort > (int)STORE_SORT_RELEVANCE)
        return ERR_USAGE;
    if (q->sort == STORE_SORT_RELEVANCE && !q->text)
        return ERR_USAGE;
    if (q->limit < 1 || q->limit > PAGE_MAX || q->offset < 0)
        return ERR_USAGE;
    if (q->year_min < 0 || q->year_max < 0 ||
        (q->year_min && q->year_max && q->year_min > q->year_max))
        return ERR_USAGE;
    if (q->genre && *q->genre && !genre_known(q->genre))
        return ERR_NOTFOUND;
    if (!q->text)
        return 0;
    if (strlen(q->text) > TEXT_MAX ||
        !fuzz_utf8_valid((const unsigned char *)q->text, strlen(q->text)))
        return ERR_USAGE;
    return -1; /* too many words, or fine */
}

/* ---- one query ---- */

struct page {
    int rc, n;
    int64_t total, ids[PAGE_MAX];
};

static void run(struct store_movie_query *q, int ids_only, struct page *pg)
{
    struct store_movie_info out[PAGE_MAX];
    struct error err;
    int want = expected_rc(q), count = 0;

    memset(out, 0xA5, sizeof(out));
    err.msg[0] = '\0';
    q->ids_only = ids_only;
    pg->n = -1;
    pg->total = -1;
    pg->rc = store_movies_find(store, q, out, &pg->n, &pg->total, &err);
    if (pg->rc != 0 && pg->rc != ERR_USAGE && pg->rc != ERR_NOTFOUND)
        fprintf(stderr, "store_movies_find: %d: %s\n", pg->rc, err.msg);
    if (want >= 0 && pg->rc != want)
        fprintf(stderr, "store_movies_find: %d (want %d): %s\n", pg->rc, want, err.msg);
    CHECK(pg->rc == 0 || pg->rc == ERR_USAGE || pg->rc == ERR_NOTFOUND);
    CHECK(want < 0 ? pg->rc == 0 || pg->rc == ERR_USAGE : pg->rc == want);
    if (pg->rc != 0) {
        CHECK(err.msg[0] != '\0');
        CHECK(pg->n == 0 && pg->total == 0);
        return;
    }
    CHECK(pg->n >= 0 && pg->n <= q->limit && pg->total >= 0 && pg->total >= pg->n);
    CHECK(pg->total <= NMOVIES);
    /* the page is the window [offset, offset + limit) of the total */
    CHECK(pg->n == (pg->total - q->offset <= 0         ? 0
                    : pg->total - q->offset < q->limit ? (int)(pg->total - q->offset)
                                                       : q->limit));
    for (int i = 0; i < NMOVIES; i++)
        count += passes(&movies[i], q);
    if (!q->text)
        CHECK(pg->total == count);
    else
        CHECK(pg->total <= count);
    for (int i = 0; i < pg->n; i++) {
        const struct loader_movie *m = movie_by_id(out[i].id);
        CHECK(m != NULL);
        CHECK(passes(m, q));
        for (int k = 0; k < i; k++)
            CHECK(pg->ids[k] != out[i].id);
        pg->ids[i] = out[i].id;
        if (!ids_only) {
            CHECK(strcmp(out[i].title, m->title) == 0);
            CHECK(out[i].year == m->year);
            CHECK(memchr(out[i].genres, '\0', sizeof(out[i].genres)) != NULL);
        }
    }
}

static char *cstr(const uint8_t *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        abort();
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static int year_of(uint8_t b)
{
    if (b == 0)
        return 0;
    if (b == 255)
        return -1;
    if (b >= 200)
        return 10000 + b;
    return 1940 + b % 100;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t h[5] = {0, 0, 0, 20, 0};
    struct store_movie_query q;
    const uint8_t *rest = data + (size < 5 ? size : 5), *sep;
    size_t rn = size < 5 ? 0 : size - 5;
    char *text, *genre;
    int sorts[3], nsorts = 0;
    int64_t total = -1;

    setup_once();
    memcpy(h, data, size < 5 ? size : 5);
    sep = memchr(rest, SEP, rn);
    text = cstr(rest, sep ? (size_t)(sep - rest) : rn);
    genre = sep ? cstr(sep + 1, rn - (size_t)(sep - rest) - 1) : cstr(rest, 0);

    memset(&q, 0, sizeof(q));
    q.text = h[0] & 8 ? NULL : text;
    q.genre = h[0] & 16 ? NULL : genre;
    q.year_min = year_of(h[1]);
    q.year_max = year_of(h[2]);
    q.limit = h[3] == 255 ? -1 : h[3];
    q.offset = h[4] >= 250 ? 249 - h[4] : h[4] >= 200 ? h[4] * 1000 : h[4] % 20;

    sorts[nsorts++] = h[0] & 7;
    if ((h[0] & 7) != STORE_SORT_RELEVANCE)
        sorts[nsorts++] = STORE_SORT_RELEVANCE;
    if ((h[0] & 7) != STORE_SORT_TITLE)
        sorts[nsorts++] = STORE_SORT_TITLE;
    for (int i = 0; i < nsorts; i++) {
        struct page full, ids;
        q.sort = (enum store_sort)sorts[i];
        run(&q, 0, &full);
        run(&q, 1, &ids);
        /* ids_only changes nothing but the details */
        CHECK(full.rc == ids.rc && full.n == ids.n && full.total == ids.total);
        CHECK(full.n <= 0 || memcmp(full.ids, ids.ids, (size_t)full.n * sizeof(full.ids[0])) == 0);
        /* the sort changes the order, not how many match */
        if (full.rc == 0) {
            CHECK(total < 0 || full.total == total);
            total = full.total;
        }
    }
    free(text);
    free(genre);
    return 0;
}
