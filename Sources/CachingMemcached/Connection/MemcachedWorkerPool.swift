import Caching
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Worker threads, each owning one ``MemcachedConnection``, fed from one queue.
///
/// Why not a general thread pool: a loopback round trip costs ~25 µs, and waking a parked
/// thread for every call costs almost as much again. So:
///
/// - **Spin, then park.** After finishing its work, one worker at a time (the "spinner")
///   watches the queue for a short while before parking on the condition variable. A caller
///   that issues calls back to back finds the spinner awake and pays no wake-up; a
///   submitter signals the condition only when no worker is spinning or more work is queued
///   than the spinner takes.
/// - **Coalesce gets.** Single-key gets wait in a queue of their own. A worker takes every
///   queued get (up to ``maxBatch``) and fetches them in one multi-get, so concurrent tasks
///   doing gets share round trips instead of queueing for them.
/// - **Resume on the worker.** Continuations are resumed by the worker after the C call;
///   no handle is held across an `await`, and no C call runs on a cooperative thread.
final class MemcachedWorkerPool: @unchecked Sendable {
    typealias Job = (MemcachedConnection) -> Void
    typealias GetContinuation = UnsafeContinuation<Result<CacheEntry?, CacheError>, Never>

    struct GetRequest {
        var key: String
        var continuation: GetContinuation
    }

    /// The most gets fetched in one coalesced multi-get.
    let maxBatch: Int
    /// How long an idle worker watches the queue before parking.
    let spinNanoseconds: UInt64

    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    // Guarded by `mutex`.
    private var gets: [GetRequest] = []
    private var jobs: [Job] = []
    private var jobHead = 0
    private var parked = 0
    private var running = true
    private var quitGeneration = 0
    /// The workers' threads.
    private let threads = JoinableThreads(name: "MemcachedWorkerPool")

    /// Queued gets plus queued jobs; read without the lock by the spinning worker.
    private let pending = Atomic<Int>(0)
    /// Whether a worker is spinning.
    private let spinning = Atomic<Bool>(false)
    /// A moving average of how long workers waited for work, in nanoseconds. Spinning pays
    /// only when work comes back quickly (a caller issuing calls back to back); when callers
    /// spend longer between calls (decoding a large multi-get), spinning only takes a core
    /// from them, so the worker parks at once.
    private let recentIdleNanoseconds = Atomic<UInt64>(0)
    private let closedMessage: String

    init(connections: [MemcachedConnection], alias: String, maxBatch: Int = 128, spinNanoseconds: UInt64 = 100_000) {
        self.maxBatch = maxBatch
        self.spinNanoseconds = spinNanoseconds
        self.closedMessage = "The memcached cache '\(alias)' was shut down; create a new one (Caches or MemcachedBackend)"
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
        for connection in connections {
            // Each worker keeps the pool alive until it leaves its loop (after shutdown); its
            // connection is freed when the worker's closure is released, before it can be joined.
            threads.start { [self] in workLoop(connection) }
        }
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    // MARK: Submitting

    /// Reads one key; concurrent reads are coalesced into multi-gets.
    func get(_ key: String) async throws(CacheError) -> CacheEntry? {
        let result: Result<CacheEntry?, CacheError> = await withUnsafeContinuation { continuation in
            enqueue(get: GetRequest(key: key, continuation: continuation))
        }
        return try result.get()
    }

    /// Runs `body` with a connection on a worker thread.
    func run<T: Sendable>(_ body: @escaping @Sendable (MemcachedConnection) throws(CacheError) -> T) async throws(CacheError) -> T {
        let result: Result<T, CacheError> = await withUnsafeContinuation { continuation in
            enqueue(
                job: { connection in
                    do throws(CacheError) {
                        continuation.resume(returning: .success(try body(connection)))
                    } catch {
                        continuation.resume(returning: .failure(error))
                    }
                }, orElse: { continuation.resume(returning: .failure($0)) })
        }
        return try result.get()
    }

    private func enqueue(get request: GetRequest) {
        pthread_mutex_lock(mutex)
        guard running else {
            pthread_mutex_unlock(mutex)
            request.continuation.resume(returning: .failure(CacheError(.closed, closedMessage)))
            return
        }
        gets.append(request)
        let queued = pending.add(1, ordering: .sequentiallyConsistent).newValue
        let wake = parked > 0 && (queued > 1 || !spinning.load(ordering: .sequentiallyConsistent))
        pthread_mutex_unlock(mutex)
        if wake { pthread_cond_signal(condition) }
    }

    private func enqueue(job: @escaping Job, orElse fail: (CacheError) -> Void) {
        pthread_mutex_lock(mutex)
        guard running else {
            pthread_mutex_unlock(mutex)
            fail(CacheError(.closed, closedMessage))
            return
        }
        jobs.append(job)
        let queued = pending.add(1, ordering: .sequentiallyConsistent).newValue
        let wake = parked > 0 && (queued > 1 || !spinning.load(ordering: .sequentiallyConsistent))
        pthread_mutex_unlock(mutex)
        if wake { pthread_cond_signal(condition) }
    }

    /// Asks every worker to close its connections (they reconnect on next use).
    func quitConnections() {
        pthread_mutex_lock(mutex)
        quitGeneration += 1
        pthread_mutex_unlock(mutex)
        pthread_cond_broadcast(condition)
    }

    /// Stops accepting work; workers finish what is queued, free their handles and exit.
    func shutdown() {
        pthread_mutex_lock(mutex)
        running = false
        pthread_mutex_unlock(mutex)
        pthread_cond_broadcast(condition)
    }

    /// Stops accepting work and returns when every worker has finished what was queued,
    /// closed its connection and been joined. Calls made afterwards fail with
    /// ``CacheError/Code/closed``.
    func shutdownAndWait() async {
        shutdown()
        await threads.waitForAll()
    }

    // MARK: Working

    private static func nanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    private func spinForWork() {
        guard spinNanoseconds > 0, pending.load(ordering: .relaxed) == 0,
            recentIdleNanoseconds.load(ordering: .relaxed) < spinNanoseconds / 2,
            spinning.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent).exchanged
        else { return }
        let start = Self.nanoseconds()
        var rounds = 0
        while pending.load(ordering: .relaxed) == 0 {
            rounds += 1
            if rounds & 7 == 0 {
                if Self.nanoseconds() - start > spinNanoseconds { break }
                sched_yield()
            }
        }
        spinning.store(false, ordering: .sequentiallyConsistent)
    }

