import Caching
import Testing

extension CacheConformance {
    /// The backend's compare-and-set, which code above the cache API (token revocation) relies on.
    public static let compareAndStore: [CacheConformanceCheck] = [
        CacheConformanceCheck("compareAndStore with no expected entry stores only into a free key", id: "compareAndStoreAbsent") {
            fx async throws in
            let backend = fx.cache.backend
            let key = fx.cache.makeKey("cas-new")
            #expect(try await backend.compareAndStore(.integer(1), forKey: key, expiry: .never, expected: nil))
            #expect(try await backend.compareAndStore(.integer(2), forKey: key, expiry: .never, expected: nil) == false)
            #expect(try await fx.cache.get("cas-new", as: Int.self) == 1)
        },
        CacheConformanceCheck(
            "compareAndStore replaces only the expected entry, with the new expiry", id: "compareAndStoreExpected", lettingTimePass: true
        ) {
            fx async throws in
            let backend = fx.cache.backend
            let key = fx.cache.makeKey("cas")
            try await fx.cache.set("cas", 10)
            let current = try #require(try await backend.entry(forKey: key))
            #expect(try await backend.compareAndStore(.integer(11), forKey: key, expiry: .never, expected: .integer(99)) == false)
            #expect(try await fx.cache.get("cas", as: Int.self) == 10)
            #expect(try await backend.compareAndStore(.integer(11), forKey: key, expiry: .never, expected: current))
            #expect(try await fx.cache.get("cas", as: Int.self) == 11)
            // The stale expectation no longer matches.
            #expect(try await backend.compareAndStore(.integer(12), forKey: key, expiry: .never, expected: current) == false)
            let deadline = fx.clock.now() + 1
            #expect(try await backend.compareAndStore(.integer(13), forKey: key, expiry: .at(deadline), expected: .integer(11)))
            try await fx.pass(1)
            #expect(try await fx.cache.hasKey("cas") == false)
        },
        CacheConformanceCheck("compareAndStore: of concurrent updates from one value, exactly one wins", id: "compareAndStoreRace") {
            fx async throws in
            let backend = fx.cache.backend
            let key = fx.cache.makeKey("cas-race")
            try await fx.cache.set("cas-race", 0)
            let start = try #require(try await backend.entry(forKey: key))
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 1...16 {
                    group.addTask { try await backend.compareAndStore(.integer(index), forKey: key, expiry: .never, expected: start) }
                }
                var wins = 0
                for try await won in group where won { wins += 1 }
                return wins
            }
            #expect(wins == 1)
            #expect(try await fx.cache.get("cas-race", as: Int.self) != 0)
        },
    ]
}
