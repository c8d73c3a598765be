public import CoreMetrics
import Synchronization

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
/// until it returns. The threads start with the pool and run until ``shutdown()``, which
/// lets them finish the queued jobs and joins them. A pool's threads keep it alive, so a
/// pool that is not shut down lives as long as the process.
///
/// **Handoff.** Waking a sleeping thread (a futex wake and a context switch) costs several
/// microseconds, often more than the job. So a thread that finds the queue empty first
/// may *spin* for a short while (``spinMicroseconds``, off unless asked for, except in ``shared``; yielding the CPU on every turn with
/// `sched_yield`, so a runnable thread — such as the one about to submit the next job — is
/// not starved) before it sleeps on the condition variable. At most one thread spins at a
/// time; ``run(_:)`` signals a sleeping thread only when no thread is spinning. The queue,
/// the spinning and sleeping counts are all changed under one mutex, and a spinner
/// re-checks the queue under that mutex before it sleeps, so a job submitted while a
/// spinner gives up is never left waiting: either the spinner sees it, or the submitter
/// sees no spinner and signals.
public final class BlockingThreadPool: @unchecked Sendable {
    /// A process-wide pool for the library's file I/O, with four threads that spin for 50 µs
    /// before sleeping, and at most 16,384 jobs waiting (``runIfRoom(_:)`` refuses more: a backlog that size means the disk cannot keep up, and waiting longer would not help). It is
    /// never shut down. Give slow CPU work (password hashing) a pool of its own, so it never
    /// queues in front of cache I/O.
    public static let shared = BlockingThreadPool(threadCount: 4, spinMicroseconds: 50, maxQueuedJobs: 16_384)

    private typealias Job = () -> Void

    // Guarded by `mutex`.
    // Heap-allocated: a pthread mutex or condition must not move, and `&storedProperty`
    // does not promise a stable address.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var jobs: [Job] = []
    private var nextJob = 0
    private var idleThreads = 0
    private var spinningThreads = 0
    private var running = true
    private var metrics: PoolMetrics?
    private let threads = JoinableThreads(name: "BlockingThreadPool")
    /// Jobs queued and not yet taken; read without the mutex by a spinning thread.
    private let queued = Atomic<Int>(0)
    /// How many spins have started since the pool was created (for tests).
    let spinsStarted = Atomic<Int>(0)

    /// The number of threads.
    public let threadCount: Int
    /// The most jobs waiting for a thread that ``runIfRoom(_:)`` accepts (`Int.max`: unbounded).
    public let maxQueuedJobs: Int
    /// How long an idle thread spins for new work before it sleeps, in microseconds.
    public let spinMicroseconds: Int

    /// Creates a pool and starts its threads.
    ///
    /// - Parameters:
    ///   - threadCount: How many threads run jobs (at least one).
    ///   - spinMicroseconds: How long an idle thread looks for new work before sleeping
    ///     (0, the default, never spins). One thread at most spins at a time, yielding the CPU
    ///     as it does: worth it only for a pool that gets calls back to back.
    ///   - maxQueuedJobs: The most jobs waiting for a thread before ``runIfRoom(_:)`` refuses
    ///     more with ``CacheError/Code/overloaded`` (unbounded by default).
    public init(threadCount: Int, spinMicroseconds: Int = 0, maxQueuedJobs: Int = .max) {
        self.threadCount = max(1, threadCount)
        self.maxQueuedJobs = max(1, maxQueuedJobs)
        self.spinMicroseconds = max(0, spinMicroseconds)
        mutex.initialize(to: pthread_mutex_t())
        condition.initialize(to: pthread_cond_t())
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
        for _ in 0..<self.threadCount {
            // Each thread keeps the pool alive until it leaves its loop (after shutdown).
            threads.start { [self] in workLoop() }
        }
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Stops the pool: its threads finish the jobs already queued, then exit and are joined.
    ///
    /// Returns when every thread has ended. Calling it again, or from several tasks, is
    /// harmless. Work submitted afterwards still runs, each job on a thread of its own that
    /// ends with it (correct, but slow): shut a pool down when nothing uses it any more.
    /// Must not be called from one of the pool's own threads.
    public func shutdown() async {
        precondition(!isCurrentThreadInPool, "BlockingThreadPool.shutdown() called from one of its own threads")
        pthread_mutex_lock(mutex)
        running = false
        pthread_mutex_unlock(mutex)
        pthread_cond_broadcast(condition)
        await threads.waitForAll()
    }

    /// Reports this pool's queue to metrics from now on: `cache_pool_queue_depth{pool}` (a meter:
    /// jobs waiting for a thread, set at every submit and take) and `cache_pool_wait{pool}` (a
    /// timer: how long each job waited for a thread). A later call replaces the earlier one.
    ///
    /// Off by default. Each job then also carries its submit time (one more closure).
    ///
    /// ```swift
    /// BlockingThreadPool.shared.reportMetrics(to: MetricsSystem.factory, pool: "shared")
    /// ```
    ///
    /// - Parameters:
    ///   - factory: Where the meter and timer go.
    ///   - pool: The `pool` dimension: a name of your choosing, the same for one pool.
    public func reportMetrics(to factory: any MetricsFactory, pool: String) {
        let made = PoolMetrics(factory: factory, pool: pool)
        pthread_mutex_lock(mutex)
        metrics = made
        pthread_mutex_unlock(mutex)
    }

    /// Whether ``shutdown()`` has been called.
    public var isShutDown: Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return !running
    }

