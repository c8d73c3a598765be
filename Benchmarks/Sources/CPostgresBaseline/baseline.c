#include "CPostgresBaseline.h"

#include <libpq-fe.h>
#include <stdio.h>

void *cpb_connect(const char *conninfo) {
    PGconn *connection = PQconnectdb(conninfo);
    if (PQstatus(connection) != CONNECTION_OK) {
        PQfinish(connection);
        return NULL;
    }
    return connection;
}

void cpb_finish(void *connection) { PQfinish((PGconn *)connection); }

/// Prepares `sql` under a name of its own, runs it `iterations` times with `values` and counts
/// the replies `counts` accepts; -1 on any failure.
static int prepared_loop(
    PGconn *pg, const char *sql, int count, const char *const *values, int iterations, int (*counts)(const PGresult *)) {
    static int prepared = 0;
    char name[32];
    snprintf(name, sizeof name, "loop%d", prepared++);
    PGresult *result = PQprepare(pg, name, sql, count, NULL);
    if (PQresultStatus(result) != PGRES_COMMAND_OK) {
        PQclear(result);
        return -1;
    }
    PQclear(result);
    int found = 0;
    for (int i = 0; i < iterations; i++) {
        result = PQexecPrepared(pg, name, count, values, NULL, NULL, 0);
        if (PQresultStatus(result) != PGRES_TUPLES_OK) {
            PQclear(result);
            return -1;
        }
        if (counts(result)) found++;
        PQclear(result);
    }
    return found;
}

static int lookup_found(const PGresult *result) { return PQntuples(result) > 0 && PQgetvalue(result, 0, 0)[0] != '\0'; }

// Read both columns as the backend does: the value's text and whether the row is live.
static int get_found(const PGresult *result) {
    return PQntuples(result) > 0 && PQgetlength(result, 0, 0) > 0 && PQgetvalue(result, 0, 1)[0] == 't';
}

int cpb_lookup_loop(void *connection, const char *sql, const char *key, int iterations) {
    const char *values[1] = {key};
    return prepared_loop((PGconn *)connection, sql, 1, values, iterations, lookup_found);
}

int cpb_get_loop(void *connection, const char *sql, const char *key, const char *now, int iterations) {
    const char *values[2] = {key, now};
    return prepared_loop((PGconn *)connection, sql, 2, values, iterations, get_found);
}
