// How long FileCache's no-wait read holds the calling (cooperative) thread, and what it does
// with a file that is not in memory:
//
//     cd Benchmarks && swift run -c release CachingBenchmarks file-hold [--drop-caches]
//
// `--drop-caches` (root only) also measures cold directory entries: it writes
// `3` to /proc/sys/vm/drop_caches, which empties the whole machine's page and dentry caches.
import BenchmarkSupport
@_spi(Benchmarks) import Caching

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Percentiles of per-call times, with the thread's voluntary context switches (sleeps) over the
/// calls: a call that never sleeps never waited for the disk.
struct HoldTimes {
    var nanoseconds: [UInt64] = []
    /// The thread's CPU time per call: the wall time less any time the thread was preempted.
    var cpuNanoseconds: [UInt64] = []
    var sleeps = 0
    var outcomes: [String: Int] = [:]

    func percentile(_ fraction: Double, cpu: Bool = false) -> String {
        let sorted = (cpu ? cpuNanoseconds : nanoseconds).sorted()
        guard !sorted.isEmpty else { return "—" }
        let index = min(sorted.count - 1, Int(Double(sorted.count) * fraction))
        return format2(Double(sorted[index]) / 1000)
    }

    func row(_ name: String) -> String {
        let counted = outcomes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        return
            "| \(name) | \(nanoseconds.count) | \(percentile(0.5)) | \(percentile(0.9)) | \(percentile(0.99)) | \(percentile(0.999)) | \(percentile(1)) | \(percentile(0.999, cpu: true)) | \(percentile(1, cpu: true)) | \(sleeps) | \(counted) |"
    }
}

/// The calling thread's voluntary context switches so far (Linux: `RUSAGE_THREAD`).
func voluntarySwitches() -> Int {
    var usage = rusage()
    #if os(Linux)
        getrusage(__rusage_who_t(1), &usage)
    #else
        getrusage(RUSAGE_SELF, &usage)
    #endif
    return usage.ru_nvcsw
}

/// The calling thread's CPU time in nanoseconds.
func threadCPUNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

/// Times `body` once per element, synchronously on this thread, counting its outcomes.
func timeEach<T>(_ items: [T], _ body: (T) -> String) -> HoldTimes {
    var times = HoldTimes()
    times.nanoseconds.reserveCapacity(items.count)
    let before = voluntarySwitches()
    for item in items {
        let cpuStart = threadCPUNanoseconds()
        let start = monotonicNanoseconds()
        let outcome = body(item)
        times.nanoseconds.append(monotonicNanoseconds() - start)
        times.cpuNanoseconds.append(threadCPUNanoseconds() - cpuStart)
        times.outcomes[outcome, default: 0] += 1
    }
    times.sleeps = voluntarySwitches() - before
    return times
}

/// Removes a file's pages from the page cache (written back first, since dirty pages stay).
func evictPages(_ path: String) {
    #if os(Linux)
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fdatasync(descriptor)
        _ = posix_fadvise(descriptor, 0, 0, POSIX_FADV_DONTNEED)
        close(descriptor)
    #endif
}

func describe(_ found: CacheEntry??) -> String {
    switch found {
    case .none: "to the pool"
    case .some(.none): "miss on task"
    case .some(.some): "hit on task"
    }
}

