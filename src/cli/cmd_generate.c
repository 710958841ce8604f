/*
 * cmd_generate.c - `movierec generate OUT_DIR [--users N] [--movies M]
 * [--ratings R] [--seed S] [--force]`: a synthetic data set in the
 * ml-latest format (see src/data/generate.h).
 */
#include <stdio.h>
#include <string.h>

#include "../data/generate.h"
#include "cli.h"

#include "../util/banned.h"

static const char usage_line[] =
    "movierec generate OUT_DIR [--users N] [--movies M] [--ratings R] [--seed S] [--force]";

static void help(void)
{
    printf("usage: %s\n\n"
           "Writes a synthetic MovieLens set in the ml-latest format into OUT_DIR:\n"
           "movies.csv, ratings.csv, tags.csv, links.csv and users.csv, which\n"
           "'movierec import' reads like a real set. Ratings follow latent user and\n"
           "movie tastes (so a model can learn them), popularity and activity follow\n"
           "power laws, and the same seed always gives the same files.\n\n"
           "options:\n"
           "  --users N     users, ids 1..N (default %d)\n"
           "  --movies M    movies, ids 1..M, at least %d (default %d)\n"
           "  --ratings R   exactly R ratings, N <= R <= N*M/2 (default %d)\n"
           "  --seed S      random seed (default %d)\n"
           "  --force       replace a set already in OUT_DIR\n\n"
           "ml-25m's size: --users 162000 --movies 62000 --ratings 25000000\n",
           usage_line, GEN_DEFAULT_USERS, GEN_MIN_MOVIES, GEN_DEFAULT_MOVIES,
           GEN_DEFAULT_RATINGS, GEN_DEFAULT_SEED);
}

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    progress_update(ctx, done, done);
}

/* Matches "--name V" and "--name=V"; sets *val and advances *i. Returns 1
 * on a match, 0 if argv[*i] is another option, -1 when V is missing. */
static int option_value(int argc, char **argv, int *i, const char *name, const char **val)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return 0;
    if (argv[*i][n] == '=') {
        *val = argv[*i] + n + 1;
        return 1;
    }
    if (argv[*i][n] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *val = argv[++*i];
    return 1;
}

int cmd_generate(struct cli *c, int argc, char **argv)
{
    static const char *names[] = {"--users", "--movies", "--ratings", "--seed"};
    struct gen_options o;
    struct progress p;
    struct error err;
    const char *dir = NULL;
    double t0;
    int rc;

    gen_options_init(&o);
    error_clear(&err);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = NULL;
        int64_t v;
        int k, matched = 0;

        if (cli_is_help(arg)) {
            help();
            return 0;
        }
        if (!strcmp(arg, "--force")) {
            o.force = 1;
            continue;
        }
        for (k = 0; k < 4 && !matched; k++) {
            int r = option_value(argc, argv, &i, names[k], &val);
            if (r < 0)
                return cli_usage_fail(usage_line, "%s needs a value", names[k]);
            if (r == 0)
                continue;
            matched = 1;
            if (cli_parse_count(val, &v) < 0)
                return cli_usage_fail(usage_line, "%s '%s' is not a whole number >= 0",
                                      names[k], val);
            if (k == 0)
                o.users = v;
            else if (k == 1)
                o.movies = v;
            else if (k == 2)
                o.ratings = v;
            else
                o.seed = (uint64_t)v;
        }
        if (matched)
            continue;
        if (arg[0] == '-' && arg[1] != '\0')
            return cli_usage_fail(usage_line, "unknown option '%s'", arg);
        if (dir)
            return cli_usage_fail(usage_line, "more than one OUT_DIR ('%s', '%s')", dir, arg);
        dir = arg;
    }
    if (!dir || !*dir)
        return cli_usage_fail(usage_line, "OUT_DIR is missing");
    if (gen_options_check(&o, &err))
        return cli_usage_fail(usage_line, "%s", err.msg);

    progress_begin(&p, "generating", (uint64_t)o.ratings);
    o.progress = on_progress;
    o.progress_ctx = &p;
    t0 = cli_now();
    rc = gen_write(dir, &o, &err);
    progress_end(&p);
    if (rc == ERR_USAGE)
        return cli_usage_fail(usage_line, "%s", err.msg);
    if (rc == ERR_EXISTS) {
        cli_fail("%s", err.msg);
        fprintf(stderr, "hint: use --force to replace it\n");
        return 1;
    }
    if (rc)
        return cli_fail_err(&err);
    printf("wrote %lld ratings of %lld users on %lld movies to '%s' (seed %llu, %.1f s)\n",
           (long long)o.ratings, (long long)o.users, (long long)o.movies, dir,
           (unsigned long long)o.seed, cli_now() - t0);
    return 0;
}
