import Caching
import CachingMemcached
import CachingTesting
import Testing
import TokenRevocation

/// CacheRevocation over a real memcached server that the test starts: the shared store that
/// several processes and hosts use in production. Expiry is the server's own (one-second clock),
/// so the expiry test waits for it instead of moving a manual clock.
@Suite("CacheRevocation over memcached", .serialized)
struct MemcachedRevocationTests {
    /// A cache over the server with the default key settings, and one that reads made keys as is.
    func caches(_ server: MemcachedServer, prefix: String = "") throws -> (cache: Cache, raw: Cache) {
        let address = try #require(MemcachedServerAddress(parsing: server.address))
        // The servers run with -M (see `server()`), and the options say so.
        var options = MemcachedOptions()
        options.serversNeverEvict = true
        let cache = Cache(
            try MemcachedBackend(servers: [address], options: options), configuration: CacheConfiguration(keyPrefix: prefix))
        let raw = Cache(
            try MemcachedBackend(servers: [address], options: options),
            configuration: CacheConfiguration(keyFunction: { key, _, _ in key }))
        return (cache, raw)
    }

    @Test("revoke stores `revoked:{jti}` under the alias's made key, byte for byte, as Django-Bolt does")
    func storedKey() async throws {
        let server = try await MemcachedServer.start(arguments: ["-M"])
        let (cache, raw) = try caches(server)
        let store = try CacheRevocation(cache: cache)
        try await store.revoke("abc-123", ttl: .seconds(600))
        #expect(try await store.isRevoked("abc-123"))
        #expect(try await store.isRevoked("abc-124") == false)
        let entry = try #require(try await raw.backend.entry(forKey: ":1:revoked:abc-123"))
        #expect(entry.flags == CacheItemFlags.integer)
        let end = try #require(entry.integerValue)
        #expect(Double(end) > SystemCacheClock().now() + 590)
        let prefixed = try CacheRevocation(cache: try caches(server, prefix: "app").cache)
        try await prefixed.revoke("xyz", ttl: .seconds(600))
        #expect(try await raw.backend.entry(forKey: "app:1:revoked:xyz") != nil)
        #expect(try await store.isRevoked("xyz") == false)
        await server.stop()
    }

    @Test("a revocation expires with its ttl on the server")
    func expiry() async throws {
        let server = try await MemcachedServer.start(arguments: ["-M"])
        let store = try CacheRevocation(cache: try caches(server).cache)
        // Long enough that a busy machine running other suites cannot starve this task past it
        // between the write and the first read (the server's clock keeps running regardless).
        try await store.revoke("short", ttl: .seconds(4))
        try await store.revoke("long", ttl: .seconds(600))
        #expect(try await store.isRevoked("short"))
        try await Task.sleep(for: .milliseconds(6600))
        #expect(try await store.isRevoked("short") == false)
        #expect(try await store.isRevoked("long"))
        await server.stop()
    }

}
