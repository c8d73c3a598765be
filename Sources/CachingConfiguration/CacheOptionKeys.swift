/// One backend option as a `ConfigReader` reads it: its name in `OPTIONS`, its
/// type and whether it is a secret.
///
/// A `ConfigReader` cannot list the keys it holds, and an environment variable is text until it is
/// asked for as a type; so every option the reader looks for is named here with its type. The
/// configuration key is the name in lower case under `caches.<alias>.options`
/// (`MAX_ENTRIES` → `caches.default.options.max_entries` → `CACHES_DEFAULT_OPTIONS_MAX_ENTRIES`).
public struct CacheOptionKey: Sendable, Hashable {
    /// The type the reader asks for.
    public enum Kind: Sendable, Hashable {
        /// An integer (`pool_size`, `MAX_ENTRIES`).
        case integer
        /// A number of seconds or another real number (`connect_timeout`).
        case number
        /// A number, or the text `null` for none (`read_timeout`).
        case numberOrNull
        /// `true` or `false` (`create_table`).
        case boolean
        /// Text (`WHEN_FULL`, `database`, `password`).
        case string
    }

    /// The option's name in `OPTIONS`, spelt as the backend reads it.
    public var name: String
    /// The type the reader asks for.
    public var kind: Kind
    /// Whether the value is a secret: read with `isSecret: true` (an access reporter shows it
    /// redacted) and never written to a log or an error message by this module.
    public var isSecret: Bool

    /// The option's last key component: ``name`` in lower case.
    public var configKey: String { name.lowercased() }

    /// Describes an option.
    ///
    /// - Parameters:
    ///   - name: The option's name in `OPTIONS`.
    ///   - kind: Its type.
    ///   - isSecret: Whether it is a secret (a password, or a connection string that may hold one).
    public init(_ name: String, _ kind: Kind, isSecret: Bool = false) {
        self.name = name
        self.kind = kind
        self.isSecret = isSecret
    }
}

/// The options a `ConfigReader` is asked for, by backend name.
///
/// ``standard`` knows every backend of this package (local memory, files, memcached, Redis, SQLite
/// and PostgreSQL) under every name it is registered by. An application that registers a backend
/// of its own registers its options here too:
///
/// ```swift
/// var optionKeys = CacheOptionKeys.standard
/// optionKeys.register("myapp.RedisCache", options: [CacheOptionKey("shards", .integer)])
/// let caches = try await Caches(config: config, backends: backends, optionKeys: optionKeys)
/// ```
///
/// An alias is asked for the options of its own backend and for those of every other registered
/// backend, so an option that belongs to another backend reaches the alias's backend, which
/// refuses it with the same error as in a JSON file. A name no backend registers is never asked
/// for: a `ConfigReader` cannot list its keys, so a misspelt option name goes unseen.
public struct CacheOptionKeys: Sendable {
    private var byBackend: [String: [CacheOptionKey]] = [:]

    /// No options for any backend.
    public init() {}

    /// Registers the options of a backend under one or more of its names.
    ///
    /// - Parameters:
    ///   - backendNames: The backend's names, as settings give them in `BACKEND`.
    ///   - options: The options it reads; a name registered before is replaced.
    public mutating func register(_ backendNames: String..., options: [CacheOptionKey]) {
        register(backendNames, options: options)
    }

    /// Registers the options of a backend under a list of its names.
    ///
    /// - Parameters:
    ///   - backendNames: The backend's names, as settings give them in `BACKEND`.
    ///   - options: The options it reads; a name registered before is replaced.
    public mutating func register(_ backendNames: [String], options: [CacheOptionKey]) {
        for name in backendNames { byBackend[name] = options }
    }

    /// The options registered for a backend name (none for an unregistered one).
    ///
    /// - Parameter backend: A backend name.
    /// - Returns: Its options.
    public func options(forBackend backend: String) -> [CacheOptionKey] { byBackend[backend] ?? [] }

