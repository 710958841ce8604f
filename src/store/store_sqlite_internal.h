/*
 * store_sqlite_internal.h - what the files of the SQLite backend share
 * (store_sqlite.c: open, scans and the bulk loader; store_web.c: the web
 * service's accounts, sessions, writes and browsing). Not for callers of
 * store.h.
 */
#ifndef MOVIEREC_STORE_SQLITE_INTERNAL_H
#define MOVIEREC_STORE_SQLITE_INTERNAL_H

#include <sqlite3.h>

#include "store.h"

/* How many prepared statements store_web.c may keep per handle. */
#define STORE_WEB_STMTS 48

struct store {
    sqlite3 *db;
    int version;       /* user_version found when opened */
    char buf[2][1024]; /* strings handed out by store_get_* */
    /* store_web.c's statements, prepared on first use and finalised by
     * store_web_close(); each is reset as soon as its caller is done. */
    sqlite3_stmt *web[STORE_WEB_STMTS];
};

/* Sets err from the connection's last failure, "what: reason", and
 * returns ERR_DB (ERR_NOMEM when SQLite ran out of memory). */
int store_db_error(struct error *err, sqlite3 *db, const char *what);
/* Runs sql (any number of statements): 0 or store_db_error(). */
int store_exec(sqlite3 *db, const char *sql, const char *what, struct error *err);
/* Finalises store_web.c's statements; store_close() calls it first. */
void store_web_close(struct store *s);

#endif
