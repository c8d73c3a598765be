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

int cpb_lookup_loop(void *connection, const char *sql, const char *key, int iterations) {
    PGconn *pg = (PGconn *)connection;
    static int prepared = 0;
    char name[32];
    snprintf(name, sizeof name, "lookup%d", prepared++);
    PGresult *result = PQprepare(pg, name, sql, 1, NULL);
    if (PQresultStatus(result) != PGRES_COMMAND_OK) {
        PQclear(result);
        return -1;
    }
    PQclear(result);
    int found = 0;
    for (int i = 0; i < iterations; i++) {
        const char *values[1] = {key};
        result = PQexecPrepared(pg, name, 1, values, NULL, NULL, 0);
        if (PQresultStatus(result) != PGRES_TUPLES_OK) {
            PQclear(result);
            return -1;
        }
        if (PQntuples(result) > 0 && PQgetvalue(result, 0, 0)[0] != '\0') found++;
        PQclear(result);
    }
    return found;
}

int cpb_get_loop(void *connection, const char *sql, const char *key, const char *now, int iterations) {
    PGconn *pg = (PGconn *)connection;
    static int prepared = 0;
    char name[32];
    snprintf(name, sizeof name, "get%d", prepared++);
    PGresult *result = PQprepare(pg, name, sql, 2, NULL);
    if (PQresultStatus(result) != PGRES_COMMAND_OK) {
        PQclear(result);
        return -1;
    }
    PQclear(result);
    int found = 0;
    for (int i = 0; i < iterations; i++) {
        const char *values[2] = {key, now};
        result = PQexecPrepared(pg, name, 2, values, NULL, NULL, 0);
        if (PQresultStatus(result) != PGRES_TUPLES_OK) {
            PQclear(result);
            return -1;
        }
        // Read both columns as the backend does: the value's text and whether the row is live.
        if (PQntuples(result) > 0 && PQgetlength(result, 0, 0) > 0 && PQgetvalue(result, 0, 1)[0] == 't') found++;
        PQclear(result);
    }
    return found;
}
