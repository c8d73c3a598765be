import CachingTesting
import Foundation
import Testing

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
        try #"{"default": {"BACKEND": "file", "LOCATION": "\#(directory)"}}"#.write(toFile: settings, atomically: true, encoding: .utf8)
        return (["--caches", settings], {
            try? FileManager.default.removeItem(atPath: directory)
            try? FileManager.default.removeItem(atPath: settings)
        })
    }

    static let memcached = Storage(name: "memcached") {
        let server = try await MemcachedServer.start()
        let settings = try writeMemcachedSettings(server)
        return (["--caches", settings, "--revocation", "shared"], {
            await server.stop()
            try? FileManager.default.removeItem(atPath: settings)
        })
    }

    static let all: [Storage] = [.localMemory, .inMemoryStore, .files, .memcached]
}

func writeMemcachedSettings(_ server: MemcachedServer) throws -> String {
    let settings = NSTemporaryDirectory() + "logout-\(UUID().uuidString).json"
    let json = """
        {"default": {"BACKEND": "locmem"},
         "shared": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache", "LOCATION": "\(server.address)",
                    "OPTIONS": {"connect_timeout": 0.5, "poll_timeout": 0.5, "retry_timeout": 1}}}
        """
    try json.write(toFile: settings, atomically: true, encoding: .utf8)
    return settings
}

@Suite("LogoutServer end to end", .serialized)
struct LogoutFlowTests {
    @Test("login, profile, logout, refresh with rotation and reuse refusal, logout everywhere", arguments: Storage.all)
    func flow(storage: Storage) async throws {
        let (arguments, cleanUp) = try await storage.prepare()
        let server = try await ServerProcess.start(arguments)
        do {
            try await runFlow(server)
        } catch {
            await server.stop()
            await cleanUp()
            throw error
        }
        await server.stop()
        await cleanUp()
    }

