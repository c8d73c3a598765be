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
