/*
 * test_fetch.c - fetch_dataset() against mirrors this test builds itself:
 * a folder of zips (written with libarchive) and .md5 files reached over
 * file://, and a closed port on 127.0.0.1. Never touches the network.
 */
#include "testutil.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>

#include "../../src/data/fetch.h"

/* ---- fixtures ---- */

struct entry {
    const char *name;
    const char *data; /* file content, or a link's target */
    char type;        /* 'f' file, 'd' folder, 'l' symbolic link */
};

struct env {
    char root[4096];   /* the test's temporary folder */
    char mirror[4096]; /* root/mirror: NAME.zip and NAME.zip.md5 */
    char data[4096];   /* root/data: where sets are fetched to */
    char base[4200];   /* file://<mirror> */
};

static const char u_data[] = "1\t1\t5\t874965758\n1\t2\t3\t876893171\n2\t1\t4\t888550871\n";
static const char u_item[] = "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0|0|"
                             "0|0|0|0|0\n";
static const char ratings_csv[] = "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n";

static void make_zip(const char *path, const struct entry *e, size_t n)
{
    struct archive *a = archive_write_new();
    assert_non_null(a);
    assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *ae = archive_entry_new();
        size_t len = e[i].type == 'f' ? strlen(e[i].data) : 0;
        archive_entry_set_pathname(ae, e[i].name);
        archive_entry_set_mtime(ae, 1700000000, 0);
        if (e[i].type == 'd') {
            archive_entry_set_filetype(ae, AE_IFDIR);
            archive_entry_set_perm(ae, 0755);
        } else if (e[i].type == 'l') {
            archive_entry_set_filetype(ae, AE_IFLNK);
            archive_entry_set_perm(ae, 0777);
            archive_entry_set_symlink(ae, e[i].data);
        } else {
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_perm(ae, 0644);
            archive_entry_set_size(ae, (la_int64_t)len);
        }
        if (archive_write_header(a, ae) != ARCHIVE_OK)
            fail_msg("cannot write zip header for %s: %s", e[i].name, archive_error_string(a));
        if (len && archive_write_data(a, e[i].data, len) != (la_ssize_t)len)
            fail_msg("cannot write zip data for %s", e[i].name);
        archive_entry_free(ae);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

/* Puts NAME.zip (from entries) and a matching NAME.zip.md5 in the mirror.
 * style 0: "MD5 (NAME.zip) = <hex>", 1: "<hex>  NAME.zip". */
static void mirror_set(struct env *t, const char *name, const struct entry *e, size_t n, int style)
{
    char zip[4300], md5[33], line[256], file[128];
    struct error err;

    snprintf(zip, sizeof(zip), "%s/%s.zip", t->mirror, name);
    make_zip(zip, e, n);
    assert_int_equal(fetch_md5_file(zip, md5, &err), 0);
    if (style == 0)
        snprintf(line, sizeof(line), "MD5 (%s.zip) = %s\n", name, md5);
    else
        snprintf(line, sizeof(line), "%s  %s.zip\n", md5, name);
    snprintf(file, sizeof(file), "%s.zip.md5", name);
    tu_write(t->mirror, file, line, (size_t)-1);
}

static void mirror_100k(struct env *t)
{
    const struct entry e[] = {
        {"ml-100k/", NULL, 'd'},
        {"ml-100k/u.data", u_data, 'f'},
        {"ml-100k/u.item", u_item, 'f'},
        {"ml-100k/README", "tiny test copy\n", 'f'},
    };
    mirror_set(t, "ml-100k", e, sizeof(e) / sizeof(*e), 0);
}

static int setup(void **state)
{
    struct env *t = calloc(1, sizeof(*t));
    if (!t)
        return -1;
    tu_tmpdir(t->root);
    snprintf(t->mirror, sizeof(t->mirror), "%s/mirror", t->root);
    snprintf(t->data, sizeof(t->data), "%s/data", t->root);
    if (mkdir(t->mirror, 0755) < 0)
        return -1;
    if (t->root[0] == '/') {
        snprintf(t->base, sizeof(t->base), "file://%s", t->mirror);
    } else {
        char cwd[2048];
        if (!getcwd(cwd, sizeof(cwd)))
            return -1;
        snprintf(t->base, sizeof(t->base), "file://%s/%s", cwd, t->mirror);
    }
    unsetenv(FETCH_BASE_ENV);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct env *t = *state;
    tu_rmtree(t->root);
    free(t);
    return 0;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf)
        buf[n] = '\0';
    fclose(f);
    return buf;
}

