public import Caching
import CachingMemcached
import CachingRedis
public import Hummingbird
public import Logging
import NIOCore
import TokenAuth
import TokenRevocation

/// Builds the logout server from its configuration: caches, revocation store, users, routes.
public enum LogoutServerApplication {
    /// What was built, for start-up logs and shutdown.
    public struct Built: Sendable {
        public var auth: AuthService
        public var caches: Caches
    }

    /// Builds the caches and the authentication service.
    ///
    /// - Parameters:
    ///   - configuration: The server's configuration.
    ///   - logger: The server's logger.
    ///   - clock: The wall clock for tokens, caches and revocation: the system clock, or a
    ///     `ManualCacheClock` in tests so that expiry needs no sleeping.
    /// - Throws: ``ServerConfigurationError`` or `CacheError` for bad settings or an unknown
    ///   alias, or what production mode refuses (``ServerConfiguration/checkForProduction()``).
    public static func makeAuth(
        _ configuration: ServerConfiguration, logger: Logger, clock: any CacheClock = SystemCacheClock()
    ) async throws -> Built {
        try configuration.checkForProduction()
        let caches: Caches
        if let file = configuration.cachesFile {
            caches = try Caches(
                contentsOf: file, backends: CacheBackends.standard.withMemcached().withRedis(), clock: clock, logger: logger)
        } else {
            // Revocations in local memory that never evicts a live one (a full store answers 503
            // to a logout instead of forgetting an older one); throttling counters apart, where
            // culling only forgives a few attempts.
            caches = try Caches(
                [
                    "default": CacheSettings(
                        backend: "locmem", location: configuration.embeddedCacheLocation,
                        options: ["MAX_ENTRIES": 100_000, "WHEN_FULL": "refuse"]),
                    configuration.throttleAlias: CacheSettings(
                        backend: "locmem", location: configuration.embeddedCacheLocation + "-throttle", options: ["MAX_ENTRIES": 100_000]),
                ], clock: clock, logger: logger)
        }
        let store: (any RevocationStore)?
        let description: String
        switch configuration.revocation {
        case "none":
            store = nil
            description = "none (logout cannot revoke)"
        case "memory":
            store = InMemoryRevocation(clock: clock)
            description = "InMemoryRevocation (this process only)"
        case let alias:
            let cache = try caches[alias]
            let backend = caches.settings[alias]?.backend ?? "?"
            store = try CacheRevocation(caches: caches, alias: alias, logger: logger)
            description =
                "CacheRevocation over cache alias '\(alias)' (\(backend)\(configuration.cachesFile == nil ? ", local memory: no caches file given" : ""), keys like '\(cache.makeKey("revoked:<jti>"))')"
        }
        let users: UserDirectory
        if let usersFile = configuration.usersFile {
            users = try await UserDirectory.load(path: usersFile)
        } else {
            users = await UserDirectory.demo()
        }
        let throttleCache =
            caches.aliases.contains(configuration.throttleAlias)
            ? try caches[configuration.throttleAlias]
            : Cache.localMemory(maxEntries: 100_000, configuration: CacheConfiguration(clock: clock))
        let throttle = LoginThrottle(
            cache: throttleCache, perUser: configuration.loginAttemptsPerUser, perClient: configuration.loginAttemptsPerClient,
            window: Double(configuration.loginWindow.components.seconds))
        let auth = try AuthService(
            configuration: configuration, users: users, store: store, revocationDescription: description, throttle: throttle,
            logger: logger, clock: clock)
        return Built(auth: auth, caches: caches)
    }

    /// Builds the HTTP application.
    ///
    /// - Parameters:
    ///   - built: The caches and authentication service.
    ///   - logger: The server's logger.
    ///   - onRunning: Called with the bound port once the server listens.
    public static func makeApplication(
        _ built: Built, logger: Logger, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router(context: LogoutRequestContext.self)
        addRoutes(to: router, auth: built.auth)
        let configuration = built.auth.configuration
        return Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "LogoutServer"),
            // The caches run as a service: on graceful shutdown the server stops first, then every
            // alias is shut down (threads joined, connections and files closed).
            services: [built.caches],
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger)
    }
}
