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
    /// A gate a pool thread blocks on until the test opens it.
    final class Gate: Sendable {
        private let open = Atomic<Bool>(false)
        func wait() { while !open.load(ordering: .acquiring) { usleep(1000) } }
        func release() { open.store(true, ordering: .releasing) }
    }

    @Test("with its one thread busy and 2 jobs waiting, a third runIfRoom is refused with overloaded at once; run is never refused")
    func refusesAtTheBound() async throws {
        let pool = BlockingThreadPool(threadCount: 1, maxQueuedJobs: 2)
        let gate = Gate()
        let busy = Task { try await pool.runIfRoom { gate.wait() } }
        while pool.isShutDown { usleep(1000) }
        try await Task.sleep(for: .milliseconds(50))  // the thread has taken the blocking job
        let waiting = (0..<2).map { index in Task { try await pool.runIfRoom { index } } }
        try await Task.sleep(for: .milliseconds(50))
        let error = await #expect(throws: CacheError.self) { try await pool.runIfRoom { 99 } }
        #expect(error?.code == .overloaded)
        let unbounded = Task { await pool.run { 7 } }  // run is for work that must happen
        gate.release()
        try await busy.value
        #expect(try await waiting[0].value == 0)
        #expect(try await waiting[1].value == 1)
        #expect(await unbounded.value == 7)
        #expect(try await pool.runIfRoom { 3 } == 3, "room again once the queue drained")
        await pool.shutdown()
    }
}