static void assert_file(const char *dir, const char *name, const char *want)
{
    char p[4300];
    char *got;
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    got = slurp(p);
    if (!got)
        fail_msg("%s is missing", p);
    assert_string_equal(got, want);
    free(got);
}

/* Number of entries in dir other than . and .. (-1 when it cannot be read). */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d)
        return errno == ENOENT ? 0 : -1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static int path_exists(const char *dir, const char *name)
{
    char p[4300];
    struct stat st;
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return lstat(p, &st) == 0;
}

static void assert_contains(const char *s, const char *needle)
{
    if (!strstr(s, needle))
        fail_msg("'%s' does not contain '%s'", s, needle);
}

/* ---- tests ---- */

static void test_md5(void **state)
{
    char out[33];
    struct env *t = *state;
    struct error err;

    assert_int_equal(fetch_md5_parse("MD5 (ml-100k.zip) = 0e33842e24a9c977be4e0107933c0723", 52,
                                     out),
                     0);
    assert_string_equal(out, "0e33842e24a9c977be4e0107933c0723");
    assert_int_equal(fetch_md5_parse("0E33842E24A9C977BE4E0107933C0723  ml-100k.zip\n", 46, out),
                     0);
    assert_string_equal(out, "0e33842e24a9c977be4e0107933c0723");
    /* 33 hex digits is not an MD5; nor is nothing. */
    assert_int_equal(fetch_md5_parse("0e33842e24a9c977be4e0107933c07231", 33, out), -1);
    assert_int_equal(fetch_md5_parse("", 0, out), -1);
    assert_int_equal(fetch_md5_parse("not found\n", 10, out), -1);

    tu_write(t->root, "abc", "abc", (size_t)-1);
    tu_write(t->root, "empty", "", 0);
    {
        char p[4300];
        snprintf(p, sizeof(p), "%s/abc", t->root);
        assert_int_equal(fetch_md5_file(p, out, &err), 0);
        assert_string_equal(out, "900150983cd24fb0d6963f7d28e17f72");
        snprintf(p, sizeof(p), "%s/empty", t->root);
        assert_int_equal(fetch_md5_file(p, out, &err), 0);
        assert_string_equal(out, "d41d8cd98f00b204e9800998ecf8427e");
        snprintf(p, sizeof(p), "%s/missing", t->root);
        assert_int_equal(fetch_md5_file(p, out, &err), ERR_IO);
        assert_contains(err.msg, "cannot open");
    }
}

static void test_sets(void **state)
{
    char names[256];
    size_t n;
    (void)state;

    assert_non_null(fetch_sets(&n));
    assert_int_equal(n, 5);
    assert_string_equal(fetch_set_find("ml-100k")->main_file, "u.data");
    assert_string_equal(fetch_set_find("ml-1m")->main_file, "ratings.dat");
    assert_string_equal(fetch_set_find("ml-32m")->main_file, "ratings.csv");
    assert_null(fetch_set_find("ml-10m"));
    assert_null(fetch_set_find(NULL));
    assert_string_equal(fetch_set_names(names, sizeof(names)),
                        "ml-100k, ml-1m, ml-latest-small, ml-25m, ml-32m");
}

static int seen_stages;
static int record_stage(void *ctx, enum fetch_stage stage, uint64_t done, uint64_t total)
{
    (void)ctx;
    (void)done;
    (void)total;
    seen_stages |= 1 << stage;
    return 0;
}

