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

/// Every Redis suite, one test at a time (about 75 s, in parallel with the other targets'
/// suites, which take longer). Each test starts its own redis-server; with the Redis suites in
/// parallel (dozens of servers starting at once on two shared cores), a full run missed the 5 s
/// bound of a timing test in another target (JWTAuthentication's hanging store) in two of three
/// runs.
@Suite("Redis", .serialized)
struct RedisTests {}

extension RedisTests {
    /// The conformance suite against a real redis-server, one check at a time (about 60 s, most
    /// of it the checks that wait for real time).
    ///
    /// Serialized although Redis keeps expiry to the millisecond: a check that lets time pass has
    /// only the suite's own margin (half a second past a deadline, where memcached's rounding gives
    /// one and a half), and 58 servers starting at once on two shared cores starved such checks
    /// by more than that.
    @Suite("Conformance: redis", .serialized)
    struct RedisConformanceTests {
        @Test(arguments: CacheConformance.checks)
        func conformance(_ check: CacheConformanceCheck) async throws {
            try await check.run(on: redisSubject)
        }
    }
}
