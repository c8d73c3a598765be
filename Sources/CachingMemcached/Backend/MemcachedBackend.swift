import CLibmemcached
public import Caching
public import Logging

/// Storage on one or more memcached servers, over libmemcached: the backend of Django's
/// `PyLibMCCache` and `PyMemcacheCache`. Use it through a ``Caching/Cache``:
/// `try Cache.memcached(location: ["127.0.0.1:11211"])`, or name it in settings.
///
/// Keys are spread over the servers by consistent hashing (ketama) by default. Every
/// libmemcached call runs on the cache's own worker threads (``MemcachedOptions/poolSize``
/// of them, each with its own connection to every server), never on Swift concurrency's
/// cooperative threads; concurrent reads (`get`, `getMany`, `hasKey`) are coalesced into one
/// multi-get of all their distinct keys.
///
/// Behaviour shared with the other backends comes from ``Caching/Cache``; what memcached adds:
///
/// - **Expiry** is kept by the server with 1-second granularity: an item sent with `n`
///   seconds lives between `n-1` and `n` seconds, depending on where the server's clock tick
///   falls. So an expiry is sent as the seconds left **rounded up, plus one**: an entry lives
///   at least its timeout and at most about a second longer (Django truncates instead, so
///   `timeout=0.5` expires at once there and `timeout=1` can expire at once too). Up to 30 days
///   (2 592 000 s) it is sent as relative seconds, longer as an absolute Unix time
///   (memcached's rule, as Django applies it). A deadline already past deletes the key
///   instead of sending a negative expiry.
/// - **Keys** must follow ``/Caching/CacheKeyRules`` even in ``/Caching/CacheKeyValidation/warn`` mode
///   (``/Caching/CacheBackendCapabilities/requiresValidKeys``): an invalid key throws and nothing is
///   sent. Every call checks its keys again here (``/Caching/CacheKeyRules/isValid(_:)``), whoever
///   calls it, so no key can carry a memcached command.
/// - **Values** larger than the item size limit (``MemcachedOptions/maxValueSize``, memcached's
///   `-I`, 1 MiB by default, counting the key and ``MemcachedOptions/itemOverhead`` bytes)
///   are refused with ``/Caching/CacheError/Code/valueTooLarge`` before anything is sent, so the old
///   value stays (Django's clients lose it: the server drops the old item).
/// - **incr/decr** are memcached's own, atomic on the server: the value must be an unsigned
///   64-bit decimal (a negative number stored with `set` is ``/Caching/CacheError/Code/notAnInteger``);
///   `decr` stops at 0 instead of going negative; `incr` past 2⁶⁴−1 wraps to 0; a result above
///   `Int.max` is stored but reported as ``/Caching/CacheError/Code/integerOverflow``. A digit string
///   (stored as text) can be incremented and stays text, as in Django on memcached.
/// - **clear** sends `flush_all` to every server: it empties them for every application.
/// - **Failures** are ``/Caching/CacheError/Code/unavailable`` (connection refused, server marked
///   dead), ``/Caching/CacheError/Code/timeout`` or ``/Caching/CacheError/Code/protocolError``, naming the
///   server; a call never waits longer than the configured timeouts. A server that fails
///   ``MemcachedOptions/failureLimit`` times in a row is ejected (its keys move to the other
///   servers) and tried again after ``MemcachedOptions/retryTimeout``.
public final class MemcachedBackend: CacheBackend {
    /// The servers, in `LOCATION` order.
    public let servers: [MemcachedServerAddress]
    /// The options the cache was created with.
    public let options: MemcachedOptions
    /// The clock deadlines are measured by when they are turned into memcached's expirations.
    public let clock: any CacheClock
    private let logger: Logger
    private let pool: MemcachedWorkerPool
    private let wallClock = SystemCacheClock()

