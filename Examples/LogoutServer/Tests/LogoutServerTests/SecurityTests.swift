import Caching
import CachingTesting
import Foundation
import HummingbirdBcrypt
import InMemoryLogging
import Logging
import LogoutServerApp
import Testing

/// Writes a users file with one user, `alice` / `a long passphrase`, hashed at `cost`.
func writeUsersFile(cost: UInt8) throws -> String {
    let path = NSTemporaryDirectory() + "users-\(UUID().uuidString).json"
    let hash = Bcrypt.hash("a long passphrase", cost: cost)
    let json = #"{"alice": {"user_id": "1", "password_hash": "\#(hash)", "is_staff": false, "is_admin": false, "permissions": []}}"#
    try json.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

/// An error body that says what kind of error and which request, and nothing of the inside:
/// no server address, no key prefix or layout, no path, no pointer.
func expectGenericBody(_ reply: Reply, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(reply["error"]?.isEmpty == false, "no code: \(reply.text)", sourceLocation: sourceLocation)
    #expect(reply["detail"]?.isEmpty == false, "no message: \(reply.text)", sourceLocation: sourceLocation)
    #expect(reply["request_id"]?.isEmpty == false, "no request id: \(reply.text)", sourceLocation: sourceLocation)
    for leak in ["127.0.0.1", ":1:", "revoked:", "/", "0x"] {
        #expect(!reply.text.contains(leak), "the body shows '\(leak)': \(reply.text)", sourceLocation: sourceLocation)
    }
}

/// The median of some durations.
func median(_ values: [Duration]) -> Duration {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

@Suite("LogoutServer: secrets, logins and error bodies")
struct SecurityTests {
    @Test("the dummy hash for unknown users has the highest cost among the users' hashes")
    func dummyCost() async throws {
        let demo = await UserDirectory.demo()
        #expect(demo.dummyCost == 8)
        await demo.shutdown()
        let users = try writeUsersFile(cost: 5)
        defer { try? FileManager.default.removeItem(atPath: users) }
        let loaded = try await UserDirectory.load(path: users)
        #expect(loaded.dummyCost == 5)
        await loaded.shutdown()
        let mixed = await UserDirectory.make(users: [
            "a": DemoUser(userID: "1", passwordHash: Bcrypt.hash("x", cost: 4), isStaff: false, isAdmin: false, permissions: []),
            "b": DemoUser(userID: "2", passwordHash: Bcrypt.hash("y", cost: 6), isStaff: false, isAdmin: false, permissions: []),
        ])
        #expect(mixed.dummyCost == 6)
        await mixed.shutdown()
        // A hash that is not bcrypt is refused at start-up, not discovered at login.
        let bad = NSTemporaryDirectory() + "users-\(UUID().uuidString).json"
        try #"{"eve": {"user_id": "9", "password_hash": "plain", "is_staff": false, "is_admin": false, "permissions": []}}"#
            .write(toFile: bad, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: bad) }
        let refused = await #expect(throws: ServerConfigurationError.self) { try await UserDirectory.load(path: bad) }
        #expect(refused?.message.contains("the password_hash of 'eve' is not a bcrypt hash") == true)
    }

    @Test("a known user's wrong password and an unknown user take the same time (cost-11 hashes)")
    func loginTiming() async throws {
        let users = try writeUsersFile(cost: 11)
        defer { try? FileManager.default.removeItem(atPath: users) }
        let clock = ManualCacheClock(start: 1_767_225_600)
        try await RouterClient.run(["--users", users], clock: clock) { server in
            func timed(_ username: String) async throws -> Duration {
                let start = ContinuousClock.now
                let reply = try await server.request(
                    "POST", "/auth/login", body: #"{"username": "\#(username)", "password": "wrong guess"}"#)
                let elapsed = ContinuousClock.now - start
                #expect(reply.status == 401, "\(reply.text)")
                return elapsed
            }
            // Interleaved, so that load from other tests falls on both alike; 9 of each stays
            // under the 10 attempts a username may make in a minute.
            var known: [Duration] = []
            var unknown: [Duration] = []
            for _ in 0..<9 {
                known.append(try await timed("alice"))
                unknown.append(try await timed("nobody"))
            }
            // The fastest attempt of each: load from the tests running beside this one only
            // adds time, so the minimum is the hash's own cost (medians moved by 1.44x when the
            // first four attempts of each fell on a busy machine).
            let (knownFastest, unknownFastest) = (known.min()!, unknown.min()!)
            let ratio = knownFastest / unknownFastest
            print(
                "login timing: known user, wrong password \(knownFastest) (median \(median(known))); unknown user \(unknownFastest) (median \(median(unknown))); ratio \(ratio)"
            )
            // Tolerance: bcrypt's time doubles with each step of cost, so the smallest cost
            // difference (the old dummy was cost 8: 8x faster than cost 11) makes a ratio of at
            // least 2. Equal costs differ only by noise; the fastest of 9 interleaved attempts
            // stays well within a factor of √2, half a cost step, which still tells equality
            // from any cost difference.
            #expect(ratio > 1 / 2.0.squareRoot() && ratio < 2.0.squareRoot(), "known \(known), unknown \(unknown)")
        }
    }

    @Test("a password with a NUL is refused before bcrypt (which would stop at the NUL)")
    func nulPassword() async throws {
        let clock = ManualCacheClock(start: 1_767_225_600)
        try await RouterClient.run(clock: clock) { server in
            let truncated = try await server.request(
                "POST", "/auth/login", body: #"{"username": "alice", "password": "wonderland\u0000anything"}"#)
            #expect(truncated.status == 400, "\(truncated.text)")
            #expect(truncated["error"] == "invalid_password")
            #expect(truncated["access_token"] == nil)
            let atEnd = try await server.request("POST", "/auth/login", body: #"{"username": "alice", "password": "wonderland\u0000"}"#)
            #expect(atEnd["error"] == "invalid_password")
            #expect(try await server.login("alice", "wonderland").0.isEmpty == false)
        }
        // The directory refuses it too, whatever calls it.
        let users = await UserDirectory.demo()
        #expect(try await users.verify(username: "alice", password: "wonderland") != nil)
        #expect(try await users.verify(username: "alice", password: "wonderland\u{0}anything") == nil)
        await users.shutdown()
    }

    @Test("error bodies carry a code, a generic message and a request id that the log carries with the cause")
    func errorBodies() async throws {
        let memcached = try await MemcachedServer.start(arguments: ["-M"])
        let settings = try writeMemcachedSettings(memcached)
        defer { try? FileManager.default.removeItem(atPath: settings) }
        let logging = InMemoryLogHandler()
        var logger = Logger(label: "LogoutServerTests", factory: { _ in logging })
        logger.logLevel = .info
        let clock = ManualCacheClock(start: SystemCacheClock().now().rounded(.down))
        try await RouterClient.run(
            ["--caches", settings, "--revocation", "shared", "--revocation-timeout-ms", "1500"], clock: clock, logger: logger
        ) { server in
            let (access, refresh) = try await server.login()
            let garbage = try await server.request("GET", "/profile", token: "not.a.jwt")
            #expect(garbage.status == 401)
            expectGenericBody(garbage)
            let missing = try await server.request("GET", "/no/such/route")
            #expect(missing.status == 404)
            #expect(missing["error"] == "not_found")
            #expect(missing["request_id"]?.isEmpty == false)

            await memcached.kill()
            let replies = [
                try await server.request("GET", "/profile", token: access),
                try await server.request("POST", "/auth/logout", token: access),
                try await server.refresh(refresh),
                try await server.request("POST", "/auth/login", body: #"{"username": "bob", "password": "builder"}"#),
            ]
            var ids: Set<String> = []
            for reply in replies {
                #expect(reply.status == 503, "\(reply.text)")
                #expect(reply["error"] == "revocation_unavailable")
                expectGenericBody(reply)
                let id = try #require(reply["request_id"])
                ids.insert(id)
                let logged = logging.entries.filter { $0.metadata["hb.request.id"]?.description == id }
                let entry = try #require(logged.first { $0.level == .error }, "no error logged for request \(id)")
                #expect(entry.metadata["error.code"] == "revocation_unavailable")
                let cause = entry.metadata["error.underlying"]?.description ?? ""
                #expect(!cause.isEmpty, "the cause is logged")
            }
            #expect(ids.count == replies.count, "each request has its own id")
        }
        await memcached.stop()
    }
}
