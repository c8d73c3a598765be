import Logging

// Django's cache API, implemented once for every backend in terms of the `CacheBackend`
// primitives. docs/DJANGO-SEMANTICS.md states the rules and where we depart from Django.

extension Cache {
    // MARK: Keys

    /// Makes the final key for `key`: `KEY_PREFIX:VERSION:key`, or the custom key function's
    /// result (Django's `make_key`). The result is not validated.
    ///
    /// - Parameters:
    ///   - key: The caller's key.
    ///   - version: The version, or `nil` for the alias's `VERSION`.
    /// - Returns: The made key.
    public func makeKey(_ key: String, version: Int? = nil) -> String {
        configuration.makeKey(key, version: version)
    }

    /// Checks a made key against memcached's key rules (Django's `validate_key`).
    ///
    /// In ``CacheKeyValidation/strict`` mode (the default) an invalid key throws; in
    /// ``CacheKeyValidation/warn`` mode each problem is logged as a warning and the key is
    /// accepted, unless the backend cannot store it (``CacheBackendCapabilities/requiresValidKeys``).
    ///
    /// - Parameter key: A made key, as ``makeKey(_:version:)`` returns it.
    /// - Throws: ``CacheError/Code/invalidKey`` naming the key and the rule it breaks.
    public func validateKey(_ key: String) throws {
        let problems = CacheKeyRules.problems(with: key)
        guard !problems.isEmpty else { return }
        if configuration.keyValidation == .strict || backend.capabilities.requiresValidKeys {
            throw CacheError(.invalidKey, problems.joined(separator: "; "), key: key)
        }
        for problem in problems {
            configuration.logger.warning("\(problem)", metadata: ["cache.warning": "CacheKeyWarning"])
        }
    }

    /// Makes and validates a key (Django's `make_and_validate_key`).
    @usableFromInline
    func validKey(_ key: String, version: Int?) throws -> String {
        let made = configuration.makeKey(key, version: version)
        try validateKey(made)
        return made
    }

    /// Makes and validates every key before any I/O, so a many-operation with one invalid
    /// key reads, writes and deletes nothing. Returns made key → caller's key.
    func validKeys(_ keys: some Sequence<String>, version: Int?) throws -> [(made: String, original: String)] {
        try keys.map { (try validKey($0, version: version), $0) }
    }

    // MARK: Reading

    /// Returns the value under `key`, or `nil` when it is missing or expired (Django's `get`).
    ///
    /// A stored `nil` (an optional type) comes back as `.some(nil)`, told apart from a missing key.
    ///
    /// - Parameters:
    ///   - key: The key.
    ///   - type: The type to decode; usually inferred.
    ///   - version: The version, or `nil` for the alias's `VERSION`.
    /// - Returns: The value, or `nil` if there is none.
    /// - Throws: ``CacheError`` for an invalid key, a value that is not a `V`, or a backend failure.
    @inlinable
    public func get<V: Decodable & Sendable>(_ key: String, as type: V.Type = V.self, version: Int? = nil) async throws -> V? {
        let made = try validKey(key, version: version)
        let found: CacheEntry?
        if let localMemory {
            found = localMemory.entryNow(forKey: made)
            instruments?.recordLocalGet(bytes: found?.bytes.count)
        } else {
            found = try await backend.entry(forKey: made)
        }
        guard let entry = found else { return nil }
        return try CacheValueCodec.decode(entry, as: V.self, key: made)
    }

    /// Returns the value under `key`, or `defaultValue` when it is missing or expired.
    ///
    /// - Parameters:
    ///   - key: The key.
    ///   - defaultValue: Returned on a miss.
    ///   - version: The version, or `nil` for the alias's `VERSION`.
    /// - Returns: The stored value or the default.
    /// - Throws: ``CacheError`` for an invalid key, a value that is not a `V`, or a backend failure.
    @inlinable
    public func get<V: Decodable & Sendable>(_ key: String, default defaultValue: V, version: Int? = nil) async throws -> V {
        try await get(key, as: V.self, version: version) ?? defaultValue
    }