    /// Runs `work` on one of the pool's threads and returns its result.
    ///
    /// When the calling task already runs on one of this pool's threads (it prefers this pool
    /// as its task executor, see ``BlockingThreadPool`` as a `TaskExecutor`), `work` runs
    /// there at once, without a hop. Task cancellation does not interrupt work that has started.
    ///
    /// - Parameter work: The blocking work.
    /// - Returns: What `work` returns.
    /// - Throws: What `work` throws.
    public func run<T: Sendable, E: Error>(_ work: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
        if isCurrentThreadInPool { return try work() }
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

    /// Runs `work` on one of the pool's threads and returns its result, unless ``maxQueuedJobs``
    /// jobs are already waiting: then it throws ``CacheError/Code/overloaded`` at once and
    /// `work` never runs. Use it for work a flood could pile up (requests), so callers fail
    /// fast instead of waiting behind the flood.
    ///
    /// - Parameter work: The blocking work.
    /// - Returns: What `work` returns.
    /// - Throws: ``CacheError/Code/overloaded``, or what `work` throws.
    public func runIfRoom<T: Sendable>(_ work: @escaping @Sendable () throws(CacheError) -> T) async throws(CacheError) -> T {
        if isCurrentThreadInPool { return try work() }
        let result: Result<T, CacheError> = await withUnsafeContinuation { continuation in
            let accepted = submit(
                {
                    do throws(CacheError) {
                        continuation.resume(returning: .success(try work()))
                    } catch {
                        continuation.resume(returning: .failure(error))
                    }
                }, bounded: true)
            if !accepted {
                continuation.resume(
                    returning: .failure(
                        CacheError(
                            .overloaded,
                            "\(maxQueuedJobs) jobs are already waiting for this thread pool's \(threadCount) threads; refused at once, nothing was done"
                        )))
            }
        }
        return try result.get()
    }

    /// Runs `work` on one of the pool's threads without waiting for it: for clean-up that
    /// must not block the caller, such as reaping a child process from a `deinit`.
    ///
    /// - Parameter work: The blocking work.
    public func execute(_ work: @escaping @Sendable () -> Void) {
        submit(work)
    }

    /// Queues a job; with `bounded`, refuses it (returns `false`) when ``maxQueuedJobs`` wait.
    @discardableResult
    private func submit(_ job: @escaping Job, bounded: Bool = false) -> Bool {
        pthread_mutex_lock(mutex)
        guard running else {
            pthread_mutex_unlock(mutex)
            Self.runOnOwnThread(job)
            return true
        }
        if bounded, jobs.count - nextJob >= maxQueuedJobs {
            pthread_mutex_unlock(mutex)
            return false
        }
        let metrics = self.metrics
        if let metrics {
            let submitted = ContinuousClock.now
            jobs.append {
                metrics.wait.record(since: submitted)
                job()
            }
        } else {
            jobs.append(job)
        }
        queued.add(1, ordering: .releasing)
        let wake = spinningThreads == 0 && idleThreads > 0
        let depth = jobs.count - nextJob
        pthread_mutex_unlock(mutex)
        if wake { pthread_cond_signal(condition) }
        metrics?.depth.set(depth)
        return true
    }

    /// Marks the pool's threads, so ``run(_:)`` can tell it is already on one of them.
    private static let threadKey: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "BlockingThreadPool could not create a thread key")
        return key
    }()

    private var isCurrentThreadInPool: Bool {
        pthread_getspecific(Self.threadKey) == Unmanaged.passUnretained(self).toOpaque()
    }

    /// Runs one job on a detached thread of its own: the fallback after ``shutdown()``.
    private static func runOnOwnThread(_ job: @escaping Job) {
        final class Box {
            let job: Job
            init(_ job: @escaping Job) { self.job = job }
        }
        let context = Unmanaged.passRetained(Box(job)).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(
            &thread, nil,
            { raw in
                Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().job()
                return nil
            }, context)
        precondition(created == 0, "BlockingThreadPool could not start a thread: error \(created)")
        pthread_detach(thread)
    }

    private func workLoop() {
        pthread_setspecific(Self.threadKey, Unmanaged.passUnretained(self).toOpaque())
        pthread_mutex_lock(mutex)
        // A thread spins once after its last job (or wake-up); if no work came, it sleeps
        // instead of spinning again, so an idle pool uses no CPU.
        var maySpin = true
        while true {
            if nextJob < jobs.count {
                maySpin = true
                let job = jobs[nextJob]
                nextJob += 1
                queued.subtract(1, ordering: .relaxed)
                if nextJob == jobs.count {
                    jobs.removeAll(keepingCapacity: true)
                    nextJob = 0
                } else if nextJob > 1024 {
                    jobs.removeFirst(nextJob)
                    nextJob = 0
                }
                // More work queued and nobody looking for it: wake a sleeper.
                let wakeAnother = nextJob < jobs.count && spinningThreads == 0 && idleThreads > 0
                let metrics = self.metrics
                let depth = jobs.count - nextJob
                pthread_mutex_unlock(mutex)
                if wakeAnother { pthread_cond_signal(condition) }
                metrics?.depth.set(depth)
                job()
                pthread_mutex_lock(mutex)
                continue
            }
            if spinMicroseconds > 0, spinningThreads == 0, maySpin {
                maySpin = false
                spinningThreads += 1
                spinsStarted.add(1, ordering: .relaxed)
                pthread_mutex_unlock(mutex)
                spinForWork()
                pthread_mutex_lock(mutex)
                spinningThreads -= 1
                continue  // re-check the queue under the mutex
            }
            if !running {
                pthread_mutex_unlock(mutex)
                return
            }
            idleThreads += 1
            pthread_cond_wait(condition, mutex)
            idleThreads -= 1
            maySpin = true
        }
    }

    /// Returns when a job is queued or the spin time is up.
    private func spinForWork() {
        let deadline = Self.monotonicMicroseconds() + spinMicroseconds
        while queued.load(ordering: .acquiring) == 0 {
            if Self.monotonicMicroseconds() >= deadline { return }
            sched_yield()
        }
    }

    private static func monotonicMicroseconds() -> Int {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int(spec.tv_sec) * 1_000_000 + Int(spec.tv_nsec) / 1000
    }
}

