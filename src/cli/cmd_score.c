/*
 * cmd_score.c - `movierec score [--label L] [--version V]`: reads
 * "userId<TAB>movieId" lines on stdin, writes "userId<TAB>movieId<TAB>score"
 * lines on stdout, batching inside. Unknown ids score through the model's
 * unknown rows; a malformed line stops with an error naming it.
 *
 * Without --label it serves the recommendation pipeline's ranker (the
 * blend of the watch model with the recall scores and the user's recent
 * movies, src/recall/pipeline.h), which ranks far better than the watch
 * model alone (docs/EVALUATION.md, the "ranker" row); with --label, or
 * before `train` has fitted that blend, the deep model's probability.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../model/modelfile.h"
#include "../model/train.h"
#include "../recall/engine.h"
#include "../store/store.h"
#include "../util/text.h"
#include "cli.h"

static const char usage[] = "movierec score [--label watch|like] [--version V] < pairs.tsv";

#define SCORE_CHUNK 8192

/* Features of every user and movie in the store, found by id. */
struct featmap {
    int64_t *uid, *mid;
    struct user_feat *uf;
    struct movie_feat *mf;
    int nu, nm;
};

static void featmap_free(struct featmap *f)
{
    free(f->uid);
    free(f->uf);
    free(f->mid);
    free(f->mf);
}

static int flush(const struct model *m, struct user_feat *uf, struct movie_feat *mf,
                 const int64_t *ids, float *prob, int n, struct error *err)
{
    int rc = model_score(m, uf, mf, n, prob, err);
    if (rc)
        return rc;
    for (int i = 0; i < n; i++)
        printf("%lld\t%lld\t%.6f\n", (long long)ids[2 * i], (long long)ids[2 * i + 1], prob[i]);
    return 0;
}

/* One line's pair, or -1 with the complaint in msg. */
static int parse_pair(char *line, ssize_t len, long lineno, int64_t *u, int64_t *mv, int *blank,
                      char *msg, size_t cap)
{
    char *tab, *end = line + len;
    *blank = 0;
    while (end > line && (end[-1] == '\n' || end[-1] == '\r'))
        end--;
    if (end == line) {
        *blank = 1;
        return 0;
    }
    tab = memchr(line, '\t', (size_t)(end - line));
    if (!tab || text_parse_i64(line, (size_t)(tab - line), u) < 0 ||
        text_parse_i64(tab + 1, (size_t)(end - tab - 1), mv) < 0) {
        snprintf(msg, cap, "stdin:%ld: expected 'userId<TAB>movieId', got '%.*s'", lineno,
                 (int)(end - line < 60 ? end - line : 60), line);
        return -1;
    }
    return 0;
}

/* The ranker's scores of pairs (n,) that all belong to user id uid. */
struct ranker_run {
    struct engine *e;
    struct store *s;
    struct rec_opts o;
    struct rec_ws ws;
    int64_t *mid; /* (SCORE_CHUNK,) */
    int *rows;
    float *out;
    int n;
    int64_t uid;
};

static int ranker_flush(struct ranker_run *rr, struct error *err)
{
    struct engine_user eu;
    struct rec_item top[1];
    int rc;

    if (rr->n == 0)
        return 0;
    rc = engine_user_load(rr->e, rr->s, rr->uid, &eu, err);
    if (rc == ERR_NOTFOUND) { /* not in the store: an unknown user */
        error_clear(err);
        memset(&eu, 0, sizeof(eu));
        eu.u.feat.user = vocab_user_index(&rr->e->v, rr->uid);
    } else if (rc) {
        return rc;
    }
    rc = recommender_recommend(&rr->e->r, &rr->ws, &rr->o, &eu.u, top, 1, err);
    engine_user_free(&eu);
    if (rc < 0)
        return -rc;
    for (int i = 0; i < rr->n; i++) {
        int row = recommender_row(&rr->e->r, rr->mid[i]);
        rr->rows[i] = row > 0 ? row : 0; /* an unknown movie: the unknown row */
    }
    recommender_score_rows(&rr->e->r, &rr->ws, &rr->o, rr->rows, rr->n, rr->out);
    for (int i = 0; i < rr->n; i++)
        printf("%lld\t%lld\t%.6f\n", (long long)rr->uid, (long long)rr->mid[i], rr->out[i]);
    rr->n = 0;
    return 0;
}

