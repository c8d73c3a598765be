public import Caching

extension CacheBackends {
    /// The names settings may use for the database cache on SQLite: `db`, `database` and
    /// Django's dotted path.
    public static let sqliteNames = ["db", "database", "django.core.cache.backends.db.DatabaseCache"]

    /// Registers ``SQLiteBackend`` under ``sqliteNames``.
    public mutating func registerSQLite() {
        for name in Self.sqliteNames {
            register(name) { context -> any CacheBackend in try SQLiteBackend(context: context) }
        }
    }

    /// These backends plus the database cache on SQLite.
    ///
    /// ```swift
    /// let caches = try Caches(contentsOf: "caches.json", backends: CacheBackends.standard.withSQLite())
    /// ```
    ///
    /// - Returns: A registry with ``SQLiteBackend`` registered under ``sqliteNames``.
    public func withSQLite() -> CacheBackends {
        var backends = self
        backends.registerSQLite()
        return backends
    }
}

extension Cache {
    /// A cache in a table of a SQLite file (Django's `DatabaseCache`); see ``SQLiteBackend``.
    ///
    /// Nothing is opened until the first call.
    ///
    /// - Parameters:
    ///   - table: The table (Django's `LOCATION`), created on first use when missing.
    ///   - options: The file, threads, busy timeout and culling.
    ///   - configuration: Key settings, clock, logger and observability.
    ///   - alias: The alias, named in errors.
    /// - Returns: The cache.
    /// - Throws: ``/Caching/CacheError/Code/invalidSettings`` for an empty table name or an option out of range.
    public static func sqlite(
        table: String, options: SQLiteOptions, configuration: CacheConfiguration = CacheConfiguration(), alias: String = "default"
    ) throws(CacheError) -> Cache {
        Cache(
            try SQLiteBackend(
                table: table, options: options, clock: configuration.clock, alias: alias, observability: configuration.observability),
            configuration: configuration)
    }
}
