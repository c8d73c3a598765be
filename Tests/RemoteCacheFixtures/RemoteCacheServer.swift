public import Caching
public import CachingMemcached
public import CachingRedis
public import CachingTesting

/// A cache server that a test starts on loopback, memcached or Redis, and a backend over it.
///
/// The revocation and authentication suites that pause, kill and time out a server take one
/// of these as their argument, so that every check runs against both servers from one body.
public enum RemoteCacheServer: String, Sendable, CaseIterable, CustomStringConvertible {
    case memcached
    case redis

    public var description: String { rawValue }

    /// The server's binary, as failure messages name it.
    public var program: String {
        switch self {
        case .memcached: "memcached"
        case .redis: "redis-server"
        }
    }

    /// Starts a server that refuses writes rather than evicting (`-M` for memcached; Redis's
    /// default `noeviction`).
    public func start() async throws -> LoopbackServer {
        switch self {
        case .memcached: try await MemcachedServer.start(arguments: ["-M"])
        case .redis: try await RedisServer.start()
        }
    }

    /// A backend over `server` declared never to evict, whose every wait (connect, send,
    /// receive, poll) is `timeout` seconds, with `read_timeout` as given.
    public func backend(
        _ server: LoopbackServer, poolSize: Int = 1, timeout: Double, readTimeout: Double? = nil
    ) throws -> any ReadCountingBackend {
        switch self {
        case .memcached:
            guard let address = MemcachedServerAddress(parsing: server.address) else {
                throw CacheError(.invalidSettings, "not a memcached address: \(server.address)")
            }
            var options = MemcachedOptions()
            options.serversNeverEvict = true
            options.poolSize = poolSize
            options.pollTimeout = timeout
            options.connectTimeout = timeout
            options.sendTimeout = timeout
            options.receiveTimeout = timeout
            options.readTimeout = readTimeout
            return try MemcachedBackend(servers: [address], options: options)
        case .redis:
            var options = RedisOptions()
            options.serversNeverEvict = true
            options.poolSize = poolSize
            options.timeout = timeout
            options.connectTimeout = timeout
            options.readTimeout = readTimeout
            return try RedisBackend(location: ["redis://\(server.address)"], options: options)
        }
    }
}

/// A backend that counts its reads and the round trips that served them, as the memcached and
/// Redis backends do to show reads of concurrent callers sharing multi-gets.
public protocol ReadCountingBackend: CacheBackend {
    /// Round trips sent for reads, and reads answered, since the backend was made.
    var readCounts: (roundTrips: Int, reads: Int) { get }
}

extension MemcachedBackend: ReadCountingBackend {}
extension RedisBackend: ReadCountingBackend {}