static void test_good_mirror(void **state)
{
    struct env *t = *state;
    struct fetch_opts o = {0};
    struct fetch_result r;
    struct error err;
    char set[4300];

    mirror_100k(t);
    o.base = t->base;
    o.progress = record_stage;
    seen_stages = 0;
    if (fetch_dataset("ml-100k", t->data, &o, &r, &err) != 0)
        fail_msg("fetch failed: %s", err.msg);
    snprintf(set, sizeof(set), "%s/ml-100k", t->data);
    assert_string_equal(r.path, set);
    assert_int_equal(r.already, 0);
    assert_int_equal(r.reused_zip, 0);
    assert_string_equal(r.zip, "");
    assert_int_equal(strlen(r.md5), 32);
    assert_file(set, "u.data", u_data);
    assert_file(set, "u.item", u_item);
    assert_file(set, "README", "tiny test copy\n");
    /* Only the set: no .part, no zip, no temporary folder. */
    assert_int_equal(count_entries(t->data), 1);
    assert_int_equal(count_entries(set), 3);
    assert_true(seen_stages & (1 << FETCH_CHECKSUM));
    assert_true(seen_stages & (1 << FETCH_DOWNLOAD));
    assert_true(seen_stages & (1 << FETCH_UNZIP));

    /* A second fetch finds it and downloads nothing (the mirror is gone). */
    tu_write(t->mirror, "ml-100k.zip", "gone", (size_t)-1);
    assert_int_equal(fetch_dataset("ml-100k", t->data, &o, &r, &err), 0);
    assert_int_equal(r.already, 1);
    assert_file(set, "u.data", u_data);
}

static void test_env_base_and_keep_zip(void **state)
{
    struct env *t = *state;
    struct fetch_opts o = {0};
    struct fetch_result r;
    struct error err;
    char set[4300], zip[4300];
    /* No top folder and a GNU-style .md5: still lands in DIR/<name>. */
    const struct entry e[] = {
        {"ratings.csv", ratings_csv, 'f'},
        {"movies.csv", "movieId,title,genres\n1,Toy Story (1995),Animation\n", 'f'},
    };

    mirror_set(t, "ml-latest-small", e, 2, 1);
    setenv(FETCH_BASE_ENV, t->base, 1);
    assert_string_equal(fetch_base(NULL), t->base);
    o.flags = FETCH_KEEP_ZIP;
    if (fetch_dataset("ml-latest-small", t->data, &o, &r, &err) != 0)
        fail_msg("fetch failed: %s", err.msg);
    unsetenv(FETCH_BASE_ENV);
    snprintf(set, sizeof(set), "%s/ml-latest-small", t->data);
    snprintf(zip, sizeof(zip), "%s/ml-latest-small.zip", t->data);
    assert_file(set, "ratings.csv", ratings_csv);
    assert_string_equal(r.zip, zip);
    assert_true(path_exists(t->data, "ml-latest-small.zip"));
    assert_int_equal(count_entries(t->data), 2);

    /* The kept zip is reused when its checksum holds: remove the set and
     * the mirror's zip, keep the mirror's .md5. */
    tu_rmtree(t->root); /* guard: tu_rmtree only removes movierec-test-* */
    assert_int_equal(mkdir(t->root, 0755), 0);
    assert_int_equal(mkdir(t->mirror, 0755), 0);
    assert_int_equal(mkdir(t->data, 0755), 0);
    mirror_set(t, "ml-latest-small", e, 2, 1);
    {
        char from[4300];
        snprintf(from, sizeof(from), "%s/ml-latest-small.zip", t->mirror);
        assert_int_equal(rename(from, zip), 0);
    }
    o.base = t->base;
    o.flags = 0;
    if (fetch_dataset("ml-latest-small", t->data, &o, &r, &err) != 0)
        fail_msg("fetch failed: %s", err.msg);
    assert_int_equal(r.reused_zip, 1);
    assert_file(set, "ratings.csv", ratings_csv);
    assert_int_equal(count_entries(t->data), 1); /* zip removed by default */
}

