/*
 * fs.h - small file-system helpers shared by the modules that write
 * folders and durable files.
 */
#ifndef MOVIEREC_FS_H
#define MOVIEREC_FS_H

#include "error.h"

/* Makes path and its missing parents (mode 0755); fails when path exists
 * and is not a folder. */
int fs_mkdir_p(const char *path, struct error *err);

/* fsync()s a file or a folder (after a rename, for the new entry). */
int fs_fsync_path(const char *path, struct error *err);

/* Writes text to path (created or truncated) and fsyncs it. */
int fs_write_text(const char *path, const char *text, struct error *err);

#endif
