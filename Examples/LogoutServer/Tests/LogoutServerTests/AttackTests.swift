import Caching
import CachingTesting
import Foundation
import LogoutServerApp
import Testing

/// The probes an attacker with an account runs against the server, rerun as tests: none of
/// them brings a logged-out token back, and a login flood is throttled.
@Suite("LogoutServer under attack")
struct AttackTests {
    /// Revocation stores as the attacker meets them: small local memory and files (300 entries,
    /// refusing rather than evicting), the in-memory store, memcached with two replicas, and Redis.
    static let stores: [Storage] = [
        Storage(name: "local memory, 300 entries") {
            try settingsFile(
                #"{"default": {"BACKEND": "locmem", "LOCATION": "attack-\#(UUID().uuidString)", "OPTIONS": {"MAX_ENTRIES": 300, "WHEN_FULL": "refuse"}}}"#
            )
        },
        Storage(name: "files, 300 entries") {
            let directory = NSTemporaryDirectory() + "logout-attack-\(UUID().uuidString)"
            let (arguments, cleanUp) = try settingsFile(
                #"{"default": {"BACKEND": "file", "LOCATION": "\#(directory)", "OPTIONS": {"MAX_ENTRIES": 300, "WHEN_FULL": "refuse"}}}"#)
            return (
                arguments,
                {
                    await cleanUp()
                    try? FileManager.default.removeItem(atPath: directory)
                }
            )
        },
        .inMemoryStore,
        Storage(name: "memcached, 2 servers with every key on both") {
            let first = try await MemcachedServer.start(arguments: ["-M"])
            let second = try await MemcachedServer.start(arguments: ["-M"])
            let (arguments, cleanUp) = try settingsFile(
                #"{"default": {"BACKEND": "memcached", "LOCATION": ["\#(first.address)", "\#(second.address)"], "OPTIONS": {"replicas": 2, "servers_never_evict": true}}}"#
            )
            return (
                arguments,
                {
                    await cleanUp()
                    await first.stop()
                    await second.stop()
                }
            )
        },
        .redis,
    ]

    static func settingsFile(_ json: String) throws -> (arguments: [String], cleanUp: @Sendable () async -> Void) {
        let path = NSTemporaryDirectory() + "logout-attack-\(UUID().uuidString).json"
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        return (["--caches", path], { try? FileManager.default.removeItem(atPath: path) })
    }

    @Test("350 refreshes by one user change nothing for another user's logout, rotation or logout everywhere", arguments: stores)
    func refreshFlood(storage: Storage) async throws {
        let (arguments, cleanUp) = try await storage.prepare()
        let clock = ManualCacheClock(start: SystemCacheClock().now().rounded(.down))
        do {
            try await RouterClient.run(arguments, clock: clock) { server in try await flood(server) }
        } catch {
            await cleanUp()
            throw error
        }
        await cleanUp()
    }

    func flood(_ server: some APIClient) async throws {
        // Bob logs out one login, rotates another, and logs out everywhere with a third.
        let (loggedOut, loggedOutRefresh) = try await server.login("bob", "builder")
        #expect(try await server.request("POST", "/auth/logout", token: loggedOut).status == 200)
        let (_, rotatedRefresh) = try await server.login("bob", "builder")
        #expect(try await server.refresh(rotatedRefresh).status == 200)
        let (everywhere, everywhereRefresh) = try await server.login("bob", "builder")
        #expect(try await server.request("POST", "/auth/logout-all", token: everywhere).status == 200)

        // Alice refreshes 350 times: state per login, not per refresh, so nothing fills up.
        var (_, refresh) = try await server.login()
        for _ in 0..<350 {
            let rotated = try await server.refresh(refresh)
            #expect(rotated.status == 200)
            refresh = try #require(rotated["refresh_token"])
        }

        #expect(try await server.request("GET", "/profile", token: loggedOut).status == 401)
        #expect(try await server.refresh(loggedOutRefresh).status == 401)
        // The used refresh token is refused (reuse, or bob's logout everywhere, which came later).
        let reused = try await server.refresh(rotatedRefresh)
        #expect(reused.status == 401)
        #expect(["refresh_token_reused", "revoked_by_logout_everywhere"].contains(reused["error"] ?? ""))
        #expect(try await server.refresh(everywhereRefresh).status == 401)
        #expect(try await server.request("GET", "/profile", token: everywhere).status == 401)
    }

    @Test("login attempts are throttled per username and per client: 429 with Retry-After, then allowed again")
    func loginFlood() async throws {
        let clock = ManualCacheClock(start: 1_767_225_600)
        try await RouterClient.run(clock: clock) { server in
            for attempt in 0..<10 {
                let wrong = try await server.request(
                    "POST", "/auth/login", body: #"{"username": "alice", "password": "guess-\#(attempt)"}"#)
                #expect(wrong.status == 401)
            }
            let throttled = try await server.request("POST", "/auth/login", body: #"{"username": "alice", "password": "wonderland"}"#)
            #expect(throttled.status == 429)
            #expect(throttled["error"] == "too_many_attempts")
            #expect(throttled.headers["retry-after"] == "60")
            // Another user is not throttled by alice's attempts.
            #expect(try await server.request("POST", "/auth/login", body: #"{"username": "bob", "password": "builder"}"#).status == 200)
            clock.advance(by: 60)
            #expect(
                try await server.request("POST", "/auth/login", body: #"{"username": "alice", "password": "wonderland"}"#).status == 200)
            // Per client: 100 attempts a minute, whatever the usernames.
            clock.advance(by: 60)
            var statuses: [Int] = []
            for index in 0..<101 {
                statuses.append(
                    try await server.request("POST", "/auth/login", body: #"{"username": "user-\#(index)", "password": "x"}"#).status)
            }
            #expect(statuses.prefix(100).allSatisfy { $0 == 401 })
            #expect(statuses.last == 429)
        }
    }
}

/// A flood of wrong-password logins must not slow authenticated requests: password hashing has
/// threads of its own with a bounded queue, and file-cache I/O never waits behind it.
@Suite("LogoutServer: a login flood beside authenticated requests")
struct LoginFloodTests {
    @Test("40 concurrent wrong-password logins while 200 profile requests on a file-backed server all answer 200")
    func floodBesideProfile() async throws {
        let directory = NSTemporaryDirectory() + "logout-flood-\(UUID().uuidString)"
        let (arguments, cleanUp) = try AttackTests.settingsFile(
            #"{"default": {"BACKEND": "file", "LOCATION": "\#(directory)", "OPTIONS": {"MAX_ENTRIES": 10000, "WHEN_FULL": "refuse"}}}"#)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        defer { Task { await cleanUp() } }
        let clock = ManualCacheClock(start: SystemCacheClock().now().rounded(.down))
        try await RouterClient.run(arguments, clock: clock) { server in
            let (access, _) = try await server.login("bob", "builder")
            let (statuses, latencies, loginStatuses) = try await withThrowingTaskGroup(of: [Int].self) { group in
                for index in 0..<40 {
                    group.addTask {
                        let reply = try await server.request(
                            "POST", "/auth/login", body: #"{"username": "flood-\#(index)", "password": "guess"}"#)
                        return [-reply.status]
                    }
                }
                var statuses: [Int] = []
                var latencies: [Double] = []
                for _ in 0..<200 {
                    let started = ContinuousClock.now
                    let reply = try await server.request("GET", "/profile", token: access)
                    let (seconds, attoseconds) = (ContinuousClock.now - started).components
                    latencies.append(Double(seconds) * 1000 + Double(attoseconds) / 1e15)
                    statuses.append(reply.status)
                }
                var loginStatuses: [Int] = []
                for try await result in group { loginStatuses.append(contentsOf: result.map { -$0 }) }
                return (statuses, latencies, loginStatuses)
            }
            let sorted = latencies.sorted()
            let p50 = sorted[sorted.count / 2]
            let p99 = sorted[sorted.count * 99 / 100]
            print(
                "login flood: profile p50 \(p50) ms, p99 \(p99) ms; logins \(Dictionary(grouping: loginStatuses, by: { $0 }).mapValues(\.count))"
            )
            #expect(statuses.allSatisfy { $0 == 200 }, "every authenticated request answered 200")
            #expect(loginStatuses.allSatisfy { $0 == 401 || $0 == 503 }, "wrong passwords are refused, or the flood is turned away at once")
            #expect(p99 < 1000, "below the revocation timeout: nothing waited behind the hashing")
        }
    }
}