    /// Every registered option, each configuration key once, sorted by name.
    public var allOptions: [CacheOptionKey] {
        var seen: [String: CacheOptionKey] = [:]
        for options in byBackend.values { for option in options where seen[option.configKey] == nil { seen[option.configKey] = option } }
        return seen.values.sorted { $0.name < $1.name }
    }

    /// Whether an option name is a secret for any backend that reads it.
    ///
    /// - Parameter name: An option's name in `OPTIONS`.
    /// - Returns: `true` when some backend registers it as a secret.
    public func isSecret(_ name: String) -> Bool {
        byBackend.values.contains { $0.contains { $0.configKey == name.lowercased() && $0.isSecret } }
    }

    /// The options of every backend of this package, under their names: `locmem`, `file`,
    /// `dummy`, `memcached`, `redis`, `db` (SQLite), `postgres`, and Django's dotted paths.
    public static var standard: CacheOptionKeys {
        var keys = CacheOptionKeys()
        let bounded = [
            CacheOptionKey("MAX_ENTRIES", .integer), CacheOptionKey("CULL_FREQUENCY", .integer),
            CacheOptionKey("WHEN_FULL", .string),
        ]
        keys.register("locmem", "django.core.cache.backends.locmem.LocMemCache", options: bounded)
        keys.register(
            "file", "filebased", "django.core.cache.backends.filebased.FileBasedCache",
            options: bounded + [CacheOptionKey("MAX_VALUE_SIZE", .integer), CacheOptionKey("SHARED_GROUP", .boolean)])
        keys.register("dummy", "django.core.cache.backends.dummy.DummyCache", options: [])
        keys.register(
            "memcached", "django.core.cache.backends.memcached.PyMemcacheCache",
            "django.core.cache.backends.memcached.PyLibMCCache", "django.core.cache.backends.memcached.MemcachedCache",
            options: [
                CacheOptionKey("pool_size", .integer), CacheOptionKey("connect_timeout", .number),
                CacheOptionKey("send_timeout", .number), CacheOptionKey("receive_timeout", .number),
                CacheOptionKey("poll_timeout", .number), CacheOptionKey("read_timeout", .numberOrNull),
                CacheOptionKey("tcp_nodelay", .boolean), CacheOptionKey("binary", .boolean),
                CacheOptionKey("failure_limit", .integer), CacheOptionKey("retry_timeout", .number),
                CacheOptionKey("remove_failed_servers", .boolean), CacheOptionKey("distribution", .string),
                CacheOptionKey("max_value_size", .integer), CacheOptionKey("servers_never_evict", .boolean),
                CacheOptionKey("replicas", .integer),
            ])
        keys.register(
            "redis", "django.core.cache.backends.redis.RedisCache",
            options: [
                CacheOptionKey("pool_size", .integer), CacheOptionKey("connect_timeout", .number),
                CacheOptionKey("socket_connect_timeout", .number), CacheOptionKey("timeout", .number),
                CacheOptionKey("socket_timeout", .number), CacheOptionKey("read_timeout", .numberOrNull),
                CacheOptionKey("db", .integer), CacheOptionKey("password", .string, isSecret: true),
                CacheOptionKey("username", .string), CacheOptionKey("servers_never_evict", .boolean),
            ])
        keys.register(
            "db", "database", "django.core.cache.backends.db.DatabaseCache",
            options: [
                // A file path for SQLite, but the same option holds PostgreSQL's connection string:
                // a secret for both, so one name is never shown for one backend and hidden for another.
                CacheOptionKey("database", .string, isSecret: true), CacheOptionKey("pool_size", .integer),
                CacheOptionKey("busy_timeout", .number), CacheOptionKey("read_on_task", .boolean),
                CacheOptionKey("create_table", .boolean),
            ] + bounded)
        keys.register(
            "postgres", "db_postgresql",
            options: [
                CacheOptionKey("database", .string, isSecret: true), CacheOptionKey("pool_size", .integer),
                CacheOptionKey("create_table", .boolean), CacheOptionKey("timeout", .number),
                CacheOptionKey("MAX_ENTRIES", .integer), CacheOptionKey("CULL_FREQUENCY", .integer),
            ])
        return keys
    }
}
