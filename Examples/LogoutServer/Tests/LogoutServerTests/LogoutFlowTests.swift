import Caching
import CachingTesting
import Foundation
import LogoutServerApp
import Testing
import TokenAuth

/// A storage choice for revocation, with what the server needs to use it.
struct Storage: Sendable, CustomTestStringConvertible {
    var name: String
    /// Prepares the storage (writes a caches file, starts memcached) and returns server
    /// arguments plus a clean-up closure.
    var prepare: @Sendable () async throws -> (arguments: [String], cleanUp: @Sendable () async -> Void)
    var testDescription: String { name }

    static let localMemory = Storage(name: "local memory (no configuration)") { ([], {}) }

    static let inMemoryStore = Storage(name: "InMemoryRevocation") { (["--revocation", "memory"], {}) }

    static let files = Storage(name: "files") {
        let directory = NSTemporaryDirectory() + "logout-\(UUID().uuidString)"
        let settings = directory + ".json"
        try #"{"default": {"BACKEND": "file", "LOCATION": "\#(directory)", "OPTIONS": {"MAX_ENTRIES": 10000, "WHEN_FULL": "refuse"}}}"#
            .write(toFile: settings, atomically: true, encoding: .utf8)
        return (
            ["--caches", settings],
            {
                try? FileManager.default.removeItem(atPath: directory)
                try? FileManager.default.removeItem(atPath: settings)
            }
        )
    }

    static let memcached = Storage(name: "memcached") {
        let server = try await MemcachedServer.start(arguments: ["-M"])
        let settings = try writeMemcachedSettings(server)
        return (
            ["--caches", settings, "--revocation", "shared"],
            {
                await server.stop()
                try? FileManager.default.removeItem(atPath: settings)
            }
        )
    }

    static let redis = Storage(name: "redis") {
        let server = try await RedisServer.start()
        let settings = try writeRedisSettings(server)
        return (
            ["--caches", settings, "--revocation", "shared"],
            {
                await server.stop()
                try? FileManager.default.removeItem(atPath: settings)
            }
        )
    }

    /// `DatabaseRevocation` on the SQLite file of a `db` alias.
    static let sqlite = Storage(name: "SQLite (database:shared)") {
        let (settings, cleanUp) = try writeSQLiteSettings()
        return (["--caches", settings, "--revocation", "database:shared"], cleanUp)
    }

    /// `DatabaseRevocation` on a PostgreSQL server this test starts, through a `postgres` alias.
    static let postgres = Storage(name: "PostgreSQL (database:shared)") {
        let server = try await PostgresServer.start()
        let settings = try writePostgresSettings(server)
        return (
            ["--caches", settings, "--revocation", "database:shared"],
            {
                await server.stop()
                try? FileManager.default.removeItem(atPath: settings)
            }
        )
    }

    static let all: [Storage] = [.localMemory, .inMemoryStore, .files, .memcached, .redis, .sqlite, .postgres]
}

func writeMemcachedSettings(_ server: MemcachedServer) throws -> String {
    let settings = NSTemporaryDirectory() + "logout-\(UUID().uuidString).json"
    let json = """
        {"default": {"BACKEND": "locmem"},
         "shared": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache", "LOCATION": "\(server.address)",
                    "OPTIONS": {"connect_timeout": 0.5, "poll_timeout": 0.5, "retry_timeout": 1, "servers_never_evict": true}}}
        """
    try json.write(toFile: settings, atomically: true, encoding: .utf8)
    return settings
}

/// A caches file whose alias `shared` is the Redis server (Django's `RedisCache` path), with
/// short timeouts, a read bound within the server's revocation timeout, and the declaration that
/// the server never evicts (a test server has no `maxmemory`).
func writeRedisSettings(_ server: RedisServer) throws -> String {
    let settings = NSTemporaryDirectory() + "logout-\(UUID().uuidString).json"
    let json = """
        {"default": {"BACKEND": "locmem"},
         "shared": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "\(server.url)",
                    "OPTIONS": {"connect_timeout": 0.5, "timeout": 0.5, "read_timeout": 0.5, "servers_never_evict": true}}}
        """
    try json.write(toFile: settings, atomically: true, encoding: .utf8)
    return settings
}

