import Caching
import CachingTesting
import Foundation
import Synchronization
import Testing

/// The pool's handoff: no job is lost whether threads spin or sleep, errors come back, and a
/// task that prefers the pool as its executor runs `run` inline on the same thread.
@Suite("BlockingThreadPool")
struct BlockingThreadPoolTests {
    @Test(
        "thousands of jobs from many tasks all run exactly once, spinning or not",
        .timeLimit(.minutes(1)), arguments: [0, 50, 2000])
    func everyJobRuns(spinMicroseconds: Int) async throws {
        let pool = BlockingThreadPool(threadCount: 2, spinMicroseconds: spinMicroseconds)
        let box = CounterBox()
        for round in 0..<20 {
            let results = await withTaskGroup(of: Int.self) { group in
                for index in 0..<100 {
                    group.addTask {
                        await pool.run {
                            box.value.add(1, ordering: .relaxed)
                            return index * round
                        }
                    }
                }
                var sum = 0
                for await result in group { sum += result }
                return sum
            }
            #expect(results == (0..<100).reduce(0, +) * round)
            // Let the threads go idle (spin out, then sleep) between some rounds, so that
            // submissions meet sleeping, spinning and busy threads.
            if round % 5 == 4 { try await Task.sleep(for: .milliseconds(5)) }
        }
        #expect(box.value.load(ordering: .relaxed) == 2000)
    }

    @Test("an error thrown by the work is thrown by run")
    func errorsPropagate() async throws {
        struct Expected: Error {}
        let pool = BlockingThreadPool(threadCount: 1)
        await #expect(throws: Expected.self) { try await pool.run { () throws(Expected) -> Int in throw Expected() } }
        #expect(await pool.run { 7 } == 7)
    }

    @Test("a task preferring the pool resumes on its threads, and run() then stays on the same thread")
    func taskExecutorInline() async throws {
        let pool = BlockingThreadPool(threadCount: 2)
        let (outer, inner) = await withTaskExecutorPreference(pool) { await threadsOfCallerAndRun(pool) }
        #expect(outer == inner)
        // From an ordinary task, run() hops to a pool thread.
        let caller = UInt(bitPattern: Int(bitPattern: pthread_self()))
        let worker = await pool.run { UInt(bitPattern: Int(bitPattern: pthread_self())) }
        #expect(caller != worker)
    }

    @Test("FileCache works from a task that prefers the shared pool")
    func fileCacheOnPoolExecutor() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let cache = try Cache.file(directory: directory.path)
        try await withTaskExecutorPreference(BlockingThreadPool.shared) {
            try await cache.set("key", "value")
            #expect(try await cache.get("key", as: String.self) == "value")
            try await cache.set("n", 1)
            #expect(try await cache.incr("n") == 2)
        }
    }
}

/// The thread the task runs on after its first hop (it then resumes on the preferred
/// executor, the pool) and the one a further `run` runs its work on.
private func threadsOfCallerAndRun(_ pool: BlockingThreadPool) async -> (UInt, UInt) {
    await pool.run {}
    let caller = UInt(bitPattern: Int(bitPattern: pthread_self()))
    let worker = await pool.run { UInt(bitPattern: Int(bitPattern: pthread_self())) }
    return (caller, worker)
}

private final class CounterBox: Sendable {
    let value = Atomic<Int>(0)
}
