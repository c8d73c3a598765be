public import Caching
public import CachingSQLite
public import TokenRevocation

extension DatabaseRevocation {
    /// Creates a store on a PostgreSQL database. Nothing connects until the first call; a
    /// connection that failed is closed and the next call connects again, so a restarted server
    /// is used again without a new store.
    ///
    /// ```swift
    /// let revocation = try DatabaseRevocation(postgres: PostgresOptions(database: "postgres://app@db/app"))
    /// ```
    ///
    /// - Parameters:
    ///   - options: The connection string or URL (a password may come from `PGPASSWORD`; it is
    ///     never shown), `pool_size` connections, the per-call `timeout` and `create_table`
    ///     (culling options do not apply: revocations are never culled).
    ///   - table: The token-id table; the state table is its name + `_state`.
    ///   - clock: The wall clock expiry is measured by.
    /// - Throws: ``/TokenRevocation/RevocationError/Code/invalidArgument`` for an empty table name
    ///   or an option out of range.
    public convenience init(
        postgres options: PostgresOptions, table: String = DatabaseRevocation.defaultTable,
        clock: any CacheClock = SystemCacheClock()
    ) throws(RevocationError) {
        try Self.checkTable(table)
        do throws(CacheError) {
            try options.validate(alias: "revocation")
        } catch {
            throw RevocationError(
                .invalidArgument, "DatabaseRevocation's PostgreSQL options are invalid: \(error.message)", underlying: error)
        }
        self.init(database: PostgresRevocationDatabase(options: options, table: table), table: table, clock: clock)
    }
}

extension PostgresBackend: RevocationDatabaseSource {
    package func revocationDatabase(table: String) -> any RevocationDatabase {
        PostgresRevocationDatabase(options: options, table: table)
    }
}

/// ``/CachingSQLite/DatabaseRevocation``'s statements on PostgreSQL: a pool of libpq connections
/// on their own threads (non-blocking libpq and `poll`, bounded by the options' `timeout`), as
/// ``PostgresBackend`` runs its own.
final class PostgresRevocationDatabase: RevocationDatabase {
    private let options: PostgresOptions
    private let sql: PostgresRevocationStatements
    private let pool: PostgresConnectionPool
    /// Whether a missing table is created: the option until the tables were first found or
    /// made, then only while ``createTables()`` runs. A table that vanishes later took its
    /// revocations with it; making an empty one would accept the tokens revoked there.
    private let createOnPrepare: Flag
    /// Whether the tables were found or made once.
    private let tablesSeen = Flag(false)
    let describe: String
    let concurrentLookups: Int

    init(options: PostgresOptions, table: String) {
        self.options = options
        let sql = PostgresRevocationStatements(table: table)
        self.sql = sql
        describe =
            "PostgreSQL '\(options.masked)' (tables \"\(table)\" and \"\(DatabaseRevocation.stateTable(for: table))\")"
        let createOnPrepare = Flag(options.createTable)
        self.createOnPrepare = createOnPrepare
        let tablesSeen = tablesSeen
        pool = PostgresConnectionPool(
            options: options, describe: "'\(options.masked)' (revocation table \"\(table)\")",
            owner: "DatabaseRevocation on PostgreSQL table \"\(table)\""
        ) { connection throws(CacheError) in
            try Self.prepareTables(connection, sql: sql, create: createOnPrepare.value, seen: tablesSeen.value)
            tablesSeen.value = true
            createOnPrepare.value = false
        }
        concurrentLookups = options.poolSize
    }

    private static func time(_ unix: Double) -> String { DatabaseCacheTime.text(forUnixTime: unix) + "+00" }

