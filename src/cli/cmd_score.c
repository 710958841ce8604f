/*
 * cmd_score.c - `movierec score [--label L] [--version V]`: reads
 * "userId<TAB>movieId" lines on stdin, writes "userId<TAB>movieId<TAB>score"
 * lines on stdout, batching inside. Unknown ids score through the model's
 * unknown rows; a malformed line stops with an error naming it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../model/modelfile.h"
#include "../model/train.h"
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

int cmd_score(struct cli *c, int argc, char **argv)
{
    const char *label = "watch";
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
                   "'userId<TAB>movieId<TAB>score' lines: the model's probability that the user\n"
                   "watches (--label watch, the default) or likes (--label like) the movie.\n"
                   "Users and movies the model has not seen are scored from what the store\n"
                   "knows of them, or as unknown. --version picks a saved version (default:\n"
                   "the latest).\n",
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
    snprintf(dir, sizeof(dir), "%s/models/%s", c->home, label);
    if (modelfile_load(dir, (int)version, &m, &v, &loaded, &err))
        return cli_fail_err(&err);
    memset(&fm, 0, sizeof(fm));
    cli_db_path(c, db, sizeof(db));
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
