public import Caching

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A throwaway PostgreSQL server for tests: `initdb` into a temporary directory, `postgres` on a
/// free loopback port (trust authentication for the user `postgres`), stopped and removed by
/// ``stop()``.
///
/// PostgreSQL refuses to run as root; when the tests run as root, `initdb` and the server run as
/// `nobody` (through `setpriv`), in a directory that user owns. Needs Debian's `postgresql`
/// package (`/usr/lib/postgresql/<version>/bin`); without it ``start()`` throws with the command
/// that installs it.
///
/// A commit the server acknowledged survives ``kill()``, as in production (`synchronous_commit`
/// on: the commit waits until its WAL is written). `fsync` is off, which only an operating-system
/// crash would expose, and no test makes one.
public final class PostgresServer: Sendable {
    /// The loopback port.
    public let port: Int
    /// The data directory's parent (removed by ``stop()``).
    public let directory: String
    private let binaries: String

    /// A libpq connection string for the server's `postgres` database.
    public var connectionString: String { "host=127.0.0.1 port=\(port) user=postgres dbname=postgres connect_timeout=5" }

    /// A `postgres://` URL for the server's `postgres` database.
    public var url: String { "postgres://postgres@127.0.0.1:\(port)/postgres" }

    /// The threads the fixture's blocking work runs on.
    public static let pool = BlockingThreadPool(threadCount: 2)

    private init(port: Int, directory: String, binaries: String) {
        self.port = port
        self.directory = directory
        self.binaries = binaries
    }

    /// Creates a cluster and starts the server; waits until it accepts connections.
    ///
    /// - Throws: ``/Caching/CacheError/Code/unavailable`` when PostgreSQL is not installed or did not start.
    public static func start() async throws -> PostgresServer {
        try await pool.run { () throws(CacheError) -> PostgresServer in
            guard let binaries = findBinaries() else {
                throw CacheError(
                    .unavailable,
                    "PostgreSQL's server is not installed (no /usr/lib/postgresql/*/bin/initdb); install it with `apt-get install postgresql` (or run scripts/setup-test-env.sh)"
                )
            }
            let directory = "/tmp/swcache-pg-\(getpid())-\(UniqueName.next())-\(UInt32.random(in: 0...UInt32.max))"
            mkdir(directory, 0o700)
            if getuid() == 0 { chown(directory, 65_534, 65_534) }
            let port: Int
            do throws(ServerLaunchFailure) {
                port = try ServerProcess.freePort()
            } catch {
                throw CacheError(.unavailable, error.message)
            }
            let server = PostgresServer(port: port, directory: directory, binaries: binaries)
            let initialized = run(
                binaries + "/initdb",
                ["-D", directory + "/data", "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C"])
            guard initialized == 0 else {
                server.removeDirectory()
                throw CacheError(.unavailable, "initdb failed (exit status \(initialized)) in \(directory)")
            }
            let started = server.runStart()
            guard started == 0 else {
                server.removeDirectory()
                throw CacheError(.unavailable, "PostgreSQL did not start on 127.0.0.1:\(port) (pg_ctl exit status \(started))")
            }
            return server
        }
    }

    /// Starts a server, runs `body` with it, and stops it, whether `body` throws or not.
    public static func with<T: Sendable>(_ body: (PostgresServer) async throws -> T) async throws -> T {
        let server = try await start()
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    /// Stops the server (fast shutdown: sessions are ended) and removes its directory.
    public func stop() async {
        await Self.pool.run { [self] in
            _ = Self.run(binaries + "/pg_ctl", ["-D", directory + "/data", "-m", "fast", "-w", "-t", "30", "stop"])
            removeDirectory()
        }
    }

    /// Stops the server and starts it again on the same port and data (a restart).
    public func restart() async throws {
        let status = await Self.pool.run { [self] in
            Self.run(binaries + "/pg_ctl", ["-D", directory + "/data", "-m", "fast", "-w", "-t", "30", "restart"])
        }
        guard status == 0 else { throw CacheError(.unavailable, "PostgreSQL did not restart (pg_ctl exit status \(status))") }
    }

    /// `pg_ctl start` on the data directory and port; its exit status.
    private func runStart() -> Int32 {
        let options =
            "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        return Self.run(
            binaries + "/pg_ctl", ["-D", directory + "/data", "-o", options, "-l", directory + "/log", "-w", "-t", "30", "start"])
    }

