import CSQLite
public import Caching
import Synchronization

/// Storage in a SQLite file, in the table of Django's `DatabaseCache`: use it through a
/// ``Caching/Cache`` (`try Cache.sqlite(table: "my_cache_table", options: SQLiteOptions(database: path))`)
/// or name it in settings as `db`, `database` or `django.core.cache.backends.db.DatabaseCache`,
/// with `LOCATION` the table and `OPTIONS["database"]` the file (see ``SQLiteOptions``).
///
/// **The table** is the one Django's `createcachetable` makes, so a Django application and a
/// Swift one can share it: `cache_key varchar(255) NOT NULL PRIMARY KEY`, `value text NOT NULL`
/// (base64, see ``DatabaseCacheValueFormat``), `expires datetime NOT NULL` with the index
/// `<table>_expires` (UTC text, see ``DatabaseCacheTime``). It is created on first use when
/// missing (unless `create_table` is `false`), or by ``createTable()``; a table of another shape is
/// an error naming it, and is left as it is.
///
/// **Threads.** SQLite's calls block, so they run on the backend's own threads, never on Swift
/// concurrency's: one writer thread with the only connection that writes (SQLite lets one
/// connection write at a time anyway), and ``SQLiteOptions/poolSize`` reader threads with a
/// read-only connection each, which WAL mode lets read while the writer writes. The database is
/// put in WAL mode (`synchronous = NORMAL`: a commit is durable once the WAL is checkpointed or
/// the process ends cleanly; a power cut may lose the last commits, never the file). Every
/// statement is prepared once per connection and takes its keys, values and times as bound
/// parameters; only the table's name, quoted, is part of the SQL text.
///
/// **Django's rules, and where this backend is stricter:**
/// - A read that finds an expired row deletes it (only if it is still expired), as Django's `get`.
/// - `add`, `incr` and compare-and-set run in one `BEGIN IMMEDIATE` transaction on the writer:
///   no other connection, in this process or another, writes between the read and the write
///   (Django's `add` and `incr` are not atomic).
/// - `incr` keeps the entry's expiry (Django's base `incr` sets the value again with the
///   default timeout).
/// - Culling is Django's — when the table holds more than `MAX_ENTRIES` rows before a new key
///   is written, delete the expired rows, then if still over, the first `count / CULL_FREQUENCY`
///   keys in key order (`CULL_FREQUENCY` 0 empties the table) — but it does not count the rows
///   on every write: the writer keeps a count of its own inserts and deletes, counted afresh
///   (`COUNT(*)`) when that count says the table is over the limit, and after every
///   `MAX_ENTRIES / 2` new keys, so other processes' rows are seen. Only a write of a new key
///   can cull (Django checks on every write).
/// - Expiry keeps microseconds; Django writes whole seconds and reads either.
///
/// **Failures** are ``/Caching/CacheError``s naming the file: ``/Caching/CacheError/Code/timeout`` when
/// another connection held the lock longer than ``SQLiteOptions/busyTimeout``;
/// ``/Caching/CacheError/Code/storageFailure`` for a file that cannot be opened (a missing directory),
/// is read-only, is not a SQLite database, or a full disk; ``/Caching/CacheError/Code/invalidSettings``
/// for a table that is missing (with `create_table` off) or not Django's cache table. Nothing is
/// deleted or rewritten to recover: the file and its rows stay as they were.
public final class SQLiteBackend: CacheBackend {
    /// The table (Django's `LOCATION`).
    public let table: String
    /// The options the cache was created with.
    public let options: SQLiteOptions
    /// The clock expiry is measured by.
    public let clock: any CacheClock
    private let alias: String
    private let statements: Statements
    private let pool: SQLiteConnectionPool

    /// Reads answered on the caller's task, and reads tried there that a reader thread answered
    /// instead (for tests and benchmarks).
    package var taskReadCounts: (answered: Int, deferred: Int) { pool.taskReadCounts }
    private let rows: RowCount
    /// Whether the writer creates a missing table when it opens the database: the option, or
    /// `true` while ``createTable()`` runs.
    private let createOnOpen: Flag