    /// Returns the values of the keys that are present, keyed by the caller's keys (Django's `get_many`).
    ///
    /// Every key is validated before anything is read. Backends with a multi-get (memcached)
    /// fetch all keys in one round trip.
    ///
    /// - Parameters:
    ///   - keys: The keys.
    ///   - type: The type of every value.
    ///   - version: The version, or `nil` for the alias's `VERSION`.
    /// - Returns: The present keys and their values.
    /// - Throws: ``CacheError`` for an invalid key, a value that is not a `V`, or a backend failure.
    @inlinable
    public func getMany<V: Decodable & Sendable>(
        _ keys: some Sequence<String>, as type: V.Type = V.self, version: Int? = nil
    ) async throws -> [String: V] {
        // Every key is made and validated before any I/O. Each distinct made key is read once
        // (the first time it appears); `slots` maps each caller's key to its made key's position.
        var originals: [String] = []
        var slots: [Int] = []
        var distinct: [String] = []
        var slotOfMade: [String: Int] = [:]
        let expected = keys.underestimatedCount
        originals.reserveCapacity(expected)
        slots.reserveCapacity(expected)
        distinct.reserveCapacity(expected)
        slotOfMade.reserveCapacity(expected)
        for key in keys {
            let made = try validKey(key, version: version)
            let next = distinct.count
            if let earlier = slotOfMade.updateValue(next, forKey: made) {
                slotOfMade[made] = earlier
                slots.append(earlier)
            } else {
                distinct.append(made)
                slots.append(next)
            }
            originals.append(key)
        }
        guard !distinct.isEmpty else { return [:] }
        let found: [CacheEntry?]
        if let localMemory {
            found = localMemory.entriesNow(forKeys: distinct)
            instruments?.recordLocalGetMany(found)
        } else {
            found = try await backend.entries(forKeys: distinct)
        }
        guard found.count == distinct.count else {
            throw CacheError(
                .storageFailure,
                "The backend answered \(found.count) entries for \(distinct.count) keys in getMany; its entries(forKeys:) must return one element per key"
            )
        }
        var result: [String: V] = [:]
        result.reserveCapacity(distinct.count)
        for index in originals.indices {
            let slot = slots[index]
            guard let entry = found[slot] else { continue }
            result[originals[index]] = try CacheValueCodec.decode(entry, as: V.self, key: distinct[slot])
        }
        return result
    }

    /// Whether a live value is under `key` (Django's `has_key`). A stored `nil` counts.
    ///
    /// - Parameters:
    ///   - key: The key.
    ///   - version: The version, or `nil` for the alias's `VERSION`.
    /// - Returns: `true` when the key is present and not expired.
    /// - Throws: ``CacheError`` for an invalid key or a backend failure.
    public func hasKey(_ key: String, version: Int? = nil) async throws -> Bool {
        try await backend.containsEntry(forKey: validKey(key, version: version))
    }

    // MARK: Writing

    /// Stores a value under `key`, replacing any value and its expiry (Django's `set`).
    ///
    /// A timeout of zero or less stores nothing and removes the value that was there.
    ///
    /// - Parameters:
    ///   - key: The key.
    ///   - value: The value; integers, strings, booleans and bytes are stored in the forms
    ///     Python clients read, anything else as JSON.
    ///   - timeout: How long the value lives; `.default` is the alias's `TIMEOUT`.
    ///   - version: The version, or `nil` for the alias's `VERSION`.
    /// - Throws: ``CacheError`` for an invalid key, a value that cannot be encoded or is too
    ///   large, or a backend failure.
    @inlinable
    public func set<V: Encodable & Sendable>(
        _ key: String, _ value: V, timeout: CacheTimeout = .default, version: Int? = nil
    ) async throws {
        let made = try validKey(key, version: version)
        let entry = try CacheValueCodec.encode(value)
        guard let expiry = configuration.expiry(for: timeout) else {
            _ = try await backend.removeEntry(forKey: made)
            return
        }
        if let localMemory {
            guard let instruments else { return try localMemory.storeNow(entry, forKey: made, expiry: expiry) }
            do {
                try localMemory.storeNow(entry, forKey: made, expiry: expiry)
                instruments.recordLocalWrite(.set, bytes: entry.bytes.count)
            } catch {
                instruments.recordLocalWrite(.set, bytes: 0, error: error)
                throw error
            }
        } else {
            try await backend.store(entry, forKey: made, expiry: expiry)
        }
    }