    /// Runs `body` on a pool connection. A table gone since it was checked (dropped, or lost
    /// with a crashed server's last commits) fails this call; the next checks the tables again,
    /// and keeps failing until they are back (or ``createTables()`` makes empty ones).
    private func run<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (PostgresConnection) throws(CacheError) -> T
    ) async throws(CacheError) -> T {
        do throws(CacheError) {
            return try await pool.run(body)
        } catch {
            if error.code == .invalidSettings { pool.needsPreparing() }
            throw error
        }
    }

    private static func prepareTables(
        _ connection: PostgresConnection, sql: PostgresRevocationStatements, create: Bool, seen: Bool
    ) throws(CacheError) {
        for (table, ddl, required) in [
            (sql.table, sql.createTable, ["jti", "revoked_at", "expires_at"]),
            (sql.stateTable, sql.createStateTable, ["kind", "name", "value", "expires_at"]),
        ] {
            var columns = try connection.run(sql.columns, [table], operation: "open").rows.compactMap { $0.first ?? nil }
            if columns.isEmpty {
                if seen && !create {
                    throw CacheError(
                        .invalidSettings,
                        "The revocation table \"\(table)\" is gone from the database although this store used it (dropped, renamed, or the database replaced): the revocations it held are not there, so checks and revokes fail closed instead of answering from an empty table. Restore the table, or call DatabaseRevocation.createTables() to start with an empty one on purpose"
                    )
                }
                guard create else {
                    throw CacheError(
                        .invalidSettings,
                        "The revocation table \"\(table)\" is not in the database; create it with DatabaseRevocation.createTables() (or Django's migrate for the RevokedToken model), or set create_table to true"
                    )
                }
                try connection.execute("BEGIN", operation: "create table")
                do throws(CacheError) {
                    _ = try connection.run("SELECT pg_advisory_xact_lock(hashtext($1))", [table], operation: "create table")
                    for statement in ddl { try connection.execute(statement, operation: "create table") }
                    try connection.execute("COMMIT", operation: "create table")
                } catch {
                    if connection.isOpen { try? connection.execute("ROLLBACK", operation: "create table") }
                    throw error
                }
                columns = try connection.run(sql.columns, [table], operation: "open").rows.compactMap { $0.first ?? nil }
            }
            let missing = required.filter { !columns.contains($0) }
            guard missing.isEmpty else {
                throw CacheError(
                    .invalidSettings,
                    "The table \"\(table)\" is not a revocation table of Django-Bolt's layout: it has no \(missing.joined(separator: ", ")) column (its columns: \(columns.joined(separator: ", "))); it was left as it is. Name another table"
                )
            }
        }
        let unique = try connection.run(sql.jtiIsUnique, [sql.table], operation: "open").rows.first?.first ?? nil
        guard unique == "t" else {
            throw CacheError(
                .invalidSettings,
                "The table \"\(sql.table)\" is not a revocation table of Django-Bolt's layout: its jti column is not unique, so a revocation could not be one row; it was left as it is. Name another table"
            )
        }
    }

    func createTables() async throws(CacheError) {
        createOnPrepare.value = true
        defer { createOnPrepare.value = false }
        pool.needsPreparing()
        try await run("create tables") { _ throws(CacheError) in }
    }

    // MARK: Statements

    func lookup(_ lookup: RevocationLookup, now: Double) async throws(CacheError) -> [RevocationRow] {
        let sql = sql
        let arrays = [lookup.jtis, lookup.families, lookup.subjects].map { PostgresRevocationStatements.array(Array($0)) }
        return try await run("revocation lookup") { connection throws(CacheError) in
            let result = try connection.run(sql.lookup, arrays + [Self.time(now)], operation: "revocation lookup")
            return result.rows.map { row in
                RevocationRow(kind: row[0] ?? "", name: row[1] ?? "", value: row[2].flatMap { Double($0) } ?? .nan)
            }
        }
    }

    func revokeToken(_ jti: String, now: Double, expiresAt: Double) async throws(CacheError) {
        let sql = sql
        _ = try await run("revoke") { connection throws(CacheError) in
            try connection.run(sql.revoke, [jti, Self.time(now), Self.time(expiresAt)], operation: "revoke")
        }
    }

    func consumeToken(_ jti: String, now: Double, expiresAt: Double) async throws(CacheError) -> Bool {
        let sql = sql
        return try await run("consume") { connection throws(CacheError) in
            try connection.run(sql.consume, [jti, Self.time(now), Self.time(expiresAt)], operation: "consume").affected == 1
        }
    }

    func storeState(_ kind: RevocationStateKind, _ name: String, value: Double, now: Double, expiresAt: Double)
        async throws(CacheError)
    {
        let sql = sql
        _ = try await run("store \(kind)") { connection throws(CacheError) in
            try connection.run(
                sql.storeState, [kind.rawValue, name, "\(value)", Self.time(expiresAt), Self.time(now)], operation: "store \(kind)")
        }
    }

    func startFamily(_ family: String, now: Double, expiresAt: Double) async throws(CacheError) -> Bool {
        let sql = sql
        return try await run("start family") { connection throws(CacheError) in
            try connection.run(sql.startFamily, [family, Self.time(expiresAt), Self.time(now)], operation: "start family").affected == 1
        }
    }

    func rotateFamily(_ family: String, from generation: Int, now: Double, expiresAt: Double) async throws(CacheError)
        -> FamilyRotation
    {
        let sql = sql
        return try await run("rotate family") { connection throws(CacheError) -> FamilyRotation in
            let row =
                try connection.run(
                    sql.rotate, [family, Self.time(now), String(generation), Self.time(expiresAt)], operation: "rotate family"
                ).rows.first ?? []
            if row.count == 2, row[0] != nil { return .rotated(to: generation + 1) }
            return row.count == 2 && row[1] == "t" ? .reused : .unknown
        }
    }

    func removeExpired(fromStateTable state: Bool, now: Double, limit: Int) async throws(CacheError) -> Int {
        let sql = sql
        return try await run("remove expired") { connection throws(CacheError) in
            try connection.run(
                state ? sql.removeExpiredState : sql.removeExpired, [Self.time(now), String(limit)], operation: "remove expired"
            ).affected
        }
    }

    func shutdown() async {
        await pool.shutdown()
    }

    func shutdownInBackground() {
        pool.shutdownInBackground()
    }
}