    /// A live entry may be culled (unless `WHEN_FULL` is `refuse`); rows survive restarts and
    /// are shared by every process opening the file; any key can be stored.
    public var capabilities: CacheBackendCapabilities {
        CacheBackendCapabilities(
            name: "db (sqlite)", mayEvictLiveEntries: options.whenFull == .cull, survivesRestart: true,
            requiresValidKeys: false, sharedAcrossProcesses: true)
    }

    /// Creates a cache on a table of a SQLite file.
    ///
    /// Nothing is opened until the first call, so a file that cannot be opened is reported by
    /// that call, not here.
    ///
    /// - Parameters:
    ///   - table: The table (Django's `LOCATION`).
    ///   - options: The file, threads, busy timeout and culling.
    ///   - clock: The clock expiry is measured by; give the ``Caching/Cache`` over it the same one.
    ///   - alias: The alias, named in errors.
    ///   - observability: Where the threads' queues report (`cache_pool_queue_depth` and
    ///     `cache_pool_wait` with `pool` = `sqlite <alias> writer` and `sqlite <alias> readers`);
    ///     reads answered on the caller's task wait for no thread and are not in them.
    /// - Throws: ``/Caching/CacheError/Code/invalidSettings`` for an empty table name or an option out of range.
    public init(
        table: String, options: SQLiteOptions, clock: any CacheClock = SystemCacheClock(), alias: String = "default",
        observability: CacheObservability = .off
    ) throws(CacheError) {
        guard !table.isEmpty, !table.contains("\u{0}") else {
            throw CacheSettings.invalid(
                alias, "LOCATION", "must name the cache table, such as \"my_cache_table\"; found \"\(table)\"")
        }
        try options.validate(alias: alias)
        self.table = table
        self.options = options
        self.clock = clock
        self.alias = alias
        let statements = Statements(table: table)
        self.statements = statements
        let rows = RowCount()
        self.rows = rows
        let path = options.database
        let createOnOpen = Flag(options.createTable)
        self.createOnOpen = createOnOpen
        let mapFailure: @Sendable (SQLiteFailure, String) -> CacheError = { failure, operation in
            Self.cacheError(failure, operation: operation, path: path, busyTimeout: options.busyTimeout)
        }
        pool = SQLiteConnectionPool(
            path: path, readerCount: options.poolSize,
            busyTimeoutMilliseconds: Int32(min(options.busyTimeout * 1000, Double(Int32.max)).rounded()), alias: alias,
            readOnTask: options.readOnTask,
            prepareWriter: { connection throws(CacheError) in
                rows.forget()
                try Self.prepare(
                    connection, statements: statements, createTable: createOnOpen.value, alias: alias, table: table, path: path,
                    mapFailure: mapFailure)
            }, mapFailure: mapFailure)
        if let factory = observability.metricsFactory { pool.reportMetrics(to: factory, alias: observability.alias) }
    }

    /// Creates a backend from an alias's settings, as ``/Caching/Caches`` does.
    ///
    /// - Parameter context: The alias, its settings and its configuration.
    /// - Throws: ``/Caching/CacheError/Code/invalidSettings`` naming the alias and the setting.
    public convenience init(context: CacheBackendContext) throws(CacheError) {
        let settings = context.settings
        guard settings.location.count == 1, !settings.primaryLocation.isEmpty else {
            throw CacheSettings.invalid(
                context.alias, "LOCATION",
                settings.location.count > 1
                    ? "must be one table name for the database cache; found \(settings.location.count) locations"
                    : "is missing or empty; the database cache needs its table's name, such as \"my_cache_table\"")
        }
        try self.init(
            table: settings.primaryLocation, options: SQLiteOptions(settings: settings, alias: context.alias),
            clock: context.configuration.clock, alias: context.alias, observability: context.configuration.observability)
    }

    deinit {
        pool.shutdownInBackground()
    }

    // MARK: Opening

    /// Creates Django's table and its index if the table is missing (what Django's
    /// `createcachetable` does), whatever ``SQLiteOptions/createTable`` says.
    ///
    /// - Throws: A ``/Caching/CacheError`` naming the file when it cannot be written; the table's
    ///   shape is checked as on every open.
    public func createTable() async throws {
        let statements = statements
        createOnOpen.value = true
        defer { createOnOpen.value = options.createTable }
        try await pool.transaction("create table") { connection throws(CacheError) in
            do throws(SQLiteFailure) {
                try connection.execute(statements.createTable)
                try connection.execute(statements.createIndex)
            } catch {
                throw Self.cacheError(error, operation: "create table", path: self.options.database, busyTimeout: self.options.busyTimeout)
            }
        }
    }

