/*
 * movielens.c - per-line parsers for the MovieLens formats, title and
 * date normalisation, and format detection.
 */
#include "movielens.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../util/text.h"
#include "csv.h"

struct span {
    const char *s;
    size_t n;
};

/* Splits s[0..n) at every occurrence of sep (seplen bytes). Returns the
 * number of fields, or -1 when there are more than max. */
static int split(const char *s, size_t n, const char *sep, size_t seplen, struct span *f, int max)
{
    int nf = 0;
    size_t start = 0;

    for (size_t i = 0; i + seplen <= n;) {
        if (memcmp(s + i, sep, seplen) == 0) {
            if (nf == max)
                return -1;
            f[nf].s = s + start;
            f[nf].n = i - start;
            nf++;
            i += seplen;
            start = i;
        } else {
            i++;
        }
    }
    if (nf == max)
        return -1;
    f[nf].s = s + start;
    f[nf].n = n - start;
    return nf + 1;
}

/* For messages: a field quoted and cut to a readable length. */
static const char *show(const char *s, size_t n, char *buf, size_t cap)
{
    size_t k = n < 40 ? n : 40;
    size_t o = 0;
    for (size_t i = 0; i < k && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
        else
            buf[o++] = (char)c;
    }
    if (k < n && o + 4 < cap) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

static int parse_id(const char *s, size_t n, const char *what, int64_t *out, struct error *err)
{
    char b[64];
    int64_t v;
    text_trim(&s, &n);
    if (text_parse_i64(s, n, &v) < 0 || v < 1 || v > ML_ID_MAX)
        return error_set(err, ERR_PARSE, "%s '%s' is not a positive integer", what,
                         show(s, n, b, sizeof(b)));
    *out = v;
    return 0;
}

static int parse_time(const char *s, size_t n, int64_t *out, struct error *err)
{
    char b[64];
    int64_t v;
    text_trim(&s, &n);
    if (text_parse_i64(s, n, &v) < 0 || v < 0)
        return error_set(err, ERR_PARSE, "timestamp '%s' is not a non-negative integer",
                         show(s, n, b, sizeof(b)));
    *out = v;
    return 0;
}

/* Integer ratings 1..5 (ml-100k, ml-1m). */
static int parse_star(const char *s, size_t n, double *out, struct error *err)
{
    char b[64];
    int64_t v;
    text_trim(&s, &n);
    if (text_parse_i64(s, n, &v) < 0)
        return error_set(err, ERR_PARSE, "rating '%s' is not a whole number",
                         show(s, n, b, sizeof(b)));
    if (v < 1 || v > 5)
        return error_set(err, ERR_PARSE, "rating '%s' is outside 1..5", show(s, n, b, sizeof(b)));
    *out = (double)v;
    return 0;
}

/* Half-star ratings 0.5..5 (ml-latest). */
static int parse_half_star(const char *s, size_t n, double *out, struct error *err)
{
    char b[64];
    double v;
    text_trim(&s, &n);
    if (text_parse_double(s, n, &v) < 0)
        return error_set(err, ERR_PARSE, "rating '%s' is not a number", show(s, n, b, sizeof(b)));
    if (v < 0.5 || v > 5)
        return error_set(err, ERR_PARSE, "rating '%s' is outside 0.5..5",
                         show(s, n, b, sizeof(b)));
    if (v * 2 != (double)(int)(v * 2))
        return error_set(err, ERR_PARSE, "rating '%s' is not a multiple of 0.5",
                         show(s, n, b, sizeof(b)));
    *out = v;
    return 0;
}

static int need_fields(int nf, int want, struct error *err)
{
    if (nf != want)
        return error_set(err, ERR_PARSE, "expected %d fields, found %d", want, nf < 0 ? want + 1 : nf);
    return 0;
}

static int copy_utf8(char *out, size_t cap, const char *s, size_t n, const char *what,
                     struct error *err)
{
    if (!text_utf8_valid(s, n))
        return error_set(err, ERR_PARSE, "%s is not valid UTF-8", what);
    text_copy(out, cap, s, n);
    return 0;
}

/* ------------------------------------------------------------------ */
/* formats and detection                                                */

const char *ml_format_name(enum ml_format f)
{
    switch (f) {
    case ML_100K: return "ml-100k";
    case ML_1M: return "ml-1m";
    case ML_LATEST: return "ml-latest";
    default: return "unknown";
    }
}

enum ml_format ml_format_parse(const char *name)
{
    if (!strcmp(name, "ml-100k") || !strcmp(name, "100k"))
        return ML_100K;
    if (!strcmp(name, "ml-1m") || !strcmp(name, "1m"))
        return ML_1M;
    if (!strcmp(name, "ml-latest") || !strcmp(name, "latest") || !strcmp(name, "ml-latest-small") ||
        !strcmp(name, "ml-25m") || !strcmp(name, "ml-32m") || !strcmp(name, "csv"))
        return ML_LATEST;
    return ML_UNKNOWN;
}

static int has(const char *dir, const char *file)
{
    char p[4096];
    snprintf(p, sizeof(p), "%s/%s", dir, file);
    return access(p, F_OK) == 0;
}

enum ml_format ml_detect(const char *dir, struct error *err)
{
    if (access(dir, F_OK) != 0) {
        error_set(err, ERR_IO, "cannot open '%s': No such file or directory", dir);
        return ML_UNKNOWN;
    }
    if (has(dir, "u.data") || has(dir, "u.item"))
        return ML_100K;
    if (has(dir, "ratings.dat") || has(dir, "movies.dat"))
        return ML_1M;
    if (has(dir, "ratings.csv") || has(dir, "movies.csv"))
        return ML_LATEST;
    error_set(err, ERR_FORMAT,
              "'%s' holds no MovieLens data set: expected u.data and u.item (ml-100k), "
              "ratings.dat and movies.dat (ml-1m), or ratings.csv and movies.csv (ml-latest, "
              "ml-25m, ml-32m)",
              dir);
    return ML_UNKNOWN;
}

/* ------------------------------------------------------------------ */
/* titles                                                              */

static const char *articles[] = {"The", "A", "An", "Les", "La", "Le", "L'", "Il", "Das", "Der",
                                 "Die", "El", "Los", "Las", "Det", "Den", "Lo", "Gli", "Os",
                                 "Una", "Un", "Une", "Ein", "Eine", "I"};

int ml_split_title(const char *raw, size_t n, char *out, size_t cap)
{
    int year = 0;
    size_t mainlen, restoff;

    text_trim(&raw, &n);
    /* A trailing "(1995)", "(2005-2007)" or "(2006- )" is the year. */
    if (n >= 6 && raw[n - 1] == ')') {
        size_t open = n - 1;
        while (open > 0 && raw[open] != '(')
            open--;
        if (raw[open] == '(' && n - 1 - open >= 4) {
            const char *y = raw + open + 1;
            int ok = 1;
            for (int i = 0; i < 4; i++)
                ok &= y[i] >= '0' && y[i] <= '9';
            size_t after = n - 2 - open - 4; /* chars between the year and ')' */
            if (ok && (after == 0 || y[4] == '-' || (unsigned char)y[4] == 0xE2)) {
                year = (y[0] - '0') * 1000 + (y[1] - '0') * 100 + (y[2] - '0') * 10 + (y[3] - '0');
                n = open;
                text_trim(&raw, &n);
            }
        }
    }
    /* "City of Lost Children, The (Cité des enfants perdus, La)":
     * the article belongs to the part before the first " (". */
    mainlen = n;
    for (size_t i = 0; i + 1 < n; i++)
        if (raw[i] == ' ' && raw[i + 1] == '(') {
            mainlen = i;
            break;
        }
    restoff = mainlen;
    for (size_t a = 0; a < sizeof(articles) / sizeof(*articles); a++) {
        size_t al = strlen(articles[a]);
        if (mainlen > al + 2 && raw[mainlen - al - 2] == ',' && raw[mainlen - al - 1] == ' ' &&
            memcmp(raw + mainlen - al, articles[a], al) == 0) {
            char tmp[1024];
            int sep = articles[a][al - 1] != '\'';
            int k = snprintf(tmp, sizeof(tmp), "%s%s%.*s%.*s", articles[a], sep ? " " : "",
                             (int)(mainlen - al - 2), raw, (int)(n - restoff), raw + restoff);
            if (k < 0)
                k = 0;
            if ((size_t)k >= sizeof(tmp)) /* snprintf may have cut a character */
                k = (int)text_utf8_complete(tmp, sizeof(tmp) - 1);
            text_copy(out, cap, tmp, (size_t)k);
            return year;
        }
    }
    text_copy(out, cap, raw, n);
    return year;
}

/* "01-Jan-1995" -> "1995-01-01"; "" stays "". */
static int parse_100k_date(const char *s, size_t n, char out[16], struct error *err)
{
    static const char *mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char b[64];
    int m = -1;

    out[0] = '\0';
    if (n == 0)
        return 0;
    /* "01-Jan-1995" or "4-Feb-1971" */
    if ((n == 11 || n == 10) && s[n - 9] == '-' && s[n - 5] == '-') {
        size_t dl = n - 9;
        int64_t d, y;
        for (int i = 0; i < 12; i++)
            if (memcmp(s + dl + 1, mon[i], 3) == 0)
                m = i + 1;
        if (m > 0 && text_parse_i64(s, dl, &d) == 0 && text_parse_i64(s + n - 4, 4, &y) == 0 &&
            d >= 1 && d <= 31 && y >= 1800) {
            snprintf(out, 16, "%04d-%02d-%02d", (int)y, m, (int)d);
            return 0;
        }
    }
    return error_set(err, ERR_PARSE, "release date '%s' is not like 01-Jan-1995",
                     show(s, n, b, sizeof(b)));
}

static int add_genre(struct ml_movie *m, const char *s, size_t n, struct error *err)
{
    char b[64];
    text_trim(&s, &n);
    if (n == 0 || (n == 18 && memcmp(s, "(no genres listed)", 18) == 0))
        return 0;
    if (n >= sizeof(m->genres[0]) || !text_utf8_valid(s, n))
        return error_set(err, ERR_PARSE, "genre '%s' is not a genre name", show(s, n, b, sizeof(b)));
    for (int i = 0; i < m->ngenres; i++)
        if (strlen(m->genres[i]) == n && memcmp(m->genres[i], s, n) == 0)
            return 0;
    if (m->ngenres == ML_MAX_GENRES)
        return error_set(err, ERR_PARSE, "more than %d genres", ML_MAX_GENRES);
    text_copy(m->genres[m->ngenres++], sizeof(m->genres[0]), s, n);
    return 0;
}

static int add_genres_piped(struct ml_movie *m, const char *s, size_t n, struct error *err)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++)
        if (i == n || s[i] == '|') {
            if (add_genre(m, s + start, i - start, err))
                return ERR_PARSE;
            start = i + 1;
        }
    return 0;
}

