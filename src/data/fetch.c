/*
 * fetch.c - downloading a MovieLens set (libcurl), checking its MD5
 * (OpenSSL EVP) and unzipping it safely (libarchive's reader; the files
 * are written here, not by archive_write_disk, so that every path is
 * checked against the destination folder).
 */
#include "fetch.h"
#include "../util/fs.h"

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/banned.h"

#define PATH_CAP 4096
#define MD5_FILE_MAX 4096                   /* a .md5 file is one short line */
#define UNZIP_MAX_BYTES (64ULL << 30)       /* far above ml-32m's ~1 GB */
#define UNZIP_MAX_ENTRIES 100000
#define DEFAULT_CONNECT_TIMEOUT 15L
#define DEFAULT_STALL_TIMEOUT 30L
#define STALL_BYTES_PER_S 1024L

/* ---- the known sets ---- */

static const struct fetch_set sets[] = {
    {"ml-100k", "u.data", "5 MB", "100,000 ratings of 1,682 movies by 943 users (1998)"},
    {"ml-1m", "ratings.dat", "6 MB", "1 million ratings of 3,706 movies by 6,040 users"},
    {"ml-latest-small", "ratings.csv", "1 MB", "100,836 ratings and tags of 9,742 movies"},
    {"ml-25m", "ratings.csv", "250 MB", "25 million ratings and tags of 62,423 movies"},
    {"ml-32m", "ratings.csv", "239 MB", "32 million ratings and tags of 87,585 movies"},
};

const struct fetch_set *fetch_sets(size_t *n)
{
    if (n)
        *n = sizeof(sets) / sizeof(*sets);
    return sets;
}

const struct fetch_set *fetch_set_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof(sets) / sizeof(*sets); i++)
        if (!strcmp(sets[i].name, name))
            return &sets[i];
    return NULL;
}

char *fetch_set_names(char *out, size_t cap)
{
    size_t len = 0;

    if (!cap)
        return out;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof(sets) / sizeof(*sets); i++) {
        int w = snprintf(out + len, cap - len, "%s%s", i ? ", " : "", sets[i].name);
        if (w < 0 || (size_t)w >= cap - len)
            break;
        len += (size_t)w;
    }
    return out;
}

const char *fetch_base(const struct fetch_opts *opts)
{
    const char *env;

    if (opts && opts->base && *opts->base)
        return opts->base;
    env = getenv(FETCH_BASE_ENV);
    if (env && *env)
        return env;
    return FETCH_BASE_DEFAULT;
}

/* ---- small helpers ---- */

/* snprintf into a path buffer; a truncated path is an error. */
static int path_fmt(char *out, size_t cap, struct error *err, const char *fmt, ...)
    ERROR_PRINTF(4, 5);
static int path_fmt(char *out, size_t cap, struct error *err, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap)
        return error_set(err, ERR_USAGE, "path too long: '%.64s...'", out);
    return 0;
}

static int rmtree_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
    return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* Removes path and everything below it without following links. */
