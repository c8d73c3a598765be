import Caching
import CachingTesting
import Testing

/// What is particular to LocalMemoryCache: shared locations, LRU order, culling, reclaiming
/// expired entries, signed arithmetic (Django's LocMemCacheTests; docs/DJANGO-SEMANTICS.md, culling).
@Suite("LocalMemoryCache")
struct LocalMemoryCacheTests {
    let clock = ManualCacheClock()

    func cache(location: String? = nil, maxEntries: Int = 300, cullFrequency: Int = 3) -> Cache {
        Cache.localMemory(
            location: location, maxEntries: maxEntries, cullFrequency: cullFrequency,
            configuration: CacheConfiguration(clock: clock))
    }

    @Test("caches with the same location share a store; other locations are isolated")
    func multipleCaches() async throws {
        let location = "shared-\(UniqueName.next())"
        let first = cache(location: location)
        let second = cache(location: location)
        let other = cache(location: location + "-other")
        let unnamed = cache()
        try await first.set("value", 42)
        #expect(try await second.get("value", as: Int.self) == 42)
        #expect(try await other.get("value", as: Int.self) == nil)
        #expect(try await unnamed.get("value", as: Int.self) == nil)
    }

    @Test("MAX_ENTRIES 30 after 49 distinct sets leaves 29 (Django's test_cull)")
    func cull() async throws {
        let cache = cache(maxEntries: 30)
        for index in 1..<50 { try await cache.set("cull\(index)", "value") }
        let present = try await cache.getMany((1..<50).map { "cull\($0)" }, as: String.self)
        #expect(present.count == 29)
        #expect(cache.entryCount == 29)
    }

    @Test("CULL_FREQUENCY 0 empties the store when full (Django's test_zero_cull)")
    func zeroCull() async throws {
        let cache = cache(maxEntries: 30, cullFrequency: 0)
        for index in 1..<50 { try await cache.set("cull\(index)", "value") }
        #expect(try await cache.getMany((1..<50).map { "cull\($0)" }, as: String.self).count == 19)
    }

    @Test("MAX_ENTRIES -1 still stores the key (Django's test_cull_delete_when_store_empty)")
    func cullEmptyStore() async throws {
        let cache = cache(maxEntries: -1)
        try await cache.set("key", "value")
        #expect(try await cache.get("key", as: String.self) == "value")
    }

