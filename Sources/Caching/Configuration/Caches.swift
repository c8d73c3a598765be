public import Logging
public import ServiceLifecycle
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Caches by alias: Django's `CACHES` setting and `caches` handler.
///
/// ```swift
/// let caches = try Caches(contentsOf: "caches.json")
/// let cache = try caches.default          // caches["default"]
/// try await cache.set("greeting", "hello")
/// let sessions = try caches["sessions"]
/// ```
///
/// Every alias is built when the `Caches` is created, so an unknown backend or a malformed
/// setting fails at start-up, not on the first request. Each alias has one instance,
/// shared by every task.
///
/// In tests, ``withOverride(_:_:operation:)`` replaces one alias for the duration of a
/// closure, seen only by the tasks inside it, so tests that run in parallel do not disturb
/// each other.
///
/// **Lifecycle.** ``shutdown()`` releases what every alias holds (threads joined, connections
/// and descriptors closed). `Caches` is a swift-service-lifecycle `Service`: run it in the
/// server's `ServiceGroup` and it shuts every alias down on graceful shutdown, after the
/// services that use it (put it before them in the group's list).
///
/// ```swift
/// let group = ServiceGroup(services: [caches, server], gracefulShutdownSignals: [.sigterm], logger: logger)
/// try await group.run()
/// ```
public final class Caches: Sendable {
    private let instances: [String: Cache]
    private let isShutDown = Mutex(false)
    /// The settings each alias was built from.
    public let settings: [String: CacheSettings]

    /// The alias Django uses for `cache`.
    public static let defaultAlias = "default"

    /// Builds every alias from its settings.
    ///
    /// - Parameters:
    ///   - settings: Settings by alias.
    ///   - backends: The backends settings may name.
    ///   - clock: The clock every alias measures expiry by.
    ///   - logger: The logger every alias logs to, with `cache.alias` and `cache.backend` metadata added.
    ///   - observability: Where every alias reports metrics and spans, each with its alias as
    ///     a dimension; off by default.
    /// - Throws: ``CacheError/Code/unknownBackend`` or ``CacheError/Code/invalidSettings``
    ///   naming the alias and the setting.
    public init(
        _ settings: [String: CacheSettings], backends: CacheBackends = .standard,
        clock: any CacheClock = SystemCacheClock(), logger: Logger = CacheConfiguration.silentLogger,
        observability: CacheObservability = .off
    ) throws {
        var instances: [String: Cache] = [:]
        for (alias, aliasSettings) in settings.sorted(by: { $0.key < $1.key }) {
            guard let factory = backends.factory(named: aliasSettings.backend) else {
                throw CacheError(
                    .unknownBackend,
                    "CACHES[\"\(alias)\"][\"BACKEND\"] names '\(aliasSettings.backend)', which is not registered; known backends: \(backends.names.joined(separator: ", ")) (memcached needs `import CachingMemcached` and `CacheBackends.standard.withMemcached()`)"
                )
            }
            var aliasLogger = logger
            aliasLogger[metadataKey: "cache.alias"] = "\(alias)"
            aliasLogger[metadataKey: "cache.backend"] = "\(aliasSettings.backend)"
            var aliasObservability = observability
            aliasObservability.alias = alias
            let configuration = CacheConfiguration(
                keyPrefix: aliasSettings.keyPrefix, version: aliasSettings.version,
                keyFunction: aliasSettings.keyFunction, defaultTimeout: aliasSettings.timeout,
                keyValidation: aliasSettings.keyValidation, clock: clock, logger: aliasLogger,
                observability: aliasObservability)
            let context = CacheBackendContext(alias: alias, settings: aliasSettings, configuration: configuration)
            do {
                instances[alias] = Cache(try factory(context), configuration: configuration)
            } catch let error as CacheError {
                throw error
            } catch {
                throw CacheError(
                    .invalidSettings, "CACHES[\"\(alias)\"] could not be built by backend '\(aliasSettings.backend)': \(error)",
                    underlying: error)
            }
        }
        self.instances = instances
        self.settings = settings
    }

    /// Builds every alias from Django-shaped JSON (an object of aliases).
    ///
    /// - Parameters:
    ///   - json: UTF-8 JSON text.
    ///   - backends: The backends settings may name.
    ///   - clock: The clock for expiry.
    ///   - logger: The logger.
    ///   - observability: Where every alias reports metrics and spans; off by default.
    /// - Throws: ``CacheError/Code/invalidSettings`` for malformed JSON or settings,
    ///   ``CacheError/Code/unknownBackend``.
    public convenience init(
        json: some Collection<UInt8>, backends: CacheBackends = .standard,
        clock: any CacheClock = SystemCacheClock(), logger: Logger = CacheConfiguration.silentLogger,
        observability: CacheObservability = .off
    ) throws {
        try self.init(
            CacheSettings.parse(json: json), backends: backends, clock: clock, logger: logger, observability: observability)
    }