    /// memcached cannot store an invalid key; it may evict live items under memory pressure
    /// (unless every server runs with `-M`, which ``MemcachedOptions/serversNeverEvict``
    /// declares) and, with ``MemcachedOptions/removeFailedServers`` and several servers, moves a
    /// failed server's keys to the others; a restarted server is empty. With
    /// ``MemcachedOptions/readTimeout`` set, every read answers within it (plus the watchdog's
    /// period): ``/Caching/CacheBackendCapabilities/readTimeLimit``.
    public var capabilities: CacheBackendCapabilities {
        CacheBackendCapabilities(
            name: "memcached", mayEvictLiveEntries: !options.serversNeverEvict,
            mayMoveKeysOnFailure: options.removeFailedServers && servers.count > 1,
            requiresValidKeys: true, sharedAcrossProcesses: true, readTimeLimit: pool.readTimeBound)
    }

    /// Round trips sent for reads and reads answered since the backend was created: with
    /// concurrent readers there are fewer round trips than reads (they share multi-gets).
    public var readCounts: (roundTrips: Int, reads: Int) { pool.readCounts }

    /// Relative expirations up to this many seconds; longer ones are sent as Unix times.
    public static let maximumRelativeExpiration = 2_592_000

    /// Creates a cache on servers.
    ///
    /// No connection is made until the first call, so a server that is down at start is not an
    /// error here; calls fail with ``/Caching/CacheError/Code/unavailable`` until it is up.
    ///
    /// - Parameters:
    ///   - servers: The servers.
    ///   - options: Pool size, timeouts, failure handling, item size, behaviours.
    ///   - clock: The clock deadlines are measured by; give the ``Caching/Cache`` over it the same one.
    ///   - logger: Where failures of single keys in a many-operation and reconnects are logged.
    ///   - alias: The alias, named in errors.
    ///   - observability: Where reconnects are counted (`cache_reconnects`); off by default.
    /// - Throws: ``/Caching/CacheError/Code/invalidSettings`` for an option out of range or a server
    ///   libmemcached refuses.
    public init(
        servers: [MemcachedServerAddress], options: MemcachedOptions = MemcachedOptions(),
        clock: any CacheClock = SystemCacheClock(), logger: Logger = CacheConfiguration.silentLogger,
        alias: String = "memcached", observability: CacheObservability = .off
    ) throws(CacheError) {
        guard !servers.isEmpty else {
            throw CacheSettings.invalid(alias, "LOCATION", "names no memcached server; give one or more as host:port")
        }
        try options.validate(alias: alias)
        let events = MemcachedConnectionEvents(
            servers: servers, alias: alias, logger: logger, metricsFactory: observability.metricsFactory,
            metricsAlias: observability.alias, retryTimeout: options.retryTimeout)
        var connections: [MemcachedConnection] = []
        for _ in 0..<options.poolSize {
            let connection = try MemcachedConnection(servers: servers, options: options, alias: alias)
            connection.events = events
            connections.append(connection)
        }
        self.servers = servers
        self.options = options
        self.clock = clock
        self.logger = logger
        self.pool = MemcachedWorkerPool(
            connections: connections, alias: alias, readTimeLimit: options.readTimeout.map { Duration.seconds($0) },
            metrics: observability.metricsFactory.map { MemcachedPoolMetrics(factory: $0, alias: observability.alias) })
    }

    /// Creates a cache from `LOCATION` strings (`host:port`, `[::1]:11211`, `unix:/path`, or
    /// several separated by `;` or `,`).
    ///
    /// - Parameters:
    ///   - location: The server addresses.
    ///   - options: Pool size, timeouts, failure handling, item size, behaviours.
    ///   - clock: The clock deadlines are measured by.
    ///   - logger: Where failures of single keys in a many-operation and reconnects are logged.
    ///   - alias: The alias, named in errors.
    ///   - observability: Where reconnects are counted (`cache_reconnects`); off by default.
    /// - Throws: ``/Caching/CacheError/Code/invalidSettings`` naming the alias and the address that
    ///   does not parse.
    public convenience init(
        location: [String], options: MemcachedOptions = MemcachedOptions(),
        clock: any CacheClock = SystemCacheClock(), logger: Logger = CacheConfiguration.silentLogger,
        alias: String = "memcached", observability: CacheObservability = .off
    ) throws(CacheError) {
        try self.init(
            servers: MemcachedServerAddress.parse(location: location, alias: alias), options: options,
            clock: clock, logger: logger, alias: alias, observability: observability)
    }

