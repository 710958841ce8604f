/*
 * fuzz_movielens.c - libFuzzer target for the per-line MovieLens parsers
 * (src/data/movielens.h).
 *
 * The first input byte picks the parser (byte % 13, so 'A'..'M' in the
 * seeds pick 0..12); the rest is one line. The ml-latest parsers get the
 * line split by csv_split() first; ml_split_title takes a second byte for
 * its output capacity. On success the record must hold what the header
 * promises (ids in 1..ML_ID_MAX, scores in range, strings NUL-terminated
 * valid UTF-8); on failure the error is ERR_PARSE with a message. Broken
 * invariants call abort().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../../src/data/csv.h"
#include "../../src/data/movielens.h"
#include "../../src/util/error.h"
#include "../../src/util/text.h"
#include "../../src/util/banned.h"


enum which {
    P_100K_USER,
    P_100K_MOVIE,
    P_100K_RATING,
    P_100K_GENRE,
    P_1M_USER,
    P_1M_MOVIE,
    P_1M_RATING,
    P_MLL_RATING,
    P_MLL_MOVIE,
    P_MLL_TAG,
    P_MLL_LINK,
    P_MLL_USER,
    P_SPLIT_TITLE,
    P_COUNT
};

/* The names of the real u.genre, in its order. */
static char genre_names[][48] = {
    "unknown", "Action",  "Adventure", "Animation", "Children's", "Comedy",  "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror",    "Musical",  "Mystery",
    "Romance", "Sci-Fi",  "Thriller",  "War",       "Western"};
#define NGENRE_NAMES ((int)(sizeof(genre_names) / sizeof(genre_names[0])))

/* A string field: NUL-terminated inside its array and valid UTF-8. */
static int str_ok(const char *s, size_t cap)
{
    const char *nul = memchr(s, '\0', cap);
    return nul && text_utf8_valid(s, (size_t)(nul - s));
}

static int id_ok(int64_t id)
{
    return id >= 1 && id <= ML_ID_MAX;
}

static int is_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static void check_error(int rc, const struct error *e)
{
    CHECK(rc == ERR_PARSE && e->code == ERR_PARSE);
    CHECK(memchr(e->msg, '\0', sizeof(e->msg)) && e->msg[0] != '\0');
}

static void check_user(const struct ml_user *u)
{
    CHECK(id_ok(u->id));
    CHECK(u->gender == 0 || u->gender == 'M' || u->gender == 'F');
    CHECK(u->age >= 0 && u->age <= 150);
    CHECK(str_ok(u->occupation, sizeof(u->occupation)));
    CHECK(str_ok(u->zip, sizeof(u->zip)));
}

static void check_movie(const struct ml_movie *m)
{
    CHECK(id_ok(m->id));
    CHECK(str_ok(m->title, sizeof(m->title)) && m->title[0] != '\0');
    CHECK(m->year >= 0 && m->year <= 9999);
    CHECK(str_ok(m->release_date, sizeof(m->release_date)));
    if (m->release_date[0]) {
        const char *d = m->release_date;
        CHECK(strlen(d) == 10 && d[4] == '-' && d[7] == '-' && is_digits(d, 4) &&
              is_digits(d + 5, 2) && is_digits(d + 8, 2));
    }
    CHECK(m->ngenres >= 0 && m->ngenres <= ML_MAX_GENRES);
    for (int i = 0; i < m->ngenres; i++) {
        CHECK(str_ok(m->genres[i], sizeof(m->genres[i])) && m->genres[i][0] != '\0');
        for (int k = 0; k < i; k++)
            CHECK(strcmp(m->genres[i], m->genres[k]) != 0);
    }
    CHECK(str_ok(m->imdb_id, sizeof(m->imdb_id)));
    CHECK(str_ok(m->imdb_url, sizeof(m->imdb_url)));
    CHECK(m->tmdb_id >= 0 && m->tmdb_id <= ML_ID_MAX);
}

static void check_rating(const struct ml_rating *r, int half_stars)
{
    CHECK(id_ok(r->user) && id_ok(r->movie));
    CHECK(r->time >= 0);
    if (half_stars)
        CHECK(r->score >= 0.5 && r->score <= 5 && r->score * 2 == (double)(int)(r->score * 2));
    else
        CHECK(r->score >= 1 && r->score <= 5 && r->score == (double)(int)r->score);
}

