public import Caching
import CachingConfiguration
import CachingMemcached
import CachingPostgres
import CachingRedis
public import CachingSQLite
public import Configuration
public import Hummingbird
public import Logging
import NIOCore
public import ServiceLifecycle
import TokenAuth
import TokenRevocation

/// Builds the logout server from its configuration: caches, revocation store, users, routes.
public enum LogoutServerApplication {
    /// What was built, for start-up logs and shutdown.
    public struct Built: Sendable {
        public var auth: AuthService
        public var caches: Caches
        /// The SQL store of `--revocation database:<alias>`, or nil for the other strategies.
        /// The application runs its cleanup and closes it on graceful shutdown.
        public var databaseRevocation: DatabaseRevocation?
        /// Where metrics and spans go: `GET /metrics`'s registry, and the tracer.
        public var observability = ServerObservability(metrics: false)
    }

    /// Builds the caches and the authentication service.
    ///
    /// - Parameters:
    ///   - configuration: The server's configuration.
    ///   - logger: The server's logger.
    ///   - clock: The wall clock for tokens, caches and revocation: the system clock, or a
    ///     `ManualCacheClock` in tests so that expiry needs no sleeping.
    ///   - config: The reader the configuration came from
    ///     (``ServerConfiguration/configReader(arguments:environment:)``): without a caches file,
    ///     the caches of its `caches.<alias>.*` keys when `caches.default.backend` or
    ///     `caches.aliases` is set.
    ///   - observability: Where the caches and token checks report; by default a registry of
    ///     this server's when ``ServerConfiguration/metrics`` is on, and no tracer.
    /// - Throws: ``ServerConfigurationError`` or `CacheError` for bad settings or an unknown
    ///   alias, or what production mode refuses (``ServerConfiguration/checkForProduction()``).
    public static func makeAuth(
        _ configuration: ServerConfiguration, logger: Logger, clock: any CacheClock = SystemCacheClock(),
        config: ConfigReader? = nil, observability: ServerObservability? = nil
    ) async throws -> Built {
        try configuration.checkForProduction()
        let observability = observability ?? ServerObservability(metrics: configuration.metrics)
        let caches: Caches
        let backends = CacheBackends.standard.withMemcached().withRedis().withSQLite().withPostgres()
        if let file = configuration.cachesFile {
            caches = try Caches(contentsOf: file, backends: backends, clock: clock, logger: logger, observability: observability.cache)
        } else if let config, config.string(forKey: "caches.default.backend") != nil || config.stringArray(forKey: "caches.aliases") != nil
        {
            caches = try await Caches(
                config: config, backends: backends, clock: clock, logger: logger, observability: observability.cache)
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
                ], clock: clock, logger: logger, observability: observability.cache)
        }
        let store: (any RevocationStore)?
        let description: String
        var databaseRevocation: DatabaseRevocation?
        switch configuration.revocation {
        case "none":
            store = nil
            description = "none (logout cannot revoke)"
        case "memory":
            store = InMemoryRevocation(clock: clock)
            description = "InMemoryRevocation (this process only)"
        case let option where option.hasPrefix(ServerConfiguration.databaseRevocationPrefix):
            let alias = String(option.dropFirst(ServerConfiguration.databaseRevocationPrefix.count))
            let database = try await makeDatabaseRevocation(caches: caches, alias: alias, logger: logger)
            databaseRevocation = database
            store = database
            description =
                "DatabaseRevocation on the database of cache alias '\(alias)' (\(caches.settings[alias]?.backend ?? "?"), tables '\(database.table)' and '\(database.stateTable)'; expired rows deleted every \(configuration.revocationCleanupInterval))"
        case let alias:
            let cache = try caches[alias]
            let backend = caches.settings[alias]?.backend ?? "?"
            store = try CacheRevocation(caches: caches, alias: alias, logger: logger)
            description =
                "CacheRevocation over cache alias '\(alias)' (\(backend)\(configuration.cachesFile == nil && caches.settings[alias]?.backend == "locmem" ? ", local memory: no caches file given" : ""), keys like '\(cache.makeKey("revoked:<jti>"))')"
        }
        let users: UserDirectory
        if let usersFile = configuration.usersFile {
            users = try await UserDirectory.load(path: usersFile)
        } else {
            users = await UserDirectory.demo()
        }
        var throttleObservability = observability.cache
        throttleObservability.alias = configuration.throttleAlias
        let throttleCache =
            caches.aliases.contains(configuration.throttleAlias)
            ? try caches[configuration.throttleAlias]
            : Cache.localMemory(
                maxEntries: 100_000, configuration: CacheConfiguration(clock: clock, observability: throttleObservability))
        let throttle = LoginThrottle(
            cache: throttleCache, perUser: configuration.loginAttemptsPerUser, perClient: configuration.loginAttemptsPerClient,
            window: Double(configuration.loginWindow.components.seconds))
        let auth = try AuthService(
            configuration: configuration, users: users, store: store, revocationDescription: description, throttle: throttle,
            logger: logger, clock: clock, observability: observability.cache)
        return Built(auth: auth, caches: caches, databaseRevocation: databaseRevocation, observability: observability)
    }

    /// The store of `--revocation database:<alias>`: `DatabaseRevocation` on the alias's
    /// database, its tables created now when the database answers. A database that does not
    /// answer yet is no start-up error (requests fail closed until it does); an alias that is
    /// missing or on another backend is.
    private static func makeDatabaseRevocation(caches: Caches, alias: String, logger: Logger) async throws -> DatabaseRevocation {
        guard caches.aliases.contains(alias) else {
            throw ServerConfigurationError(
                "--revocation \(ServerConfiguration.databaseRevocationPrefix)\(alias): the cache alias '\(alias)' doesn't exist; "
                    + "aliases are \(caches.aliases.sorted().map { "'\($0)'" }.joined(separator: ", "))")
        }
        let store: DatabaseRevocation
        do {
            store = try DatabaseRevocation(caches: caches, alias: alias)
        } catch {
            throw ServerConfigurationError("--revocation \(ServerConfiguration.databaseRevocationPrefix)\(alias): \(error.message)")
        }
        do {
            try await store.createTables()
        } catch {
            logger.warning(
                "The revocation database does not answer yet; protected requests answer 503 until it does",
                metadata: ["revocation.alias": "\(alias)", "error": "\(error)"])
        }
        return store
    }

    /// Builds the HTTP application.
    ///
    /// - Parameters:
    ///   - built: The caches and authentication service.
    ///   - logger: The server's logger.
    ///   - services: More services to run beside the server (an OTLP exporter).
    ///   - onRunning: Called with the bound port once the server listens.
    public static func makeApplication(
        _ built: Built, logger: Logger, services extraServices: [any Service] = [],
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router(context: LogoutRequestContext.self)
        if let tracer = built.observability.tracer { router.add(middleware: RequestTracingMiddleware(tracer: tracer)) }
        addRoutes(to: router, auth: built.auth)
        if let registry = built.observability.registry { addMetricsRoute(to: router, registry: registry) }
        let configuration = built.auth.configuration
        var services: [any Service] = [built.caches] + extraServices
        if let store = built.databaseRevocation {
            services.append(
                DatabaseRevocationService(
                    store: store, cleanup: store.cleanupService(interval: configuration.revocationCleanupInterval, logger: logger)))
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "LogoutServer"),
            // The caches run as a service: on graceful shutdown the server stops first, then the
            // database store's cleanup ends and its connections close, then every alias is shut
            // down (threads joined, connections and files closed).
            services: services,
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger)
    }
}

/// Runs a ``DatabaseRevocation``'s cleanup until graceful shutdown, then closes the store's
/// connections.
struct DatabaseRevocationService: Service {
    let store: DatabaseRevocation
    let cleanup: DatabaseRevocationCleanup

    func run() async {
        await cleanup.run()
        await store.shutdown()
    }
}
