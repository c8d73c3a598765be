import Caching
import CachingRedis
import CachingTesting
import Foundation
import InMemoryLogging
import Logging
import Testing
import TokenRevocation

/// What an attacker with an account, or a busy application, can do to revocations kept in Redis:
/// a Redis that may evict is refused unless the risk is named; a full Redis that never evicts
/// refuses new entries and forgets none.
@Suite("Revocation over Redis under attack: floods, eviction and replicas", .serialized)
struct RedisRevocationAttackTests {
    /// Runs `redis-cli` against the server (to configure it and read what it reports).
    func redisCLI(_ server: RedisServer, _ arguments: String...) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
        process.arguments = ["-h", server.host, "-p", String(server.port)] + arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text: String = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let data = output.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(returning: String(decoding: data, as: UTF8.self))
            }
        }
        #expect(process.terminationStatus == 0, "redis-cli \(arguments): \(text)")
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Limits the server to what it uses now plus `room` bytes, under `policy`, once the store
    /// has opened its connections and written a first key (Redis allocates its key tables then):
    /// `room` is then what entries can fill.
    func limitMemory(_ server: RedisServer, room: Int, policy: String, warming store: CacheRevocation) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<8 {
                group.addTask {
                    try await store.revoke("warm-\(index)", ttl: .seconds(900))
                    _ = try await store.check(RevocationQuery(jti: "warm-\(index)", subject: "s", family: "f"))
                }
            }
            try await group.waitForAll()
        }
        let info = try await redisCLI(server, "INFO", "memory")
        let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("used_memory:") }
        let used = try #require(line.flatMap { Int($0.split(separator: ":").last ?? "") })
        #expect(try await redisCLI(server, "CONFIG", "SET", "maxmemory-policy", policy) == "OK")
        #expect(try await redisCLI(server, "CONFIG", "SET", "maxmemory", String(used + room)) == "OK")
    }

    @Test("a Redis alias that may evict, or that reads from replicas, is refused at construction, naming the alias and the setting")
    func unsafeStoresRefused() async throws {
        let caches = try Caches(
            [
                "evicting": CacheSettings(backend: "redis", location: "redis://127.0.0.1:1"),
                "replicas": CacheSettings(
                    backend: "django.core.cache.backends.redis.RedisCache", location: ["redis://127.0.0.1:1", "redis://127.0.0.1:2"],
                    options: ["servers_never_evict": .bool(true)]),
                "safe": CacheSettings(backend: "redis", location: "redis://127.0.0.1:1", options: ["servers_never_evict": .bool(true)]),
            ], backends: CacheBackends.standard.withRedis())
        for (alias, setting) in [("evicting", "servers_never_evict"), ("evicting", "noeviction"), ("replicas", "LOCATION")] {
            let error = #expect(throws: RevocationError.self) { try CacheRevocation(caches: caches, alias: alias) }
            #expect(error?.code == .unsafeStore)
            #expect(error?.message.contains("CACHES[\"\(alias)\"]") == true, "\(error?.message ?? "")")
            #expect(error?.message.contains(setting) == true, "\(error?.message ?? "")")
        }
        _ = try CacheRevocation(caches: caches, alias: "safe")
        let logs = InMemoryLogHandler()
        _ = try CacheRevocation(
            caches: caches, alias: "evicting", acceptingRiskOf: .liveEntryEviction, logger: Logger(label: "attack", factory: { _ in logs }))
        #expect(logs.entries.filter { $0.level == .warning }.count == 1, "an accepted risk is logged once")
        try await caches.shutdown()
    }

    @Test("maxmemory with noeviction: a flood of revocations is refused once full (.full), and no earlier one is forgotten")
    func revocationFlood() async throws {
        try await RedisServer.with { server in
            let cache = try Cache.redis(location: [server.url], options: RedisRevocationTests.options())
            let revocation = try CacheRevocation(cache: cache)
            try await limitMemory(server, room: 200_000, policy: "noeviction", warming: revocation)
            try await revocation.revoke("victim-access", ttl: .seconds(900))
            #expect(try await revocation.consume("victim-refresh", ttl: .seconds(900)))
            try await revocation.revokeAll(subject: "victim", ttl: .seconds(900))
            try await revocation.revokeFamily("victim-family", ttl: .seconds(900))
            var stored = 0
            var refused = 0
            // A few thousand revocations fill 200 kB; then every write is refused.
            for index in 0..<20_000 where refused < 50 {
                do {
                    try await revocation.revoke("attacker-\(index)", ttl: .seconds(900))
                    stored += 1
                } catch let error as RevocationError {
                    #expect(error.code == .storeFailure)
                    #expect((error.underlying as? CacheError)?.code == .full, "\(error)")
                    refused += 1
                }
            }
            #expect(refused == 50, "\(stored) stored before the server was full")
            #expect(stored > 100)
            await #expect(throws: RevocationError.self) { try await revocation.consume("attacker-refresh", ttl: .seconds(900)) }
            // Nothing was evicted: the victim's revocations and every stored attacker entry remain.
            #expect(try await revocation.isRevoked("victim-access"))
            // A full Redis refuses every SET, even one that would store nothing: presenting the
            // used refresh token again is refused (503), never accepted, and its entry stays.
            await #expect(throws: RevocationError.self) { try await revocation.consume("victim-refresh", ttl: .seconds(900)) }
            #expect(try await revocation.isRevoked("victim-refresh"))
            #expect(try await revocation.revokedBefore(subject: "victim") != nil)
            let status = try await revocation.check(RevocationQuery(jti: "attacker-0", subject: "victim", family: "victim-family"))
            #expect(status.isRevoked && status.isFamilyRevoked && status.subjectCutoff != nil)
            #expect(try await revocation.isRevoked("attacker-\(stored - 1)"))
            try await cache.shutdown()
        }
    }

    @Test("ordinary entries filling the revocation alias are refused (.full) and never push a revocation out")
    func ordinaryFlood() async throws {
        try await RedisServer.with { server in
            let cache = try Cache.redis(location: [server.url], options: RedisRevocationTests.options())
            let revocation = try CacheRevocation(cache: cache)
            try await limitMemory(server, room: 400_000, policy: "noeviction", warming: revocation)
            try await revocation.revoke("victim", ttl: .seconds(900))
            var refused = 0
            let page = String(repeating: "x", count: 16_384)
            for index in 0..<200 {
                do {
                    try await cache.set("page-\(index)", page)
                } catch let error as CacheError {
                    #expect(error.code == .full, "\(error)")
                    #expect(error.message.contains("maxmemory"), "\(error.message)")
                    refused += 1
                }
            }
            #expect(refused > 100, "400 kB hold about 24 pages of 16 kB")
            #expect(try await revocation.isRevoked("victim"))
            await #expect(throws: RevocationError.self) { try await revocation.revoke("late", ttl: .seconds(900)) }
            try await cache.shutdown()
        }
    }

    @Test("with allkeys-lru, an accepted eviction risk is real: a flood evicts the victim's revocation (why it is refused)")
    func evictionForgets() async throws {
        try await RedisServer.with { server in
            var options = RedisRevocationTests.options()
            options.serversNeverEvict = false
            let cache = try Cache.redis(location: [server.url], options: options)
            #expect(throws: RevocationError.self) { try CacheRevocation(cache: cache) }
            let revocation = try CacheRevocation(cache: cache, acceptingRiskOf: .liveEntryEviction)
            try await limitMemory(server, room: 400_000, policy: "allkeys-lru", warming: revocation)
            try await revocation.revoke("victim", ttl: .seconds(900))
            let page = String(repeating: "x", count: 16_384)
            for index in 0..<300 { try await cache.set("page-\(index)", page) }
            #expect(try await revocation.isRevoked("victim") == false, "Redis evicted it: the risk is real")
            try await cache.shutdown()
        }
    }
}
