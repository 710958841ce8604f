/*
 * tensorfile.c - generic safetensors writing and strict reading
 * (tensorfile.h).
 */
#include "tensorfile.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this build assumes a little-endian machine"
#endif

#define MAX_HEADER (64u << 20) /* safetensors itself allows 100 MB */

static const char *const dtype_names[] = {"F32", "I32", "I64"};

size_t tensorfile_dtype_size(enum tensorfile_dtype t)
{
    return t == TF_I64 ? 8 : 4;
}

const char *tensorfile_dtype_name(enum tensorfile_dtype t)
{
    return (unsigned)t < 3 ? dtype_names[t] : "?";
}

static int dtype_parse(const char *s, enum tensorfile_dtype *t)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(s, dtype_names[i]) == 0) {
            *t = (enum tensorfile_dtype)i;
            return 0;
        }
    return -1;
}

/* zlib's crc32 takes a uInt length: feed it in pieces. */
static uLong crc_update(uLong crc, const unsigned char *p, size_t n)
{
    while (n > 0) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, p, k);
        p += k;
        n -= k;
    }
    return crc;
}

/* The byte count of a shape, or -1 when it overflows. */
static int64_t shape_bytes(const int64_t *dims, int ndim, enum tensorfile_dtype t)
{
    uint64_t n = tensorfile_dtype_size(t);
    for (int k = 0; k < ndim; k++) {
        if (dims[k] < 0 || __builtin_mul_overflow(n, (uint64_t)dims[k], &n))
            return -1;
    }
    return n > (uint64_t)INT64_MAX / 2 ? -1 : (int64_t)n;
}

/* ------------------------------------------------------------------ */
/* writing                                                              */

static int write_all(FILE *f, const void *p, size_t n)
{
    return n == 0 || fwrite(p, 1, n, f) == n ? 0 : -1;
}

int tensorfile_write(const char *path, const struct tensorfile_tensor *t, int n,
                     const char *const *keys, const char *const *values, int nmeta,
                     struct error *err)
{
    json_t *hdr = NULL, *meta = NULL;
    int *order = NULL, rc = ERR_NOMEM;
    int64_t *off = NULL;
    char *text = NULL, crc_hex[16];
    uLong crc = crc32(0L, Z_NULL, 0);
    unsigned char len8[8];
    size_t hlen, pad;
    int64_t pos = 0;
    FILE *f = NULL;

    if (n < 0 || nmeta < 0 || (n > 0 && !t) || (nmeta > 0 && (!keys || !values)))
        return error_set(err, ERR_USAGE, "cannot write '%s': bad arguments", path);
    for (int i = 0; i < n; i++) {
        if (!t[i].name || !t[i].name[0] || strcmp(t[i].name, "__metadata__") == 0)
            return error_set(err, ERR_USAGE, "cannot write '%s': bad tensor name '%s'", path,
                             t[i].name ? t[i].name : "(null)");
        for (int j = 0; j < i; j++)
            if (strcmp(t[i].name, t[j].name) == 0)
                return error_set(err, ERR_USAGE, "cannot write '%s': two tensors called '%s'",
                                 path, t[i].name);
        if ((unsigned)t[i].dtype > TF_I64 || t[i].ndim < 0 || t[i].ndim > TENSORFILE_MAX_DIMS)
            return error_set(err, ERR_USAGE,
                             "cannot write '%s': tensor '%s' has a bad dtype or rank", path,
                             t[i].name);
        int64_t nb = shape_bytes(t[i].dims, t[i].ndim, t[i].dtype);
        if (nb < 0 || (nb > 0 && !t[i].data))
            return error_set(err, ERR_USAGE, "cannot write '%s': tensor '%s' has a bad shape",
                             path, t[i].name);
    }
    for (int i = 0; i < nmeta; i++) {
        if (!keys[i] || !values[i] || strcmp(keys[i], "crc32") == 0)
            return error_set(err, ERR_USAGE, "cannot write '%s': bad metadata key '%s'", path,
                             keys[i] ? keys[i] : "(null)");
        for (int j = 0; j < i; j++)
            if (strcmp(keys[i], keys[j]) == 0)
                return error_set(err, ERR_USAGE, "cannot write '%s': metadata key '%s' twice",
                                 path, keys[i]);
    }

