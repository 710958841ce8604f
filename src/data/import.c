/*
 * import.c - MovieLens folder -> store_loader, one file at a time.
 */
#include "import.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../store/store.h"
#include "../util/text.h"
#include "csv.h"
#include "lines.h"

struct imp {
    const char *dir;
    const struct import_opts *o;
    struct import_report *rep;
    struct store_loader *l;
    struct lines in;    /* the file being read */
    const char *file;   /* its short name, for messages */
    int implicit_users; /* ml-latest without users.csv: users come from ratings */
    /* ml-100k */
    char genre_names[ML_MAX_GENRES][48];
    int ngenre_names;
    char occupations[64][32];
    int noccupations;
    /* ml-latest links, looked up by movie id while movies are read */
    struct ml_link *links;
    size_t nlinks;
};

static int is_fatal(int code)
{
    return code != ERR_PARSE && code != ERR_EXISTS && code != ERR_NOTFOUND;
}

/* A bad record, its message already "file:line: problem": stop, or count
 * it and go on. */
static int bad_msg(struct imp *im, int code, const char *msg, struct error *err)
{
    if (!im->o->skip_bad || is_fatal(code))
        return error_set(err, code == ERR_OK ? ERR_PARSE : code, "%s", msg);
    if (im->rep->nshown < IMPORT_MAX_SHOWN)
        snprintf(im->rep->shown[im->rep->nshown++], sizeof(im->rep->shown[0]), "%s", msg);
    im->rep->skipped++;
    return 0;
}

static int bad_line(struct imp *im, long lineno, const struct error *why, struct error *err)
{
    char msg[1200];
    snprintf(msg, sizeof(msg), "%s:%ld: %s", im->file, lineno, why->msg);
    return bad_msg(im, why->code, msg, err);
}

static int open_file(struct imp *im, const char *name, int required, const char *needs,
                     struct error *err)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", im->dir, name);
    im->file = name;
    if (lines_open(&im->in, path, name, err)) {
        if (!required && access(path, F_OK) != 0) {
            error_clear(err);
            return 1; /* absent and optional */
        }
        if (needs)
            error_prefix(err, "%s needs %s", ml_format_name(im->rep->format), needs);
        return -1;
    }
    if (im->in.size == 0) {
        lines_close(&im->in);
        if (!required)
            return 1;
        return error_set(err, ERR_PARSE, "'%s' is empty", path), -1;
    }
    return 0;
}

static void progress(struct imp *im, uint64_t lines)
{
    if (im->o->progress && (lines & 0xffff) == 0)
        im->o->progress(im->o->progress_ctx, im->file, im->in.consumed, im->in.size, lines);
}

static void progress_done(struct imp *im, uint64_t lines)
{
    if (im->o->progress)
        im->o->progress(im->o->progress_ctx, im->file, im->in.size, im->in.size, lines);
}

/* Reads the next line of a text file, refusing NUL bytes. Returns 1, 0 or -1. */
static int next_line(struct imp *im, const char **s, size_t *n, struct error *err)
{
    for (;;) {
        int rc = lines_next(&im->in, s, n, err);
        if (rc <= 0)
            return rc;
        if (im->in.lineno == 1 && *n >= 3 && memcmp(*s, "\xEF\xBB\xBF", 3) == 0) {
            *s += 3; /* a UTF-8 byte order mark */
            *n -= 3;
        }
        if (memchr(*s, '\0', *n)) {
            struct error e;
            error_set(&e, ERR_PARSE, "line holds a NUL byte (not a text file?)");
            if (bad_line(im, im->in.lineno, &e, err))
                return -1;
            continue;
        }
        if (*n == 0)
            continue; /* blank lines, e.g. at the end */
        return 1;
    }
}

/* ------------------------------------------------------------------ */
/* records into the loader                                             */

static int put_user(struct imp *im, const struct ml_user *u, struct error *err)
{
    struct loader_user lu = {u->id, u->gender, u->age, u->occupation, u->zip};
    int rc = store_loader_user(im->l, &lu, err);
    if (rc == 0)
        im->rep->users++;
    return rc;
}

static int link_cmp(const void *a, const void *b)
{
    const struct ml_link *x = a, *y = b;
    return (x->movie > y->movie) - (x->movie < y->movie);
}

