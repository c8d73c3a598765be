public import Configuration

/// How the logout server runs: where it listens, which caches it uses, how it revokes.
///
/// Every setting comes from a command-line option or, failing that, an environment variable,
/// read through one swift-configuration `ConfigReader` (``configReader(arguments:environment:)``):
///
/// | option | environment | default | meaning |
/// | --- | --- | --- | --- |
/// | `--host` | `LOGOUT_HOST` | `127.0.0.1` | address to listen on |
/// | `--port` | `LOGOUT_PORT` | `8000` | port (0 picks a free one) |
/// | `--caches` | `CACHES_FILE` | none: local memory | a JSON file in the shape of Django's `CACHES` |
/// | `--revocation` | `REVOCATION` | `default` | `none`, `memory`, a cache alias (`CacheRevocation` over it), or `database:<alias>` (`DatabaseRevocation` on the database of a `db` or `postgres` alias) |
/// | `--secret` | `JWT_SECRET` | a development secret | the HMAC secret; required outside development mode, at least 32 bytes |
/// | `--mode` | `APP_MODE` | `development` | `development` or `production` |
/// | `--users` | `USERS_FILE` | the demo users (development only) | a JSON file of users with bcrypt password hashes |
/// | `--revocation-timeout-ms` | `REVOCATION_TIMEOUT_MS` | `1000` | longest wait for the revocation store (then 503) |
/// | `--metrics` | `METRICS` | `on` | `on`: `GET /metrics` in Prometheus' text format; `off`: no metrics, no route |
/// | `--otlp-endpoint` | `OTEL_EXPORTER_OTLP_ENDPOINT` | none: no traces | where to export traces over OTLP/HTTP (`http://127.0.0.1:4318`); needs a build with the `OTLP` trait |
/// | none | `CACHES_ALIASES`, `CACHES_<ALIAS>_BACKEND`, `CACHES_<ALIAS>_OPTIONS_<NAME>`… | none | the caches without a file, as CachingConfiguration reads them (used when `--caches` is not given and `caches.default.backend` or `caches.aliases` is set) |
///
/// Production mode refuses to start (``checkForProduction()``) with a secret under 32 bytes,
/// with the published ``developmentSecret``, or without a users file (the demo accounts'
/// passwords are published). Development mode accepts a short secret, with a warning.
public struct ServerConfiguration: Sendable, Equatable {
    public enum Mode: String, Sendable, Equatable {
        case development
        case production
    }

    public var host = "127.0.0.1"
    public var port = 8000
    public var cachesFile: String?
    public var revocation = "default"
    public var secret: String?
    public var mode = Mode.development
    public var usersFile: String?
    public var revocationTimeoutMilliseconds = 1000
    /// Whether the caches and token checks report metrics, exposed at `GET /metrics`.
    public var metrics = true
    /// The OTLP/HTTP collector traces are exported to, or `nil` for no traces.
    public var otlpEndpoint: String?
    /// Lifetime of access tokens (15 minutes).
    public var accessLifetime = Duration.seconds(15 * 60)
    /// Lifetime of refresh tokens (30 days).
    public var refreshLifetime = Duration.seconds(30 * 24 * 3600)
    /// Clock-skew tolerance when verifying tokens; revocations outlive `exp` by this much.
    public var leeway = Duration.seconds(60)
    /// Login attempts allowed per username in one ``loginWindow``.
    public var loginAttemptsPerUser = 10
    /// Login attempts allowed per client address in one ``loginWindow``.
    public var loginAttemptsPerClient = 100
    /// The window login attempts are counted in.
    public var loginWindow = Duration.seconds(60)
    /// The cache alias that holds login-throttling counters; without it in the caches file, a
    /// local-memory cache of this process holds them.
    public var throttleAlias = "throttle"
    /// The local-memory `LOCATION` of the embedded default caches (without a caches file):
    /// servers of one process with the same name share entries, as Django's do.
    public var embeddedCacheLocation = "logout-server"

    /// How often expired rows are deleted from the tables of `--revocation database:<alias>`.
    public var revocationCleanupInterval = Duration.seconds(300)

    /// The `--revocation` prefix that names a database-cache alias whose database holds the
    /// revocations in tables of their own (`database:auth`).
    public static let databaseRevocationPrefix = "database:"

    /// The secret used in development mode when none is given. Never use it in production.
    public static let developmentSecret = "development-secret-do-not-use-in-production"

    public init() {}

    /// Reads the configuration from arguments (`--name value` or `--name=value`) and the environment,
    /// through ``configReader(arguments:environment:)`` and ``init(config:)``.
    ///
    /// - Throws: ``ServerConfigurationError`` for an unknown option, a missing value, a bad
    ///   number, an unknown mode, or a missing secret outside development mode.
    public init(arguments: [String], environment: [String: String]) throws(ServerConfigurationError) {
        try self.init(config: Self.configReader(arguments: arguments, environment: environment))
    }

    /// Each option and the configuration key it sets; the environment variable is the key in
    /// upper case with `_` for `.` (swift-configuration's rule): `--port` is `logout.port`,
    /// `LOGOUT_PORT`.
    public static let optionKeys: [String: String] = [
        "host": "logout.host", "port": "logout.port", "caches": "caches.file", "revocation": "revocation",
        "secret": "jwt.secret", "mode": "app.mode", "users": "users.file", "revocation-timeout-ms": "revocation.timeout.ms",
        "metrics": "metrics", "otlp-endpoint": "otel.exporter.otlp.endpoint",
    ]

