import CSQLite
import Caching
import TokenRevocation

/// ``DatabaseRevocation``'s statements on SQLite, run by a ``SQLiteConnectionPool``: writes on
/// its one writer thread, lookups on its reader threads (WAL mode).
final class SQLiteRevocationDatabase: RevocationDatabase {
    private let pool: SQLiteConnectionPool
    private let sql: SQLiteRevocationStatements
    private let options: SQLiteOptions
    /// Whether a missing table is created: the option until the tables were first found or
    /// made, then only while ``createTables()`` runs. A table that vanishes later took its
    /// revocations with it; making an empty one would accept the tokens revoked there.
    private let createOnOpen: Flag
    /// Whether the tables were found or made once.
    private let tablesSeen = Flag(false)
    let describe: String
    let concurrentLookups: Int

    init(options: SQLiteOptions, table: String) {
        self.options = options
        let sql = SQLiteRevocationStatements(table: table)
        self.sql = sql
        let path = options.database
        describe = "SQLite database \(path) (tables \"\(table)\" and \"\(DatabaseRevocation.stateTable(for: table))\")"
        concurrentLookups = options.poolSize
        let createOnOpen = Flag(options.createTable)
        self.createOnOpen = createOnOpen
        let tablesSeen = tablesSeen
        let busyTimeout = options.busyTimeout
        let mapFailure: @Sendable (SQLiteFailure, String) -> CacheError = { failure, operation in
            SQLiteBackend.cacheError(failure, operation: operation, path: path, busyTimeout: busyTimeout)
        }
        pool = SQLiteConnectionPool(
            path: path, readerCount: options.poolSize,
            busyTimeoutMilliseconds: Int32(min(options.busyTimeout * 1000, Double(Int32.max)).rounded()), alias: "revocation",
            readOnTask: options.readOnTask,
            prepareWriter: { connection throws(CacheError) in
                try Self.prepare(
                    connection, sql: sql, create: createOnOpen.value, seen: tablesSeen.value, path: path, mapFailure: mapFailure)
                tablesSeen.value = true
                createOnOpen.value = false
            }, mapFailure: mapFailure)
    }

    private static func time(_ unix: Double) -> String { DatabaseCacheTime.text(forUnixTime: unix) }

    // MARK: Tables

    func createTables() async throws(CacheError) {
        createOnOpen.value = true
        defer { createOnOpen.value = false }
        // Closing makes the writer open (and prepare) again, now creating what is missing.
        try await pool.close()
        try await pool.write("create tables") { _ in }
    }

    /// Sets WAL mode and checks (or creates) both tables; on the writer's thread.
    private static func prepare(
        _ connection: SQLiteConnection, sql: SQLiteRevocationStatements, create: Bool, seen: Bool, path: String,
        mapFailure: (SQLiteFailure, String) -> CacheError
    ) throws(CacheError) {
        func sqlite<T>(_ body: () throws(SQLiteFailure) -> T) throws(CacheError) -> T { try mappingFailures("open", mapFailure, body) }
        try sqlite { () throws(SQLiteFailure) in try connection.enableWAL() }
        for (table, ddl, required) in [
            (sql.table, sql.createTable, ["jti", "revoked_at", "expires_at"]),
            (sql.stateTable, sql.createStateTable, ["kind", "name", "value", "expires_at"]),
        ] {
            var columns = try sqlite { () throws(SQLiteFailure) in try columnNames(connection, table: table) }
            if columns.isEmpty {
                if seen && !create {
                    throw CacheError(
                        .invalidSettings,
                        "The revocation table \"\(table)\" is gone from \(path) although this store used it (dropped, renamed, or the file replaced): the revocations it held are not there, so checks and revokes fail closed instead of answering from an empty table. Restore the table, or call DatabaseRevocation.createTables() to start with an empty one on purpose"
                    )
                }
                guard create else {
                    throw CacheError(
                        .invalidSettings,
                        "The revocation table \"\(table)\" is not in \(path); create it with DatabaseRevocation.createTables() (or Django's migrate for the RevokedToken model), or turn create_table on"
                    )
                }
                columns = try sqlite { () throws(SQLiteFailure) in
                    try connection.execute("BEGIN IMMEDIATE")
                    do throws(SQLiteFailure) {
                        for statement in ddl { try connection.execute(statement) }
                        try connection.execute("COMMIT")
                    } catch {
                        try? connection.execute("ROLLBACK")
                        throw error
                    }
                    return try columnNames(connection, table: table)
                }
            }
            let missing = required.filter { !columns.contains($0) }
            guard missing.isEmpty else {
                throw CacheError(
                    .invalidSettings,
                    "The table \"\(table)\" in \(path) is not a revocation table of Django-Bolt's layout: it has no \(missing.joined(separator: ", ")) column (its columns: \(columns.joined(separator: ", "))); it was left as it is. Name another table"
                )
            }
        }
        let unique = try sqlite { () throws(SQLiteFailure) in
            try connection.withStatement(sql.jtiIsUnique) { statement throws(SQLiteFailure) in
                try statement.bind(1, sql.table)
                return try statement.step() && statement.integer(0) > 0
            }
        }
        guard unique else {
            throw CacheError(
                .invalidSettings,
                "The table \"\(sql.table)\" in \(path) is not a revocation table of Django-Bolt's layout: its jti column is not unique, so a revocation could not be one row; it was left as it is. Name another table"
            )
        }
    }

