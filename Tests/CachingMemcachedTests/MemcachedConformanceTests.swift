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

/// The conformance suite against a real memcached, in two parts: the checks that let time pass
/// wait on memcached's own one-second clock and run one at a time (not starved by each other);
/// the rest run in parallel. Each check has a server of its own.
@Suite("Conformance: memcached, checks on the server's clock", .serialized)
struct MemcachedTimedConformanceTests {
    @Test(arguments: CacheConformance.timedChecks)
    func conformance(_ check: CacheConformanceCheck) async throws {
        try await check.run(on: memcachedSubject)
    }
}

@Suite("Conformance: memcached")
struct MemcachedConformanceTests {
    @Test(arguments: CacheConformance.untimedChecks)
    func conformance(_ check: CacheConformanceCheck) async throws {
        try await check.run(on: memcachedSubject)
    }
}

/// The same against two servers with every key on both (serialized within itself, in parallel
/// with the single-server suites: each check's servers are its own).
@Suite("Conformance: memcached, 2 replicas, checks on the server's clock", .serialized)
struct ReplicatedMemcachedTimedConformanceTests {
    @Test(arguments: CacheConformance.timedChecks)
    func conformance(_ check: CacheConformanceCheck) async throws {
        try await check.run(on: replicatedSubject)
    }
}

@Suite("Conformance: memcached, 2 replicas")
struct ReplicatedMemcachedConformanceTests {
    @Test(arguments: CacheConformance.untimedChecks)
    func conformance(_ check: CacheConformanceCheck) async throws {
        try await check.run(on: replicatedSubject)
    }
}

/// The partition loses no check and puts each in one part only.
@Test("the timed and untimed conformance checks together are the whole suite")
func conformancePartition() {
    let timed = Set(CacheConformance.timedChecks.map(\.id))
    let untimed = Set(CacheConformance.untimedChecks.map(\.id))
    #expect(timed.isDisjoint(with: untimed))
    #expect(timed.union(untimed) == Set(CacheConformance.checks.map(\.id)))
    #expect(timed.count + untimed.count == CacheConformance.checks.count)
    #expect(timed.contains("expiration"))
    #expect(untimed.contains("simple"))
}
