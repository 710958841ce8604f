/*
 * movielens.h - the MovieLens data sets as records, and their parsers.
 *
 * Formats:
 *   ML_100K   u.data (tab), u.user u.item u.genre u.occupation (pipe), Latin-1
 *   ML_1M     ratings.dat users.dat movies.dat ('::'), Latin-1
 *   ML_LATEST ratings.csv movies.csv [tags.csv links.csv users.csv], UTF-8;
 *             ml-latest, ml-latest-small, ml-25m, ml-32m and the sets that
 *             `movierec generate` writes (which add users.csv).
 *
 * The per-line parsers take one line without its line end, fill a record
 * and return 0, or return ERR_PARSE with a message that names the problem
 * but not the file and line (the caller adds "file:line: "). Records are
 * plain values: strings are copied into the record's own arrays, always
 * valid UTF-8.
 */
#ifndef MOVIEREC_MOVIELENS_H
#define MOVIEREC_MOVIELENS_H

#include <stddef.h>
#include <stdint.h>

#include "../util/error.h"

enum ml_format { ML_UNKNOWN = 0, ML_100K, ML_1M, ML_LATEST };

#define ML_MAX_GENRES 32
#define ML_ID_MAX 2147483647

struct ml_user {
    int64_t id;
    char gender;         /* 'M', 'F' or 0 when unknown */
    int age;             /* years (ml-1m: the bucket's lower bound); 0 unknown */
    char occupation[64]; /* "" when unknown */
    char zip[16];
};

struct ml_movie {
    int64_t id;
    char title[512];        /* display title: "The Usual Suspects" */
    int year;               /* 0 when the title carries none */
    char release_date[16];  /* "YYYY-MM-DD" or "" */
    int ngenres;
    char genres[ML_MAX_GENRES][48];
    char imdb_id[16];       /* "tt0114709" or "" */
    char imdb_url[256];     /* "" when unknown */
    int64_t tmdb_id;        /* 0 when unknown */
};

struct ml_rating {
    int64_t user, movie;
    double score;
    int64_t time;
};

struct ml_tag {
    int64_t user, movie;
    char tag[256];
    int64_t time;
};

struct ml_link {
    int64_t movie;
    char imdb_id[16];
    int64_t tmdb_id;
};

const char *ml_format_name(enum ml_format f);
enum ml_format ml_format_parse(const char *name); /* ML_UNKNOWN if not a name */

/* Looks at which files dir holds. Returns the format, or ML_UNKNOWN with a
 * message listing what each format needs. */
enum ml_format ml_detect(const char *dir, struct error *err);

/* Splits "Usual Suspects, The (1995)" into "The Usual Suspects" and 1995.
 * raw is UTF-8; out gets the display title. Returns the year or 0. */
int ml_split_title(const char *raw, size_t n, char *out, size_t cap);

/* ml-100k. u.item lines name genres by flag position; genre_names holds
 * the names from u.genre (index -> name), ngenre_names of them. Lines are
 * the raw Latin-1 bytes. */
int ml100k_parse_user(const char *s, size_t n, struct ml_user *u, struct error *err);
int ml100k_parse_movie(const char *s, size_t n, char genre_names[][48], int ngenre_names,
                       struct ml_movie *m, struct error *err);
int ml100k_parse_rating(const char *s, size_t n, struct ml_rating *r, struct error *err);
/* "Action|1" -> index 1, name "Action". */
int ml100k_parse_genre(const char *s, size_t n, int *index, char name[48], struct error *err);

/* ml-1m, Latin-1 */
int ml1m_parse_user(const char *s, size_t n, struct ml_user *u, struct error *err);
int ml1m_parse_movie(const char *s, size_t n, struct ml_movie *m, struct error *err);
int ml1m_parse_rating(const char *s, size_t n, struct ml_rating *r, struct error *err);

/* ml-latest CSV, given already split fields (see csv.h). */
struct csv_field;
int mll_parse_rating(const struct csv_field *f, int nf, struct ml_rating *r, struct error *err);
int mll_parse_movie(const struct csv_field *f, int nf, struct ml_movie *m, struct error *err);
int mll_parse_tag(const struct csv_field *f, int nf, struct ml_tag *t, struct error *err);
int mll_parse_link(const struct csv_field *f, int nf, struct ml_link *l, struct error *err);
int mll_parse_user(const struct csv_field *f, int nf, struct ml_user *u, struct error *err);

/* The occupation names of ml-1m's codes 0..20. */
const char *ml1m_occupation(int code);

#endif
