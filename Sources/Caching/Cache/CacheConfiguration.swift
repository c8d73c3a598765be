public import Logging

/// Makes a final key from a key, the alias's key prefix and a version: Django's `KEY_FUNCTION`.
///
/// The arguments are the key the caller gave, the `KEY_PREFIX` and the version.
public typealias CacheKeyFunction = @Sendable (_ key: String, _ prefix: String, _ version: Int) -> String

/// What happens when a made key breaks memcached's key rules.
public enum CacheKeyValidation: Sendable, Hashable {
    /// Throw ``CacheError/Code/invalidKey`` before any I/O (the default on every backend),
    /// so that a test on local memory catches a key memcached would refuse.
    case strict
    /// Log a warning (Django's `CacheKeyWarning`) and go on, as Django's non-memcached
    /// backends do. Backends that cannot store such a key (memcached) still throw.
    case warn
}

/// The behaviour every backend shares: key making, versions, the default timeout,
/// key validation, the clock and the logger.
///
/// This is the part of Django's `CACHES` entry that is not about storage
/// (`KEY_PREFIX`, `VERSION`, `KEY_FUNCTION`, `TIMEOUT`).
public struct CacheConfiguration: Sendable {
    /// Prepended to every key (Django's `KEY_PREFIX`, empty by default).
    public var keyPrefix: String { didSet { madePrefix = Self.madePrefix(keyPrefix, version) } }
    /// The version used when a call gives none (Django's `VERSION`, 1 by default).
    public var version: Int { didSet { madePrefix = Self.madePrefix(keyPrefix, version) } }
    /// Replaces `prefix:version:key` when set (Django's `KEY_FUNCTION`).
    public var keyFunction: CacheKeyFunction?
    /// `"\(keyPrefix):\(version):"`, kept up to date, so making a key at the default version
    /// is one concatenation (this runs on every call).
    @usableFromInline
    var madePrefix: String

    static func madePrefix(_ prefix: String, _ version: Int) -> String { "\(prefix):\(version):" }
    /// The timeout used when a call passes ``CacheTimeout/default`` (Django's `TIMEOUT`,
    /// 300 seconds by default). Must not itself be `.default`.
    public var defaultTimeout: CacheTimeout
    /// What an invalid key does.
    public var keyValidation: CacheKeyValidation
    /// The clock expiry is measured by.
    public var clock: any CacheClock
    /// Where warnings and errors are logged; `cache.alias` and `cache.backend` go in its metadata.
    public var logger: Logger
    /// Where metrics and spans go: ``CacheObservability/off`` by default. Read once, when a
    /// ``Cache`` is created with this configuration.
    public var observability: CacheObservability

    /// A logger that discards everything, the default.
    public static let silentLogger = Logger(label: "swift-caching", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Creates a configuration.
    ///
    /// - Parameters:
    ///   - keyPrefix: Prepended to every key.
    ///   - version: The default version.
    ///   - keyFunction: A custom key function, or `nil` for `prefix:version:key`.
    ///   - defaultTimeout: The timeout for ``CacheTimeout/default``; `.default` here means 300 seconds.
    ///   - keyValidation: Strict (throw) or Django's warn-and-proceed.
    ///   - clock: The wall clock for expiry.
    ///   - logger: Where to log.
    ///   - observability: Where metrics and spans go; off by default.
    public init(
        keyPrefix: String = "",
        version: Int = 1,
        keyFunction: CacheKeyFunction? = nil,
        defaultTimeout: CacheTimeout = .seconds(DjangoDefaults.timeoutSeconds),
        keyValidation: CacheKeyValidation = .strict,
        clock: any CacheClock = SystemCacheClock(),
        logger: Logger = CacheConfiguration.silentLogger,
        observability: CacheObservability = .off
    ) {
        self.keyPrefix = keyPrefix
        self.version = version
        self.madePrefix = Self.madePrefix(keyPrefix, version)
        self.keyFunction = keyFunction
        self.defaultTimeout = defaultTimeout == .default ? .seconds(DjangoDefaults.timeoutSeconds) : defaultTimeout
        self.keyValidation = keyValidation
        self.clock = clock
        self.logger = logger
        self.observability = observability
    }

    /// Makes the final key for `key`: `prefix:version:key`, or the custom key function's result.
    ///
    /// - Parameters:
    ///   - key: The key the caller gave.
    ///   - version: The version, or `nil` for ``version``.
    /// - Returns: The made key. It is not validated.
    @inlinable
    public func makeKey(_ key: String, version: Int? = nil) -> String {
        if keyFunction == nil, version == nil || version == self.version { return madePrefix + key }
        let version = version ?? self.version
        if let keyFunction { return keyFunction(key, keyPrefix, version) }
        return "\(keyPrefix):\(version):\(key)"
    }

    /// Turns a timeout into the expiry a backend stores, or `nil` when nothing is to be
    /// stored (zero or a negative number of seconds).
    public func expiry(for timeout: CacheTimeout) -> CacheExpiry? {
        let resolved = timeout == .default ? defaultTimeout : timeout
        switch resolved {
        case .never: return .never
        case .seconds(let seconds):
            guard seconds > 0 else { return nil }
            return .at(clock.now() + seconds)
        case .default: return .at(clock.now() + DjangoDefaults.timeoutSeconds)
        }
    }
}