    /// Stores a value only if the key holds no live value (Django's `add`).
    ///
    /// With a timeout of zero or less nothing is stored, and the result says whether the key
    /// was free, as Django's does.
    ///
    /// - Parameters:
    ///   - key: The key.
    ///   - value: The value.
    ///   - timeout: How long the value lives.
    ///   - version: The version, or `nil` for the alias's `VERSION`.
    /// - Returns: `true` if the value was stored; `false` if the key already held a live value,
    ///   which is left unchanged, expiry included.
    /// - Throws: ``CacheError`` for an invalid key, an unencodable value, or a backend failure.
    @discardableResult
    public func add<V: Encodable & Sendable>(
        _ key: String, _ value: V, timeout: CacheTimeout = .default, version: Int? = nil
    ) async throws -> Bool {
        let made = try validKey(key, version: version)
        let entry = try CacheValueCodec.encode(value)
        guard let expiry = configuration.expiry(for: timeout) else {
            return try await !backend.containsEntry(forKey: made)
        }
        return try await backend.storeIfAbsent(entry, forKey: made, expiry: expiry)
    }

    /// Returns the value under `key`; on a miss stores `defaultValue` with ``add(_:_:timeout:version:)``
    /// and returns what the cache then holds (Django's `get_or_set`).
    ///
    /// If another writer wins the race, its value is returned; if nothing could be stored
    /// (timeout zero), the default is.
    ///
    /// - Parameters:
    ///   - key: The key.
    ///   - defaultValue: Stored and returned on a miss.
    ///   - timeout: How long a stored default lives.
    ///   - version: The version, or `nil` for the alias's `VERSION`.
    /// - Returns: The cached value.
    /// - Throws: ``CacheError`` as ``get(_:as:version:)`` and ``add(_:_:timeout:version:)`` do.
    public func getOrSet<V: Codable & Sendable>(
        _ key: String, default defaultValue: V, timeout: CacheTimeout = .default, version: Int? = nil
    ) async throws -> V {
        try await getOrSet(key, timeout: timeout, version: version) { defaultValue }
    }

    /// Returns the value under `key`; on a miss runs `compute`, stores its result with
    /// ``add(_:_:timeout:version:)``, and returns what the cache then holds.
    ///
    /// `compute` runs only on a miss.
    ///
    /// - Parameters:
    ///   - key: The key.
    ///   - timeout: How long a computed value lives.
    ///   - version: The version, or `nil` for the alias's `VERSION`.
    ///   - compute: Makes the value on a miss; an error it throws is rethrown and nothing is stored.
    /// - Returns: The cached value.
    /// - Throws: What `compute` throws, or ``CacheError``.
    public func getOrSet<V: Codable & Sendable>(
        _ key: String, timeout: CacheTimeout = .default, version: Int? = nil,
        compute: () async throws -> V
    ) async throws -> V {
        let made = try validKey(key, version: version)
        if let entry = try await backend.entry(forKey: made) {
            return try CacheValueCodec.decode(entry, as: V.self, key: made)
        }
        let value = try await compute()
        let encoded = try CacheValueCodec.encode(value)
        guard let expiry = configuration.expiry(for: timeout) else { return value }
        if try await backend.storeIfAbsent(encoded, forKey: made, expiry: expiry) { return value }
        guard let winner = try await backend.entry(forKey: made) else { return value }
        return try CacheValueCodec.decode(winner, as: V.self, key: made)
    }