    /// Sets the writer's pragmas and checks (or creates) the table; on the writer's thread.
    private static func prepare(
        _ connection: SQLiteConnection, statements: Statements, createTable: Bool, alias: String, table: String, path: String,
        mapFailure: (SQLiteFailure, String) -> CacheError
    ) throws(CacheError) {
        func sqlite<T>(_ body: () throws(SQLiteFailure) -> T) throws(CacheError) -> T { try mappingFailures("open", mapFailure, body) }
        try sqlite { () throws(SQLiteFailure) in try connection.enableWAL() }
        var columns = try sqlite { () throws(SQLiteFailure) in try tableColumns(connection, table: table) }
        if columns.isEmpty {
            guard createTable else {
                throw CacheSettings.invalid(
                    alias, "LOCATION",
                    "names the table \"\(table)\", which is not in \(path); create it with Django's createcachetable or SQLiteBackend.createTable(), or set OPTIONS[\"create_table\"] to true"
                )
            }
            columns = try sqlite { () throws(SQLiteFailure) in
                try connection.execute("BEGIN IMMEDIATE")
                do throws(SQLiteFailure) {
                    try connection.execute(statements.createTable)
                    try connection.execute(statements.createIndex)
                    try connection.execute("COMMIT")
                } catch {
                    try? connection.execute("ROLLBACK")
                    throw error
                }
                return try tableColumns(connection, table: table)
            }
        }
        let names = Set(columns.map { $0.name.lowercased() })
        let missing = ["cache_key", "value", "expires"].filter { !names.contains($0) }
        let keyIsPrimary = columns.contains { $0.name.lowercased() == "cache_key" && $0.primaryKey }
        guard missing.isEmpty, keyIsPrimary else {
            let found = columns.map(\.name).joined(separator: ", ")
            let problem = missing.isEmpty ? "its cache_key is not the primary key" : "it has no \(missing.joined(separator: ", ")) column"
            throw CacheSettings.invalid(
                alias, "LOCATION",
                "names the table \"\(table)\" in \(path), which is not Django's cache table: \(problem) (its columns: \(found)); it was left as it is. Name another table, or drop this one if it is a stale cache table"
            )
        }
    }

    private static func tableColumns(_ connection: SQLiteConnection, table: String) throws(SQLiteFailure) -> [(
        name: String, primaryKey: Bool
    )] {
        try connection.withStatement("SELECT name, pk FROM pragma_table_info(?1)") { statement throws(SQLiteFailure) in
            try statement.bind(1, table)
            var columns: [(name: String, primaryKey: Bool)] = []
            while try statement.step() { columns.append((statement.text(0), statement.integer(1) > 0)) }
            return columns
        }
    }

    // MARK: Errors

    static func cacheError(_ failure: SQLiteFailure, operation: String, path: String, busyTimeout: Double) -> CacheError {
        let place = "SQLite database \(path)"
        switch failure.code {
        case SQLITE_BUSY, SQLITE_LOCKED:
            return CacheError(
                .timeout,
                "\(place) stayed locked by another connection for more than busy_timeout (\(busyTimeout) s) during \(operation); nothing was changed",
                underlying: failure)
        case SQLITE_CORRUPT, SQLITE_NOTADB:
            return CacheError(
                .storageFailure,
                "\(place) is not a valid SQLite database (corrupt, or another kind of file): \(failure.message) during \(operation); the file was left untouched",
                underlying: failure)
        case SQLITE_READONLY:
            return CacheError(
                .storageFailure,
                "\(place) is read-only for this process (\(failure.message)) during \(operation); nothing was changed",
                underlying: failure)
        case SQLITE_CANTOPEN:
            return CacheError(
                .storageFailure,
                "\(place) cannot be opened (\(failure.message)) during \(operation): does its directory exist, and may this process write there?",
                underlying: failure)
        case SQLITE_FULL:
            return CacheError(
                .storageFailure, "\(place): the disk is full during \(operation); nothing was changed", underlying: failure)
        default:
            return CacheError(.storageFailure, "\(place) failed during \(operation): \(failure.message)", underlying: failure)
        }
    }

