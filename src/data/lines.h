/*
 * lines.h - a fast line reader over a file or a memory buffer.
 *
 * Yields one line at a time without its "\n" or "\r\n", counting line
 * numbers from 1. The returned pointer belongs to the reader and is valid
 * until the next call. Lines longer than LINES_MAX_LINE are an error.
 */
#ifndef MOVIEREC_LINES_H
#define MOVIEREC_LINES_H

#include <stddef.h>
#include <stdint.h>

#include "../util/error.h"

#define LINES_MAX_LINE (1u << 20)

struct lines {
    int fd;            /* -1 for a memory buffer */
    char *buf;         /* owned unless memory mode */
    size_t cap, start, end;
    int eof, owned;
    long lineno;       /* number of the line last returned */
    uint64_t consumed; /* bytes handed out so far (for progress) */
    uint64_t size;     /* total size when known, else 0 */
    char name[256];    /* file name used in messages */
};

/* Opens path for reading. name is what messages call the file. */
int lines_open(struct lines *r, const char *path, const char *name, struct error *err);

/* Reads from data[0..n), which the caller keeps alive. */
void lines_open_mem(struct lines *r, const char *data, size_t n, const char *name);

/* Returns 1 with *line and *len set, 0 at end of input, or -1 on error. */
int lines_next(struct lines *r, const char **line, size_t *len, struct error *err);

void lines_close(struct lines *r);

#endif