    private static func columnNames(_ connection: SQLiteConnection, table: String) throws(SQLiteFailure) -> [String] {
        try connection.withStatement("SELECT name FROM pragma_table_info(?1)") { statement throws(SQLiteFailure) in
            try statement.bind(1, table)
            var names: [String] = []
            while try statement.step() { names.append(statement.text(0).lowercased()) }
            return names
        }
    }

    // MARK: Statements

    func lookup(_ lookup: RevocationLookup, now: Double) async throws(CacheError) -> [RevocationRow] {
        let sql = sql
        let now = Self.time(now)
        let lists = [lookup.jtis, lookup.families, lookup.subjects].map(Self.jsonArray)
        return try await pool.read("revocation lookup") { connection throws(SQLiteFailure) in
            try connection.withStatement(sql.lookup) { statement throws(SQLiteFailure) in
                try statement.bind(1, now)
                for (index, list) in lists.enumerated() { try statement.bind(Int32(index + 2), list) }
                var rows: [RevocationRow] = []
                while try statement.step() {
                    rows.append(RevocationRow(kind: statement.text(0), name: statement.text(1), value: statement.double(2)))
                }
                return rows
            }
        }
    }

    /// A JSON array of strings, for `json_each`: one parameter holds any number of ids.
    static func jsonArray(_ names: Set<String>) -> String {
        var text = "["
        for (index, name) in names.enumerated() {
            if index > 0 { text += "," }
            text += "\""
            for scalar in name.unicodeScalars {
                switch scalar {
                case "\"": text += "\\\""
                case "\\": text += "\\\\"
                case _ where scalar.value < 0x20:
                    let hex = String(scalar.value, radix: 16)
                    text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                default: text.unicodeScalars.append(scalar)
                }
            }
            text += "\""
        }
        return text + "]"
    }

    func revokeToken(_ jti: String, now: Double, expiresAt: Double) async throws(CacheError) {
        let sql = sql
        try await pool.write("revoke") { connection throws(SQLiteFailure) in
            try connection.withStatement(sql.revoke) { statement throws(SQLiteFailure) in
                try statement.bind(1, jti)
                try statement.bind(2, Self.time(now))
                try statement.bind(3, Self.time(expiresAt))
                try statement.run()
            }
        }
    }

    func consumeToken(_ jti: String, now: Double, expiresAt: Double) async throws(CacheError) -> Bool {
        let sql = sql
        return try await pool.write("consume") { connection throws(SQLiteFailure) in
            try connection.withStatement(sql.consume) { statement throws(SQLiteFailure) in
                try statement.bind(1, jti)
                try statement.bind(2, Self.time(now))
                try statement.bind(3, Self.time(expiresAt))
                try statement.run()
                return connection.changes == 1
            }
        }
    }

