/*
 * cmd_stats.c - `movierec stats`: counts per table, the rating histogram,
 * the top genres.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../store/store.h"
#include "cli.h"

static const char usage[] = "movierec stats [--genres N]";

int cmd_stats(struct cli *c, int argc, char **argv)
{
    struct store_genre_count genres[64];
    struct store_counts n;
    struct store *s = NULL;
    struct error err = {0};
    int64_t hist[10], maxh = 0, top = 10;
    char db[4096], dataset[128], format[32];
    int ng = 0;

    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            printf("usage: %s\n\nPrints what the store in the home folder holds: counts per table,\n"
                   "the rating histogram and the N genres with the most ratings (default 10).\n",
                   usage);
            return 0;
        } else if (!strcmp(argv[i], "--genres") && i + 1 < argc) {
            if (cli_parse_count(argv[++i], &top) || top < 1 || top > 64)
                return cli_usage_fail(usage, "--genres takes a number from 1 to 64");
        } else {
            return cli_usage_fail(usage, "unknown argument '%s'", argv[i]);
        }
    }
    cli_db_path(c, db, sizeof(db));
    if (cli_store_open(c, &s, &err) || store_counts(s, &n, &err) ||
        store_rating_histogram(s, hist, &err) || store_top_genres(s, genres, (int)top, &ng, &err) ||
        store_meta_get(s, "dataset", dataset, sizeof(dataset), &err) ||
        store_meta_get(s, "format", format, sizeof(format), &err)) {
        store_close(s);
        return cli_fail_err(&err);
    }
    store_close(s);

    printf("store     %s\n", db);
    if (dataset[0])
        printf("dataset   %s (%s)\n", dataset, format);
    printf("\n%-10s %12s\n", "table", "rows");
    printf("%-10s %12lld\n", "users", (long long)n.users);
    printf("%-10s %12lld\n", "movies", (long long)n.movies);
    printf("%-10s %12lld\n", "ratings", (long long)n.ratings);
    printf("%-10s %12lld\n", "tags", (long long)n.tags);
    printf("%-10s %12lld\n", "genres", (long long)n.genres);
    printf("%-10s %12lld\n", "accounts", (long long)n.accounts);

    for (int i = 0; i < 10; i++)
        if (hist[i] > maxh)
            maxh = hist[i];
    printf("\nratings\n");
    for (int i = 0; i < 10; i++) {
        int w = maxh ? (int)(hist[i] * 40 / maxh) : 0;
        if (!hist[i] && (i % 2 == 0))
            continue; /* hide empty half stars (ml-100k has whole stars only) */
        printf("  %3.1f %10lld  %5.1f%%  ", (i + 1) / 2.0, (long long)hist[i],
               n.ratings ? 100.0 * hist[i] / n.ratings : 0.0);
        for (int k = 0; k < w; k++)
            fputs("#", stdout);
        fputc('\n', stdout);
    }
    printf("\ntop genres        movies     ratings\n");
    for (int i = 0; i < ng; i++)
        printf("  %-14s %8lld %11lld\n", genres[i].name, (long long)genres[i].movies,
               (long long)genres[i].ratings);
    return 0;
}
