/// A cache with Django's cache API, async and `Sendable`.
///
/// A backend implements only the requirements below: storage operations on final keys
/// (already made from prefix, version and key, and validated) and encoded
/// ``CacheEntry`` values. Everything a caller uses — ``get(_:as:version:)``,
/// ``set(_:_:timeout:version:)``, ``add(_:_:timeout:version:)``, ``incr(_:by:version:)``,
/// ``getOrSet(_:timeout:version:compute:)`` and the rest of Django's API — is defined once,
/// in an extension, in terms of them. So every backend makes keys, applies timeouts and
/// encodes values the same way.
///
/// Requirements with a default implementation (``entries(forKeys:)``,
/// ``entries(forDistinctKeys:)``,
/// ``store(_:expiry:)``, ``removeEntries(forKeys:)``, ``containsEntry(forKey:)``,
/// ``close()``) are overridden only by backends that do them natively, such as
/// memcached's multi-get.
///
/// Backend rules every implementation follows:
/// - An expired entry is never returned, counted as present, touched, or reported as
///   deleted.
/// - ``storeIfAbsent(_:forKey:expiry:)`` and ``increment(entryForKey:by:)`` are atomic
///   with respect to other callers of the same store.
/// - Blocking work (C calls, file I/O) runs off Swift concurrency's cooperative threads.
public protocol Cache: Sendable {
    /// Key making, versions, the default timeout, validation, clock and logger.
    var configuration: CacheConfiguration { get }

    /// Whether this backend cannot store a key that breaks ``CacheKeyRules`` at all.
    ///
    /// When `true`, an invalid key throws even in ``CacheKeyValidation/warn`` mode.
    var requiresValidKeys: Bool { get }

    /// The entry stored under a made key, or `nil` when it is missing or expired.
    func entry(forKey key: String) async throws -> CacheEntry?

    /// The entries stored under made keys; missing and expired keys are left out.
    func entries(forKeys keys: [String]) async throws -> [String: CacheEntry]

    /// The entries stored under distinct made keys, in the order of `keys`: one element per
    /// key, `nil` for a missing or expired key.
    ///
    /// `getMany` calls this. The default implementation calls ``entries(forKeys:)``; a
    /// backend with a multi-get can answer by position and skip building a dictionary.
    func entries(forDistinctKeys keys: [String]) async throws -> [CacheEntry?]

    /// Stores an entry under a made key, replacing any entry and its expiry.
    func store(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws

    /// Stores an entry only if no live entry is under the key.
    ///
    /// - Returns: Whether the entry was stored. A failed call leaves the existing entry
    ///   and its expiry unchanged.
    func storeIfAbsent(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws -> Bool

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

    /// Removes every entry in the store, whatever its prefix or version (Django's `clear`).
    func clear() async throws

    /// Releases connections or other resources. The cache may be used again afterwards
    /// unless the backend documents otherwise.
    func close() async throws
}

extension Cache {
    public var requiresValidKeys: Bool { false }

    public func entries(forKeys keys: [String]) async throws -> [String: CacheEntry] {
        var found: [String: CacheEntry] = [:]
        for key in keys where found[key] == nil {
            if let entry = try await entry(forKey: key) { found[key] = entry }
        }
        return found
    }

    public func entries(forDistinctKeys keys: [String]) async throws -> [CacheEntry?] {
        let found = try await entries(forKeys: keys)
        return keys.map { found[$0] }
    }

    public func store(_ entries: [(key: String, entry: CacheEntry)], expiry: CacheExpiry) async throws -> [String] {
        for (key, entry) in entries {
            try await store(entry, forKey: key, expiry: expiry)
        }
        return []
    }

    public func removeEntries(forKeys keys: [String]) async throws {
        for key in keys {
            _ = try await removeEntry(forKey: key)
        }
    }

    public func containsEntry(forKey key: String) async throws -> Bool {
        try await entry(forKey: key) != nil
    }

    public func close() async throws {}
}
