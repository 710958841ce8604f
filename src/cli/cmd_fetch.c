/*
 * cmd_fetch.c - `movierec fetch [--force] [--keep-zip] NAME [DIR]`:
 * downloads a MovieLens set from GroupLens into DIR/NAME (see fetch.h)
 * and says which command imports it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../data/fetch.h"
#include "cli.h"

#include "../util/banned.h"

static const char usage_line[] = "movierec fetch [--force] [--keep-zip] NAME [DIR]";

static void usage(FILE *f)
{
    size_t n;
    const struct fetch_set *sets = fetch_sets(&n);

    fprintf(f,
            "usage: %s\n\n"
            "Downloads a MovieLens data set from GroupLens, checks its MD5 checksum and\n"
            "unzips it into DIR/NAME (DIR defaults to <home>/data). Then run\n"
            "'movierec import DIR/NAME'.\n\n"
            "data sets:\n",
            usage_line);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "  %-16s %6s  %s\n", sets[i].name, sets[i].size, sets[i].about);
    fprintf(f, "\noptions:\n"
               "  --force     download and unzip again even if DIR/NAME is complete\n"
               "  --keep-zip  keep DIR/NAME.zip after unzipping (a later fetch reuses it)\n\n"
               "environment:\n"
               "  " FETCH_BASE_ENV "  where to download from instead of\n"
               "                       " FETCH_BASE_DEFAULT "\n"
               "                       (a mirror, or file:///folder holding NAME.zip and\n"
               "                       NAME.zip.md5)\n\n"
               "Without a network, download the zip by hand, unzip it and run\n"
               "'movierec import' on its folder.\n");
}

/* Writes s into out (cap bytes), quoted for a POSIX shell when it needs
 * it. Returns out. */
static char *shell_word(char *out, size_t cap, const char *s)
{
    size_t len = 0;
    int plain = *s != '\0';

    for (const char *p = s; *p && plain; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-+:,@%=",
                    *p))
            plain = 0;
    if (plain) {
        snprintf(out, cap, "%s", s);
        return out;
    }
    /* 'it'\''s' for it's; stop early rather than overflow (cap > 5). */
    out[len++] = '\'';
    for (const char *p = s; *p && len + 6 < cap; p++) {
        if (*p == '\'') {
            memcpy(out + len, "'\\''", 4);
            len += 4;
        } else {
            out[len++] = *p;
        }
    }
    out[len++] = '\'';
    out[len] = '\0';
    return out;
}

static void human_bytes(char *out, size_t cap, uint64_t n)
{
    if (n >= (uint64_t)1 << 30)
        snprintf(out, cap, "%.1f GB", (double)n / (1 << 30));
    else if (n >= (uint64_t)1 << 20)
        snprintf(out, cap, "%.1f MB", (double)n / (1 << 20));
    else if (n >= 1024)
        snprintf(out, cap, "%.0f kB", (double)n / 1024);
    else
        snprintf(out, cap, "%llu B", (unsigned long long)n);
}

/* What the progress callback needs: the bar and where the fetch stands. */
struct fetch_ui {
    struct progress bar;
    const struct fetch_set *set;
    const char *base;
    const char *dir;
    int stage; /* enum fetch_stage, or -1 before the first */
};

static void ui_draw(struct fetch_ui *ui, uint64_t done, uint64_t total)
{
    char bar[31], have[32], all[32], rate[32];
    double now = cli_now(), frac;
    int fill;

    if (!ui->bar.active || now - ui->bar.last < 0.1)
        return;
    ui->bar.last = now;
    human_bytes(have, sizeof(have), done);
    human_bytes(rate, sizeof(rate),
                now > ui->bar.start ? (uint64_t)((double)done / (now - ui->bar.start)) : 0);
    if (total == 0) {
        fprintf(stderr, "\r%-14s %s  %s/s ", ui->bar.label, have, rate);
    } else {
        frac = done >= total ? 1.0 : (double)done / (double)total;
        fill = (int)(frac * 30);
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
        bar[30] = '\0';
        human_bytes(all, sizeof(all), total);
        fprintf(stderr, "\r%-14s [%s] %3d%%  %s/%s  %s/s ", ui->bar.label, bar,
                (int)(frac * 100), have, all, rate);
    }
    fflush(stderr);
}

