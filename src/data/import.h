/*
 * import.h - reads a MovieLens folder and loads it into a new store.
 *
 * import_dir() detects (or is told) the format, reads every file of the
 * set in dependency order (genres, users, movies, ratings, tags), checks
 * each line, and hands the records to a store_loader, which swaps the new
 * store in only when everything succeeded. By default the first bad line
 * stops the import and the store stays exactly as it was; with skip_bad
 * bad lines are counted, the first IMPORT_MAX_SHOWN kept for the report,
 * and the rest is imported.
 */
#ifndef MOVIEREC_IMPORT_H
#define MOVIEREC_IMPORT_H

#include <stdint.h>

#include "../util/error.h"
#include "movielens.h"

#define IMPORT_MAX_SHOWN 10

struct import_opts {
    enum ml_format format; /* ML_UNKNOWN: detect from the files */
    int skip_bad;
    /* Called now and then while a file is read; may be NULL. */
    void (*progress)(void *ctx, const char *file, uint64_t bytes_done, uint64_t bytes_total,
                     uint64_t lines);
    void *progress_ctx;
};

struct import_report {
    enum ml_format format;
    int64_t users, movies, ratings, tags, links;
    int64_t skipped;
    int nshown;
    char shown[IMPORT_MAX_SHOWN][320]; /* "u.data:1832: rating '7' is outside 1..5" */
};

/* Imports the set in dir into a new store that replaces db_path. Whether
 * replacing a non-empty store is allowed is the caller's decision. */
int import_dir(const char *dir, const char *db_path, const struct import_opts *opts,
               struct import_report *rep, struct error *err);

#endif
