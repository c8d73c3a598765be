public import Caching
public import Logging

/// Storage on several memcached servers where every key lives on `replicas` of them, so that
/// losing one server — killed, restarted empty, unreachable — loses no entry and never turns a
/// read into a wrong "missing": `OPTIONS["replicas"]` of 2 or more on a memcached alias.
///
/// **Placement.** A key's replicas are the `replicas` servers with the highest
/// rendezvous-hash score for it (highest random weight): a pure function of the key and the
/// server list in `LOCATION`, the same in every process, and independent of which servers are up.
/// Each server has a connection pool of its own that never ejects it (`remove_failed_servers`
/// is off), so a key never moves to a server that never held it.
///
/// **Reads** ask every replica at once. An entry any replica holds is returned (the first in
/// placement order). "Missing" is answered only when **every** replica answered "missing"; if
/// one failed and none had the entry, the read throws ``/Caching/CacheError/Code/unavailable``,
/// so a revocation check fails closed instead of accepting a token it cannot vouch for.
///
/// **Writes** go to every replica; a write succeeds when at least one replica stored it (a
/// replica that was down misses that write; reads still find the entry on the others).
/// `add` and compare-and-set are decided on the key's first replica (its primary) after the
/// others were read, so a primary restarted empty cannot grant a second `add`; a primary that
/// is down makes them throw (fail closed). `incr` runs on every replica and answers the
/// primary's result. `clear` flushes every server.
public final class ReplicatedMemcachedBackend: CacheBackend {
    /// The servers, in `LOCATION` order.
    public let servers: [MemcachedServerAddress]
    /// How many servers hold each key.
    public let replicas: Int
    /// The options every server's pool was created with (`remove_failed_servers` off).
    public let options: MemcachedOptions
    private let nodes: [MemcachedBackend]
    private let seeds: [UInt64]
    private let logger: Logger

    /// Creates replicated storage.
    ///
    /// - Parameters:
    ///   - servers: The servers; at least `replicas` of them.
    ///   - replicas: How many servers hold each key (2 or more).
    ///   - options: Pool size, timeouts, item size; `remove_failed_servers` is turned off.
    ///   - clock: The clock deadlines are measured by.
    ///   - logger: Where a replica that missed a write is logged.
    ///   - alias: The alias, named in errors.
    ///   - observability: Where each server's reconnects are counted (`cache_reconnects`); off by default.
    /// - Throws: ``/Caching/CacheError/Code/invalidSettings`` for fewer servers than replicas, or
    ///   an option libmemcached refuses.
    public init(
        servers: [MemcachedServerAddress], replicas: Int, options: MemcachedOptions = MemcachedOptions(),
        clock: any CacheClock = SystemCacheClock(), logger: Logger = CacheConfiguration.silentLogger, alias: String = "memcached",
        observability: CacheObservability = .off
    ) throws(CacheError) {
        guard replicas >= 2, replicas <= servers.count else {
            throw CacheSettings.invalid(
                alias, ["OPTIONS", "replicas"],
                "must be at least 2 and at most the number of servers in LOCATION (\(servers.count)); found \(replicas)")
        }
        guard Set(servers).count == servers.count else {
            throw CacheSettings.invalid(alias, "LOCATION", "names a server twice; replicas must be on different servers")
        }
        var single = options
        single.removeFailedServers = false
        var nodes: [MemcachedBackend] = []
        for server in servers {
            nodes.append(
                try MemcachedBackend(
                    servers: [server], options: single, clock: clock, logger: logger, alias: alias, observability: observability))
        }
        self.servers = servers
        self.replicas = replicas
        self.options = single
        self.nodes = nodes
        self.seeds = servers.map { Self.hash(Array("\($0)".utf8), seed: 0x9E37_79B9_7F4A_7C15) }
        self.logger = logger
    }

    public var capabilities: CacheBackendCapabilities {
        CacheBackendCapabilities(
            name: "memcached", mayEvictLiveEntries: !options.serversNeverEvict, mayMoveKeysOnFailure: false,
            requiresValidKeys: true, sharedAcrossProcesses: true)
    }

    // MARK: Placement

    /// The indices of the servers that hold a key, primary first.
    public func placement(forKey key: String) -> [Int] {
        let keyHash = Self.hash(Array(key.utf8), seed: 0)
        var scored = seeds.enumerated().map { (index: $0.offset, score: Self.mix($0.element ^ keyHash)) }
        scored.sort { $0.score != $1.score ? $0.score > $1.score : $0.index < $1.index }
        return scored.prefix(replicas).map(\.index)
    }