static int set_title(struct ml_movie *m, const char *s, size_t n, struct error *err)
{
    text_trim(&s, &n);
    if (n == 0)
        return error_set(err, ERR_PARSE, "empty title");
    if (!text_utf8_valid(s, n))
        return error_set(err, ERR_PARSE, "title is not valid UTF-8");
    m->year = ml_split_title(s, n, m->title, sizeof(m->title));
    if (m->title[0] == '\0')
        return error_set(err, ERR_PARSE, "empty title");
    return 0;
}

/* ------------------------------------------------------------------ */
/* ml-100k                                                             */

int ml100k_parse_user(const char *s, size_t n, struct ml_user *u, struct error *err)
{
    struct span f[6];
    char b[64];
    int64_t age;
    int nf = split(s, n, "|", 1, f, 6);

    memset(u, 0, sizeof(*u));
    if (need_fields(nf, 5, err))
        return ERR_PARSE;
    if (parse_id(f[0].s, f[0].n, "user id", &u->id, err))
        return ERR_PARSE;
    if (text_parse_i64(f[1].s, f[1].n, &age) < 0 || age < 1 || age > 150)
        return error_set(err, ERR_PARSE, "age '%s' is outside 1..150",
                         show(f[1].s, f[1].n, b, sizeof(b)));
    u->age = (int)age;
    if (f[2].n != 1 || (f[2].s[0] != 'M' && f[2].s[0] != 'F'))
        return error_set(err, ERR_PARSE, "gender '%s' is not M or F",
                         show(f[2].s, f[2].n, b, sizeof(b)));
    u->gender = f[2].s[0];
    text_latin1_to_utf8(u->occupation, sizeof(u->occupation), f[3].s,
                        f[3].n < 30 ? f[3].n : 30);
    text_latin1_to_utf8(u->zip, sizeof(u->zip), f[4].s, f[4].n < 7 ? f[4].n : 7);
    return 0;
}

