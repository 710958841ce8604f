/*
 * fuzz_tmdb.c - libFuzzer target for what the poster cache reads from the
 * network (src/server/poster.h): TMDB's JSON reply, poster_tmdb_parse();
 * the poster_path check, poster_path_safe(); the image magic,
 * poster_image_type().
 *
 * The whole input is the reply. Checks: the answer is 0, ERR_NOTFOUND or
 * ERR_PARSE (ERR_USAGE only with the small capacity) with a message when
 * not 0; out is "" unless 0; on 0 out is NUL-terminated inside cap, is
 * the reply's poster_path (jansson parses it again here) and passes a
 * reference check written independently below: one leading '/', no other
 * '/', no "..", only [A-Za-z0-9_-] then one '.' and 1 to 5 [A-Za-z0-9].
 * poster_path_safe() on the input as a C string agrees with the
 * reference; poster_image_type() agrees with a memcmp of the magic.
 * Broken invariants call abort().
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../../src/server/poster.h"
#include "../../src/util/error.h"
#include "../../src/util/banned.h"

static int ref_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

/* The reference for a plain "/name.ext". */
static int ref_safe(const char *s)
{
    size_t n = strlen(s);
    const char *dot = strchr(s, '.');
    if (n < 4 || n >= POSTER_PATH_MAX || s[0] != '/' || strchr(s + 1, '/') || strstr(s, "..") ||
        !dot || strchr(dot + 1, '.'))
        return 0;
    if (dot - s < 2 || n - (size_t)(dot - s) - 1 < 1 || n - (size_t)(dot - s) - 1 > 5)
        return 0;
    for (const char *p = s + 1; p < dot; p++)
        if (!ref_name_char((unsigned char)*p))
            return 0;
    for (const char *p = dot + 1; *p; p++)
        if (!ref_name_char((unsigned char)*p) || *p == '_' || *p == '-')
            return 0;
    return 1;
}

static void check_parse(const uint8_t *data, size_t size, size_t cap)
{
    char out[POSTER_PATH_MAX + 8];
    struct error err;
    int rc;

    memset(out, 0x5A, sizeof(out));
    err.msg[0] = '\0';
    rc = poster_tmdb_parse((const char *)data, size, out, cap, &err);
    CHECK(rc == 0 || rc == ERR_NOTFOUND || rc == ERR_PARSE ||
          (rc == ERR_USAGE && cap < POSTER_PATH_MAX));
    CHECK((unsigned char)out[cap] == 0x5A); /* nothing written past cap */
    if (rc) {
        CHECK(out[0] == '\0');
        CHECK(err.msg[0] != '\0');
        return;
    }
    CHECK(memchr(out, '\0', cap) != NULL);
    CHECK(ref_safe(out));
    /* it is the reply's poster_path */
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    CHECK(j && json_is_object(j));
    json_t *pp = json_object_get(j, "poster_path");
    CHECK(pp && json_is_string(pp) && strcmp(json_string_value(pp), out) == 0);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned char jpeg[3] = {0xFF, 0xD8, 0xFF};
    static const unsigned char png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    const char *type;
    char *s;

    check_parse(data, size, POSTER_PATH_MAX);
    check_parse(data, size, size > 0 ? 1 + data[0] % 12 : 1);

    s = malloc(size + 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    CHECK(poster_path_safe(s) == ref_safe(s));
    free(s);

    type = poster_image_type(data, size);
    if (size >= 3 && !memcmp(data, jpeg, 3))
        CHECK(type && !strcmp(type, "image/jpeg"));
    else if (size >= 8 && !memcmp(data, png, 8))
        CHECK(type && !strcmp(type, "image/png"));
    else
        CHECK(type == NULL);
    return 0;
}
