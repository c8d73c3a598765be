public import Caching

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A throwaway `memcached` server on a free loopback port, for tests and benchmarks.
///
/// ```swift
/// import CachingMemcached
///
/// let server = try await MemcachedServer.start()
/// let cache = try Cache.memcached(location: [server.address])
/// try await cache.set("greeting", "hello")
/// await server.stop()
/// ```
///
/// The server runs `memcached -l 127.0.0.1 -p PORT -U 0` (plus `-u root` when this process
/// runs as root, and any extra arguments) as a
/// child process of this one. ``start(arguments:)`` returns once the server accepts TCP
/// connections. The process is stopped by ``stop()``, or when the last reference to the
/// server goes away. Only the process this object started is ever signalled.
///
/// Starting, stopping and waiting block a thread briefly, so they run on
/// its own ``pool``, never on Swift concurrency's cooperative threads.
public final class MemcachedServer: Sendable {
    static let program = ServerProgram(name: "memcached", package: "memcached") { port in
        // memcached refuses to run as root unless told which user to run as.
        ["-l", "127.0.0.1", "-p", String(port), "-U", "0"] + (geteuid() == 0 ? ["-u", "root"] : [])
    }

    private let server: ServerProcess

    /// The loopback address the server listens on.
    public let host = "127.0.0.1"
    /// The TCP port the server listens on; it stays the same across ``restart()``.
    public var port: Int { server.port }
    /// The extra command-line arguments the server was started with.
    public var arguments: [String] { server.arguments }

    /// `host:port`, the form `LOCATION` takes.
    public var address: String { "\(host):\(port)" }

    /// The process id of the running server, or `nil` when it is stopped.
    public var processID: Int32? { server.processID }

    private init(_ server: ServerProcess) { self.server = server }

    /// Threads for the fixture's own blocking work (spawning, waiting for readiness, reaping),
    /// apart from ``/Caching/BlockingThreadPool/shared`` so that starting and stopping servers never
    /// delays the file I/O of the code under test.
    public static let pool = BlockingThreadPool(threadCount: 4, spinMicroseconds: 0)

    /// Starts a server on a free loopback port and waits until it accepts connections.
    ///
    /// - Parameter arguments: Extra `memcached` arguments, such as `["-I", "2m"]`.
    /// - Returns: The running server.
    /// - Throws: ``MemcachedServerError`` when the `memcached` binary is missing (install it
    ///   with `apt-get install memcached`), cannot be launched, or does not start listening
    ///   within five seconds.
    public static func start(arguments: [String] = []) async throws -> MemcachedServer {
        do throws(ServerLaunchFailure) {
            return MemcachedServer(try await ServerProcess.start(program, arguments: arguments, pool: pool))
        } catch {
            throw MemcachedServerError(error)
        }
    }

    /// Starts a server, runs `body` with it, and stops the server afterwards, whether `body`
    /// returns or throws.
    ///
    /// - Parameters:
    ///   - arguments: Extra `memcached` arguments.
    ///   - body: The work that needs the server.
    /// - Returns: What `body` returns.
    /// - Throws: ``MemcachedServerError`` when the server does not start, or what `body` throws.
    public static func with<R: Sendable>(
        arguments: [String] = [], _ body: (MemcachedServer) async throws -> R
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
    /// The restarted server is empty.
    ///
    /// - Throws: ``MemcachedServerError`` when it does not start (the port may have been taken).
    public func restart() async throws {
        do throws(ServerLaunchFailure) {
            try await server.restart()
        } catch {
            throw MemcachedServerError(error)
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

/// An error from ``MemcachedServer``.
public struct MemcachedServerError: Error, Sendable, CustomStringConvertible {
    /// The kind of a ``MemcachedServerError``.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The `memcached` binary is not installed.
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

    public var description: String { "MemcachedServerError.\(code): \(message)" }
}
