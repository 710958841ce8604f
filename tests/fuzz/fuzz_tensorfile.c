/*
 * fuzz_tensorfile.c - tensorfile_read() on arbitrary bytes, written to a
 * temporary file. Either the read fails cleanly with a message, or every
 * tensor lies in the data block with its shape's byte count, the ranges
 * do not overlap, and tensorfile_get() finds each one with its dims.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "../../src/model/tensorfile.h"

static char path[256];

static void cleanup(void)
{
    if (path[0])
        unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tensorfile tf;
    struct error err;
    FILE *f;

    if (!path[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(path, sizeof(path), "%s/fuzz_tensorfile.%d", tmp && *tmp ? tmp : "/tmp",
                 (int)getpid());
        atexit(cleanup);
    }
    f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);

    err.msg[0] = '\0';
    if (tensorfile_read(path, &tf, &err) != 0) {
        CHECK(err.msg[0]);
        CHECK(tf.t == NULL && tf.data == NULL && tf.n == 0);
        return 0;
    }
    CHECK(tensorfile_meta(&tf, "crc32") != NULL);
    size_t total = 0;
    for (int i = 0; i < tf.n; i++) {
        const struct tensorfile_entry *e = &tf.t[i];
        size_t bytes = tensorfile_dtype_size(e->dtype);
        int64_t dims[TENSORFILE_MAX_DIMS];
        CHECK(e->ndim >= 0 && e->ndim <= TENSORFILE_MAX_DIMS);
        for (int k = 0; k < e->ndim; k++) {
            CHECK(e->dims[k] >= 0);
            bytes *= (size_t)e->dims[k];
        }
        CHECK(e->begin <= e->end && e->end <= tf.size);
        CHECK(e->end - e->begin == bytes);
        CHECK(e->begin % tensorfile_dtype_size(e->dtype) == 0);
        total += bytes;
        const unsigned char *p = tensorfile_get(&tf, e->name, e->dtype, e->ndim, dims);
        CHECK(p != NULL);
        if (tensorfile_find(&tf, e->name) == e) /* the first of that name */
            CHECK(p == tf.data + e->begin);
        unsigned sum = 0;
        for (size_t b = 0; b < bytes; b++) /* every byte readable */
            sum += p[b];
        (void)sum;
    }
    CHECK(total == tf.size); /* no overlaps, no holes */
    tensorfile_free(&tf);
    return 0;
}