int ml100k_parse_genre(const char *s, size_t n, int *index, char name[48], struct error *err)
{
    struct span f[3];
    char b[64];
    int64_t idx;
    int nf = split(s, n, "|", 1, f, 3);

    if (need_fields(nf, 2, err))
        return ERR_PARSE;
    if (text_parse_i64(f[1].s, f[1].n, &idx) < 0 || idx < 0 || idx >= ML_MAX_GENRES)
        return error_set(err, ERR_PARSE, "genre index '%s' is outside 0..%d",
                         show(f[1].s, f[1].n, b, sizeof(b)), ML_MAX_GENRES - 1);
    if (f[0].n == 0 || f[0].n >= 24)
        return error_set(err, ERR_PARSE, "genre name '%s' is empty or too long",
                         show(f[0].s, f[0].n, b, sizeof(b)));
    text_latin1_to_utf8(name, 48, f[0].s, f[0].n);
    *index = (int)idx;
    return 0;
}

int ml100k_parse_movie(const char *s, size_t n, char genre_names[][48], int ngenre_names,
                       struct ml_movie *m, struct error *err)
{
    struct span f[5 + ML_MAX_GENRES + 1];
    char utf[1100], b[64];
    int nf = split(s, n, "|", 1, f, 5 + ML_MAX_GENRES + 1);

