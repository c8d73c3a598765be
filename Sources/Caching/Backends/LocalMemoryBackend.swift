/// Storage in this process's memory: the backend of Django's `LocMemCache`.
///
/// Backends created with the same `location` share one store (as Django's caches do per
/// `LOCATION`), whatever the key prefix or version of the caches over them; a backend created
/// without a location has a store of its own. Reads and writes refresh an entry's place in
/// least-recently-used order; when the store holds `maxEntries` entries, inserting a new key
/// first reclaims expired entries and, if that is not enough, evicts `count / cullFrequency`
/// of the least recently used (`cullFrequency` 0 empties the store), as Django's culling does.
///
/// With ``CacheFullPolicy/refuse`` (`OPTIONS["WHEN_FULL"]`) a live entry is never evicted: a new
/// key that does not fit is refused with ``CacheError/Code/full`` (after expired entries are
/// reclaimed), which is what token revocation needs.
///
/// Every operation takes one short lock and does no I/O, so it runs directly on the
/// calling task. Use it through a ``Cache``: `Cache.localMemory(...)`. A ``Cache`` over it calls
/// it synchronously, without going through the ``CacheBackend`` protocol's async requirements
/// (the hot paths are as fast as a lock and a dictionary allow).
public final class LocalMemoryBackend: CacheBackend {
    /// The name of the shared store, or `nil` for a store of this backend's own.
    public let location: String?
    /// The clock expiry is measured by.
    public let clock: any CacheClock
    private let store: LocalMemoryStore
    private let limits: CullLimits

    /// Creates local-memory storage.
    ///
    /// - Parameters:
    ///   - location: Backends with the same location share storage; `nil` gives this one its own.
    ///   - maxEntries: Django's `MAX_ENTRIES`.
    ///   - cullFrequency: Django's `CULL_FREQUENCY` (0 empties the store when full).
    ///   - whenFull: Cull (Django) or refuse new keys when full of live entries.
    ///   - clock: The clock expiry is measured by; give the ``Cache`` over it the same one.
    public init(
        location: String? = nil, maxEntries: Int = DjangoDefaults.maxEntries,
        cullFrequency: Int = DjangoDefaults.cullFrequency, whenFull: CacheFullPolicy = .cull,
        clock: any CacheClock = SystemCacheClock()
    ) {
        self.location = location
        self.store = location.map(LocalMemoryStore.named) ?? LocalMemoryStore()
        self.limits = CullLimits(maxEntries: maxEntries, cullFrequency: max(0, cullFrequency), whenFull: whenFull)
        self.clock = clock
    }

    /// What happens when a new key arrives at a store full of live entries.
    public var whenFull: CacheFullPolicy { limits.whenFull }

    public var capabilities: CacheBackendCapabilities {
        CacheBackendCapabilities(name: "locmem", mayEvictLiveEntries: limits.whenFull == .cull, answersInProcess: true)
    }

    /// The number of entries held, expired ones not yet reclaimed included.
    public var entryCount: Int { store.count }

    private var now: Double { clock.now() }

    // MARK: Synchronous paths for `Cache`

    @usableFromInline
    func entryNow(forKey key: String) -> CacheEntry? {
        store.get(key, now: now)
    }

    @usableFromInline
    func entriesNow(forKeys keys: [String]) -> [CacheEntry?] {
        store.getList(keys, now: now)
    }

    @usableFromInline
    func storeNow(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) throws(CacheError) {
        try store.set(key, entry, expiry: expiry, limits: limits, now: now)
    }

    @usableFromInline
    func incrementNow(forKey key: String, by delta: Int) throws(CacheError) -> Int {
        try store.increment(key, by: delta, now: now)
    }

    // MARK: CacheBackend

    public func entry(forKey key: String) async throws -> CacheEntry? {
        store.get(key, now: now)
    }

    public func entries(forKeys keys: [String]) async throws -> [CacheEntry?] {
        store.getList(keys, now: now)
    }

    public func store(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws {
        try store.set(key, entry, expiry: expiry, limits: limits, now: now)
    }

    public func storeIfAbsent(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws -> Bool {
        try store.add(key, entry, expiry: expiry, limits: limits, now: now)
    }

    public func compareAndStore(
        _ entry: CacheEntry, forKey key: String, expiry: CacheExpiry, expected: CacheEntry?
    ) async throws -> Bool {
        try store.compareAndSet(key, entry, expiry: expiry, expected: expected, limits: limits, now: now)
    }

    public func store(_ entries: [(key: String, entry: CacheEntry)], expiry: CacheExpiry) async throws -> [String] {
        store.setMany(entries, expiry: expiry, limits: limits, now: now)
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
