import Synchronization

/// The storage behind ``LocalMemoryCache``: entries in least-recently-used order under one lock.
///
/// Caches created with the same location share one store within the process (Django's
/// LocMemCache keeps a dictionary per `LOCATION`). Every operation is O(1) except culling,
/// which runs once per `MAX_ENTRIES / CULL_FREQUENCY` insertions.
final class LocalMemoryStore: Sendable {
    private let state = Mutex(LRUTable())

    private static let registry = Mutex<[String: LocalMemoryStore]>([:])

    /// The store for a location, created on first use and shared afterwards.
    static func named(_ location: String) -> LocalMemoryStore {
        registry.withLock { stores in
            if let store = stores[location] { return store }
            let store = LocalMemoryStore()
            stores[location] = store
            return store
        }
    }

    func get(_ key: String, now: Double) -> CacheEntry? {
        state.withLock { $0.get(key, now: now) }
    }

    /// The entries under keys, by position (`nil` for a missing or expired key), under one lock.
    func getList(_ keys: [String], now: Double) -> [CacheEntry?] {
        state.withLock { table in keys.map { table.get($0, now: now) } }
    }

    func set(_ key: String, _ entry: CacheEntry, expiry: CacheExpiry, limits: CullLimits, now: Double) throws(CacheError) {
        try state.withLock { table throws(CacheError) in try table.set(key, entry, expiry: expiry, limits: limits, now: now) }
    }

    /// Stores every entry that fits; returns the keys refused because the store is full.
    func setMany(_ entries: [(key: String, entry: CacheEntry)], expiry: CacheExpiry, limits: CullLimits, now: Double) -> [String] {
        state.withLock { table in
            var refused: [String] = []
            for (key, entry) in entries {
                do throws(CacheError) {
                    try table.set(key, entry, expiry: expiry, limits: limits, now: now)
                } catch {
                    refused.append(key)
                }
            }
            return refused
        }
    }

    func add(_ key: String, _ entry: CacheEntry, expiry: CacheExpiry, limits: CullLimits, now: Double) throws(CacheError) -> Bool {
        try state.withLock { table throws(CacheError) in
            if table.contains(key, now: now) { return false }
            try table.set(key, entry, expiry: expiry, limits: limits, now: now)
            return true
        }
    }

    func compareAndSet(
        _ key: String, _ entry: CacheEntry, expiry: CacheExpiry, expected: CacheEntry?, limits: CullLimits, now: Double
    ) throws(CacheError) -> Bool {
        try state.withLock { table throws(CacheError) in
            guard table.get(key, now: now) == expected else { return false }
            try table.set(key, entry, expiry: expiry, limits: limits, now: now)
            return true
        }
    }

    func delete(_ key: String, now: Double) -> Bool {
        state.withLock { $0.delete(key, now: now) }
    }

    func deleteMany(_ keys: [String], now: Double) {
        state.withLock { table in
            for key in keys { _ = table.delete(key, now: now) }
        }
    }

    func touch(_ key: String, expiry: CacheExpiry, now: Double) -> Bool {
        state.withLock { $0.touch(key, expiry: expiry, now: now) }
    }

    func contains(_ key: String, now: Double) -> Bool {
        state.withLock { $0.contains(key, now: now) }
    }

    func increment(_ key: String, by delta: Int, now: Double) throws(CacheError) -> Int {
        try state.withLock { table throws(CacheError) in try table.increment(key, by: delta, now: now) }
    }

    func clear() {
        state.withLock { $0.removeAll() }
    }

    var count: Int { state.withLock { $0.count } }
}

/// Django's `MAX_ENTRIES` and `CULL_FREQUENCY`, and what to do when full of live entries.
struct CullLimits: Sendable, Hashable {
    var maxEntries: Int
    var cullFrequency: Int
    var whenFull: CacheFullPolicy = .cull

    /// The error a ``CacheFullPolicy/refuse`` store throws for a new key.
    func fullError(_ key: String, store: String) -> CacheError {
        CacheError(
            .full,
            "The \(store) holds MAX_ENTRIES (\(maxEntries)) entries that have not expired and is set never to evict one (WHEN_FULL \"refuse\"); key '\(key)' was not stored and nothing was removed. Raise MAX_ENTRIES, or shorten the timeouts of what it holds",
            key: key)
    }
}

/// A hash table whose slots form a doubly linked list from most to least recently used.
struct LRUTable: ~Copyable {
    private struct Slot {
        var key: String
        var entry: CacheEntry
        var expiry: CacheExpiry
        var newer: Int
        var older: Int
    }

    private var slots: [Slot] = []
    private var index: [String: Int] = [:]
    private var freeSlots: [Int] = []
    /// Most recently used.
    private var head = -1
    /// Least recently used.
    private var tail = -1
    /// No entry expires before this time (a lower bound, kept on every write): a store full of
    /// live entries refuses new keys without scanning until then.
    private var noExpiryBefore = -Double.infinity

    var count: Int { index.count }

    /// The live entry, moved to the front; an expired one is removed.
    mutating func get(_ key: String, now: Double) -> CacheEntry? {
        guard let slot = index[key] else { return nil }
        if slots[slot].expiry.isExpired(at: now) {
            remove(slot: slot)
            return nil
        }
        moveToFront(slot)
        return slots[slot].entry
    }

