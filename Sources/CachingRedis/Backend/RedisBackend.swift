public import Caching
public import Logging

/// Storage on Redis, over hiredis: the backend of Django's `RedisCache`. Use it through a
/// ``Caching/Cache``: `try Cache.redis(location: ["redis://127.0.0.1:6379"])`, or name it in
/// settings as `redis` or `django.core.cache.backends.redis.RedisCache`.
///
/// Every hiredis call runs on the cache's own threads (``RedisOptions/poolSize`` of them,
/// each with its own connection to every server), never on Swift concurrency's cooperative
/// threads.
///
/// Behaviour shared with the other backends comes from ``Caching/Cache``; what Redis adds:
///
/// - **Servers**: the first server in `LOCATION` takes every write; with several, each read
///   goes to one of the others, picked at random (Django's rule: they are meant to be
///   replicas of the first). A read may then miss a write the replica has not received yet.
/// - **Expiry** is kept by the server in milliseconds: an entry is sent with `PX` and the
///   milliseconds left, rounded up (Django sends whole seconds with `EX`, truncated). No
///   expiry is a plain `SET`; a deadline already past deletes the key. Touch is `PEXPIRE`,
///   or `PERSIST` for no expiry.
/// - **Atomic operations** are single commands or Lua scripts run by the server in one step:
///   `add` is `SET NX`; ``compareAndStore(_:forKey:expiry:expected:)`` and `incr` (which must
///   find the key, then `INCRBY` it) are scripts, so no other client can come between the
///   check and the write. `incr` works on what Django stores for an `int` (plain decimal), and
///   keeps the key's expiry; a result beyond 64 bits is ``/Caching/CacheError/Code/integerOverflow``.
/// - **Values** are stored as ``RedisValueFormat`` describes: integers as plain decimal, as
///   Django stores them, everything else with a small header.
/// - **Keys** travel as length-prefixed arguments, never inside command text, so any key is
///   data: Redis can store every key (``/Caching/CacheBackendCapabilities/requiresValidKeys`` is
///   `false`), and in ``/Caching/CacheKeyValidation/warn`` mode an invalid key is stored after
///   the warning, as in Django.
/// - **clear** is `FLUSHDB` on the first server: it empties the configured database for every
///   application using it.
/// - **Reads** wait in one queue, and the keys of all the reads waiting are sent in one `MGET`
///   (single gets, `get_many`, revocation checks alike); a replica that refuses connections is
///   skipped for the first server. With ``RedisOptions/readTimeout`` a watchdog bounds every read.
/// - **A full server** (`maxmemory` reached under `maxmemory-policy noeviction`) refuses a write
///   with an `OOM` error reply: ``/Caching/CacheError/Code/full``; nothing stored is lost.
/// - **Failures** are ``/Caching/CacheError/Code/unavailable`` (refused, reset, bad credentials),
///   ``/Caching/CacheError/Code/timeout`` (``RedisOptions/connectTimeout`` or ``RedisOptions/timeout``
///   passed) or ``/Caching/CacheError/Code/protocolError`` (an error reply), naming the server
///   without its password. A failed connection is closed and the next call reconnects.
public final class RedisBackend: CacheBackend {
    /// The servers, in `LOCATION` order: the first takes writes.
    public let servers: [RedisServerAddress]
    /// The options the cache was created with.
    public let options: RedisOptions
    /// The clock deadlines are measured by when they are turned into Redis's expirations.
    public let clock: any CacheClock
    private let logger: Logger
    private let alias: String
    private let pool: RedisConnectionPool