    func storeState(_ kind: RevocationStateKind, _ name: String, value: Double, now: Double, expiresAt: Double)
        async throws(CacheError)
    {
        let sql = sql
        try await pool.write("store \(kind)") { connection throws(SQLiteFailure) in
            try connection.withStatement(sql.storeState) { statement throws(SQLiteFailure) in
                try statement.bind(1, kind.rawValue)
                try statement.bind(2, name)
                try statement.bind(3, double: value)
                try statement.bind(4, Self.time(expiresAt))
                try statement.bind(5, Self.time(now))
                try statement.run()
            }
        }
    }

    func startFamily(_ family: String, now: Double, expiresAt: Double) async throws(CacheError) -> Bool {
        let sql = sql
        return try await pool.write("start family") { connection throws(SQLiteFailure) in
            try connection.withStatement(sql.startFamily) { statement throws(SQLiteFailure) in
                try statement.bind(1, family)
                try statement.bind(2, Self.time(expiresAt))
                try statement.bind(3, Self.time(now))
                try statement.run()
                return connection.changes == 1
            }
        }
    }

    func rotateFamily(_ family: String, from generation: Int, now: Double, expiresAt: Double) async throws(CacheError)
        -> FamilyRotation
    {
        let sql = sql
        let busyTimeout = options.busyTimeout
        let path = options.database
        return try await pool.transaction("rotate family") { connection throws(CacheError) -> FamilyRotation in
            do throws(SQLiteFailure) {
                let moved = try connection.withStatement(sql.rotate) { statement throws(SQLiteFailure) in
                    try statement.bind(1, family)
                    try statement.bind(2, Self.time(now))
                    try statement.bind(3, generation)
                    try statement.bind(4, Self.time(expiresAt))
                    try statement.run()
                    return connection.changes == 1
                }
                if moved { return .rotated(to: generation + 1) }
                let live = try connection.withStatement(sql.liveGeneration) { statement throws(SQLiteFailure) in
                    try statement.bind(1, family)
                    try statement.bind(2, Self.time(now))
                    return try statement.step()
                }
                return live ? .reused : .unknown
            } catch {
                throw SQLiteBackend.cacheError(error, operation: "rotate family", path: path, busyTimeout: busyTimeout)
            }
        }
    }

    func removeExpired(fromStateTable state: Bool, now: Double, limit: Int) async throws(CacheError) -> Int {
        let sql = sql
        return try await pool.write("remove expired") { connection throws(SQLiteFailure) in
            try connection.withStatement(state ? sql.removeExpiredState : sql.removeExpired) { statement throws(SQLiteFailure) in
                try statement.bind(1, Self.time(now))
                try statement.bind(2, limit)
                try statement.run()
                return connection.changes
            }
        }
    }

    func shutdown() async {
        await pool.shutdown()
    }

    func shutdownInBackground() {
        pool.shutdownInBackground()
    }
}

/// The SQL of every statement (SQLite dialect); ids, values and times are always parameters,
/// only the quoted table names are part of the text.
struct SQLiteRevocationStatements: Sendable {
    let table: String
    let stateTable: String
    let createTable: [String]
    let createStateTable: [String]
    let jtiIsUnique =
        "SELECT COUNT(*) FROM pragma_index_list(?1) AS list WHERE list.\"unique\" = 1 AND (SELECT COUNT(*) FROM pragma_index_info(list.name)) = 1 AND (SELECT name FROM pragma_index_info(list.name)) = 'jti'"
    let revoke: String
    let consume: String
    let storeState: String
    let startFamily: String
    let rotate: String
    let liveGeneration: String
    let removeExpired: String
    let removeExpiredState: String
    private let t: String
    private let s: String

