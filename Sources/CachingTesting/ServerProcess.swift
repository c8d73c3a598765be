import Caching
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The server binary a throwaway server fixture runs: its name, how to install it, and its
/// command line for a loopback port.
struct ServerProgram: Sendable {
    /// The binary's name, looked up on `PATH` and in the usual directories.
    let name: String
    /// The Debian package that installs it.
    let package: String
    /// The arguments (after the executable) that make it listen on 127.0.0.1:`port`.
    let arguments: @Sendable (_ port: Int) -> [String]
}

/// Why a server fixture could not start; each fixture turns it into its own public error.
struct ServerLaunchFailure: Error {
    enum Kind { case binaryNotFound, launchFailed, notReady }
    let kind: Kind
    let message: String

    init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
}

/// A server running as a child process on a free loopback port: what ``MemcachedServer`` and
/// ``RedisServer`` share. Blocking work (spawning, waiting for readiness, reaping) runs on the
/// fixture's pool; only the process this object started is ever signalled.
final class ServerProcess: Sendable {
    let program: ServerProgram
    let port: Int
    let arguments: [String]
    private let executable: String
    private let pool: BlockingThreadPool
    private let process: Mutex<pid_t?>

    var processID: Int32? { process.withLock { $0 } }

    private init(program: ServerProgram, executable: String, port: Int, arguments: [String], pool: BlockingThreadPool, pid: pid_t) {
        self.program = program
        self.executable = executable
        self.port = port
        self.arguments = arguments
        self.pool = pool
        self.process = Mutex(pid)
    }

    deinit {
        if let pid = process.withLock({ $0 }) {
            // Reaping may wait; never on the thread that dropped the last reference.
            pool.execute { Self.terminate(pid, signal: SIGTERM) }
        }
    }

    /// Starts the program on a free loopback port and waits until it accepts connections.
    static func start(_ program: ServerProgram, arguments: [String], pool: BlockingThreadPool) async throws(ServerLaunchFailure)
        -> ServerProcess
    {
        try await pool.run { () throws(ServerLaunchFailure) -> ServerProcess in
            let executable = try findExecutable(program)
            var lastError: ServerLaunchFailure?
            // A port found free can be taken by someone else before the server binds it: retry.
            for _ in 0..<5 {
                let port = try freePort()
                do throws(ServerLaunchFailure) {
                    let pid = try launch(program, executable, port: port, arguments: arguments)
                    return ServerProcess(
                        program: program, executable: executable, port: port, arguments: arguments, pool: pool, pid: pid)
                } catch {
                    lastError = error
                }
            }
            throw lastError ?? ServerLaunchFailure(.launchFailed, "\(program.name) could not be started")
        }
    }

    /// Signals the process (`SIGTERM` to stop, `SIGKILL` to crash it) and reaps it.
    func end(with signal: Int32) async {
        guard
            let pid = process.withLock({ current in
                defer { current = nil }
                return current
            })
        else { return }
        await pool.run { Self.terminate(pid, signal: signal) }
    }

    /// Starts the program again on the same port, stopping it first if it runs.
    func restart() async throws(ServerLaunchFailure) {
        await end(with: SIGTERM)
        let (program, executable, port, arguments) = (program, executable, port, arguments)
        let pid = try await pool.run { () throws(ServerLaunchFailure) -> pid_t in
            var lastError: ServerLaunchFailure?
            // The old socket may linger for a moment; both servers set SO_REUSEADDR, so retries suffice.
            for _ in 0..<20 {
                do throws(ServerLaunchFailure) {
                    return try Self.launch(program, executable, port: port, arguments: arguments)
                } catch {
                    lastError = error
                    usleep(50_000)
                }
            }
            throw lastError!
        }
        process.withLock { $0 = pid }
    }

    /// Stops the process with `SIGSTOP` (a server that hangs) and returns once every thread of
    /// it shows as stopped: delivery is asynchronous, and a request sent before it takes effect
    /// would still be answered.
    ///
    /// - Returns: Whether the process was seen stopped within two seconds.
    func pause() async throws -> Bool {
        guard let pid = processID, kill(pid, SIGSTOP) == 0 else { return false }
        #if os(Linux)
            for _ in 0..<400 {
                if Self.allThreadsStopped(pid) { return true }
                try await Task.sleep(for: .milliseconds(5))
            }
            return false
        #else
            try await Task.sleep(for: .milliseconds(50))
            return true
        #endif
    }

    /// Lets a paused process run again (`SIGCONT`).
    func resume() {
        if let pid = processID { _ = kill(pid, SIGCONT) }
    }

    // MARK: Process handling (blocking; runs on the pool or in deinit)

