import Caching
import CoreMetrics
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The backend's threads and connections: a private ``/Caching/BlockingThreadPool`` with one
/// thread per connection, and a stack of idle ``RedisConnection``s that a job takes one from
/// and gives back (a job holds at most one, and no more jobs run than there are threads, so a
/// job always finds one). Every hiredis call runs inside a job on those threads, never on Swift
/// concurrency's cooperative threads.
///
/// **Coalesced reads.** Reads (a single key, or several: `get_many`, a revocation check) wait
/// in a queue of their own, drained by at most one job per thread: a drainer takes every queued
/// read (up to ``maxBatch`` keys in all; a larger read goes alone) and sends all their keys as
/// one `MGET` (a lone key as `GET`), then hands each read its own slice of the reply. A caller
/// issuing reads one after another pays one round trip each; many tasks reading at once share
/// round trips instead of queueing for them, and a failed round trip fails every read in it.
///
/// **A replica that is down.** With several servers a read goes to a replica; when the replica
/// refuses the connection (``/Caching/CacheError/Code/unavailable``), the read is sent to the
/// first server, which holds every write, and a warning is logged (at most every ten seconds).
/// A replica that times out is not retried elsewhere: that would double the time a read takes.
///
/// **Bounded reads** (when ``readTimeLimit`` is set: `OPTIONS["read_timeout"]`). A watchdog
/// thread answers every read still unanswered at its deadline with
/// ``/Caching/CacheError/Code/timeout``, whether it is queued or its round trip is stuck on a
/// server that does not answer (hiredis's own `timeout` bounds each socket call, not the
/// whole read: queue waits, reconnects and a slow trickle of bytes add up); the late answer is
/// dropped. So a read never takes longer than the limit plus one watchdog period.
///
/// hiredis writes with `write(2)`, which raises `SIGPIPE` when the server has gone; each job
/// blocks that signal on its own thread first, so a dead server is an `EPIPE` error, not the
/// end of the process (the threads are the pool's own, so nobody else's mask changes).
final class RedisConnectionPool: Sendable {
    typealias GetContinuation = UnsafeContinuation<Result<CacheEntry?, CacheError>, Never>
    typealias ManyContinuation = UnsafeContinuation<Result<[CacheEntry?], CacheError>, Never>

    /// One caller's read: its keys, its deadline, and the continuation answered once (by a
    /// drainer, or by the watchdog at the deadline).
    final class PendingRead: Sendable {
        enum Waiter: Sendable {
            case one(GetContinuation)
            case many(ManyContinuation)
        }

        let keys: [String]
        /// Monotonic nanoseconds after which the watchdog answers with a timeout (`.max`: never).
        let deadline: UInt64
        private let waiter: Waiter
        private let answered = Atomic<Bool>(false)

        init(keys: [String], deadline: UInt64, waiter: Waiter) {
            self.keys = keys
            self.deadline = deadline
            self.waiter = waiter
        }

        var isAnswered: Bool { answered.load(ordering: .acquiring) }

