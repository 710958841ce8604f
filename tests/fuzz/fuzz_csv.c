/*
 * fuzz_csv.c - libFuzzer target for the CSV reader (src/data/csv.h) and
 * the line reader under it (src/data/lines.h).
 *
 * The input is a whole CSV file. It is read three ways: line by line with
 * lines_next(), as one record with csv_split(), and record by record with
 * csv_next() over lines_open_mem(), going on after errors the way a
 * skip_bad import does. Broken invariants call abort().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../../src/data/csv.h"
#include "../../src/data/lines.h"
#include "../../src/util/error.h"
#include "../../src/util/banned.h"


/* Does [p, p+n) lie inside [base, base+cap)? */
static int within(const char *p, size_t n, const char *base, size_t cap)
{
    if (!base || p < base)
        return 0;
    return (size_t)(p - base) <= cap && n <= cap - (size_t)(p - base);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        abort();
    return p;
}

/* Writes the fields as one record with every field quoted; returns its
 * length. out holds at least sum(2 * n + 3) bytes. */
static size_t encode(char *out, const struct csv_field *f, int nf)
{
    size_t o = 0;
    for (int i = 0; i < nf; i++) {
        if (i > 0)
            out[o++] = ',';
        out[o++] = '"';
        for (size_t k = 0; k < f[i].n; k++) {
            if (f[i].s[k] == '"')
                out[o++] = '"';
            out[o++] = f[i].s[k];
        }
        out[o++] = '"';
    }
    return o;
}

/* Quoting the fields and splitting the result gives the same fields. */
static void check_round_trip(const struct csv_field *f, int nf)
{
    struct csv_field g[CSV_MAX_FIELDS];
    struct error e;
    size_t cap = 0, len;
    char *enc, *buf;
    int ng;

    for (int i = 0; i < nf; i++)
        cap += 2 * f[i].n + 3;
    enc = xmalloc(cap);
    len = encode(enc, f, nf);
    CHECK(len <= cap);
    buf = xmalloc(len);
    error_clear(&e);
    ng = csv_split(enc, len, g, CSV_MAX_FIELDS, buf, &e);
    CHECK(ng == nf);
    for (int i = 0; i < nf; i++) {
        CHECK(g[i].n == f[i].n);
        CHECK(f[i].n == 0 || memcmp(g[i].s, f[i].s, f[i].n) == 0);
    }
    free(buf);
    free(enc);
}

/* The whole input as one record. */
static void check_split(const char *s, size_t n)
{
    struct csv_field f[CSV_MAX_FIELDS], g[3];
    struct error e;
    char *buf = xmalloc(n);
    char *buf2 = xmalloc(n);
    int nf, ng;

    error_clear(&e);
    nf = csv_split(s, n, f, CSV_MAX_FIELDS, buf, &e);
    CHECK(nf == -2 || nf == -1 || (nf >= 1 && nf <= CSV_MAX_FIELDS));
    if (nf == -1)
        CHECK(e.code == ERR_PARSE && e.msg[0] != '\0');
    for (int i = 0; i < nf; i++) {
        if (within(f[i].s, f[i].n, s, n)) {
            /* an unquoted field: the input's own bytes */
            CHECK(!memchr(f[i].s, '"', f[i].n) && !memchr(f[i].s, ',', f[i].n));
        } else {
            CHECK(within(f[i].s, f[i].n, buf, n));
        }
    }
    if (nf > 0)
        check_round_trip(f, nf);

    /* The same with room for 3 fields only. */
    ng = csv_split(s, n, g, 3, buf2, &e);
    CHECK(ng == -2 || ng == -1 || (ng >= 1 && ng <= 3));
    if (nf >= 1)
        CHECK(ng == (nf <= 3 ? nf : -1));
    for (int i = 0; i < ng && i < nf; i++)
        CHECK(g[i].n == f[i].n && (f[i].n == 0 || memcmp(g[i].s, f[i].s, f[i].n) == 0));
    free(buf2);
    free(buf);
}

/* lines_next() yields the pieces between '\n's, without "\n" / "\r\n". */
static void check_lines(const char *s, size_t n)
{
    struct lines in;
    struct error e;
    const char *line;
    size_t len, pos = 0;
    long count = 0;
    int rc;

    lines_open_mem(&in, s, n, "fuzz.csv");
    while ((rc = lines_next(&in, &line, &len, &e)) == 1) {
        const char *nl = memchr(s + pos, '\n', n - pos);
        size_t end = nl ? (size_t)(nl - s) : n;
        CHECK(line == s + pos);
        CHECK(len == end - pos || (len + 1 == end - pos && s[end - 1] == '\r'));
        CHECK(in.lineno == ++count);
        pos = nl ? end + 1 : end;
        CHECK(pos <= n);
    }
    CHECK(rc == 0);
    CHECK(pos == n);
    lines_close(&in);
}

/* The input as a file, record by record, going on after bad records. */
static void check_records(const char *s, size_t n)
{
    struct lines in;
    struct csv c;
    struct error e;
    long nlines = 1, calls = 0, last = 0;
    int rc;

    for (size_t i = 0; i < n; i++)
        nlines += s[i] == '\n';
    lines_open_mem(&in, s, n, "fuzz.csv");
    csv_init(&c, &in);
    for (;;) {
        error_clear(&e);
        rc = csv_next(&c, &e);
        CHECK(rc == -1 || rc == 0 || rc == 1);
        /* every call takes at least one line: no endless loop */
        CHECK(++calls <= nlines + 1);
        if (rc == 0)
            break;
        if (rc < 0) {
            CHECK(e.code != ERR_OK && e.msg[0] != '\0');
            CHECK(in.lineno > last);
            last = in.lineno;
            continue;
        }
        CHECK(c.nfields >= 1 && c.nfields <= CSV_MAX_FIELDS);
        CHECK(c.lineno > last && c.lineno <= in.lineno);
        last = in.lineno;
        for (int i = 0; i < c.nfields; i++)
            CHECK(within(c.f[i].s, c.f[i].n, s, n) || within(c.f[i].s, c.f[i].n, c.buf, c.cap) ||
                  within(c.f[i].s, c.f[i].n, c.acc, c.acc_cap));
        check_round_trip(c.f, c.nfields);
    }
    csv_free(&c);
    lines_close(&in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;

    check_lines(s, size);
    check_split(s, size);
    check_records(s, size);
    return 0;
}