static int rmtree(const char *path, struct error *err)
{
    struct stat st;

    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0
                               : error_set(err, ERR_IO, "cannot remove '%s': %s", path,
                                           strerror(errno));
    if (!S_ISDIR(st.st_mode)) {
        if (unlink(path) < 0 && errno != ENOENT)
            return error_set(err, ERR_IO, "cannot remove '%s': %s", path, strerror(errno));
        return 0;
    }
    if (nftw(path, rmtree_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return error_set(err, ERR_IO, "cannot remove '%s': %s", path, strerror(errno));
    return 0;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void hex_digest(const unsigned char *d, unsigned n, char out[33])
{
    static const char hx[] = "0123456789abcdef";
    unsigned i;
    for (i = 0; i < n && i < 16; i++) {
        out[2 * i] = hx[d[i] >> 4];
        out[2 * i + 1] = hx[d[i] & 15];
    }
    out[2 * i] = '\0';
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int fetch_md5_parse(const char *text, size_t n, char out[33])
{
    size_t i = 0;

    while (i < n) {
        size_t start = i;
        if (!is_hex(text[i])) {
            i++;
            continue;
        }
        while (i < n && is_hex(text[i]))
            i++;
        if (i - start == 32) {
            for (size_t k = 0; k < 32; k++) {
                char c = text[start + k];
                out[k] = (c >= 'A' && c <= 'F') ? (char)(c - 'A' + 'a') : c;
            }
            out[32] = '\0';
            return 0;
        }
    }
    return -1;
}

static EVP_MD_CTX *md5_new(void)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md && EVP_DigestInit_ex(md, EVP_md5(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return NULL;
    }
    return md;
}

static int md5_finish(EVP_MD_CTX *md, char out[33])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;

    if (EVP_DigestFinal_ex(md, d, &n) != 1 || n != 16)
        return -1;
    hex_digest(d, n, out);
    return 0;
}

static int md5_file_progress(const char *path, char out[33], fetch_progress_fn progress,
                             void *ctx, struct error *err)
{
    EVP_MD_CTX *md = NULL;
    unsigned char *buf = NULL;
    uint64_t done = 0, total = 0;
    struct stat st;
    int fd, rc = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return error_set(err, ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    if (fstat(fd, &st) == 0 && st.st_size > 0)
        total = (uint64_t)st.st_size;
    md = md5_new();
    buf = malloc(1 << 16);
    if (!md || !buf) {
        rc = error_set(err, ERR_NOMEM, "cannot hash '%s': out of memory", path);
        goto out;
    }
    for (;;) {
        ssize_t r = read(fd, buf, 1 << 16);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = error_set(err, ERR_IO, "cannot read '%s': %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        if (EVP_DigestUpdate(md, buf, (size_t)r) != 1) {
            rc = error_set(err, ERR_IO, "cannot hash '%s'", path);
            goto out;
        }
        done += (uint64_t)r;
        if (progress && progress(ctx, FETCH_VERIFY, done, total)) {
            rc = error_set(err, ERR_IO, "checking '%s' interrupted", path);
            goto out;
        }
    }
    if (md5_finish(md, out) < 0)
        rc = error_set(err, ERR_IO, "cannot hash '%s'", path);
out:
    free(buf);
    EVP_MD_CTX_free(md);
    close(fd);
    return rc;
}

int fetch_md5_file(const char *path, char out[33], struct error *err)
{
    return md5_file_progress(path, out, NULL, NULL, err);
}

/* ---- downloading ---- */

/* Where the bytes of a download go: a file (fd >= 0) or memory. */
struct sink {
    int fd;
    const char *path;
    char *mem; /* mem_cap bytes; at most mem_cap-1 used, then NUL */
    size_t len, mem_cap;
    EVP_MD_CTX *md; /* hashed on the way when non-NULL */
    int werrno;     /* errno of a failed write */
    int overflow;   /* memory target full */
    int cancelled;  /* the progress callback said stop */
    enum fetch_stage stage;
    fetch_progress_fn progress;
    void *ctx;
};

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
    struct sink *s = ud;
    size_t n = size * nmemb;

    if (s->fd >= 0) {
        if (write_all(s->fd, p, n) < 0) {
            s->werrno = errno;
            return 0;
        }
    } else {
        if (n >= s->mem_cap - s->len) {
            s->overflow = 1;
            return 0;
        }
        memcpy(s->mem + s->len, p, n);
        s->len += n;
        s->mem[s->len] = '\0';
    }
    if (s->md && EVP_DigestUpdate(s->md, p, n) != 1) {
        s->werrno = EIO;
        return 0;
    }
    return n;
}

static int on_xfer(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                   curl_off_t ulnow)
{
    struct sink *s = ud;
    (void)ultotal;
    (void)ulnow;
    if (s->progress &&
        s->progress(s->ctx, s->stage, dlnow > 0 ? (uint64_t)dlnow : 0,
                    dltotal > 0 ? (uint64_t)dltotal : 0)) {
        s->cancelled = 1;
        return 1;
    }
    return 0;
}

/* Downloads url into s. hint is a second line added to network errors. */
static int download(const char *url, struct sink *s, const struct fetch_opts *o, const char *hint,
                    struct error *err)
{
    char ebuf[CURL_ERROR_SIZE];
    CURLcode c = CURLE_OK;
    CURL *h;
    long connect = o->connect_timeout > 0 ? o->connect_timeout : DEFAULT_CONNECT_TIMEOUT;
    long stall = o->stall_timeout > 0 ? o->stall_timeout : DEFAULT_STALL_TIMEOUT;
    const char *why;
    size_t n;
    int rc = 0;

    h = curl_easy_init();
    if (!h)
        return error_set(err, ERR_NOMEM, "cannot download '%s': cannot start libcurl", url);
    ebuf[0] = '\0';
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (c == CURLE_OK)                                                                         \
            c = curl_easy_setopt(h, opt, val);                                                     \
    } while (0)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_ERRORBUFFER, ebuf);
    SET(CURLOPT_WRITEFUNCTION, on_write);
    SET(CURLOPT_WRITEDATA, (void *)s);
    SET(CURLOPT_NOPROGRESS, 0L);
    SET(CURLOPT_XFERINFOFUNCTION, on_xfer);
    SET(CURLOPT_XFERINFODATA, (void *)s);
    SET(CURLOPT_FOLLOWLOCATION, 1L);
    SET(CURLOPT_MAXREDIRS, 10L);
    SET(CURLOPT_FAILONERROR, 1L);
    SET(CURLOPT_CONNECTTIMEOUT, connect);
    SET(CURLOPT_LOW_SPEED_LIMIT, STALL_BYTES_PER_S);
    SET(CURLOPT_LOW_SPEED_TIME, stall);
    SET(CURLOPT_USERAGENT, FETCH_USER_AGENT);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    SET(CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
    SET(CURLOPT_PROTOCOLS_STR, "http,https,file");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS | CURLPROTO_FILE));
    SET(CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
#undef SET
    if (c != CURLE_OK) {
        rc = error_set(err, ERR_NET, "cannot download '%s': %s", url, curl_easy_strerror(c));
        goto out;
    }
    if (s->progress && s->progress(s->ctx, s->stage, 0, 0)) {
        rc = error_set(err, ERR_NET, "download of '%s' interrupted", url);
        goto out;
    }
    c = curl_easy_perform(h);
    if (c == CURLE_OK)
        goto out;
    if (s->werrno) {
        rc = error_set(err, ERR_IO, "cannot write '%s': %s", s->path ? s->path : "(memory)",
                       strerror(s->werrno));
    } else if (s->overflow) {
        rc = error_set(err, ERR_FORMAT, "'%s' is larger than %zu bytes; not a checksum file", url,
                       s->mem_cap - 1);
    } else if (s->cancelled) {
        rc = error_set(err, ERR_NET, "download of '%s' interrupted", url);
    } else {
        why = ebuf[0] ? ebuf : curl_easy_strerror(c);
        n = strlen(why);
        while (n > 0 && (why[n - 1] == '\n' || why[n - 1] == '\r'))
            n--;
        rc = error_set(err, ERR_NET, "cannot download '%s': %.*s%s%s", url, (int)n, why,
                       hint ? "\n" : "", hint ? hint : "");
    }
out:
    curl_easy_cleanup(h);
    return rc;
}

/* ---- unzipping ---- */

/* Copies an entry's name into out as a clean relative path: "./" and
 * empty components dropped, absolute paths and ".." refused. Returns 0
 * (out may then be "" for an entry naming the top itself) or -1. */
static int clean_rel(const char *name, char *out, size_t cap)
{
    size_t len = 0;
    const char *p = name;

    if (!name || !*name || name[0] == '/' || name[0] == '\\')
        return -1;
    out[0] = '\0';
    while (*p) {
        const char *q = p;
        size_t n;
        while (*q && *q != '/' && *q != '\\')
            q++;
        n = (size_t)(q - p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return -1;
        if (*q == '\\')
            return -1; /* a Windows separator: refuse rather than guess */
        if (n > 0 && !(n == 1 && p[0] == '.')) {
            if (len + (len ? 1 : 0) + n + 1 > cap)
                return -1;
            if (len)
                out[len++] = '/';
            memcpy(out + len, p, n);
            len += n;
            out[len] = '\0';
        }
        p = *q ? q + 1 : q;
    }
    return 0;
}

/* Makes dest/rel and the folders above it; dest exists. */
static int mkdir_under(const char *dest, const char *rel, int last_too, struct error *err)
{
    char p[PATH_CAP];
    size_t base, n;
    struct stat st;

    if (path_fmt(p, sizeof(p), err, "%s/%s", dest, rel))
        return ERR_USAGE;
    base = strlen(dest) + 1;
    n = strlen(p);
    for (size_t i = base; i <= n; i++) {
        if (p[i] != '/' && !(p[i] == '\0' && last_too))
            continue;
        char save = p[i];
        p[i] = '\0';
        if (mkdir(p, 0755) < 0) {
            if (errno != EEXIST)
                return error_set(err, ERR_IO, "cannot create '%s': %s", p, strerror(errno));
            if (lstat(p, &st) < 0 || !S_ISDIR(st.st_mode))
                return error_set(err, ERR_FORMAT, "'%s' is both a file and a folder in the zip",
                                 p + base);
        }
        p[i] = save;
    }
    return 0;
}

static int unzip_file(struct archive *a, const char *dest, const char *rel, const char *zip,
                      char *buf, size_t cap, uint64_t *total, struct error *err)
{
    char p[PATH_CAP];
    int fd, rc = 0;

    if ((rc = mkdir_under(dest, rel, 0, err)))
        return rc;
    if (path_fmt(p, sizeof(p), err, "%s/%s", dest, rel))
        return ERR_USAGE;
    fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (errno == EEXIST)
            return error_set(err, ERR_FORMAT, "cannot unzip '%s': '%s' appears twice", zip, rel);
        return error_set(err, ERR_IO, "cannot create '%s': %s", p, strerror(errno));
    }
    for (;;) {
        la_ssize_t r = archive_read_data(a, buf, cap);
        if (r == 0)
            break;
        if (r < 0) {
            rc = error_set(err, ERR_FORMAT, "cannot unzip '%s': %s: %s", zip, rel,
                           archive_error_string(a) ? archive_error_string(a) : "bad data");
            break;
        }
        *total += (uint64_t)r;
        if (*total > UNZIP_MAX_BYTES) {
            rc = error_set(err, ERR_FORMAT, "cannot unzip '%s': it unpacks to more than %llu GB",
                           zip, UNZIP_MAX_BYTES >> 30);
            break;
        }
        if (write_all(fd, buf, (size_t)r) < 0) {
            rc = error_set(err, ERR_IO, "cannot write '%s': %s", p, strerror(errno));
            break;
        }
    }
    if (close(fd) < 0 && !rc)
        rc = error_set(err, ERR_IO, "cannot write '%s': %s", p, strerror(errno));
    return rc;
}

int fetch_unzip(const char *zip, const char *dest, fetch_progress_fn progress, void *ctx,
                struct error *err)
{
    struct archive *a = NULL;
    struct archive_entry *e;
    char rel[PATH_CAP];
    char *buf = NULL;
    const size_t cap = 1 << 16;
    uint64_t zsize = 0, total = 0;
    struct stat st;
    long nentries = 0;
    int made = 0, rc = 0;

    if (exists(dest))
        return error_set(err, ERR_EXISTS, "cannot unzip into '%s': it already exists", dest);
    if (stat(zip, &st) < 0)
        return error_set(err, ERR_IO, "cannot open '%s': %s", zip, strerror(errno));
    zsize = (uint64_t)st.st_size;
    buf = malloc(cap);
    a = archive_read_new();
    if (!buf || !a) {
        rc = error_set(err, ERR_NOMEM, "cannot unzip '%s': out of memory", zip);
        goto out;
    }
    archive_read_support_format_zip(a);
    if (archive_read_open_filename(a, zip, 1 << 16) != ARCHIVE_OK) {
        rc = error_set(err, ERR_FORMAT, "cannot unzip '%s': %s", zip,
                       archive_error_string(a) ? archive_error_string(a) : "not a zip file");
        goto out;
    }
    if (mkdir(dest, 0755) < 0) {
        rc = error_set(err, ERR_IO, "cannot create '%s': %s", dest, strerror(errno));
        goto out;
    }
    made = 1;
    if (progress && progress(ctx, FETCH_UNZIP, 0, zsize)) {
        rc = error_set(err, ERR_IO, "unzipping '%s' interrupted", zip);
        goto out;
    }
    for (;;) {
        const char *name;
        int r = archive_read_next_header(a, &e);
        mode_t type;

        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            rc = error_set(err, ERR_FORMAT, "cannot unzip '%s': %s", zip,
                           archive_error_string(a) ? archive_error_string(a) : "not a zip file");
            goto out;
        }
        if (++nentries > UNZIP_MAX_ENTRIES) {
            rc = error_set(err, ERR_FORMAT, "cannot unzip '%s': more than %d entries", zip,
                           UNZIP_MAX_ENTRIES);
            goto out;
        }
        name = archive_entry_pathname_utf8(e);
        if (!name)
            name = archive_entry_pathname(e);
        if (!name || clean_rel(name, rel, sizeof(rel)) < 0) {
            rc = error_set(err, ERR_FORMAT, "cannot unzip '%s': refusing unsafe path '%s'", zip,
                           name ? name : "(unreadable)");
            goto out;
        }
        type = archive_entry_filetype(e);
        if (archive_entry_hardlink(e) || type == AE_IFLNK) {
            rc = error_set(err, ERR_FORMAT, "cannot unzip '%s': refusing link '%s'", zip, name);
            goto out;
        }
        if (type == AE_IFDIR) {
            if (rel[0] && (rc = mkdir_under(dest, rel, 1, err)))
                goto out;
        } else if (type == AE_IFREG) {
            if (!rel[0]) {
                rc = error_set(err, ERR_FORMAT, "cannot unzip '%s': file without a name", zip);
                goto out;
            }
            rc = unzip_file(a, dest, rel, zip, buf, cap, &total, err);
            if (rc)
                goto out;
        } else {
            rc = error_set(err, ERR_FORMAT, "cannot unzip '%s': refusing special file '%s'", zip,
                           name);
            goto out;
        }
        if (progress) {
            la_int64_t pos = archive_filter_bytes(a, -1);
            if (progress(ctx, FETCH_UNZIP, pos > 0 ? (uint64_t)pos : 0, zsize)) {
                rc = error_set(err, ERR_IO, "unzipping '%s' interrupted", zip);
                goto out;
            }
        }
    }
out:
    if (a)
        archive_read_free(a);
    free(buf);
    if (rc && made)
        rmtree(dest, NULL);
    return rc;
}