    private func undecodable(_ key: String) -> CacheError {
        CacheError(
            .foreignValue,
            "The value under key '\(key)' in table \"\(table)\" is not base64, so neither Django nor this library wrote it",
            key: key)
    }

    private func now() -> String { DatabaseCacheTime.text(forUnixTime: clock.now()) }

    /// What a get found in a row: expired, or live with its entry (`nil` when not base64).
    private enum StoredRow: Sendable {
        case expired
        case live(CacheEntry?)
    }

    // MARK: Reading

    public func entry(forKey key: String) async throws -> CacheEntry? {
        let select = statements.select
        let time = clock.now()
        let now = DatabaseCacheTime.bytes(forUnixTime: time)
        // Compared and decoded where SQLite holds the row: no copy of the value or the time.
        let row: StoredRow? = try await pool.read("get") { connection throws(SQLiteFailure) in
            try connection.withStatement(select) { statement throws(SQLiteFailure) in
                try statement.bind(1, key)
                guard try statement.step() else { return nil }
                guard statement.text(1, isAfter: now) else { return .expired }
                return .live(statement.withBytes(0) { DatabaseCacheValueFormat.decode(base64: $0) })
            }
        }
        switch row {
        case nil:
            return nil
        case .expired:
            try await removeExpired([key], now: DatabaseCacheTime.text(forUnixTime: time))
            return nil
        case .live(let entry):
            guard let entry else { throw undecodable(key) }
            return entry
        }
    }

    public func entries(forKeys keys: [String]) async throws -> [CacheEntry?] {
        guard !keys.isEmpty else { return [] }
        let statements = statements
        let now = now()
        let unique = Array(Set(keys))
        let found: [String: (value: [UInt8], expires: String)] = try await pool.read("get_many") { connection throws(SQLiteFailure) in
            var found: [String: (value: [UInt8], expires: String)] = [:]
            for chunk in Statements.chunks(unique) {
                try connection.withStatement(statements.selectMany(chunk.count)) { statement throws(SQLiteFailure) in
                    for (index, key) in chunk.enumerated() { try statement.bind(Int32(index + 1), key) }
                    while try statement.step() { found[statement.text(0)] = (statement.bytes(1), statement.text(2)) }
                }
            }
            return found
        }
        let expired = found.filter { $0.value.expires <= now }.map(\.key)
        if !expired.isEmpty { try await removeExpired(expired, now: now) }
        return try keys.map { key throws(CacheError) -> CacheEntry? in
            guard let row = found[key], row.expires > now else { return nil }
            guard let entry = DatabaseCacheValueFormat.decode(row.value) else { throw undecodable(key) }
            return entry
        }
    }

    /// Deletes rows a read found expired, if they still are (a concurrent write may have renewed one).
    private func removeExpired(_ keys: [String], now: String) async throws(CacheError) {
        let statements = statements
        let rows = rows
        try await pool.write("delete expired") { connection throws(SQLiteFailure) in
            for key in keys {
                try connection.withStatement(statements.deleteIfExpired) { statement throws(SQLiteFailure) in
                    try statement.bind(1, key)
                    try statement.bind(2, now)
                    try statement.run()
                }
                rows.removed(connection.changes)
            }
        }
    }

    public func containsEntry(forKey key: String) async throws -> Bool {
        let statements = statements
        let now = now()
        return try await pool.read("has_key") { connection throws(SQLiteFailure) in
            try connection.withStatement(statements.selectLive) { statement throws(SQLiteFailure) in
                try statement.bind(1, key)
                try statement.bind(2, now)
                return try statement.step()
            }
        }
    }

    // MARK: Writing

    /// Makes room for one new row (Django's cull, or a refusal), inside the writer's transaction.
    private func makeRoom(_ connection: SQLiteConnection, now: String, key: String) throws(CacheError) {
        let refusedAt: Int?
        do throws(SQLiteFailure) {
            refusedAt = try cull(connection, now: now)
        } catch {
            throw Self.cacheError(error, operation: "cull", path: options.database, busyTimeout: options.busyTimeout)
        }
        if let refusedAt {
            throw CacheError(
                .full,
                "The database cache '\(alias)' (table \"\(table)\") holds \(refusedAt) live entries, its MAX_ENTRIES, and WHEN_FULL is refuse: key '\(key)' was not stored and nothing was evicted",
                key: key)
        }
    }