    #if os(Linux)
        /// Whether every thread in `/proc/PID/task` is in state `T` or `t`.
        private static func allThreadsStopped(_ pid: pid_t) -> Bool {
            guard let directory = opendir("/proc/\(pid)/task") else { return false }
            defer { closedir(directory) }
            var sawThread = false
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                guard let thread = Int32(name) else { continue }
                sawThread = true
                let state = threadState("/proc/\(pid)/task/\(thread)/stat")
                guard state == "T" || state == "t" else { return false }
            }
            return sawThread
        }

        /// The state letter in a `stat` file (after the parenthesized command name).
        private static func threadState(_ path: String) -> String {
            guard let file = fopen(path, "r") else { return "gone" }
            defer { fclose(file) }
            var buffer = [CChar](repeating: 0, count: 512)
            guard fgets(&buffer, Int32(buffer.count), file) != nil else { return "unreadable" }
            let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard let close = line.lastIndex(of: ")") else { return "unparsable" }
            return String(line[line.index(after: close)...].dropFirst().prefix(1))
        }
    #endif

    /// Signals the process and reaps it; escalates to `SIGKILL` if it has not exited within
    /// three seconds, so a stop never hangs.
    static func terminate(_ pid: pid_t, signal: Int32) {
        _ = kill(pid, signal)
        let deadline = monotonicSeconds() + 3
        var status: Int32 = 0
        var pause: UInt32 = 200
        while true {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid || (reaped == -1 && errno != EINTR) { return }
            if monotonicSeconds() > deadline {
                _ = kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                return
            }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
    }

    private static func findExecutable(_ program: ServerProgram) throws(ServerLaunchFailure) -> String {
        var directories = ["/usr/bin", "/usr/local/bin", "/usr/sbin", "/opt/homebrew/bin"]
        if let path = getenv("PATH") {
            directories = String(cString: path).split(separator: ":").map(String.init) + directories
        }
        for directory in directories {
            let candidate = directory + "/" + program.name
            if access(candidate, X_OK) == 0 { return candidate }
        }
        throw ServerLaunchFailure(
            .binaryNotFound,
            "The \(program.name) binary was not found on PATH or in /usr/bin; install it with `apt-get install \(program.package)` (or run scripts/setup-test-env.sh)"
        )
    }

    /// A loopback port that was free a moment ago: bind port 0 and read what the kernel chose.
    static func freePort() throws(ServerLaunchFailure) -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ServerLaunchFailure(.launchFailed, "socket() failed: errno \(errno)") }
        defer { close(fd) }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw ServerLaunchFailure(.launchFailed, "bind to 127.0.0.1:0 failed: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw ServerLaunchFailure(.launchFailed, "getsockname failed: errno \(errno)") }
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
    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return connected == 0
    }

    /// Spawns the program and waits until it accepts connections or exits.
    private static func launch(
        _ program: ServerProgram, _ executable: String, port: Int, arguments: [String]
    ) throws(ServerLaunchFailure) -> pid_t {
        // On Linux, util-linux's setpriv gives the server PR_SET_PDEATHSIG and then becomes it
        // (same process id): if the test process dies without stopping it (a crash, SIGKILL),
        // the kernel kills the server too, instead of leaving it to init. The signal follows
        // the spawning thread, which is one of `LoopbackServer.pool`'s: they live as long as
        // the process.
        let launcher = Self.deathSignalLauncher.map { [$0, "--pdeathsig", "KILL", "--"] } ?? []
        let argv = launcher + [executable] + program.arguments(port) + arguments
        var cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        #if os(Linux)
            // Nothing else the spawning process holds open goes with the server. Foundation's
            // `Process` gives its child one end of a socket pair and sees the child end only
            // when every holder closes it: a server started by such a child (a probe, a test
            // helper) would otherwise keep its parent waiting for as long as the server runs.
            if let closeFrom = Self.closeFrom { _ = closeFrom(&actions, 3) }
        #endif
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
        let spawned = posix_spawn(&pid, launcher.first ?? executable, &actions, &attributes, &cArguments, environ)
        guard spawned == 0 else {
            throw ServerLaunchFailure(.launchFailed, "posix_spawn of \(executable) failed: error \(spawned)")
        }
        let deadline = monotonicSeconds() + 5
        var pause: UInt32 = 200
        while monotonicSeconds() < deadline {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                throw ServerLaunchFailure(
                    .launchFailed, "\(program.name) exited at start on port \(port) (exit status \(status)); the port may be taken")
            }
            if accepts(port: port) { return pid }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
        terminate(pid, signal: SIGKILL)
        throw ServerLaunchFailure(.notReady, "\(program.name) did not accept connections on 127.0.0.1:\(port) within 5 seconds")
    }

    #if os(Linux)
        /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which the Glibc
        /// module does not declare.
        private static let closeFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32)? = {
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
                return nil
            }
            return unsafeBitCast(
                symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32).self)
        }()
    #endif

    /// `setpriv` (Linux, util-linux), when installed.
    private static let deathSignalLauncher: String? = {
        #if os(Linux)
            let path = "/usr/bin/setpriv"
            return access(path, X_OK) == 0 ? path : nil
        #else
            return nil
        #endif
    }()

    private static func monotonicSeconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}
