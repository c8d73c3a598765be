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
    /// refusing rather than evicting), the in-memory store, and memcached with two replicas.
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
