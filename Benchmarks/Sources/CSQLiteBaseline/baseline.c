#include "CSQLiteBaseline.h"

#include <sqlite3.h>

void *csb_open(const char *path) {
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_exec(db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
    return db;
}

void csb_close(void *db) { sqlite3_close((sqlite3 *)db); }

int csb_get_loop(void *db, const char *sql, const char *key, int iterations) {
    sqlite3_stmt *statement = NULL;
    if (sqlite3_prepare_v2((sqlite3 *)db, sql, -1, &statement, NULL) != SQLITE_OK) return -1;
    int found = 0;
    for (int i = 0; i < iterations; i++) {
        sqlite3_bind_text(statement, 1, key, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(statement) == SQLITE_ROW) {
            // Read the columns as the backend does.
            const void *value = sqlite3_column_blob(statement, 0);
            int length = sqlite3_column_bytes(statement, 0);
            const unsigned char *expires = sqlite3_column_text(statement, 1);
            if (value != NULL && length > 0 && expires != NULL) found++;
        }
        sqlite3_reset(statement);
        sqlite3_clear_bindings(statement);
    }
    sqlite3_finalize(statement);
    return found;
}

static int run(sqlite3_stmt *statement) {
    int code = sqlite3_step(statement);
    sqlite3_reset(statement);
    return code == SQLITE_DONE;
}

int csb_set_loop(void *db, const char *sql, const char *key, const char *value, const char *expires, int iterations) {
    sqlite3_stmt *begin = NULL, *update = NULL, *commit = NULL;
    sqlite3_prepare_v2((sqlite3 *)db, "BEGIN IMMEDIATE", -1, &begin, NULL);
    sqlite3_prepare_v2((sqlite3 *)db, sql, -1, &update, NULL);
    sqlite3_prepare_v2((sqlite3 *)db, "COMMIT", -1, &commit, NULL);
    int done = 0;
    for (int i = 0; i < iterations && begin && update && commit; i++) {
        if (!run(begin)) break;
        sqlite3_bind_text(update, 1, key, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(update, 2, value, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(update, 3, expires, -1, SQLITE_TRANSIENT);
        int updated = run(update) && sqlite3_changes((sqlite3 *)db) == 1;
        sqlite3_clear_bindings(update);
        if (!run(commit)) break;
        done += updated;
    }
    sqlite3_finalize(begin);
    sqlite3_finalize(update);
    sqlite3_finalize(commit);
    return done;
}
