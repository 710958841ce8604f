/*
 * cmd_recommend.c - `movierec recommend USER_ID [-n 10] [--explain]
 * [--json]`: the pipeline of src/recall/pipeline.h for one user of the
 * store, with a reason per movie.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../recall/engine.h"
#include "cli.h"

static const char usage[] =
    "movierec recommend USER_ID [-n N] [--explain] [--json] [--genres G1,G2] [--genre-cap N] "
    "[--quota CH=N,...]";

static void help(void)
{
    printf("usage: %s\n\n"
           "Recommends N movies (default 10) to a user of the store: item-CF, ALS,\n"
           "embedding and cold-start recall, the user's rated movies removed, ranked by\n"
           "the deep 'watch' model, at most --genre-cap movies of one genre per 10\n"
           "(default 5; 0 = no cap), each with a reason. Needs 'movierec train' first.\n\n"
           "options:\n"
           "  -n N            how many (1 to 100)\n"
           "  --explain       also print each movie's channel, score and reason code\n"
           "  --json          one JSON object: ids, titles, scores, reasons\n"
           "  --genres LIST   interest tags, e.g. 'Sci-Fi,Thriller' (a new user's\n"
           "                  favourite genres)\n"
           "  --genre-cap N   movies of one genre per 10 (0 to 10)\n"
           "  --recent N      latest movies that stand for the user (10)\n"
           "  --prerank K     candidates the deep model ranks, the pre-ranker's best (200;\n"
           "                  0: all)\n"
           "  --quota CH=N    candidates per channel: itemcf=200,embed=100,als=150,cold=50\n",
           usage);
}

struct titles {
    struct store *s;
    const struct recommender *r;
    char buf[512];
};

static const char *title_of(void *ctx, int row)
{
    struct titles *t = ctx;
    struct store_movie_row m;
    struct error err = {0};
    if (row < 0 || row >= t->r->n || store_get_movie(t->s, t->r->ids[row], &m, &err))
        return NULL;
    snprintf(t->buf, sizeof(t->buf), "%s", m.title);
    return t->buf;
}

static const char *const reason_codes[] = {"liked", "content", "taste", "genre", "group",
                                           "popular"};

/* --genres: names to the vocabulary's genre indexes */
static int parse_genres(const struct vocab *v, const char *list, int *out, int cap, int *n)
{
    char buf[512], *save = NULL;
    *n = 0;
    snprintf(buf, sizeof(buf), "%s", list);
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int g = strtab_find(&v->genres, t, (int)strlen(t));
        if (g <= 0) {
            cli_fail("unknown genre '%s' (the store's genres are the ones 'movierec stats' "
                     "lists)", t);
            return -1;
        }
        if (*n < cap)
            out[(*n)++] = g;
    }
    return 0;
}