/// A caches file whose alias `shared` is the database cache on a new SQLite file (whose
/// database `--revocation database:shared` holds revocations in); the clean-up removes both.
func writeSQLiteSettings() throws -> (settings: String, cleanUp: @Sendable () async -> Void) {
    let base = NSTemporaryDirectory() + "logout-\(UUID().uuidString)"
    let settings = base + ".json"
    let json = """
        {"default": {"BACKEND": "locmem"},
         "shared": {"BACKEND": "db", "LOCATION": "auth_cache", "OPTIONS": {"database": "\(base).sqlite3", "busy_timeout": 1}}}
        """
    try json.write(toFile: settings, atomically: true, encoding: .utf8)
    return (
        settings,
        {
            for suffix in [".json", ".sqlite3", ".sqlite3-wal", ".sqlite3-shm"] {
                try? FileManager.default.removeItem(atPath: base + suffix)
            }
        }
    )
}

/// A caches file whose alias `shared` is the database cache on the PostgreSQL server, with
/// short connect and statement timeouts (within the server's revocation timeout).
func writePostgresSettings(_ server: PostgresServer) throws -> String {
    let settings = NSTemporaryDirectory() + "logout-\(UUID().uuidString).json"
    let json = """
        {"default": {"BACKEND": "locmem"},
         "shared": {"BACKEND": "postgres", "LOCATION": "auth_cache",
                    "OPTIONS": {"database": "host=127.0.0.1 port=\(server.port) user=postgres dbname=postgres connect_timeout=1", "timeout": 1}}}
        """
    try json.write(toFile: settings, atomically: true, encoding: .utf8)
    return settings
}

/// The HTTP API, in this process through the router (HummingbirdTesting), on a manual clock:
/// nothing here sleeps. `ProcessTests` covers what needs real processes. Each run has caches of
/// its own (see ``RouterClient/run(_:clock:_:)``), so the tests run in parallel.
@Suite("LogoutServer API")
struct LogoutFlowTests {
    @Test("login, profile, logout, refresh with rotation and reuse refusal, logout everywhere", arguments: Storage.all)
    func flow(storage: Storage) async throws {
        let (arguments, cleanUp) = try await storage.prepare()
        let clock = ManualCacheClock(start: SystemCacheClock().now().rounded(.down))
        do {
            try await RouterClient.run(arguments, clock: clock) { server in try await runFlow(server, clock: clock) }
        } catch {
            await cleanUp()
            throw error
        }
        await cleanUp()
    }

    func runFlow(_ server: some APIClient, clock: ManualCacheClock) async throws {
        let (access, refresh) = try await server.login()

        var profile = try await server.request("GET", "/profile", token: access)
        #expect(profile.status == 200)
        #expect(profile["user_id"] == "1")
        #expect(profile.json["is_admin"] as? Double == 1)
        #expect((profile.json["permissions"] as? [String])?.contains("users:manage") == true)

        // Logout ends the login: the access token and the refresh token of the same login.
        let logout = try await server.request("POST", "/auth/logout", token: access)
        #expect(logout.status == 200)
        profile = try await server.request("GET", "/profile", token: access)
        #expect(profile.status == 401)
        #expect(profile["error"] == "revoked")
        #expect(profile.headers["www-authenticate"]?.hasPrefix("Bearer") == true)
        let afterLogout = try await server.refresh(refresh)
        #expect(afterLogout.status == 401)
        #expect(afterLogout["error"] == "revoked")

        // Refresh: rotation issues a new pair; the old refresh token is then refused,
        // and presenting it again revokes the whole login (its family).
        let (_, loginRefresh) = try await server.login()
        let rotated = try await server.refresh(loginRefresh)
        #expect(rotated.status == 200)
        let newAccess = try #require(rotated["access_token"])
        let newRefresh = try #require(rotated["refresh_token"])
        #expect(try await server.request("GET", "/profile", token: newAccess).status == 200)
        let reused = try await server.refresh(loginRefresh)
        #expect(reused.status == 401)
        #expect(reused["error"] == "refresh_token_reused")
        #expect(try await server.request("GET", "/profile", token: newAccess).status == 401)
        #expect(try await server.refresh(newRefresh).status == 401)

        // Logout everywhere: every token issued so far is refused, and so is one issued in the
        // same second as the logout (`iat` is in whole seconds, the cut-off exact); a login
        // one second later works.
        let (first, _) = try await server.login()
        let (second, secondRefresh) = try await server.login()
        #expect(try await server.request("POST", "/auth/logout-all", token: first).status == 200)
        let everywhere = try await server.request("GET", "/profile", token: second)
        #expect(everywhere.status == 401)
        #expect(everywhere["error"] == "revoked_by_logout_everywhere")
        #expect(try await server.refresh(secondRefresh).status == 401)
        let (sameSecond, _) = try await server.login()
        #expect(try await server.request("GET", "/profile", token: sameSecond).status == 401)
        clock.advance(by: 1)
        let (fresh, _) = try await server.login()
        #expect(try await server.request("GET", "/profile", token: fresh).status == 200)
        // Another user is untouched.
        let (bob, _) = try await server.login("bob", "builder")
        let bobProfile = try await server.request("GET", "/profile", token: bob)
        #expect(bobProfile.status == 200)
        #expect(bobProfile.json["is_admin"] as? Double == 0)
    }

