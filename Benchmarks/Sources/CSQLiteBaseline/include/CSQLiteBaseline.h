#ifndef CSQLITE_BASELINE_H
#define CSQLITE_BASELINE_H

#include <stddef.h>

/// Opens a connection to the file (WAL already set by the cache), or NULL.
void *csb_open(const char *path);
void csb_close(void *db);
/// Runs the backend's read statement `iterations` times on a prepared statement; returns rows found.
int csb_get_loop(void *db, const char *table_select_sql, const char *key, int iterations);
/// Runs BEGIN IMMEDIATE; UPDATE …; COMMIT `iterations` times (the backend's write of an existing key).
int csb_set_loop(void *db, const char *update_sql, const char *key, const char *value, const char *expires, int iterations);

#endif
