/// Storage that keeps nothing: the backend of Django's `DummyCache`.
///
/// Through a ``Cache``, keys are made and validated as on every backend, then nothing
/// happens: `get` misses, `add` returns `true`, `delete`, `touch` and `hasKey` return `false`,
/// `setMany` returns no failed keys, and `incr`, `decr` and `incrVersion` throw
/// ``CacheError/Code/keyNotFound``. Use it to turn caching off without changing the code that
/// calls the cache: `Cache.dummy()`.
public struct DummyBackend: CacheBackend {
    /// Creates a dummy backend.
    public init() {}

    public var capabilities: CacheBackendCapabilities {
        CacheBackendCapabilities(name: "dummy", mayEvictLiveEntries: true, answersInProcess: true)
    }

    public func entry(forKey key: String) async throws -> CacheEntry? { nil }
    public func entries(forKeys keys: [String]) async throws -> [CacheEntry?] { Array(repeating: nil, count: keys.count) }
    public func store(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws {}
    public func storeIfAbsent(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws -> Bool { true }
    public func compareAndStore(
        _ entry: CacheEntry, forKey key: String, expiry: CacheExpiry, expected: CacheEntry?
    ) async throws -> Bool { expected == nil }
    public func store(_ entries: [(key: String, entry: CacheEntry)], expiry: CacheExpiry) async throws -> [String] { [] }
    public func removeEntry(forKey key: String) async throws -> Bool { false }
    public func removeEntries(forKeys keys: [String]) async throws {}
    public func updateExpiry(forKey key: String, to expiry: CacheExpiry) async throws -> Bool { false }
    public func containsEntry(forKey key: String) async throws -> Bool { false }
    public func increment(entryForKey key: String, by delta: Int) async throws -> Int {
        throw CacheError.keyNotFound(key)
    }
    public func clear() async throws {}
}
