import Caching
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A bounded pool refuses work at once instead of queueing it behind a flood.
@Suite("BlockingThreadPool: bounded queue")
struct BlockingThreadPoolBoundTests {
    /// A gate a pool thread blocks on until the test opens it; it says when a thread reached it.
    final class Gate: Sendable {
        private let open = Atomic<Bool>(false)
        private let reached = Atomic<Bool>(false)
        func wait() {
            reached.store(true, ordering: .releasing)
            while !open.load(ordering: .acquiring) { usleep(1000) }
        }
        func release() { open.store(true, ordering: .releasing) }
        var isReached: Bool { reached.load(ordering: .acquiring) }
    }

    @Test("with its one thread busy and 2 jobs waiting, runIfRoom is refused with overloaded at once; run is never refused")
    func refusesAtTheBound() async throws {
        let pool = BlockingThreadPool(threadCount: 1, maxQueuedJobs: 2)
        let gate = Gate()
        let busy = Task { try await pool.runIfRoom { gate.wait() } }
        while !gate.isReached { await Task.yield() }  // the only thread holds the blocking job
        let ran = Atomic<Int>(0)
        pool.execute { ran.add(1, ordering: .relaxed) }  // queued synchronously: the queue is now full
        pool.execute { ran.add(1, ordering: .relaxed) }
        let error = await #expect(throws: CacheError.self) { try await pool.runIfRoom { 99 } }
        #expect(error?.code == .overloaded)
        let unbounded = Task { await pool.run { 7 } }  // run is for work that must happen
        gate.release()
        try await busy.value
        #expect(await unbounded.value == 7)
        #expect(try await pool.runIfRoom { 3 } == 3, "room again once the queue drained")
        #expect(ran.load(ordering: .relaxed) == 2)
        await pool.shutdown()
    }
}
