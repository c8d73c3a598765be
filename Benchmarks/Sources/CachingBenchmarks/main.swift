// Caching benchmarks: Cache against a locked dictionary, Cache against raw
// POSIX file I/O, each case interleaved with its baseline (see docs/PERFORMANCE.md).
//
//     cd Benchmarks && swift run -c release CachingBenchmarks [local|file|observability|file-hold] [--quick]
//
// `file-hold` (not part of a plain run) times FileCache's reads on the calling thread (FileHold.swift).
// `--profile-local-get`, `--profile-local-get-metrics` (the same loop with metrics on), `--profile-local-set`, `--profile-local-incr`, `--profile-local-getmany`, `--profile-file-get` and `--profile-file-getmany` run one long loop instead, for `perf record`.
import BenchmarkSupport
import Caching
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

let quick = CommandLine.arguments.contains("--quick")
let rounds = quick ? 3 : 7
let roundDuration = quick ? 0.2 : 0.4

func run(
    _ baseline: BenchCase, _ subject: BenchCase, target: Double? = nil
) async throws -> (baseline: BenchResult, subject: BenchResult) {
    let result = try await compare(baseline: baseline, subject: subject, rounds: rounds, roundDuration: roundDuration)
    printRow(result, target: target)
    return result
}

struct BenchFailure: Error, CustomStringConvertible {
    var description: String
}

func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw BenchFailure(description: message()) }
}

// MARK: - Local memory

/// The baseline: the same encoded entries in a dictionary behind one lock, without key
/// making, validation, expiry or LRU order.
final class LockedDictionary: Sendable {
    let storage = Mutex<[String: CacheEntry]>([:])
}

let value = "a cached value of about a hundred bytes, like a small rendered fragment or a session blob.."
let encodedValue = try CacheValueCodec.encode(value)

func localMemoryBenchmarks() async throws {
    printTableHeader(title: "LocalMemoryCache vs a Mutex-guarded dictionary (ops/s)")
    let cache = Cache.localMemory(maxEntries: 100_000)
    let dictionary = LockedDictionary()
    let keys = (0..<100).map { "key\($0)" }
    for key in keys {
        try await cache.set(key, value, timeout: .never)
        dictionary.storage.withLock { $0[cache.makeKey(key)] = encodedValue }
    }
    try await cache.set("counter", 0, timeout: .never)
    dictionary.storage.withLock { $0[":1:counter"] = .integer(0) }

    _ = try await run(
        BenchCase("dictionary get-hit") {
            let entry = dictionary.storage.withLock { $0[":1:key7"] }
            let text = String(decoding: entry!.bytes, as: UTF8.self)
            try expect(text.utf8.count == value.utf8.count, "baseline get-hit")
        },
        BenchCase("LocalMemoryCache get-hit") {
            let text = try await cache.get("key7", as: String.self)
            try expect(text?.utf8.count == value.utf8.count, "get-hit")
        }, target: 0.35)
    _ = try await run(
        BenchCase("dictionary get-miss") {
            let entry = dictionary.storage.withLock { $0[":1:missing"] }
            try expect(entry == nil, "baseline get-miss")
        },
        BenchCase("LocalMemoryCache get-miss") {
            let text = try await cache.get("missing", as: String.self)
            try expect(text == nil, "get-miss")
        })
    _ = try await run(
        BenchCase("dictionary set") {
            let entry = CacheEntry(flags: CacheItemFlags.text, bytes: Array(value.utf8))
            dictionary.storage.withLock { $0[":1:key8"] = entry }
        },
        BenchCase("LocalMemoryCache set") {
            try await cache.set("key8", value, timeout: .never)
        })
    _ = try await run(
        BenchCase("dictionary getMany(100)", operationsPerCall: 100) {
            let madeKeys = keys.map { ":1:" + $0 }
            let found = dictionary.storage.withLock { storage in
                var found: [String: String] = [:]
                for (index, made) in madeKeys.enumerated() {
                    if let entry = storage[made] { found[keys[index]] = String(decoding: entry.bytes, as: UTF8.self) }
                }
                return found
            }
            try expect(found.count == 100, "baseline getMany")
        },
        BenchCase("LocalMemoryCache getMany(100)", operationsPerCall: 100) {
            let found = try await cache.getMany(keys, as: String.self)
            try expect(found.count == 100, "getMany")
        })
    _ = try await run(
        BenchCase("dictionary incr") {
            let result = dictionary.storage.withLock { storage -> Int? in
                guard let current = storage[":1:counter"]?.integerValue else { return nil }
                storage[":1:counter"] = .integer(current + 1)
                return current + 1
            }
            try expect(result != nil, "baseline incr")
        },
        BenchCase("LocalMemoryCache incr") {
            _ = try await cache.incr("counter")
        })
}