    @Test("culling evicts the least recently used; get refreshes (Django's test_lru_get)")
    func lruGet() async throws {
        let cache = cache(maxEntries: 9)
        for key in 0..<9 { try await cache.set("\(key)", key, timeout: .never) }
        for key in 0..<6 { #expect(try await cache.get("\(key)", as: Int.self) == key) }
        try await cache.set("9", 9, timeout: .never)
        for key in 0..<6 { #expect(try await cache.get("\(key)", as: Int.self) == key) }
        for key in 6..<9 { #expect(try await cache.get("\(key)", as: Int.self) == nil) }
        #expect(try await cache.get("9", as: Int.self) == 9)
    }

    @Test("set refreshes LRU order (Django's test_lru_set)")
    func lruSet() async throws {
        let cache = cache(maxEntries: 9)
        for key in 0..<9 { try await cache.set("\(key)", key) }
        for key in 3..<6 { try await cache.set("\(key)", key) }
        for key in 6..<9 { try await cache.set("\(key)", key) }
        try await cache.set("9", 9)
        for key in 0..<3 { #expect(try await cache.get("\(key)", as: Int.self) == nil) }
        for key in 3..<10 { #expect(try await cache.get("\(key)", as: Int.self) == key) }
    }

    @Test("incr refreshes LRU order (Django's test_lru_incr)")
    func lruIncr() async throws {
        let cache = cache(maxEntries: 9)
        for key in 0..<9 { try await cache.set("\(key)", key, timeout: .never) }
        for key in 0..<6 { #expect(try await cache.incr("\(key)") == key + 1) }
        try await cache.set("9", 9, timeout: .never)
        for key in 0..<6 { #expect(try await cache.get("\(key)", as: Int.self) == key + 1) }
        for key in 6..<9 { #expect(try await cache.get("\(key)", as: Int.self) == nil) }
    }

    @Test("hasKey and touch do not refresh LRU order")
    func lruNotRefreshed() async throws {
        let cache = cache(maxEntries: 3, cullFrequency: 3)
        try await cache.set("a", 1)
        try await cache.set("b", 2)
        try await cache.set("c", 3)
        _ = try await cache.hasKey("a")
        try await cache.touch("a")
        try await cache.set("d", 4)
        #expect(try await cache.hasKey("a") == false)
        #expect(try await cache.hasKey("b"))
    }

    @Test("overwriting a key in a full store evicts nothing")
    func overwriteAtCapacity() async throws {
        let cache = cache(maxEntries: 3)
        for key in ["a", "b", "c"] { try await cache.set(key, 1) }
        try await cache.set("a", 2)
        #expect(try await cache.getMany(["a", "b", "c"], as: Int.self) == ["a": 2, "b": 1, "c": 1])
    }

    @Test("a full store reclaims expired entries before evicting live ones")
    func expiredFirst() async throws {
        let cache = cache(maxEntries: 4)
        try await cache.set("live1", 1, timeout: .never)
        try await cache.set("live2", 2, timeout: .never)
        try await cache.set("short1", 3, timeout: 5)
        try await cache.set("short2", 4, timeout: 5)
        clock.advance(by: 10)
        try await cache.set("new", 5)
        #expect(try await cache.getMany(["live1", "live2", "new"], as: Int.self) == ["live1": 1, "live2": 2, "new": 5])
        #expect(cache.entryCount == 3)
    }

    @Test("expired entries are reclaimed as they reach the cold end, without a full store")
    func reclaimTail() async throws {
        let cache = cache(maxEntries: 1000)
        for index in 0..<100 { try await cache.set("old\(index)", index, timeout: 1) }
        clock.advance(by: 2)
        for index in 0..<100 { try await cache.set("new\(index)", index, timeout: .never) }
        #expect(cache.entryCount == 100)
    }

    @Test("an entry is expired at exactly its deadline")
    func boundary() async throws {
        let cache = cache()
        try await cache.set("k", 1, timeout: 10)
        clock.advance(by: 9.999)
        #expect(try await cache.hasKey("k"))
        clock.advance(by: 0.001)
        #expect(try await cache.hasKey("k") == false)
    }

    @Test("a fractional timeout lives for its fraction")
    func fraction() async throws {
        let cache = cache()
        try await cache.set("k", 1, timeout: 0.5)
        clock.advance(by: 0.4)
        #expect(try await cache.hasKey("k"))
        clock.advance(by: 0.1)
        #expect(try await cache.hasKey("k") == false)
    }

    @Test("local arithmetic is signed: below zero and negative values work, overflow throws")
    func signedArithmetic() async throws {
        let cache = cache()
        try await cache.set("n", 1)
        #expect(try await cache.decr("n", by: 5) == -4)
        #expect(try await cache.incr("n", by: -6) == -10)
        try await cache.set("max", Int.max)
        let error = await #expect(throws: CacheError.self) { try await cache.incr("max") }
        #expect(error?.code == .integerOverflow)
        #expect(try await cache.get("max", as: Int.self) == .max)
        let negation = await #expect(throws: CacheError.self) { try await cache.decr("n", by: .min) }
        #expect(negation?.code == .integerOverflow)
    }

    @Test("incr works on a bool (as Django's does: True + 1 == 2)")
    func incrBool() async throws {
        let cache = cache()
        try await cache.set("flag", true)
        #expect(try await cache.incr("flag") == 2)
        #expect(try await cache.get("flag", as: Int.self) == 2)
    }

    @Test("clear empties every cache sharing the location")
    func clearShared() async throws {
        let location = "clear-\(UniqueName.next())"
        let first = Cache.localMemory(location: location, configuration: CacheConfiguration(keyPrefix: "one"))
        let second = Cache.localMemory(location: location, configuration: CacheConfiguration(keyPrefix: "two"))
        try await first.set("k", 1)
        try await second.set("k", 2)
        try await first.clear()
        #expect(try await second.get("k", as: Int.self) == nil)
    }

    @Test("thousands of concurrent mixed operations keep the table consistent")
    func stress() async throws {
        let cache = cache(maxEntries: 200)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<400 {
                group.addTask {
                    for step in 0..<50 {
                        let key = "k\((task * 7 + step) % 300)"
                        switch step % 5 {
                        case 0: try await cache.set(key, step)
                        case 1: _ = try await cache.get(key, as: Int.self)
                        case 2: try await cache.delete(key)
                        case 3: try await cache.add(key, step)
                        default: _ = try await cache.getMany([key, "k1", "k2"], as: Int.self)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(cache.entryCount <= 200)
        try await cache.set("after", 1)
        #expect(try await cache.get("after", as: Int.self) == 1)
    }
}