    /// The postmaster's process id (from `postmaster.pid`) and its children's: the server's processes.
    private func processes() -> [pid_t] {
        guard let file = fopen(directory + "/data/postmaster.pid", "r") else { return [] }
        defer { fclose(file) }
        var first = [CChar](repeating: 0, count: 64)
        guard fgets(&first, 64, file) != nil,
            let postmaster = Int32(String(decoding: first.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)),
            postmaster > 0
        else { return [] }
        var found = [postmaster]
        guard let proc = opendir("/proc") else { return found }
        defer { closedir(proc) }
        while let entry = readdir(proc) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let pid = Int32(name), let stat = fopen("/proc/\(pid)/stat", "r") else { continue }
            defer { fclose(stat) }
            var buffer = [CChar](repeating: 0, count: 512)
            guard fgets(&buffer, 512, stat) != nil else { continue }
            let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            // pid (comm) state ppid …: the fields after the last ')'.
            guard let close = line.lastIndex(of: ")") else { continue }
            let fields = line[line.index(after: close)...].split(separator: " ")
            if fields.count > 1, Int32(fields[1]) == postmaster { found.append(pid) }
        }
        return found
    }

    private static func isGone(_ pid: pid_t) -> Bool {
        guard let stat = fopen("/proc/\(pid)/stat", "r") else { return true }
        defer { fclose(stat) }
        var buffer = [CChar](repeating: 0, count: 512)
        guard fgets(&buffer, 512, stat) != nil else { return true }
        let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let close = line.lastIndex(of: ")") else { return true }
        return line[line.index(after: close)...].split(separator: " ").first == "Z"
    }

    /// Kills the server and every one of its processes with SIGKILL (a crash: no shutdown, open
    /// connections reset) and waits until they are gone; ``startAgain()`` starts it on the same
    /// data and port.
    public func kill() async {
        await Self.pool.run { [self] in
            let pids = processes()
            for pid in pids { sendSignal(pid, SIGKILL) }
            for _ in 0..<500 where !pids.allSatisfy(Self.isGone) { usleep(10_000) }
            // The lock files name a process that is gone (or a zombie nobody reaps, which
            // PostgreSQL would take for a live server); a crashed server leaves them behind.
            unlink(directory + "/data/postmaster.pid")
            unlink(directory + "/.s.PGSQL.\(port).lock")
            unlink(directory + "/.s.PGSQL.\(port)")
        }
    }

    /// Starts the server again after ``kill()``, on the same data and port (crash recovery runs).
    public func startAgain() async throws {
        let status = await Self.pool.run { [self] in runStart() }
        guard status == 0 else { throw CacheError(.unavailable, "PostgreSQL did not start again (pg_ctl exit status \(status))") }
    }

    /// Stops every process of the server with SIGSTOP: connections stay open and nothing answers
    /// (a hung server). Returns how many processes were stopped.
    @discardableResult
    public func pause() async -> Int {
        await Self.pool.run { [self] in
            let pids = processes()
            for pid in pids { sendSignal(pid, SIGSTOP) }
            return pids.count
        }
    }

    /// Continues every process ``pause()`` stopped.
    public func resume() async {
        await Self.pool.run { [self] in
            for pid in processes() { sendSignal(pid, SIGCONT) }
        }
    }

    private func removeDirectory() {
        TemporaryDirectory(path: directory).remove()
    }

    private static func findBinaries() -> String? {
        for version in (12...20).reversed() {
            let candidate = "/usr/lib/postgresql/\(version)/bin"
            if access(candidate + "/initdb", X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// Runs a program (as `nobody` when this process is root) and waits for its exit status;
    /// its output goes to /dev/null.
    private static func run(_ program: String, _ arguments: [String]) -> Int32 {
        let argv =
            getuid() == 0
            ? ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", program] + arguments
            : [program] + arguments
        var cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptySet = sigset_t()
        sigemptyset(&emptySet)
        posix_spawnattr_setsigmask(&attributes, &emptySet)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        var pid: pid_t = 0
        guard posix_spawn(&pid, argv[0], &actions, &attributes, &cArguments, environ) == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        return (status & 0x7F) == 0 ? (status >> 8) & 0xFF : -1
    }
}

/// `kill(2)`, under a name the server's `kill()` does not hide.
private func sendSignal(_ pid: pid_t, _ signal: Int32) {
    _ = kill(pid, signal)
}
