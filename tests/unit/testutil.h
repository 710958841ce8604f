/*
 * testutil.h - helpers shared by the cmocka unit tests: temporary folders
 * that are removed at exit, writing small files, and where the real
 * MovieLens data lives (../shared/data, or $MOVIEREC_DATA).
 */
#ifndef MOVIEREC_TESTUTIL_H
#define MOVIEREC_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

/* A fresh folder under $TMPDIR (or /tmp); removed with rm -rf by
 * tu_rmtree(). out must hold 4096 bytes. */
static inline void tu_tmpdir(char *out)
{
    const char *base = getenv("TMPDIR");
    snprintf(out, 4096, "%s/movierec-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(out))
        fail_msg("cannot create a temporary folder");
}

static inline void tu_rmtree(const char *dir)
{
    char cmd[4200];
    if (!dir || !*dir || strstr(dir, "movierec-test-") == NULL)
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", dir);
}

/* Writes data (n bytes, or strlen when n is (size_t)-1) to dir/name. */
static inline void tu_write(const char *dir, const char *name, const char *data, size_t n)
{
    char p[4200];
    FILE *f;
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    f = fopen(p, "wb");
    if (!f)
        fail_msg("cannot write %s", p);
    if (n == (size_t)-1)
        n = strlen(data);
    if (fwrite(data, 1, n, f) != n)
        fail_msg("short write to %s", p);
    fclose(f);
}

/* The folder of a real MovieLens set ("ml-100k"), or NULL when absent
 * (the caller then skips with a message). */
static inline const char *tu_dataset(const char *name, char *out, size_t cap)
{
    const char *base = getenv("MOVIEREC_DATA");
    char probe[4200];
    snprintf(out, cap, "%s/%s", base && *base ? base : "../shared/data", name);
    snprintf(probe, sizeof(probe), "%s/%s", out,
             strcmp(name, "ml-100k") == 0 ? "u.data" : "ratings.csv");
    if (access(probe, R_OK) != 0)
        return NULL;
    return out;
}

#endif