/* score without --label: the pipeline's ranker, user by user */
static int score_ranker(struct engine *e, struct store *s)
{
    struct ranker_run rr;
    struct error err = {0};
    char *line = NULL;
    size_t lcap = 0;
    long lineno = 0;
    ssize_t len;
    int rc = 1;

    memset(&rr, 0, sizeof(rr));
    rr.e = e;
    rr.s = s;
    rec_opts_default(&rr.o);
    rr.mid = malloc(SCORE_CHUNK * sizeof(*rr.mid));
    rr.rows = malloc(SCORE_CHUNK * sizeof(*rr.rows));
    rr.out = malloc(SCORE_CHUNK * sizeof(*rr.out));
    if (!rr.mid || !rr.rows || !rr.out || rec_ws_alloc(&rr.ws, &e->r, &rr.o, &err)) {
        cli_fail("%s", err.msg[0] ? err.msg : "out of memory");
        goto out;
    }
    while ((len = getline(&line, &lcap, stdin)) >= 0) {
        int64_t u, mv;
        int blank;
        char msg[200];
        lineno++;
        if (parse_pair(line, len, lineno, &u, &mv, &blank, msg, sizeof(msg)) < 0) {
            /* what came before the bad line is scored and written first */
            if (ranker_flush(&rr, &err) == 0)
                fflush(stdout);
            cli_fail("%s", msg);
            goto out;
        }
        if (blank)
            continue;
        if ((rr.n && u != rr.uid) || rr.n == SCORE_CHUNK) {
            if (ranker_flush(&rr, &err)) {
                cli_fail_err(&err);
                goto out;
            }
        }
        rr.uid = u;
        rr.mid[rr.n++] = mv;
    }
    if (ranker_flush(&rr, &err)) {
        cli_fail_err(&err);
        goto out;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_fail("cannot write the scores");
        goto out;
    }
    rc = 0;
out:
    rec_ws_free(&rr.ws);
    free(rr.mid);
    free(rr.rows);
    free(rr.out);
    free(line);
    return rc;
}