// MARK: - Files

/// Raw POSIX file operations, the baseline for FileCache.
enum RawFile {
    static func read(_ path: String) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        return [UInt8](unsafeUninitializedCapacity: 16384) { buffer, count in
            let got = Glibc.read(descriptor, buffer.baseAddress!, 16384)
            count = max(0, got)
        }
    }

    /// What a careful reader does: open, check with `fstat` that it is a regular file of a
    /// sane size, read, close.
    static func readChecked(_ path: String) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_size < 16384 else { return nil }
        return [UInt8](unsafeUninitializedCapacity: 16384) { buffer, count in
            let got = Glibc.read(descriptor, buffer.baseAddress!, 16384)
            count = max(0, got)
        }
    }

    static func write(_ bytes: [UInt8], to path: String, temporary: String) -> Bool {
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return false }
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress!, $0.count) }
        close(descriptor)
        return written == bytes.count && rename(temporary, path) == 0
    }
}

func fileBenchmarks() async throws {
    let directory = "/tmp/swcache-bench-\(getpid())"
    let rawDirectory = directory + "-raw"
    defer { system("rm -rf '\(directory)' '\(rawDirectory)'") }
    // filePath(forKey:) and fileCount() are FileBackend's, not Cache's, since the 1.0 split.
    let fileBackend = try FileBackend(directory: directory, maxEntries: 100_000)
    let cache = Cache(fileBackend)
    _ = mkdir(rawDirectory, 0o700)
    let keys = (0..<100).map { "key\($0)" }
    for key in keys { try await cache.set(key, value, timeout: .never) }
    try await cache.set("counter", 0, timeout: .never)
    // Raw files of exactly the same sizes as the cache's files.
    let fileBytes = RawFile.read(fileBackend.filePath(forKey: cache.makeKey("key7")))!
    let rawPaths = keys.map { rawDirectory + "/" + $0 }
    for path in rawPaths { _ = RawFile.write(fileBytes, to: path, temporary: path + ".tmp") }
    let counterPath = rawDirectory + "/counter"
    _ = RawFile.write(Array("0".utf8), to: counterPath, temporary: counterPath + ".tmp")
    let pool = BlockingThreadPool.shared

    printTableHeader(title: "FileCache vs raw POSIX file I/O (ops/s; \(fileBytes.count)-byte files)")
    _ = try await run(
        BenchCase("raw open/fstat/read/close") {
            try expect(RawFile.readChecked(rawPaths[7])?.count == fileBytes.count, "raw checked read")
        },
        BenchCase("FileCache get-hit") {
            let text = try await cache.get("key7", as: String.self)
            try expect(text?.utf8.count == value.utf8.count, "get-hit")
        }, target: 0.7)
    _ = try await run(
        BenchCase("raw open/read/close") {
            try expect(RawFile.read(rawPaths[7])?.count == fileBytes.count, "raw read")
        },
        BenchCase("FileCache get-hit") {
            let text = try await cache.get("key7", as: String.self)
            try expect(text?.utf8.count == value.utf8.count, "get-hit")
        }, target: 0.7)
    _ = try await run(
        BenchCase("raw read via one pool hop") {
            let path = rawPaths[7]
            let count = await pool.run { RawFile.read(path)?.count }
            try expect(count == fileBytes.count, "raw read via pool")
        },
        BenchCase("FileCache get-hit") {
            let text = try await cache.get("key7", as: String.self)
            try expect(text?.utf8.count == value.utf8.count, "get-hit")
        })
    let sleepyPool = BlockingThreadPool(threadCount: 4, spinMicroseconds: 0)
    _ = try await run(
        BenchCase("empty hop, pool without spinning") {
            await sleepyPool.run {}
        },
        BenchCase("empty hop, spinning pool (shared)") {
            await pool.run {}
        })
    _ = try await run(
        BenchCase("empty pool hop") {
            await pool.run {}
        },
        BenchCase("raw read via one pool hop") {
            let path = rawPaths[7]
            let count = await pool.run { RawFile.read(path)?.count }
            try expect(count == fileBytes.count, "raw read via pool")
        })
    _ = try await run(
        BenchCase("raw open/read/close") {
            try expect(RawFile.read(rawPaths[7])?.count == fileBytes.count, "raw read")
        },
        BenchCase("FileCache get-hit, 100 in a task on the pool executor", operationsPerCall: 100) {
            try await withTaskExecutorPreference(pool) {
                for _ in 0..<100 {
                    let text = try await cache.get("key7", as: String.self)
                    try expect(text?.utf8.count == value.utf8.count, "get-hit on the pool executor")
                }
            }
        }, target: 0.7)
    _ = try await run(
        BenchCase("raw open (ENOENT)") {
            try expect(RawFile.read(rawDirectory + "/missing") == nil, "raw miss")
        },
        BenchCase("FileCache get-miss") {
            let text = try await cache.get("missing", as: String.self)
            try expect(text == nil, "get-miss")
        })
    let rawSetPath = rawDirectory + "/set"
    _ = try await run(
        BenchCase("raw open/write/rename") {
            try expect(RawFile.write(fileBytes, to: rawSetPath, temporary: rawSetPath + ".tmp"), "raw write")
        },
        BenchCase("FileCache set (same key)") {
            try await cache.set("key8", value, timeout: .never)
        })
    _ = try await run(
        BenchCase("raw 100 × open/read/close", operationsPerCall: 100) {
            var total = 0
            for path in rawPaths { total += RawFile.read(path)?.count ?? 0 }
            try expect(total == 100 * fileBytes.count, "raw getMany")
        },
        BenchCase("FileCache getMany(100)", operationsPerCall: 100) {
            let found = try await cache.getMany(keys, as: String.self)
            try expect(found.count == 100, "getMany")
        })
    // A revocation check reads three keys (token, family, user) with one getMany.
    let threeKeys = Array(keys.prefix(3))
    let threePaths = Array(rawPaths.prefix(3))
    _ = try await run(
        BenchCase("raw 3 × open/read/close", operationsPerCall: 3) {
            var total = 0
            for path in threePaths { total += RawFile.read(path)?.count ?? 0 }
            try expect(total == 3 * fileBytes.count, "raw getMany(3)")
        },
        BenchCase("FileCache getMany(3)", operationsPerCall: 3) {
            let found = try await cache.getMany(threeKeys, as: String.self)
            try expect(found.count == 3, "getMany(3)")
        })
    _ = try await run(
        BenchCase("raw read + write/rename") {
            guard let bytes = RawFile.read(counterPath),
                let current = Int(String(decoding: bytes, as: UTF8.self))
            else { throw BenchFailure(description: "raw incr read") }
            try expect(
                RawFile.write(Array(String(current + 1).utf8), to: counterPath, temporary: counterPath + ".tmp"),
                "raw incr write")
        },
        BenchCase("FileCache incr") {
            _ = try await cache.incr("counter")
        })

    // 16 tasks at once, each doing 8 get-hits: what the pool's four threads give together.
    let concurrency = 16
    let perTask = 8
    _ = try await run(
        BenchCase("raw read via pool, 16 tasks", operationsPerCall: concurrency * perTask) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<concurrency {
                    let path = rawPaths[task]
                    group.addTask {
                        for _ in 0..<perTask {
                            let count = await pool.run { RawFile.read(path)?.count }
                            try expect(count == fileBytes.count, "raw concurrent read")
                        }
                    }
                }
                try await group.waitForAll()
            }
        },
        BenchCase("FileCache get-hit, 16 tasks", operationsPerCall: concurrency * perTask) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<concurrency {
                    let key = keys[task]
                    group.addTask {
                        for _ in 0..<perTask {
                            let text = try await cache.get(key, as: String.self)
                            try expect(text?.utf8.count == value.utf8.count, "concurrent get-hit")
                        }
                    }
                }
                try await group.waitForAll()
            }
        })

    // Sets of new keys into a directory with Django's default MAX_ENTRIES (300): culling
    // included. Django's FileBasedCache does ~1.1k sets/s on a machine like this one.
    let culledBackend = try FileBackend(directory: directory + "-cull", maxEntries: 300)
    let culled = Cache(culledBackend)
    defer { system("rm -rf '\(directory)-cull'") }
    let serial = Mutex(0)
    let rawNewDirectory = rawDirectory + "/new"
    _ = mkdir(rawNewDirectory, 0o700)
    _ = try await run(
        BenchCase("raw open/write/rename, new names") {
            // A new name each time; the file from 300 writes ago goes, so 300 stay.
            let index = serial.withLock {
                $0 += 1
                return $0
            }
            let path = rawNewDirectory + "/f\(index)"
            try expect(RawFile.write(fileBytes, to: path, temporary: path + ".tmp"), "raw write new")
            _ = unlink(rawNewDirectory + "/f\(index - 300)")
        },
        BenchCase("FileCache set, new keys, MAX_ENTRIES 300") {
            let index = serial.withLock {
                $0 += 1
                return $0
            }
            try await culled.set("new\(index)", value, timeout: .never)
        })
    try expect(try await culledBackend.fileCount() <= 300, "culling keeps the directory at MAX_ENTRIES")
}