    memset(m, 0, sizeof(*m));
    if (nf < 0 || nf != 5 + ngenre_names)
        return error_set(err, ERR_PARSE, "expected %d fields (5 + %d genre flags), found %d",
                         5 + ngenre_names, ngenre_names, nf < 0 ? 5 + ML_MAX_GENRES + 1 : nf);
    if (parse_id(f[0].s, f[0].n, "movie id", &m->id, err))
        return ERR_PARSE;
    if (f[1].n > 500)
        return error_set(err, ERR_PARSE, "title is longer than 500 bytes");
    size_t un = text_latin1_to_utf8(utf, sizeof(utf), f[1].s, f[1].n);
    if (set_title(m, utf, un, err))
        return ERR_PARSE;
    if (parse_100k_date(f[2].s, f[2].n, m->release_date, err))
        return ERR_PARSE;
    if (m->year == 0 && m->release_date[0])
        m->year = (m->release_date[0] - '0') * 1000 + (m->release_date[1] - '0') * 100 +
                  (m->release_date[2] - '0') * 10 + (m->release_date[3] - '0');
    if (f[4].n < sizeof(m->imdb_url))
        text_latin1_to_utf8(m->imdb_url, sizeof(m->imdb_url), f[4].s, f[4].n);
    for (int g = 0; g < ngenre_names; g++) {
        const struct span *fl = &f[5 + g];
        if (fl->n != 1 || (fl->s[0] != '0' && fl->s[0] != '1'))
            return error_set(err, ERR_PARSE, "genre flag %d is '%s', not 0 or 1", g,
                             show(fl->s, fl->n, b, sizeof(b)));
        if (fl->s[0] == '1' && strcmp(genre_names[g], "unknown") != 0)
            if (add_genre(m, genre_names[g], strlen(genre_names[g]), err))
                return ERR_PARSE;
    }
    return 0;
}

int ml100k_parse_rating(const char *s, size_t n, struct ml_rating *r, struct error *err)
{
    struct span f[5];
    int nf = split(s, n, "\t", 1, f, 5);

    if (need_fields(nf, 4, err))
        return ERR_PARSE;
    if (parse_id(f[0].s, f[0].n, "user id", &r->user, err) ||
        parse_id(f[1].s, f[1].n, "movie id", &r->movie, err) ||
        parse_star(f[2].s, f[2].n, &r->score, err) || parse_time(f[3].s, f[3].n, &r->time, err))
        return ERR_PARSE;
    return 0;
}

/* ------------------------------------------------------------------ */
/* ml-1m                                                               */

static const char *occupations_1m[] = {
    "other",      "academic/educator", "artist",     "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist",
    "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed", "writer"};