    private func workLoop(_ connection: MemcachedConnection) {
        var seenGeneration = 0
        var batch: [GetRequest] = []
        batch.reserveCapacity(maxBatch)
        while true {
            let idleStart = Self.nanoseconds()
            spinForWork()
            pthread_mutex_lock(mutex)
            while gets.isEmpty, jobHead == jobs.count, running, quitGeneration == seenGeneration {
                parked += 1
                pthread_cond_wait(condition, mutex)
                parked -= 1
            }
            let quit = quitGeneration != seenGeneration
            seenGeneration = quitGeneration
            var job: Job?
            if !gets.isEmpty {
                if gets.count <= maxBatch {
                    swap(&batch, &gets)
                } else {
                    batch.append(contentsOf: gets.prefix(maxBatch))
                    gets.removeFirst(maxBatch)
                }
            } else if jobHead < jobs.count {
                job = jobs[jobHead]
                jobHead += 1
                if jobHead == jobs.count {
                    jobs.removeAll(keepingCapacity: true)
                    jobHead = 0
                }
            } else if !running {
                pthread_mutex_unlock(mutex)
                // Close the sockets before anyone waiting hears that the pool is down.
                connection.quit()
                return
            }
            let taken = job != nil ? 1 : batch.count
            let left = taken > 0 ? pending.subtract(taken, ordering: .sequentiallyConsistent).newValue : pending.load(ordering: .relaxed)
            let wakeAnother = left > 0 && parked > 0
            pthread_mutex_unlock(mutex)
            if taken > 0 {
                let idle = Self.nanoseconds() - idleStart
                let average = recentIdleNanoseconds.load(ordering: .relaxed)
                recentIdleNanoseconds.store((average * 3 + min(idle, 10_000_000)) / 4, ordering: .relaxed)
            }
            if wakeAnother { pthread_cond_signal(condition) }

            if quit { connection.quit() }
            if let job {
                job(connection)
            } else if !batch.isEmpty {
                runGets(batch, on: connection)
                batch.removeAll(keepingCapacity: true)
            }
        }
    }

    private func runGets(_ batch: [GetRequest], on connection: MemcachedConnection) {
        if batch.count == 1 {
            let request = batch[0]
            do throws(CacheError) {
                request.continuation.resume(returning: .success(try connection.get(request.key)))
            } catch {
                request.continuation.resume(returning: .failure(error))
            }
            return
        }
        // Distinct keys, each once, and each request's position among them.
        var keys: [String] = []
        var slots: [Int] = []
        var slotOfKey: [String: Int] = [:]
        keys.reserveCapacity(batch.count)
        slots.reserveCapacity(batch.count)
        slotOfKey.reserveCapacity(batch.count)
        for request in batch {
            let next = keys.count
            if let earlier = slotOfKey.updateValue(next, forKey: request.key) {
                slotOfKey[request.key] = earlier
                slots.append(earlier)
            } else {
                keys.append(request.key)
                slots.append(next)
            }
        }
        let (found, errors) = connection.getEach(keys)
        for (request, slot) in zip(batch, slots) {
            if let error = errors[slot] {
                request.continuation.resume(returning: .failure(error))
            } else {
                request.continuation.resume(returning: .success(found[slot]))
            }
        }
    }
}
