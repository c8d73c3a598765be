import Caching
import CachingTesting
import RemoteCacheFixtures
import Testing
import TokenRevocation

@testable import TokenAuth

/// Authentication over a real memcached and a real Redis that stop answering (`SIGSTOP`: their
/// sockets stay open, nothing replies). A store whose backend bounds its reads within
/// `revocationTimeout` (`read_timeout`) is called without a timeout task, and must still refuse
/// the token in time; one without that bound, or with a longer one, stays under the timeout race.
@Suite("JWTAuthentication over a stopped memcached or Redis", .serialized)
struct StoppedServerTimeoutTests {
    func authentication(
        _ remote: RemoteCacheServer, _ server: LoopbackServer, readTimeout: Double?, revocationTimeout: Duration
    ) throws -> (JWTAuthentication, CacheRevocation, any ReadCountingBackend) {
        // The client alone would wait 10 s: far beyond every bound tested here.
        let backend = try remote.backend(server, timeout: 10, readTimeout: readTimeout)
        let store = try CacheRevocation(cache: Cache(backend))
        let auth = try JWTAuthentication(secret: secret, revocationStore: store, revocationTimeout: revocationTimeout)
        return (auth, store, backend)
    }

    /// Authenticates `count` tokens at once; each one's error (nil when accepted) and time.
    func attempts(_ auth: JWTAuthentication, count: Int) async throws -> [(error: AuthenticationError?, seconds: Double)] {
        var headers: [String] = []
        for _ in 0..<count { headers.append("Bearer " + (try Token.create(sub: "1").encode(secret: secret))) }
        return await withTaskGroup(of: (error: AuthenticationError?, seconds: Double).self) { group in
            for header in headers {
                group.addTask {
                    let start = ContinuousClock.now
                    let failure: AuthenticationError?
                    do throws(AuthenticationError) {
                        _ = try await auth.authenticate(authorization: header)
                        failure = nil
                    } catch {
                        failure = error
                    }
                    return (failure, (ContinuousClock.now - start).seconds)
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
    }

    @Test(
        "read_timeout within revocationTimeout: no race, and every check is refused (503) within the bound",
        arguments: RemoteCacheServer.allCases)
    func boundedByTheBackend(_ remote: RemoteCacheServer) async throws {
        let server = try await remote.start()
        let (auth, store, backend) = try authentication(remote, server, readTimeout: 0.25, revocationTimeout: .seconds(3))
        let bound = try #require(store.checkTimeLimit)
        #expect(bound <= auth.revocationTimeout)
        // Answers while the server runs.
        _ = try await auth.authenticate(authorization: "Bearer " + Token.create(sub: "1").encode(secret: secret))
        #expect(try await server.pause(), "\(remote.program) did not stop")
        let results = try await attempts(auth, count: 8)
        server.resume()
        #expect(results.count == 8)
        for result in results {
            let error = try #require(result.error, "a token was accepted while the store could not answer")
            #expect(error.code == .revocationUnavailable && error.httpStatus == 503)
            // The store failed the check itself (a timeout of its own), not the race.
            #expect(error.message.contains("did not answer within") == false, "\(error.message)")
            #expect((((error.underlying as? RevocationError)?.underlying) as? CacheError)?.code == .timeout, "\(error)")
            // The bound is 0.275 s; the margin absorbs a loaded machine, well under the 3 s
            // timeout the check is no longer raced against and the 10 s the client would take.
            #expect(result.seconds >= 0.24 && result.seconds < 1.5, "took \(result.seconds) s")
        }
        try await backend.shutdown()
        await server.stop()
    }

    @Test(
        "read_timeout longer than revocationTimeout, or none: the race still cuts the check off at the timeout",
        arguments: RemoteCacheServer.allCases)
    func raceStays(_ remote: RemoteCacheServer) async throws {
        for readTimeout in [nil, 5.0] {
            let server = try await remote.start()
            let (auth, store, backend) = try authentication(remote, server, readTimeout: readTimeout, revocationTimeout: .milliseconds(300))
            #expect(readTimeout == nil ? store.checkTimeLimit == nil : store.checkTimeLimit! > auth.revocationTimeout)
            #expect(try await server.pause(), "\(remote.program) did not stop")
            let results = try await attempts(auth, count: 4)
            server.resume()
            for result in results {
                let error = try #require(result.error, "a token was accepted while the store could not answer")
                #expect(error.code == .revocationUnavailable)
                #expect(error.message.contains("did not answer within"), "\(error.message)")
                #expect(result.seconds >= 0.29 && result.seconds < 1.5, "took \(result.seconds) s")
            }
            try await backend.shutdown()
            await server.stop()
        }
    }
}
