import Caching
import CoreMetrics
import Logging
import Synchronization

/// What a memcached alias reports about its connections: a connection found broken (the
/// server restarted, or closed it) and opened again is counted
/// (`cache_reconnects{alias, backend, server}`) and logged once, at `notice`; a server that
/// failed `failure_limit` times in a row and was taken out of service is counted
/// (`cache_server_ejections{alias, backend, server}`) and logged once, at `warning`.
///
/// Shared by the alias's worker connections; made once, when the backend is.
final class MemcachedConnectionEvents: Sendable {
    private let reconnects: (any CounterHandler)?
    private let ejections: (any CounterHandler)?
    private let retryTimeout: Double
    /// When each server's ejection was last logged: one line per server and `retry_timeout`,
    /// however many pooled connections give up on it.
    private let lastLogged = Mutex<[String: ContinuousClock.Instant]>([:])
    private let logger: Logger
    private let alias: String
    private let server: String

    /// - Parameters:
    ///   - alias: The alias named in logs (as in errors).
    ///   - metricsAlias: The `alias` dimension: ``/Caching/CacheObservability/alias``, as every cache metric has.
    init(
        servers: [MemcachedServerAddress], alias: String, logger: Logger, metricsFactory: (any MetricsFactory)?,
        metricsAlias: String, retryTimeout: Double
    ) {
        // A call does not know which server its connection failed on without a lookup per
        // call; with several servers the dimension says so instead of guessing.
        server = servers.count == 1 ? servers[0].description : "several"
        reconnects = metricsFactory?.makeCounter(
            label: "cache_reconnects", dimensions: [("alias", metricsAlias), ("backend", "memcached"), ("server", server)])
        ejections = metricsFactory?.makeCounter(
            label: "cache_server_ejections", dimensions: [("alias", metricsAlias), ("backend", "memcached"), ("server", server)])
        self.logger = logger
        self.alias = alias
        self.retryTimeout = retryTimeout
    }

    /// libmemcached took `failed` out of service on one connection: it reached `failure_limit`
    /// failures in a row, and the connection will not try it again for `retry_timeout` seconds
    /// (with `remove_failed_servers`, its keys go to the other servers meanwhile). Each pooled
    /// connection keeps its own view of the servers, so one failing server is counted once
    /// per connection that gives up on it, and logged once per server and `retry_timeout`.
    func ejected(_ failed: String) {
        ejections?.increment(by: 1)
        let now = ContinuousClock.now
        let log = lastLogged.withLock { lastLogged in
            if let last = lastLogged[failed], last.duration(to: now) < .seconds(max(retryTimeout, 1)) { return false }
            lastLogged[failed] = now
            return true
        }
        guard log else { return }
        logger.warning(
            "memcached cache '\(alias)': server \(failed) failed failure_limit times in a row and was taken out of service; calls routed to it fail with unavailable and it is tried again after retry_timeout (\(retryTimeout) s)",
            metadata: ["cache.server": "\(failed)"])
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
