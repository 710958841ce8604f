/*
 * cmd_similar.c - `movierec similar MOVIE_ID [-n 10] [--json]`: the movies
 * whose deep-model movie vectors are closest (cosine) to MOVIE_ID's — the
 * paper's similar movies. Works for any movie in the store, also one the
 * model never saw (its vector comes from its genres and title).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../model/modelfile.h"
#include "../recall/embed.h"
#include "../store/store.h"
#include "cli.h"

static const char usage[] = "movierec similar MOVIE_ID [-n N] [--json]";

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

int cmd_similar(struct cli *c, int argc, char **argv)
{
    int64_t movie = -1, n = 10;
    int json = 0, rc = 1, nm = 0, row, got, version;
    char dir[4096];
    struct error err = {0};
    struct store *s = NULL;
    struct model m;
    struct vocab v;
    struct embed_index ix = {0};
    int64_t *ids = NULL;
    struct movie_feat *mf = NULL;
    struct cand *out = NULL;
    float *scratch = NULL;
    struct store_movie_row q;

    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            printf("usage: %s\n\nPrints the N movies (default 10) most similar to MOVIE_ID by the\n"
                   "cosine of the deep model's movie vectors (the 'watch' model).\n",
                   usage);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
            if (cli_parse_count(argv[++i], &n) || n < 1 || n > 1000)
                return cli_usage_fail(usage, "-n takes a number from 1 to 1000");
        } else if (movie < 0 && argv[i][0] != '-') {
            if (cli_parse_count(argv[i], &movie) || movie < 1)
                return cli_usage_fail(usage, "'%s' is not a movie id", argv[i]);
        } else {
            return cli_usage_fail(usage, "unknown argument '%s'", argv[i]);
        }
    }
    if (movie < 1)
        return cli_usage_fail(usage, "which movie? (MOVIE_ID is missing)");
    if (cli_store_open(c, &s, &err))
        return cli_fail_err(&err);
    snprintf(dir, sizeof(dir), "%s/models/watch", c->home);
    if (modelfile_load(dir, 0, &m, &v, &version, &err)) {
        store_close(s);
        return cli_fail_err(&err);
    }
    if (feat_load_movies(s, &v, &ids, &mf, &nm, &err)) {
        cli_fail_err(&err);
        goto out;
    }
    row = feat_find(ids, nm, movie);
    if (row < 0) {
        cli_fail("no movie %lld in the store", (long long)movie);
        goto out;
    }
    out = malloc((size_t)n * sizeof(*out));
    if (!out || embed_build(&ix, &m, mf, nm, &err) ||
        posix_memalign((void **)&scratch, 64, embed_scratch_size(&ix)) != 0) {
        if (!err.msg[0])
            error_set(&err, ERR_NOMEM, "out of memory");
        cli_fail_err(&err);
        goto out;
    }
    got = embed_similar(&ix, row, out, (int)n, scratch);
    if (store_get_movie(s, movie, &q, &err)) {
        cli_fail_err(&err);
        goto out;
    }
    if (json) {
        printf("{\"movie_id\": %lld, \"title\": ", (long long)movie);
        json_str(q.title);
        printf(", \"model_version\": %d, \"similar\": [", version);
    } else {
        printf("movies like %lld %s (%d)  [watch model v%d]\n", (long long)movie, q.title, q.year,
               version);
    }
    for (int i = 0; i < got; i++) {
        int64_t id = ids[out[i].movie];
        if (store_get_movie(s, id, &q, &err)) {
            cli_fail_err(&err);
            goto out;
        }
        if (json) {
            printf("%s{\"movie_id\": %lld, \"title\": ", i ? ", " : "", (long long)id);
            json_str(q.title);
            printf(", \"year\": %d, \"genres\": ", q.year);
            json_str(q.genres);
            printf(", \"score\": %.4f}", out[i].score);
        } else {
            printf("%3d. %-7lld %.4f  %s (%d)  %s\n", i + 1, (long long)id, out[i].score, q.title,
                   q.year, q.genres);
        }
    }
    if (json)
        printf("]}\n");
    rc = 0;
out:
    store_close(s);
    embed_free(&ix);
    free(ids);
    free(mf);
    free(out);
    free(scratch);
    model_free(&m);
    vocab_free(&v);
    return rc;
}
