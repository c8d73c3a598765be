import Caching
import CachingMemcached
import CachingTesting
import Testing

/// memcached: a fresh server per check, so `clear` and counts see only that check's keys.
let memcachedSubject = CacheConformanceSubject(name: "memcached", usesConfiguredClock: false) {
    let server = try await MemcachedServer.start()
    return CacheConformanceSubject.Storage(
        makeCache: { configuration in try Cache.memcached(location: [server.address], configuration: configuration) },
        close: { await server.stop() })
}

/// Two servers with every key on both (ReplicatedMemcachedBackend): fresh servers per check.
let replicatedSubject = CacheConformanceSubject(name: "memcached, 2 replicas", usesConfiguredClock: false) {
    let first = try await MemcachedServer.start()
    let second = try await MemcachedServer.start()
    return CacheConformanceSubject.Storage(
        makeCache: { configuration in
            var options = MemcachedOptions()
            options.replicas = 2
            return try Cache.memcached(location: [first.address, second.address], options: options, configuration: configuration)
        },
        close: {
            await first.stop()
            await second.stop()
        })
}

/// The conformance suite against a real memcached. Serialized: memcached keeps time on its own
/// one-second clock, and expiry checks against it must not be starved by other tests.
@Suite("Conformance: memcached", .serialized)
struct MemcachedConformanceTests {
    @Test(arguments: CacheConformance.checks)
    func conformance(_ check: CacheConformanceCheck) async throws {
        try await check.run(on: memcachedSubject)
    }
}

/// The same against two servers with every key on both; serialized within itself, in parallel
/// with the single-server suite (each check's servers are its own).
@Suite("Conformance: memcached, 2 replicas", .serialized)
struct ReplicatedMemcachedConformanceTests {
    @Test(arguments: CacheConformance.checks)
    func conformance(_ check: CacheConformanceCheck) async throws {
        try await check.run(on: replicatedSubject)
    }
}
