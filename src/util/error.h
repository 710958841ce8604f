/*
 * error.h - how library code reports failure.
 *
 * Library functions never print and never exit: they return one of the
 * codes below (0 on success) and, when given a non-NULL `struct error`,
 * leave a one-line message in git's style there ("cannot open 'u.data':
 * No such file or directory"). Only main() and the cmd_* functions print
 * messages and choose exit statuses.
 */
#ifndef MOVIEREC_ERROR_H
#define MOVIEREC_ERROR_H

enum err_code {
    ERR_OK = 0,
    ERR_USAGE,    /* bad arguments from the caller */
    ERR_IO,       /* a file or directory could not be read or written */
    ERR_PARSE,    /* malformed input: a line, a field, an encoding */
    ERR_NOMEM,    /* an allocation failed */
    ERR_DB,       /* the store refused an operation */
    ERR_EXISTS,   /* the target already exists or is not empty */
    ERR_NOTFOUND, /* a referenced thing does not exist */
    ERR_NET,      /* a download failed */
    ERR_FORMAT,   /* a data set's format was not recognised */
    ERR_INTEGRITY /* a checksum or invariant did not hold */
};

struct error {
    enum err_code code;
    char msg[1024];
};

#if defined(__GNUC__)
#define ERROR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ERROR_PRINTF(a, b)
#endif

/* Sets err (if non-NULL) and returns code, so callers can write
 * `return error_set(err, ERR_IO, "cannot open '%s': %s", p, strerror(errno));` */
int error_set(struct error *err, enum err_code code, const char *fmt, ...) ERROR_PRINTF(3, 4);

/* Prefixes the existing message with "prefix: " (for adding a file name). */
void error_prefix(struct error *err, const char *fmt, ...) ERROR_PRINTF(2, 3);

void error_clear(struct error *err);

#endif
