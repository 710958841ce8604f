/*
 * modelfile.h - models on disk: models/<label>/<version>/ holding
 *   model.safetensors  the weights (safetensors: PyTorch and other tools
 *                      read it), with the config and a CRC-32 of the data
 *                      in its metadata
 *   vocab.json         the vocabularies (features.h)
 *   meta.json          label, options, metrics, time, data set
 *   metrics.csv/.json, report.html   the training report (report.h)
 * Versions are whole numbers counting up (TensorFlow Serving's layout). A
 * version is written in a temporary folder, fsync'd, then renamed into
 * place: a crash never leaves half a model under a version number.
 */
#ifndef MOVIEREC_MODELFILE_H
#define MOVIEREC_MODELFILE_H

#include "features.h"
#include "model.h"

/* Writes the weights of m (with config and checksum) to path. */
int safetensors_save(const struct model *m, const char *path, struct error *err);
/* Reads path into m (initialised here; model_free() it): checks the
 * format, every tensor's dtype, shape and bounds, and the checksum. */
int safetensors_load(struct model *m, const char *path, struct error *err);

/* A text file to write beside the weights (meta.json, the report). */
struct modelfile_extra {
    const char *name; /* a plain file name */
    const char *text;
};

/* Saves a new version under dir (models/<label>) with the extra files.
 * The version number is returned in *version and its folder in path_out
 * (cap bytes). */
int modelfile_save(const char *dir, const struct model *m, const struct vocab *v,
                   const struct modelfile_extra *extra, int nextra, int *version, char *path_out,
                   size_t cap, struct error *err);

/* The highest version number under dir, 0 when there is none. */
int modelfile_latest(const char *dir, struct error *err);

/* Loads version `version` (0: the latest) from dir. */
int modelfile_load(const char *dir, int version, struct model *m, struct vocab *v, int *loaded,
                   struct error *err);

#endif