const char *ml1m_occupation(int code)
{
    if (code < 0 || code > 20)
        return NULL;
    return occupations_1m[code];
}

int ml1m_parse_user(const char *s, size_t n, struct ml_user *u, struct error *err)
{
    struct span f[6];
    char b[64];
    int64_t age, occ;
    int nf = split(s, n, "::", 2, f, 6);

    memset(u, 0, sizeof(*u));
    if (need_fields(nf, 5, err))
        return ERR_PARSE;
    if (parse_id(f[0].s, f[0].n, "user id", &u->id, err))
        return ERR_PARSE;
    if (f[1].n != 1 || (f[1].s[0] != 'M' && f[1].s[0] != 'F'))
        return error_set(err, ERR_PARSE, "gender '%s' is not M or F",
                         show(f[1].s, f[1].n, b, sizeof(b)));
    u->gender = f[1].s[0];
    if (text_parse_i64(f[2].s, f[2].n, &age) < 0 ||
        !(age == 1 || age == 18 || age == 25 || age == 35 || age == 45 || age == 50 || age == 56))
        return error_set(err, ERR_PARSE, "age code '%s' is not one of 1 18 25 35 45 50 56",
                         show(f[2].s, f[2].n, b, sizeof(b)));
    u->age = (int)age;
    if (text_parse_i64(f[3].s, f[3].n, &occ) < 0 || !ml1m_occupation((int)occ))
        return error_set(err, ERR_PARSE, "occupation code '%s' is outside 0..20",
                         show(f[3].s, f[3].n, b, sizeof(b)));
    snprintf(u->occupation, sizeof(u->occupation), "%s", ml1m_occupation((int)occ));
    text_latin1_to_utf8(u->zip, sizeof(u->zip), f[4].s, f[4].n < 7 ? f[4].n : 7);
    return 0;
}

int ml1m_parse_movie(const char *s, size_t n, struct ml_movie *m, struct error *err)
{
    struct span f[4];
    char utf[1100];
    int nf = split(s, n, "::", 2, f, 4);

    memset(m, 0, sizeof(*m));
    if (need_fields(nf, 3, err))
        return ERR_PARSE;
    if (parse_id(f[0].s, f[0].n, "movie id", &m->id, err))
        return ERR_PARSE;
    if (f[1].n > 500)
        return error_set(err, ERR_PARSE, "title is longer than 500 bytes");
    size_t un = text_latin1_to_utf8(utf, sizeof(utf), f[1].s, f[1].n);
    if (set_title(m, utf, un, err))
        return ERR_PARSE;
    un = text_latin1_to_utf8(utf, sizeof(utf), f[2].s, f[2].n < 500 ? f[2].n : 500);
    return add_genres_piped(m, utf, un, err);
}

int ml1m_parse_rating(const char *s, size_t n, struct ml_rating *r, struct error *err)
{
    struct span f[5];
    int nf = split(s, n, "::", 2, f, 5);

    if (need_fields(nf, 4, err))
        return ERR_PARSE;
    if (parse_id(f[0].s, f[0].n, "user id", &r->user, err) ||
        parse_id(f[1].s, f[1].n, "movie id", &r->movie, err) ||
        parse_star(f[2].s, f[2].n, &r->score, err) || parse_time(f[3].s, f[3].n, &r->time, err))
        return ERR_PARSE;
    return 0;
}

/* ------------------------------------------------------------------ */
/* ml-latest (CSV)                                                     */

int mll_parse_rating(const struct csv_field *f, int nf, struct ml_rating *r, struct error *err)
{
    if (need_fields(nf, 4, err))
        return ERR_PARSE;
    if (parse_id(f[0].s, f[0].n, "user id", &r->user, err) ||
        parse_id(f[1].s, f[1].n, "movie id", &r->movie, err) ||
        parse_half_star(f[2].s, f[2].n, &r->score, err) ||
        parse_time(f[3].s, f[3].n, &r->time, err))
        return ERR_PARSE;
    return 0;
}

