import Caching
import CoreMetrics
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
/// - **Coalesce reads.** Reads (one key or many) wait in a queue of their own. A worker takes
///   every queued read (up to ``maxBatch`` keys) and fetches the distinct keys of all of them in
///   one multi-get, so concurrent tasks doing reads share round trips instead of queueing for
///   them; each read gets its own keys' answers back, or, when one of its keys could not be
///   read, that key's error.
/// - **Resume on the worker.** Continuations are resumed by the worker after the C call;
///   no handle is held across an `await`, and no C call runs on a cooperative thread.
/// - **Bounded reads** (when ``readTimeLimit`` is set). A watchdog thread answers every read
///   still unanswered at its deadline with ``CacheError/Code/timeout``, whether it is queued
///   or its multi-get is stuck on a server that does not answer; the worker's late answer is
///   dropped. So a read never takes longer than the limit plus one watchdog period.
final class MemcachedWorkerPool: @unchecked Sendable {
    typealias Job = (MemcachedConnection) -> Void
    typealias ReadResult = Result<[CacheEntry?], CacheError>

    /// One caller's read: its keys and the continuation that gets their entries, answered once
    /// (by a worker, or by the watchdog at the deadline).
    final class Read: @unchecked Sendable {
        enum Waiter {
            case one(UnsafeContinuation<Result<CacheEntry?, CacheError>, Never>)
            case many(UnsafeContinuation<ReadResult, Never>)
        }

        let keys: [String]
        /// Monotonic nanoseconds after which the watchdog answers with a timeout.
        let deadline: UInt64
        /// When it was queued, with pool metrics on.
        let enqueued: ContinuousClock.Instant?
        private let waiter: Waiter
        private let answered = Atomic<Bool>(false)

        init(keys: [String], deadline: UInt64, waiter: Waiter, enqueued: ContinuousClock.Instant? = nil) {
            self.keys = keys
            self.deadline = deadline
            self.waiter = waiter
            self.enqueued = enqueued
        }

        var isAnswered: Bool { answered.load(ordering: .relaxed) }

        /// Resumes the caller with the entries of its keys, unless it was answered already.
        func succeed(_ entries: [CacheEntry?]) {
            guard !answered.exchange(true, ordering: .acquiringAndReleasing) else { return }
            switch waiter {
            case .one(let continuation): continuation.resume(returning: .success(entries[0]))
            case .many(let continuation): continuation.resume(returning: .success(entries))
            }
        }

        /// Resumes a one-key caller with its entry, unless it was answered already.
        func succeed(one entry: CacheEntry?) {
            guard !answered.exchange(true, ordering: .acquiringAndReleasing) else { return }
            switch waiter {
            case .one(let continuation): continuation.resume(returning: .success(entry))
            case .many(let continuation): continuation.resume(returning: .success([entry]))
            }
        }

        /// Resumes the caller with an error, unless it was answered already.
        func fail(_ error: CacheError) {
            guard !answered.exchange(true, ordering: .acquiringAndReleasing) else { return }
            switch waiter {
            case .one(let continuation): continuation.resume(returning: .failure(error))
            case .many(let continuation): continuation.resume(returning: .failure(error))
            }
        }
    }

    /// The most keys fetched in one coalesced multi-get (a single larger read goes alone).
    let maxBatch: Int
    /// How long an idle worker watches the queue before parking.
    let spinNanoseconds: UInt64
    /// The longest a read may take, queue wait included; `nil`: no watchdog.
    let readTimeLimit: Duration?
    /// How often the watchdog looks for reads past their deadline.
    let watchdogPeriod: Duration?

    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    // Guarded by `mutex`.
    private var reads: [Read] = []
    private var readHead = 0
    private var jobs: [Job] = []
    private var jobHead = 0
    private var parked = 0
    private var running = true
    private var quitGeneration = 0
    /// Each worker's reads being fetched (kept only with a watchdog).
    private var inFlight: [[Read]]
    /// Multi-gets (or single gets) sent for reads, and reads answered by them; for tests and
    /// benchmarks.
    private var readRoundTrips = 0
    private var readsServed = 0
    /// The workers' threads.
    private let threads = JoinableThreads(name: "MemcachedWorkerPool")