static int put_movie(struct imp *im, struct ml_movie *m, struct error *err)
{
    const char *genres[ML_MAX_GENRES];
    char url[64];
    struct loader_movie lm;
    int rc;

    if (im->nlinks) {
        struct ml_link key = {.movie = m->id};
        struct ml_link *hit = bsearch(&key, im->links, im->nlinks, sizeof(key), link_cmp);
        if (hit) {
            memcpy(m->imdb_id, hit->imdb_id, sizeof(m->imdb_id));
            m->tmdb_id = hit->tmdb_id;
        }
    }
    if (m->imdb_id[0] && !m->imdb_url[0]) {
        snprintf(url, sizeof(url), "https://www.imdb.com/title/%s/", m->imdb_id);
        snprintf(m->imdb_url, sizeof(m->imdb_url), "%s", url);
    }
    for (int i = 0; i < m->ngenres; i++)
        genres[i] = m->genres[i];
    lm = (struct loader_movie){m->id,     m->title,  m->year,    m->release_date, genres,
                               m->ngenres, m->imdb_id, m->imdb_url, m->tmdb_id};
    rc = store_loader_movie(im->l, &lm, err);
    if (rc == 0)
        im->rep->movies++;
    return rc;
}

static int ensure_user(struct imp *im, int64_t id, struct error *err)
{
    struct loader_user lu = {.id = id};
    int rc;
    if (!im->implicit_users || store_loader_has_user(im->l, id))
        return 0;
    rc = store_loader_user(im->l, &lu, err);
    if (rc == 0)
        im->rep->users++;
    return rc;
}

static int put_rating(struct imp *im, const struct ml_rating *r, struct error *err)
{
    int rc = ensure_user(im, r->user, err);
    if (!rc)
        rc = store_loader_rating(im->l, r->user, r->movie, r->score, r->time, err);
    if (rc == 0)
        im->rep->ratings++;
    return rc;
}

/* ------------------------------------------------------------------ */
/* line-oriented formats (ml-100k, ml-1m)                              */

typedef int (*line_fn)(struct imp *im, const char *s, size_t n, struct error *err);

/* Reads a whole file, calling fn per line; bad lines go to bad_line(). */
static int each_line(struct imp *im, const char *name, int required, const char *needs,
                     line_fn fn, struct error *err)
{
    const char *s;
    size_t n;
    uint64_t count = 0;
    int rc = open_file(im, name, required, needs, err);

    if (rc)
        return rc > 0 ? 0 : -1;
    while ((rc = next_line(im, &s, &n, err)) > 0) {
        struct error e;
        error_clear(&e);
        if (fn(im, s, n, &e) && bad_line(im, im->in.lineno, &e, err)) {
            rc = -1;
            break;
        }
        progress(im, ++count);
    }
    progress_done(im, count);
    lines_close(&im->in);
    if (rc == 0 && count == 0 && required)
        return error_set(err, ERR_PARSE, "'%s' holds no records", name), -1;
    return rc < 0 ? -1 : 0;
}

static int l100k_genre(struct imp *im, const char *s, size_t n, struct error *err)
{
    int idx;
    char name[48];
    if (ml100k_parse_genre(s, n, &idx, name, err))
        return ERR_PARSE;
    if (idx != im->ngenre_names)
        return error_set(err, ERR_PARSE, "genre index %d is out of order (expected %d)", idx,
                         im->ngenre_names);
    memcpy(im->genre_names[im->ngenre_names++], name, sizeof(name));
    return 0;
}

static int l100k_occupation(struct imp *im, const char *s, size_t n, struct error *err)
{
    if (n == 0 || n >= sizeof(im->occupations[0]))
        return error_set(err, ERR_PARSE, "occupation name is empty or too long");
    if (im->noccupations == 64)
        return error_set(err, ERR_PARSE, "more than 64 occupations");
    text_latin1_to_utf8(im->occupations[im->noccupations++], sizeof(im->occupations[0]), s, n);
    return 0;
}

static int l100k_user(struct imp *im, const char *s, size_t n, struct error *err)
{
    struct ml_user u;
    if (ml100k_parse_user(s, n, &u, err))
        return ERR_PARSE;
    if (im->noccupations) {
        int known = 0;
        for (int i = 0; i < im->noccupations && !known; i++)
            known = !strcmp(im->occupations[i], u.occupation);
        if (!known)
            return error_set(err, ERR_PARSE, "occupation '%s' is not listed in u.occupation",
                             u.occupation);
    }
    return put_user(im, &u, err);
}

static int l100k_movie(struct imp *im, const char *s, size_t n, struct error *err)
{
    struct ml_movie m;
    if (ml100k_parse_movie(s, n, im->genre_names, im->ngenre_names, &m, err))
        return ERR_PARSE;
    return put_movie(im, &m, err);
}

