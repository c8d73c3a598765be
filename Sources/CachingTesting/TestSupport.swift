import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The Python environment of the interop tests (Django, pymemcache, pylibmc, PyJWT), made by
/// `scripts/setup-test-env.sh` at `<repository>/.venv`, or named by `SWIFT_CACHING_PYTHON`.
///
/// Interop tests run when it is there. When it is missing they run anyway, and fail, if the
/// `CI` environment variable is set (CI must run them); elsewhere they are disabled with a
/// comment that says how to create it.
public enum InteropPython: Sendable {
    /// The Python executable for a repository root.
    ///
    /// - Parameter repositoryRoot: The repository's root directory.
    /// - Returns: `SWIFT_CACHING_PYTHON`, or `<repositoryRoot>/.venv/bin/python3`.
    public static func path(repositoryRoot: String) -> String {
        if let configured = getenv("SWIFT_CACHING_PYTHON").map({ String(cString: $0) }), !configured.isEmpty {
            return configured
        }
        return repositoryRoot + "/.venv/bin/python3"
    }

    /// Whether interop tests should run: the Python is there, or CI requires them.
    ///
    /// - Parameter repositoryRoot: The repository's root directory.
    /// - Returns: `true` to run them.
    public static func shouldRun(repositoryRoot: String) -> Bool {
        access(path(repositoryRoot: repositoryRoot), X_OK) == 0 || getenv("CI") != nil
    }

    /// What to do when the environment is missing.
    public static let howToCreate =
        "needs the Python interop environment: run scripts/setup-test-env.sh (it creates .venv with Django, pymemcache, pylibmc and PyJWT) or set SWIFT_CACHING_PYTHON; with CI set these tests run and fail instead"
}

/// Names unique within the test process: for local-memory locations, keys, aliases.
public enum UniqueName: Sendable {
    private static let counter = Atomic<Int>(0)

    /// A new name: a counter and the process id, never repeated in this process.
    ///
    /// - Returns: The name.
    public static func next() -> String {
        "\(counter.add(1, ordering: .relaxed).newValue)-\(getpid())"
    }
}

/// A directory path under `/tmp` unique to one test; not created (the cache creates it).
public struct TemporaryDirectory: Sendable {
    /// The absolute path.
    public let path: String

    /// Picks a new path.
    ///
    /// - Parameter label: The start of the directory's name.
    public init(_ label: String = "swcache-test") {
        path = "/tmp/\(label)-\(getpid())-\(UniqueName.next())-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// A directory at a path of the caller's choosing.
    ///
    /// - Parameter path: The path.
    public init(path: String) {
        self.path = path
    }

    /// Removes the directory and everything in it (as `rm -rf`; symbolic links are not followed).
    public func remove() {
        Self.removeTree(path)
    }

    private static func removeTree(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            if let stream = opendir(path) {
                var names: [String] = []
                while let entry = readdir(stream) {
                    let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                        String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                    }
                    if name != "." && name != ".." { names.append(name) }
                }
                closedir(stream)
                for name in names { removeTree(path + "/" + name) }
            }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}

/// Counts calls from concurrent code: how often a closure ran (`getOrSet`'s compute, a handler).
public final class CallCounter: Sendable {
    private let count = Atomic<Int>(0)

    /// A counter at zero.
    public init() {}

    /// Counts one call.
    public func increment() { count.add(1, ordering: .relaxed) }

    /// The calls counted so far.
    public var value: Int { count.load(ordering: .relaxed) }
}

/// Monotonic seconds, for short busy loops.
enum SystemCacheClockReading {
    static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}

/// What this process holds now: its threads and open file descriptors, read from `/proc`
/// (Linux). For tests that show a component gives back everything it took.
public struct ProcessResources: Sendable, Equatable, CustomStringConvertible {
    /// Threads of this process (`/proc/self/task`).
    public var threads: Int
    /// Open file descriptors of this process (`/proc/self/fd`).
    public var descriptors: Int

    /// Counts given by the caller (to compare with ``current()``).
    ///
    /// - Parameters:
    ///   - threads: Threads.
    ///   - descriptors: Open file descriptors.
    public init(threads: Int, descriptors: Int) {
        self.threads = threads
        self.descriptors = descriptors
    }

    /// Makes Swift concurrency start every thread of its cooperative pool (it starts them
    /// lazily, one per core at most), so that a count taken afterwards does not see them appear
    /// later. Call it before taking a baseline.
    public static func warmUpConcurrency() async {
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    var spins = 0
                    let until = SystemCacheClockReading.now() + 0.02
                    while SystemCacheClockReading.now() < until { spins &+= 1 }
                    _ = spins
                }
            }
        }
    }

    /// Counts this process's threads and descriptors now.
    ///
    /// - Returns: The counts; both 0 where `/proc` is missing.
    public static func current() -> ProcessResources {
        ProcessResources(threads: entries("/proc/self/task"), descriptors: entries("/proc/self/fd"))
    }

    /// Counts this process's threads and descriptors until they are back at `baseline`, for at
    /// most `limit`; returns the last count.
    ///
    /// A thread that was joined a moment ago can still be listed in `/proc/self/task` until the
    /// kernel finishes its exit (`pthread_join` returns when the thread's id is released, a step
    /// before that). A leak stays; a thread on its way out is gone within milliseconds.
    ///
    /// - Parameters:
    ///   - baseline: The counts to wait for.
    ///   - limit: How long to keep counting.
    /// - Returns: The last counts taken.
    public static func settled(at baseline: ProcessResources, within limit: Duration = .seconds(1)) async -> ProcessResources {
        let deadline = ContinuousClock.now + limit
        var counts = current()
        while counts != baseline, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
            counts = current()
        }
        return counts
    }

    private static func entries(_ path: String) -> Int {
        guard let stream = opendir(path) else { return 0 }
        defer { closedir(stream) }
        var count = 0
        while let entry = readdir(stream) {
            let isDot = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                raw[0] == UInt8(ascii: ".") && (raw[1] == 0 || (raw[1] == UInt8(ascii: ".") && raw[2] == 0))
            }
            if !isDot { count += 1 }
        }
        return count
    }

    public var description: String { "\(threads) threads, \(descriptors) descriptors" }
}
