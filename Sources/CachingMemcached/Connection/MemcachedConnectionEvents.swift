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

    init(servers: [MemcachedServerAddress], alias: String, logger: Logger, metricsFactory: (any MetricsFactory)?) {
        // A call does not know which server its connection failed on without a lookup per
        // call; with several servers the dimension says so instead of guessing.
        server = servers.count == 1 ? servers[0].description : "several"
        reconnects = metricsFactory?.makeCounter(
            label: "cache_reconnects", dimensions: [("alias", alias), ("backend", "memcached"), ("server", server)])
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
