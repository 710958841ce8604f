/*
 * fetch.h - downloading the MovieLens data sets from GroupLens.
 *
 * fetch_dataset() fetches <base>/<name>.zip.md5, then <base>/<name>.zip
 * into DIR/<name>.zip.part (hashing it on the way), checks the MD5,
 * renames it to DIR/<name>.zip, unzips it into DIR/.<name>.tmp and renames
 * the set's folder to DIR/<name>, so a half-extracted set never looks
 * complete. Unzipping refuses absolute paths, ".." components, links and
 * special files. <base> is FETCH_BASE_DEFAULT unless opts->base or the
 * environment variable MOVIEREC_FETCH_BASE names another (a mirror, or a
 * file:// folder in tests).
 *
 * Like all library code these functions never print: they return 0 or an
 * err_code and leave a one-line message in *err (a download failure adds
 * a second "hint: ..." line telling the user how to do it by hand). The
 * caller owns every buffer it passes; nothing here keeps a pointer after
 * returning.
 */
#ifndef MOVIEREC_FETCH_H
#define MOVIEREC_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "../util/error.h"

#define FETCH_BASE_DEFAULT "https://files.grouplens.org/datasets/movielens"
#define FETCH_BASE_ENV "MOVIEREC_FETCH_BASE"
#define FETCH_USER_AGENT "movierec/0.1"

/* ---- the known sets ---- */

struct fetch_set {
    const char *name;      /* "ml-100k": the zip's name and its top folder */
    const char *main_file; /* the ratings file that marks a complete set */
    const char *size;      /* the zip's size, for help texts: "5 MB" */
    const char *about;     /* one line for help texts */
};

/* The table of sets; its length goes to *n. */
const struct fetch_set *fetch_sets(size_t *n);
/* The set called name, or NULL. */
const struct fetch_set *fetch_set_find(const char *name);
/* "ml-100k, ml-1m, ..." into out (cap bytes). Returns out. */
char *fetch_set_names(char *out, size_t cap);

/* ---- fetching a set ---- */

enum fetch_stage {
    FETCH_CHECKSUM, /* downloading <name>.zip.md5 (a few bytes) */
    FETCH_DOWNLOAD, /* downloading the zip; total is 0 while unknown */
    FETCH_VERIFY,   /* hashing an already present zip */
    FETCH_UNZIP     /* done/total: compressed bytes read of the zip */
};

/* Called once with done == 0 when a stage starts, then now and then while
 * it runs; return nonzero to cancel (the call then fails with "...
 * interrupted": ERR_NET while downloading, ERR_IO while unzipping). */
typedef int (*fetch_progress_fn)(void *ctx, enum fetch_stage stage, uint64_t done,
                                 uint64_t total);

enum fetch_flags {
    FETCH_FORCE = 1 << 0,   /* download again even if DIR/<name> is complete,
                               and ignore a kept DIR/<name>.zip */
    FETCH_KEEP_ZIP = 1 << 1 /* keep DIR/<name>.zip after unzipping */
};

struct fetch_opts {
    const char *base;      /* NULL: $MOVIEREC_FETCH_BASE, else FETCH_BASE_DEFAULT */
    unsigned flags;        /* enum fetch_flags */
    long connect_timeout;  /* seconds; 0: 15 */
    long stall_timeout;    /* seconds under 1 KB/s before giving up; 0: 30 */
    fetch_progress_fn progress; /* may be NULL */
    void *progress_ctx;
    const char *import_cmd; /* named in hints; NULL: "movierec import" */
};

struct fetch_result {
    char path[4096]; /* DIR/<name>: the folder to import */
    char url[4096];  /* the zip's URL */
    char zip[4096];  /* DIR/<name>.zip when kept, else "" */
    char md5[33];    /* the zip's checksum, "" when nothing was checked */
    int already;     /* DIR/<name> was complete; nothing was downloaded */
    int reused_zip;  /* a DIR/<name>.zip with the right checksum was reused */
};

/* Fetches the set called name into dir (made if missing), leaving it in
 * dir/<name>. opts and res may be NULL. Errors: ERR_USAGE (unknown name,
 * path too long), ERR_NET (download failed; the message names the URL and
 * carries a hint), ERR_INTEGRITY (checksum mismatch), ERR_FORMAT (not a
 * zip, unsafe entry, no ratings file), ERR_IO, ERR_NOMEM. On failure
 * nothing new is left in dir but dir itself (and the zip with
 * FETCH_KEEP_ZIP once its checksum held). */
int fetch_dataset(const char *name, const char *dir, const struct fetch_opts *opts,
                  struct fetch_result *res, struct error *err);

/* ---- the pieces, for tests and for importing a zip by hand ---- */

/* The base URL that fetch_dataset would use for opts, as given (any
 * trailing '/' is dropped when URLs are built). */
const char *fetch_base(const struct fetch_opts *opts);

/* Finds the first run of exactly 32 hex digits in text[0..n) and writes
 * it lowercased into out. Returns 0, or -1 when there is none. */
int fetch_md5_parse(const char *text, size_t n, char out[33]);

/* The MD5 of a file as 32 lowercase hex digits. */
int fetch_md5_file(const char *path, char out[33], struct error *err);

/* Unzips zip into dest, which must not exist (it is made; on failure it is
 * removed again). Refuses absolute paths, ".." components, symbolic and
 * hard links and special files (ERR_FORMAT). progress may be NULL. */
int fetch_unzip(const char *zip, const char *dest, fetch_progress_fn progress, void *ctx,
                struct error *err);

#endif