/// The SQL of every statement (PostgreSQL dialect); ids, values and times are always parameters.
struct PostgresRevocationStatements: Sendable {
    let table: String
    let stateTable: String
    let columns =
        "SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1"
    let jtiIsUnique = """
        SELECT EXISTS (
            SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
            WHERE i.indrelid = to_regclass(quote_ident($1)) AND i.indisunique AND i.indnatts = 1 AND a.attname = 'jti'
        )
        """
    let createTable: [String]
    let createStateTable: [String]
    let lookup: String
    let revoke: String
    let consume: String
    let storeState: String
    let startFamily: String
    let rotate: String
    let removeExpired: String
    let removeExpiredState: String

    static func quote(_ name: String) -> String { "\"" + name.replacing("\"", with: "\"\"") + "\"" }

    /// `{"a","b"}`: a PostgreSQL text array literal.
    static func array(_ names: [String]) -> String {
        "{" + names.map { "\"" + $0.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\"" }.joined(separator: ",") + "}"
    }

    init(table: String) {
        self.table = table
        stateTable = DatabaseRevocation.stateTable(for: table)
        let t = Self.quote(table)
        let s = Self.quote(stateTable)
        // What Django's migrate makes for Bolt's model on PostgreSQL, and our state table.
        createTable = [
            """
            CREATE TABLE IF NOT EXISTS \(t) (
                "id" bigint NOT NULL PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY,
                "jti" varchar(255) NOT NULL UNIQUE,
                "revoked_at" timestamp with time zone NOT NULL,
                "expires_at" timestamp with time zone NOT NULL
            )
            """,
            "CREATE INDEX IF NOT EXISTS \(Self.quote(table + "_expires_at")) ON \(t) (\"expires_at\")",
        ]
        createStateTable = [
            """
            CREATE TABLE IF NOT EXISTS \(s) (
                "kind" varchar(1) NOT NULL,
                "name" varchar(255) NOT NULL,
                "value" double precision NOT NULL,
                "expires_at" timestamp with time zone NOT NULL,
                PRIMARY KEY ("kind", "name")
            )
            """,
            "CREATE INDEX IF NOT EXISTS \(Self.quote(stateTable + "_expires_at")) ON \(s) (\"expires_at\")",
        ]
        lookup = """
            SELECT 'j'::text, "jti"::text, 0::float8 FROM \(t) WHERE "jti" = ANY($1::text[]) AND "expires_at" > $4::timestamptz
            UNION ALL
            SELECT 'f', "name"::text, 0::float8 FROM \(s)
            WHERE "kind" = 'f' AND "name" = ANY($2::text[]) AND "expires_at" > $4::timestamptz
            UNION ALL
            SELECT 's', "name"::text, "value" FROM \(s)
            WHERE "kind" = 's' AND "name" = ANY($3::text[]) AND "expires_at" > $4::timestamptz
            """
        revoke = """
            INSERT INTO \(t) AS old ("jti", "revoked_at", "expires_at") VALUES ($1, $2::timestamptz, $3::timestamptz)
            ON CONFLICT ("jti") DO UPDATE SET
                "revoked_at" = CASE WHEN old."expires_at" <= $2::timestamptz THEN EXCLUDED."revoked_at" ELSE old."revoked_at" END,
                "expires_at" = GREATEST(old."expires_at", EXCLUDED."expires_at")
            """
        consume = """
            INSERT INTO \(t) AS old ("jti", "revoked_at", "expires_at") VALUES ($1, $2::timestamptz, $3::timestamptz)
            ON CONFLICT ("jti") DO UPDATE SET "revoked_at" = EXCLUDED."revoked_at", "expires_at" = EXCLUDED."expires_at"
            WHERE old."expires_at" <= $2::timestamptz
            """
        storeState = """
            INSERT INTO \(s) AS old ("kind", "name", "value", "expires_at") VALUES ($1, $2, $3::float8, $4::timestamptz)
            ON CONFLICT ("kind", "name") DO UPDATE SET
                "value" = CASE WHEN old."expires_at" <= $5::timestamptz THEN EXCLUDED."value" ELSE GREATEST(old."value", EXCLUDED."value") END,
                "expires_at" = CASE WHEN old."expires_at" <= $5::timestamptz THEN EXCLUDED."expires_at" ELSE GREATEST(old."expires_at", EXCLUDED."expires_at") END
            """
        startFamily = """
            INSERT INTO \(s) AS old ("kind", "name", "value", "expires_at") VALUES ('g', $1, 0, $2::timestamptz)
            ON CONFLICT ("kind", "name") DO UPDATE SET "value" = 0, "expires_at" = EXCLUDED."expires_at"
            WHERE old."expires_at" <= $3::timestamptz
            """
        // One statement: the conditional update (exactly one of concurrent callers matches the
        // generation; the others re-check the updated row and do not), and whether a live state
        // exists at all (reuse) or not (unknown).
        rotate = """
            WITH moved AS (
                UPDATE \(s) SET "value" = "value" + 1, "expires_at" = GREATEST("expires_at", $4::timestamptz)
                WHERE "kind" = 'g' AND "name" = $1 AND "expires_at" > $2::timestamptz AND "value" = $3::float8
                RETURNING "value"
            )
            SELECT (SELECT "value" FROM moved),
                EXISTS (SELECT 1 FROM \(s) WHERE "kind" = 'g' AND "name" = $1 AND "expires_at" > $2::timestamptz)
            """
        removeExpired = """
            DELETE FROM \(t) WHERE "jti" IN (SELECT "jti" FROM \(t) WHERE "expires_at" <= $1::timestamptz LIMIT $2::bigint)
            """
        removeExpiredState = """
            DELETE FROM \(s) WHERE ("kind", "name") IN (
                SELECT "kind", "name" FROM \(s) WHERE "expires_at" <= $1::timestamptz LIMIT $2::bigint)
            """
    }
}