    private static func hash(_ bytes: [UInt8], seed: UInt64) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ seed
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return mix(hash)
    }

    /// SplitMix64's finalizer: every output bit depends on every input bit.
    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    // MARK: Fan-out

    /// Runs `body` on each of the given nodes at once; results in the order of `indices`.
    private func each<T: Sendable>(
        _ indices: [Int], _ body: @escaping @Sendable (MemcachedBackend) async throws -> T
    ) async -> [Result<T, any Error>] {
        await withTaskGroup(of: (Int, Result<T, any Error>).self) { group in
            for (position, index) in indices.enumerated() {
                let node = nodes[index]
                group.addTask {
                    do { return (position, .success(try await body(node))) } catch { return (position, .failure(error)) }
                }
            }
            var results = [Result<T, any Error>?](repeating: nil, count: indices.count)
            for await (position, result) in group { results[position] = result }
            return results.map { $0! }
        }
    }

    private func unavailable(_ key: String, _ failures: [(Int, any Error)], what: String) -> CacheError {
        let detail = failures.map { "\(servers[$0.0]): \($0.1)" }.joined(separator: "; ")
        return CacheError(
            .unavailable,
            "memcached could not \(what) key '\(key)' on every replica (\(detail)); with a replica unanswered, its absence cannot be proved",
            key: key)
    }

    private func logMissedWrite(_ key: String, _ failures: [(Int, any Error)]) {
        for (index, error) in failures {
            logger.warning(
                "A memcached replica missed a write; the other replicas hold the entry",
                metadata: ["cache.key": "\(key)", "memcached.server": "\(servers[index])", "cache.error": "\(error)"])
        }
    }

    /// Writes to every replica; succeeds when one stored it.
    private func writeAll(_ key: String, what: String, _ body: @escaping @Sendable (MemcachedBackend) async throws -> Void) async throws {
        let indices = placement(forKey: key)
        let results = await each(indices, body)
        var failures: [(Int, any Error)] = []
        for (index, result) in zip(indices, results) {
            if case .failure(let error) = result { failures.append((index, error)) }
        }
        if failures.count == indices.count {
            if let error = failures.first?.1 as? CacheError, error.code != .unavailable, error.code != .timeout { throw error }
            throw unavailable(key, failures, what: what)
        }
        logMissedWrite(key, failures)
    }

    // MARK: CacheBackend

    public func entry(forKey key: String) async throws -> CacheEntry? {
        let indices = placement(forKey: key)
        let results = await each(indices) { try await $0.entry(forKey: key) }
        var failures: [(Int, any Error)] = []
        for (index, result) in zip(indices, results) {
            switch result {
            case .success(let entry?): return entry
            case .success(nil): continue
            case .failure(let error): failures.append((index, error))
            }
        }
        guard failures.isEmpty else {
            if let error = failures.first?.1 as? CacheError, error.code == .invalidKey { throw error }
            throw unavailable(key, failures, what: "read")
        }
        return nil
    }

    public func entries(forKeys keys: [String]) async throws -> [CacheEntry?] {
        guard !keys.isEmpty else { return [] }
        // Each node reads the keys it holds, in one multi-get.
        var keysOfNode = [[Int]](repeating: [], count: nodes.count)
        for (position, key) in keys.enumerated() {
            for index in placement(forKey: key) { keysOfNode[index].append(position) }
        }
        let used = keysOfNode.indices.filter { !keysOfNode[$0].isEmpty }
        let batches = used.map { index in keysOfNode[index].map { keys[$0] } }
        let results = await withTaskGroup(of: (Int, Result<[CacheEntry?], any Error>).self) { group in
            for (slot, index) in used.enumerated() {
                let node = nodes[index]
                let batch = batches[slot]
                group.addTask {
                    do { return (slot, .success(try await node.entries(forKeys: batch))) } catch { return (slot, .failure(error)) }
                }
            }
            var results = [Result<[CacheEntry?], any Error>?](repeating: nil, count: used.count)
            for await (slot, result) in group { results[slot] = result }
            return results
        }
        var found = [CacheEntry?](repeating: nil, count: keys.count)
        var failed = [(Int, any Error)?](repeating: nil, count: keys.count)
        for (slot, index) in used.enumerated() {
            switch results[slot]! {
            case .success(let entries):
                for (offset, position) in keysOfNode[index].enumerated() where found[position] == nil {
                    found[position] = entries[offset]
                }
            case .failure(let error):
                for position in keysOfNode[index] where failed[position] == nil { failed[position] = (index, error) }
            }
        }
        for position in keys.indices where found[position] == nil {
            if let failure = failed[position] { throw unavailable(keys[position], [failure], what: "read") }
        }
        return found
    }

    public func store(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws {
        try await writeAll(key, what: "store") { try await $0.store(entry, forKey: key, expiry: expiry) }
    }

    public func storeIfAbsent(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws -> Bool {
        try await compareAndStore(entry, forKey: key, expiry: expiry, expected: nil)
    }

    public func compareAndStore(
        _ entry: CacheEntry, forKey key: String, expiry: CacheExpiry, expected: CacheEntry?
    ) async throws -> Bool {
        let indices = placement(forKey: key)
        let primary = nodes[indices[0]]
        // What the replicas hold now: every one must answer, so a primary restarted empty
        // cannot grant an `add` that a secondary's copy forbids.
        let current = try await self.entry(forKey: key)
        guard current == expected else { return false }
        var stored = try await primary.compareAndStore(entry, forKey: key, expiry: expiry, expected: expected)
        if !stored, let expected, try await primary.entry(forKey: key) == nil {
            // The primary lost the entry (a restart) while a secondary kept it: put it back, then decide.
            _ = try await primary.compareAndStore(expected, forKey: key, expiry: expiry, expected: nil)
            stored = try await primary.compareAndStore(entry, forKey: key, expiry: expiry, expected: expected)
        }
        guard stored else { return false }
        let others = Array(indices.dropFirst())
        let results = await each(others) { try await $0.store(entry, forKey: key, expiry: expiry) }
        var failures: [(Int, any Error)] = []
        for (index, result) in zip(others, results) {
            if case .failure(let error) = result { failures.append((index, error)) }
        }
        logMissedWrite(key, failures)
        return true
    }

    /// Asks every replica of a key a yes/no question: whether any said yes, and which failed.
    private func anyReplica(
        _ key: String, _ body: @escaping @Sendable (MemcachedBackend) async throws -> Bool
    ) async -> (any: Bool, failures: [(Int, any Error)]) {
        let indices = placement(forKey: key)
        let results = await each(indices, body)
        var answer = false
        var failures: [(Int, any Error)] = []
        for (index, result) in zip(indices, results) {
            switch result {
            case .success(let value): answer = answer || value
            case .failure(let error): failures.append((index, error))
            }
        }
        return (answer, failures)
    }

    public func removeEntry(forKey key: String) async throws -> Bool {
        let (removed, failures) = await anyReplica(key) { try await $0.removeEntry(forKey: key) }
        // A replica that missed the delete would bring the entry back: fail, so the caller retries.
        if !failures.isEmpty { throw unavailable(key, failures, what: "delete") }
        return removed
    }

    public func updateExpiry(forKey key: String, to expiry: CacheExpiry) async throws -> Bool {
        let (touched, failures) = await anyReplica(key) { try await $0.updateExpiry(forKey: key, to: expiry) }
        if !touched, !failures.isEmpty { throw unavailable(key, failures, what: "touch") }
        logMissedWrite(key, failures)
        return touched
    }

    public func increment(entryForKey key: String, by delta: Int) async throws -> Int {
        let indices = placement(forKey: key)
        let results = await each(indices) { try await $0.increment(entryForKey: key, by: delta) }
        var failures: [(Int, any Error)] = []
        var notFound: (any Error)?
        for (index, result) in zip(indices, results) {
            switch result {
            case .success(let value): return value
            case .failure(let error as CacheError) where error.code == .keyNotFound: notFound = error
            case .failure(let error as CacheError) where error.code == .notAnInteger || error.code == .integerOverflow: throw error
            case .failure(let error): failures.append((index, error))
            }
        }
        if failures.isEmpty, let notFound { throw notFound }
        throw unavailable(key, failures, what: "increment")
    }

    public func clear() async throws {
        let results = await each(Array(nodes.indices)) { try await $0.clear() }
        for result in results { if case .failure(let error) = result { throw error } }
    }

    public func close() async throws {
        for node in nodes { try await node.close() }
    }

    public func shutdown() async throws {
        for node in nodes { try await node.shutdown() }
    }
}