/* ---- the whole fetch ---- */

/* The folder inside tmp that holds the set: tmp/<name>, tmp itself, or
 * the one folder in tmp, whichever holds main_file. */
static int find_set_root(const char *tmp, const struct fetch_set *set, char *out, size_t cap)
{
    char probe[PATH_CAP];
    char only[PATH_CAP] = "";
    int nfolders = 0, nother = 0;
    struct stat st;
    struct dirent *d;
    DIR *dir;

    if (snprintf(probe, sizeof(probe), "%s/%s/%s", tmp, set->name, set->main_file) <
            (int)sizeof(probe) &&
        lstat(probe, &st) == 0 && S_ISREG(st.st_mode))
        return snprintf(out, cap, "%s/%s", tmp, set->name) < (int)cap ? 0 : -1;
    if (snprintf(probe, sizeof(probe), "%s/%s", tmp, set->main_file) < (int)sizeof(probe) &&
        lstat(probe, &st) == 0 && S_ISREG(st.st_mode))
        return snprintf(out, cap, "%s", tmp) < (int)cap ? 0 : -1;
    dir = opendir(tmp);
    if (!dir)
        return -1;
    while ((d = readdir(dir)) != NULL) {
        if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
            continue;
        if (snprintf(probe, sizeof(probe), "%s/%s", tmp, d->d_name) >= (int)sizeof(probe) ||
            lstat(probe, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode) && strcmp(d->d_name, "__MACOSX") != 0) {
            nfolders++;
            snprintf(only, sizeof(only), "%s", probe);
        } else if (!S_ISDIR(st.st_mode)) {
            nother++;
        }
    }
    closedir(dir);
    if (nfolders != 1 || nother != 0)
        return -1;
    if (snprintf(probe, sizeof(probe), "%s/%s", only, set->main_file) >= (int)sizeof(probe) ||
        lstat(probe, &st) < 0 || !S_ISREG(st.st_mode))
        return -1;
    return snprintf(out, cap, "%s", only) < (int)cap ? 0 : -1;
}

