public import Caching

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

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
/// connections. The process is stopped by ``stop()``, or when the last reference to the
/// server goes away. Only the process this object started is ever signalled.
///
/// Starting, stopping and waiting block a thread briefly, so they run on
/// its own ``pool``, never on Swift concurrency's cooperative threads.
public final class RedisServer: Sendable {
    static let program = ServerProgram(name: "redis-server", package: "redis-server") { port in
        ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", ""]
    }

    private let server: ServerProcess

    /// The loopback address the server listens on.
    public let host = "127.0.0.1"
    /// The TCP port the server listens on; it stays the same across ``restart()``.
    public var port: Int { server.port }
    /// The extra command-line arguments the server was started with.
    public var arguments: [String] { server.arguments }

    /// `host:port`.
    public var address: String { "\(host):\(port)" }

    /// `redis://127.0.0.1:PORT`, the form `LOCATION` takes.
    public var url: String { "redis://\(host):\(port)" }

    /// The process id of the running server, or `nil` when it is stopped.
    public var processID: Int32? { server.processID }

    private init(_ server: ServerProcess) { self.server = server }

    /// Threads for the fixture's own blocking work (spawning, waiting for readiness, reaping),
    /// apart from ``/Caching/BlockingThreadPool/shared`` so that starting and stopping servers never
    /// delays the file I/O of the code under test.
    public static let pool = BlockingThreadPool(threadCount: 4, spinMicroseconds: 0)

    /// Starts a server on a free loopback port and waits until it accepts connections.
    ///
    /// - Parameter arguments: Extra `redis-server` arguments, such as `["--requirepass", "secret"]`.
    /// - Returns: The running server.
    /// - Throws: ``RedisServerError`` when the `redis-server` binary is missing (install it
    ///   with `apt-get install redis-server`), cannot be launched, or does not start listening
    ///   within five seconds.
    public static func start(arguments: [String] = []) async throws -> RedisServer {
        do throws(ServerLaunchFailure) {
            return RedisServer(try await ServerProcess.start(program, arguments: arguments, pool: pool))
        } catch {
            throw RedisServerError(error)
        }
    }

    /// Starts a server, runs `body` with it, and stops the server afterwards, whether `body`
    /// returns or throws.
    ///
    /// - Parameters:
    ///   - arguments: Extra `redis-server` arguments.
    ///   - body: The work that needs the server.
    /// - Returns: What `body` returns.
    /// - Throws: ``RedisServerError`` when the server does not start, or what `body` throws.
    public static func with<R: Sendable>(
        arguments: [String] = [], _ body: (RedisServer) async throws -> R
    ) async throws -> R {
        let server = try await start(arguments: arguments)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    /// Stops the server with `SIGTERM` and waits for it to exit. Does nothing when it is stopped.
    public func stop() async { await server.end(with: SIGTERM) }

    /// Kills the server with `SIGKILL` (a crash, as clients see it) and reaps it.
    public func kill() async { await server.end(with: SIGKILL) }

    /// Starts the server again on the same port, stopping it first if it runs.
    ///
    /// The restarted server is empty (it saves nothing to disk).
    ///
    /// - Throws: ``RedisServerError`` when it does not start (the port may have been taken).
    public func restart() async throws {
        do throws(ServerLaunchFailure) {
            try await server.restart()
        } catch {
            throw RedisServerError(error)
        }
    }

    /// Freezes the server with `SIGSTOP` (a server that hangs: connections stay open, nothing is
    /// answered) and returns once every thread of it shows as stopped, so that no request sent
    /// afterwards is answered before ``resume()``.
    ///
    /// - Returns: Whether the server was seen stopped within two seconds.
    @discardableResult
    public func pause() async throws -> Bool { try await server.pause() }

    /// Lets a paused server run again (`SIGCONT`).
    public func resume() { server.resume() }
}

/// An error from ``RedisServer``.
public struct RedisServerError: Error, Sendable, CustomStringConvertible {
    /// The kind of a ``RedisServerError``.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The `redis-server` binary is not installed.
        public static let binaryNotFound = Code("binaryNotFound")
        /// The process could not be spawned, or exited at once.
        public static let launchFailed = Code("launchFailed")
        /// The process did not accept connections in time.
        public static let notReady = Code("notReady")

        public var description: String { name }
    }

    /// The kind of error.
    public let code: Code
    /// What went wrong and what to do.
    public let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    init(_ failure: ServerLaunchFailure) {
        switch failure.kind {
        case .binaryNotFound: self.init(.binaryNotFound, failure.message)
        case .launchFailed: self.init(.launchFailed, failure.message)
        case .notReady: self.init(.notReady, failure.message)
        }
    }

    public var description: String { "RedisServerError.\(code): \(message)" }
}
