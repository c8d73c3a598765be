public import Caching

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A throwaway server that a test started as a child process on a free loopback port: what
/// ``MemcachedServer`` and ``RedisServer`` have in common.
///
/// The server is stopped by ``stop()``, or when the last reference to it goes away. Only the
/// process this object started is ever signalled. Starting, stopping and waiting block a thread
/// briefly, so they run on ``pool``, never on Swift concurrency's cooperative threads.
///
/// The class is not `final` so that the fixtures can share it; it is `@unchecked Sendable`
/// because Swift requires that of a non-final class, and every stored property is an immutable
/// `let` of a `Sendable` type.
public class LoopbackServer: @unchecked Sendable {
    let server: ServerProcess

    /// The loopback address the server listens on.
    public let host = "127.0.0.1"
    /// The TCP port the server listens on; it stays the same across ``restart()``.
    public var port: Int { server.port }
    /// The extra command-line arguments the server was started with.
    public var arguments: [String] { server.arguments }
    /// `host:port`.
    public var address: String { "\(host):\(port)" }
    /// The process id of the running server, or `nil` when it is stopped.
    public var processID: Int32? { server.processID }

    /// Threads for the fixtures' own blocking work (spawning, waiting for readiness, reaping),
    /// apart from ``/Caching/BlockingThreadPool/shared`` so that starting and stopping servers never
    /// delays the I/O of the code under test.
    public static let pool = BlockingThreadPool(threadCount: 4, spinMicroseconds: 0)

    init(_ server: ServerProcess) { self.server = server }

    /// Starts `program` on a free loopback port and waits until it accepts connections.
    static func launch(_ program: ServerProgram, arguments: [String]) async throws(LoopbackServerError) -> ServerProcess {
        do throws(ServerLaunchFailure) {
            return try await ServerProcess.start(program, arguments: arguments, pool: pool)
        } catch {
            throw LoopbackServerError(error)
        }
    }

    /// Stops the server with `SIGTERM` and waits for it to exit. Does nothing when it is stopped.
    public func stop() async { await server.end(with: SIGTERM) }

    /// Kills the server with `SIGKILL` (a crash, as clients see it) and reaps it.
    public func kill() async { await server.end(with: SIGKILL) }

    /// Starts the server again on the same port, stopping it first if it runs. The restarted
    /// server is empty: neither fixture lets its server write anything to disk.
    ///
    /// - Throws: ``LoopbackServerError`` when it does not start (the port may have been taken).
    public func restart() async throws(LoopbackServerError) {
        do throws(ServerLaunchFailure) {
            try await server.restart()
        } catch {
            throw LoopbackServerError(error)
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

/// A ``LoopbackServer`` that can be started: adds ``with(arguments:_:)`` to every fixture.
public protocol LoopbackServerFixture: LoopbackServer {
    /// Starts a server on a free loopback port and waits until it accepts connections.
    ///
    /// - Parameter arguments: Extra arguments for the server binary.
    /// - Throws: ``LoopbackServerError`` when the binary is missing (the message says which
    ///   Debian package installs it), cannot be launched, or does not start listening within
    ///   five seconds.
    static func start(arguments: [String]) async throws(LoopbackServerError) -> Self
}

extension LoopbackServerFixture {
    /// Starts a server, runs `body` with it, and stops the server afterwards, whether `body`
    /// returns or throws.
    ///
    /// - Parameters:
    ///   - arguments: Extra arguments for the server binary.
    ///   - body: The work that needs the server.
    /// - Returns: What `body` returns.
    /// - Throws: ``LoopbackServerError`` when the server does not start, or what `body` throws.
    public static func with<R: Sendable>(arguments: [String] = [], _ body: (Self) async throws -> R) async throws -> R {
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
}

/// An error from a ``LoopbackServer`` fixture.
public struct LoopbackServerError: Error, Sendable, CustomStringConvertible {
    /// The kind of a ``LoopbackServerError``.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The server's binary is not installed.
        public static let binaryNotFound = Code("binaryNotFound")
        /// The process could not be spawned, or exited at once.
        public static let launchFailed = Code("launchFailed")
        /// The process did not accept connections in time.
        public static let notReady = Code("notReady")

        public var description: String { name }
    }

    /// The kind of error.
    public let code: Code
    /// What went wrong and what to do, naming the server's binary.
    public let message: String

    init(_ failure: ServerLaunchFailure) {
        switch failure.kind {
        case .binaryNotFound: code = .binaryNotFound
        case .launchFailed: code = .launchFailed
        case .notReady: code = .notReady
        }
        message = failure.message
    }

    public var description: String { "LoopbackServerError.\(code): \(message)" }
}

/// The error ``MemcachedServer`` throws (the same type as every loopback fixture's).
public typealias MemcachedServerError = LoopbackServerError
/// The error ``RedisServer`` throws (the same type as every loopback fixture's).
public typealias RedisServerError = LoopbackServerError
