import Caching
import CachingMemcached
import CachingTesting
import InMemoryLogging
import Logging
import Testing
import TokenRevocation

/// What an attacker with an account, or a busy application, can do to a store's memory of
/// revocations: nothing makes it forget one.
@Suite("Revocation under attack: floods and stores that may forget")
struct RevocationAttackTests {
    /// A cache that refuses new keys when full (what a revocation alias uses), over local memory or files.
    static let boundedCaches: [String] = ["locmem", "file"]

    func boundedCache(_ kind: String, maxEntries: Int, clock: ManualCacheClock) throws -> Cache {
        let configuration = CacheConfiguration(clock: clock)
        switch kind {
        case "locmem": return Cache.localMemory(maxEntries: maxEntries, whenFull: .refuse, configuration: configuration)
        default:
            return try Cache.file(
                directory: TemporaryDirectory("swcache-attack").path, maxEntries: maxEntries, whenFull: .refuse,
                configuration: configuration)
        }
    }

    @Test("a flood of 350 revocations into a 300-entry store never evicts an earlier one: the excess is refused", arguments: boundedCaches)
    func revocationFlood(kind: String) async throws {
        let clock = ManualCacheClock()
        let revocation = try CacheRevocation(cache: boundedCache(kind, maxEntries: 300, clock: clock))
        try await revocation.revoke("victim-access", ttl: .seconds(900))
        #expect(try await revocation.consume("victim-refresh", ttl: .seconds(900)))
        try await revocation.revokeAll(subject: "victim", ttl: .seconds(900))
        var refused = 0
        for index in 0..<350 {
            do {
                try await revocation.revoke("attacker-\(index)", ttl: .seconds(900))
            } catch let error as RevocationError {
                #expect(error.code == .storeFailure)
                #expect((error.underlying as? CacheError)?.code == .full)
                refused += 1
            }
        }
        #expect(refused == 350 - 297, "297 more fit beside the victim's three entries")
        #expect(try await revocation.isRevoked("victim-access"))
        #expect(try await revocation.consume("victim-refresh", ttl: .seconds(900)) == false)
        #expect(try await revocation.revokedBefore(subject: "victim") != nil)
        // Once entries expire there is room again.
        clock.advance(by: 901)
        try await revocation.revoke("after-expiry", ttl: .seconds(900))
    }

    @Test("ordinary cache entries filling the revocation alias never push a revocation out", arguments: boundedCaches)
    func ordinaryFlood(kind: String) async throws {
        let clock = ManualCacheClock()
        let cache = try boundedCache(kind, maxEntries: 100, clock: clock)
        let revocation = try CacheRevocation(cache: cache)
        try await revocation.revoke("victim", ttl: .seconds(900))
        var refused = 0
        for index in 0..<150 {
            do {
                try await cache.set("page-\(index)", String(repeating: "x", count: 64))
            } catch let error as CacheError {
                #expect(error.code == .full)
                refused += 1
            }
        }
        #expect(refused == 51)
        #expect(try await revocation.isRevoked("victim"))
    }

    @Test("a store that evicts or moves keys is refused at construction, naming the alias and the setting")
    func unsafeStoresRefused() async throws {
        let caches = try Caches(
            [
                "culling": CacheSettings(backend: "locmem", location: "attack-\(UniqueName.next())"),
                "files": CacheSettings(backend: "file", location: TemporaryDirectory().path),
                "memcached": CacheSettings(backend: "memcached", location: ["127.0.0.1:1"]),
                "cluster": CacheSettings(
                    backend: "memcached", location: ["127.0.0.1:1", "127.0.0.1:2"], options: ["servers_never_evict": .bool(true)]),
                "safe-cluster": CacheSettings(
                    backend: "memcached", location: ["127.0.0.1:1", "127.0.0.1:2"],
                    options: ["servers_never_evict": .bool(true), "remove_failed_servers": .bool(false)]),
                "refusing": CacheSettings(backend: "locmem", location: "attack-\(UniqueName.next())", options: ["WHEN_FULL": "refuse"]),
            ], backends: CacheBackends.standard.withMemcached())
        for (alias, setting) in [
            ("culling", "WHEN_FULL"), ("files", "WHEN_FULL"), ("memcached", "servers_never_evict"), ("cluster", "remove_failed_servers"),
        ] {
            let error = #expect(throws: RevocationError.self) { try CacheRevocation(caches: caches, alias: alias) }
            #expect(error?.code == .unsafeStore)
            #expect(error?.message.contains("CACHES[\"\(alias)\"]") == true, "\(error?.message ?? "")")
            #expect(error?.message.contains(setting) == true, "\(error?.message ?? "")")
        }
        _ = try CacheRevocation(caches: caches, alias: "safe-cluster")
        _ = try CacheRevocation(caches: caches, alias: "refusing")
        let logs = InMemoryLogHandler()
        _ = try CacheRevocation(
            caches: caches, alias: "culling", acceptingRiskOf: .liveEntryEviction,
            logger: Logger(label: "attack", factory: { _ in logs }))
        #expect(logs.entries.filter { $0.level == .warning }.count == 1, "an accepted risk is logged once")
        try await caches.shutdown()
    }

    @Test("with Django's culling, the 350-refresh flood would have evicted the victim's revocation (why it is refused)")
    func cullingForgets() async throws {
        let clock = ManualCacheClock()
        let cache = Cache.localMemory(maxEntries: 300, configuration: CacheConfiguration(clock: clock))
        let revocation = try CacheRevocation(cache: cache, acceptingRiskOf: .liveEntryEviction)
        try await revocation.revoke("victim", ttl: .seconds(900))
        for index in 0..<350 { try await revocation.revoke("attacker-\(index)", ttl: .seconds(900)) }
        #expect(try await revocation.isRevoked("victim") == false, "culling dropped it: the risk is real")
    }
}
