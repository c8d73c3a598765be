import CoreMetrics

/// A backend that reports every call of the backend it wraps to a cache's instruments.
///
/// ``Cache`` puts it between itself and the backend when observability is on, so a cache
/// with observability off calls its backend directly and pays nothing. Each primitive is
/// forwarded once; what its result means (a hit, bytes read) is recorded after it.
struct InstrumentedBackend: CacheBackend {
    let inner: any CacheBackend
    let instruments: CacheInstruments

    var capabilities: CacheBackendCapabilities { inner.capabilities }
    var telemetry: CacheBackendTelemetry { inner.telemetry }

    func entry(forKey key: String) async throws -> CacheEntry? {
        try await instruments.measure(.get, key: key) {
            try await inner.entry(forKey: key)
        } after: { metrics, entry in
            metrics.countFound(entry == nil ? 0 : 1, of: 1, operation: .get)
            if let entry { metrics.bytesRead?.increment(by: Int64(entry.bytes.count)) }
        }
    }

    func entries(forKeys keys: [String]) async throws -> [CacheEntry?] {
        try await instruments.measure(.getMany, batchSize: keys.count) {
            try await inner.entries(forKeys: keys)
        } after: { metrics, entries in
            var found = 0
            var bytes = 0
            for case let entry? in entries {
                found += 1
                bytes += entry.bytes.count
            }
            metrics.countFound(found, of: entries.count, operation: .getMany)
            if bytes > 0 { metrics.bytesRead?.increment(by: Int64(bytes)) }
        }
    }

    func containsEntry(forKey key: String) async throws -> Bool {
        try await instruments.measure(.hasKey, key: key) {
            try await inner.containsEntry(forKey: key)
        } after: { metrics, found in
            metrics.countFound(found ? 1 : 0, of: 1, operation: .hasKey)
        }
    }

    func store(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws {
        try await instruments.measure(.set, key: key) {
            try await inner.store(entry, forKey: key, expiry: expiry)
        } after: { metrics, _ in
            metrics.bytesWritten?.increment(by: Int64(entry.bytes.count))
        }
    }

    func storeIfAbsent(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws -> Bool {
        try await instruments.measure(.add, key: key) {
            try await inner.storeIfAbsent(entry, forKey: key, expiry: expiry)
        } after: { metrics, stored in
            if stored { metrics.bytesWritten?.increment(by: Int64(entry.bytes.count)) }
        }
    }

    func compareAndStore(
        _ entry: CacheEntry, forKey key: String, expiry: CacheExpiry, expected: CacheEntry?
    ) async throws -> Bool {
        try await instruments.measure(.compareAndSet, key: key) {
            try await inner.compareAndStore(entry, forKey: key, expiry: expiry, expected: expected)
        } after: { metrics, stored in
            if stored { metrics.bytesWritten?.increment(by: Int64(entry.bytes.count)) }
        }
    }

    func store(_ entries: [(key: String, entry: CacheEntry)], expiry: CacheExpiry) async throws -> [String] {
        try await instruments.measure(.setMany, batchSize: entries.count) {
            try await inner.store(entries, expiry: expiry)
        } after: { metrics, failed in
            // Failed keys are few; bytes count what was sent for the keys that were stored.
            let failedKeys = Set(failed)
            let bytes = entries.reduce(0) { $0 + (failedKeys.contains($1.key) ? 0 : $1.entry.bytes.count) }
            if bytes > 0 { metrics.bytesWritten?.increment(by: Int64(bytes)) }
        }
    }

    func removeEntry(forKey key: String) async throws -> Bool {
        try await instruments.measure(.delete, key: key) { try await inner.removeEntry(forKey: key) }
    }

    func removeEntries(forKeys keys: [String]) async throws {
        try await instruments.measure(.deleteMany, batchSize: keys.count) { try await inner.removeEntries(forKeys: keys) }
    }

    func updateExpiry(forKey key: String, to expiry: CacheExpiry) async throws -> Bool {
        try await instruments.measure(.touch, key: key) { try await inner.updateExpiry(forKey: key, to: expiry) }
    }

    func increment(entryForKey key: String, by delta: Int) async throws -> Int {
        try await instruments.measure(.incr, key: key) { try await inner.increment(entryForKey: key, by: delta) }
    }

    func clear() async throws {
        try await instruments.measure(.clear) { try await inner.clear() }
    }

    func close() async throws { try await inner.close() }

    func shutdown() async throws { try await inner.shutdown() }
}
