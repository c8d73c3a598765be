import Caching
import CachingRedis
import CachingTesting
import Testing
import TokenRevocation

/// CacheRevocation over a real redis-server that the test starts: the store Django-Bolt's guide
/// recommends for several processes. Expiry is the server's own (milliseconds, from `PX`), so the
/// expiry test waits for it instead of moving a manual clock, as the memcached suite does.
@Suite("CacheRevocation over Redis", .serialized)
struct RedisRevocationTests {
    /// A store's options: the test servers run with Redis's default `noeviction` and no
    /// `maxmemory`, and the options say so.
    static func options(poolSize: Int = 2, timeout: Double = 1, readTimeout: Double? = nil) -> RedisOptions {
        var options = RedisOptions()
        options.serversNeverEvict = true
        options.poolSize = poolSize
        options.timeout = timeout
        options.connectTimeout = timeout
        options.readTimeout = readTimeout
        return options
    }

    /// A cache over the server with the default key settings, and one that reads made keys as is.
    func caches(_ server: RedisServer, prefix: String = "") throws -> (cache: Cache, raw: Cache) {
        let cache = try Cache.redis(location: [server.url], options: Self.options(), configuration: CacheConfiguration(keyPrefix: prefix))
        let raw = try Cache.redis(
            location: [server.url], options: Self.options(), configuration: CacheConfiguration(keyFunction: { key, _, _ in key }))
        return (cache, raw)
    }

    @Test("revoke stores `revoked:{jti}` under the alias's made key as Django's RedisCache would: a plain decimal end")
    func storedKey() async throws {
        try await RedisServer.with { server in
            let (cache, raw) = try caches(server)
            let store = try CacheRevocation(cache: cache)
            try await store.revoke("abc-123", ttl: .seconds(600))
            #expect(try await store.isRevoked("abc-123"))
            #expect(try await store.isRevoked("abc-124") == false)
            let entry = try #require(try await raw.backend.entry(forKey: ":1:revoked:abc-123"))
            let end = try #require(entry.integerValue)
            #expect(Double(end) > SystemCacheClock().now() + 590)
            let prefixed = try CacheRevocation(cache: try caches(server, prefix: "app").cache)
            try await prefixed.revoke("xyz", ttl: .seconds(600))
            #expect(try await raw.backend.entry(forKey: "app:1:revoked:xyz") != nil)
            #expect(try await store.isRevoked("xyz") == false)
            for each in [cache, raw] { try await each.shutdown() }
        }
    }

    @Test("a revocation expires on the server at its ttl in milliseconds, not rounded up to a whole second")
    func expiry() async throws {
        try await RedisServer.with { server in
            let (cache, raw) = try caches(server)
            let store = try CacheRevocation(cache: cache)
            try await store.revoke("long", ttl: .seconds(600))
            let start = ContinuousClock.now
            try await store.revoke("short", ttl: .milliseconds(1200))
            let revoked = try await store.isRevoked("short")
            // A busy machine may starve this task past the ttl before the first read; only a
            // read well within it must see the entry.
            if ContinuousClock.now - start < .milliseconds(1000) { #expect(revoked) }
            // Whole seconds rounded up would keep it until 2 s; the server's own clock ends it at 1.2 s.
            try await Task.sleep(until: start + .milliseconds(1700))
            #expect(try await store.isRevoked("short") == false)
            #expect(try await store.isRevoked("long"))
            #expect(try await raw.backend.entry(forKey: ":1:revoked:short") == nil)
            for each in [cache, raw] { try await each.shutdown() }
        }
    }

    @Test("revoking concurrently from two clients keeps the longest lifetime (the compare-and-set script)")
    func concurrentRevokes() async throws {
        try await RedisServer.with { server in
            let (cache, raw) = try caches(server)
            let first = try CacheRevocation(cache: cache)
            let second = try CacheRevocation(cache: try caches(server).cache)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<40 {
                    let store = index.isMultiple(of: 2) ? first : second
                    group.addTask { try await store.revoke("shared", ttl: .seconds(Int64(100 + index))) }
                }
                try await group.waitForAll()
            }
            let end = try #require(try await raw.backend.entry(forKey: ":1:revoked:shared")?.integerValue)
            let now = SystemCacheClock().now()
            #expect(Double(end) > now + 130, "the 139-second revocation won: \(Double(end) - now) s left")
        }
    }

}