struct fetch_paths {
    char base[PATH_CAP];     /* the base URL without trailing '/' */
    char md5_url[PATH_CAP];  /* <base>/<name>.zip.md5 */
    char main[PATH_CAP];     /* DIR/<name>/<main_file> */
    char part[PATH_CAP];     /* DIR/<name>.zip.part */
    char zip[PATH_CAP];      /* DIR/<name>.zip */
    char tmp[PATH_CAP];      /* DIR/.<name>.tmp */
    char old[PATH_CAP];      /* DIR/.<name>.old */
    char root[PATH_CAP];     /* the set's folder inside tmp */
    char hint[1024];
};

int fetch_dataset(const char *name, const char *dir, const struct fetch_opts *opts,
                  struct fetch_result *res, struct error *err)
{
    static const struct fetch_opts no_opts;
    struct fetch_result local;
    struct fetch_paths *P = NULL;
    const struct fetch_set *set;
    struct sink s;
    char names[256], want[33], got[33], md5_text[MD5_FILE_MAX];
    EVP_MD_CTX *md = NULL;
    const char *base;
    size_t blen;
    int keep, curl_up = 0, rc = 0, fd = -1, have_zip = 0, moved_old = 0;

    if (!opts)
        opts = &no_opts;
    if (!res)
        res = &local;
    memset(res, 0, sizeof(*res));
    keep = (opts->flags & FETCH_KEEP_ZIP) != 0;
    set = fetch_set_find(name);
    if (!set)
        return error_set(err, ERR_USAGE, "unknown data set '%s' (known: %s)", name ? name : "",
                         fetch_set_names(names, sizeof(names)));
    if (!dir || !*dir)
        return error_set(err, ERR_USAGE, "no folder to fetch '%s' into", set->name);
    P = calloc(1, sizeof(*P));
    if (!P)
        return error_set(err, ERR_NOMEM, "cannot fetch '%s': out of memory", set->name);