static void parse_line(enum which w, const char *s, size_t n)
{
    struct error e;
    int rc;

    error_clear(&e);
    switch (w) {
    case P_100K_USER:
    case P_1M_USER: {
        struct ml_user u;
        memset(&u, 0xA5, sizeof(u));
        rc = w == P_100K_USER ? ml100k_parse_user(s, n, &u, &e) : ml1m_parse_user(s, n, &u, &e);
        if (rc) {
            check_error(rc, &e);
            break;
        }
        check_user(&u);
        CHECK(u.gender != 0 && u.age >= 1);
        if (w == P_1M_USER) {
            int known = 0;
            for (int code = 0; code <= 20; code++)
                known |= strcmp(u.occupation, ml1m_occupation(code)) == 0;
            CHECK(known);
        }
        break;
    }
    case P_100K_MOVIE:
    case P_1M_MOVIE: {
        struct ml_movie m;
        memset(&m, 0xA5, sizeof(m));
        rc = w == P_100K_MOVIE ? ml100k_parse_movie(s, n, genre_names, NGENRE_NAMES, &m, &e)
                               : ml1m_parse_movie(s, n, &m, &e);
        if (rc) {
            check_error(rc, &e);
            break;
        }
        check_movie(&m);
        CHECK(m.imdb_id[0] == '\0' && m.tmdb_id == 0);
        if (w == P_100K_MOVIE) {
            /* genres come from the table, never "unknown" */
            for (int i = 0; i < m.ngenres; i++) {
                int known = 0;
                for (int g = 1; g < NGENRE_NAMES; g++)
                    known |= strcmp(m.genres[i], genre_names[g]) == 0;
                CHECK(known);
            }
        }
        break;
    }
    case P_100K_RATING:
    case P_1M_RATING: {
        struct ml_rating r;
        memset(&r, 0xA5, sizeof(r));
        rc = w == P_100K_RATING ? ml100k_parse_rating(s, n, &r, &e)
                                : ml1m_parse_rating(s, n, &r, &e);
        if (rc) {
            check_error(rc, &e);
            break;
        }
        check_rating(&r, 0);
        break;
    }
    case P_100K_GENRE: {
        char name[48];
        int index = -1;
        memset(name, 0xA5, sizeof(name));
        rc = ml100k_parse_genre(s, n, &index, name, &e);
        if (rc) {
            check_error(rc, &e);
            break;
        }
        CHECK(index >= 0 && index < ML_MAX_GENRES);
        CHECK(str_ok(name, sizeof(name)));
        break;
    }
    case P_MLL_RATING:
    case P_MLL_MOVIE:
    case P_MLL_TAG:
    case P_MLL_LINK:
    case P_MLL_USER: {
        struct csv_field f[CSV_MAX_FIELDS];
        char *buf = malloc(n ? n : 1);
        int nf;
        if (!buf)
            abort();
        nf = csv_split(s, n, f, CSV_MAX_FIELDS, buf, &e);
        if (nf < 0) {
            free(buf);
            break;
        }
        error_clear(&e);
        if (w == P_MLL_RATING) {
            struct ml_rating r;
            memset(&r, 0xA5, sizeof(r));
            if ((rc = mll_parse_rating(f, nf, &r, &e)))
                check_error(rc, &e);
            else
                check_rating(&r, 1);
        } else if (w == P_MLL_MOVIE) {
            struct ml_movie m;
            memset(&m, 0xA5, sizeof(m));
            if ((rc = mll_parse_movie(f, nf, &m, &e)))
                check_error(rc, &e);
            else
                check_movie(&m);
        } else if (w == P_MLL_TAG) {
            struct ml_tag t;
            memset(&t, 0xA5, sizeof(t));
            if ((rc = mll_parse_tag(f, nf, &t, &e))) {
                check_error(rc, &e);
            } else {
                size_t len;
                CHECK(id_ok(t.user) && id_ok(t.movie) && t.time >= 0);
                CHECK(str_ok(t.tag, sizeof(t.tag)));
                len = strlen(t.tag);
                CHECK(len > 0 && t.tag[0] != ' ' && t.tag[0] != '\t' && t.tag[len - 1] != ' ' &&
                      t.tag[len - 1] != '\t');
            }
        } else if (w == P_MLL_LINK) {
            struct ml_link l;
            memset(&l, 0xA5, sizeof(l));
            if ((rc = mll_parse_link(f, nf, &l, &e))) {
                check_error(rc, &e);
            } else {
                CHECK(id_ok(l.movie));
                CHECK(str_ok(l.imdb_id, sizeof(l.imdb_id)));
                /* "tt0114709" or "" */
                CHECK(l.imdb_id[0] == '\0' || (strncmp(l.imdb_id, "tt", 2) == 0 &&
                                               l.imdb_id[2] != '\0' &&
                                               is_digits(l.imdb_id + 2, strlen(l.imdb_id + 2))));
                CHECK(l.tmdb_id >= 0 && l.tmdb_id <= ML_ID_MAX);
            }
        } else {
            struct ml_user u;
            memset(&u, 0xA5, sizeof(u));
            if ((rc = mll_parse_user(f, nf, &u, &e)))
                check_error(rc, &e);
            else
                check_user(&u);
        }
        free(buf);
        break;
    }
    case P_SPLIT_TITLE: {
        size_t cap, len;
        char *out;
        int year;
        if (n == 0)
            break;
        cap = 1 + (size_t)(unsigned char)s[0] * 8; /* 1..2041 */
        s++;
        n--;
        out = malloc(cap);
        if (!out)
            abort();
        year = ml_split_title(s, n, out, cap);
        CHECK(year >= 0 && year <= 9999);
        CHECK(memchr(out, '\0', cap));
        len = strlen(out);
        CHECK(len < cap);
        if (text_utf8_valid(s, n))
            CHECK(text_utf8_valid(out, len));
        free(out);
        break;
    }
    case P_COUNT:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    parse_line((enum which)(data[0] % P_COUNT), (const char *)data + 1, size - 1);
    return 0;
}
