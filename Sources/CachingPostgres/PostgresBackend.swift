public import Caching
import CachingSQLite
import Synchronization

/// The `OPTIONS` of a database-cache alias on PostgreSQL.
///
/// | option | type | default | meaning |
/// | --- | --- | --- | --- |
/// | `database` | string | required | a libpq connection string or `postgres://` URL; a password may come from `PGPASSWORD` instead, and is never shown |
/// | `pool_size` | integer 1…64 | 2 | threads, each with its own connection |
/// | `create_table` | bool | true | create Django's table (and index) when it is missing |
/// | `timeout` | seconds > 0 | 5 | the most one call may take: waiting for a thread, connecting and every statement; then ``/Caching/CacheError/Code/timeout`` and the connection is closed |
/// | `MAX_ENTRIES`, `CULL_FREQUENCY` | integers | 300, 3 | Django's culling |
public struct PostgresOptions: Sendable, Hashable {
    /// The libpq connection string or URL.
    public var database: String
    /// Threads, each with its own connection.
    public var poolSize = 2
    /// Whether a missing table is created.
    public var createTable = true
    /// The most one call may take, in seconds: waiting for a thread, connecting and its statements.
    public var timeout = 5.0
    /// Django's `MAX_ENTRIES`.
    public var maxEntries = DjangoDefaults.maxEntries
    /// Django's `CULL_FREQUENCY`.
    public var cullFrequency = DjangoDefaults.cullFrequency

    /// The option names `OPTIONS` may hold.
    public static let names: Set<String> = [
        "database", "pool_size", "create_table", "timeout", "MAX_ENTRIES", "CULL_FREQUENCY",
    ]

    /// Options for a connection string, the rest at their defaults.
    public init(database: String) {
        self.database = database
    }

    /// Reads `OPTIONS` from an alias's settings.
    ///
    /// - Throws: ``/Caching/CacheError/Code/invalidSettings`` naming the alias and the option.
    public init(settings: CacheSettings, alias: String) throws(CacheError) {
        try settings.rejectUnknownOptions(allowed: Self.names, alias: alias, backend: "db (PostgreSQL)")
        guard let database = try settings.stringOption("database", default: nil, alias: alias) else {
            throw CacheSettings.invalid(
                alias, ["OPTIONS", "database"], "is missing; give a postgres:// URL or a libpq connection string")
        }
        self.init(database: database)
        poolSize = try settings.integerOption("pool_size", default: poolSize, alias: alias)
        createTable = try settings.boolOption("create_table", default: createTable, alias: alias)
        timeout = try settings.numberOption("timeout", default: timeout, alias: alias)
        maxEntries = try settings.integerOption("MAX_ENTRIES", default: maxEntries, alias: alias)
        cullFrequency = try settings.integerOption("CULL_FREQUENCY", default: cullFrequency, alias: alias)
        try validate(alias: alias)
    }

    /// Checks every option's range.
    public func validate(alias: String) throws(CacheError) {
        guard !database.isEmpty else { throw CacheSettings.invalid(alias, ["OPTIONS", "database"], "must not be empty") }
        guard (1...64).contains(poolSize) else {
            throw CacheSettings.invalid(alias, ["OPTIONS", "pool_size"], "must be an integer from 1 to 64; found \(poolSize)")
        }
        guard timeout > 0, timeout <= 3600 else {
            throw CacheSettings.invalid(
                alias, ["OPTIONS", "timeout"], "must be a number of seconds above 0, at most 3600; found \(timeout)")
        }
        guard maxEntries >= 1 else {
            throw CacheSettings.invalid(alias, ["OPTIONS", "MAX_ENTRIES"], "must be 1 or more; found \(maxEntries)")
        }
        guard cullFrequency >= 0 else {
            throw CacheSettings.invalid(alias, ["OPTIONS", "CULL_FREQUENCY"], "must be 0 or more; found \(cullFrequency)")
        }
    }