    /// Whether a live entry is present; an expired one is removed. LRU order is unchanged.
    mutating func contains(_ key: String, now: Double) -> Bool {
        guard let slot = index[key] else { return false }
        if slots[slot].expiry.isExpired(at: now) {
            remove(slot: slot)
            return false
        }
        return true
    }

    mutating func set(
        _ key: String, _ entry: CacheEntry, expiry: CacheExpiry, limits: CullLimits, now: Double
    ) throws(CacheError) {
        if case .at(let deadline) = expiry, deadline < noExpiryBefore { noExpiryBefore = deadline }
        if let slot = index[key] {
            slots[slot].entry = entry
            slots[slot].expiry = expiry
            moveToFront(slot)
            return
        }
        reclaimExpiredTail(now: now)
        if count >= limits.maxEntries {
            switch limits.whenFull {
            case .cull: cull(limits, now: now)
            case .refuse:
                reclaimExpired(now: now)
                if count >= limits.maxEntries { throw limits.fullError(key, store: "local-memory cache") }
            }
        }
        let slot: Int
        let fresh = Slot(key: key, entry: entry, expiry: expiry, newer: -1, older: -1)
        if let reused = freeSlots.popLast() {
            slots[reused] = fresh
            slot = reused
        } else {
            slots.append(fresh)
            slot = slots.count - 1
        }
        index[key] = slot
        linkAtFront(slot)
    }

    mutating func delete(_ key: String, now: Double) -> Bool {
        guard let slot = index[key] else { return false }
        let live = !slots[slot].expiry.isExpired(at: now)
        remove(slot: slot)
        return live
    }

    mutating func touch(_ key: String, expiry: CacheExpiry, now: Double) -> Bool {
        guard contains(key, now: now), let slot = index[key] else { return false }
        slots[slot].expiry = expiry
        if case .at(let deadline) = expiry, deadline < noExpiryBefore { noExpiryBefore = deadline }
        return true
    }

    mutating func increment(_ key: String, by delta: Int, now: Double) throws(CacheError) -> Int {
        guard contains(key, now: now), let slot = index[key] else { throw CacheError.keyNotFound(key) }
        let entry = slots[slot].entry
        guard let value = entry.integerValue else { throw CacheError.notAnInteger(key, flags: entry.flags) }
        let result = try DjangoDefaults.increment(value, by: delta, key: key)
        slots[slot].entry = .integer(result)
        moveToFront(slot)
        return result
    }

    mutating func removeAll() {
        noExpiryBefore = -Double.infinity
        slots.removeAll()
        index.removeAll()
        freeSlots.removeAll()
        head = -1
        tail = -1
    }

    /// Django's cull, run before inserting into a full table: `CULL_FREQUENCY` 0 empties the
    /// table; otherwise `count / CULL_FREQUENCY` entries go, least recently used first.
    /// Expired entries are reclaimed first; if that makes room, nothing live is evicted.
    private mutating func cull(_ limits: CullLimits, now: Double) {
        if limits.cullFrequency == 0 {
            removeAll()
            return
        }
        var slot = tail
        while slot >= 0 {
            let next = slots[slot].newer
            if slots[slot].expiry.isExpired(at: now) { remove(slot: slot) }
            slot = next
        }
        guard count >= limits.maxEntries else { return }
        var victims = count / limits.cullFrequency
        while victims > 0, tail >= 0 {
            remove(slot: tail)
            victims -= 1
        }
    }

    /// Removes every expired entry, unless none can have expired yet (``noExpiryBefore``), and
    /// records the earliest expiry left, so a full store does not scan on every refused write.
    private mutating func reclaimExpired(now: Double) {
        guard now >= noExpiryBefore else { return }
        var earliest = Double.infinity
        var slot = tail
        while slot >= 0 {
            let next = slots[slot].newer
            if slots[slot].expiry.isExpired(at: now) {
                remove(slot: slot)
            } else if case .at(let deadline) = slots[slot].expiry, deadline < earliest {
                earliest = deadline
            }
            slot = next
        }
        noExpiryBefore = earliest
    }

    /// Reclaims up to two expired entries at the cold end, so expired data does not wait
    /// for a cull to be freed.
    private mutating func reclaimExpiredTail(now: Double) {
        for _ in 0..<2 {
            guard tail >= 0, slots[tail].expiry.isExpired(at: now) else { return }
            remove(slot: tail)
        }
    }

    private mutating func remove(slot: Int) {
        unlink(slot)
        index.removeValue(forKey: slots[slot].key)
        slots[slot].key = ""
        slots[slot].entry = CacheEntry(flags: 0, bytes: [])
        freeSlots.append(slot)
    }

    private mutating func moveToFront(_ slot: Int) {
        guard head != slot else { return }
        unlink(slot)
        linkAtFront(slot)
    }

    private mutating func linkAtFront(_ slot: Int) {
        slots[slot].newer = -1
        slots[slot].older = head
        if head >= 0 { slots[head].newer = slot }
        head = slot
        if tail < 0 { tail = slot }
    }

    private mutating func unlink(_ slot: Int) {
        let newer = slots[slot].newer
        let older = slots[slot].older
        if newer >= 0 { slots[newer].older = older } else { head = older }
        if older >= 0 { slots[older].newer = newer } else { tail = newer }
        slots[slot].newer = -1
        slots[slot].older = -1
    }
}