    /// Redis stores any key; it may evict live keys when `maxmemory` is reached, unless the
    /// servers promise not to (``RedisOptions/serversNeverEvict``); a restarted server may
    /// have lost what it held (persistence is the server's choice); with several servers a read
    /// can go to a replica that lacks a recent write (declared as ``/Caching/CacheBackendCapabilities/mayMoveKeysOnFailure``).
    /// With ``RedisOptions/readTimeout`` every read answers within it plus the watchdog's
    /// period (``/Caching/CacheBackendCapabilities/readTimeLimit``).
    public var capabilities: CacheBackendCapabilities {
        CacheBackendCapabilities(
            name: "redis", mayEvictLiveEntries: !options.serversNeverEvict, mayMoveKeysOnFailure: servers.count > 1,
            requiresValidKeys: false, sharedAcrossProcesses: true, readTimeLimit: pool.readTimeBound)
    }

    /// Round trips sent for reads (`GET`/`MGET`, coalesced), and reads answered by them, since
    /// the backend was created: for tests and benchmarks.
    public var readCounts: (roundTrips: Int, reads: Int) { pool.readCounts }

    /// Creates a cache on servers.
    ///
    /// No connection is made until the first call, so a server that is down at start is not an
    /// error here; calls fail with ``/Caching/CacheError/Code/unavailable`` until it is up.
    ///
    /// - Parameters:
    ///   - servers: The servers; the first takes writes.
    ///   - options: Pool size, timeouts, database, credentials.
    ///   - clock: The clock deadlines are measured by; give the ``Caching/Cache`` over it the same one.
    ///   - logger: Where failures of single keys in a many-operation are logged.
    ///   - alias: The alias, named in errors.
    ///   - observability: Where reconnects (`cache_reconnects`) and the connection queue
    ///     (`cache_pool_queue_depth`, `cache_pool_wait`) are reported; off by default.
    /// - Throws: ``/Caching/CacheError/Code/invalidSettings`` for an option out of range or no server.
    public init(
        servers: [RedisServerAddress], options: RedisOptions = RedisOptions(), clock: any CacheClock = SystemCacheClock(),
        logger: Logger = CacheConfiguration.silentLogger, alias: String = "redis",
        observability: CacheObservability = .off
    ) throws(CacheError) {
        guard !servers.isEmpty else {
            throw CacheSettings.invalid(
                alias, "LOCATION", "names no Redis server; give one or more URLs, such as \"redis://127.0.0.1:6379\"")
        }
        try options.validate(alias: alias)
        self.servers = servers
        self.options = options
        self.clock = clock
        self.logger = logger
        self.alias = alias
        let events = RedisConnectionEvents(
            servers: servers, alias: alias, logger: logger, metricsFactory: observability.metricsFactory,
            metricsAlias: observability.alias)
        let connections = (0..<options.poolSize).map { _ in
            let connection = RedisConnection(servers: servers, options: options, alias: alias)
            connection.events = events
            return connection
        }
        pool = RedisConnectionPool(
            connections: connections, serverCount: servers.count, alias: alias, spinMicroseconds: 50,
            readTimeLimit: options.readTimeout.map { Duration.seconds($0) }, logger: logger,
            metricsFactory: observability.metricsFactory, metricsAlias: observability.alias)
    }

    /// Creates a cache from `LOCATION` URLs (`redis://[:password@]host:port[/db]`,
    /// `unix:///path`, or several separated by commas).
    ///
    /// - Parameters:
    ///   - location: The server URLs; the first takes writes.
    ///   - options: Pool size, timeouts, database, credentials.
    ///   - clock: The clock deadlines are measured by.
    ///   - logger: Where failures of single keys in a many-operation are logged.
    ///   - alias: The alias, named in errors.
    ///   - observability: Where reconnects (`cache_reconnects`) and the connection queue
    ///     (`cache_pool_queue_depth`, `cache_pool_wait`) are reported; off by default.
    /// - Throws: ``/Caching/CacheError/Code/invalidSettings`` naming the alias and the URL that does
    ///   not parse (its password masked).
    public convenience init(
        location: [String], options: RedisOptions = RedisOptions(), clock: any CacheClock = SystemCacheClock(),
        logger: Logger = CacheConfiguration.silentLogger, alias: String = "redis",
        observability: CacheObservability = .off
    ) throws(CacheError) {
        try self.init(
            servers: RedisServerAddress.parse(location: location, alias: alias), options: options, clock: clock,
            logger: logger, alias: alias, observability: observability)
    }