/// The pool as a task executor: a task that prefers it runs its code on the pool's threads,
/// which may block, and its ``BlockingThreadPool/run(_:)`` calls run inline, without the two
/// thread switches a hop from the cooperative pool costs. (The task moves onto the pool at
/// its first suspension, typically the first `run`; from then on it resumes there.)
///
/// ```swift
/// try await withTaskExecutorPreference(BlockingThreadPool.shared) {
///     for key in keys { _ = try await fileCache.get(key, as: String.self) }  // one hop, then none
/// }
/// ```
///
/// Use it for work that is mostly blocking I/O; the pool has few threads, so long CPU-bound
/// work belongs on the cooperative pool.
extension BlockingThreadPool: TaskExecutor {
    /// Runs a job of a task that prefers this pool on one of the pool's threads.
    ///
    /// - Parameter job: The job the concurrency runtime hands over.
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        submit { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

/// A pool's meter and timer, made once by ``BlockingThreadPool/reportMetrics(to:pool:)``.
final class PoolMetrics: Sendable {
    let depth: Meter
    let wait: Timer

    init(factory: any MetricsFactory, pool: String) {
        depth = Meter(label: "cache_pool_queue_depth", dimensions: [("pool", pool)], factory: factory)
        wait = Timer(label: "cache_pool_wait", dimensions: [("pool", pool)], factory: factory)
    }
}

extension Timer {
    /// Records the time elapsed since `start`.
    func record(since start: ContinuousClock.Instant) {
        let elapsed = start.duration(to: .now).components
        recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
    }
}
