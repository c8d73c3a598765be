public import Caching

extension MemcachedBackend {
    /// `db.system.name` memcached; with one server, its address and port (with several, a key's
    /// server is chosen by libmemcached, so spans name none).
    public var telemetry: CacheBackendTelemetry {
        MemcachedServerAddress.telemetry(servers)
    }
}

extension ReplicatedMemcachedBackend {
    /// `db.system.name` memcached; with one server, its address and port.
    public var telemetry: CacheBackendTelemetry {
        MemcachedServerAddress.telemetry(servers)
    }
}

extension MemcachedServerAddress {
    static func telemetry(_ servers: [MemcachedServerAddress]) -> CacheBackendTelemetry {
        guard servers.count == 1, let server = servers.first else { return CacheBackendTelemetry(system: "memcached") }
        switch server {
        case .tcp(let host, let port): return CacheBackendTelemetry(system: "memcached", serverAddress: host, serverPort: port)
        case .unixSocket(let path): return CacheBackendTelemetry(system: "memcached", serverAddress: path)
        }
    }
}