int cmd_score(struct cli *c, int argc, char **argv)
{
    const char *label = NULL;
    int64_t version = 0;
    struct model m;
    struct vocab v;
    struct featmap fm;
    struct store *s = NULL;
    struct error err = {0};
    struct user_feat *uf = NULL;
    struct movie_feat *mf = NULL;
    int64_t *ids = NULL;
    float *prob = NULL;
    char dir[4096], db[4096], *line = NULL;
    size_t lcap = 0;
    long lineno = 0;
    int n = 0, rc = 1, loaded;
    ssize_t len;

    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            printf("usage: %s\n\nReads 'userId<TAB>movieId' lines on standard input and writes\n"
                   "'userId<TAB>movieId<TAB>score' lines. By default the score is the\n"
                   "recommendation ranker's probability: the watch model blended with the\n"
                   "recall channels' scores and the user's recent movies from the store\n"
                   "(lines grouped by user score fastest). With --label it is the deep\n"
                   "model's probability that the user watches (watch) or likes (like) the\n"
                   "movie. Users and movies the models have not seen are scored from what\n"
                   "the store knows of them, or as unknown. --version picks a saved deep\n"
                   "model version (default: the latest).\n",
                   usage);
            return 0;
        } else if (!strcmp(argv[i], "--label") && i + 1 < argc) {
            label = argv[++i];
            if (strcmp(label, "watch") && strcmp(label, "like"))
                return cli_usage_fail(usage, "--label takes 'watch' or 'like'");
        } else if (!strcmp(argv[i], "--version") && i + 1 < argc) {
            if (cli_parse_count(argv[++i], &version) || version < 1)
                return cli_usage_fail(usage, "--version takes a version number");
        } else {
            return cli_usage_fail(usage, "unknown argument '%s'", argv[i]);
        }
    }
    cli_db_path(c, db, sizeof(db));
    if (!label && version == 0 && access(db, F_OK) == 0) {
        /* the ranker, when train has fitted it; else the watch model */
        struct engine e;
        struct error e_err = {0};
        if (cli_engine_open(c, &s, &e, &e_err) == 0) {
            if (e.b.blend.fitted) {
                rc = score_ranker(&e, s);
                engine_free(&e);
                store_close(s);
                return rc;
            }
            engine_free(&e);
            store_close(s);
            s = NULL;
        }
    }
    if (!label)
        label = "watch";
    snprintf(dir, sizeof(dir), "%s/models/%s", c->home, label);
    if (modelfile_load(dir, (int)version, &m, &v, &loaded, &err))
        return cli_fail_err(&err);
    memset(&fm, 0, sizeof(fm));
    if (access(db, F_OK) == 0) {
        if (store_open(&s, db, &err) || feat_load_users(s, &v, &fm.uid, &fm.uf, &fm.nu, &err) ||
            feat_load_movies(s, &v, &fm.mid, &fm.mf, &fm.nm, &err)) {
            cli_fail_err(&err);
            goto out;
        }
        store_close(s);
        s = NULL;
    }
    uf = malloc(SCORE_CHUNK * sizeof(*uf));
    mf = malloc(SCORE_CHUNK * sizeof(*mf));
    ids = malloc(2 * SCORE_CHUNK * sizeof(*ids));
    prob = malloc(SCORE_CHUNK * sizeof(*prob));
    if (!uf || !mf || !ids || !prob) {
        cli_fail("out of memory");
        goto out;
    }
    while ((len = getline(&line, &lcap, stdin)) >= 0) {
        char *tab, *end = line + len;
        int64_t u, mv;
        int k;
        lineno++;
        while (end > line && (end[-1] == '\n' || end[-1] == '\r'))
            end--;
        if (end == line)
            continue; /* blank */
        tab = memchr(line, '\t', (size_t)(end - line));
        if (!tab || text_parse_i64(line, (size_t)(tab - line), &u) < 0 ||
            text_parse_i64(tab + 1, (size_t)(end - tab - 1), &mv) < 0) {
            /* what came before the bad line is scored and written */
            if (n && flush(&m, uf, mf, ids, prob, n, &err) == 0)
                n = 0;
            fflush(stdout);
            cli_fail("stdin:%ld: expected 'userId<TAB>movieId', got '%.*s'", lineno,
                     (int)(end - line < 60 ? end - line : 60), line);
            goto out;
        }
        k = feat_find(fm.uid, fm.nu, u);
        if (k >= 0) {
            uf[n] = fm.uf[k];
        } else {
            memset(&uf[n], 0, sizeof(uf[n]));
            uf[n].user = vocab_user_index(&v, u);
        }
        k = feat_find(fm.mid, fm.nm, mv);
        if (k >= 0) {
            mf[n] = fm.mf[k];
        } else {
            struct store_movie_row none = {.id = mv, .title = "", .genres = ""};
            vocab_movie_feat(&v, &none, &mf[n]);
        }
        ids[2 * n] = u;
        ids[2 * n + 1] = mv;
        if (++n == SCORE_CHUNK) {
            if (flush(&m, uf, mf, ids, prob, n, &err)) {
                cli_fail_err(&err);
                goto out;
            }
            n = 0;
        }
    }
    if (n && flush(&m, uf, mf, ids, prob, n, &err)) {
        cli_fail_err(&err);
        goto out;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_fail("cannot write the scores");
        goto out;
    }
    rc = 0;
out:
    store_close(s);
    free(line);
    free(uf);
    free(mf);
    free(ids);
    free(prob);
    featmap_free(&fm);
    model_free(&m);
    vocab_free(&v);
    return rc;
}