    /// Django's cull when the table is over `MAX_ENTRIES`; returns the live rows when
    /// `WHEN_FULL` is `refuse` and the table is full of them (the new row must be refused).
    private func cull(_ connection: SQLiteConnection, now: String) throws(SQLiteFailure) -> Int? {
        let statements = statements
        let options = options
        let count = { () throws(SQLiteFailure) -> Int in
            try connection.withStatement(statements.count) { statement throws(SQLiteFailure) in
                try statement.step() ? statement.integer(0) : 0
            }
        }
        var counted = false
        var total: Int
        if let estimate = rows.estimate(resyncAfter: max(1, options.maxEntries / 2)) {
            total = estimate
        } else {
            total = try count()
            counted = true
        }
        let over = { (rows: Int) in options.whenFull == .refuse ? rows >= options.maxEntries : rows > options.maxEntries }
        if over(total), !counted {
            total = try count()
            counted = true
        }
        defer { rows.set(total, counted: counted) }
        guard over(total) else { return nil }
        if options.cullFrequency == 0, options.whenFull == .cull {
            try connection.withStatement(statements.deleteAll) { statement throws(SQLiteFailure) in try statement.run() }
            total = 0
            return nil
        }
        try connection.withStatement(statements.deleteExpired) { statement throws(SQLiteFailure) in
            try statement.bind(1, now)
            try statement.run()
        }
        total -= connection.changes
        guard over(total) else { return nil }
        if options.whenFull == .refuse { return total }
        let boundary: String? = try connection.withStatement(statements.cullBoundary) { statement throws(SQLiteFailure) in
            try statement.bind(1, total / options.cullFrequency)
            return try statement.step() ? statement.text(0) : nil
        }
        if let boundary {
            try connection.withStatement(statements.deleteBelow) { statement throws(SQLiteFailure) in
                try statement.bind(1, boundary)
                try statement.run()
            }
            total -= connection.changes
        }
        return nil
    }

    /// Writes a row inside the writer's transaction: an update of an existing row, or room
    /// made and a new row inserted.
    private func upsert(_ connection: SQLiteConnection, key: String, value: [UInt8], expires: String, now: String) throws(CacheError) {
        let statements = statements
        do throws(SQLiteFailure) {
            try connection.withStatement(statements.update) { statement throws(SQLiteFailure) in
                try statement.bind(1, key)
                try statement.bind(2, ascii: value)
                try statement.bind(3, expires)
                try statement.run()
            }
            guard connection.changes == 0 else { return }
        } catch {
            throw Self.cacheError(error, operation: "set", path: options.database, busyTimeout: options.busyTimeout)
        }
        try makeRoom(connection, now: now, key: key)
        do throws(SQLiteFailure) {
            try connection.withStatement(statements.insert) { statement throws(SQLiteFailure) in
                try statement.bind(1, key)
                try statement.bind(2, ascii: value)
                try statement.bind(3, expires)
                try statement.run()
            }
            rows.inserted()
        } catch {
            throw Self.cacheError(error, operation: "set", path: options.database, busyTimeout: options.busyTimeout)
        }
    }

    /// The live row under a key, read inside the writer's transaction.
    private func liveRow(_ connection: SQLiteConnection, key: String, now: String) throws(CacheError) -> (value: [UInt8], expires: String)?
    {
        let statements = statements
        do throws(SQLiteFailure) {
            let row: (value: [UInt8], expires: String)? = try connection.withStatement(statements.select) {
                statement throws(SQLiteFailure) in
                try statement.bind(1, key)
                return try statement.step() ? (statement.bytes(0), statement.text(1)) : nil
            }
            guard let row, row.expires > now else { return nil }
            return row
        } catch {
            throw Self.cacheError(error, operation: "read", path: options.database, busyTimeout: options.busyTimeout)
        }
    }

    private func delete(_ connection: SQLiteConnection, key: String) throws(CacheError) -> Bool {
        let statements = statements
        do throws(SQLiteFailure) {
            try connection.withStatement(statements.delete) { statement throws(SQLiteFailure) in
                try statement.bind(1, key)
                try statement.run()
            }
            rows.removed(connection.changes)
            return connection.changes > 0
        } catch {
            throw Self.cacheError(error, operation: "delete", path: options.database, busyTimeout: options.busyTimeout)
        }
    }