static void test_bad_md5(void **state)
{
    struct env *t = *state;
    struct fetch_opts o = {0};
    struct error err;

    mirror_100k(t);
    tu_write(t->mirror, "ml-100k.zip.md5",
             "MD5 (ml-100k.zip) = 00000000000000000000000000000000\n", (size_t)-1);
    o.base = t->base;
    assert_int_equal(fetch_dataset("ml-100k", t->data, &o, NULL, &err), ERR_INTEGRITY);
    assert_int_equal(err.code, ERR_INTEGRITY);
    assert_contains(err.msg, "checksum mismatch for 'ml-100k.zip': expected "
                             "00000000000000000000000000000000, got ");
    assert_int_equal(count_entries(t->data), 0);

    /* A .md5 file without a checksum. */
    tu_write(t->mirror, "ml-100k.zip.md5", "<html>not here</html>\n", (size_t)-1);
    assert_int_equal(fetch_dataset("ml-100k", t->data, &o, NULL, &err), ERR_FORMAT);
    assert_contains(err.msg, "no MD5 checksum in");
    assert_int_equal(count_entries(t->data), 0);
}

static void test_corrupt_zip(void **state)
{
    struct env *t = *state;
    struct fetch_opts o = {0};
    struct error err;
    char junk[4096], zip[4300], md5[33], line[128];

    srand(42);
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (char)(rand() & 0xff);
    tu_write(t->mirror, "ml-100k.zip", junk, sizeof(junk));
    snprintf(zip, sizeof(zip), "%s/ml-100k.zip", t->mirror);
    assert_int_equal(fetch_md5_file(zip, md5, &err), 0);
    snprintf(line, sizeof(line), "MD5 (ml-100k.zip) = %s\n", md5);
    tu_write(t->mirror, "ml-100k.zip.md5", line, (size_t)-1);
    o.base = t->base;
    assert_int_not_equal(fetch_dataset("ml-100k", t->data, &o, NULL, &err), 0);
    assert_int_equal(err.code, ERR_FORMAT);
    assert_contains(err.msg, "cannot unzip");
    assert_int_equal(count_entries(t->data), 0);

    /* A truncated real zip: its checksum holds, its data does not. */
    mirror_100k(t);
    {
        char *whole = slurp(zip);
        struct stat st;
        assert_non_null(whole);
        assert_int_equal(stat(zip, &st), 0);
        tu_write(t->mirror, "ml-100k.zip", whole, (size_t)st.st_size / 2);
        free(whole);
    }
    assert_int_equal(fetch_md5_file(zip, md5, &err), 0);
    snprintf(line, sizeof(line), "%s  ml-100k.zip\n", md5);
    tu_write(t->mirror, "ml-100k.zip.md5", line, (size_t)-1);
    assert_int_not_equal(fetch_dataset("ml-100k", t->data, &o, NULL, &err), 0);
    assert_int_equal(count_entries(t->data), 0);

    /* A good zip that is not a MovieLens set. */
    {
        const struct entry e[] = {{"ml-100k/notes.txt", "hello\n", 'f'}};
        mirror_set(t, "ml-100k", e, 1, 0);
    }
    assert_int_equal(fetch_dataset("ml-100k", t->data, &o, NULL, &err), ERR_FORMAT);
    assert_contains(err.msg, "u.data");
    assert_int_equal(count_entries(t->data), 0);
}

