import Caching
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
/// **Coalesced gets.** Single-key reads wait in a queue of their own, drained by at most one
/// job per thread: a drainer takes every queued read (up to ``maxBatch``) and sends them as one
/// `MGET` (a lone read as `GET`). A caller issuing reads one after another pays one round
/// trip each, as before; many tasks reading at once share round trips instead of queueing
/// for them.
///
/// hiredis writes with `write(2)`, which raises `SIGPIPE` when the server has gone; each job
/// blocks that signal on its own thread first, so a dead server is an `EPIPE` error, not the
/// end of the process (the threads are the pool's own, so nobody else's mask changes).
final class RedisConnectionPool: Sendable {
    typealias GetContinuation = UnsafeContinuation<Result<CacheEntry?, CacheError>, Never>

    private struct PendingGet {
        var key: String
        var continuation: GetContinuation
    }

    private struct State {
        var idle: [RedisConnection]
        var generation = 0
        var closed = false
        var gets: [PendingGet] = []
        var drainers = 0
    }

    /// The most reads sent in one coalesced `MGET`.
    let maxBatch = 128
    private let threads: BlockingThreadPool
    private let threadCount: Int
    private let serverCount: Int
    private let state: Mutex<State>
    private let closedMessage: String
    private let alias: String

    init(connections: [RedisConnection], serverCount: Int, alias: String, spinMicroseconds: Int) {
        threadCount = connections.count
        threads = BlockingThreadPool(threadCount: connections.count, spinMicroseconds: spinMicroseconds)
        state = Mutex(State(idle: connections))
        self.serverCount = serverCount
        self.alias = alias
        closedMessage = "The Redis cache '\(alias)' was shut down; create a new one (Caches or RedisBackend)"
    }

    /// The server a read goes to: the only one, or one of the replicas at random.
    var readServer: Int {
        serverCount == 1 ? 0 : Int.random(in: 1..<serverCount)
    }

    /// Reads one key, in a `GET` or in an `MGET` shared with concurrent reads.
    ///
    /// - Returns: The key's entry, or `nil` when it is missing.
    func get(_ key: String) async throws(CacheError) -> CacheEntry? {
        let result: Result<CacheEntry?, CacheError> = await withUnsafeContinuation { continuation in
            let startDrainer: Bool? = state.withLock { state in
                guard !state.closed else { return nil }
                state.gets.append(PendingGet(key: key, continuation: continuation))
                guard state.drainers < threadCount else { return false }
                state.drainers += 1
                return true
            }
            switch startDrainer {
            case nil: continuation.resume(returning: .failure(CacheError(.closed, closedMessage)))
            case true?: threads.execute { [self] in drainGets() }
            case false?: break
            }
        }
        return try result.get()
    }

    /// Sends the queued reads in batches until the queue is empty.
    private func drainGets() {
        Self.blockSIGPIPE()
        while true {
            let batch: [PendingGet] = state.withLock { state in
                if state.gets.isEmpty {
                    state.drainers -= 1
                    return []
                }
                if state.gets.count <= maxBatch {
                    defer { state.gets.removeAll(keepingCapacity: true) }
                    return state.gets
                }
                defer { state.gets.removeFirst(maxBatch) }
                return Array(state.gets.prefix(maxBatch))
            }
            if batch.isEmpty { return }
            do throws(CacheError) {
                let server = readServer
                let command: RedisCommand
                if batch.count == 1 {
                    command = RedisCommand("GET", batch[0].key)
                } else {
                    var many = RedisCommand("MGET")
                    for request in batch { many.append(request.key) }
                    command = many
                }
                let result = try withConnection { connection throws(CacheError) in try connection.sendForEntries(command, server) }
                switch result {
                case .success(let entries) where entries.count == batch.count:
                    for (request, entry) in zip(batch, entries) { request.continuation.resume(returning: .success(entry)) }
                case .success:
                    throw unexpectedReplyError(alias: alias, .error("a reply of the wrong length"), command.name, key: nil)
                case .failure(let unexpected):
                    throw unexpectedReplyError(alias: alias, unexpected.reply, command.name, key: batch.count == 1 ? batch[0].key : nil)
                }
            } catch {
                for request in batch { request.continuation.resume(returning: .failure(error)) }
            }
        }
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
        threads.execute { for connection in idle { connection.disconnect() } }
        Task.detached { await threads.shutdown() }
    }
}
