import Caching
import CachingTesting
import RemoteCacheFixtures
import Testing
import TokenRevocation

/// Revocation checks of concurrent requests over a real memcached and a real Redis: their keys
/// are sent in shared multi-gets (`get k1 k2 …`, `MGET`), each check gets its own answer, a
/// failed batch fails every check in it, and with `read_timeout` a check against a server that
/// stopped answering fails closed in time.
///
/// The server is paused with `SIGSTOP` (its sockets stay open and accept requests, but nothing
/// answers, as a hung or overloaded server) so that checks pile up behind one stuck multi-get.
@Suite("CacheRevocation over memcached and Redis: batched and bounded checks", .serialized)
struct BatchedCheckTests {
    static let checks = 64

    func store(
        _ remote: RemoteCacheServer, _ server: LoopbackServer, timeout: Double = 5, readTimeout: Double? = nil
    ) throws -> (store: CacheRevocation, backend: any ReadCountingBackend) {
        let backend = try remote.backend(server, timeout: timeout, readTimeout: readTimeout)
        return (try CacheRevocation(cache: Cache(backend)), backend)
    }

    /// Token `index`: its jti is revoked when `index % 3 == 0`, its family when `index % 4 == 1`,
    /// and its subject logged out everywhere when `index % 8 == 0`.
    func query(_ index: Int) -> RevocationQuery {
        RevocationQuery(jti: "jti-\(index)", subject: "user-\(index % 8)", family: "fam-\(index % 4)")
    }

    func revokeSome(_ store: CacheRevocation, cutoff: Double) async throws {
        for index in 0..<Self.checks where index % 3 == 0 { try await store.revoke("jti-\(index)", ttl: .seconds(600)) }
        try await store.revokeFamily("fam-1", ttl: .seconds(600))
        try await store.revokeAll(subject: "user-0", issuedBefore: cutoff, ttl: .seconds(600))
    }

    @Test(
        "64 concurrent checks share multi-gets (fewer round trips than checks), each with its own answer",
        arguments: RemoteCacheServer.allCases)
    func sharedMultiGets(_ remote: RemoteCacheServer) async throws {
        let server = try await remote.start()
        let (store, backend) = try store(remote, server)
        let cutoff = SystemCacheClock().now()
        try await revokeSome(store, cutoff: cutoff)
        let before = backend.readCounts
        // Paused, the server holds the first multi-get; the other checks queue behind it and
        // leave together when it answers.
        #expect(try await server.pause(), "\(remote.program) did not stop")
        let statuses = try await withThrowingTaskGroup(of: (Int, RevocationStatus).self) { group in
            for index in 0..<Self.checks {
                group.addTask { (index, try await store.check(query(index))) }
            }
            try await Task.sleep(for: .milliseconds(300))
            server.resume()
            return try await group.reduce(into: [Int: RevocationStatus]()) { $0[$1.0] = $1.1 }
        }
        let after = backend.readCounts
        #expect(statuses.count == Self.checks)
        for index in 0..<Self.checks {
            let status = try #require(statuses[index])
            #expect(status.isRevoked == (index % 3 == 0), "jti-\(index)")
            #expect(status.isFamilyRevoked == (index % 4 == 1), "fam of \(index)")
            #expect(status.subjectCutoff == (index % 8 == 0 ? cutoff : nil), "user of \(index)")
        }
        #expect(after.reads - before.reads == Self.checks)
        // One stuck multi-get, then the 63 queued checks (3 keys each, 128 keys a batch at most).
        let roundTrips = after.roundTrips - before.roundTrips
        #expect(roundTrips < Self.checks / 4, "\(roundTrips) round trips for \(Self.checks) checks")
        try await backend.shutdown()
        await server.stop()
    }

    @Test("a batch whose server is killed fails every check in it: none reads as 'not revoked'", arguments: RemoteCacheServer.allCases)
    func killedBatchFailsClosed(_ remote: RemoteCacheServer) async throws {
        let server = try await remote.start()
        let (store, backend) = try store(remote, server)
        try await revokeSome(store, cutoff: SystemCacheClock().now())
        let before = backend.readCounts
        #expect(try await server.pause(), "\(remote.program) did not stop")
        let outcomes = await withTaskGroup(of: Result<RevocationStatus, any Error>.self) { group in
            for index in 0..<Self.checks {
                group.addTask {
                    do { return .success(try await store.check(query(index))) } catch { return .failure(error) }
                }
            }
            try? await Task.sleep(for: .milliseconds(300))
            await server.kill()  // SIGKILL reaches a stopped process
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.count == Self.checks)
        for outcome in outcomes {
            switch outcome {
            case .success(let status): Issue.record("a check of a killed batch answered \(status)")
            case .failure(let error): #expect(error is RevocationError, "\(error)")
            }
        }
        #expect(backend.readCounts.roundTrips - before.roundTrips < Self.checks / 4)
        try await backend.shutdown()
    }

    @Test(
        "with read_timeout, checks against a stopped server fail closed within the bound, queued ones too; resumed, they answer",
        arguments: RemoteCacheServer.allCases)
    func boundedWhileStopped(_ remote: RemoteCacheServer) async throws {
        let server = try await remote.start()
        // The clients' own timeouts (5 s) are far longer: only the watchdog can end these checks.
        let (store, backend) = try store(remote, server, readTimeout: 0.3)
        let bound = try #require(store.checkTimeLimit)
        #expect(bound >= .milliseconds(300) && bound <= .milliseconds(350))
        try await store.revoke("jti-0", ttl: .seconds(600))
        #expect(try await server.pause(), "\(remote.program) did not stop")
        let results = await withTaskGroup(of: (error: (any Error)?, seconds: Double).self) { group in
            for index in 0..<16 {
                group.addTask {
                    let start = ContinuousClock.now
                    var failure: (any Error)?
                    do {
                        // isRevoked (one key) and check (three) are both bounded.
                        if index.isMultiple(of: 2) {
                            _ = try await store.check(query(index))
                        } else {
                            _ = try await store.isRevoked("jti-\(index)")
                        }
                    } catch { failure = error }
                    return (failure, (ContinuousClock.now - start).seconds)
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        server.resume()
        #expect(results.count == 16)
        for result in results {
            let error = try #require(result.error as? RevocationError, "a check answered while the server was stopped")
            #expect((error.underlying as? CacheError)?.code == .timeout, "\(error)")
            // The bound is 0.33 s; the margin absorbs a loaded 2-core machine, and is still far
            // below the 5 s the client alone would take.
            #expect(result.seconds >= 0.29 && result.seconds < 1.5, "took \(result.seconds) s")
        }
        // The server answers again: so does the store, with the right answer.
        var answered: RevocationStatus?
        for _ in 0..<80 where answered == nil {
            answered = try? await store.check(query(0))
            if answered == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(answered?.isRevoked == true)
        try await backend.shutdown()
        await server.stop()
    }

    @Test(
        "without read_timeout the store promises no bound, and the race in JWTAuthentication stays", arguments: RemoteCacheServer.allCases)
    func noBoundByDefault(_ remote: RemoteCacheServer) async throws {
        let server = try await remote.start()
        let (store, backend) = try store(remote, server)
        #expect(store.checkTimeLimit == nil)
        #expect(backend.capabilities.readTimeLimit == nil)
        try await backend.shutdown()
        await server.stop()
    }
}
