import Caching
import CachingTesting
import Testing

/// Whatever starts a thread or opens a descriptor gives it back: measured in a child process,
/// so tests running in parallel in this one do not move the counts.
@Suite("Lifecycle: shutting down releases threads and descriptors")
struct LifecycleTests {
    @Test("50 rounds of local memory, files and a private thread pool leave threads and descriptors where they were")
    func noLeaks() async throws {
        let directory = TemporaryDirectory("swcache-lifecycle")
        defer { directory.remove() }
        let output = try await runHelper(["lifecycle", directory.path, "-", "50"])
        let (before, after) = try parseCounts(output)
        #expect(after == before, "\(output)")
    }

    @Test("a pool's shutdown joins its threads; work submitted afterwards still runs")
    func poolShutdown() async throws {
        let pool = BlockingThreadPool(threadCount: 3)
        #expect(await pool.run { 21 * 2 } == 42)
        await pool.shutdown()
        #expect(pool.isShutDown)
        await pool.shutdown()  // a second call is harmless
        #expect(await pool.run { 7 } == 7)
    }

    @Test("Caches.shutdown shuts every alias down once and closeAll keeps them usable")
    func cachesShutdown() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let caches = try Caches([
            "default": CacheSettings(backend: "locmem", location: "lifecycle-\(UniqueName.next())"),
            "files": CacheSettings(backend: "file", location: directory.path),
        ])
        try await caches["files"].set("k", 1)
        try await caches.closeAll()
        #expect(try await caches["files"].get("k", as: Int.self) == 1)
        try await caches.shutdown()
        try await caches.shutdown()
    }
}

/// Parses `before=T,D after=T,D`.
func parseCounts(_ output: String) throws -> (ProcessResources, ProcessResources) {
    let parts = output.split(separator: " ").map { $0.split(separator: "=").last.map(String.init) ?? "" }
    let numbers = parts.map { $0.split(separator: ",").compactMap { Int($0) } }
    guard numbers.count == 2, numbers.allSatisfy({ $0.count == 2 }) else {
        throw HelperError(message: "unexpected lifecycle output: \(output)")
    }
    return (
        ProcessResources(threads: numbers[0][0], descriptors: numbers[0][1]),
        ProcessResources(threads: numbers[1][0], descriptors: numbers[1][1])
    )
}
