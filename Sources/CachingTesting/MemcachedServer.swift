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
/// runs as root, and any extra arguments) as a child process of this one.
/// ``start(arguments:)`` returns once the server accepts TCP connections; stopping, killing,
/// pausing and restarting it are ``LoopbackServer``'s (`@unchecked Sendable` restates the base
/// class's conformance: no stored state is added).
public final class MemcachedServer: LoopbackServer, LoopbackServerFixture, @unchecked Sendable {
    static let program = ServerProgram(name: "memcached", package: "memcached") { port in
        // memcached refuses to run as root unless told which user to run as.
        ["-l", "127.0.0.1", "-p", String(port), "-U", "0"] + (geteuid() == 0 ? ["-u", "root"] : [])
    }

    /// Starts a server on a free loopback port and waits until it accepts connections.
    ///
    /// - Parameter arguments: Extra `memcached` arguments, such as `["-I", "2m"]`.
    /// - Returns: The running server; ``LoopbackServer/address`` is the form `LOCATION` takes.
    /// - Throws: ``LoopbackServerError`` when the `memcached` binary is missing (install it
    ///   with `apt-get install memcached`), cannot be launched, or does not start listening
    ///   within five seconds.
    public static func start(arguments: [String] = []) async throws(LoopbackServerError) -> MemcachedServer {
        MemcachedServer(try await launch(program, arguments: arguments))
    }
}
