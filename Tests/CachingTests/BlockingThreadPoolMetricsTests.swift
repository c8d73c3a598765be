import Caching
import MetricsTestKit
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("BlockingThreadPool metrics: queue depth and time waiting for a thread")
struct BlockingThreadPoolMetricsTests {
    @Test("each job's wait is timed; the depth meter sees jobs queue behind a busy thread and drain")
    func depthAndWait() async throws {
        let metrics = TestMetrics()
        let pool = BlockingThreadPool(threadCount: 1)
        pool.reportMetrics(to: metrics, pool: "test")
        for _ in 0..<3 { #expect(await pool.run { 1 } == 1) }
        let wait = try metrics.expectTimer("cache_pool_wait", [("pool", "test")])
        #expect(wait.values.count == 3)
        #expect(wait.values.allSatisfy { $0 >= 0 })
        let depth = try metrics.expectMeter("cache_pool_queue_depth", [("pool", "test")])
        // Set once at each submit (1 waiting) and once at each take (0 left), in either order.
        #expect(depth.values.sorted() == [0, 0, 0, 1, 1, 1])

        // The only thread is busy: two more jobs wait, and the meter shows it.
        let release = Atomic<Bool>(false)
        let started = Atomic<Bool>(false)
        pool.execute {
            started.store(true, ordering: .releasing)
            while !release.load(ordering: .acquiring) { usleep(1000) }
        }
        while !started.load(ordering: .acquiring) { try await Task.sleep(for: .milliseconds(1)) }
        async let first = pool.run { 2 }
        async let second = pool.run { 3 }
        var waited = 0
        while depth.values.max() ?? 0 < 2, waited < 10_000 {
            try await Task.sleep(for: .milliseconds(1))
            waited += 1
        }
        #expect(depth.values.max() == 2)
        release.store(true, ordering: .releasing)
        #expect(await first + second == 5)
        #expect(depth.lastValue == 0)
        #expect(wait.values.count == 6)
        await pool.shutdown()
    }
}
