import Caching
import CachingSQLite
import CachingTesting
import Testing

extension SQLiteTests {
    /// The backend's threads and connections are given back by `shutdown`.
    @Suite("SQLite: lifecycle")
    struct SQLiteLifecycleTests {
        @Test("50 Caches with a SQLite alias, used, closed and shut down, leave threads and descriptors where they were")
        func noLeaks() async throws {
            let fixture = SQLiteFixture()
            defer { fixture.directory.remove() }
            let output = try await runProgram(try builtExecutable("LifecycleProbe"), ["sqlite", "50", fixture.directory.path])
            let counts = output.split(separator: " ").map { $0.split(separator: "=").last.map(String.init) ?? "" }
            #expect(counts.count == 2 && counts[0] == counts[1], "\(output)")
        }

        @Test("calls after shutdown fail with closed; shutdown twice is harmless")
        func afterShutdown() async throws {
            let fixture = SQLiteFixture()
            defer { fixture.directory.remove() }
            let cache = try Cache.sqlite(table: "t", options: fixture.options())
            try await cache.set("k", 1)
            try await cache.shutdown()
            let error = await #expect(throws: CacheError.self) { _ = try await cache.get("k", as: Int.self) }
            #expect(error?.code == .closed)
            try await cache.shutdown()
        }

        @Test("close releases the connections, the cache still works, and the rows are still there")
        func closeKeepsRows() async throws {
            let fixture = SQLiteFixture()
            defer { fixture.directory.remove() }
            let cache = try Cache.sqlite(table: "t", options: fixture.options())
            try await cache.set("k", "v")
            try await cache.close()
            #expect(try await cache.get("k", as: String.self) == "v")
            try await cache.shutdown()
            let reopened = try Cache.sqlite(table: "t", options: fixture.options())
            #expect(try await reopened.get("k", as: String.self) == "v", "rows survive a new backend on the same file")
            try await reopened.shutdown()
        }
    }
}