    /// Creates a backend from an alias's settings, as ``/Caching/Caches`` does.
    ///
    /// - Parameter context: The alias, its settings and its configuration.
    /// - Throws: ``/Caching/CacheError/Code/invalidSettings`` naming the alias and the setting.
    public convenience init(context: CacheBackendContext) throws(CacheError) {
        let options = try MemcachedOptions(settings: context.settings, alias: context.alias)
        try self.init(
            location: context.settings.location, options: options, clock: context.configuration.clock,
            logger: context.configuration.logger, alias: context.alias, observability: context.configuration.observability)
    }

    deinit {
        pool.shutdown()
    }

    /// Refuses a key that must not go on the wire, before it reaches a worker.
    @inline(__always)
    private func check(_ key: String) throws(CacheError) {
        if !CacheKeyRules.isValid(key) { try CacheKeyRules.checkWireKey(key, backend: "memcached") }
    }

    // MARK: Expiry and size

    /// The expiration memcached is sent for an expiry, or `nil` when the deadline has passed.
    ///
    /// - Parameter expiry: The expiry.
    /// - Returns: 0 for never; the seconds left rounded up, plus one for memcached's
    ///   one-second clock, when that is at most 30 days; else an absolute Unix time (capped at
    ///   2³¹−1, memcached's limit).
    public func expiration(for expiry: CacheExpiry) -> Int? {
        switch expiry {
        case .never:
            return 0
        case .at(let deadline):
            let remaining = deadline - clock.now()
            guard remaining > 0 else { return nil }
            // memcached's clock ticks once a second and an item is gone when the tick reaches its
            // expiry, so `n` relative seconds live between n-1 and n. One more second makes an
            // entry live at least its timeout (and at most about a second longer).
            let seconds = remaining >= Double(Int32.max) ? Int(Int32.max) : Int(remaining.rounded(.up)) + 1
            if seconds <= Self.maximumRelativeExpiration { return seconds }
            return min(Int(wallClock.now()) + seconds, Int(Int32.max))
        }
    }

    private func checkSize(_ entry: CacheEntry, key: String) throws(CacheError) {
        let size = key.utf8.count + entry.bytes.count + MemcachedOptions.itemOverhead
        guard size > options.maxValueSize else { return }
        throw CacheError(
            .valueTooLarge,
            "The value for key '\(key)' is \(entry.bytes.count) bytes; with the key and memcached's item overhead it needs \(size) bytes, over the item size limit of \(options.maxValueSize) (OPTIONS max_value_size, memcached -I); nothing was sent and the old value is kept",
            key: key)
    }

    // MARK: CacheBackend

    public func entry(forKey key: String) async throws -> CacheEntry? {
        try check(key)
        return try await pool.get(key)
    }

    /// Concurrent reads, of one key or many, are gathered into one multi-get of all their
    /// distinct keys; each caller gets its own keys back, or the error of one of them.
    public func entries(forKeys keys: [String]) async throws -> [CacheEntry?] {
        guard !keys.isEmpty else { return [] }
        for key in keys { try check(key) }
        return try await pool.read(keys)
    }