    func runFlow(_ server: ServerProcess) async throws {
        let (access, refresh) = try await server.login()

        var profile = try await server.request("GET", "/profile", token: access)
        #expect(profile.status == 200)
        #expect(profile["user_id"] == "1")
        #expect(profile.json["is_admin"] as? Double == 1)
        #expect((profile.json["permissions"] as? [String])?.contains("users:manage") == true)

        let logout = try await server.request("POST", "/auth/logout", token: access)
        #expect(logout.status == 200)
        profile = try await server.request("GET", "/profile", token: access)
        #expect(profile.status == 401)
        #expect(profile["error"] == "revoked")
        #expect(profile.headers["www-authenticate"]?.hasPrefix("Bearer") == true)

        // Refresh: rotation issues a new pair; the old refresh token is then refused,
        // and presenting it again revokes the whole login (its family).
        let rotated = try await server.request("POST", "/auth/refresh", body: #"{"refresh_token": "\#(refresh)"}"#)
        #expect(rotated.status == 200)
        let newAccess = try #require(rotated["access_token"])
        let newRefresh = try #require(rotated["refresh_token"])
        #expect(try await server.request("GET", "/profile", token: newAccess).status == 200)
        let reused = try await server.request("POST", "/auth/refresh", body: #"{"refresh_token": "\#(refresh)"}"#)
        #expect(reused.status == 401)
        #expect(reused["error"] == "refresh_token_reused")
        #expect(try await server.request("GET", "/profile", token: newAccess).status == 401)
        #expect(try await server.request("POST", "/auth/refresh", body: #"{"refresh_token": "\#(newRefresh)"}"#).status == 401)

        // Logout everywhere: every token issued so far is refused; a new login works.
        let (first, _) = try await server.login()
        let (second, secondRefresh) = try await server.login()
        #expect(try await server.request("POST", "/auth/logout-all", token: first).status == 200)
        #expect(try await server.request("GET", "/profile", token: second).status == 401)
        #expect(try await server.request("POST", "/auth/refresh", body: #"{"refresh_token": "\#(secondRefresh)"}"#).status == 401)
        try await Task.sleep(for: .milliseconds(1100))
        let (fresh, _) = try await server.login()
        #expect(try await server.request("GET", "/profile", token: fresh).status == 200)
        // Another user is untouched.
        let (bob, _) = try await server.login("bob", "builder")
        let bobProfile = try await server.request("GET", "/profile", token: bob)
        #expect(bobProfile.status == 200)
        #expect(bobProfile.json["is_admin"] as? Double == 0)
    }

    @Test("without revocation, logout says it cannot revoke and the token keeps working")
    func noRevocation() async throws {
        let server = try await ServerProcess.start(["--revocation", "none"])
        defer { Task { await server.stop() } }
        let (access, _) = try await server.login()
        let logout = try await server.request("POST", "/auth/logout", token: access)
        #expect(logout.status == 501)
        #expect(logout["error"] == "revocation_disabled")
        #expect(try await server.request("GET", "/profile", token: access).status == 200)
        await server.stop()
    }

    @Test("bad input gets its status code and the server keeps serving")
    func badInput() async throws {
        let server = try await ServerProcess.start()
        let (access, refresh) = try await server.login()
        let cases: [(String, ServerProcess.Reply, Int, String)] = [
            ("no body", try await server.request("POST", "/auth/login"), 400, "malformed_body"),
            ("not JSON", try await server.request("POST", "/auth/login", body: "{username"), 400, "malformed_body"),
            ("JSON array", try await server.request("POST", "/auth/login", body: "[1]"), 400, "malformed_body"),
            ("wrong field type", try await server.request("POST", "/auth/login", body: #"{"username": 1, "password": "x"}"#), 400, "malformed_body"),
            ("missing field", try await server.request("POST", "/auth/login", body: #"{"username": "alice"}"#), 400, "malformed_body"),
            ("null field", try await server.request("POST", "/auth/login", body: #"{"username": null, "password": "x"}"#), 400, "malformed_body"),
            ("enormous body", try await server.request("POST", "/auth/login", bodyData: Data(repeating: 0x20, count: 2_000_000)), 413, "body_too_large"),
            ("wrong password", try await server.request("POST", "/auth/login", body: #"{"username": "alice", "password": "x"}"#), 401, "invalid_credentials"),
            ("unknown user", try await server.request("POST", "/auth/login", body: #"{"username": "mallory", "password": "x"}"#), 401, "invalid_credentials"),
            ("refresh token on profile", try await server.request("GET", "/profile", token: refresh), 401, "wrong_token_type"),
            ("access token as refresh", try await server.request("POST", "/auth/refresh", body: #"{"refresh_token": "\#(access)"}"#), 401, "wrong_token_type"),
            ("refresh body without token", try await server.request("POST", "/auth/refresh", body: "{}"), 400, "malformed_body"),
            ("no Authorization", try await server.request("GET", "/profile"), 401, "missing_header"),
            ("Basic instead of Bearer", try await server.request("GET", "/profile", authorization: "Basic YWxpY2U6d29uZGVybGFuZA=="), 401, "not_bearer"),
            ("token without scheme", try await server.request("GET", "/profile", authorization: access), 401, "not_bearer"),
            ("garbage token", try await server.request("GET", "/profile", token: "not.a.jwt"), 401, "malformed"),
            ("other secret", try await server.request("GET", "/profile", token: try otherSecretToken()), 401, "bad_signature"),
            ("logout without token", try await server.request("POST", "/auth/logout"), 401, "missing_header"),
        ]
        for (name, reply, status, code) in cases {
            #expect(reply.status == status, "\(name): \(reply.status) \(reply.text)")
            #expect(reply["error"] == code, "\(name): \(reply.text)")
        }
        #expect(try await server.request("GET", "/health").status == 200)
        #expect(try await server.request("GET", "/profile", token: access).status == 200)
        await server.stop()
        #expect(server.exitStatus == 0)
    }

    @Test("start-up refuses a missing secret in production, an unknown alias, and bad settings")
    func startupErrors() async throws {
        let (productionStatus, productionError) = try await ServerProcess.runExpectingFailure(["--mode", "production"], environment: ["JWT_SECRET": ""])
        #expect(productionStatus == 2)
        #expect(productionError.contains("JWT secret is required in production mode"))
        let (aliasStatus, aliasError) = try await ServerProcess.runExpectingFailure(["--revocation", "nosuchalias"])
        #expect(aliasStatus == 1)
        #expect(aliasError.contains("'nosuchalias' doesn't exist"))
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

    @Test("two servers sharing memcached: a logout on one is refused on the other at once")
    func twoProcesses() async throws {
        let memcached = try await MemcachedServer.start()
        let settings = try writeMemcachedSettings(memcached)
        let first = try await ServerProcess.start(["--caches", settings, "--revocation", "shared"])
        let second = try await ServerProcess.start(["--caches", settings, "--revocation", "shared"])
        let (access, refresh) = try await first.login()
        #expect(try await second.request("GET", "/profile", token: access).status == 200)
        #expect(try await first.request("POST", "/auth/logout", token: access).status == 200)
        let refused = try await second.request("GET", "/profile", token: access)
        #expect(refused.status == 401)
        #expect(refused["error"] == "revoked")
        // Rotation on one server; reuse detected on the other.
        #expect(try await second.request("POST", "/auth/refresh", body: #"{"refresh_token": "\#(refresh)"}"#).status == 200)
        #expect(try await first.request("POST", "/auth/refresh", body: #"{"refresh_token": "\#(refresh)"}"#).status == 401)
        await first.stop()
        await second.stop()
        await memcached.stop()
        try? FileManager.default.removeItem(atPath: settings)
    }

    @Test("memcached down: protected requests answer 503 (fail closed), then recover without a restart")
    func failClosed() async throws {
        let memcached = try await MemcachedServer.start()
        let settings = try writeMemcachedSettings(memcached)
        let server = try await ServerProcess.start(["--caches", settings, "--revocation", "shared", "--revocation-timeout-ms", "1500"])
        let (access, _) = try await server.login()
        #expect(try await server.request("GET", "/profile", token: access).status == 200)

        await memcached.kill()
        let down = try await server.request("GET", "/profile", token: access)
        #expect(down.status == 503, "\(down.text)")
        #expect(down["error"] == "revocation_unavailable")
        let logoutDown = try await server.request("POST", "/auth/logout", token: access)
        #expect(logoutDown.status == 503, "a logout must not report success when nothing was revoked: \(logoutDown.text)")

        try await memcached.restart()
        var recovered = 0
        for _ in 0..<50 where recovered == 0 {
            if try await server.request("GET", "/profile", token: access).status == 200 { recovered += 1 } else {
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        #expect(recovered == 1, "the server did not recover within 10 s of memcached's return")
        #expect(try await server.request("POST", "/auth/logout", token: access).status == 200)
        #expect(try await server.request("GET", "/profile", token: access).status == 401)
        await server.stop()
        await memcached.stop()
        try? FileManager.default.removeItem(atPath: settings)
    }
}

/// A well-formed access token signed with a secret the server does not know.
func otherSecretToken() throws -> String {
    func b64(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
    let header = b64(Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
    let now = Int(Date().timeIntervalSince1970)
    let payload = b64(Data(#"{"sub":"1","exp":\#(now + 600),"iat":\#(now),"jti":"x","typ":"access"}"#.utf8))
    return "\(header).\(payload).\(b64(Data(repeating: 7, count: 32)))"
}
