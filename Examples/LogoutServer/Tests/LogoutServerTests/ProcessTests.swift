import CachingTesting
import Foundation
import LogoutServerApp
import Testing

/// A server several logout servers share for revocation: memcached, Redis or PostgreSQL,
/// started by the test, or a SQLite file.
enum SharedStore: String, Sendable, CaseIterable, CustomTestStringConvertible {
    case memcached
    case redis
    case sqlite
    case postgres

    /// The stores that run as a server a test can kill and start again.
    static let servers: [SharedStore] = [.memcached, .redis, .postgres]

    var testDescription: String { rawValue }

    /// A running store and the caches file that names it as the alias `shared`.
    struct Running: Sendable {
        var settings: String
        /// The `--revocation` value: the alias, or `database:shared` for the databases.
        var revocation = "shared"
        var kill: @Sendable () async -> Void
        var restart: @Sendable () async throws -> Void
        var stop: @Sendable () async -> Void
    }

    func start() async throws -> Running {
        switch self {
        case .memcached:
            let server = try await MemcachedServer.start(arguments: ["-M"])
            return Running(
                settings: try writeMemcachedSettings(server), kill: { await server.kill() }, restart: { try await server.restart() },
                stop: { await server.stop() })
        case .redis:
            let server = try await RedisServer.start()
            return Running(
                settings: try writeRedisSettings(server), kill: { await server.kill() }, restart: { try await server.restart() },
                stop: { await server.stop() })
        case .sqlite:
            let (settings, cleanUp) = try writeSQLiteSettings()
            return Running(
                settings: settings, revocation: "database:shared", kill: {},
                restart: { throw ServerTestError("a SQLite file has no server to restart") }, stop: cleanUp)
        case .postgres:
            let server = try await PostgresServer.start()
            return Running(
                settings: try writePostgresSettings(server), revocation: "database:shared", kill: { await server.kill() },
                restart: { try await server.startAgain() }, stop: { await server.stop() })
        }
    }
}

/// What only real processes show: the executable's start-up and exit, two servers sharing
/// one memcached or Redis, and a memcached or Redis that dies under a running server.
@Suite("LogoutServer processes", .serialized)
struct ProcessTests {
    @Test("start-up refuses a missing secret in production, an unknown alias, and bad settings")
    func startupErrors() async throws {
        let (productionStatus, productionError) = try await ServerProcess.runExpectingFailure(
            ["--mode", "production"], environment: ["JWT_SECRET": ""])
        #expect(productionStatus == 2)
        #expect(productionError.contains("JWT secret is required in production mode"))
        let (aliasStatus, aliasError) = try await ServerProcess.runExpectingFailure(["--revocation", "nosuchalias"])
        #expect(aliasStatus == 1)
        #expect(aliasError.contains("'nosuchalias' doesn't exist"))
        // A database store needs a database-cache alias: another backend is refused, naming it.
        let (databaseStatus, databaseError) = try await ServerProcess.runExpectingFailure(["--revocation", "database:default"])
        #expect(databaseStatus == 1)
        #expect(databaseError.contains(#"database:default: CACHES["default"] uses the locmem backend"#), "\(databaseError)")
        let (missingStatus, missingError) = try await ServerProcess.runExpectingFailure(["--revocation", "database:auth"])
        #expect(missingStatus == 1)
        #expect(missingError.contains("the cache alias 'auth' doesn't exist"), "\(missingError)")
        let settings = NSTemporaryDirectory() + "bad-\(UUID().uuidString).json"
        try #"{"default": {"BACKEND": "locmem", "TIMEOUT": "soon"}}"#.write(toFile: settings, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: settings) }
        let (settingsStatus, settingsError) = try await ServerProcess.runExpectingFailure(["--caches", settings])
        #expect(settingsStatus == 1)
        #expect(settingsError.contains(#"CACHES["default"]["TIMEOUT"]"#))
        let (optionStatus, optionError) = try await ServerProcess.runExpectingFailure(["--prot", "80"])
        #expect(optionStatus == 2)
        #expect(optionError.contains("unknown option --prot"))
    }