        /// Resumes the caller with the entries of its keys, unless it was answered already.
        func succeed(_ entries: ArraySlice<CacheEntry?>) {
            guard !answered.exchange(true, ordering: .acquiringAndReleasing) else { return }
            switch waiter {
            case .one(let continuation): continuation.resume(returning: .success(entries[entries.startIndex]))
            case .many(let continuation): continuation.resume(returning: .success(Array(entries)))
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

    private struct State {
        var idle: [RedisConnection]
        var generation = 0
        var closed = false
        var reads: [PendingRead] = []
        var drainers = 0
        /// Reads with a deadline not yet seen answered by the watchdog.
        var watched: [PendingRead] = []
        var roundTrips = 0
        var readsServed = 0
    }

    /// The most keys sent in one coalesced `MGET` (a single larger read goes alone).
    let maxBatch = 128
    /// The longest a read may take, queue wait included; `nil`: no watchdog.
    let readTimeLimit: Duration?
    /// How often the watchdog looks for reads past their deadline.
    let watchdogPeriod: Duration?
    private let threads: BlockingThreadPool
    private let watchdog = JoinableThreads(name: "RedisConnectionPool watchdog")
    private let threadCount: Int
    private let serverCount: Int
    private let state: Mutex<State>
    private let closedMessage: String
    private let alias: String
    private let logger: Logger
    /// When a replica's failure was last logged (monotonic nanoseconds).
    private let lastReplicaWarning = Atomic<UInt64>(0)

    init(
        connections: [RedisConnection], serverCount: Int, alias: String, spinMicroseconds: Int, readTimeLimit: Duration? = nil,
        logger: Logger = CacheConfiguration.silentLogger, metricsFactory: (any MetricsFactory)? = nil,
        metricsAlias: String = ""
    ) {
        threadCount = connections.count
        threads = BlockingThreadPool(threadCount: connections.count, spinMicroseconds: spinMicroseconds)
        // A job waits for a thread, and each thread holds one connection: time waiting for a connection.
        if let metricsFactory { threads.reportMetrics(to: metricsFactory, pool: "redis \(metricsAlias)") }
        state = Mutex(State(idle: connections))
        self.serverCount = serverCount
        self.alias = alias
        self.logger = logger
        self.readTimeLimit = readTimeLimit
        // A tenth of the limit, between 1 and 50 ms: the bound a read gets is limit + period.
        self.watchdogPeriod = readTimeLimit.map { min(max($0 / 10, .milliseconds(1)), .milliseconds(50)) }
        closedMessage = "The Redis cache '\(alias)' was shut down; create a new one (Caches or RedisBackend)"
        if watchdogPeriod != nil {
            // The loop keeps the pool alive until the pool is shut down and every read answered.
            watchdog.start { [self] in watchdogLoop() }
        }
    }

    /// The longest a read can take: the limit plus one watchdog period; `nil` without a limit.
    var readTimeBound: Duration? {
        guard let readTimeLimit, let watchdogPeriod else { return nil }
        return readTimeLimit + watchdogPeriod
    }

    /// Round trips sent for reads, and reads answered by them, since the pool started.
    var readCounts: (roundTrips: Int, reads: Int) {
        state.withLock { ($0.roundTrips, $0.readsServed) }
    }

    /// The server a read goes to: the only one, or one of the replicas at random.
    var readServer: Int {
        serverCount == 1 ? 0 : Int.random(in: 1..<serverCount)
    }

    private var newDeadline: UInt64 {
        guard let readTimeLimit else { return .max }
        return Self.nanoseconds() &+ Self.nanoseconds(of: readTimeLimit)
    }

    /// Reads one key, in a `GET` or in an `MGET` shared with concurrent reads.
    ///
    /// - Returns: The key's entry, or `nil` when it is missing.
    func get(_ key: String) async throws(CacheError) -> CacheEntry? {
        let deadline = newDeadline
        let result: Result<CacheEntry?, CacheError> = await withUnsafeContinuation { continuation in
            enqueue(PendingRead(keys: [key], deadline: deadline, waiter: .one(continuation)))
        }
        return try result.get()
    }

    /// Reads keys, by position, in an `MGET` shared with concurrent reads.
    ///
    /// - Returns: Each key's entry, or `nil` where it is missing.
    func read(_ keys: [String]) async throws(CacheError) -> [CacheEntry?] {
        let deadline = newDeadline
        let result: Result<[CacheEntry?], CacheError> = await withUnsafeContinuation { continuation in
            enqueue(PendingRead(keys: keys, deadline: deadline, waiter: .many(continuation)))
        }
        return try result.get()
    }

    private func enqueue(_ read: PendingRead) {
        let startDrainer: Bool? = state.withLock { state in
            guard !state.closed else { return nil }
            state.reads.append(read)
            if read.deadline != .max { state.watched.append(read) }
            guard state.drainers < threadCount else { return false }
            state.drainers += 1
            return true
        }
        switch startDrainer {
        case nil: read.fail(CacheError(.closed, closedMessage))
        case true?: threads.execute { [self] in drainReads() }
        case false?: break
        }
    }

    /// Sends the queued reads in batches until the queue is empty.
    private func drainReads() {
        Self.blockSIGPIPE()
        while true {
            let batch: [PendingRead]? = state.withLock { state in
                guard !state.reads.isEmpty else {
                    state.drainers -= 1
                    return nil
                }
                var taken = 0
                var keys = 0
                for read in state.reads {
                    if taken > 0 && keys + read.keys.count > maxBatch { break }
                    keys += read.keys.count
                    taken += 1
                }
                defer { state.reads.removeFirst(taken) }
                return Array(state.reads.prefix(taken))
            }
            guard let batch else { return }
            // Reads the watchdog answered while they queued are not sent.
            let live = batch.filter { !$0.isAnswered }
            if !live.isEmpty { fetch(live) }
        }
    }

    /// Sends the keys of `reads` in one round trip and answers each read with its slice.
    private func fetch(_ reads: [PendingRead]) {
        let keyCount = reads.reduce(0) { $0 + $1.keys.count }
        var command = RedisCommand(keyCount == 1 ? "GET" : "MGET")
        for read in reads { for key in read.keys { command.append(key) } }
        do throws(CacheError) {
            let entries = try readFromAnyServer(command, keyCount: keyCount, key: keyCount == 1 ? reads[0].keys[0] : nil)
            state.withLock { state in
                state.roundTrips += 1
                state.readsServed += reads.count
            }
            var start = 0
            for read in reads {
                read.succeed(entries[start..<(start + read.keys.count)])
                start += read.keys.count
            }
        } catch {
            for read in reads { read.fail(error) }
        }
    }

    /// Sends a read to a replica (or the only server), and to the first server when the
    /// replica cannot be reached.
    private func readFromAnyServer(_ command: RedisCommand, keyCount: Int, key: String?) throws(CacheError) -> [CacheEntry?] {
        let server = readServer
        do {
            return try read(command, keyCount: keyCount, key: key, on: server)
        } catch  where server != 0 && error.code == .unavailable {
            warnAboutReplica(error)
            return try read(command, keyCount: keyCount, key: key, on: 0)
        }
    }

    /// Logs that a replica cannot be reached, at most every ten seconds.
    func warnAboutReplica(_ error: CacheError) {
        let now = Self.nanoseconds()
        let last = lastReplicaWarning.load(ordering: .relaxed)
        guard last == 0 || now &- last > 10_000_000_000,
            lastReplicaWarning.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged
        else { return }
        logger.warning(
            "Redis cache '\(alias)': a replica cannot be reached; reads go to the first server meanwhile",
            metadata: ["cache.error": "\(error)"])
    }

    private func read(_ command: RedisCommand, keyCount: Int, key: String?, on server: Int) throws(CacheError) -> [CacheEntry?] {
        let result = try withConnection { connection throws(CacheError) in try connection.sendForEntries(command, server) }
        switch result {
        case .success(let entries) where entries.count == keyCount: return entries
        case .success(let entries):
            throw unexpectedReplyError(alias: alias, .error("\(entries.count) values for \(keyCount) keys"), command.name, key: key)
        case .failure(let unexpected): throw unexpectedReplyError(alias: alias, unexpected.reply, command.name, key: key)
        }
    }

    // MARK: Watchdog

    private func watchdogLoop() {
        guard let readTimeLimit, let watchdogPeriod else { return }
        let period = Self.nanoseconds(of: watchdogPeriod)
        while true {
            var pause = timespec(tv_sec: Int(period / 1_000_000_000), tv_nsec: Int(period % 1_000_000_000))
            var left = timespec()
            while nanosleep(&pause, &left) == -1 && errno == EINTR { pause = left }
            let now = Self.nanoseconds()
            let (expired, stop) = state.withLock { state -> ([PendingRead], Bool) in
                var expired: [PendingRead] = []
                state.watched.removeAll { read in
                    if read.isAnswered { return true }
                    if read.deadline <= now {
                        expired.append(read)
                        return true
                    }
                    return false
                }
                return (expired, state.closed && state.watched.isEmpty && state.reads.isEmpty && state.drainers == 0)
            }
            for read in expired {
                read.fail(
                    CacheError(
                        .timeout,
                        "Redis read of \(Self.describe(read.keys)) for cache '\(alias)' did not finish within \(readTimeLimit) (OPTIONS read_timeout): a server does not answer, or the threads are all busy; it is refused rather than waited for",
                        key: read.keys.count == 1 ? read.keys[0] : nil))
            }
            if stop { return }
        }
    }

    private static func describe(_ keys: [String]) -> String {
        if keys.count == 1 { return "key '\(keys[0])'" }
        return "\(keys.count) keys ('\(keys.first ?? "")', …)"
    }

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

    /// Takes an idle connection for `body` (on the calling pool thread) and gives it back.
    private func withConnection<T>(_ body: (RedisConnection) throws(CacheError) -> T) throws(CacheError) -> T {
        let taken: (RedisConnection, Bool)? = state.withLock { state in
            guard !state.closed, let connection = state.idle.popLast() else { return nil }
            let stale = connection.generation != state.generation
            connection.generation = state.generation
            return (connection, stale)
        }
        guard let (connection, stale) = taken else { throw CacheError(.closed, closedMessage) }
        if stale { connection.disconnect() }
        defer {
            let keep = state.withLock { state in
                guard !state.closed else { return false }
                state.idle.append(connection)
                return true
            }
            if !keep { connection.disconnect() }
        }
        return try body(connection)
    }

    /// Runs `body` with an idle connection on one of the pool's threads.
    func run<T: Sendable>(_ body: @escaping @Sendable (RedisConnection) throws(CacheError) -> T) async throws(CacheError) -> T {
        if state.withLock({ $0.closed }) { throw CacheError(.closed, closedMessage) }
        return try await threads.run { [self] () throws(CacheError) -> T in
            Self.blockSIGPIPE()
            return try withConnection(body)
        }
    }

    private static func blockSIGPIPE() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Closes every connection; the next call on each reconnects (Django's `close`).
    func closeConnections() async {
        // Connections in use see the new generation when next taken, and close then.
        let generation = state.withLock { state -> Int in
            state.generation += 1
            return state.generation
        }
        // Idle ones are closed now, one at a time, so jobs running meanwhile always find one.
        await threads.run { [self] in
            while true {
                let stale: RedisConnection? = state.withLock { state in
                    guard let index = state.idle.firstIndex(where: { $0.generation < generation }) else { return nil }
                    return state.idle.remove(at: index)
                }
                guard let stale else { return }
                stale.disconnect()
                stale.generation = max(stale.generation, generation)
                let kept = state.withLock { state in
                    guard !state.closed else { return false }
                    state.idle.append(stale)
                    return true
                }
                if !kept { stale.disconnect() }
            }
        }
    }

    /// Refuses new calls, lets the calls already queued finish, closes every connection and
    /// joins the threads.
    func shutdown() async {
        let idle = state.withLock { state -> [RedisConnection] in
            state.closed = true
            defer { state.idle.removeAll() }
            return state.idle
        }
        // Connections in use are closed by their jobs when they finish (the pool is closed).
        await threads.run { for connection in idle { connection.disconnect() } }
        await threads.shutdown()
        await watchdog.waitForAll()
    }

    /// Starts ``shutdown()`` without waiting (for `deinit`).
    func shutdownInBackground() {
        let idle = state.withLock { state -> [RedisConnection]? in
            // Shut down already: nothing to close, and no job may start a thread of its own.
            guard !state.closed else { return nil }
            state.closed = true
            defer { state.idle.removeAll() }
            return state.idle
        }
        guard let idle else { return }
        let threads = threads
        let watchdog = watchdog
        threads.execute { for connection in idle { connection.disconnect() } }
        Task.detached {
            await threads.shutdown()
            await watchdog.waitForAll()
        }
    }
}