    /* Largest elements first, so each tensor starts aligned without padding. */
    order = malloc(sizeof(*order) * (size_t)(n ? n : 1));
    off = malloc(sizeof(*off) * (size_t)(n ? n : 1));
    hdr = json_object();
    meta = json_object();
    if (!order || !off || !hdr || !meta)
        goto nomem;
    {
        int k = 0;
        for (int i = 0; i < n; i++)
            if (tensorfile_dtype_size(t[i].dtype) == 8)
                order[k++] = i;
        for (int i = 0; i < n; i++)
            if (tensorfile_dtype_size(t[i].dtype) != 8)
                order[k++] = i;
    }
    for (int k = 0; k < n; k++) {
        const struct tensorfile_tensor *e = &t[order[k]];
        int64_t nb = shape_bytes(e->dims, e->ndim, e->dtype);
        off[order[k]] = pos;
        if (nb > 0)
            crc = crc_update(crc, e->data, (size_t)nb);
        pos += nb;
    }
    for (int i = 0; i < n; i++) {
        json_t *shape = json_array(), *e;
        if (!shape)
            goto nomem;
        for (int k = 0; k < t[i].ndim; k++)
            if (json_array_append_new(shape, json_integer(t[i].dims[k]))) {
                json_decref(shape);
                goto nomem;
            }
        e = json_pack("{s:s, s:o, s:[I, I]}", "dtype", dtype_names[t[i].dtype], "shape", shape,
                      "data_offsets", (json_int_t)off[i],
                      (json_int_t)(off[i] + shape_bytes(t[i].dims, t[i].ndim, t[i].dtype)));
        if (!e || json_object_set_new(hdr, t[i].name, e))
            goto nomem;
    }
    for (int i = 0; i < nmeta; i++)
        if (json_object_set_new(meta, keys[i], json_string(values[i])))
            goto nomem;
    snprintf(crc_hex, sizeof(crc_hex), "%08lx", (unsigned long)crc);
    if (json_object_set_new(meta, "crc32", json_string(crc_hex)) ||
        json_object_set(hdr, "__metadata__", meta))
        goto nomem;
    text = json_dumps(hdr, JSON_COMPACT);
    if (!text)
        goto nomem;
    hlen = strlen(text);
    pad = (8 - hlen % 8) % 8;
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)((uint64_t)(hlen + pad) >> (8 * i));

    f = fopen(path, "wb");
    if (!f) {
        rc = error_set(err, ERR_IO, "cannot write '%s': %s", path, strerror(errno));
        goto done;
    }
    if (write_all(f, len8, 8) || write_all(f, text, hlen) || write_all(f, "        ", pad))
        goto ioerr;
    for (int k = 0; k < n; k++) {
        const struct tensorfile_tensor *e = &t[order[k]];
        if (write_all(f, e->data, (size_t)shape_bytes(e->dims, e->ndim, e->dtype)))
            goto ioerr;
    }
    if (fflush(f) || fsync(fileno(f)))
        goto ioerr;
    rc = fclose(f);
    f = NULL;
    if (rc)
        goto ioerr;
    rc = 0;
    goto done;
ioerr:
    rc = error_set(err, ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    if (f)
        fclose(f);
    f = NULL;
    unlink(path);
    goto done;
nomem:
    rc = error_set(err, ERR_NOMEM, "out of memory writing '%s'", path);
done:
    free(order);
    free(off);
    free(text);
    json_decref(hdr);
    json_decref(meta);
    return rc;
}

/* ------------------------------------------------------------------ */
/* reading                                                              */

