/// The storage under a ``Cache``: the few primitives a backend implements.
///
/// Users hold a ``Cache``; a backend is what it stores through, as swift-log's `Logger`
/// writes through a `LogHandler`. Everything Django's API adds — key making and validation,
/// versions, default timeouts, the value codec, `getOrSet`, `incrVersion`, `setMany` — lives
/// in ``Cache``, once. A backend sees only **made, validated keys** (`prefix:version:key`)
/// and encoded ``CacheEntry`` values, and an absolute ``CacheExpiry``.
///
/// Rules every backend follows (the conformance suite in `CachingTesting` checks them):
/// - An expired entry is never returned, counted as present, touched, or reported as
///   deleted.
/// - ``storeIfAbsent(_:forKey:expiry:)``, ``compareAndStore(_:forKey:expiry:expected:)`` and
///   ``increment(entryForKey:by:)`` are atomic with respect to every other caller of the same
///   storage.
/// - Blocking work (C calls, file I/O) runs off Swift concurrency's cooperative threads.
/// - A backend that speaks a wire protocol checks each key again at its own boundary
///   (``CacheKeyRules/isValid(_:)``), whoever calls it.
///
/// Requirements with a default implementation (``entries(forKeys:)``,
/// ``store(_:expiry:)``, ``removeEntries(forKeys:)``, ``containsEntry(forKey:)``,
/// ``close()``, ``shutdown()``) are overridden only where a backend has a native way
/// (memcached's multi-get).
///
/// To use a backend, wrap it: `Cache(MyBackend(), configuration: ...)`, or register a factory
/// in ``CacheBackends`` so that settings can name it.
public protocol CacheBackend: Sendable {
    /// What the backend promises and what it may do to stored entries.
    var capabilities: CacheBackendCapabilities { get }

    /// What spans say about the backend (`db.system.name`, `server.address`, `server.port`).
    /// The default names no system, so the backend's calls make no spans.
    var telemetry: CacheBackendTelemetry { get }

    /// The entry stored under a made key, or `nil` when it is missing or expired.
    func entry(forKey key: String) async throws -> CacheEntry?

    /// The entries stored under distinct made keys, in the order of `keys`: one element per
    /// key, `nil` for a missing or expired key.
    func entries(forKeys keys: [String]) async throws -> [CacheEntry?]

    /// Stores an entry under a made key, replacing any entry and its expiry.
    func store(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws

    /// Stores an entry only if no live entry is under the key.
    ///
    /// - Returns: Whether the entry was stored. A failed call leaves the existing entry
    ///   and its expiry unchanged.
    func storeIfAbsent(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws -> Bool

    /// Stores an entry only if the live entry under the key is `expected` (the same flags and
    /// bytes) or, when `expected` is `nil`, only if there is no live entry: a compare-and-set,
    /// atomic with respect to every other caller of the same storage.
    ///
    /// Code above the cache API uses it for read-modify-write updates that must not lose a
    /// concurrent one (token revocation keeps the later cut-off and the longer lifetime).
    /// There is no default implementation: a non-atomic one would be wrong.
    ///
    /// - Returns: Whether the entry was stored; `false` leaves the storage unchanged.
    func compareAndStore(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry, expected: CacheEntry?) async throws -> Bool

    /// Stores several entries with one expiry.
    ///
    /// - Returns: The made keys that could not be stored.
    func store(_ entries: [(key: String, entry: CacheEntry)], expiry: CacheExpiry) async throws -> [String]

    /// Removes the entry under a made key.
    ///
    /// - Returns: Whether a live entry was removed.
    func removeEntry(forKey key: String) async throws -> Bool

    /// Removes the entries under made keys; missing keys are ignored.
    func removeEntries(forKeys keys: [String]) async throws

    /// Gives a live entry a new expiry without changing its value.
    ///
    /// - Returns: Whether a live entry was found.
    func updateExpiry(forKey key: String, to expiry: CacheExpiry) async throws -> Bool

    /// Whether a live entry is under a made key.
    func containsEntry(forKey key: String) async throws -> Bool

    /// Adds `delta` to the integer under a made key, atomically, keeping its expiry.
    ///
    /// - Returns: The new value.
    /// - Throws: ``CacheError/Code/keyNotFound`` when there is no live entry,
    ///   ``CacheError/Code/notAnInteger`` when the entry is not an integer,
    ///   ``CacheError/Code/integerOverflow`` when the result does not fit.
    func increment(entryForKey key: String, by delta: Int) async throws -> Int

    /// Removes every entry in the storage, whatever its prefix or version (Django's `clear`).
    func clear() async throws

    /// Releases connections that the next call can open again (Django's `close`). The
    /// backend stays usable.
    func close() async throws

    /// Releases everything the backend holds — threads joined, connections and descriptors
    /// closed — for good. Calls made afterwards fail with ``CacheError/Code/closed`` or, for
    /// backends that hold nothing between calls, open what they need again.
    func shutdown() async throws
}

extension CacheBackend {
    /// No database system: no spans (local memory, files, dummy).
    public var telemetry: CacheBackendTelemetry { CacheBackendTelemetry() }

    /// Reads each key with ``entry(forKey:)``.
    public func entries(forKeys keys: [String]) async throws -> [CacheEntry?] {
        var found: [CacheEntry?] = []
        found.reserveCapacity(keys.count)
        for key in keys { found.append(try await entry(forKey: key)) }
        return found
    }

    /// Stores each entry with ``store(_:forKey:expiry:)``; a failure throws.
    public func store(_ entries: [(key: String, entry: CacheEntry)], expiry: CacheExpiry) async throws -> [String] {
        for (key, entry) in entries {
            try await store(entry, forKey: key, expiry: expiry)
        }
        return []
    }

    /// Removes each key with ``removeEntry(forKey:)``.
    public func removeEntries(forKeys keys: [String]) async throws {
        for key in keys {
            _ = try await removeEntry(forKey: key)
        }
    }

    /// Reads the entry with ``entry(forKey:)``.
    public func containsEntry(forKey key: String) async throws -> Bool {
        try await entry(forKey: key) != nil
    }

    /// Does nothing: the backend holds no connection.
    public func close() async throws {}

    /// Calls ``close()``.
    public func shutdown() async throws { try await close() }
}
