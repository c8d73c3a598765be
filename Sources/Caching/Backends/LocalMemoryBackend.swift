/// A cache in this process's memory: Django's `LocMemCache`.
///
/// Caches created with the same `location` share one store (as Django's do per `LOCATION`),
/// whatever their key prefix or version; a cache created without a location has a store of
/// its own. Reads and writes refresh an entry's place in least-recently-used order; when the
/// store holds `maxEntries` entries, inserting a new key first reclaims expired entries and,
/// if that is not enough, evicts `count / cullFrequency` of the least recently used
/// (`cullFrequency` 0 empties the store), as Django's culling does.
///
/// Every operation takes one short lock and does no I/O, so it runs directly on the
/// calling task; values are encoded before the lock is taken.
public struct LocalMemoryCache: Cache {
    public let configuration: CacheConfiguration
    /// The name of the shared store, or `nil` for a store of this cache's own.
    public let location: String?
    private let store: LocalMemoryStore
    private let limits: CullLimits

    /// Creates a local-memory cache.
    ///
    /// - Parameters:
    ///   - location: Caches with the same location share storage; `nil` gives this cache its own.
    ///   - maxEntries: Django's `MAX_ENTRIES` (300 by default).
    ///   - cullFrequency: Django's `CULL_FREQUENCY` (3 by default; 0 empties the store when full).
    ///   - configuration: Key prefix, version, default timeout, clock and logger.
    public init(
        location: String? = nil, maxEntries: Int = 300, cullFrequency: Int = 3,
        configuration: CacheConfiguration = CacheConfiguration()
    ) {
        self.location = location
        self.store = location.map(LocalMemoryStore.named) ?? LocalMemoryStore()
        self.limits = CullLimits(maxEntries: maxEntries, cullFrequency: max(0, cullFrequency))
        self.configuration = configuration
    }

    /// The number of entries held, expired ones not yet reclaimed included.
    public var entryCount: Int { store.count }

    private var now: Double { configuration.clock.now() }

    public func entry(forKey key: String) async throws -> CacheEntry? {
        store.get(key, now: now)
    }

    public func entries(forKeys keys: [String]) async throws -> [String: CacheEntry] {
        store.getMany(keys, now: now)
    }

    public func entries(forDistinctKeys keys: [String]) async throws -> [CacheEntry?] {
        store.getList(keys, now: now)
    }

    public func store(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws {
        store.set(key, entry, expiry: expiry, limits: limits, now: now)
    }

    public func storeIfAbsent(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws -> Bool {
        store.add(key, entry, expiry: expiry, limits: limits, now: now)
    }

    public func store(_ entries: [(key: String, entry: CacheEntry)], expiry: CacheExpiry) async throws -> [String] {
        store.setMany(entries, expiry: expiry, limits: limits, now: now)
        return []
    }

    public func removeEntry(forKey key: String) async throws -> Bool {
        store.delete(key, now: now)
    }

    public func removeEntries(forKeys keys: [String]) async throws {
        store.deleteMany(keys, now: now)
    }

    public func updateExpiry(forKey key: String, to expiry: CacheExpiry) async throws -> Bool {
        store.touch(key, expiry: expiry, now: now)
    }

    public func containsEntry(forKey key: String) async throws -> Bool {
        store.contains(key, now: now)
    }

    public func increment(entryForKey key: String, by delta: Int) async throws -> Int {
        try store.increment(key, by: delta, now: now)
    }

    public func clear() async throws {
        store.clear()
    }
}
