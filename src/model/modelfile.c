/*
 * modelfile.c - safetensors writing and checked reading; versioned,
 * atomic model folders (versiondir.h).
 */
#include "modelfile.h"
#include "tensorfile.h"
#include "../util/fs.h"
#include "versiondir.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this build assumes a little-endian machine"
#endif

#define MAX_HEADER (64u << 20)

/* ------------------------------------------------------------------ */
/* config <-> JSON                                                      */

#define CONFIG_INTS(X)                                                                             \
    X(user_emb) X(gender_emb) X(age_emb) X(occ_emb) X(movie_emb) X(genre_emb) X(word_emb)          \
    X(attr_fc) X(tower) X(conv_filters) X(conv_min) X(hidden1) X(hidden2) X(nusers) X(noccs)       \
    X(nmovies) X(ngenres) X(nwords)

static json_t *config_json(const struct model_config *c)
{
    json_t *o = json_object();
#define PUT(f) json_object_set_new(o, #f, json_integer(c->f));
    CONFIG_INTS(PUT)
#undef PUT
    json_object_set_new(o, "title_dropout", json_real(c->title_dropout));
    return o;
}

static int config_parse(struct model_config *c, const char *s, struct error *err)
{
    json_t *o = json_loads(s, 0, NULL);
    memset(c, 0, sizeof(*c));
    if (!json_is_object(o)) {
        json_decref(o);
        return error_set(err, ERR_INTEGRITY, "the model's config is not JSON");
    }
#define GET(f)                                                                                     \
    {                                                                                              \
        json_t *v = json_object_get(o, #f);                                                        \
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||                                    \
            json_integer_value(v) > 50000000) {                                                    \
            json_decref(o);                                                                        \
            return error_set(err, ERR_INTEGRITY, "the model's config has a bad '%s'", #f);         \
        }                                                                                          \
        c->f = (int)json_integer_value(v);                                                         \
    }
    CONFIG_INTS(GET)
#undef GET
    c->title_dropout = (float)json_number_value(json_object_get(o, "title_dropout"));
    json_decref(o);
    if (c->tower > 65536 || c->hidden1 > 65536 || c->hidden2 > 65536 || c->attr_fc > 65536 ||
        c->conv_filters > 4096)
        return error_set(err, ERR_INTEGRITY, "the model's config has layer sizes out of range");
    return 0;
}

/* ------------------------------------------------------------------ */
/* safetensors                                                          */

int safetensors_save(const struct model *m, const char *path, struct error *err)
{
    const struct nn_params *p = &m->params;
    struct tensorfile_tensor *t = calloc((size_t)(p->ntensors ? p->ntensors : 1), sizeof(*t));
    json_t *cfg = config_json(&m->cfg);
    char *cfg_text = cfg ? json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    const char *keys[] = {"format", "version", "config"};
    const char *values[] = {"movierec", "1", cfg_text};
    int rc;

    if (!t || !cfg_text) {
        rc = error_set(err, ERR_NOMEM, "out of memory writing '%s'", path);
        goto done;
    }
    /* every parameter as F32 in layout order; tensorfile adds the CRC-32 */
    for (int i = 0; i < p->ntensors; i++) {
        const struct nn_tensor *nt = &p->tensors[i];
        t[i].name = nt->name;
        t[i].dtype = TF_F32;
        t[i].ndim = nt->ndim;
        for (int k = 0; k < nt->ndim; k++)
            t[i].dims[k] = nt->shape[k];
        t[i].data = p->data + nt->offset;
    }
    rc = tensorfile_write(path, t, p->ntensors, keys, values, 3, err);
done:
    free(t);
    free(cfg_text);
    json_decref(cfg);
    return rc;
}

static int read_file(const char *path, unsigned char **out, size_t *n, struct error *err)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t got = 0;

    *out = NULL;
    if (fd < 0)
        return error_set(err, ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return error_set(err, ERR_IO, "cannot read '%s': not a regular file", path);
    }
    *out = malloc((size_t)st.st_size + 1);
    if (!*out) {
        close(fd);
        return error_set(err, ERR_NOMEM, "out of memory reading '%s'", path);
    }
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, *out + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    *n = got;
    return 0;
}