int mll_parse_movie(const struct csv_field *f, int nf, struct ml_movie *m, struct error *err)
{
    memset(m, 0, sizeof(*m));
    if (need_fields(nf, 3, err))
        return ERR_PARSE;
    if (parse_id(f[0].s, f[0].n, "movie id", &m->id, err))
        return ERR_PARSE;
    if (f[1].n > 500)
        return error_set(err, ERR_PARSE, "title is longer than 500 bytes");
    if (set_title(m, f[1].s, f[1].n, err))
        return ERR_PARSE;
    if (!text_utf8_valid(f[2].s, f[2].n))
        return error_set(err, ERR_PARSE, "genres are not valid UTF-8");
    return add_genres_piped(m, f[2].s, f[2].n, err);
}

int mll_parse_tag(const struct csv_field *f, int nf, struct ml_tag *t, struct error *err)
{
    const char *s;
    size_t n;

    if (need_fields(nf, 4, err))
        return ERR_PARSE;
    if (parse_id(f[0].s, f[0].n, "user id", &t->user, err) ||
        parse_id(f[1].s, f[1].n, "movie id", &t->movie, err) ||
        parse_time(f[3].s, f[3].n, &t->time, err))
        return ERR_PARSE;
    s = f[2].s;
    n = f[2].n;
    text_trim(&s, &n);
    if (n == 0)
        return error_set(err, ERR_PARSE, "empty tag");
    if (n >= sizeof(t->tag))
        return error_set(err, ERR_PARSE, "tag is longer than %zu bytes", sizeof(t->tag) - 1);
    return copy_utf8(t->tag, sizeof(t->tag), s, n, "tag", err);
}

int mll_parse_link(const struct csv_field *f, int nf, struct ml_link *l, struct error *err)
{
    char b[64];
    int64_t v;

    memset(l, 0, sizeof(*l));
    if (need_fields(nf, 3, err))
        return ERR_PARSE;
    if (parse_id(f[0].s, f[0].n, "movie id", &l->movie, err))
        return ERR_PARSE;
    if (f[1].n > 0) {
        int digits = f[1].n <= 10;
        for (size_t i = 0; i < f[1].n && digits; i++)
            digits = f[1].s[i] >= '0' && f[1].s[i] <= '9';
        if (!digits)
            return error_set(err, ERR_PARSE, "IMDb id '%s' is not a number",
                             show(f[1].s, f[1].n, b, sizeof(b)));
        snprintf(l->imdb_id, sizeof(l->imdb_id), "tt%.*s", (int)f[1].n, f[1].s);
    }
    if (f[2].n > 0) {
        if (text_parse_i64(f[2].s, f[2].n, &v) < 0 || v < 0 || v > ML_ID_MAX)
            return error_set(err, ERR_PARSE, "TMDB id '%s' is not a number",
                             show(f[2].s, f[2].n, b, sizeof(b)));
        l->tmdb_id = v;
    }
    return 0;
}

int mll_parse_user(const struct csv_field *f, int nf, struct ml_user *u, struct error *err)
{
    char b[64];
    int64_t age;

    memset(u, 0, sizeof(*u));
    if (nf != 4 && nf != 5)
        return error_set(err, ERR_PARSE, "expected 4 or 5 fields, found %d", nf);
    if (parse_id(f[0].s, f[0].n, "user id", &u->id, err))
        return ERR_PARSE;
    if (f[1].n > 0) {
        if (f[1].n != 1 || (f[1].s[0] != 'M' && f[1].s[0] != 'F'))
            return error_set(err, ERR_PARSE, "gender '%s' is not M, F or empty",
                             show(f[1].s, f[1].n, b, sizeof(b)));
        u->gender = f[1].s[0];
    }
    if (f[2].n > 0) {
        if (text_parse_i64(f[2].s, f[2].n, &age) < 0 || age < 1 || age > 150)
            return error_set(err, ERR_PARSE, "age '%s' is outside 1..150",
                             show(f[2].s, f[2].n, b, sizeof(b)));
        u->age = (int)age;
    }
    if (f[3].n >= sizeof(u->occupation))
        return error_set(err, ERR_PARSE, "occupation is longer than %zu bytes",
                         sizeof(u->occupation) - 1);
    if (copy_utf8(u->occupation, sizeof(u->occupation), f[3].s, f[3].n, "occupation", err))
        return ERR_PARSE;
    if (nf == 5 && f[4].n < sizeof(u->zip))
        return copy_utf8(u->zip, sizeof(u->zip), f[4].s, f[4].n, "zip", err);
    return 0;
}
