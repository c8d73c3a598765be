import Caching
import CachingTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import LogoutServerApp
import Testing

/// The server's settings through swift-configuration: command line over environment, and the
/// caches of `CACHES_<ALIAS>_*` when no caches file is given. Each test passes an environment
/// dictionary of its own; the process's environment is never read nor changed.
@Suite("LogoutServer settings through a ConfigReader")
struct ConfigReaderTests {
    static var quietLogger: Logger {
        var logger = Logger(label: "ConfigReaderTests")
        logger.logLevel = .error
        return logger
    }

    @Test("a command-line option wins over its environment variable; the environment fills the rest")
    func commandLineOverEnvironment() throws {
        let config = try ServerConfiguration.configReader(
            arguments: ["--port", "9000", "--revocation=memory"],
            environment: ["LOGOUT_PORT": "8001", "LOGOUT_HOST": "0.0.0.0", "REVOCATION_TIMEOUT_MS": "250", "JWT_SECRET": "s3"])
        let configuration = try ServerConfiguration(config: config)
        #expect(configuration.port == 9000)
        #expect(configuration.host == "0.0.0.0")
        #expect(configuration.revocation == "memory")
        #expect(configuration.revocationTimeoutMilliseconds == 250)
        #expect(configuration.secret == "s3")
        #expect(
            try ServerConfiguration(arguments: ["--port", "9000", "--revocation=memory"], environment: ["LOGOUT_PORT": "8001"]).port == 9000
        )
        #expect(throws: ServerConfigurationError.self) {
            try ServerConfiguration.configReader(arguments: ["--nope", "1"], environment: [:])
        }
    }

    @Test("without a caches file, CACHES_<ALIAS>_* build the caches; logout revokes on them")
    func cachesFromEnvironment() async throws {
        let location = "logout-config-\(UniqueName.next())"
        let config = try ServerConfiguration.configReader(
            arguments: [],
            environment: [
                "CACHES_ALIASES": "default,throttle",
                "CACHES_DEFAULT_BACKEND": "locmem", "CACHES_DEFAULT_LOCATION": location,
                "CACHES_DEFAULT_KEY_PREFIX": "env", "CACHES_DEFAULT_OPTIONS_WHEN_FULL": "refuse",
                "CACHES_THROTTLE_BACKEND": "locmem", "CACHES_THROTTLE_LOCATION": location + "-throttle",
            ])
        let configuration = try ServerConfiguration(config: config)
        let clock = ManualCacheClock(start: SystemCacheClock().now().rounded(.down))
        let built = try await LogoutServerApplication.makeAuth(configuration, logger: Self.quietLogger, clock: clock, config: config)
        #expect(built.caches.aliases == ["default", "throttle"])
        #expect(built.caches.settings["default"]?.options["WHEN_FULL"] == "refuse")
        #expect(built.auth.revocationDescription.contains("CacheRevocation over cache alias 'default' (locmem"))
        #expect(built.auth.revocationDescription.contains("env:1:"), "\(built.auth.revocationDescription)")
        let app = LogoutServerApplication.makeApplication(built, logger: Self.quietLogger)
        try await app.test(.router) { client in
            let server = RouterClient(client: client)
            let (access, _) = try await server.login()
            #expect(try await server.request("POST", "/auth/logout", token: access).status == 200)
            #expect(try await server.request("GET", "/profile", token: access).status == 401)
            // The revocation lives in the configured alias: emptying it forgets the logout.
            try await built.caches.default.clear()
            #expect(try await server.request("GET", "/profile", token: access).status == 200)
        }
        for alias in built.caches.aliases { try await built.caches[alias].clear() }
        try await built.caches.shutdown()
        await built.auth.users.shutdown()
    }

    @Test("a malformed cache setting in the environment stops start-up, naming alias and setting")
    func malformedCacheSetting() async throws {
        let config = try ServerConfiguration.configReader(
            arguments: [], environment: ["CACHES_DEFAULT_BACKEND": "locmem", "CACHES_DEFAULT_TIMEOUT": "soon"])
        await #expect {
            _ = try await LogoutServerApplication.makeAuth(
                ServerConfiguration(config: config), logger: Self.quietLogger, config: config)
        } throws: { error in
            (error as? CacheError)?.message.contains(#"CACHES["default"]["TIMEOUT"]"#) == true
        }
    }
}
