import Caching
import CachingMemcached
import CachingTesting
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Concurrent reads of one key or many share one multi-get of their distinct keys, as the
/// server counts it; `read_timeout` bounds a read whatever the server does.
@Suite("Memcached: reads batched across callers", .serialized)
struct MemcachedBatchedReadTests {
    @Test("32 concurrent getMany calls over overlapping keys: the server is asked for each distinct key once per batch")
    func overlappingReadsShareOneMultiGet() async throws {
        try await MemcachedServer.with { server in
            var options = MemcachedOptions()
            options.poolSize = 1
            options.pollTimeout = 5
            let backend = try MemcachedBackend(location: [server.address], options: options)
            let cache = Cache(backend)
            let raw = MemcachedRawClient(server)
            var values: [String: Int] = [:]
            for index in 0..<20 { values["k\(index)"] = index }
            #expect(try await cache.setMany(values).isEmpty)
            // Caller i asks for 10 keys from k(i % 20) on, one of them missing.
            let requests = (0..<32).map { caller in (0..<9).map { "k\((caller + $0) % 20)" } + ["missing-\(caller % 4)"] }
            let before = try await raw.stats()
            let counts = backend.readCounts
            #expect(try await server.pause(), "memcached did not stop")
            let results = try await withThrowingTaskGroup(of: (Int, [String: Int]).self) { group in
                for (caller, keys) in requests.enumerated() {
                    group.addTask { (caller, try await cache.getMany(keys, as: Int.self)) }
                }
                try await Task.sleep(for: .milliseconds(300))
                server.resume()
                return try await group.reduce(into: [Int: [String: Int]]()) { $0[$1.0] = $1.1 }
            }
            let after = try await raw.stats()
            for (caller, keys) in requests.enumerated() {
                let expected = values.filter { keys.contains($0.key) }
                #expect(results[caller] == expected, "caller \(caller)")
            }
            // Without batching the server would be asked for 32 × 10 keys. One multi-get is held
            // while the server is stopped; the callers queued behind it leave in batches of at
            // most 128 keys (12 callers), each asking for the 24 distinct keys at most once: at
            // most 4 round trips and 4 × 24 keys.
            let asked = (after["cmd_get"] ?? 0) - (before["cmd_get"] ?? 0)
            #expect(asked <= 4 * 24, "the server was asked for \(asked) keys")
            #expect(backend.readCounts.reads - counts.reads == 32)
            #expect(backend.readCounts.roundTrips - counts.roundTrips <= 4)
        }
    }

    @Test("read_timeout: a read of a stopped server fails with .timeout within the bound; the options declare it")
    func readTimeout() async throws {
        try await MemcachedServer.with { server in
            let json = """
                {"mc": {"BACKEND": "memcached", "LOCATION": "\(server.address)",
                        "OPTIONS": {"pool_size": 1, "poll_timeout": 5, "read_timeout": 0.2}},
                 "plain": {"BACKEND": "memcached", "LOCATION": "\(server.address)", "OPTIONS": {"read_timeout": null}}}
                """
            let caches = try Caches(json: Array(json.utf8), backends: CacheBackends.standard.withMemcached())
            let cache = try caches["mc"]
            #expect(try caches["plain"].capabilities.readTimeLimit == nil)
            // 0.2 s plus the watchdog's period, a tenth of it.
            let bound = try #require(cache.capabilities.readTimeLimit)
            #expect(bound > .milliseconds(219) && bound < .milliseconds(221))
            try await cache.set("k", 1)
            #expect(try await server.pause(), "memcached did not stop")
            let start = ContinuousClock.now
            let single = await #expect(throws: CacheError.self) { try await cache.get("k", as: Int.self) }
            let many = await #expect(throws: CacheError.self) { try await cache.getMany(["k", "j"], as: Int.self) }
            let present = await #expect(throws: CacheError.self) { try await cache.hasKey("k") }
            let elapsed = ContinuousClock.now - start
            server.resume()
            for error in [single, many, present] {
                #expect(error?.code == .timeout)
                #expect(error?.message.contains("read_timeout") == true)
            }
            // Three reads in turn, 0.2 s each (plus the watchdog's 20 ms); libmemcached alone: 5 s each.
            #expect(elapsed >= .milliseconds(600) && elapsed < .seconds(3), "took \(elapsed)")
            // The server answers again: so do reads.
            var answered: Int?
            for _ in 0..<50 where answered == nil {
                answered = try? await cache.get("k", as: Int.self)
                if answered == nil { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(answered == 1)
        }
    }
}
