/*
 * versiondir.h - numbered, atomic version folders: dir/1/, dir/2/, ...
 * (TensorFlow Serving's layout), shared by the deep models (modelfile.h)
 * and the recall models (recall/bundle.h).
 *
 * A version is written into a temporary folder dir/.tmp-<pid>-XXXXXX
 * (versiondir_begin), its files fsync'd by their writer, then
 * versiondir_commit() fsyncs the folder and renames it to the next free
 * number (another writer may take a number at the same time: it tries the
 * next) and fsyncs dir: a crash never leaves half a version under a
 * number. Version folders are names of 1 to 9 digits without a leading 0;
 * everything else in dir is ignored.
 */
#ifndef MOVIEREC_VERSIONDIR_H
#define MOVIEREC_VERSIONDIR_H

#include <stddef.h>

#include "../util/error.h"

/* The highest version number under dir, 0 when there is none (or no dir);
 * minus an error code when dir cannot be read. */
int versiondir_latest(const char *dir, struct error *err);

/* Makes dir (and its parents) and a fresh, empty temporary folder in it,
 * whose path goes to tmp (cap bytes). */
int versiondir_begin(const char *dir, char *tmp, size_t cap, struct error *err);

/* Renames tmp to the next version of dir; *version gets its number and
 * path_out (cap bytes, may be NULL) its folder. On failure tmp is removed. */
int versiondir_commit(const char *dir, const char *tmp, int *version, char *path_out, size_t cap,
                      struct error *err);

/* Removes tmp and the files in it (after a failed write). */
void versiondir_abort(const char *tmp);

/* The folder of version `version` of dir (0: the latest) into path (cap
 * bytes) and its number into *resolved. ERR_NOTFOUND when there is no
 * version at all or not that one; what is the thing looked for in the
 * message ("no <what> in '<dir>'"). */
int versiondir_find(const char *dir, int version, const char *what, char *path, size_t cap,
                    int *resolved, struct error *err);

#endif
