public import Caching

extension RedisBackend {
    /// `db.system.name` redis; the address and port of the first server, which takes writes
    /// (never its credentials).
    public var telemetry: CacheBackendTelemetry {
        guard let server = servers.first else { return CacheBackendTelemetry(system: "redis") }
        switch server.endpoint {
        case .tcp(let host, let port): return CacheBackendTelemetry(system: "redis", serverAddress: host, serverPort: port)
        case .unixSocket(let path): return CacheBackendTelemetry(system: "redis", serverAddress: path)
        }
    }
}
