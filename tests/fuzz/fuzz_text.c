/*
 * fuzz_text.c - libFuzzer target for the text helpers (src/util/text.h).
 *
 * Each helper runs on the whole input and is checked against a simple
 * reference written here: strtoll/strtod for the number parsers, the
 * Unicode table of well-formed byte sequences for UTF-8, decoding back for
 * Latin-1. The first input byte also picks a small output capacity for
 * the truncating helpers. Broken invariants call abort().
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../../src/util/text.h"
#include "../../src/util/banned.h"


static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        abort();
    return p;
}

/* s[0..n) as a NUL-terminated copy. */
static char *cstr(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}


static void check_i64(const char *s, size_t n)
{
    int64_t v = 0;
    int rc = text_parse_i64(s, n, &v);
    size_t i = n > 0 && (s[0] == '+' || s[0] == '-');
    int digits = i < n;
    int ok;

    for (size_t k = i; k < n; k++)
        digits &= s[k] >= '0' && s[k] <= '9';
    ok = digits;
    if (digits) {
        char *c = cstr(s, n), *end;
        long long ref;
        errno = 0;
        ref = strtoll(c, &end, 10);
        CHECK(end == c + n);
        /* the magnitude must fit in int64_t: INT64_MIN itself is refused */
        ok = errno != ERANGE && ref != INT64_MIN;
        if (ok && rc == 0)
            CHECK(v == ref);
        free(c);
    }
    CHECK(rc == (ok ? 0 : -1));
}

static void check_double(const char *s, size_t n)
{
    double v = 0;
    int rc = text_parse_double(s, n, &v);
    int ok = n > 0 && n < 64;

    for (size_t i = 0; i < n && ok; i++)
        ok = (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '-' || s[i] == '+' ||
             s[i] == 'e' || s[i] == 'E';
    if (ok) {
        char *c = cstr(s, n), *end;
        double ref = strtod(c, &end);
        ok = end == c + n && isfinite(ref);
        if (ok && rc == 0)
            CHECK(v == ref); /* the "d" and "d.d" fast paths too */
        free(c);
    }
    CHECK(rc == (ok ? 0 : -1));
    if (rc == 0)
        CHECK(isfinite(v));
}

static void check_utf8(const char *s, size_t n)
{
    CHECK(text_utf8_valid(s, n) == fuzz_utf8_valid((const unsigned char *)s, n));
}

/* Decodes UTF-8 made by text_latin1_to_utf8 back to Latin-1 and compares. */
static void check_decodes_to(const char *out, size_t len, const char *s)
{
    const unsigned char *u = (const unsigned char *)out;
    size_t i = 0, k = 0;
    while (i < len) {
        unsigned c;
        if (u[i] < 0x80) {
            c = u[i];
            i++;
        } else {
            CHECK(i + 1 < len && (u[i] == 0xC2 || u[i] == 0xC3) && (u[i + 1] & 0xC0) == 0x80);
            c = ((u[i] & 0x1Fu) << 6) | (u[i + 1] & 0x3Fu);
            i += 2;
        }
        CHECK(c == (unsigned char)s[k]);
        k++;
    }
}

static void check_latin1(const char *s, size_t n, size_t small)
{
    size_t high = 0, cap = 2 * n + 1, len, len2;
    char *out = xmalloc(cap);
    char *out2;
    int has_nul = memchr(s, '\0', n) != NULL;

    for (size_t i = 0; i < n; i++)
        high += (unsigned char)s[i] >= 0x80;
    len = text_latin1_to_utf8(out, cap, s, n);
    CHECK(len == n + high && len < cap && out[len] == '\0');
    check_decodes_to(out, len, s);
    if (!has_nul)
        CHECK(text_utf8_valid(out, len));

    /* A smaller buffer: a prefix, never half a character. */
    out2 = xmalloc(small);
    len2 = text_latin1_to_utf8(out2, small, s, n);
    CHECK(len2 < small && out2[len2] == '\0');
    CHECK(len2 <= len && memcmp(out2, out, len2) == 0);
    CHECK(len2 == len || ((unsigned char)out[len2] & 0xC0) != 0x80);
    if (!has_nul)
        CHECK(text_utf8_valid(out2, len2));
    free(out2);
    free(out);
}

static void check_copy(const char *s, size_t n, size_t cap)
{
    char *out = xmalloc(cap);
    size_t len = text_copy(out, cap, s, n);

    CHECK(len < cap && out[len] == '\0');
    CHECK(len <= n && (len == 0 || memcmp(out, s, len) == 0));
    if (n < cap)
        CHECK(len == n);
    if (text_utf8_valid(s, n))
        CHECK(text_utf8_valid(out, len));
    free(out);
}

static void check_trim(const char *s, size_t n)
{
    const char *t = s;
    size_t m = n;

    text_trim(&t, &m);
    CHECK(t >= s && (size_t)(t - s) + m <= n);
    for (const char *p = s; p < t; p++)
        CHECK(*p == ' ' || *p == '\t');
    for (const char *p = t + m; p < s + n; p++)
        CHECK(*p == ' ' || *p == '\t');
    if (m > 0)
        CHECK(t[0] != ' ' && t[0] != '\t' && t[m - 1] != ' ' && t[m - 1] != '\t');
    else
        CHECK(t == s + n || n == 0 || t == s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    size_t small = size ? 1 + data[0] % 64 : 1;

    check_i64(s, size);
    check_double(s, size);
    check_utf8(s, size);
    check_latin1(s, size, small);
    check_copy(s, size, small);
    check_copy(s, size, 4096);
    check_trim(s, size);
    /* the same past the first byte, which picked the capacity */
    if (size > 1) {
        check_i64(s + 1, size - 1);
        check_double(s + 1, size - 1);
        check_utf8(s + 1, size - 1);
    }
    return 0;
}