    @Test("an access token expires after its 15 minutes plus the 60 s leeway; its refresh token still rotates")
    func accessTokenExpiry() async throws {
        let clock = ManualCacheClock(start: 1_767_225_600)
        try await RouterClient.run(clock: clock) { server in
            let (access, refresh) = try await server.login()
            clock.advance(by: .seconds(15 * 60 + 60 - 1))
            #expect(try await server.request("GET", "/profile", token: access).status == 200)
            clock.advance(by: 1)
            let expired = try await server.request("GET", "/profile", token: access)
            #expect(expired.status == 401)
            #expect(expired["error"] == "expired")
            #expect(expired.headers["www-authenticate"] == #"Bearer error="invalid_token""#)
            let rotated = try await server.refresh(refresh)
            #expect(rotated.status == 200)
            #expect(rotated.json["expires_in"] as? Double == 900)
            let newAccess = try #require(rotated["access_token"])
            #expect(try await server.request("GET", "/profile", token: newAccess).status == 200)
        }
    }

    @Test("a refresh token expires after 30 days plus the leeway; each rotation starts a new 30 days")
    func refreshTokenExpiry() async throws {
        let clock = ManualCacheClock(start: 1_767_225_600)
        let day = Duration.seconds(86_400)
        try await RouterClient.run(clock: clock) { server in
            let (_, unused) = try await server.login()
            let (_, refresh) = try await server.login()
            clock.advance(by: day * 20)
            let rotated = try await server.refresh(refresh)
            #expect(rotated.status == 200)
            let rotatedRefresh = try #require(rotated["refresh_token"])
            clock.advance(by: day * 10 + .seconds(60))
            let expired = try await server.refresh(unused)
            #expect(expired.status == 401)
            #expect(expired["error"] == "expired")
            // 20 days after its rotation, the new refresh token is still good.
            clock.advance(by: day * 10)
            #expect(try await server.refresh(rotatedRefresh).status == 200)
        }
    }

    @Test("a token issued later than now plus the leeway (a server clock gone back) is refused")
    func notYetValid() async throws {
        let clock = ManualCacheClock(start: 1_767_225_600)
        try await RouterClient.run(clock: clock) { server in
            let (access, _) = try await server.login()
            clock.advance(by: -60)
            #expect(try await server.request("GET", "/profile", token: access).status == 200)
            clock.advance(by: -1)
            let early = try await server.request("GET", "/profile", token: access)
            #expect(early.status == 401)
            #expect(early["error"] == "not_yet_valid")
        }
    }

