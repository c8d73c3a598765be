import Caching
import CoreMetrics
import Logging

/// What a memcached alias reports about its connections: a connection found broken (the
/// server restarted, or closed it) and opened again is counted
/// (`cache_reconnects{alias, backend, server}`) and logged once, at `notice`.
///
/// Shared by the alias's worker connections; made once, when the backend is.
final class MemcachedConnectionEvents: Sendable {
    private let reconnects: (any CounterHandler)?
    private let logger: Logger
    private let alias: String
    private let server: String

    /// - Parameters:
    ///   - alias: The alias named in logs (as in errors).
    ///   - metricsAlias: The `alias` dimension: ``/Caching/CacheObservability/alias``, as every cache metric has.
    init(
        servers: [MemcachedServerAddress], alias: String, logger: Logger, metricsFactory: (any MetricsFactory)?,
        metricsAlias: String
    ) {
        // A call does not know which server its connection failed on without a lookup per
        // call; with several servers the dimension says so instead of guessing.
        server = servers.count == 1 ? servers[0].description : "several"
        reconnects = metricsFactory?.makeCounter(
            label: "cache_reconnects", dimensions: [("alias", metricsAlias), ("backend", "memcached"), ("server", server)])
        self.logger = logger
        self.alias = alias
    }

    /// A call failed on a broken connection, and the same call succeeded on a new one.
    func reconnected() {
        reconnects?.increment(by: 1)
        logger.notice(
            "memcached cache '\(alias)': a connection to \(server) was broken (server restarted or closed it) and was opened again",
            metadata: ["cache.server": "\(server)"])
    }
}

/// The worker pool's queue as metrics: `cache_pool_queue_depth{pool}` (reads and jobs waiting
/// for a worker, set at every submit and take) and `cache_pool_wait{pool}` (how long each
/// waited for a worker, and so for a connection), with `pool` = `memcached <alias>`.
final class MemcachedPoolMetrics: Sendable {
    let depth: Meter
    let wait: Timer

    init(factory: any MetricsFactory, alias: String) {
        depth = Meter(label: "cache_pool_queue_depth", dimensions: [("pool", "memcached \(alias)")], factory: factory)
        wait = Timer(label: "cache_pool_wait", dimensions: [("pool", "memcached \(alias)")], factory: factory)
    }

    func recordWait(since start: ContinuousClock.Instant) {
        let elapsed = start.duration(to: .now).components
        wait.recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
    }
}
