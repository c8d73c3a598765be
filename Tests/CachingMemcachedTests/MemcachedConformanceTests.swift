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

/// The conformance suite against a real memcached. Serialized: memcached keeps time on its own
/// one-second clock, and expiry checks against it must not be starved by other tests.
@Suite("Conformance: memcached", .serialized)
struct MemcachedConformanceTests {
    @Test(arguments: CacheConformance.checks)
    func conformance(_ check: CacheConformanceCheck) async throws {
        try await check.run(on: memcachedSubject)
    }
}
