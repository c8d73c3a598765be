import Caching
import CachingTesting
import RemoteCacheFixtures
import Testing
import TokenRevocation

/// CacheRevocation over a real memcached and a real Redis that the test starts, as several
/// processes share them in production: what one client writes another sees at once, consume has
/// one winner across clients, and a server that dies never reads as "not revoked".
@Suite("CacheRevocation over memcached and Redis: two clients and a failing server", .serialized)
struct RemoteRevocationTests {
    /// A store over its own client (backend and connections) to `server`.
    func store(_ remote: RemoteCacheServer, _ server: LoopbackServer) throws -> CacheRevocation {
        try CacheRevocation(cache: Cache(try remote.backend(server, poolSize: 2, timeout: 1)))
    }

    @Test("consume is atomic across clients: exactly one of 100 concurrent callers wins", arguments: RemoteCacheServer.allCases)
    func consumeAcrossClients(_ remote: RemoteCacheServer) async throws {
        let server = try await remote.start()
        let first = try store(remote, server)
        let second = try store(remote, server)
        let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<100 {
                let store = index.isMultiple(of: 2) ? first : second
                group.addTask { try await store.consume("refresh-1", ttl: .seconds(600)) }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(winners == 1)
        #expect(try await second.isRevoked("refresh-1"))
        await server.stop()
    }

    @Test(
        "logout everywhere, family revocation and rotation are seen by another client at once", arguments: RemoteCacheServer.allCases)
    func subjectAndFamily(_ remote: RemoteCacheServer) async throws {
        let server = try await remote.start()
        let writer = try store(remote, server)
        let reader = try store(remote, server)
        let now = SystemCacheClock().now()
        try await writer.revokeAll(subject: "42", issuedBefore: now, ttl: .seconds(600))
        try await writer.revokeFamily("fam-1", ttl: .seconds(600))
        #expect(try await reader.revokedBefore(subject: "42") == now)
        #expect(try await reader.revokedBefore(subject: "43") == nil)
        #expect(try await reader.isFamilyRevoked("fam-1"))
        let status = try await reader.check(RevocationQuery(jti: "none", subject: "42", family: "fam-1"))
        #expect(status.isRevoked == false)
        #expect(status.isFamilyRevoked)
        #expect(status.subjectCutoff == now)
        try await writer.startFamily("fam-2", ttl: .seconds(600))
        #expect(try await reader.rotateFamily("fam-2", from: 0, ttl: .seconds(600)) == .rotated(to: 1))
        #expect(try await writer.rotateFamily("fam-2", from: 0, ttl: .seconds(600)) == .reused)
        await server.stop()
    }

    @Test(
        "with the server killed, every call throws (never a silent 'not revoked'); restarted, the same store works",
        arguments: RemoteCacheServer.allCases)
    func serverDown(_ remote: RemoteCacheServer) async throws {
        let server = try await remote.start()
        let store = try store(remote, server)
        try await store.revoke("before", ttl: .seconds(600))
        await server.kill()
        await #expect(throws: RevocationError.self) { try await store.isRevoked("before") }
        await #expect(throws: RevocationError.self) { try await store.check(RevocationQuery(jti: "before", subject: "1")) }
        await #expect(throws: RevocationError.self) { try await store.revoke("during", ttl: .seconds(600)) }
        await #expect(throws: RevocationError.self) { try await store.consume("during", ttl: .seconds(600)) }
        try await server.restart()
        switch remote {
        case .redis:
            // Stale sockets are noticed before anything is sent: the first call after the restart answers.
            #expect(try await store.isRevoked("after") == false)
            try await store.revoke("after", ttl: .seconds(600))
            #expect(try await store.check(RevocationQuery(jti: "after")).isRevoked)
        case .memcached:
            // libmemcached retries a dead server after its retry timeout, each pooled connection on
            // its own: poll until this same store both writes and reads again.
            var recovered = false
            for _ in 0..<50 where !recovered {
                do {
                    try await store.revoke("after", ttl: .seconds(600))
                    recovered = try await store.check(RevocationQuery(jti: "after")).isRevoked
                } catch {
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            #expect(recovered, "the store writes and reads again once memcached is back")
        }
        await server.stop()
    }
}
