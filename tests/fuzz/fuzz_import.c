/*
 * fuzz_import.c - libFuzzer target for import_dir() (src/data/import.h):
 * a whole MovieLens folder into a new store.
 *
 * Input layout:
 *   byte 0   flags: bit 0 skip_bad; bits 1-2 the set (0 ml-100k,
 *            1 ml-latest, 2 ml-1m, 3 ml-latest again); bit 3 name the
 *            format instead of letting import_dir detect it; bit 4 pass
 *            a progress callback
 *   rest     the files' bytes, separated by 0x1E (ASCII record
 *            separator), in the order of the set's table below; files
 *            past the last piece are absent, an empty piece is an empty
 *            file
 *
 * One temporary folder per process (under $TMPDIR, else /dev/shm, else
 * /tmp) holds data/ and the store; the files are removed after every
 * run, the folder at exit. Broken invariants call abort().
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "../../src/data/import.h"
#include "../../src/data/movielens.h"
#include "../../src/store/store.h"
#include "../../src/util/error.h"
#include "../../src/util/banned.h"


#define SEP 0x1E
#define MAX_FILES 5

struct set {
    enum ml_format format;
    const char *files[MAX_FILES + 1]; /* NULL-terminated */
};

static const struct set sets[4] = {
    {ML_100K, {"u.genre", "u.user", "u.item", "u.data", "u.occupation", NULL}},
    {ML_LATEST, {"movies.csv", "ratings.csv", "tags.csv", "links.csv", "users.csv", NULL}},
    {ML_1M, {"users.dat", "movies.dat", "ratings.dat", NULL}},
    {ML_LATEST, {"movies.csv", "ratings.csv", "tags.csv", "links.csv", "users.csv", NULL}},
};

/* What the store leaves beside db_path. */
static const char *const db_suffixes[] = {"",         "-wal",         "-shm",
                                          "-journal", ".lock",        ".import",
                                          ".import-journal", ".import-wal", ".import-shm"};

static char root[4096], datadir[4200], dbpath[4200];

static void path_join(char *out, size_t cap, const char *a, const char *b)
{
    if ((size_t)snprintf(out, cap, "%s%s", a, b) >= cap)
        abort();
}

static int exists(const char *p)
{
    return access(p, F_OK) == 0;
}

/* Removes every file a run may have made; the folders stay. */
static void clean_files(void)
{
    char p[4400];
    for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
        for (int k = 0; sets[i].files[k]; k++) {
            snprintf(p, sizeof(p), "%s/%s", datadir, sets[i].files[k]);
            unlink(p);
        }
    for (size_t i = 0; i < sizeof(db_suffixes) / sizeof(db_suffixes[0]); i++) {
        path_join(p, sizeof(p), dbpath, db_suffixes[i]);
        unlink(p);
    }
}

static void remove_root(void)
{
    if (!root[0])
        return;
    clean_files();
    rmdir(datadir);
    rmdir(root);
}

static void setup_once(void)
{
    const char *base = getenv("TMPDIR");
    struct stat st;

    if (root[0])
        return;
    if (!base || !*base)
        base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0
                   ? "/dev/shm"
                   : "/tmp";
    snprintf(root, sizeof(root), "%s/movierec-fuzz-import-XXXXXX", base);
    if (!mkdtemp(root)) {
        fprintf(stderr, "fuzz_import: cannot create '%s': %s\n", root, strerror(errno));
        abort();
    }
    path_join(datadir, sizeof(datadir), root, "/data");
    path_join(dbpath, sizeof(dbpath), root, "/store.db");
    if (mkdir(datadir, 0755) < 0) {
        fprintf(stderr, "fuzz_import: cannot create '%s': %s\n", datadir, strerror(errno));
        abort();
    }
    atexit(remove_root);
}

static void write_file(const char *name, const uint8_t *p, size_t n)
{
    char path[4400];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", datadir, name);
    f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
        fprintf(stderr, "fuzz_import: cannot write '%s': %s\n", path, strerror(errno));
        abort();
    }
}

static int on_progress_ctx_tag; /* its address is the callback's ctx */

