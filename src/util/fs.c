#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fs_mkdir_p(const char *path, struct error *err)
{
    char tmp[4096];
    size_t n = strlen(path);
    struct stat st;

    if (n == 0 || n >= sizeof(tmp))
        return error_set(err, ERR_USAGE, "bad folder name '%s'", path);
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == '\0') {
            char save = tmp[i];
            tmp[i] = '\0';
            if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                return error_set(err, ERR_IO, "cannot create '%s': %s", tmp, strerror(errno));
            tmp[i] = save;
        }
    }
    if (stat(path, &st) < 0)
        return error_set(err, ERR_IO, "cannot create '%s': %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return error_set(err, ERR_IO, "'%s' is not a folder", path);
    return 0;
}

int fs_fsync_path(const char *path, struct error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return error_set(err, ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    if (fsync(fd) < 0 && errno != EINVAL) { /* some file systems cannot sync folders */
        int e = errno;
        close(fd);
        return error_set(err, ERR_IO, "cannot sync '%s': %s", path, strerror(e));
    }
    close(fd);
    return 0;
}

int fs_write_text(const char *path, const char *text, struct error *err)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return error_set(err, ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    if (fputs(text, f) < 0 || fflush(f) || fsync(fileno(f))) {
        fclose(f);
        return error_set(err, ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    }
    if (fclose(f))
        return error_set(err, ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    return 0;
}