@discardableResult
func system(_ command: String) -> Int32 {
    var pid = pid_t()
    let arguments = ["/bin/sh", "-c", command]
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    guard posix_spawn(&pid, "/bin/sh", nil, nil, &argv, environ) == 0 else { return -1 }
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    return status
}

print("# Caching benchmarks")
print("\nMedians of \(rounds) interleaved rounds of \(roundDuration) s each; ratio = subject / baseline.")
/// A long loop of Cache get-hits off the main actor, for `perf record`.
nonisolated func profileLocalGet() async throws {
    let cache = Cache.localMemory()
    try await cache.set("key7", value, timeout: .never)
    for _ in 0..<3_000_000 { _ = try await cache.get("key7", as: String.self) }
}

/// A long loop of Cache sets (`--profile-local-set`) or incrs (`--profile-local-incr`), for `perf record`.
nonisolated func profileLocalWrite(incr: Bool) async throws {
    let cache = Cache.localMemory(maxEntries: 100_000)
    try await cache.set("counter", 0, timeout: .never)
    for _ in 0..<3_000_000 {
        if incr { _ = try await cache.incr("counter") } else { try await cache.set("key8", value, timeout: .never) }
    }
}

/// A long loop of Cache getMany(100) calls, for `perf record`.
nonisolated func profileLocalGetMany() async throws {
    let cache = Cache.localMemory(maxEntries: 1000)
    let keys = (0..<100).map { "key\($0)" }
    for key in keys { try await cache.set(key, value, timeout: .never) }
    for _ in 0..<100_000 { _ = try await cache.getMany(keys, as: String.self) }
}

