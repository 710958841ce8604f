/*
 * csv.h - RFC 4180 records as MovieLens writes them: comma separated,
 * fields optionally in double quotes, a doubled quote inside quotes stands
 * for one quote, and a quoted field may span lines.
 *
 * Field pointers belong to the struct csv and are valid until the next
 * csv_next() call.
 */
#ifndef MOVIEREC_CSV_H
#define MOVIEREC_CSV_H

#include <stddef.h>

#include "lines.h"

#define CSV_MAX_FIELDS 32

struct csv_field {
    const char *s;
    size_t n;
};

struct csv {
    struct lines *in;
    char *buf;          /* unquoted field text, owned */
    size_t cap;
    char *acc;          /* a record spanning lines, owned */
    size_t acc_len, acc_cap;
    int nfields;
    struct csv_field f[CSV_MAX_FIELDS];
    long lineno;        /* first line of the record last returned */
};

void csv_init(struct csv *c, struct lines *in);
void csv_free(struct csv *c);

/* Reads the next record into c->f[0..c->nfields). Returns 1, 0 at end of
 * input, or -1 on error (a message naming file and line is in err). */
int csv_next(struct csv *c, struct error *err);

/* Splits one complete record text. Returns the number of fields, or -1
 * with err set; -2 when a quoted field is still open at the end (the
 * record continues on the next line). buf must hold at least n bytes. */
int csv_split(const char *s, size_t n, struct csv_field *f, int maxf, char *buf,
              struct error *err);

#endif
