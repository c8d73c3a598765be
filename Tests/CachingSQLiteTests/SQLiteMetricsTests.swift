import Caching
import CachingSQLite
import CachingTesting
import MetricsTestKit
import Testing

extension SQLiteTests {
    @Suite("SQLite: pool metrics")
    struct SQLiteMetricsTests {
        @Test("an alias with metrics on reports its writer's and its readers' queues: one wait per job, by pool")
        func poolMetrics() async throws {
            let fixture = SQLiteFixture()
            defer { fixture.directory.remove() }
            let metrics = TestMetrics()
            // Reads on threads only, so each read is a job of the readers' pool.
            let json = #"""
                {"m": {"BACKEND": "db", "LOCATION": "t", "OPTIONS": {"database": "\#(fixture.path)", "read_on_task": false}}}
                """#
            let caches = try Caches(
                json: Array(json.utf8), backends: CacheBackends.standard.withSQLite(),
                observability: CacheObservability(metricsFactory: metrics))
            let cache = try caches["m"]
            try await cache.set("k", 1)
            #expect(try await cache.get("k", as: Int.self) == 1)
            let writer = try metrics.expectTimer("cache_pool_wait", [("pool", "sqlite m writer")])
            let readers = try metrics.expectTimer("cache_pool_wait", [("pool", "sqlite m readers")])
            _ = try metrics.expectMeter("cache_pool_queue_depth", [("pool", "sqlite m writer")])
            _ = try metrics.expectMeter("cache_pool_queue_depth", [("pool", "sqlite m readers")])
            let writes = writer.values.count
            let reads = readers.values.count
            for index in 0..<5 { try await cache.set("k\(index)", index) }
            for index in 0..<3 { #expect(try await cache.get("k\(index)", as: Int.self) == index) }
            #expect(writer.values.count == writes + 5)
            #expect(readers.values.count == reads + 3)
            #expect(writer.values.allSatisfy { $0 >= 0 })
            try await caches.shutdown()
        }
    }
}