static int on_progress(void *ctx, enum fetch_stage stage, uint64_t done, uint64_t total)
{
    struct fetch_ui *ui = ctx;

    if (ui->stage != (int)stage) {
        if (ui->stage >= 0)
            progress_end(&ui->bar);
        ui->stage = (int)stage;
        switch (stage) {
        case FETCH_CHECKSUM:
            fprintf(stderr, "fetching %s (%s) from %s\n", ui->set->name, ui->set->size, ui->base);
            break;
        case FETCH_VERIFY:
            fprintf(stderr, "checking the %s.zip already in '%s'\n", ui->set->name, ui->dir);
            break;
        case FETCH_DOWNLOAD:
            break;
        case FETCH_UNZIP:
            fprintf(stderr, "unzipping into '%s/%s'\n", ui->dir, ui->set->name);
            break;
        }
        progress_begin(&ui->bar,
                       stage == FETCH_DOWNLOAD ? "downloading"
                       : stage == FETCH_UNZIP  ? "unzipping"
                                               : "checking",
                       total);
    }
    if (stage != FETCH_CHECKSUM)
        ui_draw(ui, done, total);
    return 0;
}

int cmd_fetch(struct cli *c, int argc, char **argv)
{
    struct fetch_opts opts;
    struct fetch_result *res;
    struct fetch_ui ui;
    struct error err;
    const char *name = NULL, *dir_arg = NULL;
    char dir[4096], names[256], import_cmd[4200], word[4200];
    int npos = 0, dashdash = 0, rc;

    memset(&opts, 0, sizeof(opts));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!dashdash && a[0] == '-' && a[1] != '\0') {
            if (cli_is_help(a)) {
                usage(stdout);
                return 0;
            } else if (!strcmp(a, "--force")) {
                opts.flags |= FETCH_FORCE;
            } else if (!strcmp(a, "--keep-zip")) {
                opts.flags |= FETCH_KEEP_ZIP;
            } else if (!strcmp(a, "--")) {
                dashdash = 1;
            } else {
                return cli_usage_fail(usage_line, "unknown option '%s'", a);
            }
            continue;
        }
        if (npos == 0)
            name = a;
        else if (npos == 1)
            dir_arg = a;
        else
            return cli_usage_fail(usage_line, "too many arguments: '%s'", a);
        npos++;
    }
    if (!name)
        return cli_usage_fail(usage_line, "which data set? one of: %s",
                              fetch_set_names(names, sizeof(names)));
    if (!fetch_set_find(name))
        return cli_usage_fail(usage_line, "unknown data set '%s'; one of: %s", name,
                              fetch_set_names(names, sizeof(names)));
    if (dir_arg && !*dir_arg)
        return cli_usage_fail(usage_line, "DIR is empty");

    error_clear(&err);
    if (dir_arg) {
        snprintf(dir, sizeof(dir), "%s", dir_arg);
    } else {
        if (cli_home_make(c, &err))
            return cli_fail_err(&err);
        cli_path(c, "data", dir, sizeof(dir));
    }
    {
        size_t n = strlen(dir);
        while (n > 1 && dir[n - 1] == '/')
            dir[--n] = '\0';
    }

    memset(&ui, 0, sizeof(ui));
    ui.set = fetch_set_find(name);
    ui.base = fetch_base(&opts);
    ui.dir = dir;
    ui.stage = -1;
    opts.progress = on_progress;
    opts.progress_ctx = &ui;
    if (c->home_given) {
        snprintf(import_cmd, sizeof(import_cmd), "movierec --home %s import",
                 shell_word(word, sizeof(word), c->home));
        opts.import_cmd = import_cmd;
    }

    res = calloc(1, sizeof(*res));
    if (!res)
        return cli_fail("out of memory");
    rc = fetch_dataset(name, dir, &opts, res, &err);
    if (ui.stage >= 0)
        progress_end(&ui.bar);
    if (rc) {
        free(res);
        return rc == ERR_USAGE ? cli_usage_fail(usage_line, "%s", err.msg) : cli_fail_err(&err);
    }

    if (res->already)
        printf("%s is already in '%s' (--force fetches it again)\n", name, res->path);
    else
        printf("%s is ready in '%s'%s\n", name, res->path,
               res->reused_zip ? " (from the zip already there)" : "");
    if (res->zip[0])
        printf("kept the zip as '%s'\n", res->zip);
    printf("next: %s %s\n", c->home_given ? import_cmd : "movierec import",
           shell_word(word, sizeof(word), res->path));
    free(res);
    return 0;
}
