import Synchronization
import Testing

@testable import Caching

/// An idle pool sleeps: a thread spins once after its work, then waits on the condition
/// variable instead of spinning again and again.
@Suite("BlockingThreadPool when idle")
struct BlockingThreadPoolIdleTests {
    @Test("an idle pool stops spinning after one spin per thread, and still runs the next job", .timeLimit(.minutes(1)))
    func idlePoolSleeps() async throws {
        let pool = BlockingThreadPool(threadCount: 2, spinMicroseconds: 200)
        #expect(await pool.run { 41 + 1 } == 42)
        // 100 ms is 500 spins of 200 µs: a pool that kept spinning would count hundreds here.
        try await Task.sleep(for: .milliseconds(100))
        let afterIdle = pool.spinsStarted.load(ordering: .relaxed)
        #expect(afterIdle <= 4)
        try await Task.sleep(for: .milliseconds(100))
        #expect(pool.spinsStarted.load(ordering: .relaxed) == afterIdle)
        #expect(await pool.run { "woken" } == "woken")
    }
}