    @Test("production refuses a short secret, the development secret and the demo users, each with its own error")
    func productionRefusals() async throws {
        let users = try writeUsersFile(cost: 4)
        defer { try? FileManager.default.removeItem(atPath: users) }
        let strong = String(repeating: "s", count: 32)

        let (shortStatus, shortError) = try await ServerProcess.runExpectingFailure(
            ["--mode", "production", "--users", users], environment: ["JWT_SECRET": String(repeating: "s", count: 31)])
        #expect(shortStatus == 1)
        #expect(shortError.contains("the JWT secret has 31 bytes; production needs at least 32"), "\(shortError)")
        #expect(!shortError.contains("users file"))

        let (developmentStatus, developmentError) = try await ServerProcess.runExpectingFailure(
            ["--mode", "production", "--users", users, "--secret", ServerConfiguration.developmentSecret])
        #expect(developmentStatus == 1)
        #expect(developmentError.contains("the JWT secret is the published development secret"), "\(developmentError)")

        let (demoStatus, demoError) = try await ServerProcess.runExpectingFailure(
            ["--mode", "production"], environment: ["JWT_SECRET": strong, "USERS_FILE": ""])
        #expect(demoStatus == 1)
        #expect(demoError.contains("no users file: the demo accounts (alice, bob) have published passwords"), "\(demoError)")
        #expect(!demoError.contains("JWT secret"))

        // All three at once are all named.
        let (allStatus, allError) = try await ServerProcess.runExpectingFailure(
            ["--mode", "production", "--secret", "x"], environment: ["USERS_FILE": ""])
        #expect(allStatus == 1)
        #expect(allError.contains("has 1 bytes") && allError.contains("no users file"), "\(allError)")

        // With a long secret and a users file, production starts; the demo account does not exist.
        let server = try await ServerProcess.start(["--mode", "production", "--users", users], environment: ["JWT_SECRET": strong])
        let demo = try await server.request("POST", "/auth/login", body: #"{"username": "bob", "password": "builder"}"#)
        #expect(demo.status == 401)
        #expect(try await server.login("alice", "a long passphrase").0.isEmpty == false)
        await server.stop()
        #expect(server.exitStatus == 0)
    }

    @Test(
        "two servers sharing memcached, Redis, SQLite or PostgreSQL: a logout on one is refused on the other at once; both stop cleanly",
        arguments: SharedStore.allCases)
    func twoProcesses(store: SharedStore) async throws {
        let shared = try await store.start()
        let settings = shared.settings
        let first = try await ServerProcess.start(["--caches", settings, "--revocation", shared.revocation])
        let second = try await ServerProcess.start(["--caches", settings, "--revocation", shared.revocation])
        if shared.revocation != "shared" {
            #expect(first.log.contains("Revocation: DatabaseRevocation on the database of cache alias 'shared'"), "\(first.log)")
        }
        let (access, loggedOutRefresh) = try await first.login()
        #expect(try await second.request("GET", "/profile", token: access).status == 200)
        #expect(try await first.request("POST", "/auth/logout", token: access).status == 200)
        let refused = try await second.request("GET", "/profile", token: access)
        #expect(refused.status == 401)
        #expect(refused["error"] == "revoked")
        #expect(try await second.refresh(loggedOutRefresh).status == 401, "logout ended the login on both servers")
        // Rotation on one server; reuse detected on the other.
        let (_, refresh) = try await second.login()
        #expect(try await second.refresh(refresh).status == 200)
        let reused = try await first.refresh(refresh)
        #expect(reused.status == 401)
        #expect(reused["error"] == "refresh_token_reused")
        // Bad input over real HTTP leaves the server serving.
        #expect(try await first.request("POST", "/auth/login", bodyData: Data(repeating: 0x20, count: 2_000_000)).status == 413)
        #expect(try await first.request("GET", "/health").status == 200)
        await first.stop()
        await second.stop()
        #expect(first.exitStatus == 0)
        #expect(second.exitStatus == 0)
        await shared.stop()
        try? FileManager.default.removeItem(atPath: settings)
    }

    @Test(
        "memcached, Redis or PostgreSQL down: protected requests answer 503 (fail closed), then recover without a restart",
        arguments: SharedStore.servers)
    func failClosed(store: SharedStore) async throws {
        let shared = try await store.start()
        let settings = shared.settings
        let server = try await ServerProcess.start([
            "--caches", settings, "--revocation", shared.revocation, "--revocation-timeout-ms", "1500",
        ])
        let (access, _) = try await server.login()
        #expect(try await server.request("GET", "/profile", token: access).status == 200)

        await shared.kill()
        let down = try await server.request("GET", "/profile", token: access)
        #expect(down.status == 503, "\(down.text)")
        #expect(down["error"] == "revocation_unavailable")
        #expect(down.headers["retry-after"] == "1")
        let logoutDown = try await server.request("POST", "/auth/logout", token: access)
        #expect(logoutDown.status == 503, "a logout must not report success when nothing was revoked: \(logoutDown.text)")
        #expect(logoutDown["error"] == "revocation_unavailable")
        // The bodies say nothing of the store, its address or the key layout; the request id
        // they carry finds the cause in the server's log.
        for reply in [down, logoutDown] {
            expectGenericBody(reply)
            let id = try #require(reply["request_id"])
            // The server logs before it answers, but this process reads its output on another
            // thread: give that thread a moment on a busy machine.
            var line: Substring?
            for _ in 0..<100 where line == nil {
                line = server.log.split(separator: "\n").first { $0.contains(id) }
                if line == nil { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(line?.contains("revocation_unavailable") == true, "no log line with request id \(id) in: \(server.log)")
            #expect(line?.contains("error.underlying") == true, "the log keeps the cause: \(line ?? "")")
        }

        try await shared.restart()
        var recovered = 0
        for _ in 0..<50 where recovered == 0 {
            if try await server.request("GET", "/profile", token: access).status == 200 {
                recovered += 1
            } else {
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        #expect(recovered == 1, "the server did not recover within 10 s of \(store)'s return")
        #expect(try await server.request("POST", "/auth/logout", token: access).status == 200)
        #expect(try await server.request("GET", "/profile", token: access).status == 401)
        await server.stop()
        await shared.stop()
        try? FileManager.default.removeItem(atPath: settings)
    }
}