    /// Creates a backend from an alias's settings, as ``/Caching/Caches`` does.
    ///
    /// - Parameter context: The alias, its settings and its configuration.
    /// - Throws: ``/Caching/CacheError/Code/invalidSettings`` naming the alias and the setting.
    public convenience init(context: CacheBackendContext) throws(CacheError) {
        let options = try RedisOptions(settings: context.settings, alias: context.alias)
        try self.init(
            location: context.settings.location, options: options, clock: context.configuration.clock,
            logger: context.configuration.logger, alias: context.alias, observability: context.configuration.observability)
    }

    deinit {
        pool.shutdownInBackground()
    }

    // MARK: Servers and expiry

    private static let primary = 0

    /// The server a read goes to: the only one, or one of the replicas at random.
    private var readServer: Int { pool.readServer }

    /// The milliseconds Redis is sent for an expiry: `0` for none, `nil` when the deadline has
    /// passed (the key is deleted instead).
    ///
    /// - Parameter expiry: The expiry.
    /// - Returns: The milliseconds left, rounded up, at least 1 and at most 10¹⁵ (31,000 years).
    public func milliseconds(for expiry: CacheExpiry) -> Int? {
        switch expiry {
        case .never:
            return 0
        case .at(let deadline):
            let remaining = (deadline - clock.now()) * 1000
            guard remaining > 0 else { return nil }
            return remaining >= 1e15 ? 1_000_000_000_000_000 : max(1, Int(remaining.rounded(.up)))
        }
    }

    private static func set(_ key: String, _ entry: CacheEntry, milliseconds: Int, onlyIfAbsent: Bool = false) -> RedisCommand {
        var command = RedisCommand("SET", key)
        command.append(RedisValueFormat.encode(entry))
        if milliseconds > 0 {
            command.append("PX")
            command.append(milliseconds)
        }
        if onlyIfAbsent { command.append("NX") }
        return command
    }

    private func unexpected(_ reply: RedisReply, _ command: String, key: String?) -> CacheError {
        unexpectedReplyError(alias: alias, reply, command, key: key)
    }

    // MARK: CacheBackend

    /// A `GET`, or a place in an `MGET` shared with concurrent reads.
    public func entry(forKey key: String) async throws -> CacheEntry? {
        try await pool.get(key)
    }

    /// An `MGET`, shared with concurrent reads (single keys and other many-reads).
    public func entries(forKeys keys: [String]) async throws -> [CacheEntry?] {
        guard !keys.isEmpty else { return [] }
        return try await pool.read(keys)
    }

