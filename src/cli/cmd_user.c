/*
 * cmd_user.c - `movierec user passwd NAME`: an operator sets the password
 * of an account (e.g. an imported MovieLens user, "user42", for a demo).
 * The password is read from standard input (one line,
 * so pipe it in), never from the command
 * line, where other users of the machine could see it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../server/auth.h"
#include "../store/store.h"
#include "cli.h"

static const char usage[] = "movierec user passwd NAME  (the password on standard input)";

int cmd_user(struct cli *c, int argc, char **argv)
{
    char pw[AUTH_PASSWORD_MAX + 2], hash[STORE_HASH_MAX];
    struct error err = {0};
    struct store *s = NULL;
    size_t n;
    int rc = 1;

    if (argc > 1 && cli_is_help(argv[1])) {
        printf("usage: %s\n\nSets the password of account NAME, read as one line from\n"
               "standard input, e.g.  echo 'a long secret' | movierec user passwd user42\n",
               usage);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "passwd"))
        return cli_usage_fail(usage, argc < 2 ? "which action? (passwd)" : "unknown action '%s'",
                              argv[1]);
    if (argc != 3 || !argv[2][0])
        return cli_usage_fail(usage, "passwd takes one account NAME");
    if (!fgets(pw, sizeof(pw), stdin)) {
        return cli_fail("no password on standard input");
    }
    n = strlen(pw);
    if (n && pw[n - 1] == '\n')
        pw[--n] = 0;
    else if (n > AUTH_PASSWORD_MAX)
        return cli_fail("the password must have at most %d bytes", AUTH_PASSWORD_MAX);
    if (n && pw[n - 1] == '\r')
        pw[--n] = 0;
    if (auth_init(&err) || auth_password_check(pw, &err) || cli_store_open(c, &s, &err) ||
        auth_password_hash(pw, hash, &err) || store_account_set_password(s, argv[2], hash, &err)) {
        cli_fail_err(&err);
        goto out;
    }
    printf("password set for '%s'; its sessions are ended (a running server notices within a "
           "minute, at once on SIGHUP)\n",
           argv[2]);
    rc = 0;
out:
    memset(pw, 0, sizeof(pw));
    memset(hash, 0, sizeof(hash));
    store_close(s);
    return rc;
}