static int l100k_rating(struct imp *im, const char *s, size_t n, struct error *err)
{
    struct ml_rating r;
    if (ml100k_parse_rating(s, n, &r, err))
        return ERR_PARSE;
    return put_rating(im, &r, err);
}

static int l1m_user(struct imp *im, const char *s, size_t n, struct error *err)
{
    struct ml_user u;
    if (ml1m_parse_user(s, n, &u, err))
        return ERR_PARSE;
    return put_user(im, &u, err);
}

static int l1m_movie(struct imp *im, const char *s, size_t n, struct error *err)
{
    struct ml_movie m;
    if (ml1m_parse_movie(s, n, &m, err))
        return ERR_PARSE;
    return put_movie(im, &m, err);
}

static int l1m_rating(struct imp *im, const char *s, size_t n, struct error *err)
{
    struct ml_rating r;
    if (ml1m_parse_rating(s, n, &r, err))
        return ERR_PARSE;
    return put_rating(im, &r, err);
}

static int import_100k(struct imp *im, struct error *err)
{
    static const char needs[] = "u.data, u.item, u.user and u.genre";
    if (each_line(im, "u.genre", 1, needs, l100k_genre, err) ||
        each_line(im, "u.occupation", 0, NULL, l100k_occupation, err) ||
        each_line(im, "u.user", 1, needs, l100k_user, err) ||
        each_line(im, "u.item", 1, needs, l100k_movie, err) ||
        each_line(im, "u.data", 1, needs, l100k_rating, err))
        return -1;
    return 0;
}