    public func store(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws {
        try check(key)
        try checkSize(entry, key: key)
        guard let expiration = expiration(for: expiry) else {
            _ = try await removeEntry(forKey: key)
            return
        }
        _ = try await pool.run { connection throws(CacheError) in
            try connection.store(key, entry, expiration: expiration, mode: .set)
        }
    }

    public func storeIfAbsent(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws -> Bool {
        try check(key)
        try checkSize(entry, key: key)
        guard let expiration = expiration(for: expiry) else {
            return try await !containsEntry(forKey: key)
        }
        return try await pool.run { connection throws(CacheError) in
            try connection.store(key, entry, expiration: expiration, mode: .add)
        }
    }

    /// memcached's `add` when `expected` is `nil`; otherwise `gets`, a byte comparison and `cas`,
    /// in one job on one connection.
    public func compareAndStore(
        _ entry: CacheEntry, forKey key: String, expiry: CacheExpiry, expected: CacheEntry?
    ) async throws -> Bool {
        try check(key)
        try checkSize(entry, key: key)
        guard let expiration = expiration(for: expiry) else {
            // A deadline already past: the entry would be gone at once, as after a delete.
            guard let expected else { return try await !containsEntry(forKey: key) }
            return try await pool.run { connection throws(CacheError) -> Bool in
                guard let current = try connection.getWithCAS(key), current.entry == expected else { return false }
                return try connection.delete(key)
            }
        }
        guard let expected else {
            return try await pool.run { connection throws(CacheError) in
                try connection.store(key, entry, expiration: expiration, mode: .add)
            }
        }
        return try await pool.run { connection throws(CacheError) -> Bool in
            guard let current = try connection.getWithCAS(key), current.entry == expected else { return false }
            return try connection.compareAndSwap(key, entry, expiration: expiration, cas: current.cas)
        }
    }

    public func store(_ entries: [(key: String, entry: CacheEntry)], expiry: CacheExpiry) async throws -> [String] {
        guard !entries.isEmpty else { return [] }
        for (key, entry) in entries {
            try check(key)
            try checkSize(entry, key: key)
        }
        guard let expiration = expiration(for: expiry) else {
            try await removeEntries(forKeys: entries.map(\.key))
            return []
        }
        let batch = entries.map { Pair(key: $0.key, entry: $0.entry) }
        let logger = logger
        return try await pool.run { connection throws(CacheError) -> [String] in
            var failed: [String] = []
            for pair in batch {
                do throws(CacheError) {
                    _ = try connection.store(pair.key, pair.entry, expiration: expiration, mode: .set)
                } catch {
                    logger.error(
                        "memcached set_many could not store a key", metadata: ["cache.key": "\(pair.key)", "cache.error": "\(error)"])
                    failed.append(pair.key)
                }
            }
            return failed
        }
    }

    private struct Pair: Sendable {
        var key: String
        var entry: CacheEntry
    }

    public func removeEntry(forKey key: String) async throws -> Bool {
        try check(key)
        return try await pool.run { connection throws(CacheError) in try connection.delete(key) }
    }

    public func removeEntries(forKeys keys: [String]) async throws {
        guard !keys.isEmpty else { return }
        for key in keys { try check(key) }
        try await pool.run { connection throws(CacheError) in
            var firstError: CacheError?
            for key in keys {
                do throws(CacheError) {
                    _ = try connection.delete(key)
                } catch {
                    if firstError == nil { firstError = error }
                }
            }
            if let firstError { throw firstError }
        }
    }

    public func updateExpiry(forKey key: String, to expiry: CacheExpiry) async throws -> Bool {
        try check(key)
        guard let expiration = expiration(for: expiry) else {
            return try await removeEntry(forKey: key)
        }
        return try await pool.run { connection throws(CacheError) in try connection.touch(key, expiration: expiration) }
    }

    public func increment(entryForKey key: String, by delta: Int) async throws -> Int {
        try check(key)
        let value = try await pool.run { connection throws(CacheError) in try connection.increment(key, by: delta) }
        guard let result = Int(exactly: value) else {
            throw CacheError(
                .integerOverflow,
                "memcached stored \(value) under key '\(key)' after adding \(delta), which is above Int.max; memcached counters are unsigned 64-bit",
                key: key)
        }
        return result
    }

    public func clear() async throws {
        try await pool.run { connection throws(CacheError) in try connection.flush() }
    }

    /// Closes every connection; the next call reconnects. The backend stays usable.
    public func close() async throws {
        pool.quitConnections()
    }

    /// Stops the worker threads after the calls already queued, closes every connection and
    /// joins the threads. Later calls fail with ``/Caching/CacheError/Code/closed``.
    public func shutdown() async throws {
        await pool.shutdownAndWait()
    }
}