    @Test("without revocation, logout says it cannot revoke and the token keeps working")
    func noRevocation() async throws {
        try await RouterClient.run(["--revocation", "none"]) { server in
            let (access, _) = try await server.login()
            let logout = try await server.request("POST", "/auth/logout", token: access)
            #expect(logout.status == 501)
            #expect(logout["error"] == "revocation_disabled")
            let logoutAll = try await server.request("POST", "/auth/logout-all", token: access)
            #expect(logoutAll.status == 501)
            #expect(logoutAll["error"] == "revocation_disabled")
            #expect(try await server.request("GET", "/profile", token: access).status == 200)
        }
    }

    @Test("bad input gets its status code and snake_case error code, and the server keeps serving")
    func badInput() async throws {
        let clock = ManualCacheClock(start: 1_767_225_600)
        try await RouterClient.run(clock: clock) { server in
            let (access, refresh) = try await server.login()
            let otherSecret = try Token.create(sub: "1", expiresIn: .seconds(600), type: .access, clock: clock)
                .encode(secret: "a secret the server does not know")
            let cases: [(String, Reply, Int, String)] = [
                ("no body", try await server.request("POST", "/auth/login"), 400, "malformed_body"),
                ("not JSON", try await server.request("POST", "/auth/login", body: "{username"), 400, "malformed_body"),
                ("JSON array", try await server.request("POST", "/auth/login", body: "[1]"), 400, "malformed_body"),
                (
                    "wrong field type", try await server.request("POST", "/auth/login", body: #"{"username": 1, "password": "x"}"#), 400,
                    "malformed_body"
                ),
                ("missing field", try await server.request("POST", "/auth/login", body: #"{"username": "alice"}"#), 400, "malformed_body"),
                (
                    "null field", try await server.request("POST", "/auth/login", body: #"{"username": null, "password": "x"}"#), 400,
                    "malformed_body"
                ),
                (
                    "enormous body", try await server.request("POST", "/auth/login", bodyData: Data(repeating: 0x20, count: 2_000_000)),
                    413, "body_too_large"
                ),
                (
                    "wrong password", try await server.request("POST", "/auth/login", body: #"{"username": "alice", "password": "x"}"#),
                    401, "invalid_credentials"
                ),
                (
                    "unknown user", try await server.request("POST", "/auth/login", body: #"{"username": "mallory", "password": "x"}"#),
                    401, "invalid_credentials"
                ),
                ("refresh token on profile", try await server.request("GET", "/profile", token: refresh), 401, "wrong_token_type"),
                ("access token as refresh", try await server.refresh(access), 401, "wrong_token_type"),
                ("refresh body without token", try await server.request("POST", "/auth/refresh", body: "{}"), 400, "malformed_body"),
                ("garbage refresh token", try await server.refresh("not.a.jwt"), 401, "malformed"),
                ("no Authorization", try await server.request("GET", "/profile"), 401, "missing_header"),
                (
                    "Basic instead of Bearer", try await server.request("GET", "/profile", authorization: "Basic YWxpY2U6d29uZGVybGFuZA=="),
                    401, "not_bearer"
                ),
                ("token without scheme", try await server.request("GET", "/profile", authorization: access), 401, "not_bearer"),
                ("garbage token", try await server.request("GET", "/profile", token: "not.a.jwt"), 401, "malformed"),
                ("other secret", try await server.request("GET", "/profile", token: otherSecret), 401, "bad_signature"),
                ("logout without token", try await server.request("POST", "/auth/logout"), 401, "missing_header"),
                ("logout everywhere without token", try await server.request("POST", "/auth/logout-all"), 401, "missing_header"),
            ]
            for (name, reply, status, code) in cases {
                #expect(reply.status == status, "\(name): \(reply.status) \(reply.text)")
                #expect(reply["error"] == code, "\(name): \(reply.text)")
                #expect(reply["detail"]?.isEmpty == false, "\(name): \(reply.text)")
                if status == 401, code != "invalid_credentials" {
                    #expect(reply.headers["www-authenticate"]?.hasPrefix("Bearer") == true, "\(name)")
                }
            }
            #expect(try await server.request("GET", "/health").status == 200)
            #expect(try await server.request("GET", "/profile", token: access).status == 200)
        }
    }
}
