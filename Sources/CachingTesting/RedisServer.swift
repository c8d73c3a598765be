public import Caching
import Synchronization

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
    /// The loopback address the server listens on.
    public let host = "127.0.0.1"
    /// The TCP port the server listens on; it stays the same across ``restart()``.
    public let port: Int
    /// The extra command-line arguments the server was started with.
    public let arguments: [String]
    private let executable: String
    private let process: Mutex<pid_t?>

    /// `host:port`.
    public var address: String { "\(host):\(port)" }

    /// `redis://127.0.0.1:PORT`, the form `LOCATION` takes.
    public var url: String { "redis://\(host):\(port)" }

    /// The process id of the running server, or `nil` when it is stopped.
    public var processID: Int32? { process.withLock { $0 } }

    private init(executable: String, port: Int, arguments: [String], pid: pid_t) {
        self.executable = executable
        self.port = port
        self.arguments = arguments
        self.process = Mutex(pid)
    }

    deinit {
        if let pid = process.withLock({ $0 }) {
            // Reaping may wait; never on the thread that dropped the last reference.
            Self.pool.execute { Self.terminate(pid, signal: SIGTERM) }
        }
    }

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
        try await Self.pool.run { () throws(RedisServerError) -> RedisServer in
            let executable = try findExecutable()
            var lastError: RedisServerError?
            // A port found free can be taken by someone else before redis-server binds it: retry.
            for _ in 0..<5 {
                let port = try freePort()
                do throws(RedisServerError) {
                    let pid = try launch(executable, port: port, arguments: arguments)
                    return RedisServer(executable: executable, port: port, arguments: arguments, pid: pid)
                } catch {
                    lastError = error
                }
            }
            throw lastError ?? RedisServerError(.launchFailed, "redis-server could not be started")
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
    public func stop() async {
        guard
            let pid = process.withLock({ current in
                defer { current = nil }
                return current
            })
        else { return }
        await Self.pool.run { Self.terminate(pid, signal: SIGTERM) }
    }

    /// Kills the server with `SIGKILL` (a crash, as clients see it) and reaps it.
    public func kill() async {
        guard
            let pid = process.withLock({ current in
                defer { current = nil }
                return current
            })
        else { return }
        await Self.pool.run { Self.terminate(pid, signal: SIGKILL) }
    }

    /// Starts the server again on the same port, stopping it first if it runs.
    ///
    /// The restarted server is empty (it saves nothing to disk).
    ///
    /// - Throws: ``RedisServerError`` when it does not start (the port may have been taken).
    public func restart() async throws {
        await stop()
        let executable = executable
        let port = port
        let arguments = arguments
        let pid = try await Self.pool.run { () throws(RedisServerError) -> pid_t in
            var lastError: RedisServerError?
            // The old socket may linger for a moment; redis-server sets SO_REUSEADDR, so retries suffice.
            for _ in 0..<20 {
                do throws(RedisServerError) {
                    return try RedisServer.launch(executable, port: port, arguments: arguments)
                } catch {
                    lastError = error
                    usleep(50_000)
                }
            }
            throw lastError!
        }
        process.withLock { $0 = pid }
    }

    // MARK: Process handling (blocking; runs on the blocking pool or in deinit)

    /// Signals the process and reaps it; escalates to `SIGKILL` if it has not exited within
    /// three seconds, so a stop never hangs.
    private static func terminate(_ pid: pid_t, signal: Int32) {
        sendSignalToRedis(pid, signal)
        let deadline = monotonicSeconds() + 3
        var status: Int32 = 0
        var pause: UInt32 = 200
        while true {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid || (reaped == -1 && errno != EINTR) { return }
            if monotonicSeconds() > deadline {
                sendSignalToRedis(pid, SIGKILL)
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                return
            }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
    }

    private static func findExecutable() throws(RedisServerError) -> String {
        var directories = ["/usr/bin", "/usr/local/bin", "/usr/sbin", "/opt/homebrew/bin"]
        if let path = getenv("PATH") {
            directories = String(cString: path).split(separator: ":").map(String.init) + directories
        }
        for directory in directories {
            let candidate = directory + "/redis-server"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        throw RedisServerError(
            .binaryNotFound,
            "The redis-server binary was not found on PATH or in /usr/bin; install it with `apt-get install redis-server` (or run scripts/setup-test-env.sh)"
        )
    }

    /// A loopback port that was free a moment ago: bind port 0 and read what the kernel chose.
    private static func freePort() throws(RedisServerError) -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RedisServerError(.launchFailed, "socket() failed: errno \(errno)") }
        defer { close(fd) }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw RedisServerError(.launchFailed, "bind to 127.0.0.1:0 failed: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw RedisServerError(.launchFailed, "getsockname failed: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    static func redisAccepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return connected == 0
    }

    /// Spawns redis-server and waits until it accepts connections or exits.
    private static func launch(_ executable: String, port: Int, arguments: [String]) throws(RedisServerError) -> pid_t {
        var argv = [
            executable, "--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no", "--daemonize", "no",
            "--logfile", "",
        ]
        argv += arguments
        var cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // Keep the test output clean: the server's own messages go to /dev/null.
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        // The spawning thread may block signals (Dispatch's threads do); the child would inherit
        // that mask and ignore SIGTERM. Give it an empty mask and default handlers.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptySet = sigset_t()
        sigemptyset(&emptySet)
        var defaultSet = sigset_t()
        sigemptyset(&defaultSet)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGUSR1, SIGUSR2] { sigaddset(&defaultSet, signal) }
        posix_spawnattr_setsigmask(&attributes, &emptySet)
        posix_spawnattr_setsigdefault(&attributes, &defaultSet)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, &cArguments, environ)
        guard spawned == 0 else {
            throw RedisServerError(.launchFailed, "posix_spawn of \(executable) failed: error \(spawned)")
        }
        let deadline = monotonicSeconds() + 5
        var pause: UInt32 = 200
        while monotonicSeconds() < deadline {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                throw RedisServerError(
                    .launchFailed, "redis-server exited at start on port \(port) (exit status \(status)); the port may be taken")
            }
            if redisAccepts(port: port) { return pid }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
        terminate(pid, signal: SIGKILL)
        throw RedisServerError(.notReady, "redis-server did not accept connections on 127.0.0.1:\(port) within 5 seconds")
    }

    private static func monotonicSeconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
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

    public var description: String { "RedisServerError.\(code): \(message)" }
}

/// `kill(2)`, under a name the server's own `kill()` does not hide.
private func sendSignalToRedis(_ pid: pid_t, _ signal: Int32) {
    _ = kill(pid, signal)
}