/// A long loop of Cache getMany(100) calls, for `perf record`.
nonisolated func profileFileGetMany() async throws {
    let directory = "/tmp/swcache-profile-\(getpid())"
    defer { system("rm -rf '\(directory)'") }
    let cache = try Cache.file(directory: directory)
    try await cache.set("key7", value, timeout: .never)
    let keys = (0..<100).map { "key\($0)" }
    for key in keys { try await cache.set(key, value, timeout: .never) }
    for _ in 0..<3000 { _ = try await cache.getMany(keys, as: String.self) }
}

/// A long loop of FileCache get-hits from an ordinary task (`--profile-file-get`), for `perf record`.
nonisolated func profileFileGet() async throws {
    let directory = "/tmp/swcache-profile-\(getpid())"
    defer { system("rm -rf '\(directory)'") }
    let cache = try Cache.file(directory: directory)
    try await cache.set("key7", value, timeout: .never)
    for _ in 0..<1_000_000 { _ = try await cache.get("key7", as: String.self) }
}

let only = CommandLine.arguments.dropFirst().first { !$0.hasPrefix("--") }
if CommandLine.arguments.contains("--profile-local-get") {
    try await profileLocalGet()
} else if CommandLine.arguments.contains("--profile-local-get-metrics") {
    try await profileLocalGetWithMetrics()
} else if CommandLine.arguments.contains("--profile-local-set") {
    try await profileLocalWrite(incr: false)
} else if CommandLine.arguments.contains("--profile-local-incr") {
    try await profileLocalWrite(incr: true)
} else if CommandLine.arguments.contains("--profile-local-getmany") {
    try await profileLocalGetMany()
} else if CommandLine.arguments.contains("--profile-file-get") {
    try await profileFileGet()
} else if CommandLine.arguments.contains("--profile-file-getmany") {
    try await profileFileGetMany()
} else if only == "file-hold" {
    try await fileHoldBenchmarks(dropCaches: CommandLine.arguments.contains("--drop-caches"))
} else {
    if only == nil || only == "local" { try await localMemoryBenchmarks() }
    if only == nil || only == "file" { try await fileBenchmarks() }
    if only == nil || only == "observability" { try await observabilityBenchmarks() }
}