    public func store(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws {
        guard let milliseconds = milliseconds(for: expiry) else {
            _ = try await removeEntry(forKey: key)
            return
        }
        let command = Self.set(key, entry, milliseconds: milliseconds)
        let reply = try await pool.run { connection throws(CacheError) in try connection.send(command, Self.primary) }
        guard case .status = reply else { throw unexpected(reply, "SET", key: key) }
    }

    public func storeIfAbsent(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws -> Bool {
        guard let milliseconds = milliseconds(for: expiry) else {
            return try await !exists(key, on: Self.primary)
        }
        let command = Self.set(key, entry, milliseconds: milliseconds, onlyIfAbsent: true)
        let reply = try await pool.run { connection throws(CacheError) in try connection.send(command, Self.primary) }
        switch reply {
        case .status: return true
        case .null: return false
        default: throw unexpected(reply, "SET NX", key: key)
        }
    }

    /// Compares the stored bytes and writes in one step on the server, in a Lua script.
    ///
    /// A Lua script rather than `WATCH`/`MULTI`/`EXEC`: one round trip instead of four, no
    /// connection held across them, and no retry loop when another client touches the key
    /// between `WATCH` and `EXEC` — the server runs the script with nothing in between.
    public func compareAndStore(
        _ entry: CacheEntry, forKey key: String, expiry: CacheExpiry, expected: CacheEntry?
    ) async throws -> Bool {
        let milliseconds = milliseconds(for: expiry)
        guard let expected else { return try await storeIfAbsent(entry, forKey: key, expiry: expiry) }
        var command = RedisCommand("EVAL")
        command.append(ScriptSource.compareAndStore)
        command.append(1)
        command.append(key)
        command.append(RedisValueFormat.encode(expected))
        command.append(RedisValueFormat.encode(entry))
        command.append(milliseconds ?? -1)
        let reply = try await pool.run { [command] connection throws(CacheError) in try connection.send(command, Self.primary) }
        guard case .integer(let stored) = reply else { throw unexpected(reply, "compare-and-set script", key: key) }
        return stored == 1
    }

    public func store(_ entries: [(key: String, entry: CacheEntry)], expiry: CacheExpiry) async throws -> [String] {
        guard !entries.isEmpty else { return [] }
        guard let milliseconds = milliseconds(for: expiry) else {
            try await removeEntries(forKeys: entries.map(\.key))
            return []
        }
        let commands = entries.map { Self.set($0.key, $0.entry, milliseconds: milliseconds) }
        let replies = try await pool.run { connection throws(CacheError) in try connection.pipeline(commands, Self.primary) }
        var failed: [String] = []
        for (pair, reply) in zip(entries, replies) {
            guard case .status = reply else {
                logger.error(
                    "redis set_many could not store a key",
                    metadata: ["cache.key": "\(pair.key)", "cache.error": "\(unexpected(reply, "SET", key: pair.key))"])
                failed.append(pair.key)
                continue
            }
        }
        return failed
    }

    public func removeEntry(forKey key: String) async throws -> Bool {
        let reply = try await pool.run { connection throws(CacheError) in try connection.send(RedisCommand("DEL", key), Self.primary) }
        guard case .integer(let removed) = reply else { throw unexpected(reply, "DEL", key: key) }
        return removed > 0
    }

    public func removeEntries(forKeys keys: [String]) async throws {
        guard !keys.isEmpty else { return }
        var command = RedisCommand("DEL")
        for key in keys { command.append(key) }
        let reply = try await pool.run { [command] connection throws(CacheError) in try connection.send(command, Self.primary) }
        guard case .integer = reply else { throw unexpected(reply, "DEL", key: nil) }
    }

    public func updateExpiry(forKey key: String, to expiry: CacheExpiry) async throws -> Bool {
        guard let milliseconds = milliseconds(for: expiry) else {
            return try await removeEntry(forKey: key)
        }
        var command: RedisCommand
        if milliseconds == 0 {
            // PERSIST answers 0 for a key that exists without an expiry; the script answers
            // whether the key exists, as the protocol asks.
            command = RedisCommand("EVAL")
            command.append(ScriptSource.persist)
            command.append(1)
            command.append(key)
        } else {
            command = RedisCommand("PEXPIRE", key)
            command.append(milliseconds)
        }
        let reply = try await pool.run { [command] connection throws(CacheError) in try connection.send(command, Self.primary) }
        guard case .integer(let found) = reply else { throw unexpected(reply, milliseconds == 0 ? "PERSIST" : "PEXPIRE", key: key) }
        return found == 1
    }

    /// `EXISTS`; with ``RedisOptions/readTimeout``, a read in the coalesced queue instead, so
    /// that the watchdog bounds it as it bounds every read.
    public func containsEntry(forKey key: String) async throws -> Bool {
        if pool.readTimeLimit != nil { return try await pool.get(key) != nil }
        let server = readServer
        do {
            return try await exists(key, on: server)
        } catch {
            guard server != Self.primary, error.code == .unavailable else { throw error }
            // The replica is down: the first server holds every write.
            pool.warnAboutReplica(error)
            return try await exists(key, on: Self.primary)
        }
    }

    private func exists(_ key: String, on server: Int) async throws(CacheError) -> Bool {
        let reply = try await pool.run { connection throws(CacheError) in try connection.send(RedisCommand("EXISTS", key), server) }
        guard case .integer(let count) = reply else { throw unexpected(reply, "EXISTS", key: key) }
        return count > 0
    }

    public func increment(entryForKey key: String, by delta: Int) async throws -> Int {
        var command = RedisCommand("EVAL")
        command.append(ScriptSource.incrementExisting)
        command.append(1)
        command.append(key)
        command.append(delta)
        let reply = try await pool.run { [command] connection throws(CacheError) in try connection.send(command, Self.primary) }
        switch reply {
        case .integer(let value):
            return value
        case .null:
            throw CacheError(.keyNotFound, "Key '\(key)' not found", key: key)
        case .error(let message) where message.contains("overflow"):
            throw CacheError(
                .integerOverflow,
                "Adding \(delta) to the integer under key '\(key)' leaves Redis's signed 64-bit range; the value is unchanged",
                key: key)
        case .error(let message) where message.contains("not an integer") || message.contains("WRONGTYPE"):
            throw CacheError(.notAnInteger, "The value under key '\(key)' is not an integer Redis can increment", key: key)
        default:
            throw unexpected(reply, "INCRBY", key: key)
        }
    }

    public func clear() async throws {
        let reply = try await pool.run { connection throws(CacheError) in try connection.send(RedisCommand("FLUSHDB"), Self.primary) }
        guard case .status = reply else { throw unexpected(reply, "FLUSHDB", key: nil) }
    }

    /// Closes every connection; the next call reconnects. The backend stays usable.
    public func close() async throws {
        await pool.closeConnections()
    }

    /// Lets the calls already queued finish, closes every connection and joins the threads.
    /// Later calls fail with ``/Caching/CacheError/Code/closed``.
    public func shutdown() async throws {
        await pool.shutdown()
    }
}

/// The error for a reply a command should not give: an error reply, quoted, or another type.
func unexpectedReplyError(alias: String, _ reply: RedisReply, _ command: String, key: String?) -> CacheError {
    if case .error(let message) = reply, message.hasPrefix("OOM") {
        return CacheError(
            .full,
            "Redis cache '\(alias)': \(command) was refused because the server reached maxmemory (maxmemory-policy noeviction): \(message); nothing stored was lost, but nothing new fits until entries expire or the limit is raised",
            key: key)
    }
    if case .error(let message) = reply {
        return CacheError(.protocolError, "Redis cache '\(alias)': \(command) failed with an error reply: \(message)", key: key)
    }
    return CacheError(.protocolError, "Redis cache '\(alias)': \(command) gave an unexpected reply \(reply)", key: key)
}

/// The Lua scripts the backend runs with `EVAL`; Redis runs each in one step, with no other
/// command in between.
enum ScriptSource {
    /// `KEYS[1]`, `ARGV[1]` = delta: `INCRBY` only when the key exists; nil otherwise.
    static let incrementExisting = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return false end
        return redis.call('INCRBY', KEYS[1], ARGV[1])
        """

    /// `KEYS[1]`, `ARGV[1]` = expected bytes, `ARGV[2]` = new bytes, `ARGV[3]` = milliseconds
    /// (`0` no expiry, `-1` delete): writes only when the stored bytes are the expected ones.
    static let compareAndStore = """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
        if ARGV[3] == '-1' then
          redis.call('DEL', KEYS[1])
        elseif ARGV[3] == '0' then
          redis.call('SET', KEYS[1], ARGV[2])
        else
          redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
        end
        return 1
        """

    /// `KEYS[1]`: removes the expiry of an existing key; 1 when the key exists.
    static let persist = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        redis.call('PERSIST', KEYS[1])
        return 1
        """
}
