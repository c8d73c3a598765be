import CachingTesting
import Foundation
import Testing

/// What only real processes show: the executable's start-up and exit, two servers sharing
/// one memcached, and a memcached that dies under a running server.
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

    @Test("two servers sharing memcached: a logout on one is refused on the other at once; both stop cleanly")
    func twoProcesses() async throws {
        let memcached = try await MemcachedServer.start(arguments: ["-M"])
        let settings = try writeMemcachedSettings(memcached)
        let first = try await ServerProcess.start(["--caches", settings, "--revocation", "shared"])
        let second = try await ServerProcess.start(["--caches", settings, "--revocation", "shared"])
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
        await memcached.stop()
        try? FileManager.default.removeItem(atPath: settings)
    }

    @Test("memcached down: protected requests answer 503 (fail closed), then recover without a restart")
    func failClosed() async throws {
        let memcached = try await MemcachedServer.start(arguments: ["-M"])
        let settings = try writeMemcachedSettings(memcached)
        let server = try await ServerProcess.start(["--caches", settings, "--revocation", "shared", "--revocation-timeout-ms", "1500"])
        let (access, _) = try await server.login()
        #expect(try await server.request("GET", "/profile", token: access).status == 200)

        await memcached.kill()
        let down = try await server.request("GET", "/profile", token: access)
        #expect(down.status == 503, "\(down.text)")
        #expect(down["error"] == "revocation_unavailable")
        #expect(down.headers["retry-after"] == "1")
        let logoutDown = try await server.request("POST", "/auth/logout", token: access)
        #expect(logoutDown.status == 503, "a logout must not report success when nothing was revoked: \(logoutDown.text)")
        #expect(logoutDown["error"] == "revocation_unavailable")

        try await memcached.restart()
        var recovered = 0
        for _ in 0..<50 where recovered == 0 {
            if try await server.request("GET", "/profile", token: access).status == 200 {
                recovered += 1
            } else {
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