int cmd_recommend(struct cli *c, int argc, char **argv)
{
    int64_t user = -1, n = 10;
    int json = 0, explain = 0, rc = 1, got, genres[32], ngenres = 0;
    const char *genre_list = NULL;
    char msg[256];
    struct error err = {0};
    struct store *s = NULL;
    struct engine e;
    struct engine_user eu;
    struct rec_opts o;
    struct rec_ws ws;
    struct rec_item *out = NULL;
    double t0;

    rec_opts_default(&o);
    for (int i = 1; i < argc; i++) {
        int k;
        if (cli_is_help(argv[i])) {
            help();
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--explain")) {
            explain = 1;
        } else if (!strcmp(argv[i], "-n")) {
            if (i + 1 >= argc || cli_parse_count(argv[++i], &n) || n < 1 || n > 100)
                return cli_usage_fail(usage, "-n takes a number from 1 to 100");
        } else if (!strcmp(argv[i], "--genres")) {
            if (i + 1 >= argc || !argv[i + 1][0])
                return cli_usage_fail(usage, "--genres takes a list like 'Sci-Fi,Drama'");
            genre_list = argv[++i];
        } else if ((k = cli_rec_option(argc, argv, &i, &o, msg, sizeof(msg))) != 0) {
            if (k < 0)
                return cli_usage_fail(usage, "%s", msg);
        } else if (user < 0 && argv[i][0] != '-') {
            if (cli_parse_count(argv[i], &user) || user < 1)
                return cli_usage_fail(usage, "'%s' is not a user id", argv[i]);
        } else {
            return cli_usage_fail(usage, "unknown argument '%s'", argv[i]);
        }
    }
    if (user < 1)
        return cli_usage_fail(usage, "which user? (USER_ID is missing)");
    if (cli_engine_open(c, &s, &e, &err))
        return cli_fail_err(&err);
    memset(&ws, 0, sizeof(ws));
    memset(&eu, 0, sizeof(eu));
    if (genre_list && parse_genres(&e.v, genre_list, genres, 32, &ngenres))
        goto out;
    if (engine_user_load(&e, s, user, &eu, &err) || rec_ws_alloc(&ws, &e.r, &o, &err)) {
        cli_fail_err(&err);
        goto out;
    }
    eu.u.genres = genres;
    eu.u.ngenres = ngenres;
    out = malloc((size_t)n * sizeof(*out));
    if (!out) {
        cli_fail("out of memory");
        goto out;
    }
    t0 = cli_now();
    got = recommender_recommend(&e.r, &ws, &o, &eu.u, out, (int)n, &err);
    t0 = cli_now() - t0;
    if (got < 0) {
        cli_fail_err(&err);
        goto out;
    }
    {
        struct titles tt = {s, &e.r, {0}};
        json_t *list = json_array(), *root;
        if (!json)
            printf("for user %lld (%d ratings)  [watch model v%d, recall v%d, %.2f ms]\n",
                   (long long)user, eu.n, e.model_version, e.recall_version, t0 * 1e3);
        for (int i = 0; i < got; i++) {
            struct store_movie_row m;
            char why[600], title[512], genres_s[256];
            int64_t id = e.r.ids[out[i].movie];
            rec_reason_text(&e.r, &out[i], title_of, &tt, why, sizeof(why));
            if (store_get_movie(s, id, &m, &err)) {
                json_decref(list);
                cli_fail_err(&err);
                goto out;
            }
            snprintf(title, sizeof(title), "%s", m.title);
            snprintf(genres_s, sizeof(genres_s), "%s", m.genres);
            if (json) {
                json_t *it = json_pack("{s:I, s:s, s:i, s:s, s:f, s:s, s:s, s:s}", "movie_id",
                                       (json_int_t)id, "title", title, "year", m.year, "genres",
                                       genres_s, "score", (double)out[i].score, "reason", why,
                                       "reason_code",
                                       out[i].reason == REASON_LIKED && !out[i].because_liked
                                           ? "watched"
                                           : reason_codes[out[i].reason],
                                       "channel",
                                       rec_channel_name(out[i].channel));
                if (it && out[i].because >= 0)
                    json_object_set_new(it, "because_movie_id",
                                        json_integer((json_int_t)e.r.ids[out[i].because]));
                json_array_append_new(list, it);
            } else {
                printf("%3d. %-7lld %s (%d)  %s\n", i + 1, (long long)id, title, m.year,
                       genres_s);
                printf("     %s", why);
                if (explain)
                    printf("   [%s, p=%.4f]", rec_channel_name(out[i].channel), out[i].score);
                printf("\n");
            }
        }
        if (json) {
            root = json_pack("{s:I, s:i, s:i, s:i, s:f, s:o}", "user_id", (json_int_t)user,
                             "ratings", eu.n, "model_version", e.model_version, "recall_version",
                             e.recall_version, "ms", t0 * 1e3, "recommendations", list);
            if (!root || json_dumpf(root, stdout, JSON_COMPACT) < 0) {
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
    free(out);
    rec_ws_free(&ws);
    engine_user_free(&eu);
    engine_free(&e);
    store_close(s);
    return rc;
}
