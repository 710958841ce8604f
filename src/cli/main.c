/*
 * main.c - `movierec [--home DIR] <command> [options]`: global options and
 * the dispatch table of subcommands.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct command {
    const char *name;
    int (*fn)(struct cli *c, int argc, char **argv);
    const char *summary;
};

static int cmd_help(struct cli *c, int argc, char **argv);

static const struct command commands[] = {
    {"import", cmd_import, "import a MovieLens data set into the store"},
    {"fetch", cmd_fetch, "download a MovieLens data set from GroupLens"},
    {"generate", cmd_generate, "write a synthetic data set in the ml-latest format"},
    {"stats", cmd_stats, "print what the store holds"},
    {"train", cmd_train, "train the deep models on the store"},
    {"score", cmd_score, "score user/movie pairs read on stdin"},
    {"evaluate", cmd_evaluate, "print a saved model's validation metrics"},
    {"recommend", cmd_recommend, "personal recommendations for a user, with reasons"},
    {"similar", cmd_similar, "movies similar to a movie (deep model vectors)"},
    {"serve", cmd_serve, "serve the JSON API and the web pages over HTTP"},
    {"user", cmd_user, "manage accounts: user passwd NAME sets a password"},
    {"help", cmd_help, "show this help, or a command's help"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: movierec [--home DIR] <command> [options]\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nDIR holds the store, models, reports and logs (default: $MOVIEREC_HOME,\n"
               "else ./movierec-home). 'movierec <command> --help' describes a command.\n");
}

static const struct command *find(const char *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

static int cmd_help(struct cli *c, int argc, char **argv)
{
    if (argc > 1 && !cli_is_help(argv[1])) {
        const struct command *cmd = find(argv[1]);
        char *hargv[] = {argv[1], "--help", NULL};
        if (!cmd)
            return cli_usage_fail("movierec help [<command>]", "'%s' is not a movierec command",
                                  argv[1]);
        if (cmd->fn != cmd_help)
            return cmd->fn(c, 2, hargv);
    }
    usage(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    struct cli c;
    const struct command *cmd;
    const char *env = getenv("MOVIEREC_HOME");
    int i = 1;

    memset(&c, 0, sizeof(c));
    if (env && *env) {
        snprintf(c.home, sizeof(c.home), "%s", env);
        c.home_given = 1;
    } else {
        snprintf(c.home, sizeof(c.home), "movierec-home");
    }
    while (i < argc && argv[i][0] == '-') {
        if (!strcmp(argv[i], "--home")) {
            if (i + 1 >= argc || !argv[i + 1][0])
                return cli_usage_fail("movierec [--home DIR] <command>", "--home needs a folder");
            snprintf(c.home, sizeof(c.home), "%s", argv[i + 1]);
            c.home_given = 1;
            i += 2;
        } else if (!strncmp(argv[i], "--home=", 7)) {
            snprintf(c.home, sizeof(c.home), "%s", argv[i] + 7);
            c.home_given = 1;
            i++;
        } else if (cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--version")) {
            printf("movierec 0.1\n");
            return 0;
        } else {
            fprintf(stderr, "error: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    cmd = find(argv[i]);
    if (!cmd) {
        fprintf(stderr, "error: '%s' is not a movierec command. See 'movierec help'.\n", argv[i]);
        return 2;
    }
    return cmd->fn(&c, argc - i, argv + i);
}
