public import Caching

/// The `OPTIONS` of a Redis alias: connections, timeouts, database and credentials.
///
/// | option | type | default | meaning |
/// | --- | --- | --- | --- |
/// | `pool_size` | integer 1…256 | 2 | worker threads, each with its own connection to every server |
/// | `connect_timeout` (or redis-py's `socket_connect_timeout`) | seconds | 1.0 | how long a connect may take |
/// | `timeout` (or redis-py's `socket_timeout`) | seconds | 1.0 | how long one send or receive may block |
/// | `read_timeout` | seconds or `null` | `null` | the longest a read may take from call to answer, queue wait and reconnect included, enforced by a watchdog; see ``readTimeout`` |
/// | `db` | integer ≥ 0 | 0 | the database to `SELECT` when the URL names none |
/// | `password` | string | none | `AUTH` password when the URL gives none |
/// | `username` | string | none | ACL user for `AUTH` (Redis 6+) when the URL gives none |
/// | `servers_never_evict` | bool | false | declares that every server runs with `maxmemory-policy noeviction` (or no `maxmemory`), so no live entry is evicted; see ``RedisBackend/capabilities`` |
///
/// A database or credentials in a `LOCATION` URL take precedence over these options, as in
/// redis-py. Other names are errors naming the alias and the option.
public struct RedisOptions: Sendable, Hashable, CustomStringConvertible {
    /// Worker threads, each with its own connection to every server.
    public var poolSize = 2
    /// Seconds a connect may take.
    public var connectTimeout: Double = 1
    /// Seconds one socket send or receive may block.
    public var timeout: Double = 1
    /// The longest a read (`get`, `get_many`, `has_key`) may take from call to answer, in
    /// seconds, enforced by a watchdog (`OPTIONS["read_timeout"]`); `nil` (the default) for no
    /// such bound. ``timeout`` bounds each socket call, not a whole read: a read may also wait
    /// for a thread, reconnect (``connectTimeout``, `AUTH`, `SELECT`) and receive its reply in
    /// several pieces. When set, the backend declares it as
    /// ``/Caching/CacheBackendCapabilities/readTimeLimit`` (plus the watchdog's period, a tenth
    /// of it between 1 and 50 ms), so a revocation check within it needs no timeout task of its own.
    public var readTimeout: Double?
    /// The database to select when a URL names none.
    public var database = 0
    /// The password for servers whose URL gives none. Never printed.
    public var password: String?
    /// The ACL user for servers whose URL gives none.
    public var username: String?
    /// Declares that no server evicts live keys (`maxmemory-policy noeviction`): what the
    /// operator promises, reported by ``RedisBackend/capabilities``; nothing is sent to check it.
    public var serversNeverEvict = false

    /// The option names `OPTIONS` may hold.
    public static let names: Set<String> = [
        "pool_size", "connect_timeout", "socket_connect_timeout", "timeout", "socket_timeout", "read_timeout", "db",
        "password", "username", "servers_never_evict",
    ]

    /// Default options.
    public init() {}

    /// Reads `OPTIONS` from an alias's settings.
    ///
    /// - Parameters:
    ///   - settings: The alias's settings.
    ///   - alias: The alias, named in errors.
    /// - Throws: ``/Caching/CacheError/Code/invalidSettings`` naming the alias and the option for an
    ///   unknown option, a wrong type or a value out of range (a password is never quoted).
    public init(settings: CacheSettings, alias: String) throws(CacheError) {
        try settings.rejectUnknownOptions(allowed: Self.names, alias: alias, backend: "redis")
        for (name, synonym) in [("connect_timeout", "socket_connect_timeout"), ("timeout", "socket_timeout")]
        where settings.options[name] != nil && settings.options[synonym] != nil {
            throw Self.invalid(alias, synonym, "gives the same setting as \(name); keep one")
        }
        poolSize = try settings.integerOption("pool_size", default: poolSize, alias: alias)
        connectTimeout = try settings.numberOption("connect_timeout", default: connectTimeout, alias: alias)
        connectTimeout = try settings.numberOption("socket_connect_timeout", default: connectTimeout, alias: alias)
        timeout = try settings.numberOption("timeout", default: timeout, alias: alias)
        timeout = try settings.numberOption("socket_timeout", default: timeout, alias: alias)
        switch settings.options["read_timeout"] {
        case nil, .null?: readTimeout = nil
        case .some: readTimeout = try settings.numberOption("read_timeout", default: 0, alias: alias)
        }
        database = try settings.integerOption("db", default: database, alias: alias)
        switch settings.options["password"] {
        case nil: break
        case .string(let text)?: password = text
        case let other?: throw Self.invalid(alias, "password", "must be a string; found \(other.kind)")
        }
        username = try settings.stringOption("username", default: nil, alias: alias)
        serversNeverEvict = try settings.boolOption("servers_never_evict", default: serversNeverEvict, alias: alias)
        try validate(alias: alias)
    }

    /// Checks ranges.
    ///
    /// - Parameter alias: The alias, named in errors.
    /// - Throws: ``/Caching/CacheError/Code/invalidSettings``.
    public func validate(alias: String) throws(CacheError) {
        guard (1...256).contains(poolSize) else { throw Self.invalid(alias, "pool_size", "must be between 1 and 256; found \(poolSize)") }
        for (name, value) in [("connect_timeout", connectTimeout), ("timeout", timeout)] where !(value > 0 && value <= 3600) {
            throw Self.invalid(alias, name, "must be a number of seconds above 0 and at most 3600; found \(value)")
        }
        if let readTimeout, !(readTimeout > 0 && readTimeout <= 3600) {
            throw Self.invalid(alias, "read_timeout", "must be a number of seconds above 0 and at most 3600, or null; found \(readTimeout)")
        }
        guard database >= 0 else { throw Self.invalid(alias, "db", "must be 0 or more; found \(database)") }
    }

    static func invalid(_ alias: String, _ option: String, _ problem: String) -> CacheError {
        CacheSettings.invalid(alias, ["OPTIONS", option], problem)
    }

    /// The options, with the password shown as `***`.
    public var description: String {
        "RedisOptions(poolSize: \(poolSize), connectTimeout: \(connectTimeout), timeout: \(timeout), readTimeout: \(readTimeout.map { "\($0)" } ?? "nil"), database: \(database), username: \(username ?? "nil"), password: \(password == nil ? "nil" : "***"), serversNeverEvict: \(serversNeverEvict))"
    }
}
