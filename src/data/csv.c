#include "csv.h"

#include <stdlib.h>
#include <string.h>

void csv_init(struct csv *c, struct lines *in)
{
    memset(c, 0, sizeof(*c));
    c->in = in;
}

void csv_free(struct csv *c)
{
    free(c->buf);
    free(c->acc);
    c->buf = c->acc = NULL;
}

int csv_split(const char *s, size_t n, struct csv_field *f, int maxf, char *buf,
              struct error *err)
{
    size_t i = 0, o = 0;
    int nf = 0;

    for (;;) {
        if (nf == maxf)
            return error_set(err, ERR_PARSE, "more than %d fields", maxf), -1;
        if (i < n && s[i] == '"') {
            size_t start = o;
            i++;
            for (;;) {
                if (i >= n)
                    return -2;
                if (s[i] == '"') {
                    if (i + 1 < n && s[i + 1] == '"') {
                        buf[o++] = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                buf[o++] = s[i++];
            }
            f[nf].s = buf + start;
            f[nf].n = o - start;
            nf++;
            if (i == n)
                return nf;
            if (s[i] != ',')
                return error_set(err, ERR_PARSE, "unexpected character after a closing quote"), -1;
            i++;
        } else {
            const char *p = s + i;
            const char *comma = memchr(p, ',', n - i);
            size_t len = comma ? (size_t)(comma - p) : n - i;
            if (memchr(p, '"', len))
                return error_set(err, ERR_PARSE, "a quote inside an unquoted field"), -1;
            f[nf].s = p;
            f[nf].n = len;
            nf++;
            i += len;
            if (i == n)
                return nf;
            i++; /* the comma */
        }
    }
}

static int grow(char **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 256;
    while (ncap < need)
        ncap *= 2;
    char *np = realloc(*p, ncap);
    if (!np)
        return -1;
    *p = np;
    *cap = ncap;
    return 0;
}

int csv_next(struct csv *c, struct error *err)
{
    const char *line;
    size_t len;
    int rc;

    rc = lines_next(c->in, &line, &len, err);
    if (rc <= 0)
        return rc;
    c->lineno = c->in->lineno;
    for (;;) {
        struct error e;
        int nf;
        if (grow(&c->buf, &c->cap, len + 1) < 0)
            return error_set(err, ERR_NOMEM, "out of memory"), -1;
        nf = csv_split(line, len, c->f, CSV_MAX_FIELDS, c->buf, &e);
        if (nf >= 0) {
            c->nfields = nf;
            return 1;
        }
        if (nf == -1)
            return error_set(err, ERR_PARSE, "%s:%ld: %s", c->in->name, c->lineno, e.msg), -1;
        /* An open quote: join the next physical line with "\n". */
        if (line != c->acc) {
            if (grow(&c->acc, &c->acc_cap, len + 1) < 0)
                return error_set(err, ERR_NOMEM, "out of memory"), -1;
            memcpy(c->acc, line, len);
            c->acc_len = len;
        }
        {
            const char *next;
            size_t nlen;
            rc = lines_next(c->in, &next, &nlen, err);
            if (rc < 0)
                return -1;
            if (rc == 0 || c->acc_len + nlen + 1 > LINES_MAX_LINE)
                return error_set(err, ERR_PARSE, "%s:%ld: a quoted field is not closed", c->in->name,
                                 c->lineno), -1;
            if (grow(&c->acc, &c->acc_cap, c->acc_len + nlen + 2) < 0)
                return error_set(err, ERR_NOMEM, "out of memory"), -1;
            c->acc[c->acc_len++] = '\n';
            memcpy(c->acc + c->acc_len, next, nlen);
            c->acc_len += nlen;
        }
        line = c->acc;
        len = c->acc_len;
    }
}