static void on_progress(void *ctx, const char *file, uint64_t done, uint64_t total, uint64_t lines)
{
    CHECK(ctx == (void *)&on_progress_ctx_tag);
    CHECK(file && file[0]);
    CHECK(done <= total);
}

/* A message in the report names one of the set's files: "u.data:12: ...". */
static int names_a_file(const struct set *set, const char *msg)
{
    for (int k = 0; set->files[k]; k++) {
        size_t len = strlen(set->files[k]);
        if (strncmp(msg, set->files[k], len) == 0 && msg[len] == ':')
            return 1;
    }
    return 0;
}

static void check_store_matches(const struct import_report *rep)
{
    struct store *st = NULL;
    struct store_counts c;
    struct error e;

    error_clear(&e);
    if (store_open(&st, dbpath, &e)) {
        fprintf(stderr, "fuzz_import: cannot open the new store: %s\n", e.msg);
        abort();
    }
    CHECK(store_counts(st, &c, &e) == 0);
    CHECK(c.users == rep->users);
    CHECK(c.movies == rep->movies);
    CHECK(c.ratings == rep->ratings);
    CHECK(c.tags == rep->tags);
    CHECK(c.accounts == 0);
    store_close(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct set *set;
    struct import_opts opts;
    struct import_report rep;
    struct error e;
    char tmp[4400];
    size_t pos;
    int flags, rc;

    if (size == 0)
        return 0;
    setup_once();
    clean_files();
    flags = data[0];
    set = &sets[(flags >> 1) & 3];

    /* the pieces into files */
    pos = 1;
    for (int k = 0; set->files[k] && pos <= size; k++) {
        const uint8_t *end = memchr(data + pos, SEP, size - pos);
        size_t len = end ? (size_t)(end - (data + pos)) : size - pos;
        write_file(set->files[k], data + pos, len);
        pos += len + 1; /* past the separator; past the end when there was none */
    }

    memset(&opts, 0, sizeof(opts));
    opts.format = flags & 8 ? set->format : ML_UNKNOWN;
    opts.skip_bad = flags & 1;
    if (flags & 16) {
        opts.progress = on_progress;
        opts.progress_ctx = (void *)&on_progress_ctx_tag;
    }
    error_clear(&e);
    memset(&rep, 0xA5, sizeof(rep));
    rc = import_dir(datadir, dbpath, &opts, &rep, &e);

    path_join(tmp, sizeof(tmp), dbpath, ".import");
    CHECK(!exists(tmp)); /* the draft is gone either way */
    CHECK(rep.nshown >= 0 && rep.nshown <= IMPORT_MAX_SHOWN);
    if (rc != 0) {
        CHECK(rc > ERR_OK && rc <= ERR_INTEGRITY);
        CHECK(e.code != ERR_OK && e.msg[0] != '\0' && memchr(e.msg, '\0', sizeof(e.msg)));
        CHECK(!exists(dbpath)); /* there was no store, and there still is none */
    } else {
        /* e may hold a message from a step that did not matter (an absent
         * optional file): only the return value says how it went */
        CHECK(exists(dbpath));
        CHECK(opts.format == ML_UNKNOWN || rep.format == opts.format);
        CHECK(rep.format == ML_100K || rep.format == ML_1M || rep.format == ML_LATEST);
        CHECK(rep.users >= 0 && rep.movies >= 0 && rep.ratings >= 0 && rep.tags >= 0 &&
              rep.links >= 0 && rep.skipped >= 0);
        if (!opts.skip_bad)
            CHECK(rep.skipped == 0 && rep.nshown == 0);
        CHECK(rep.nshown <= rep.skipped);
        CHECK(rep.nshown == (rep.skipped < IMPORT_MAX_SHOWN ? rep.skipped : IMPORT_MAX_SHOWN));
        for (int i = 0; i < rep.nshown; i++) {
            CHECK(memchr(rep.shown[i], '\0', sizeof(rep.shown[i])));
            CHECK(rep.format != set->format || names_a_file(set, rep.shown[i]));
        }
        check_store_matches(&rep);
    }
    clean_files();
    return 0;
}