func fileHoldBenchmarks(dropCaches: Bool) async throws {
    let directory = "/tmp/swcache-hold-\(getpid())"
    let rawDirectory = directory + "-raw"
    defer { system("rm -rf '\(directory)' '\(rawDirectory)'") }
    let backend = try FileBackend(directory: directory, maxEntries: 100_000)
    let cache = Cache(backend)
    _ = mkdir(rawDirectory, 0o700)
    let count = 2000
    let calls = quick ? 5000 : 20_000
    let keys = (0..<count).map { "key\($0)" }
    for key in keys { try await cache.set(key, value, timeout: .never) }
    let large = String(repeating: "x", count: 60_000)
    try await cache.set("large", large, timeout: .never)
    let made = keys.map { cache.makeKey($0) }
    let fileBytes = RawFile.read(backend.filePath(forKey: made[7]))!
    let rawPaths = (0..<count).map { rawDirectory + "/f\($0)" }
    for path in rawPaths { _ = RawFile.write(fileBytes, to: path, temporary: path + ".tmp") }

    print("\n### Time on the calling thread per read (µs), \(fileBytes.count)-byte files unless said\n")
    print(
        "Each call timed alone, synchronously (wall time, and the thread's CPU time, which leaves out preemption by other processes); \"sleeps\" are the thread's voluntary context switches over all calls of the row (0: no call waited)."
    )
    print("\n| case | calls | p50 | p90 | p99 | p99.9 | max | CPU p99.9 | CPU max | sleeps | outcomes |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    let hot = Array(repeating: made[7], count: calls)
    let rawHot = Array(repeating: rawPaths[7], count: calls)
    for _ in 0..<2 {
        print(timeEach(rawHot) { RawFile.read($0) == nil ? "error" : "read" }.row("raw open/read/close, one file"))
        print(timeEach(hot) { describe(backend.entryWithoutWaiting(forKey: $0)) }.row("no-wait read, one file"))
    }
    print(timeEach(made) { describe(backend.entryWithoutWaiting(forKey: $0)) }.row("no-wait read, \(count) files"))
    let largeKey = cache.makeKey("large")
    print(
        timeEach(Array(repeating: largeKey, count: calls / 4)) { describe(backend.entryWithoutWaiting(forKey: $0)) }
            .row("no-wait read, one 60,000-byte value (near the 64 KiB limit)"))
    let missing = (0..<count).map { cache.makeKey("missing\($0)") }
    print(timeEach(missing) { describe(backend.entryWithoutWaiting(forKey: $0)) }.row("no-wait read, \(count) names never looked up"))
    for key in missing.prefix(count) { _ = try await backend.entry(forKey: key) }
    print(timeEach(missing) { describe(backend.entryWithoutWaiting(forKey: $0)) }.row("no-wait read, the same names again"))

    // The last close of a file a writer unlinked while it was open frees the file: what a
    // read on the calling task pays when a set replaces the file under it.
    let unlinkedPaths = (0..<count).map { rawDirectory + "/unlinked\($0)" }
    for path in unlinkedPaths { _ = RawFile.write(fileBytes, to: path, temporary: path + ".tmp") }
    let descriptors = unlinkedPaths.map { path in
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        unlink(path)
        return descriptor
    }
    print(timeEach(descriptors) { close($0) == 0 ? "closed" : "error" }.row("close, the last reference to an unlinked file"))

    // Pages evicted: the read must refuse at once, and a get still answers through the pool.
    for key in made { evictPages(backend.filePath(forKey: key)) }
    print(timeEach(made) { describe(backend.entryWithoutWaiting(forKey: $0)) }.row("no-wait read, pages evicted (fadvise)"))
    for key in made { evictPages(backend.filePath(forKey: key)) }
    var wrong = 0
    let start = monotonicNanoseconds()
    for key in keys where try await cache.get(key, as: String.self) != value { wrong += 1 }
    let elapsed = Double(monotonicNanoseconds() - start) / 1e3 / Double(count)
    print("\nGets of the \(count) evicted files through `Cache.get`: \(format2(elapsed)) µs each on average, \(wrong) wrong values.")

    guard dropCaches else { return }
    // Cold directory entries and inodes: the whole machine's caches dropped.
    print(
        "\n| cold case (after `sync; echo 3 > /proc/sys/vm/drop_caches`) | calls | p50 | p90 | p99 | p99.9 | max | CPU p99.9 | CPU max | sleeps | outcomes |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    system("sync; echo 3 > /proc/sys/vm/drop_caches")
    print(timeEach(made) { describe(backend.entryWithoutWaiting(forKey: $0)) }.row("no-wait read"))
    system("sync; echo 3 > /proc/sys/vm/drop_caches")
    print(timeEach(rawPaths) { RawFile.read($0) == nil ? "error" : "read" }.row("raw open/read/close (what the pool does)"))
    system("sync; echo 3 > /proc/sys/vm/drop_caches")
    wrong = 0
    let coldStart = monotonicNanoseconds()
    for key in keys where try await cache.get(key, as: String.self) != value { wrong += 1 }
    let coldElapsed = Double(monotonicNanoseconds() - coldStart) / 1e3 / Double(count)
    print("\nGets of the \(count) cold files through `Cache.get`: \(format2(coldElapsed)) µs each on average, \(wrong) wrong values.")
    print("\n| after those gets | calls | p50 | p90 | p99 | p99.9 | max | CPU p99.9 | CPU max | sleeps | outcomes |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print(timeEach(made) { describe(backend.entryWithoutWaiting(forKey: $0)) }.row("no-wait read"))
}
