import Caching
import CachingMemcached
import CachingTesting
import Foundation
import Testing
import TokenRevocation

/// Revocations over three memcached servers with every key on two of them: one server killed,
/// restarted empty, or marked dead never lets a revoked token or a used refresh token through.
@Suite("CacheRevocation over replicated memcached: the loss of one server", .serialized)
struct MemcachedReplicationTests {
    struct Tally: CustomStringConvertible {
        var refused = 0
        var unavailable = 0
        var accepted = 0
        var description: String { "refused \(refused), 503 \(unavailable), accepted \(accepted)" }
    }

    struct Row: CustomStringConvertible {
        var scenario: String
        var revoked = Tally()
        var consumed = Tally()
        var clean = Tally()
        var description: String {
            "| \(scenario) | \(revoked) | \(consumed) | clean tokens: accepted \(clean.accepted), 503 \(clean.unavailable), refused \(clean.refused) |"
        }
    }

    static let count = 1_000

    func measure(_ scenario: String, _ store: CacheRevocation) async throws -> Row {
        var row = Row(scenario: scenario)
        for index in 0..<Self.count {
            do {
                if try await store.check(RevocationQuery(jti: "revoked-\(index)")).isRevoked {
                    row.revoked.refused += 1
                } else {
                    row.revoked.accepted += 1
                }
            } catch { row.revoked.unavailable += 1 }
            do {
                if try await store.consume("consumed-\(index)", ttl: .seconds(600)) {
                    row.consumed.accepted += 1
                } else {
                    row.consumed.refused += 1
                }
            } catch { row.consumed.unavailable += 1 }
            do {
                if try await store.check(RevocationQuery(jti: "clean-\(index)")).isRevoked {
                    row.clean.refused += 1
                } else {
                    row.clean.accepted += 1
                }
            } catch { row.clean.unavailable += 1 }
        }
        return row
    }

    /// Three servers run with -M, an alias keeping every key on two of them, and a store over it
    /// holding 1,000 revoked tokens and 1,000 used refresh jtis.
    func cluster() async throws -> (servers: [MemcachedServer], caches: Caches, store: CacheRevocation) {
        var servers: [MemcachedServer] = []
        for _ in 0..<3 { servers.append(try await MemcachedServer.start(arguments: ["-M"])) }
        let location = servers.map { "\"\($0.address)\"" }.joined(separator: ", ")
        let json = """
            {"revocations": {"BACKEND": "memcached", "LOCATION": [\(location)],
             "OPTIONS": {"replicas": 2, "servers_never_evict": true, "connect_timeout": 0.3, "poll_timeout": 0.3,
                         "retry_timeout": 1, "failure_limit": 2, "pool_size": 2}}}
            """
        let caches = try Caches(json: Array(json.utf8), backends: CacheBackends.standard.withMemcached())
        let store = try CacheRevocation(caches: caches, alias: "revocations")
        for index in 0..<Self.count {
            try await store.revoke("revoked-\(index)", ttl: .seconds(600))
            #expect(try await store.consume("consumed-\(index)", ttl: .seconds(600)))
        }
        return (servers, caches, store)
    }

    @Test(
        "1,000 revoked tokens and 1,000 used refresh jtis over 3 servers with 2 replicas: none accepted when one server is killed, restarted empty or marked dead"
    )
    func lossOfOneServer() async throws {
        var rows: [Row] = []
        let (servers, caches, store) = try await cluster()
        rows.append(try await measure("all up", store))
        await servers[1].kill()
        rows.append(try await measure("one server killed", store))
        try await servers[1].restart()
        rows.append(try await measure("it restarted empty", store))
        // Not one server but two: one restarted empty, another killed. Keys on both are gone or
        // unreachable: what cannot be proved fails closed.
        await servers[2].kill()
        rows.append(try await measure("double failure: restarted one, killed another", store))
        try await caches.shutdown()
        for server in servers { await server.stop() }

        // A server that fails past failure_limit is marked dead (libmemcached's ejection); with
        // per-server pools and remove_failed_servers off, its keys are never served elsewhere.
        let (others, otherCaches, otherStore) = try await cluster()
        await others[0].kill()
        for index in 0..<50 { _ = try? await otherStore.isRevoked("warm-\(index)") }
        rows.append(try await measure("one server marked dead (ejection)", otherStore))
        try await otherCaches.shutdown()
        for server in others { await server.stop() }

        print("| scenario | revoked tokens | used refresh jtis presented again | never-revoked tokens |")
        for row in rows { print(row) }
        for row in rows {
            #expect(row.revoked.accepted == 0, "\(row)")
            #expect(row.consumed.accepted == 0, "\(row)")
        }
        for row in [rows[0], rows[1], rows[2], rows[4]] {
            #expect(row.revoked.refused == Self.count && row.consumed.refused == Self.count, "one server lost: \(row)")
        }
        #expect(rows[0].clean.accepted == Self.count)
    }

    @Test("over replicated memcached: 64 concurrent refreshes with one token, one winner; concurrent cut-offs keep the latest and longest")
    func concurrency() async throws {
        var servers: [MemcachedServer] = []
        for _ in 0..<3 { servers.append(try await MemcachedServer.start(arguments: ["-M"])) }
        let location = servers.map { "\"\($0.address)\"" }.joined(separator: ", ")
        let json = """
            {"revocations": {"BACKEND": "memcached", "LOCATION": [\(location)],
             "OPTIONS": {"replicas": 2, "servers_never_evict": true, "pool_size": 4}}}
            """
        let caches = try Caches(json: Array(json.utf8), backends: CacheBackends.standard.withMemcached())
        let store = try CacheRevocation(caches: caches, alias: "revocations")
        try await expectOneWinner(of: 64, refreshing: "login", in: store)
        let now = SystemCacheClock().now()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for offset in [0.0, -300, -100, -200] {
                group.addTask { try await store.revokeAll(subject: "alice", issuedBefore: now + offset, ttl: .seconds(600 + offset)) }
            }
            try await group.waitForAll()
        }
        #expect(try await store.revokedBefore(subject: "alice") == now)
        try await caches.shutdown()
        for server in servers { await server.stop() }
    }

    @Test("placement is spread over the servers and the same in every process")
    func placement() throws {
        let servers = (1...3).compactMap { MemcachedServerAddress(parsing: "127.0.0.1:\(40000 + $0)") }
        let first = try ReplicatedMemcachedBackend(servers: servers, replicas: 2)
        let second = try ReplicatedMemcachedBackend(servers: servers, replicas: 2)
        var primaries = [0, 0, 0]
        for index in 0..<3000 {
            let key = ":1:revoked:\(index)"
            let placed = first.placement(forKey: key)
            #expect(placed == second.placement(forKey: key))
            #expect(Set(placed).count == 2)
            primaries[placed[0]] += 1
        }
        #expect(primaries.allSatisfy { $0 > 800 }, "\(primaries)")
        let error = #expect(throws: CacheError.self) { try ReplicatedMemcachedBackend(servers: servers, replicas: 4) }
        #expect(error?.code == .invalidSettings)
    }
}
