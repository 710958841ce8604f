#include "lines.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/text.h"

#define CHUNK (1u << 20)

int lines_open(struct lines *r, const char *path, const char *name, struct error *err)
{
    struct stat st;

    memset(r, 0, sizeof(*r));
    text_copy(r->name, sizeof(r->name), name, strlen(name));
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        return error_set(err, ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    if (fstat(r->fd, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            close(r->fd);
            r->fd = -1;
            return error_set(err, ERR_IO, "cannot read '%s': Is a directory", path);
        }
        r->size = (uint64_t)st.st_size;
    }
#ifdef POSIX_FADV_SEQUENTIAL
    posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    r->cap = 2 * CHUNK;
    r->buf = malloc(r->cap);
    r->owned = 1;
    if (!r->buf) {
        close(r->fd);
        r->fd = -1;
        return error_set(err, ERR_NOMEM, "out of memory reading '%s'", path);
    }
    return 0;
}

void lines_open_mem(struct lines *r, const char *data, size_t n, const char *name)
{
    memset(r, 0, sizeof(*r));
    text_copy(r->name, sizeof(r->name), name, strlen(name));
    r->fd = -1;
    r->buf = (char *)data;
    r->end = n;
    r->cap = n;
    r->eof = 1;
    r->size = n;
}

/* Makes room and reads more; returns bytes read, 0 at EOF, -1 on error. */
static long fill(struct lines *r, struct error *err)
{
    ssize_t got;

    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->cap - r->end < CHUNK / 2) {
        size_t ncap = r->cap * 2;
        char *nb;
        if (ncap > 2 * LINES_MAX_LINE + 2 * CHUNK)
            return error_set(err, ERR_PARSE, "%s:%ld: line is longer than %u bytes", r->name,
                             r->lineno + 1, LINES_MAX_LINE), -1;
        nb = realloc(r->buf, ncap);
        if (!nb)
            return error_set(err, ERR_NOMEM, "out of memory reading '%s'", r->name), -1;
        r->buf = nb;
        r->cap = ncap;
    }
    do
        got = read(r->fd, r->buf + r->end, r->cap - r->end);
    while (got < 0 && errno == EINTR);
    if (got < 0)
        return error_set(err, ERR_IO, "cannot read '%s': %s", r->name, strerror(errno)), -1;
    if (got == 0)
        r->eof = 1;
    r->end += (size_t)got;
    return got;
}

int lines_next(struct lines *r, const char **line, size_t *len, struct error *err)
{
    for (;;) {
        char *p = r->buf + r->start;
        size_t avail = r->end - r->start;
        char *nl = avail ? memchr(p, '\n', avail) : NULL;
        size_t n;

        if (!nl && !r->eof) {
            if (avail > LINES_MAX_LINE)
                return error_set(err, ERR_PARSE, "%s:%ld: line is longer than %u bytes", r->name,
                                 r->lineno + 1, LINES_MAX_LINE), -1;
            if (fill(r, err) < 0)
                return -1;
            continue;
        }
        if (!nl && avail == 0)
            return 0;
        n = nl ? (size_t)(nl - p) : avail;
        r->start += nl ? n + 1 : n;
        r->consumed += nl ? n + 1 : n;
        if (n > 0 && p[n - 1] == '\r')
            n--;
        r->lineno++;
        *line = p;
        *len = n;
        return 1;
    }
}

void lines_close(struct lines *r)
{
    if (r->fd >= 0)
        close(r->fd);
    if (r->owned)
        free(r->buf);
    r->fd = -1;
    r->buf = NULL;
    r->owned = 0;
}