    base = fetch_base(opts);
    blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    if ((rc = path_fmt(P->base, sizeof(P->base), err, "%.*s", (int)blen, base)) ||
        (rc = path_fmt(P->md5_url, sizeof(P->md5_url), err, "%s/%s.zip.md5", P->base,
                       set->name)) ||
        (rc = path_fmt(res->url, sizeof(res->url), err, "%s/%s.zip", P->base, set->name)) ||
        (rc = path_fmt(res->path, sizeof(res->path), err, "%s/%s", dir, set->name)) ||
        (rc = path_fmt(P->main, sizeof(P->main), err, "%s/%s", res->path, set->main_file)) ||
        (rc = path_fmt(P->part, sizeof(P->part), err, "%s/%s.zip.part", dir, set->name)) ||
        (rc = path_fmt(P->zip, sizeof(P->zip), err, "%s/%s.zip", dir, set->name)) ||
        (rc = path_fmt(P->tmp, sizeof(P->tmp), err, "%s/.%s.tmp", dir, set->name)) ||
        (rc = path_fmt(P->old, sizeof(P->old), err, "%s/.%s.old", dir, set->name)))
        goto out;
    snprintf(P->hint, sizeof(P->hint),
             "hint: to do it by hand, download '%s', unzip it in '%s' and run "
             "'%s %s'",
             res->url, dir, opts->import_cmd ? opts->import_cmd : "movierec import", res->path);