    /// Queued reads plus queued jobs; read without the lock by the spinning worker.
    private let pending = Atomic<Int>(0)
    /// Whether a worker is spinning.
    private let spinning = Atomic<Bool>(false)
    /// A moving average of how long workers waited for work, in nanoseconds. Spinning pays
    /// only when work comes back quickly (a caller issuing calls back to back); when callers
    /// spend longer between calls, spinning only takes a core from them, so the worker parks
    /// at once.
    private let recentIdleNanoseconds = Atomic<UInt64>(0)
    private let closedMessage: String
    private let alias: String
    private let metrics: MemcachedPoolMetrics?

    init(
        connections: [MemcachedConnection], alias: String, maxBatch: Int = 128, spinNanoseconds: UInt64 = 100_000,
        readTimeLimit: Duration? = nil, metrics: MemcachedPoolMetrics? = nil
    ) {
        self.metrics = metrics
        self.maxBatch = maxBatch
        self.spinNanoseconds = spinNanoseconds
        self.readTimeLimit = readTimeLimit
        self.alias = alias
        // A tenth of the limit, between 1 and 50 ms: the bound a read gets is limit + period.
        self.watchdogPeriod = readTimeLimit.map { min(max($0 / 10, .milliseconds(1)), .milliseconds(50)) }
        self.closedMessage = "The memcached cache '\(alias)' was shut down; create a new one (Caches or MemcachedBackend)"
        inFlight = Array(repeating: [], count: connections.count)
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
        for (index, connection) in connections.enumerated() {
            // Each worker keeps the pool alive until it leaves its loop (after shutdown); its
            // connection is freed when the worker's closure is released, before it can be joined.
            threads.start { [self] in workLoop(connection, index: index) }
        }
        if watchdogPeriod != nil {
            threads.start { [self] in watchdogLoop() }
        }
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// The longest a read can take: the limit plus one watchdog period; `nil` without a limit.
    var readTimeBound: Duration? {
        guard let readTimeLimit, let watchdogPeriod else { return nil }
        return readTimeLimit + watchdogPeriod
    }

    /// Round trips sent for reads, and reads answered, since the pool started.
    var readCounts: (roundTrips: Int, reads: Int) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return (readRoundTrips, readsServed)
    }

    // MARK: Submitting

    /// Reads one key; concurrent reads are coalesced into multi-gets.
    func get(_ key: String) async throws(CacheError) -> CacheEntry? {
        let deadline = readTimeLimit.map { Self.nanoseconds() &+ Self.nanoseconds(of: $0) } ?? .max
        let result: Result<CacheEntry?, CacheError> = await withUnsafeContinuation { continuation in
            enqueue(
                read: Read(
                    keys: [key], deadline: deadline, waiter: .one(continuation), enqueued: metrics == nil ? nil : .now))
        }
        return try result.get()
    }

    /// Reads distinct keys, by position; concurrent reads are coalesced into one multi-get.
    ///
    /// - Throws: The first error among the keys, in key order.
    func read(_ keys: [String]) async throws(CacheError) -> [CacheEntry?] {
        let deadline = readTimeLimit.map { Self.nanoseconds() &+ Self.nanoseconds(of: $0) } ?? .max
        let result: ReadResult = await withUnsafeContinuation { continuation in
            enqueue(
                read: Read(keys: keys, deadline: deadline, waiter: .many(continuation), enqueued: metrics == nil ? nil : .now))
        }
        return try result.get()
    }