int safetensors_load(struct model *m, const char *path, struct error *err)
{
    unsigned char *buf = NULL;
    size_t n = 0, hlen = 0, dlen;
    json_t *hdr = NULL, *meta;
    const char *cfg_text, *fmt, *crc_text;
    struct model_config cfg;
    char crc_hex[16];
    int rc;

    memset(m, 0, sizeof(*m));
    if ((rc = read_file(path, &buf, &n, err)))
        return rc;
    if (n < 8)
        goto damaged_short;
    for (int i = 0; i < 8; i++)
        hlen |= (size_t)buf[i] << (8 * i);
    if (hlen > MAX_HEADER || hlen > n - 8)
        goto damaged_short;
    hdr = json_loadb((const char *)buf + 8, hlen, 0, NULL);
    meta = json_object_get(hdr, "__metadata__");
    fmt = json_string_value(json_object_get(meta, "format"));
    cfg_text = json_string_value(json_object_get(meta, "config"));
    crc_text = json_string_value(json_object_get(meta, "crc32"));
    if (!json_is_object(hdr) || !fmt || strcmp(fmt, "movierec") != 0 || !cfg_text || !crc_text) {
        rc = error_set(err, ERR_INTEGRITY, "'%s' is not a movierec model (no movierec metadata)",
                       path);
        goto out;
    }
    if (!json_is_string(json_object_get(meta, "version")) ||
        strcmp(json_string_value(json_object_get(meta, "version")), "1") != 0) {
        rc = error_set(err, ERR_INTEGRITY, "'%s' is a model format this movierec does not know",
                       path);
        goto out;
    }
    if ((rc = config_parse(&cfg, cfg_text, err)))
        goto prefixed;
    if ((rc = model_init(m, &cfg, err)))
        goto prefixed;
    dlen = n - 8 - hlen;
    {
        const unsigned char *data = buf + 8 + hlen;
        snprintf(crc_hex, sizeof(crc_hex), "%08lx", (unsigned long)crc32(crc32(0L, Z_NULL, 0), data,
                                                                        (uInt)dlen));
        if (strcmp(crc_hex, crc_text) != 0) {
            rc = error_set(err, ERR_INTEGRITY,
                           "'%s' is damaged: checksum %s, expected %s (truncated or changed?)", path,
                           crc_hex, crc_text);
            goto out;
        }
        if (json_object_size(hdr) != (size_t)m->params.ntensors + 1) {
            rc = error_set(err, ERR_INTEGRITY, "'%s' holds %zu tensors, the model has %d", path,
                           json_object_size(hdr) - 1, m->params.ntensors);
            goto out;
        }
        for (int i = 0; i < m->params.ntensors; i++) {
            const struct nn_tensor *t = &m->params.tensors[i];
            json_t *e = json_object_get(hdr, t->name), *shape = json_object_get(e, "shape");
            json_t *offs = json_object_get(e, "data_offsets");
            json_int_t b = json_integer_value(json_array_get(offs, 0));
            json_int_t end = json_integer_value(json_array_get(offs, 1));
            const char *dtype = json_string_value(json_object_get(e, "dtype"));
            int ok = e && dtype && !strcmp(dtype, "F32") && json_array_size(shape) == (size_t)t->ndim;
            for (int k = 0; ok && k < t->ndim; k++)
                ok = json_integer_value(json_array_get(shape, (size_t)k)) == t->shape[k];
            if (!ok) {
                rc = error_set(err, ERR_INTEGRITY,
                               "'%s': tensor '%s' is missing or has the wrong type or shape", path,
                               t->name);
                goto out;
            }
            if (b < 0 || end < b || (size_t)end > dlen ||
                (size_t)(end - b) != t->count * sizeof(float)) {
                rc = error_set(err, ERR_INTEGRITY, "'%s': tensor '%s' lies outside the file",
                               path, t->name);
                goto out;
            }
            memcpy(m->params.data + t->offset, data + b, t->count * sizeof(float));
        }
    }
    rc = 0;
    goto out;
damaged_short:
    rc = error_set(err, ERR_INTEGRITY, "'%s' is damaged: too short for its header", path);
    goto out;
prefixed:
    error_prefix(err, "'%s'", path);
out:
    if (rc)
        model_free(m);
    json_decref(hdr);
    free(buf);
    return rc;
}

/* ------------------------------------------------------------------ */
/* versioned folders                                                    */

int modelfile_latest(const char *dir, struct error *err)
{
    return versiondir_latest(dir, err);
}

int modelfile_save(const char *dir, const struct model *m, const struct vocab *v,
                   const struct modelfile_extra *extra, int nextra, int *version, char *path_out,
                   size_t cap, struct error *err)
{
    char tmp[4096], p[4200];
    int rc;

    if ((rc = versiondir_begin(dir, tmp, sizeof(tmp), err)))
        return rc;
    snprintf(p, sizeof(p), "%s/model.safetensors", tmp);
    if ((rc = safetensors_save(m, p, err)))
        goto fail;
    snprintf(p, sizeof(p), "%s/vocab.json", tmp);
    if ((rc = vocab_save(v, p, err)))
        goto fail;
    if ((rc = fs_fsync_path(p, err)))
        goto fail;
    for (int i = 0; i < nextra; i++) {
        if (strchr(extra[i].name, '/') || extra[i].name[0] == '.') {
            rc = error_set(err, ERR_USAGE, "bad file name '%s'", extra[i].name);
            goto fail;
        }
        snprintf(p, sizeof(p), "%s/%s", tmp, extra[i].name);
        if ((rc = fs_write_text(p, extra[i].text, err)))
            goto fail;
    }
    return versiondir_commit(dir, tmp, version, path_out, cap, err);
fail:
    versiondir_abort(tmp);
    return rc;
}

int modelfile_load(const char *dir, int version, struct model *m, struct vocab *v, int *loaded,
                   struct error *err)
{
    char p[4200];
    int rc;

    if (version <= 0) {
        version = modelfile_latest(dir, err);
        if (version < 0)
            return -version;
        if (version == 0)
            return error_set(err, ERR_NOTFOUND, "no model in '%s'; run 'movierec train' first",
                             dir);
    }
    snprintf(p, sizeof(p), "%s/%d/model.safetensors", dir, version);
    if ((rc = safetensors_load(m, p, err)))
        return rc;
    snprintf(p, sizeof(p), "%s/%d/vocab.json", dir, version);
    if ((rc = vocab_load(v, p, err))) {
        model_free(m);
        return rc;
    }
    if (m->cfg.nusers != v->nusers + 1 || m->cfg.nmovies != v->nmovies + 1 ||
        m->cfg.noccs != v->occupations.n + 1 || m->cfg.ngenres != v->genres.n + 1 ||
        m->cfg.nwords != v->words.n + 1) {
        model_free(m);
        vocab_free(v);
        return error_set(err, ERR_INTEGRITY,
                         "'%s/%d': the vocabulary does not match the weights", dir, version);
    }
    if (loaded)
        *loaded = version;
    return 0;
}
