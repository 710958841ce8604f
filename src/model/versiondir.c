/*
 * versiondir.c - numbered, atomic version folders (versiondir.h).
 */
#include "versiondir.h"
#include "../util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_version(const char *name)
{
    if (!*name || strlen(name) > 9)
        return 0;
    for (const char *p = name; *p; p++)
        if (*p < '0' || *p > '9')
            return 0;
    return name[0] != '0';
}

int versiondir_latest(const char *dir, struct error *err)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int best = 0;
    if (!d) {
        if (errno == ENOENT)
            return 0;
        return -error_set(err, ERR_IO, "cannot read '%s': %s", dir, strerror(errno));
    }
    while ((e = readdir(d)))
        if (is_version(e->d_name)) {
            int v = (int)strtol(e->d_name, NULL, 10);
            if (v > best)
                best = v;
        }
    closedir(d);
    return best;
}

/* Removes a flat folder of files (a version being written). */
void versiondir_abort(const char *tmp)
{
    DIR *d = opendir(tmp);
    struct dirent *e;
    char p[4400];
    if (!d)
        return;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof(p), "%s/%s", tmp, e->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(tmp);
}

int versiondir_begin(const char *dir, char *tmp, size_t cap, struct error *err)
{
    int rc;
    if ((rc = fs_mkdir_p(dir, err)))
        return rc;
    if ((size_t)snprintf(tmp, cap, "%s/.tmp-%d-XXXXXX", dir, (int)getpid()) >= cap)
        return error_set(err, ERR_USAGE, "folder name too long: '%s'", dir);
    if (!mkdtemp(tmp))
        return error_set(err, ERR_IO, "cannot create a folder in '%s': %s", dir, strerror(errno));
    chmod(tmp, 0755); /* mkdtemp's 0700 would stay on the version */
    return 0;
}

int versiondir_commit(const char *dir, const char *tmp, int *version, char *path_out, size_t cap,
                      struct error *err)
{
    char final[4096];
    int ver;

    fs_fsync_path(tmp, NULL);
    ver = versiondir_latest(dir, err);
    if (ver < 0) {
        versiondir_abort(tmp);
        return -ver;
    }
    /* Another writer may take a number at the same time: try the next. */
    for (int tries = 0;; tries++) {
        ver++;
        snprintf(final, sizeof(final), "%s/%d", dir, ver);
        if (rename(tmp, final) == 0)
            break;
        if ((errno != EEXIST && errno != ENOTEMPTY) || tries > 100) {
            int rc = error_set(err, ERR_IO, "cannot rename '%s' to '%s': %s", tmp, final,
                               strerror(errno));
            versiondir_abort(tmp);
            return rc;
        }
    }
    fs_fsync_path(dir, NULL);
    *version = ver;
    if (path_out)
        snprintf(path_out, cap, "%s", final);
    return 0;
}

int versiondir_find(const char *dir, int version, const char *what, char *path, size_t cap,
                    int *resolved, struct error *err)
{
    struct stat st;

    if (version <= 0) {
        version = versiondir_latest(dir, err);
        if (version < 0)
            return -version;
        if (version == 0)
            return error_set(err, ERR_NOTFOUND, "no %s in '%s'", what, dir);
    }
    if ((size_t)snprintf(path, cap, "%s/%d", dir, version) >= cap)
        return error_set(err, ERR_USAGE, "folder name too long: '%s'", dir);
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
        return error_set(err, ERR_NOTFOUND, "no version %d of the %s in '%s'", version, what, dir);
    if (resolved)
        *resolved = version;
    return 0;
}