    /// The connection string with any password replaced by `***`.
    var masked: String {
        var bytes = Array(database.utf8)
        func find(_ needle: String, from start: Int = 0) -> Int? {
            let needle = Array(needle.utf8)
            guard bytes.count >= needle.count else { return nil }
            for index in start...(bytes.count - needle.count) where Array(bytes[index..<(index + needle.count)]) == needle {
                return index
            }
            return nil
        }
        if let scheme = find("://"), let at = bytes.lastIndex(of: UInt8(ascii: "@")), at > scheme + 3,
            let colon = bytes[(scheme + 3)..<at].firstIndex(of: UInt8(ascii: ":"))
        {
            bytes.replaceSubrange((colon + 1)..<at, with: Array("***".utf8))
        }
        if let password = find("password=") {
            let start = password + 9
            let end = bytes[start...].firstIndex(of: UInt8(ascii: " ")) ?? bytes.count
            bytes.replaceSubrange(start..<end, with: Array("***".utf8))
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Django's `DatabaseCache` on PostgreSQL, over libpq: the table `createcachetable` makes
/// (`expires` a `timestamp with time zone`), values as ``/CachingSQLite/DatabaseCacheValueFormat``
/// writes them (base64 pickles), a pool of connections on the backend's own threads.
///
/// `set` and `add` are single `INSERT … ON CONFLICT` statements (atomic in the server); `incr`
/// and compare-and-set read the row `FOR UPDATE` in a transaction. Expiry is compared in SQL
/// against the time of the configured clock, sent as a parameter. Culling is Django's, counted
/// as the SQLite backend counts (no `COUNT(*)` on every write). A connection that failed is
/// closed and the next call reconnects: a restarted server is used again without a restart of
/// this process.
public final class PostgresBackend: CacheBackend {
    /// The table (Django's `LOCATION`).
    public let table: String
    /// The options the cache was created with.
    public let options: PostgresOptions
    /// The clock expiry is measured by.
    public let clock: any CacheClock
    private let alias: String
    private let sql: PostgresStatements
    private let pool: PostgresConnectionPool
    private let rows = Mutex<(count: Int?, insertsSinceCount: Int)>((nil, 0))

    /// A live entry may be culled; rows survive restarts and are shared by every client.
    public var capabilities: CacheBackendCapabilities {
        CacheBackendCapabilities(
            name: "db (postgresql)", mayEvictLiveEntries: true, survivesRestart: true, requiresValidKeys: false,
            sharedAcrossProcesses: true)
    }

    /// Creates a cache on a table of a PostgreSQL database. Nothing connects until the first call.
    ///
    /// - Parameters:
    ///   - table: The table (Django's `LOCATION`).
    ///   - options: The connection string, `pool_size`, `timeout` and culling.
    ///   - clock: The clock expiry is measured by.
    ///   - alias: The alias, named in errors.
    ///   - observability: Where the connection threads' queue reports (`cache_pool_queue_depth`
    ///     and `cache_pool_wait`, `pool` = `postgresql <alias>`: time waiting for a connection).
    /// - Throws: ``/Caching/CacheError/Code/invalidSettings`` for an empty table name or an option out of range.
    public init(
        table: String, options: PostgresOptions, clock: any CacheClock = SystemCacheClock(), alias: String = "default",
        observability: CacheObservability = .off
    ) throws(CacheError) {
        guard !table.isEmpty, !table.contains("\u{0}") else {
            throw CacheSettings.invalid(alias, "LOCATION", "must name the cache table, such as \"my_cache_table\"; found \"\(table)\"")
        }
        try options.validate(alias: alias)
        self.table = table
        self.options = options
        self.clock = clock
        self.alias = alias
        let sql = PostgresStatements(table: table)
        self.sql = sql
        pool = PostgresConnectionPool(
            options: options, describe: "'\(options.masked)' (cache '\(alias)')", owner: "PostgreSQL cache '\(alias)'"
        ) { connection throws(CacheError) in
            try Self.prepareTable(connection, sql: sql, table: table, options: options, alias: alias)
        }
        if let factory = observability.metricsFactory { pool.reportMetrics(to: factory, pool: "postgresql \(observability.alias)") }
    }

    /// Creates a backend from an alias's settings.
    public convenience init(context: CacheBackendContext) throws(CacheError) {
        let settings = context.settings
        guard settings.location.count == 1, !settings.primaryLocation.isEmpty else {
            throw CacheSettings.invalid(
                context.alias, "LOCATION", "must be one table name for the database cache, such as \"my_cache_table\"")
        }
        try self.init(
            table: settings.primaryLocation, options: PostgresOptions(settings: settings, alias: context.alias),
            clock: context.configuration.clock, alias: context.alias, observability: context.configuration.observability)
    }

    deinit {
        pool.shutdownInBackground()
    }

    // MARK: Running statements

    private func run<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws(CacheError) -> T) async throws(CacheError) -> T {
        try await pool.run(body)
    }

    private func transaction<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (PostgresConnection) throws(CacheError) -> T
    ) async throws(CacheError) -> T {
        try await pool.transaction(operation, body)
    }

    private static func prepareTable(
        _ connection: PostgresConnection, sql: PostgresStatements, table: String, options: PostgresOptions, alias: String
    ) throws(CacheError) {
        var columns = try connection.run(sql.columns, [table], operation: "open").rows.compactMap { $0.first ?? nil }
        if columns.isEmpty {
            guard options.createTable else {
                throw CacheSettings.invalid(
                    alias, "LOCATION",
                    "names the table \"\(table)\", which is not in the database; create it with Django's createcachetable, or set OPTIONS[\"create_table\"] to true"
                )
            }
            try connection.execute("BEGIN", operation: "create table")
            do throws(CacheError) {
                _ = try connection.run("SELECT pg_advisory_xact_lock(hashtext($1))", [table], operation: "create table")
                try connection.execute(sql.createTable, operation: "create table")
                try connection.execute(sql.createIndex, operation: "create table")
                try connection.execute("COMMIT", operation: "create table")
            } catch {
                if connection.isOpen { try? connection.execute("ROLLBACK", operation: "create table") }
                throw error
            }
            columns = try connection.run(sql.columns, [table], operation: "open").rows.compactMap { $0.first ?? nil }
        }
        let missing = ["cache_key", "value", "expires"].filter { !columns.contains($0) }
        guard missing.isEmpty else {
            throw CacheSettings.invalid(
                alias, "LOCATION",
                "names the table \"\(table)\", which is not Django's cache table: it has no \(missing.joined(separator: ", ")) column (its columns: \(columns.joined(separator: ", "))); it was left as it is"
            )
        }
    }

    private static func checkKey(_ key: String) throws(CacheError) {
        guard !key.utf8.contains(0) else {
            throw CacheError(.invalidKey, "Key '\(key)' holds a NUL character, which PostgreSQL text cannot hold", key: key)
        }
    }

    private func now() -> String { Self.timestamp(clock.now()) }

    private static func timestamp(_ time: Double) -> String { DatabaseCacheTime.text(forUnixTime: time) + "+00" }

    private static func timestamp(_ expiry: CacheExpiry) -> String { DatabaseCacheTime.text(for: expiry) + "+00" }

    /// `{"a","b"}`: a PostgreSQL text array literal.
    private static func array(_ keys: [String]) -> String {
        "{" + keys.map { "\"" + $0.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\"" }.joined(separator: ",") + "}"
    }

    private func decode(_ text: String?, key: String) throws(CacheError) -> CacheEntry {
        guard let text, let entry = DatabaseCacheValueFormat.decode(Array(text.utf8)) else {
            throw CacheError(.foreignValue, "The value under key '\(key)' in table \"\(table)\" is not base64", key: key)
        }
        return entry
    }

    private func isExpired(_ expiry: CacheExpiry) -> Bool { expiry.isExpired(at: clock.now()) }

    // MARK: Culling

    /// Django's cull when the table is over `MAX_ENTRIES`, before a write.
    private func makeRoom(_ connection: PostgresConnection, now: String) throws(CacheError) {
        let resync = max(1, options.maxEntries / 2)
        var total: Int? = rows.withLock { $0.insertsSinceCount >= resync ? nil : $0.count }
        var counted = false
        func count() throws(CacheError) -> Int {
            counted = true
            return Int(try connection.run(sql.count, [], operation: "cull").rows.first?.first??.description ?? "0") ?? 0
        }
        if total == nil { total = try count() }
        if total! > options.maxEntries, !counted { total = try count() }
        var remaining = total!
        if remaining > options.maxEntries {
            if options.cullFrequency == 0 {
                _ = try connection.run(sql.deleteAll, [], operation: "cull")
                remaining = 0
            } else {
                remaining -= try connection.run(sql.deleteExpired, [now], operation: "cull").affected
                if remaining > options.maxEntries {
                    let boundary = try connection.run(sql.cullBoundary, [String(remaining / options.cullFrequency)], operation: "cull")
                    if let key = boundary.rows.first?.first ?? nil {
                        remaining -= try connection.run(sql.deleteBelow, [key], operation: "cull").affected
                    }
                }
            }
        }
        let final = remaining
        rows.withLock {
            $0.count = final
            if counted { $0.insertsSinceCount = 0 }
        }
    }

    private func inserted(_ result: PostgresRows) {
        guard result.rows.first?.first == "t" else { return }
        rows.withLock {
            $0.count? += 1
            $0.insertsSinceCount += 1
        }
    }

    // MARK: CacheBackend

    public func entry(forKey key: String) async throws -> CacheEntry? {
        try Self.checkKey(key)
        let sql = sql
        let now = now()
        // Read and decoded where libpq holds the row: no strings made of the value or the flag.
        let row: StoredRow? = try await run { connection throws(CacheError) in
            try connection.query(sql.select, [key, now], operation: "get") { result -> StoredRow? in
                guard result.rowCount > 0 else { return nil }
                guard result.firstByte(0, 1) == UInt8(ascii: "t") else { return .expired }
                guard !result.isNull(0, 0) else { return .live(nil) }
                return .live(result.withBytes(0, 0) { DatabaseCacheValueFormat.decode(base64: $0) })
            }
        }
        switch row {
        case nil:
            return nil
        case .expired:
            _ = try await run { connection throws(CacheError) in try connection.run(sql.deleteIfExpired, [key, now], operation: "get") }
            return nil
        case .live(let entry):
            guard let entry else {
                throw CacheError(.foreignValue, "The value under key '\(key)' in table \"\(table)\" is not base64", key: key)
            }
            return entry
        }
    }

    /// What a get found in a row: expired, or live with its entry (`nil` when not base64).
    private enum StoredRow: Sendable {
        case expired
        case live(CacheEntry?)
    }

    public func entries(forKeys keys: [String]) async throws -> [CacheEntry?] {
        guard !keys.isEmpty else { return [] }
        for key in keys { try Self.checkKey(key) }
        let sql = sql
        let now = now()
        let list = Self.array(keys)
        let rows = try await run { connection throws(CacheError) in
            try connection.run(sql.selectMany, [list, now], operation: "get_many").rows
        }
        var found: [String: String?] = [:]
        var expired: [String] = []
        for row in rows {
            guard let key = row[0] else { continue }
            if row[2] == "t" { found[key] = row[1] } else { expired.append(key) }
        }
        if !expired.isEmpty {
            let expiredList = Self.array(expired)
            _ = try await run { connection throws(CacheError) in
                try connection.run(sql.deleteManyIfExpired, [expiredList, now], operation: "get_many")
            }
        }
        return try keys.map { key throws(CacheError) -> CacheEntry? in
            guard let value = found[key] else { return nil }
            return try decode(value, key: key)
        }
    }

    public func containsEntry(forKey key: String) async throws -> Bool {
        try Self.checkKey(key)
        let sql = sql
        let now = now()
        return try await run { connection throws(CacheError) in
            !(try connection.run(sql.selectLive, [key, now], operation: "has_key").rows.isEmpty)
        }
    }

    public func store(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws {
        _ = try await store([(key, entry)], expiry: expiry)
    }

    public func store(_ entries: [(key: String, entry: CacheEntry)], expiry: CacheExpiry) async throws -> [String] {
        guard !entries.isEmpty else { return [] }
        for (key, _) in entries { try Self.checkKey(key) }
        let sql = sql
        let values = entries.map { ($0.key, String(decoding: DatabaseCacheValueFormat.encode($0.entry), as: UTF8.self)) }
        if isExpired(expiry) {
            try await removeEntries(forKeys: entries.map(\.key))
            return []
        }
        let expires = Self.timestamp(expiry)
        try await run { [self] connection throws(CacheError) in
            try makeRoom(connection, now: now())
            for (key, value) in values { inserted(try connection.run(sql.upsert, [key, value, expires], operation: "set")) }
        }
        return []
    }

    public func storeIfAbsent(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws -> Bool {
        try Self.checkKey(key)
        let sql = sql
        if isExpired(expiry) {
            let now = now()
            return try await run { connection throws(CacheError) in
                _ = try connection.run(sql.deleteIfExpired, [key, now], operation: "add")
                return try connection.run(sql.selectLive, [key, now], operation: "add").rows.isEmpty
            }
        }
        let value = String(decoding: DatabaseCacheValueFormat.encode(entry), as: UTF8.self)
        let expires = Self.timestamp(expiry)
        return try await run { [self] connection throws(CacheError) in
            let now = now()
            try makeRoom(connection, now: now)
            let result = try connection.run(sql.add, [key, value, expires, now], operation: "add")
            inserted(result)
            return !result.rows.isEmpty
        }
    }

    public func compareAndStore(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry, expected: CacheEntry?) async throws -> Bool {
        guard let expected else { return try await storeIfAbsent(entry, forKey: key, expiry: expiry) }
        try Self.checkKey(key)
        let sql = sql
        let value = String(decoding: DatabaseCacheValueFormat.encode(entry), as: UTF8.self)
        let expires = Self.timestamp(expiry)
        let expired = isExpired(expiry)
        return try await transaction("compare-and-set") { [self] connection throws(CacheError) in
            let now = now()
            guard let row = try connection.run(sql.selectForUpdate, [key, now], operation: "compare-and-set").rows.first,
                row[1] == "t", try decode(row[0], key: key) == expected
            else { return false }
            if expired {
                _ = try connection.run(sql.delete, [key, now], operation: "compare-and-set")
            } else {
                _ = try connection.run(sql.update, [key, value, expires], operation: "compare-and-set")
            }
            return true
        }
    }

    public func removeEntry(forKey key: String) async throws -> Bool {
        try Self.checkKey(key)
        let sql = sql
        let now = now()
        let result = try await run { connection throws(CacheError) in try connection.run(sql.delete, [key, now], operation: "delete") }
        rows.withLock { $0.count = $0.count.map { max(0, $0 - result.affected) } }
        return result.rows.first?.first == "t"
    }

    public func removeEntries(forKeys keys: [String]) async throws {
        guard !keys.isEmpty else { return }
        for key in keys { try Self.checkKey(key) }
        let sql = sql
        let list = Self.array(keys)
        let result = try await run { connection throws(CacheError) in try connection.run(sql.deleteMany, [list], operation: "delete_many") }
        rows.withLock { $0.count = $0.count.map { max(0, $0 - result.affected) } }
    }

    public func updateExpiry(forKey key: String, to expiry: CacheExpiry) async throws -> Bool {
        try Self.checkKey(key)
        let sql = sql
        let now = now()
        if isExpired(expiry) {
            return try await run { connection throws(CacheError) in
                try connection.run(sql.deleteIfLive, [key, now], operation: "touch").affected > 0
            }
        }
        let expires = Self.timestamp(expiry)
        return try await run { connection throws(CacheError) in
            try connection.run(sql.touch, [key, expires, now], operation: "touch").affected > 0
        }
    }

    public func increment(entryForKey key: String, by delta: Int) async throws -> Int {
        try Self.checkKey(key)
        let sql = sql
        return try await transaction("incr") { [self] connection throws(CacheError) in
            let now = now()
            guard let row = try connection.run(sql.selectForUpdate, [key, now], operation: "incr").rows.first, row[1] == "t" else {
                throw CacheError(.keyNotFound, "Key '\(key)' not found", key: key)
            }
            let entry = try decode(row[0], key: key)
            guard let current = entry.integerValue else {
                throw CacheError(
                    .notAnInteger,
                    "Key '\(key)' holds a value that is not an integer (item flags \(entry.flags)); incr and decr need an integer value",
                    key: key)
            }
            let (sum, overflow) = current.addingReportingOverflow(delta)
            guard !overflow else {
                throw CacheError(.integerOverflow, "Adding \(delta) to \(current) under key '\(key)' overflows Int", key: key)
            }
            let value = String(decoding: DatabaseCacheValueFormat.encode(.integer(sum)), as: UTF8.self)
            _ = try connection.run(sql.updateValue, [key, value], operation: "incr")
            return sum
        }
    }

    public func clear() async throws {
        let sql = sql
        _ = try await run { connection throws(CacheError) in try connection.run(sql.deleteAll, [], operation: "clear") }
        rows.withLock { $0 = (0, 0) }
    }

    /// Closes every connection; the next call reconnects.
    public func close() async throws {
        pool.close()
    }

    /// Closes every connection and joins the threads; later calls fail with ``/Caching/CacheError/Code/closed``.
    public func shutdown() async throws {
        await pool.shutdown()
    }
}

/// The SQL of every statement; keys, values and times are always parameters.
/// A class, so a closure sent to a pool thread captures one reference rather than copying (and
/// retaining) every string.
final class PostgresStatements: Sendable {
    let columns = "SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1"
    let createTable: String
    let createIndex: String
    let select: String
    let selectMany: String
    let selectLive: String
    let selectForUpdate: String
    let count: String
    let upsert: String
    let add: String
    let update: String
    let updateValue: String
    let touch: String
    let delete: String
    let deleteMany: String
    let deleteIfExpired: String
    let deleteManyIfExpired: String
    let deleteIfLive: String
    let deleteExpired: String
    let deleteAll: String
    let cullBoundary: String
    let deleteBelow: String

    init(table: String) {
        let t = "\"" + table.replacing("\"", with: "\"\"") + "\""
        createTable = """
            CREATE TABLE IF NOT EXISTS \(t) (
                "cache_key" varchar(255) NOT NULL PRIMARY KEY,
                "value" text NOT NULL,
                "expires" timestamp with time zone NOT NULL
            )
            """
        createIndex = "CREATE INDEX IF NOT EXISTS \"" + (table + "_expires").replacing("\"", with: "\"\"") + "\" ON \(t) (\"expires\")"
        select = "SELECT \"value\", \"expires\" > $2::timestamptz FROM \(t) WHERE \"cache_key\" = $1"
        selectMany =
            "SELECT \"cache_key\", \"value\", \"expires\" > $2::timestamptz FROM \(t) WHERE \"cache_key\" = ANY($1::text[])"
        selectLive = "SELECT 1 FROM \(t) WHERE \"cache_key\" = $1 AND \"expires\" > $2::timestamptz"
        selectForUpdate = "SELECT \"value\", \"expires\" > $2::timestamptz FROM \(t) WHERE \"cache_key\" = $1 FOR UPDATE"
        count = "SELECT COUNT(*) FROM \(t)"
        upsert = """
            INSERT INTO \(t) ("cache_key", "value", "expires") VALUES ($1, $2, $3::timestamptz)
            ON CONFLICT ("cache_key") DO UPDATE SET "value" = EXCLUDED."value", "expires" = EXCLUDED."expires"
            RETURNING (xmax = 0)
            """
        add = """
            INSERT INTO \(t) AS existing ("cache_key", "value", "expires") VALUES ($1, $2, $3::timestamptz)
            ON CONFLICT ("cache_key") DO UPDATE SET "value" = EXCLUDED."value", "expires" = EXCLUDED."expires"
            WHERE existing."expires" <= $4::timestamptz
            RETURNING (xmax = 0)
            """
        update = "UPDATE \(t) SET \"value\" = $2, \"expires\" = $3::timestamptz WHERE \"cache_key\" = $1"
        updateValue = "UPDATE \(t) SET \"value\" = $2 WHERE \"cache_key\" = $1"
        touch = "UPDATE \(t) SET \"expires\" = $2::timestamptz WHERE \"cache_key\" = $1 AND \"expires\" > $3::timestamptz"
        delete = "DELETE FROM \(t) WHERE \"cache_key\" = $1 RETURNING \"expires\" > $2::timestamptz"
        deleteMany = "DELETE FROM \(t) WHERE \"cache_key\" = ANY($1::text[])"
        deleteIfExpired = "DELETE FROM \(t) WHERE \"cache_key\" = $1 AND \"expires\" <= $2::timestamptz"
        deleteManyIfExpired = "DELETE FROM \(t) WHERE \"cache_key\" = ANY($1::text[]) AND \"expires\" <= $2::timestamptz"
        deleteIfLive = "DELETE FROM \(t) WHERE \"cache_key\" = $1 AND \"expires\" > $2::timestamptz"
        deleteExpired = "DELETE FROM \(t) WHERE \"expires\" <= $1::timestamptz"
        deleteAll = "DELETE FROM \(t)"
        cullBoundary = "SELECT \"cache_key\" FROM \(t) ORDER BY \"cache_key\" LIMIT 1 OFFSET $1::bigint"
        deleteBelow = "DELETE FROM \(t) WHERE \"cache_key\" < $1"
    }
}

extension CacheBackends {
    /// Registers ``PostgresBackend`` under `postgresql` and `django.db.backends.postgresql` style
    /// names: `db_postgresql`.
    public static let postgresNames = ["postgres", "db_postgresql"]

    /// These backends plus the database cache on PostgreSQL.
    public func withPostgres() -> CacheBackends {
        var backends = self
        for name in Self.postgresNames {
            backends.register(name) { context -> any CacheBackend in try PostgresBackend(context: context) }
        }
        return backends
    }
}