static void test_unreachable(void **state)
{
    struct env *t = *state;
    struct fetch_opts o = {0};
    struct error err;
    char missing[4300];

    /* Port 1 on loopback is closed: the connection is refused at once. */
    o.base = "http://127.0.0.1:1/";
    o.connect_timeout = 5;
    assert_int_equal(fetch_dataset("ml-100k", t->data, &o, NULL, &err), ERR_NET);
    assert_int_equal(err.code, ERR_NET);
    assert_contains(err.msg, "cannot download 'http://127.0.0.1:1/ml-100k.zip.md5'");
    assert_contains(err.msg, "\nhint: ");
    assert_contains(err.msg, "'http://127.0.0.1:1/ml-100k.zip'");
    assert_contains(err.msg, "movierec import ");
    assert_int_equal(count_entries(t->data), 0);

    /* A mirror that lacks the set. */
    snprintf(missing, sizeof(missing), "%s/nothing-here", t->base);
    o.base = missing;
    assert_int_equal(fetch_dataset("ml-1m", t->data, &o, NULL, &err), ERR_NET);
    assert_contains(err.msg, "ml-1m.zip.md5");
    assert_int_equal(count_entries(t->data), 0);

    /* The .md5 is there, the zip is not. */
    tu_write(t->mirror, "ml-1m.zip.md5", "0e33842e24a9c977be4e0107933c0723  ml-1m.zip\n",
             (size_t)-1);
    o.base = t->base;
    assert_int_equal(fetch_dataset("ml-1m", t->data, &o, NULL, &err), ERR_NET);
    assert_contains(err.msg, "ml-1m.zip'");
    assert_int_equal(count_entries(t->data), 0);
}

static void test_unknown_name(void **state)
{
    struct env *t = *state;
    struct error err;

    assert_int_equal(fetch_dataset("ml-10m", t->data, NULL, NULL, &err), ERR_USAGE);
    assert_contains(err.msg, "unknown data set 'ml-10m'");
    assert_contains(err.msg, "ml-100k, ml-1m, ml-latest-small, ml-25m, ml-32m");
    assert_int_equal(fetch_dataset("../ml-100k", t->data, NULL, NULL, &err), ERR_USAGE);
    assert_int_equal(fetch_dataset(NULL, t->data, NULL, NULL, &err), ERR_USAGE);
    assert_int_equal(fetch_dataset("ml-100k", "", NULL, NULL, &err), ERR_USAGE);
    assert_false(path_exists(t->root, "data"));
}

/* A zip with the given extra entry is refused and writes nothing
 * anywhere: not in data/, not beside it. */
static void check_refused(struct env *t, const struct entry *bad, const char *why)
{
    struct fetch_opts o = {0};
    struct error err;
    const struct entry e[] = {
        {"ml-100k/u.data", u_data, 'f'},
        *bad,
        {"ml-100k/u.item", u_item, 'f'},
    };

    mirror_set(t, "ml-100k", e, 3, 0);
    o.base = t->base;
    assert_int_equal(fetch_dataset("ml-100k", t->data, &o, NULL, &err), ERR_FORMAT);
    assert_contains(err.msg, why);
    assert_int_equal(count_entries(t->data), 0);
    assert_false(path_exists(t->root, "evil"));
    assert_false(path_exists(t->data, "evil"));
    assert_int_equal(count_entries(t->root), 2); /* mirror and data */
}

static void test_unsafe_entries(void **state)
{
    struct env *t = *state;
    const struct entry dotdot = {"../evil", "pwned\n", 'f'};
    const struct entry deep = {"ml-100k/../../evil", "pwned\n", 'f'};
    const struct entry abs = {"/tmp/movierec-test-evil-abs", "pwned\n", 'f'};
    const struct entry link = {"ml-100k/evil", "../../evil", 'l'};
    const struct entry link_abs = {"ml-100k/passwd", "/etc/passwd", 'l'};
    const struct entry backslash = {"ml-100k\\..\\..\\evil", "pwned\n", 'f'};

    check_refused(t, &dotdot, "refusing unsafe path '../evil'");
    check_refused(t, &deep, "refusing unsafe path");
    check_refused(t, &abs, "refusing unsafe path");
    assert_int_equal(access("/tmp/movierec-test-evil-abs", F_OK), -1);
    check_refused(t, &link, "refusing link 'ml-100k/evil'");
    check_refused(t, &link_abs, "refusing link");
    check_refused(t, &backslash, "refusing unsafe path");
}

