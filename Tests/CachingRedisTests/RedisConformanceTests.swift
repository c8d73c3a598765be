import Caching
import CachingRedis
import CachingTesting
import Testing

/// Redis: a fresh server per check, so `clear` and counts see only that check's keys.
let redisSubject = CacheConformanceSubject(name: "redis", usesConfiguredClock: false) {
    let server = try await RedisServer.start()
    return CacheConformanceSubject.Storage(
        makeCache: { configuration in try Cache.redis(location: [server.url], configuration: configuration) },
        close: { await server.stop() })
}

/// The conformance suite against a real redis-server, one check at a time (in parallel with
/// the other suites; about 50 s, most of it the checks that wait for real time).
///
/// Serialized although Redis keeps expiry to the millisecond: a check that lets time pass has
/// only the suite's own margin (half a second past a deadline, where memcached's rounding gives
/// one and a half), and 58 servers starting at once on two shared cores starved such checks,
/// and other suites' timing checks, by more than that.
@Suite("Conformance: redis", .serialized)
struct RedisConformanceTests {
    @Test(arguments: CacheConformance.checks)
    func conformance(_ check: CacheConformanceCheck) async throws {
        try await check.run(on: redisSubject)
    }
}