    /// Stores several values with one timeout (Django's `set_many`).
    ///
    /// Every key is validated and every value encoded before anything is written.
    ///
    /// - Parameters:
    ///   - values: Keys and values.
    ///   - timeout: How long the values live; zero or less removes the keys.
    ///   - version: The version, or `nil` for the alias's `VERSION`.
    /// - Returns: The caller's keys that could not be stored (empty on success).
    /// - Throws: ``CacheError`` for an invalid key, an unencodable value, or a backend failure.
    @discardableResult
    public func setMany<V: Encodable & Sendable>(
        _ values: [String: V], timeout: CacheTimeout = .default, version: Int? = nil
    ) async throws -> [String] {
        guard !values.isEmpty else { return [] }
        var entries: [(key: String, entry: CacheEntry)] = []
        var originals: [String: String] = [:]
        entries.reserveCapacity(values.count)
        for (key, value) in values {
            let made = try validKey(key, version: version)
            entries.append((made, try CacheValueCodec.encode(value)))
            originals[made] = key
        }
        guard let expiry = configuration.expiry(for: timeout) else {
            try await backend.removeEntries(forKeys: entries.map(\.key))
            return []
        }
        let failed = try await backend.store(entries, expiry: expiry)
        return failed.map { originals[$0] ?? $0 }
    }

    /// Gives a live value a new timeout without changing it (Django's `touch`).
    ///
    /// - Parameters:
    ///   - key: The key.
    ///   - timeout: The new timeout, from now; zero or less removes the value.
    ///   - version: The version, or `nil` for the alias's `VERSION`.
    /// - Returns: `true` if a live value was found.
    /// - Throws: ``CacheError`` for an invalid key or a backend failure.
    @discardableResult
    public func touch(_ key: String, timeout: CacheTimeout = .default, version: Int? = nil) async throws -> Bool {
        let made = try validKey(key, version: version)
        guard let expiry = configuration.expiry(for: timeout) else {
            return try await backend.removeEntry(forKey: made)
        }
        return try await backend.updateExpiry(forKey: made, to: expiry)
    }

    // MARK: Deleting

    /// Removes the value under `key` (Django's `delete`).
    ///
    /// - Parameters:
    ///   - key: The key.
    ///   - version: The version, or `nil` for the alias's `VERSION`.
    /// - Returns: `true` if a live value was removed; `false` for a missing or expired key.
    /// - Throws: ``CacheError`` for an invalid key or a backend failure.
    @discardableResult
    public func delete(_ key: String, version: Int? = nil) async throws -> Bool {
        try await backend.removeEntry(forKey: validKey(key, version: version))
    }

    /// Removes the values under several keys; missing keys are ignored (Django's `delete_many`).
    ///
    /// Every key is validated before anything is deleted.
    ///
    /// - Parameters:
    ///   - keys: The keys.
    ///   - version: The version, or `nil` for the alias's `VERSION`.
    /// - Throws: ``CacheError`` for an invalid key or a backend failure.
    public func deleteMany(_ keys: some Sequence<String>, version: Int? = nil) async throws {
        let made = try validKeys(keys, version: version).map(\.made)
        guard !made.isEmpty else { return }
        try await backend.removeEntries(forKeys: made)
    }

    // MARK: Counters

