public import Caching

/// The `OPTIONS` of a database-cache alias on SQLite: the file, threads, locking and culling.
///
/// | option | type | default | meaning |
/// | --- | --- | --- | --- |
/// | `database` | string | required | the SQLite file (created if missing; its directory must exist) |
/// | `pool_size` | integer 1…64 | 2 | reader threads, each with its own read-only connection (one more thread writes) |
/// | `busy_timeout` | seconds 0…3600 | 5 | how long a statement waits for another process's lock before failing with ``/Caching/CacheError/Code/timeout`` (Django's SQLite default is 5 s too) |
/// | `read_on_task` | bool | true | try each read on the caller's task first, answering from pages already in memory and never waiting (Linux; elsewhere, and for any read that would wait, the reader threads answer) |
/// | `create_table` | bool | true | create Django's table (and index) when it is missing; `false` makes a missing table an error |
/// | `MAX_ENTRIES` | integer ≥ 1 | 300 | Django's: cull when the table holds more rows than this |
/// | `CULL_FREQUENCY` | integer ≥ 0 | 3 | Django's: cull a third (1/N) of the rows; 0 empties the table |
/// | `WHEN_FULL` | `"cull"` or `"refuse"` | `"cull"` | `refuse` never evicts a live entry: a new key is refused with ``/Caching/CacheError/Code/full`` |
///
/// Other names are errors naming the alias and the option.
public struct SQLiteOptions: Sendable, Hashable {
    /// The SQLite file.
    public var database: String
    /// Reader threads, each with its own read-only connection.
    public var poolSize = 2
    /// Seconds a statement waits for another connection's lock.
    public var busyTimeout: Double = 5
    /// Whether reads try the caller's task first (pages already in memory only, never waiting),
    /// before a reader thread.
    public var readOnTask = true
    /// Whether a missing table is created.
    public var createTable = true
    /// Django's `MAX_ENTRIES`.
    public var maxEntries = DjangoDefaults.maxEntries
    /// Django's `CULL_FREQUENCY` (0 empties the table when it is over `maxEntries`).
    public var cullFrequency = DjangoDefaults.cullFrequency
    /// Cull (Django) or refuse new keys when the table is full of live entries.
    public var whenFull = CacheFullPolicy.cull

    /// The option names `OPTIONS` may hold.
    public static let names: Set<String> = [
        "database", "pool_size", "busy_timeout", "read_on_task", "create_table", "MAX_ENTRIES", "CULL_FREQUENCY", "WHEN_FULL",
    ]

    /// Options for a database file, the rest at their defaults.
    ///
    /// - Parameter database: The SQLite file.
    public init(database: String) {
        self.database = database
    }

    /// Reads `OPTIONS` from an alias's settings.
    ///
    /// - Parameters:
    ///   - settings: The alias's settings.
    ///   - alias: The alias, named in errors.
    /// - Throws: ``/Caching/CacheError/Code/invalidSettings`` naming the alias and the option for an
    ///   unknown option, a wrong type, a value out of range or no `database`.
    public init(settings: CacheSettings, alias: String) throws(CacheError) {
        try settings.rejectUnknownOptions(allowed: Self.names, alias: alias, backend: "db (SQLite)")
        guard let database = try settings.stringOption("database", default: nil, alias: alias) else {
            throw Self.invalid(
                alias, "database",
                "is missing; the SQLite database cache needs the path of its file, such as \"/var/lib/app/cache.sqlite3\"")
        }
        self.init(database: database)
        poolSize = try settings.integerOption("pool_size", default: poolSize, alias: alias)
        busyTimeout = try settings.numberOption("busy_timeout", default: busyTimeout, alias: alias)
        readOnTask = try settings.boolOption("read_on_task", default: readOnTask, alias: alias)
        createTable = try settings.boolOption("create_table", default: createTable, alias: alias)
        maxEntries = try settings.integerOption("MAX_ENTRIES", default: maxEntries, alias: alias)
        cullFrequency = try settings.integerOption("CULL_FREQUENCY", default: cullFrequency, alias: alias)
        let policy = try settings.stringOption("WHEN_FULL", default: whenFull.rawValue, alias: alias) ?? whenFull.rawValue
        guard let whenFull = CacheFullPolicy(rawValue: policy) else {
            throw Self.invalid(
                alias, "WHEN_FULL", "must be \"cull\" (Django's culling) or \"refuse\" (never evict a live entry); found \"\(policy)\"")
        }
        self.whenFull = whenFull
        try validate(alias: alias)
    }

    /// Checks every option's range.
    ///
    /// - Parameter alias: The alias, named in errors.
    /// - Throws: ``/Caching/CacheError/Code/invalidSettings`` naming the alias and the option.
    public func validate(alias: String) throws(CacheError) {
        guard !database.isEmpty, !database.contains("\u{0}") else {
            throw Self.invalid(alias, "database", "must be the path of a file; found \"\(database)\"")
        }
        guard (1...64).contains(poolSize) else {
            throw Self.invalid(alias, "pool_size", "must be an integer from 1 to 64; found \(poolSize)")
        }
        guard busyTimeout >= 0, busyTimeout <= 3600 else {
            throw Self.invalid(alias, "busy_timeout", "must be a number of seconds from 0 to 3600; found \(busyTimeout)")
        }
        guard maxEntries >= 1 else { throw Self.invalid(alias, "MAX_ENTRIES", "must be 1 or more; found \(maxEntries)") }
        guard cullFrequency >= 0 else {
            throw Self.invalid(alias, "CULL_FREQUENCY", "must be 0 or more; found \(cullFrequency)")
        }
    }

    static func invalid(_ alias: String, _ option: String, _ problem: String) -> CacheError {
        CacheSettings.invalid(alias, ["OPTIONS", option], problem)
    }
}
