/*
 * cmd_import.c - `movierec import [--format F] [--replace] [--skip-bad] SRC_DIR`
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../data/import.h"
#include "../store/store.h"
#include "cli.h"

static const char usage[] =
    "movierec import [--format FORMAT] [--replace|--replace-accounts] [--skip-bad] SRC_DIR";

static void help(void)
{
    printf("usage: %s\n\n"
           "Imports a MovieLens data set into the store in the home folder.\n\n"
           "The format is detected from the files in SRC_DIR:\n"
           "  ml-100k    u.data u.item u.user u.genre [u.occupation]  (Latin-1)\n"
           "  ml-1m      ratings.dat movies.dat users.dat              (Latin-1)\n"
           "  ml-latest  ratings.csv movies.csv [tags.csv links.csv users.csv]  (UTF-8;\n"
           "             also ml-latest-small, ml-25m, ml-32m and 'movierec generate')\n\n"
           "options:\n"
           "  --format F   ml-100k, ml-1m or ml-latest instead of detecting it\n"
           "  --replace    replace a store that already holds data\n"
           "  --replace-accounts  also when it holds accounts people made (they are lost)\n"
           "  --skip-bad   import the good lines, report the bad ones (default: the first\n"
           "               bad line stops the import and the store stays as it was)\n",
           usage);
}

struct bar {
    struct progress p;
    char file[64];
};

static void on_progress(void *ctx, const char *file, uint64_t done, uint64_t total, uint64_t lines)
{
    struct bar *b = ctx;
    if (strcmp(b->file, file) != 0) {
        progress_end(&b->p);
        snprintf(b->file, sizeof(b->file), "%s", file);
        progress_begin(&b->p, file, total);
    }
    progress_update(&b->p, done, lines);
}

int cmd_import(struct cli *c, int argc, char **argv)
{
    struct import_opts opts = {0};
    struct import_report rep;
    struct store_counts counts;
    struct store *s = NULL;
    struct error err = {0};
    struct bar bar;
    const char *src = NULL;
    char db[4096];
    int replace = 0;
    double t0;

    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            help();
            return 0;
        } else if (!strcmp(argv[i], "--replace")) {
            replace = replace > 1 ? replace : 1;
        } else if (!strcmp(argv[i], "--replace-accounts")) {
            replace = 2;
        } else if (!strcmp(argv[i], "--skip-bad")) {
            opts.skip_bad = 1;
        } else if (!strcmp(argv[i], "--format")) {
            if (i + 1 >= argc)
                return cli_usage_fail(usage, "--format needs a value");
            opts.format = ml_format_parse(argv[++i]);
            if (opts.format == ML_UNKNOWN)
                return cli_usage_fail(usage, "unknown format '%s' (use ml-100k, ml-1m or ml-latest)",
                                      argv[i]);
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_fail(usage, "unknown option '%s'", argv[i]);
        } else if (src) {
            return cli_usage_fail(usage, "only one SRC_DIR, please");
        } else {
            src = argv[i];
        }
    }
    if (!src)
        return cli_usage_fail(usage, "which folder? (SRC_DIR is missing)");
    if (access(src, F_OK) != 0)
        return cli_fail("cannot open '%s': No such file or directory", src);
    if (cli_home_make(c, &err))
        return cli_fail_err(&err);
    cli_db_path(c, db, sizeof(db));

    if (store_open(&s, db, &err) || store_counts(s, &counts, &err)) {
        store_close(s);
        return cli_fail_err(&err);
    }
    store_close(s);
    if ((counts.users || counts.movies || counts.ratings) && !replace)
        return cli_fail("the store in '%s' already holds %lld movies and %lld ratings; "
                        "add --replace to replace them",
                        c->home, (long long)counts.movies, (long long)counts.ratings);
    /* accounts made through the server are people's data: never lose them
     * by accident */
    if (counts.accounts && replace < 2)
        return cli_fail("the store in '%s' holds %lld accounts that can log in (made with "
                        "'movierec serve' or 'user passwd'); an import replaces the whole store "
                        "and would delete them with their ratings, tags and sessions; add "
                        "--replace-accounts to do it anyway",
                        c->home, (long long)counts.accounts);

    memset(&bar, 0, sizeof(bar));
    opts.progress = on_progress;
    opts.progress_ctx = &bar;
    t0 = cli_now();
    if (import_dir(src, db, &opts, &rep, &err)) {
        progress_end(&bar.p);
        cli_fail_err(&err);
        if (!opts.skip_bad && err.code == ERR_PARSE)
            fprintf(stderr, "hint: nothing was imported; fix the line, or add --skip-bad to "
                            "import the rest\n");
        return 1;
    }
    progress_end(&bar.p);
    {
        double secs = cli_now() - t0;
        printf("imported %s from '%s' in %.2f s (%.0f ratings/s)\n", ml_format_name(rep.format), src,
               secs, secs > 0 ? rep.ratings / secs : 0.0);
        printf("  %lld users, %lld movies, %lld ratings, %lld tags\n", (long long)rep.users,
               (long long)rep.movies, (long long)rep.ratings, (long long)rep.tags);
    }
    if (rep.skipped) {
        printf("skipped %lld bad line%s", (long long)rep.skipped, rep.skipped == 1 ? "" : "s");
        printf(rep.skipped > rep.nshown ? "; the first %d:\n" : ":\n", rep.nshown);
        for (int i = 0; i < rep.nshown; i++)
            printf("  %s\n", rep.shown[i]);
    }
    return 0;
}