    /* Already there? */
    if (exists(res->path)) {
        struct stat st;
        int complete = lstat(P->main, &st) == 0 && S_ISREG(st.st_mode);
        if (complete && !(opts->flags & FETCH_FORCE)) {
            res->already = 1;
            goto out;
        }
        if (!complete && !(opts->flags & FETCH_FORCE)) {
            rc = error_set(err, ERR_EXISTS,
                           "'%s' exists but holds no '%s'; move it away or fetch with --force",
                           res->path, set->main_file);
            goto out;
        }
    }
    if ((rc = fs_mkdir_p(dir, err)))
        goto out;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        rc = error_set(err, ERR_NET, "cannot download '%s': libcurl failed to start", res->url);
        goto out;
    }
    curl_up = 1;

    /* 1. The checksum. */
    memset(&s, 0, sizeof(s));
    s.fd = -1;
    s.mem = md5_text;
    s.mem_cap = sizeof(md5_text);
    s.stage = FETCH_CHECKSUM;
    s.progress = opts->progress;
    s.ctx = opts->progress_ctx;
    md5_text[0] = '\0';
    if ((rc = download(P->md5_url, &s, opts, P->hint, err)))
        goto out;
    if (fetch_md5_parse(md5_text, s.len, want) < 0) {
        rc = error_set(err, ERR_FORMAT, "no MD5 checksum in '%s'", P->md5_url);
        goto out;
    }

    /* 2. The zip: reuse one left by --keep-zip when its checksum holds
     * (unless forced to download again). */
    if (!(opts->flags & FETCH_FORCE)) {
        struct stat st;
        if (lstat(P->zip, &st) == 0 && S_ISREG(st.st_mode)) {
            if ((rc = md5_file_progress(P->zip, got, opts->progress, opts->progress_ctx, err)))
                goto out;
            if (!strcmp(got, want))
                res->reused_zip = 1;
        }
    }
    if (!res->reused_zip) {
        fd = open(P->part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            rc = error_set(err, ERR_IO, "cannot create '%s': %s", P->part, strerror(errno));
            goto out;
        }
        md = md5_new();
        if (!md) {
            rc = error_set(err, ERR_NOMEM, "cannot hash '%s': MD5 unavailable", P->part);
            goto out;
        }
        memset(&s, 0, sizeof(s));
        s.fd = fd;
        s.path = P->part;
        s.md = md;
        s.stage = FETCH_DOWNLOAD;
        s.progress = opts->progress;
        s.ctx = opts->progress_ctx;
        if ((rc = download(res->url, &s, opts, P->hint, err)))
            goto out;
        if (fsync(fd) < 0 || close(fd) < 0) {
            fd = -1;
            rc = error_set(err, ERR_IO, "cannot write '%s': %s", P->part, strerror(errno));
            goto out;
        }
        fd = -1;
        if (md5_finish(md, got) < 0) {
            rc = error_set(err, ERR_IO, "cannot hash '%s'", P->part);
            goto out;
        }
        if (strcmp(got, want) != 0) {
            rc = error_set(err, ERR_INTEGRITY, "checksum mismatch for '%s.zip': expected %s, got %s",
                           set->name, want, got);
            goto out;
        }
        if (rename(P->part, P->zip) < 0) {
            rc = error_set(err, ERR_IO, "cannot rename '%s' to '%s': %s", P->part, P->zip,
                           strerror(errno));
            goto out;
        }
    }
    have_zip = 1;
    memcpy(res->md5, want, sizeof(res->md5));

    /* 3. Unzip beside, then move into place. */
    if ((rc = rmtree(P->tmp, err)) ||
        (rc = fetch_unzip(P->zip, P->tmp, opts->progress, opts->progress_ctx, err)))
        goto out;
    if (find_set_root(P->tmp, set, P->root, sizeof(P->root)) < 0) {
        rc = error_set(err, ERR_FORMAT, "'%s.zip' holds no %s/%s; is it a MovieLens set?",
                       set->name, set->name, set->main_file);
        goto out;
    }
    if ((rc = rmtree(P->old, err))) /* left by a fetch killed mid-swap */
        goto out;
    if (exists(res->path)) {
        if (rename(res->path, P->old) < 0) {
            rc = error_set(err, ERR_IO, "cannot move '%s' aside: %s", res->path, strerror(errno));
            goto out;
        }
        moved_old = 1;
    }
    if (rename(P->root, res->path) < 0) {
        rc = error_set(err, ERR_IO, "cannot rename '%s' to '%s': %s", P->root, res->path,
                       strerror(errno));
        if (moved_old && rename(P->old, res->path) == 0)
            moved_old = 0;
        goto out;
    }
    if (moved_old)
        rmtree(P->old, NULL);
    moved_old = 0;
    if (keep)
        snprintf(res->zip, sizeof(res->zip), "%s", P->zip);

out:
    if (fd >= 0)
        close(fd);
    EVP_MD_CTX_free(md);
    if (P && curl_up) {
        /* Success or not, leave no half-made files behind; the zip stays
         * only when asked for (and its checksum held). */
        if (exists(P->part))
            unlink(P->part);
        if (exists(P->tmp))
            rmtree(P->tmp, NULL);
        if (have_zip && !keep)
            unlink(P->zip);
    }
    if (curl_up)
        curl_global_cleanup();
    free(P);
    return rc;
}