    public func store(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws {
        let value = DatabaseCacheValueFormat.encode(entry)
        try await pool.transaction("set") { [self] connection throws(CacheError) in
            let now = now()
            let expires = DatabaseCacheTime.text(for: expiry)
            guard expires > now else {
                _ = try delete(connection, key: key)
                return
            }
            try upsert(connection, key: key, value: value, expires: expires, now: now)
        }
    }

    public func store(_ entries: [(key: String, entry: CacheEntry)], expiry: CacheExpiry) async throws -> [String] {
        guard !entries.isEmpty else { return [] }
        let values = entries.map { (key: $0.key, value: DatabaseCacheValueFormat.encode($0.entry)) }
        try await pool.transaction("set_many") { [self] connection throws(CacheError) in
            let now = now()
            let expires = DatabaseCacheTime.text(for: expiry)
            for (key, value) in values {
                if expires > now {
                    try upsert(connection, key: key, value: value, expires: expires, now: now)
                } else {
                    _ = try delete(connection, key: key)
                }
            }
        }
        return []
    }

    public func storeIfAbsent(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws -> Bool {
        let value = DatabaseCacheValueFormat.encode(entry)
        return try await pool.transaction("add") { [self] connection throws(CacheError) in
            let now = now()
            guard try liveRow(connection, key: key, now: now) == nil else { return false }
            let expires = DatabaseCacheTime.text(for: expiry)
            if expires > now {
                try upsert(connection, key: key, value: value, expires: expires, now: now)
            } else {
                _ = try delete(connection, key: key)
            }
            return true
        }
    }

    public func compareAndStore(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry, expected: CacheEntry?) async throws -> Bool {
        guard let expected else { return try await storeIfAbsent(entry, forKey: key, expiry: expiry) }
        let value = DatabaseCacheValueFormat.encode(entry)
        return try await pool.transaction("compare-and-set") { [self] connection throws(CacheError) in
            let now = now()
            guard let row = try liveRow(connection, key: key, now: now), DatabaseCacheValueFormat.decode(row.value) == expected else {
                return false
            }
            let expires = DatabaseCacheTime.text(for: expiry)
            if expires > now {
                try upsert(connection, key: key, value: value, expires: expires, now: now)
            } else {
                _ = try delete(connection, key: key)
            }
            return true
        }
    }

    public func removeEntry(forKey key: String) async throws -> Bool {
        let statements = statements
        let rows = rows
        let now = now()
        let expires: String? = try await pool.write("delete") { connection throws(SQLiteFailure) in
            let expires: String? = try connection.withStatement(statements.deleteReturning) { statement throws(SQLiteFailure) in
                try statement.bind(1, key)
                let expires = try statement.step() ? statement.text(0) : nil
                try statement.run()
                return expires
            }
            rows.removed(expires == nil ? 0 : 1)
            return expires
        }
        guard let expires else { return false }
        return expires > now
    }

    public func removeEntries(forKeys keys: [String]) async throws {
        guard !keys.isEmpty else { return }
        let statements = statements
        let rows = rows
        let unique = Array(Set(keys))
        try await pool.write("delete_many") { connection throws(SQLiteFailure) in
            for chunk in Statements.chunks(unique) {
                try connection.withStatement(statements.deleteMany(chunk.count)) { statement throws(SQLiteFailure) in
                    for (index, key) in chunk.enumerated() { try statement.bind(Int32(index + 1), key) }
                    try statement.run()
                }
                rows.removed(connection.changes)
            }
        }
    }

    public func updateExpiry(forKey key: String, to expiry: CacheExpiry) async throws -> Bool {
        let statements = statements
        let rows = rows
        return try await pool.write("touch") { [self] connection throws(SQLiteFailure) in
            let now = now()
            let expires = DatabaseCacheTime.text(for: expiry)
            if expires > now {
                try connection.withStatement(statements.touch) { statement throws(SQLiteFailure) in
                    try statement.bind(1, key)
                    try statement.bind(2, expires)
                    try statement.bind(3, now)
                    try statement.run()
                }
                return connection.changes > 0
            }
            try connection.withStatement(statements.deleteIfLive) { statement throws(SQLiteFailure) in
                try statement.bind(1, key)
                try statement.bind(2, now)
                try statement.run()
            }
            rows.removed(connection.changes)
            return connection.changes > 0
        }
    }

    public func increment(entryForKey key: String, by delta: Int) async throws -> Int {
        try await pool.transaction("incr") { [self] connection throws(CacheError) in
            let now = now()
            guard let row = try liveRow(connection, key: key, now: now) else {
                throw CacheError(.keyNotFound, "Key '\(key)' not found", key: key)
            }
            guard let entry = DatabaseCacheValueFormat.decode(row.value) else { throw undecodable(key) }
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
            let value = DatabaseCacheValueFormat.encode(.integer(sum))
            do throws(SQLiteFailure) {
                try connection.withStatement(statements.updateValue) { statement throws(SQLiteFailure) in
                    try statement.bind(1, key)
                    try statement.bind(2, ascii: value)
                    try statement.run()
                }
            } catch {
                throw Self.cacheError(error, operation: "incr", path: options.database, busyTimeout: options.busyTimeout)
            }
            return sum
        }
    }

    public func clear() async throws {
        let statements = statements
        let rows = rows
        try await pool.write("clear") { connection throws(SQLiteFailure) in
            try connection.withStatement(statements.deleteAll) { statement throws(SQLiteFailure) in try statement.run() }
            rows.set(0, counted: true)
        }
    }

    /// Closes every connection; the next call opens them again. The backend stays usable.
    public func close() async throws {
        try await pool.close()
    }

    /// Lets the calls already queued finish, closes every connection and joins the threads.
    /// Later calls fail with ``/Caching/CacheError/Code/closed``.
    public func shutdown() async throws {
        await pool.shutdown()
    }
}

/// A flag shared between the backend and its writer's open hook (and PostgreSQL's pools).
package final class Flag: Sendable {
    private let state: Atomic<Bool>
    package init(_ value: Bool) { state = Atomic(value) }
    package var value: Bool {
        get { state.load(ordering: .relaxed) }
        set { state.store(newValue, ordering: .relaxed) }
    }
}

/// The writer's idea of how many rows the table holds: its own inserts and deletes since the
/// last `COUNT(*)`. Touched only on the writer's thread (the lock is for the compiler).
final class RowCount: Sendable {
    private struct State {
        var rows: Int?
        var insertsSinceCount = 0
    }
    private let state = Mutex(State())

    /// The estimate, or `nil` when it is unknown or due for a recount.
    func estimate(resyncAfter inserts: Int) -> Int? {
        state.withLock { $0.insertsSinceCount >= inserts ? nil : $0.rows }
    }

    /// Sets the count: after a cull, or a `COUNT(*)` (`counted`), which starts a new period.
    func set(_ rows: Int, counted: Bool) {
        state.withLock {
            if counted { $0.insertsSinceCount = 0 }
            $0.rows = rows
        }
    }

    func inserted() {
        state.withLock {
            $0.rows? += 1
            $0.insertsSinceCount += 1
        }
    }

    func removed(_ count: Int) {
        guard count > 0 else { return }
        state.withLock { $0.rows = $0.rows.map { max(0, $0 - count) } }
    }

    /// Forgets the count (a new connection: another process may have changed the table).
    func forget() {
        state.withLock { $0 = State() }
    }
}

/// The SQL text of every statement, with the table's quoted name; keys, values and times are
/// always bound parameters.
/// A class, so a closure sent to a connection's thread captures one reference rather than
/// copying (and retaining) every string.
final class Statements: Sendable {
    let createTable: String
    let createIndex: String
    let select: String
    let selectLive: String
    let count: String
    let insert: String
    let update: String
    let updateValue: String
    let touch: String
    let delete: String
    let deleteReturning: String
    let deleteIfExpired: String
    let deleteIfLive: String
    let deleteExpired: String
    let deleteAll: String
    let cullBoundary: String
    let deleteBelow: String
    private let quotedTable: String

    /// The sizes of `IN (…)` lists: a many-key call is cut into chunks of these sizes (the last
    /// padded with a repeated key), so each connection prepares at most this many variants.
    static let chunkSizes = [1, 2, 4, 8, 16, 32, 64, 128, 256]

    init(table: String) {
        let quoted = Self.quote(table)
        quotedTable = quoted
        createTable = """
            CREATE TABLE IF NOT EXISTS \(quoted) (
                "cache_key" varchar(255) NOT NULL PRIMARY KEY,
                "value" text NOT NULL,
                "expires" datetime NOT NULL
            )
            """
        createIndex = "CREATE INDEX IF NOT EXISTS \(Self.quote(table + "_expires")) ON \(quoted) (\"expires\")"
        select = "SELECT \"value\", \"expires\" FROM \(quoted) WHERE \"cache_key\" = ?1"
        selectLive = "SELECT 1 FROM \(quoted) WHERE \"cache_key\" = ?1 AND \"expires\" > ?2"
        count = "SELECT COUNT(*) FROM \(quoted)"
        insert = "INSERT INTO \(quoted) (\"cache_key\", \"value\", \"expires\") VALUES (?1, ?2, ?3)"
        update = "UPDATE \(quoted) SET \"value\" = ?2, \"expires\" = ?3 WHERE \"cache_key\" = ?1"
        updateValue = "UPDATE \(quoted) SET \"value\" = ?2 WHERE \"cache_key\" = ?1"
        touch = "UPDATE \(quoted) SET \"expires\" = ?2 WHERE \"cache_key\" = ?1 AND \"expires\" > ?3"
        delete = "DELETE FROM \(quoted) WHERE \"cache_key\" = ?1"
        deleteReturning = "DELETE FROM \(quoted) WHERE \"cache_key\" = ?1 RETURNING \"expires\""
        deleteIfExpired = "DELETE FROM \(quoted) WHERE \"cache_key\" = ?1 AND \"expires\" <= ?2"
        deleteIfLive = "DELETE FROM \(quoted) WHERE \"cache_key\" = ?1 AND \"expires\" > ?2"
        deleteExpired = "DELETE FROM \(quoted) WHERE \"expires\" <= ?1"
        deleteAll = "DELETE FROM \(quoted)"
        cullBoundary = "SELECT \"cache_key\" FROM \(quoted) ORDER BY \"cache_key\" LIMIT 1 OFFSET ?1"
        deleteBelow = "DELETE FROM \(quoted) WHERE \"cache_key\" < ?1"
    }

    /// `"name"` with inner quotes doubled: SQL's quoting of an identifier.
    static func quote(_ name: String) -> String {
        "\"" + name.replacing("\"", with: "\"\"") + "\""
    }

    private static func placeholders(_ count: Int) -> String {
        (1...count).map { "?\($0)" }.joined(separator: ", ")
    }

    func selectMany(_ count: Int) -> String {
        "SELECT \"cache_key\", \"value\", \"expires\" FROM \(quotedTable) WHERE \"cache_key\" IN (\(Self.placeholders(count)))"
    }

    func deleteMany(_ count: Int) -> String {
        "DELETE FROM \(quotedTable) WHERE \"cache_key\" IN (\(Self.placeholders(count)))"
    }

    /// Distinct keys cut into chunks of ``chunkSizes``, each padded with its last key.
    static func chunks(_ keys: [String]) -> [[String]] {
        var chunks: [[String]] = []
        var rest = keys[...]
        let largest = chunkSizes.last!
        while !rest.isEmpty {
            let take = min(rest.count, largest)
            var chunk = Array(rest.prefix(take))
            rest = rest.dropFirst(take)
            let size = chunkSizes.first { $0 >= chunk.count } ?? largest
            while chunk.count < size { chunk.append(chunk[chunk.count - 1]) }
            chunks.append(chunk)
        }
        return chunks
    }
}

/// Runs SQLite calls of a connection's set-up, turning a failure into the ``/Caching/CacheError``
/// `mapFailure` makes for `operation` (shared by the cache's and the revocation store's set-up).
func mappingFailures<T>(
    _ operation: String, _ mapFailure: (SQLiteFailure, String) -> CacheError, _ body: () throws(SQLiteFailure) -> T
) throws(CacheError) -> T {
    do throws(SQLiteFailure) {
        return try body()
    } catch {
        throw mapFailure(error, operation)
    }
}