static void test_unzip_direct(void **state)
{
    struct env *t = *state;
    struct error err;
    char zip[4300], dest[4300];
    const struct entry e[] = {
        {"./a/b/c.txt", "c\n", 'f'},
        {"a//d.txt", "d\n", 'f'},
        {"a/b/c.txt", "again\n", 'f'},
    };

    snprintf(zip, sizeof(zip), "%s/x.zip", t->root);
    snprintf(dest, sizeof(dest), "%s/out", t->root);
    make_zip(zip, e, 2);
    assert_int_equal(fetch_unzip(zip, dest, NULL, NULL, &err), 0);
    assert_file(dest, "a/b/c.txt", "c\n");
    assert_file(dest, "a/d.txt", "d\n");
    /* dest must not exist yet. */
    assert_int_equal(fetch_unzip(zip, dest, NULL, NULL, &err), ERR_EXISTS);
    tu_rmtree(t->root);
    assert_int_equal(mkdir(t->root, 0755), 0);
    /* A name that appears twice is refused; nothing is left. */
    make_zip(zip, e, 3);
    assert_int_equal(fetch_unzip(zip, dest, NULL, NULL, &err), ERR_FORMAT);
    assert_contains(err.msg, "appears twice");
    assert_false(path_exists(t->root, "out"));
}

static void test_force_and_existing(void **state)
{
    struct env *t = *state;
    struct fetch_opts o = {0};
    struct fetch_result r;
    struct error err;
    char set[4300];

    mirror_100k(t);
    o.base = t->base;
    snprintf(set, sizeof(set), "%s/ml-100k", t->data);
    assert_int_equal(mkdir(t->data, 0755), 0);
    assert_int_equal(mkdir(set, 0755), 0);
    /* A folder without the ratings file is not taken over silently. */
    tu_write(set, "mine.txt", "keep me\n", (size_t)-1);
    assert_int_equal(fetch_dataset("ml-100k", t->data, &o, &r, &err), ERR_EXISTS);
    assert_contains(err.msg, "--force");
    assert_file(set, "mine.txt", "keep me\n");
    /* --force replaces it, leaving nothing of the old folder. */
    o.flags = FETCH_FORCE;
    if (fetch_dataset("ml-100k", t->data, &o, &r, &err) != 0)
        fail_msg("fetch failed: %s", err.msg);
    assert_int_equal(r.already, 0);
    assert_false(path_exists(set, "mine.txt"));
    assert_file(set, "u.data", u_data);
    assert_int_equal(count_entries(t->data), 1);
    /* A forced fetch that fails leaves the complete set in place. */
    tu_write(t->mirror, "ml-100k.zip.md5", "ffffffffffffffffffffffffffffffff  ml-100k.zip\n",
             (size_t)-1);
    assert_int_equal(fetch_dataset("ml-100k", t->data, &o, &r, &err), ERR_INTEGRITY);
    assert_file(set, "u.data", u_data);
    assert_int_equal(count_entries(t->data), 1);
}

static int cancel_download(void *ctx, enum fetch_stage stage, uint64_t done, uint64_t total)
{
    (void)ctx;
    (void)done;
    (void)total;
    return stage == FETCH_DOWNLOAD;
}

static void test_cancel(void **state)
{
    struct env *t = *state;
    struct fetch_opts o = {0};
    struct error err;

    mirror_100k(t);
    o.base = t->base;
    o.progress = cancel_download;
    assert_int_equal(fetch_dataset("ml-100k", t->data, &o, NULL, &err), ERR_NET);
    assert_contains(err.msg, "interrupted");
    assert_int_equal(count_entries(t->data), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_md5, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_good_mirror, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_base_and_keep_zip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_md5, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_zip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreachable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsafe_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unzip_direct, setup, teardown),
        cmocka_unit_test_setup_teardown(test_force_and_existing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
