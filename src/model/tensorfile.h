/*
 * tensorfile.h - named tensors in a safetensors file, written whole and
 * read back strictly.
 *
 * The layout is safetensors' (https://github.com/huggingface/safetensors):
 *   8 bytes   N, the header's length, little-endian
 *   N bytes   a JSON object: {"<name>": {"dtype": "F32", "shape": [2, 3],
 *             "data_offsets": [begin, end]}, ..., "__metadata__": {"k": "v"}}
 *   the rest  the data block; each tensor's bytes at [begin, end) of it
 * with string metadata, where the writer adds "crc32" (8 hex digits, zlib's
 * CRC-32 of the whole data block). Tensors are written largest element
 * first, so every one starts at a multiple of its element size (the data
 * block itself starts 8-aligned: the header is padded with spaces).
 *
 * The reader checks: the header length against the file's size, the JSON
 * (an object, no duplicate names), each entry's keys, its dtype (F32, I32
 * or I64), its shape (at most TENSORFILE_MAX_DIMS dimensions) against its
 * byte range, every range inside the data block, aligned, without overlaps
 * or holes, string-only metadata and the CRC-32. Failures:
 *   ERR_FORMAT     not a well-formed tensor file (header, JSON, dtype,
 *                  shape, ranges, metadata)
 *   ERR_INTEGRITY  shorter than its header says (truncated) or the data
 *                  does not match its checksum
 *   ERR_IO, ERR_NOMEM
 * with a message that names the file and what is wrong.
 *
 * `struct tensorfile` owns the header and the data block; pointers from
 * tensorfile_get()/tensorfile_meta() live until tensorfile_free().
 * The data is little-endian; so must the machine be.
 */
#ifndef MOVIEREC_TENSORFILE_H
#define MOVIEREC_TENSORFILE_H

#include <stddef.h>
#include <stdint.h>

#include "../util/error.h"

#define TENSORFILE_MAX_DIMS 8

enum tensorfile_dtype { TF_F32, TF_I32, TF_I64 };

/* Bytes per element: 4, 4, 8. */
size_t tensorfile_dtype_size(enum tensorfile_dtype t);
/* "F32", "I32", "I64". */
const char *tensorfile_dtype_name(enum tensorfile_dtype t);

/* ---- writing ---- */

struct tensorfile_tensor {
    const char *name;           /* unique, not "__metadata__" */
    enum tensorfile_dtype dtype;
    int ndim;                   /* 0 (a scalar) .. TENSORFILE_MAX_DIMS */
    int64_t dims[TENSORFILE_MAX_DIMS];
    const void *data;           /* product(dims) elements; may be NULL when that is 0 */
};

/* Writes n tensors and nmeta metadata strings (keys[i] = values[i]; "crc32"
 * is the writer's) to path, then fsyncs it. The caller makes it atomic by
 * writing into a temporary folder (versiondir.h). ERR_USAGE on a bad name,
 * dtype or shape; ERR_IO; ERR_NOMEM. */
int tensorfile_write(const char *path, const struct tensorfile_tensor *t, int n,
                     const char *const *keys, const char *const *values, int nmeta,
                     struct error *err);

/* ---- reading ---- */

struct tensorfile_entry {
    char *name;
    enum tensorfile_dtype dtype;
    int ndim;
    int64_t dims[TENSORFILE_MAX_DIMS];
    size_t begin, end; /* byte range in the data block */
};

struct tensorfile {
    struct tensorfile_entry *t; /* (n,) in the header's order */
    int n;
    char **meta_keys, **meta_values; /* (nmeta,) */
    int nmeta;
    unsigned char *data; /* (size,) the data block */
    size_t size;
};

/* Reads and checks path (see above); tf is initialised here and must be
 * tensorfile_free()d on success (it is already empty on failure). */
int tensorfile_read(const char *path, struct tensorfile *tf, struct error *err);

/* The tensor `name` when it exists with that dtype and ndim (its dims are
 * copied to dims_out (ndim,), which may be NULL); NULL otherwise. The
 * pointer is aligned for the dtype. */
const void *tensorfile_get(const struct tensorfile *tf, const char *name,
                           enum tensorfile_dtype dtype, int ndim, int64_t *dims_out);
/* The entry called name, or NULL (for messages about a wrong dtype/shape). */
const struct tensorfile_entry *tensorfile_find(const struct tensorfile *tf, const char *name);
/* The metadata value for key, or NULL. */
const char *tensorfile_meta(const struct tensorfile *tf, const char *key);

void tensorfile_free(struct tensorfile *tf);

#endif