    /// Adds `delta` to the integer under `key` atomically and returns the new value
    /// (Django's `incr`). The expiry is kept.
    ///
    /// - Parameters:
    ///   - key: The key.
    ///   - delta: The amount to add; negative subtracts.
    ///   - version: The version, or `nil` for the alias's `VERSION`.
    /// - Returns: The new value.
    /// - Throws: ``CacheError/Code/keyNotFound`` when the key is missing (Django's `ValueError`),
    ///   ``CacheError/Code/notAnInteger`` when the value is not an integer,
    ///   ``CacheError/Code/integerOverflow``, or another ``CacheError``.
    @inlinable
    @discardableResult
    public func incr(_ key: String, by delta: Int = 1, version: Int? = nil) async throws -> Int {
        let made = try validKey(key, version: version)
        if let localMemory {
            guard let instruments else { return try localMemory.incrementNow(forKey: made, by: delta) }
            do {
                let value = try localMemory.incrementNow(forKey: made, by: delta)
                instruments.recordLocalWrite(.incr, bytes: 0)
                return value
            } catch {
                instruments.recordLocalWrite(.incr, bytes: 0, error: error)
                throw error
            }
        }
        return try await backend.increment(entryForKey: made, by: delta)
    }

    /// Subtracts `delta` from the integer under `key` atomically (Django's `decr`, which is `incr(-delta)`).
    ///
    /// - Parameters:
    ///   - key: The key.
    ///   - delta: The amount to subtract; negative adds.
    ///   - version: The version, or `nil` for the alias's `VERSION`.
    /// - Returns: The new value.
    /// - Throws: As ``incr(_:by:version:)``.
    @discardableResult
    public func decr(_ key: String, by delta: Int = 1, version: Int? = nil) async throws -> Int {
        let made = try validKey(key, version: version)
        guard delta != .min else {
            throw CacheError(.integerOverflow, "decr by Int.min on key '\(made)' cannot be negated", key: made)
        }
        return try await backend.increment(entryForKey: made, by: -delta)
    }

    // MARK: Versions

    /// Moves the value under `key` from `version` to `version + delta` and returns the new
    /// version (Django's `incr_version`).
    ///
    /// As in Django this is a read, a write with the alias's default timeout (overwriting any
    /// value at the new version) and a delete; it is not atomic. Unlike Django, a `delta` of 0
    /// leaves the value where it is instead of deleting it.
    ///
    /// - Parameters:
    ///   - key: The key.
    ///   - delta: How many versions to move.
    ///   - version: The current version, or `nil` for the alias's `VERSION`.
    /// - Returns: The new version.
    /// - Throws: ``CacheError/Code/keyNotFound`` when the key is missing at `version`, or another ``CacheError``.
    @discardableResult
    public func incrVersion(_ key: String, by delta: Int = 1, version: Int? = nil) async throws -> Int {
        let current = version ?? configuration.version
        let (target, overflow) = current.addingReportingOverflow(delta)
        let source = try validKey(key, version: current)
        if overflow {
            throw CacheError(.integerOverflow, "Version \(current) + \(delta) of key '\(source)' overflows Int", key: source)
        }
        let destination = try validKey(key, version: target)
        guard let entry = try await backend.entry(forKey: source) else { throw CacheError.keyNotFound(source) }
        guard delta != 0 else { return current }
        if let expiry = configuration.expiry(for: .default) {
            try await backend.store(entry, forKey: destination, expiry: expiry)
        } else {
            _ = try await backend.removeEntry(forKey: destination)
        }
        _ = try await backend.removeEntry(forKey: source)
        return target
    }

    /// Moves the value under `key` from `version` to `version - delta` (Django's `decr_version`).
    ///
    /// - Parameters:
    ///   - key: The key.
    ///   - delta: How many versions to move down.
    ///   - version: The current version, or `nil` for the alias's `VERSION`.
    /// - Returns: The new version.
    /// - Throws: As ``incrVersion(_:by:version:)``.
    @discardableResult
    public func decrVersion(_ key: String, by delta: Int = 1, version: Int? = nil) async throws -> Int {
        guard delta != .min else {
            throw CacheError(.integerOverflow, "decrVersion by Int.min on key '\(key)' cannot be negated", key: key)
        }
        return try await incrVersion(key, by: -delta, version: version)
    }
}
