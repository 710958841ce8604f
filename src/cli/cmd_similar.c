/*
 * cmd_similar.c - `movierec similar MOVIE_ID [-n 10] [--json]`: the
 * movies most like MOVIE_ID by the cosine of the deep model's movie
 * vectors (the paper's method), blended with item-CF similarity where the
 * two movies share viewers (recommender_similar(); docs/EVALUATION.md
 * measures the blend). Works for any movie in the store, also one the
 * model never saw: its vector comes from its genres and title.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../recall/engine.h"
#include "cli.h"

static const char usage[] = "movierec similar MOVIE_ID [-n N] [--json] [--beta B]";

int cmd_similar(struct cli *c, int argc, char **argv)
{
    int64_t movie = -1, n = 10;
    int json = 0, rc = 1, got, row;
    double beta = REC_SIMILAR_BETA;
    struct error err = {0};
    struct store *s = NULL;
    struct engine e;
    struct rec_opts o;
    struct rec_ws ws;
    struct rec_item out[100];
    struct store_movie_row q;

    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            printf("usage: %s\n\nPrints the N movies (default 10, at most 100) most similar to\n"
                   "MOVIE_ID: the cosine of the 'watch' model's movie vectors plus B (default\n"
                   "%g) times their item-CF similarity (co-watched); --beta 0 is the deep\n"
                   "vectors alone. Needs 'movierec train' first.\n",
                   usage, (double)REC_SIMILAR_BETA);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "-n")) {
            if (i + 1 >= argc || cli_parse_count(argv[++i], &n) || n < 1 || n > 100)
                return cli_usage_fail(usage, "-n takes a number from 1 to 100");
        } else if (!strcmp(argv[i], "--beta")) {
            char *end;
            if (i + 1 >= argc)
                return cli_usage_fail(usage, "--beta takes a number from 0 to 100");
            beta = strtod(argv[++i], &end);
            if (end == argv[i] || *end || !(beta >= 0 && beta <= 100))
                return cli_usage_fail(usage, "--beta takes a number from 0 to 100");
        } else if (movie < 0 && argv[i][0] != '-') {
            if (cli_parse_count(argv[i], &movie) || movie < 1)
                return cli_usage_fail(usage, "'%s' is not a movie id", argv[i]);
        } else {
            return cli_usage_fail(usage, "unknown argument '%s'", argv[i]);
        }
    }
    if (movie < 1)
        return cli_usage_fail(usage, "which movie? (MOVIE_ID is missing)");
    if (cli_engine_open(c, &s, &e, &err))
        return cli_fail_err(&err);
    memset(&ws, 0, sizeof(ws));
    rec_opts_default(&o);
    row = recommender_row(&e.r, movie);
    if (row < 0) {
        cli_fail("no movie %lld in the store", (long long)movie);
        goto out;
    }
    if (rec_ws_alloc(&ws, &e.r, &o, &err) || store_get_movie(s, movie, &q, &err)) {
        cli_fail_err(&err);
        goto out;
    }
    got = recommender_similar(&e.r, &ws, row, (float)beta, NULL, out, (int)n);
    {
        json_t *list = json_array(), *root;
        if (json) {
            root = json_pack("{s:I, s:s, s:i, s:i, s:f}", "movie_id", (json_int_t)movie, "title",
                             q.title, "model_version", e.model_version, "recall_version",
                             e.recall_version, "beta", beta);
            if (!root || !list) {
                json_decref(root);
                json_decref(list);
                cli_fail("out of memory");
                goto out;
            }
        } else {
            root = NULL;
            printf("movies like %lld %s (%d)  [watch model v%d, recall v%d]\n", (long long)movie,
                   q.title, q.year, e.model_version, e.recall_version);
        }
        for (int i = 0; i < got; i++) {
            int64_t id = e.r.ids[out[i].movie];
            if (store_get_movie(s, id, &q, &err)) {
                json_decref(root);
                json_decref(list);
                cli_fail_err(&err);
                goto out;
            }
            if (json)
                json_array_append_new(list, json_pack("{s:I, s:s, s:i, s:s, s:f, s:s}", "movie_id",
                                                      (json_int_t)id, "title", q.title, "year",
                                                      q.year, "genres", q.genres, "score",
                                                      (double)out[i].score, "by",
                                                      out[i].channel == REC_ITEMCF ? "co-watched"
                                                                                   : "content"));
            else
                printf("%3d. %-7lld %.4f  %s (%d)  %s\n", i + 1, (long long)id, out[i].score,
                       q.title, q.year, q.genres);
        }
        if (json) {
            json_object_set_new(root, "similar", list);
            if (json_dumpf(root, stdout, JSON_COMPACT) < 0) {
                json_decref(root);
                cli_fail("cannot write the JSON");
                goto out;
            }
            json_decref(root);
            printf("\n");
        } else {
            json_decref(list);
        }
    }
    rc = 0;
out:
    rec_ws_free(&ws);
    engine_free(&e);
    store_close(s);
    return rc;
}
