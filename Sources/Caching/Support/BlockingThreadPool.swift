#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Threads for blocking work (file I/O, blocking C calls), so that it never runs on Swift
/// concurrency's cooperative threads.
///
/// ``run(_:)`` hands a closure to one of the pool's threads and suspends the calling task
/// until it returns. The threads start with the pool and run until the process ends.
public final class BlockingThreadPool: @unchecked Sendable {
    /// A process-wide pool for the library's file I/O, with four threads.
    public static let shared = BlockingThreadPool(threadCount: 4)

    private typealias Job = () -> Void

    // Guarded by `mutex`.
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var jobs: [Job] = []
    private var nextJob = 0
    private var idleThreads = 0

    /// The number of threads.
    public let threadCount: Int

    /// Creates a pool and starts its threads.
    ///
    /// - Parameters:
    /// - Parameter threadCount: How many threads run jobs (at least one).
    public init(threadCount: Int) {
        self.threadCount = max(1, threadCount)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
        for _ in 0..<self.threadCount {
            let context = Unmanaged.passRetained(ThreadContext(pool: self)).toOpaque()
            var thread = pthread_t()
            let created = pthread_create(&thread, nil, { raw in
                let context = Unmanaged<ThreadContext>.fromOpaque(raw!).takeRetainedValue()
                context.pool.workLoop()
                return nil
            }, context)
            precondition(created == 0, "BlockingThreadPool could not start a thread: error \(created)")
            pthread_detach(thread)
        }
    }

    private final class ThreadContext {
        let pool: BlockingThreadPool
        init(pool: BlockingThreadPool) {
            self.pool = pool
        }
    }

    /// Runs `work` on one of the pool's threads and returns its result.
    ///
    /// Task cancellation does not interrupt work that has started.
    ///
    /// - Parameter work: The blocking work.
    /// - Returns: What `work` returns.
    /// - Throws: What `work` throws.
    public func run<T: Sendable, E: Error>(_ work: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
        let result: Result<T, E> = await withUnsafeContinuation { continuation in
            submit {
                do throws(E) {
                    continuation.resume(returning: .success(try work()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    private func submit(_ job: @escaping Job) {
        pthread_mutex_lock(&mutex)
        jobs.append(job)
        let wake = idleThreads > 0
        pthread_mutex_unlock(&mutex)
        if wake { pthread_cond_signal(&condition) }
    }

    private func workLoop() {
        while true {
            pthread_mutex_lock(&mutex)
            while nextJob == jobs.count {
                idleThreads += 1
                pthread_cond_wait(&condition, &mutex)
                idleThreads -= 1
            }
            let job = jobs[nextJob]
            nextJob += 1
            if nextJob == jobs.count {
                jobs.removeAll(keepingCapacity: true)
                nextJob = 0
            } else if nextJob > 1024 {
                jobs.removeFirst(nextJob)
                nextJob = 0
            }
            pthread_mutex_unlock(&mutex)
            job()
        }
    }
}
