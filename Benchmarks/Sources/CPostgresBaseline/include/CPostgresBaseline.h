#ifndef CPOSTGRES_BASELINE_H
#define CPOSTGRES_BASELINE_H

/// Connects with a libpq connection string (blocking), or NULL.
void *cpb_connect(const char *conninfo);
void cpb_finish(void *connection);
/// Prepares `sql` (one text parameter) once, then runs it `iterations` times with `key`
/// (blocking PQexecPrepared); returns the rows found, or -1 on an error.
int cpb_lookup_loop(void *connection, const char *sql, const char *key, int iterations);
/// Prepares `sql` (two text parameters: a key and a time) once, then runs it `iterations` times
/// (blocking PQexecPrepared); returns the live rows found with a non-empty first column, or -1.
int cpb_get_loop(void *connection, const char *sql, const char *key, const char *now, int iterations);

#endif
