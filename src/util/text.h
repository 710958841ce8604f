/*
 * text.h - small text helpers shared by the parsers: strict number parsing
 * of a (pointer, length) field, Latin-1 to UTF-8 conversion and UTF-8
 * validation. None of them allocate unless they say so.
 */
#ifndef MOVIEREC_TEXT_H
#define MOVIEREC_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Parses an optionally signed decimal integer filling all of s[0..n).
 * Returns 0 on success, -1 on an empty field, a stray character or
 * overflow. */
int text_parse_i64(const char *s, size_t n, int64_t *out);

/* Parses a decimal number like "4", "3.5", "-0.25", "1e3" filling all of
 * s[0..n). Returns 0 or -1 (empty, junk, inf/nan). */
int text_parse_double(const char *s, size_t n, double *out);

/* Returns 1 when s[0..n) is well-formed UTF-8 without NUL bytes. */
int text_utf8_valid(const char *s, size_t n);

/* Writes s[0..n) converted from Latin-1 to UTF-8 into out (capacity cap,
 * which must be at least 2*n+1; the result is NUL-terminated). Returns the
 * length written. */
size_t text_latin1_to_utf8(char *out, size_t cap, const char *s, size_t n);

/* Copies s[0..n) into out (cap bytes, NUL-terminated, truncated at a UTF-8
 * character boundary if needed). Returns the length written. */
size_t text_copy(char *out, size_t cap, const char *s, size_t n);

/* The length of s[0..n) without a multi-byte character cut short at its
 * end (for text that was truncated). */
size_t text_utf8_complete(const char *s, size_t n);

/* Trims ASCII white space at both ends of *s and *n in place. */
void text_trim(const char **s, size_t *n);

#endif
