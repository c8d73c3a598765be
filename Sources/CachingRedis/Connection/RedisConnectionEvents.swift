import Caching
import CoreMetrics
import Logging

/// What a Redis alias reports about its connections: a reconnect after a connection was lost
/// is counted (`cache_reconnects{alias, backend, server}`) and logged once, at `notice`.
///
/// Shared by the alias's connections; made once, when the backend is.
final class RedisConnectionEvents: Sendable {
    private let reconnects: [Counter]?
    private let logger: Logger
    private let alias: String

    /// - Parameters:
    ///   - alias: The alias named in logs (as in errors).
    ///   - metricsAlias: The `alias` dimension: ``/Caching/CacheObservability/alias``, as every cache metric has.
    init(
        servers: [RedisServerAddress], alias: String, logger: Logger, metricsFactory: (any MetricsFactory)?,
        metricsAlias: String
    ) {
        reconnects = metricsFactory.map { factory in
            servers.map {
                Counter(
                    label: "cache_reconnects",
                    dimensions: [("alias", metricsAlias), ("backend", "redis"), ("server", Self.name($0))], factory: factory)
            }
        }
        self.logger = logger
        self.alias = alias
    }

    /// The server as a dimension: its endpoint only (never credentials or database).
    static func name(_ server: RedisServerAddress) -> String {
        switch server.endpoint {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unixSocket(let path): "unix:\(path)"
        }
    }

    /// A connection to `servers[index]` was made again after the previous one failed or was
    /// found closed by the server.
    func reconnected(to server: RedisServerAddress, index: Int) {
        reconnects?[index].increment()
        logger.notice(
            "Redis cache '\(alias)': reconnected to \(Self.name(server)) after its connection was lost",
            metadata: ["cache.server": "\(Self.name(server))"])
    }
}
