/// A throwaway `redis-server` on a free loopback port, for tests and benchmarks.
///
/// ```swift
/// import CachingRedis
///
/// let server = try await RedisServer.start()
/// let cache = try Cache.redis(location: [server.url])
/// try await cache.set("greeting", "hello")
/// await server.stop()
/// ```
///
/// The server runs `redis-server --bind 127.0.0.1 --port PORT --save '' --appendonly no`
/// (nothing written to disk, plus any extra arguments, such as `["--requirepass", "secret"]`)
/// as a child process of this one. ``start(arguments:)`` returns once the server accepts TCP
/// connections; stopping, killing, pausing and restarting it are ``LoopbackServer``'s.
/// (`@unchecked Sendable` restates the base class's conformance: no stored state is added.)
public final class RedisServer: LoopbackServer, LoopbackServerFixture, @unchecked Sendable {
    static let program = ServerProgram(name: "redis-server", package: "redis-server") { port in
        ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", ""]
    }

    /// `redis://127.0.0.1:PORT`, the form `LOCATION` takes.
    public var url: String { "redis://\(host):\(port)" }

    /// Starts a server on a free loopback port and waits until it accepts connections.
    ///
    /// - Parameter arguments: Extra `redis-server` arguments, such as `["--requirepass", "secret"]`.
    /// - Returns: The running server.
    /// - Throws: ``LoopbackServerError`` when the `redis-server` binary is missing (install it
    ///   with `apt-get install redis-server`), cannot be launched, or does not start listening
    ///   within five seconds.
    public static func start(arguments: [String] = []) async throws(LoopbackServerError) -> RedisServer {
        RedisServer(try await launch(program, arguments: arguments))
    }
}
