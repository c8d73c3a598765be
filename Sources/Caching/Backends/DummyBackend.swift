/// A cache that stores nothing: Django's `DummyCache`.
///
/// Keys are made and validated as on every backend, then nothing happens: `get` misses,
/// `add` returns `true`, `delete`, `touch` and `hasKey` return `false`, `setMany` returns no
/// failed keys, and `incr`, `decr` and `incrVersion` throw ``CacheError/Code/keyNotFound``.
/// Use it to turn caching off without changing the code that calls the cache.
public struct DummyCache: Cache {
    public let configuration: CacheConfiguration

    /// Creates a dummy cache.
    ///
    /// - Parameter configuration: Key prefix, version and validation, applied as on any backend.
    public init(configuration: CacheConfiguration = CacheConfiguration()) {
        self.configuration = configuration
    }

    public func entry(forKey key: String) async throws -> CacheEntry? { nil }
    public func entries(forKeys keys: [String]) async throws -> [String: CacheEntry] { [:] }
    public func store(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws {}
    public func storeIfAbsent(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws -> Bool { true }
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