/* "'path': <what>" with code. */
static int bad(struct error *err, enum err_code code, const char *path, const char *fmt, ...)
    ERROR_PRINTF(4, 5);
static int bad(struct error *err, enum err_code code, const char *path, const char *fmt, ...)
{
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return error_set(err, code, "'%s': %s", path, what);
}

static int read_exact(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            errno = 0; /* end of file: the file shrank */
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

static int by_begin(const void *a, const void *b)
{
    const struct tensorfile_entry *x = *(const struct tensorfile_entry *const *)a;
    const struct tensorfile_entry *y = *(const struct tensorfile_entry *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* One header entry into e (its name already set). */
static int parse_entry(struct tensorfile_entry *e, json_t *o, size_t dlen, const char *path,
                       struct error *err)
{
    json_t *shape = json_object_get(o, "shape"), *offs = json_object_get(o, "data_offsets");
    const char *dtype = json_string_value(json_object_get(o, "dtype"));
    json_int_t b, end;
    int64_t nb;

    if (!json_is_object(o) || !dtype || !json_is_array(shape) || !json_is_array(offs) ||
        json_object_size(o) != 3)
        return bad(err, ERR_FORMAT, path,
                   "tensor '%s' needs exactly 'dtype', 'shape' and 'data_offsets'", e->name);
    if (dtype_parse(dtype, &e->dtype))
        return bad(err, ERR_FORMAT, path, "tensor '%s' has an unknown dtype '%s'", e->name,
                   dtype);
    if (json_array_size(shape) > TENSORFILE_MAX_DIMS)
        return bad(err, ERR_FORMAT, path, "tensor '%s' has %zu dimensions (at most %d)", e->name,
                   json_array_size(shape), TENSORFILE_MAX_DIMS);
    e->ndim = (int)json_array_size(shape);
    for (int k = 0; k < e->ndim; k++) {
        json_t *d = json_array_get(shape, (size_t)k);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return bad(err, ERR_FORMAT, path, "tensor '%s' has a bad shape", e->name);
        e->dims[k] = json_integer_value(d);
    }
    if (json_array_size(offs) != 2 || !json_is_integer(json_array_get(offs, 0)) ||
        !json_is_integer(json_array_get(offs, 1)))
        return bad(err, ERR_FORMAT, path, "tensor '%s' has bad data_offsets", e->name);
    b = json_integer_value(json_array_get(offs, 0));
    end = json_integer_value(json_array_get(offs, 1));
    if (b < 0 || end < b)
        return bad(err, ERR_FORMAT, path, "tensor '%s' has bad data_offsets [%lld, %lld]",
                   e->name, (long long)b, (long long)end);
    nb = shape_bytes(e->dims, e->ndim, e->dtype);
    if (nb < 0)
        return bad(err, ERR_FORMAT, path, "tensor '%s' has a shape too large", e->name);
    if ((uint64_t)(end - b) != (uint64_t)nb)
        return bad(err, ERR_FORMAT, path,
                   "tensor '%s': its shape needs %lld bytes of %s, "
                   "its range [%lld, %lld) holds %lld",
                   e->name, (long long)nb, dtype, (long long)b, (long long)end,
                   (long long)(end - b));
    if ((uint64_t)end > dlen)
        return bad(err, ERR_INTEGRITY, path,
                   "truncated: tensor '%s' ends at byte %lld of a %zu-byte data block", e->name,
                   (long long)end, dlen);
    if ((uint64_t)b % tensorfile_dtype_size(e->dtype) != 0)
        return bad(err, ERR_FORMAT, path, "tensor '%s' starts at byte %lld, not aligned for %s",
                   e->name, (long long)b, dtype);
    e->begin = (size_t)b;
    e->end = (size_t)end;
    return 0;
}

static int parse_meta(struct tensorfile *tf, json_t *meta, const char *path, struct error *err)
{
    const char *k;
    json_t *v;
    size_t n = json_object_size(meta);

    if (!json_is_object(meta))
        return bad(err, ERR_FORMAT, path, "'__metadata__' is not an object");
    tf->meta_keys = calloc(n ? n : 1, sizeof(char *));
    tf->meta_values = calloc(n ? n : 1, sizeof(char *));
    if (!tf->meta_keys || !tf->meta_values)
        return error_set(err, ERR_NOMEM, "out of memory reading '%s'", path);
    json_object_foreach(meta, k, v)
    {
        if (!json_is_string(v))
            return bad(err, ERR_FORMAT, path, "metadata '%s' is not a string", k);
        tf->meta_keys[tf->nmeta] = dup_str(k);
        tf->meta_values[tf->nmeta] = dup_str(json_string_value(v));
        if (!tf->meta_keys[tf->nmeta] || !tf->meta_values[tf->nmeta]) {
            free(tf->meta_keys[tf->nmeta]);
            free(tf->meta_values[tf->nmeta]);
            return error_set(err, ERR_NOMEM, "out of memory reading '%s'", path);
        }
        tf->nmeta++;
    }
    return 0;
}

int tensorfile_read(const char *path, struct tensorfile *tf, struct error *err)
{
    unsigned char len8[8];
    char *htext = NULL;
    json_t *hdr = NULL;
    json_error_t jerr;
    struct tensorfile_entry **sorted = NULL;
    struct stat st;
    uint64_t hlen = 0, fsize;
    size_t dlen;
    const char *crc_text;
    int fd, rc;

    memset(tf, 0, sizeof(*tf));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return error_set(err, ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return error_set(err, ERR_IO, "cannot read '%s': not a regular file", path);
    }
    fsize = (uint64_t)st.st_size;
    if (fsize < 8) {
        rc = bad(err, ERR_INTEGRITY, path, "truncated: %llu bytes, too short for a header",
                 (unsigned long long)fsize);
        goto out;
    }
    if (read_exact(fd, len8, 8))
        goto ioerr;
    for (int i = 0; i < 8; i++)
        hlen |= (uint64_t)len8[i] << (8 * i);
    if (hlen > MAX_HEADER || hlen < 2) {
        rc = bad(err, ERR_FORMAT, path, "not a tensor file (header length %llu)",
                 (unsigned long long)hlen);
        goto out;
    }
    if (hlen > fsize - 8) {
        rc = bad(err, ERR_INTEGRITY, path,
                 "truncated: its header length %llu runs past the end of the file (%llu bytes)",
                 (unsigned long long)hlen, (unsigned long long)fsize);
        goto out;
    }
    if ((uint64_t)(size_t)(fsize - 8 - hlen) != fsize - 8 - hlen)
        goto nomem;
    dlen = (size_t)(fsize - 8 - hlen);
    htext = malloc((size_t)hlen);
    tf->data = malloc(dlen ? dlen : 1); /* malloc's alignment suits every dtype */
    if (!htext || !tf->data)
        goto nomem;
    if (read_exact(fd, htext, (size_t)hlen) || read_exact(fd, tf->data, dlen))
        goto ioerr;
    tf->size = dlen;

    hdr = json_loadb(htext, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!hdr) {
        rc = bad(err, ERR_FORMAT, path, "its header is not JSON: %s (column %d)", jerr.text,
                 jerr.column);
        goto out;
    }
    if (!json_is_object(hdr)) {
        rc = bad(err, ERR_FORMAT, path, "its header is not a JSON object");
        goto out;
    }
    {
        size_t cap = json_object_size(hdr);
        const char *k;
        json_t *v;
        tf->t = calloc(cap ? cap : 1, sizeof(*tf->t));
        sorted = calloc(cap ? cap : 1, sizeof(*sorted));
        if (!tf->t || !sorted)
            goto nomem;
        json_object_foreach(hdr, k, v)
        {
            if (strcmp(k, "__metadata__") == 0) {
                if ((rc = parse_meta(tf, v, path, err)))
                    goto out;
                continue;
            }
            struct tensorfile_entry *e = &tf->t[tf->n];
            if (!(e->name = dup_str(k)))
                goto nomem;
            tf->n++;
            if ((rc = parse_entry(e, v, dlen, path, err)))
                goto out;
            sorted[tf->n - 1] = e;
        }
    }
    /* The ranges tile the data block: no overlaps, no holes. */
    qsort(sorted, (size_t)tf->n, sizeof(*sorted), by_begin);
    {
        size_t at = 0;
        for (int i = 0; i < tf->n; i++) {
            if (sorted[i]->begin < at) {
                rc = bad(err, ERR_FORMAT, path, "tensors '%s' and '%s' overlap",
                         sorted[i - 1]->name, sorted[i]->name);
                goto out;
            }
            if (sorted[i]->begin > at) {
                rc = bad(err, ERR_FORMAT, path, "bytes [%zu, %zu) of its data belong to no tensor",
                         at, sorted[i]->begin);
                goto out;
            }
            at = sorted[i]->end;
        }
        if (at != dlen) {
            rc = bad(err, ERR_FORMAT, path, "bytes [%zu, %zu) of its data belong to no tensor",
                     at, dlen);
            goto out;
        }
    }
    crc_text = tensorfile_meta(tf, "crc32");
    if (!crc_text) {
        rc = bad(err, ERR_FORMAT, path, "no crc32 in its metadata");
        goto out;
    }
    {
        char have[16];
        snprintf(have, sizeof(have), "%08lx",
                 (unsigned long)crc_update(crc32(0L, Z_NULL, 0), tf->data, dlen));
        if (strcmp(have, crc_text) != 0) {
            rc = bad(err, ERR_INTEGRITY, path,
                     "damaged: its data has checksum %s, its header says %.16s (changed or "
                     "truncated?)",
                     have, crc_text);
            goto out;
        }
    }
    rc = 0;
    goto out;
ioerr:
    rc = error_set(err, ERR_IO, "cannot read '%s': %s", path,
                   errno ? strerror(errno) : "the file changed while being read");
    goto out;
nomem:
    rc = error_set(err, ERR_NOMEM, "out of memory reading '%s'", path);
out:
    close(fd);
    free(htext);
    free(sorted);
    json_decref(hdr);
    if (rc)
        tensorfile_free(tf);
    return rc;
}

const struct tensorfile_entry *tensorfile_find(const struct tensorfile *tf, const char *name)
{
    for (int i = 0; i < tf->n; i++)
        if (strcmp(tf->t[i].name, name) == 0)
            return &tf->t[i];
    return NULL;
}

const void *tensorfile_get(const struct tensorfile *tf, const char *name,
                           enum tensorfile_dtype dtype, int ndim, int64_t *dims_out)
{
    const struct tensorfile_entry *e = tensorfile_find(tf, name);
    if (!e || e->dtype != dtype || e->ndim != ndim)
        return NULL;
    if (dims_out)
        for (int k = 0; k < ndim; k++)
            dims_out[k] = e->dims[k];
    return tf->data + e->begin;
}

const char *tensorfile_meta(const struct tensorfile *tf, const char *key)
{
    for (int i = 0; i < tf->nmeta; i++)
        if (strcmp(tf->meta_keys[i], key) == 0)
            return tf->meta_values[i];
    return NULL;
}

void tensorfile_free(struct tensorfile *tf)
{
    for (int i = 0; i < tf->n; i++)
        free(tf->t[i].name);
    for (int i = 0; i < tf->nmeta; i++) {
        free(tf->meta_keys[i]);
        free(tf->meta_values[i]);
    }
    free(tf->t);
    free(tf->meta_keys);
    free(tf->meta_values);
    free(tf->data);
    memset(tf, 0, sizeof(*tf));
}