static int import_1m(struct imp *im, struct error *err)
{
    static const char needs[] = "ratings.dat, movies.dat and users.dat";
    if (each_line(im, "users.dat", 1, needs, l1m_user, err) ||
        each_line(im, "movies.dat", 1, needs, l1m_movie, err) ||
        each_line(im, "ratings.dat", 1, needs, l1m_rating, err))
        return -1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* CSV (ml-latest)                                                     */

enum csv_kind { K_LINKS, K_MOVIES, K_USERS, K_RATINGS, K_TAGS };

static const char *const csv_header[] = {
    [K_LINKS] = "movieId,imdbId,tmdbId",
    [K_MOVIES] = "movieId,title,genres",
    [K_USERS] = "userId,gender,age,occupation",
    [K_RATINGS] = "userId,movieId,rating,timestamp",
    [K_TAGS] = "userId,movieId,tag,timestamp",
};

/* The header names the expected columns in order (any case); users.csv
 * may add a fifth column, zip. */
static int header_ok(const struct csv *c, enum csv_kind k)
{
    const char *h = csv_header[k];
    int i = 0;

    for (;; i++) {
        const char *comma = strchr(h, ',');
        size_t len = comma ? (size_t)(comma - h) : strlen(h);
        if (i >= c->nfields || c->f[i].n != len || strncasecmp(c->f[i].s, h, len) != 0)
            return 0;
        if (!comma)
            break;
        h = comma + 1;
    }
    if (c->nfields == i + 1)
        return 1;
    return k == K_USERS && c->nfields == i + 2 && c->f[i + 1].n == 3 &&
           strncasecmp(c->f[i + 1].s, "zip", 3) == 0;
}

static int csv_record(struct imp *im, enum csv_kind k, struct csv *c, struct error *err)
{
    switch (k) {
    case K_LINKS: {
        struct ml_link lk;
        if (mll_parse_link(c->f, c->nfields, &lk, err))
            return ERR_PARSE;
        if (im->nlinks % 4096 == 0) {
            struct ml_link *nl = realloc(im->links, (im->nlinks + 4096) * sizeof(*nl));
            if (!nl)
                return error_set(err, ERR_NOMEM, "out of memory");
            im->links = nl;
        }
        im->links[im->nlinks++] = lk;
        im->rep->links++;
        return 0;
    }
    case K_MOVIES: {
        struct ml_movie m;
        if (mll_parse_movie(c->f, c->nfields, &m, err))
            return ERR_PARSE;
        return put_movie(im, &m, err);
    }
    case K_USERS: {
        struct ml_user u;
        if (mll_parse_user(c->f, c->nfields, &u, err))
            return ERR_PARSE;
        return put_user(im, &u, err);
    }
    case K_RATINGS: {
        struct ml_rating r;
        if (mll_parse_rating(c->f, c->nfields, &r, err))
            return ERR_PARSE;
        return put_rating(im, &r, err);
    }
    case K_TAGS: {
        struct ml_tag t;
        int rc;
        if (mll_parse_tag(c->f, c->nfields, &t, err))
            return ERR_PARSE;
        if ((rc = ensure_user(im, t.user, err)))
            return rc;
        rc = store_loader_tag(im->l, t.user, t.movie, t.tag, t.time, err);
        if (rc == 0)
            im->rep->tags++;
        return rc;
    }
    }
    return 0;
}

static int each_record(struct imp *im, const char *name, int required, enum csv_kind k,
                       struct error *err)
{
    static const char needs[] = "ratings.csv and movies.csv";
    struct csv c;
    uint64_t count = 0;
    int rc = open_file(im, name, required, needs, err);

    if (rc)
        return rc > 0 ? 0 : -1;
    csv_init(&c, &im->in);
    for (;;) {
        struct error e;
        const char *bom = "\xEF\xBB\xBF";
        rc = csv_next(&c, &e);
        if (rc < 0) {
            /* csv_next's message names file and line already */
            if (bad_msg(im, e.code, e.msg, err))
                break;
            continue;
        }
        if (rc == 0)
            break;
        if (c.nfields == 1 && c.f[0].n == 0)
            continue; /* a blank line */
        if (c.lineno == 1) {
            if (c.f[0].n >= 3 && memcmp(c.f[0].s, bom, 3) == 0) {
                c.f[0].s += 3;
                c.f[0].n -= 3;
            }
            if (!header_ok(&c, k)) {
                rc = error_set(err, ERR_PARSE, "%s:1: expected the header '%s'", name,
                               csv_header[k]);
                rc = -1;
                break;
            }
            continue;
        }
        error_clear(&e);
        if (csv_record(im, k, &c, &e) && bad_line(im, c.lineno, &e, err)) {
            rc = -1;
            break;
        }
        progress(im, ++count);
    }
    progress_done(im, count);
    csv_free(&c);
    lines_close(&im->in);
    if (rc < 0)
        return -1;
    if (count == 0 && required && (k == K_RATINGS || k == K_MOVIES))
        return error_set(err, ERR_PARSE, "'%s' has a header but no %s", name,
                         k == K_RATINGS ? "ratings" : "movies"), -1;
    if (k == K_LINKS && im->nlinks > 1)
        qsort(im->links, im->nlinks, sizeof(*im->links), link_cmp);
    return 0;
}

static int import_latest(struct imp *im, struct error *err)
{
    char p[4096];
    snprintf(p, sizeof(p), "%s/users.csv", im->dir);
    im->implicit_users = access(p, F_OK) != 0;
    if (each_record(im, "links.csv", 0, K_LINKS, err) ||
        each_record(im, "movies.csv", 1, K_MOVIES, err) ||
        each_record(im, "users.csv", 0, K_USERS, err) ||
        each_record(im, "ratings.csv", 1, K_RATINGS, err) ||
        each_record(im, "tags.csv", 0, K_TAGS, err))
        return -1;
    return 0;
}

int import_dir(const char *dir, const char *db_path, const struct import_opts *opts,
               struct import_report *rep, struct error *err)
{
    struct imp im;
    int rc;

    memset(rep, 0, sizeof(*rep));
    memset(&im, 0, sizeof(im));
    im.dir = dir;
    im.o = opts;
    im.rep = rep;
    im.in.fd = -1;
    rep->format = opts->format ? opts->format : ml_detect(dir, err);
    if (rep->format == ML_UNKNOWN)
        return err ? (int)err->code : ERR_FORMAT;
    if ((rc = store_loader_begin(&im.l, db_path, err)))
        return rc;
    switch (rep->format) {
    case ML_100K: rc = import_100k(&im, err); break;
    case ML_1M: rc = import_1m(&im, err); break;
    default: rc = import_latest(&im, err); break;
    }
    free(im.links);
    if (rc == 0) {
        const char *base;
        char name[256];
        size_t len = strlen(dir);
        while (len > 1 && dir[len - 1] == '/')
            len--;
        base = len ? dir + len : dir;
        while (base > dir && base[-1] != '/')
            base--;
        text_copy(name, sizeof(name), base, (size_t)(dir + len - base));
        if (store_loader_meta(im.l, "format", ml_format_name(rep->format), err) ||
            store_loader_meta(im.l, "dataset", name, err))
            rc = -1;
    }
    if (rc) {
        store_loader_abort(im.l);
        return err && err->code ? (int)err->code : ERR_PARSE;
    }
    return store_loader_finish(im.l, err);
}