    init(table: String) {
        self.table = table
        stateTable = DatabaseRevocation.stateTable(for: table)
        let t = Statements.quote(table)
        let s = Statements.quote(stateTable)
        self.t = t
        self.s = s
        // What Django's migrate makes for Bolt's model on SQLite, and our state table.
        createTable = [
            """
            CREATE TABLE IF NOT EXISTS \(t) (
                "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
                "jti" varchar(255) NOT NULL UNIQUE,
                "revoked_at" datetime NOT NULL,
                "expires_at" datetime NOT NULL
            )
            """,
            "CREATE INDEX IF NOT EXISTS \(Statements.quote(table + "_expires_at")) ON \(t) (\"expires_at\")",
        ]
        createStateTable = [
            """
            CREATE TABLE IF NOT EXISTS \(s) (
                "kind" varchar(1) NOT NULL,
                "name" varchar(255) NOT NULL,
                "value" real NOT NULL,
                "expires_at" datetime NOT NULL,
                PRIMARY KEY ("kind", "name")
            )
            """,
            "CREATE INDEX IF NOT EXISTS \(Statements.quote(stateTable + "_expires_at")) ON \(s) (\"expires_at\")",
        ]
        revoke = """
            INSERT INTO \(t) ("jti", "revoked_at", "expires_at") VALUES (?1, ?2, ?3)
            ON CONFLICT ("jti") DO UPDATE SET
                "revoked_at" = CASE WHEN \(t)."expires_at" <= ?2 THEN excluded."revoked_at" ELSE \(t)."revoked_at" END,
                "expires_at" = max(\(t)."expires_at", excluded."expires_at")
            """
        consume = """
            INSERT INTO \(t) ("jti", "revoked_at", "expires_at") VALUES (?1, ?2, ?3)
            ON CONFLICT ("jti") DO UPDATE SET "revoked_at" = excluded."revoked_at", "expires_at" = excluded."expires_at"
            WHERE \(t)."expires_at" <= ?2
            """
        storeState = """
            INSERT INTO \(s) ("kind", "name", "value", "expires_at") VALUES (?1, ?2, ?3, ?4)
            ON CONFLICT ("kind", "name") DO UPDATE SET
                "value" = CASE WHEN \(s)."expires_at" <= ?5 THEN excluded."value" ELSE max(\(s)."value", excluded."value") END,
                "expires_at" = CASE WHEN \(s)."expires_at" <= ?5 THEN excluded."expires_at" ELSE max(\(s)."expires_at", excluded."expires_at") END
            """
        startFamily = """
            INSERT INTO \(s) ("kind", "name", "value", "expires_at") VALUES ('g', ?1, 0, ?2)
            ON CONFLICT ("kind", "name") DO UPDATE SET "value" = 0, "expires_at" = excluded."expires_at"
            WHERE \(s)."expires_at" <= ?3
            """
        rotate = """
            UPDATE \(s) SET "value" = "value" + 1, "expires_at" = max("expires_at", ?4)
            WHERE "kind" = 'g' AND "name" = ?1 AND "expires_at" > ?2 AND "value" = ?3
            """
        liveGeneration = "SELECT 1 FROM \(s) WHERE \"kind\" = 'g' AND \"name\" = ?1 AND \"expires_at\" > ?2"
        removeExpired = """
            DELETE FROM \(t) WHERE "jti" IN (SELECT "jti" FROM \(t) WHERE "expires_at" <= ?1 LIMIT ?2)
            """
        removeExpiredState = """
            DELETE FROM \(s) WHERE ("kind", "name") IN (SELECT "kind", "name" FROM \(s) WHERE "expires_at" <= ?1 LIMIT ?2)
            """
    }

    /// Live token ids (`?2`), revoked families (`?3`) and subjects' cut-offs (`?4`) at `?1`:
    /// each list a JSON array, each id one index probe.
    ///
    /// Written as joins with the list first (`CROSS JOIN` fixes that order), not as
    /// `"jti" IN (SELECT value FROM json_each(?2))`: SQLite materializes an `IN` subquery into
    /// an ephemeral table, whose page cache each check allocated and freed again. Under load
    /// that churn (the allocator returning memory to the kernel and faulting it back) cost more
    /// than the lookups. The lists hold no duplicates (they are sets), so the rows are the same.
    var lookup: String {
        """
        SELECT 'j', r."jti", 0.0 FROM json_each(?2) AS l CROSS JOIN \(t) AS r ON r."jti" = l.value WHERE r."expires_at" > ?1
        UNION ALL
        SELECT 'f', s."name", 0.0 FROM json_each(?3) AS l CROSS JOIN \(s) AS s ON s."kind" = 'f' AND s."name" = l.value
        WHERE s."expires_at" > ?1
        UNION ALL
        SELECT 's', s."name", s."value" FROM json_each(?4) AS l CROSS JOIN \(s) AS s ON s."kind" = 's' AND s."name" = l.value
        WHERE s."expires_at" > ?1
        """
    }
}