    /// Runs `body` with a connection on a worker thread.
    func run<T: Sendable>(_ body: @escaping @Sendable (MemcachedConnection) throws(CacheError) -> T) async throws(CacheError) -> T {
        let metrics = self.metrics
        let submitted = metrics == nil ? nil : ContinuousClock.now
        let result: Result<T, CacheError> = await withUnsafeContinuation { continuation in
            enqueue(
                job: { connection in
                    if let submitted { metrics?.recordWait(since: submitted) }
                    do throws(CacheError) {
                        continuation.resume(returning: .success(try body(connection)))
                    } catch {
                        continuation.resume(returning: .failure(error))
                    }
                }, orElse: { continuation.resume(returning: .failure($0)) })
        }
        return try result.get()
    }

    private func enqueue(read: Read) {
        pthread_mutex_lock(mutex)
        guard running else {
            pthread_mutex_unlock(mutex)
            read.fail(CacheError(.closed, closedMessage))
            return
        }
        reads.append(read)
        let queued = pending.add(1, ordering: .sequentiallyConsistent).newValue
        let wake = parked > 0 && (queued > 1 || !spinning.load(ordering: .sequentiallyConsistent))
        pthread_mutex_unlock(mutex)
        if wake { pthread_cond_signal(condition) }
        metrics?.depth.set(queued)
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
        metrics?.depth.set(queued)
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

    static func nanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    static func nanoseconds(of duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 0 }
        return UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
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

    /// Takes queued reads (under `mutex`): at least one, then more while the keys fit in
    /// ``maxBatch``. Reads the watchdog answered already are dropped.
    private func takeReads(into batch: inout [Read]) -> Int {
        var taken = 0
        var keys = 0
        while readHead < reads.count {
            let read = reads[readHead]
            if !read.isAnswered {
                if !batch.isEmpty, keys + read.keys.count > maxBatch { break }
                batch.append(read)
                keys += read.keys.count
            }
            readHead += 1
            taken += 1
        }
        if readHead == reads.count {
            reads.removeAll(keepingCapacity: true)
            readHead = 0
        }
        return taken
    }

    private func workLoop(_ connection: MemcachedConnection, index: Int) {
        var seenGeneration = 0
        var batch: [Read] = []
        batch.reserveCapacity(maxBatch)
        let watched = readTimeLimit != nil
        while true {
            let idleStart = Self.nanoseconds()
            spinForWork()
            pthread_mutex_lock(mutex)
            if watched { inFlight[index].removeAll(keepingCapacity: true) }
            while readHead == reads.count, jobHead == jobs.count, running, quitGeneration == seenGeneration {
                parked += 1
                pthread_cond_wait(condition, mutex)
                parked -= 1
            }
            let quit = quitGeneration != seenGeneration
            seenGeneration = quitGeneration
            var job: Job?
            var taken = 0
            if readHead < reads.count {
                taken = takeReads(into: &batch)
                if watched { inFlight[index].append(contentsOf: batch) }
            } else if jobHead < jobs.count {
                job = jobs[jobHead]
                jobHead += 1
                taken = 1
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
            if !batch.isEmpty {
                readRoundTrips += 1
                readsServed += batch.count
            }
            let left = taken > 0 ? pending.subtract(taken, ordering: .sequentiallyConsistent).newValue : pending.load(ordering: .relaxed)
            let wakeAnother = left > 0 && parked > 0
            pthread_mutex_unlock(mutex)
            if taken > 0 {
                let idle = Self.nanoseconds() - idleStart
                let average = recentIdleNanoseconds.load(ordering: .relaxed)
                recentIdleNanoseconds.store((average * 3 + min(idle, 10_000_000)) / 4, ordering: .relaxed)
            }
            if wakeAnother { pthread_cond_signal(condition) }
            if let metrics, taken > 0 {
                metrics.depth.set(left)
                for read in batch { if let enqueued = read.enqueued { metrics.recordWait(since: enqueued) } }
            }

            if quit { connection.quit() }
            if let job {
                job(connection)
            } else if !batch.isEmpty {
                runReads(batch, on: connection)
                batch.removeAll(keepingCapacity: true)
            }
        }
    }

    private func runReads(_ batch: [Read], on connection: MemcachedConnection) {
        if batch.count == 1 {
            // One caller: its keys are distinct already (the backend's contract).
            let read = batch[0]
            if read.keys.count == 1 {
                do throws(CacheError) {
                    read.succeed(one: try connection.get(read.keys[0]))
                } catch {
                    read.fail(error)
                }
                return
            }
            let (found, errors) = connection.getEach(read.keys)
            if let error = errors.first(where: { $0 != nil }) ?? nil {
                read.fail(error)
            } else {
                read.succeed(found)
            }
            return
        }
        // The distinct keys of every read, each once, and each read's keys' positions among them.
        var keys: [String] = []
        var slots: [Int] = []
        var slotOfKey: [String: Int] = [:]
        var total = 0
        for read in batch { total += read.keys.count }
        keys.reserveCapacity(total)
        slots.reserveCapacity(total)
        slotOfKey.reserveCapacity(total)
        for read in batch {
            for key in read.keys {
                let next = keys.count
                if let earlier = slotOfKey.updateValue(next, forKey: key) {
                    slotOfKey[key] = earlier
                    slots.append(earlier)
                } else {
                    keys.append(key)
                    slots.append(next)
                }
            }
        }
        let found: [CacheEntry?]
        let errors: [CacheError?]
        if keys.count == 1 {
            do throws(CacheError) {
                found = [try connection.get(keys[0])]
                errors = [nil]
            } catch {
                found = [nil]
                errors = [error]
            }
        } else {
            (found, errors) = connection.getEach(keys)
        }
        // Each read gets its own keys back; one key it could not have fails it (fail closed).
        var position = 0
        for read in batch {
            if read.keys.count == 1 {
                let slot = slots[position]
                position += 1
                if let error = errors[slot] { read.fail(error) } else { read.succeed(one: found[slot]) }
                continue
            }
            var entries: [CacheEntry?] = []
            entries.reserveCapacity(read.keys.count)
            var failure: CacheError?
            for _ in read.keys {
                let slot = slots[position]
                position += 1
                if failure == nil, let error = errors[slot] { failure = error }
                entries.append(found[slot])
            }
            if let failure { read.fail(failure) } else { read.succeed(entries) }
        }
    }

    // MARK: Watchdog

    private func watchdogLoop() {
        guard let readTimeLimit, let watchdogPeriod else { return }
        let period = Self.nanoseconds(of: watchdogPeriod)
        var expired: [Read] = []
        while true {
            var pause = timespec(tv_sec: Int(period / 1_000_000_000), tv_nsec: Int(period % 1_000_000_000))
            var left = timespec()
            while nanosleep(&pause, &left) == -1 && errno == EINTR { pause = left }
            let now = Self.nanoseconds()
            pthread_mutex_lock(mutex)
            let stop = !running && readHead == reads.count && inFlight.allSatisfy(\.isEmpty)
            // Deadlines grow along the queue (a fixed limit from the enqueue time).
            var index = readHead
            while index < reads.count, reads[index].deadline <= now {
                if !reads[index].isAnswered { expired.append(reads[index]) }
                index += 1
            }
            for batch in inFlight {
                for read in batch where read.deadline <= now && !read.isAnswered { expired.append(read) }
            }
            pthread_mutex_unlock(mutex)
            for read in expired {
                read.fail(
                    CacheError(
                        .timeout,
                        "memcached read of \(Self.describe(read.keys)) for cache '\(alias)' did not finish within \(readTimeLimit) (OPTIONS read_timeout): a server does not answer, or the workers are all busy; it is refused rather than waited for",
                        key: read.keys.count == 1 ? read.keys[0] : nil))
            }
            expired.removeAll(keepingCapacity: true)
            if stop { return }
        }
    }

    private static func describe(_ keys: [String]) -> String {
        if keys.count == 1 { return "key '\(keys[0])'" }
        return "\(keys.count) keys ('\(keys[0])', …)"
    }
}