    /// Builds every alias from a JSON file in the shape of Django's `CACHES`.
    ///
    /// - Parameters:
    ///   - path: The file's path.
    ///   - backends: The backends settings may name.
    ///   - clock: The clock for expiry.
    ///   - logger: The logger.
    ///   - observability: Where every alias reports metrics and spans; off by default.
    /// - Throws: ``CacheError/Code/invalidSettings`` naming the file when it cannot be read.
    public convenience init(
        contentsOf path: String, backends: CacheBackends = .standard,
        clock: any CacheClock = SystemCacheClock(), logger: Logger = CacheConfiguration.silentLogger,
        observability: CacheObservability = .off
    ) throws {
        let bytes: [UInt8]
        do {
            bytes = try FileIO.readWholeFile(path)
        } catch {
            throw CacheError(.invalidSettings, "The cache settings file '\(path)' could not be read: \(error)", underlying: error)
        }
        try self.init(json: bytes, backends: backends, clock: clock, logger: logger, observability: observability)
    }

    /// The aliases, sorted.
    public var aliases: [String] { instances.keys.sorted() }

    /// The cache for an alias (Django's `caches[alias]`), or its override inside
    /// ``withOverride(_:_:operation:)``.
    ///
    /// - Throws: ``CacheError/Code/unknownAlias`` naming the alias and the aliases there are.
    public subscript(alias: String) -> Cache {
        get throws {
            if let override = Self.overrides[OverrideKey(caches: ObjectIdentifier(self), alias: alias)] {
                return override
            }
            guard let cache = instances[alias] else {
                throw CacheError(
                    .unknownAlias,
                    "The cache alias '\(alias)' doesn't exist; configured aliases: \(aliases.isEmpty ? "none" : aliases.joined(separator: ", "))"
                )
            }
            return cache
        }
    }

    /// The `default` alias (Django's `cache`).
    public var `default`: Cache {
        get throws { try self[Self.defaultAlias] }
    }

    /// Closes every alias's connections (Django's `close_all`); the caches stay usable.
    ///
    /// - Throws: The first error an alias's backend throws, after trying every alias.
    public func closeAll() async throws {
        var firstError: (any Error)?
        for alias in aliases {
            do { try await instances[alias]?.close() } catch { firstError = firstError ?? error }
        }
        if let firstError { throw firstError }
    }

    /// Shuts every alias's backend down for good: threads joined, connections and descriptors
    /// closed. A second call does nothing.
    ///
    /// - Throws: The first error an alias's backend throws, after trying every alias.
    public func shutdown() async throws {
        let first = isShutDown.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        var firstError: (any Error)?
        for alias in aliases {
            do { try await instances[alias]?.shutdown() } catch { firstError = firstError ?? error }
        }
        if let firstError { throw firstError }
    }

    struct OverrideKey: Hashable, Sendable {
        var caches: ObjectIdentifier
        var alias: String
    }

    @TaskLocal static var overrides: [OverrideKey: Cache] = [:]

    /// Replaces one alias with another cache while `operation` runs, for the tasks inside it only.
    ///
    /// Other tasks (a test running in parallel) still see the configured cache. The alias
    /// need not exist in the settings.
    ///
    /// ```swift
    /// try await caches.withOverride("default", .localMemory()) {
    ///     try await handler.handle(request)   // sees the throwaway cache
    /// }
    /// ```
    ///
    /// - Parameters:
    ///   - alias: The alias to replace.
    ///   - cache: The cache to use instead.
    ///   - operation: The code that should see the replacement.
    /// - Returns: What `operation` returns.
    public func withOverride<R: Sendable>(
        _ alias: String, _ cache: Cache, operation: () async throws -> R
    ) async rethrows -> R {
        var overrides = Self.overrides
        overrides[OverrideKey(caches: ObjectIdentifier(self), alias: alias)] = cache
        return try await Self.$overrides.withValue(overrides, operation: operation)
    }
}

extension Caches: Service {
    /// Waits for graceful shutdown (or cancellation), then shuts every alias down.
    ///
    /// - Throws: What ``shutdown()`` throws.
    public func run() async throws {
        try? await gracefulShutdown()
        try await shutdown()
    }
}
