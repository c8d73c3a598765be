public import CoreMetrics
public import Tracing

/// Where a cache reports its metrics and traces: off by default.
///
/// Give it to a ``CacheConfiguration`` (one cache) or to ``Caches`` (every alias). Instruments
/// are created once, when the ``Cache`` is created, with the alias and backend as dimensions;
/// a cache whose observability is ``off`` pays one `nil` check per call.
///
/// ```swift
/// MetricsSystem.bootstrap(PrometheusMetricsFactory())        // the application's choice
/// InstrumentationSystem.bootstrap(tracer)
/// let caches = try Caches(contentsOf: "caches.json", observability: .bootstrapped())
/// ```
///
/// The metrics and spans are listed in the article <doc:ObservingCachesInProduction>.
public struct CacheObservability: Sendable {
    /// Where metrics go, or `nil` for none.
    public var metricsFactory: (any MetricsFactory)?
    /// Where spans go, or `nil` for none. Spans are made only for backends that do I/O and
    /// name their database system (``CacheBackendTelemetry/system``).
    public var tracer: (any Tracer)?
    /// Whether spans carry the made key (`cache.key`). Keys can hold user data (an e-mail
    /// address, a session id): off by default. Values are never recorded.
    public var recordsKeys: Bool
    /// The alias named in every metric and span (`cache.alias`); ``Caches`` sets it.
    public var alias: String

    /// Creates a configuration.
    ///
    /// - Parameters:
    ///   - metricsFactory: Where metrics go, or `nil`.
    ///   - tracer: Where spans go, or `nil`.
    ///   - recordsKeys: Whether spans carry the made key.
    ///   - alias: The alias named in metrics and spans.
    public init(
        metricsFactory: (any MetricsFactory)? = nil, tracer: (any Tracer)? = nil, recordsKeys: Bool = false,
        alias: String = "default"
    ) {
        self.metricsFactory = metricsFactory
        self.tracer = tracer
        self.recordsKeys = recordsKeys
        self.alias = alias
    }

    /// No metrics, no spans: the default.
    public static var off: CacheObservability { CacheObservability() }

    /// The process's bootstrapped systems: `MetricsSystem.factory` and `InstrumentationSystem.tracer`.
    ///
    /// Read when called: bootstrap both systems first.
    ///
    /// - Parameter recordsKeys: Whether spans carry the made key.
    /// - Returns: The configuration.
    public static func bootstrapped(recordsKeys: Bool = false) -> CacheObservability {
        CacheObservability(
            metricsFactory: MetricsSystem.factory, tracer: InstrumentationSystem.tracer, recordsKeys: recordsKeys)
    }

    /// Whether anything is reported.
    public var isEnabled: Bool { metricsFactory != nil || tracer != nil }
}

/// What a backend tells spans about itself, in OpenTelemetry's database terms.
///
/// Backends that talk to a server or a database file override
/// ``CacheBackend/telemetry``; the default (no system) makes no spans.
public struct CacheBackendTelemetry: Sendable, Hashable {
    /// OpenTelemetry's `db.system.name`: `memcached`, `redis`, `sqlite`, `postgresql`; `nil`
    /// for a backend that answers from memory (no spans).
    public var system: String?
    /// `server.address`: the host name, address or socket path, when there is one server.
    public var serverAddress: String?
    /// `server.port`, when there is one server on a TCP port.
    public var serverPort: Int?

    /// Creates a description.
    ///
    /// - Parameters:
    ///   - system: `db.system.name`, or `nil` for no spans.
    ///   - serverAddress: `server.address`, if there is one server.
    ///   - serverPort: `server.port`, if there is one.
    public init(system: String? = nil, serverAddress: String? = nil, serverPort: Int? = nil) {
        self.system = system
        self.serverAddress = serverAddress
        self.serverPort = serverPort
    }
}