    /// The server's settings as one swift-configuration `ConfigReader`: the command-line options
    /// first, then the environment variables. The same reader holds the cache aliases of
    /// `caches.<alias>.*` (`CACHES_DEFAULT_BACKEND`…) that ``LogoutServerApplication`` builds
    /// when no caches file is given.
    ///
    /// - Parameters:
    ///   - arguments: The command line after the executable's name.
    ///   - environment: The environment variables (tests pass a dictionary of their own).
    /// - Returns: The reader.
    /// - Throws: ``ServerConfigurationError`` for an unknown option or a missing value.
    public static func configReader(arguments: [String], environment: [String: String]) throws(ServerConfigurationError)
        -> ConfigReader
    {
        var options: [AbsoluteConfigKey: ConfigValue] = [:]
        var index = 0
        let known = Set(optionKeys.keys)
        while index < arguments.count {
            let argument = arguments[index]
            guard argument.hasPrefix("--") else {
                throw ServerConfigurationError(
                    "unexpected argument '\(argument)'; options are --\(known.sorted().joined(separator: ", --"))")
            }
            var name = String(argument.dropFirst(2))
            let value: String
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            } else {
                index += 1
                guard index < arguments.count else { throw ServerConfigurationError("--\(name) needs a value") }
                value = arguments[index]
            }
            guard let key = optionKeys[name] else {
                throw ServerConfigurationError("unknown option --\(name); options are --\(known.sorted().joined(separator: ", --"))")
            }
            options[AbsoluteConfigKey(key.split(separator: ".").map(String.init))] = ConfigValue(.string(value), isSecret: name == "secret")
            index += 1
        }
        return ConfigReader(providers: [
            InMemoryProvider(name: "command line", values: options),
            EnvironmentVariablesProvider(environmentVariables: environment, secretsSpecifier: .specific(["JWT_SECRET"])),
        ])
    }

    /// Reads the configuration from a swift-configuration `ConfigReader` (keys as in
    /// ``optionKeys``; every value as text, as the command line and the environment give it).
    ///
    /// - Throws: ``ServerConfigurationError`` for a bad number, an unknown mode, or a missing
    ///   secret outside development mode.
    public init(config: ConfigReader) throws(ServerConfigurationError) {
        func setting(_ option: String, isSecret: Bool = false) -> String? {
            config.string(forKey: ConfigKey(Self.optionKeys[option, default: option]), isSecret: isSecret)
        }

        if let host = setting("host") { self.host = host }
        if let port = setting("port") {
            guard let number = Int(port), (0...65535).contains(number) else {
                throw ServerConfigurationError("the port must be a number from 0 to 65535; found '\(port)'")
            }
            self.port = number
        }
        cachesFile = setting("caches").flatMap { $0.isEmpty ? nil : $0 }
        if let revocation = setting("revocation"), !revocation.isEmpty { self.revocation = revocation }
        if self.revocation == Self.databaseRevocationPrefix {
            throw ServerConfigurationError(
                "--revocation \(Self.databaseRevocationPrefix) needs the alias of a db or postgres cache, as in \(Self.databaseRevocationPrefix)auth"
            )
        }
        secret = setting("secret", isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        if let mode = setting("mode") {
            guard let parsed = Mode(rawValue: mode) else {
                throw ServerConfigurationError("the mode must be 'development' or 'production'; found '\(mode)'")
            }
            self.mode = parsed
        }
        usersFile = setting("users").flatMap { $0.isEmpty ? nil : $0 }
        if let timeout = setting("revocation-timeout-ms") {
            guard let number = Int(timeout), number > 0 else {
                throw ServerConfigurationError("the revocation timeout must be a positive number of milliseconds; found '\(timeout)'")
            }
            revocationTimeoutMilliseconds = number
        }
        if let metrics = setting("metrics") {
            guard metrics == "on" || metrics == "off" else {
                throw ServerConfigurationError("--metrics must be 'on' or 'off'; found '\(metrics)'")
            }
            self.metrics = metrics == "on"
        }
        otlpEndpoint = setting("otlp-endpoint").flatMap { $0.isEmpty ? nil : $0 }
        if secret == nil, mode != .development {
            throw ServerConfigurationError("a JWT secret is required in \(mode.rawValue) mode: pass --secret or set JWT_SECRET")
        }
    }

    /// The secret to sign with: the configured one, or the development secret in development mode.
    public var signingSecret: String { secret ?? Self.developmentSecret }

    /// The shortest secret production mode accepts: HS256's hash output (RFC 7518 §3.2).
    public static let minimumProductionSecretBytes = 32

    /// Refuses, in production mode, what only development may use: a secret shorter than
    /// ``minimumProductionSecretBytes``, the published ``developmentSecret``, and the demo
    /// users (no users file). Development mode passes.
    ///
    /// - Throws: ``ServerConfigurationError`` naming every problem found and what to do.
    public func checkForProduction() throws(ServerConfigurationError) {
        guard mode == .production else { return }
        var problems: [String] = []
        let secret = signingSecret
        if secret == Self.developmentSecret {
            problems.append(
                "the JWT secret is the published development secret; generate one (e.g. `openssl rand -base64 48`)")
        } else if secret.utf8.count < Self.minimumProductionSecretBytes {
            problems.append(
                "the JWT secret has \(secret.utf8.count) bytes; production needs at least \(Self.minimumProductionSecretBytes) "
                    + "(RFC 7518 §3.2 for HS256); generate one (e.g. `openssl rand -base64 48`)")
        }
        if usersFile == nil {
            problems.append(
                "no users file: the demo accounts (alice, bob) have published passwords; pass --users or set USERS_FILE")
        }
        guard problems.isEmpty else {
            throw ServerConfigurationError("production mode refuses to start: " + problems.joined(separator: "; "))
        }
    }
}

/// A configuration problem, reported at start-up.
public struct ServerConfigurationError: Error, Sendable, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "configuration error: \(message)" }
}
