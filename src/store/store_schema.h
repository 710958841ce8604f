/* store_schema.h - the migrations of the SQLite schema (store_schema.c). */
#ifndef MOVIEREC_STORE_SCHEMA_H
#define MOVIEREC_STORE_SCHEMA_H

int store_schema_version(void);
/* The SQL that takes a database from version `from` to from + 1. */
const char *store_schema_migration(int from);

#endif
