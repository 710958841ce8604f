/*
 * cli.h - what the subcommands share: the home folder, option parsing
 * helpers and git-style messages.
 *
 * Each subcommand lives in cmd_<name>.c as `int cmd_<name>(struct cli *,
 * int argc, char **argv)` (argv[0] is the command name) and is listed in
 * the table in main.c. Commands return the process exit status: 0 on
 * success, 1 on failure, 2 on a usage error. Only main() and cmd_*
 * functions print to the user.
 */
#ifndef MOVIEREC_CLI_H
#define MOVIEREC_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "../util/error.h"

struct cli {
    char home[4096]; /* --home, else $MOVIEREC_HOME, else ./movierec-home */
    int home_given;  /* home came from --home or the environment */
};

/* "error: <msg>" on stderr; returns 1. */
int cli_fail(const char *fmt, ...) ERROR_PRINTF(1, 2);
/* "error: <msg>" and "usage: <usage>" on stderr; returns 2. */
int cli_usage_fail(const char *usage, const char *fmt, ...) ERROR_PRINTF(2, 3);
/* Prints an error from library code; returns 1. */
int cli_fail_err(const struct error *err);

/* Makes the home folder (and its subfolders) if missing. */
int cli_home_make(struct cli *c, struct error *err);
/* <home>/<rel> into out. */
void cli_path(const struct cli *c, const char *rel, char *out, size_t cap);
/* The store's path: <home>/movierec.db */
void cli_db_path(const struct cli *c, char *out, size_t cap);
/* Opens the home folder's store; ERR_NOTFOUND (with a hint to import
 * first) when there is none yet, rather than creating an empty one. */
struct store;
int cli_store_open(const struct cli *c, struct store **s, struct error *err);

/* Opens the store and loads the newest models over it (engine.h); on
 * failure nothing stays open. The caller engine_free()s and closes. */
struct engine;
int cli_engine_open(const struct cli *c, struct store **s, struct engine *e, struct error *err);

/* True when argv[i] is -h or --help. */
int cli_is_help(const char *arg);
/* Parses a whole non-negative integer option value; returns 0 or -1. */
int cli_parse_count(const char *s, int64_t *out);

/* The recommendation options shared by recommend and evaluate
 * --pipeline: --genre-cap N, --recent N, --prerank K,
 * --quota itemcf=N,embed=N,...
 * Returns 1 when argv[*i] was one (and moves *i past its value), 0 when
 * not, -1 with msg set on a bad value. */
struct rec_opts;
int cli_rec_option(int argc, char **argv, int *i, struct rec_opts *o, char *msg, size_t cap);

/* stderr is a terminal (progress bars are drawn only then). */
int cli_tty(void);

/* A one-line progress bar on stderr: "label [=====>    ] 45%  1.2M/s". */
struct progress {
    char label[64];
    const char *unit; /* what the rate counts: "lines" unless set after begin */
    char extra[64];   /* shown after the rate, e.g. "loss 0.412" */
    uint64_t total;
    double start, last;
    int active;
};
void progress_begin(struct progress *p, const char *label, uint64_t total);
void progress_update(struct progress *p, uint64_t done, uint64_t items);
void progress_end(struct progress *p);

double cli_now(void); /* monotonic seconds */

int cmd_import(struct cli *c, int argc, char **argv);
int cmd_fetch(struct cli *c, int argc, char **argv);
int cmd_generate(struct cli *c, int argc, char **argv);
int cmd_stats(struct cli *c, int argc, char **argv);
int cmd_train(struct cli *c, int argc, char **argv);
int cmd_score(struct cli *c, int argc, char **argv);
int cmd_evaluate(struct cli *c, int argc, char **argv);
int cmd_similar(struct cli *c, int argc, char **argv);
int cmd_recommend(struct cli *c, int argc, char **argv);
int cmd_serve(struct cli *c, int argc, char **argv);
int cmd_user(struct cli *c, int argc, char **argv);

#endif
