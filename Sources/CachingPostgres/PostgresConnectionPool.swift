import Caching
import CoreMetrics
import Synchronization

/// Libpq connections on their own threads: a ``/Caching/BlockingThreadPool`` of `poolSize`
/// threads and as many ``PostgresConnection``s, one per running job, so every libpq call (and
/// every `poll` on its socket) runs off Swift concurrency's cooperative threads.
///
/// Each call gets the options' `timeout` as a deadline covering its wait for a thread, the
/// connection and every statement. Before the first statement (and again after
/// ``needsPreparing()``) the `prepare` closure runs on the connection: the users check or create
/// their tables there. Used by ``PostgresBackend`` and by `DatabaseRevocation` on PostgreSQL.
final class PostgresConnectionPool: Sendable {
    private struct State {
        var idle: [PostgresConnection]
        var generation = 0
        var closed = false
        var prepared = false
    }

    private let threads: BlockingThreadPool
    private let state: Mutex<State>
    private let timeLimit: Double
    /// Names the user in messages: "PostgreSQL cache 'default'".
    private let owner: String
    private let prepare: @Sendable (PostgresConnection) throws(CacheError) -> Void

    /// - Parameters:
    ///   - options: The connection string, `pool_size` and `timeout`.
    ///   - describe: The server and user, for a connection's messages (no password).
    ///   - owner: The user, for the pool's own messages.
    ///   - prepare: Runs on a connection before the first statement (and after ``needsPreparing()``).
    init(
        options: PostgresOptions, describe: String, owner: String,
        prepare: @escaping @Sendable (PostgresConnection) throws(CacheError) -> Void
    ) {
        let connections = (0..<options.poolSize).map { _ in PostgresConnection(conninfo: options.database, describe: describe) }
        state = Mutex(State(idle: connections))
        threads = BlockingThreadPool(threadCount: options.poolSize)
        timeLimit = options.timeout
        self.owner = owner
        self.prepare = prepare
    }

    private var closedError: CacheError { CacheError(.closed, "The \(owner) was shut down; create a new one") }

    /// Runs `body` on a pool thread with a connection, within the time limit.
    func run<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws(CacheError) -> T) async throws(CacheError) -> T {
        let generation: Int? = state.withLock { $0.closed ? nil : $0.generation }
        guard let generation else { throw closedError }
        let timeLimit = timeLimit
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeLimit * 1000))
        let result: Result<T, CacheError> = await threads.run { [self] () -> Result<T, CacheError> in
            guard ContinuousClock.now < deadline else {
                return .failure(
                    CacheError(
                        .timeout,
                        "\(owner): the call waited \(timeLimit) s (OPTIONS timeout) for a connection, all busy; it was refused rather than run late"
                    ))
            }
            guard let connection = state.withLock({ $0.idle.popLast() }) else { return .failure(closedError) }
            defer { state.withLock { $0.idle.append(connection) } }
            if connection.generation != generation {
                connection.close()
                connection.generation = generation
            }
            connection.deadline = deadline
            connection.timeLimit = timeLimit
            do throws(CacheError) {
                if !state.withLock({ $0.prepared }) {
                    try prepare(connection)
                    state.withLock { $0.prepared = true }
                }
                return .success(try body(connection))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Runs `body` inside `BEGIN` … `COMMIT`; a throw rolls back.
    func transaction<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (PostgresConnection) throws(CacheError) -> T
    ) async throws(CacheError) -> T {
        try await run { connection throws(CacheError) in
            try connection.execute("BEGIN", operation: operation)
            do throws(CacheError) {
                let value = try body(connection)
                try connection.execute("COMMIT", operation: operation)
                return value
            } catch {
                if connection.isOpen { try? connection.execute("ROLLBACK", operation: operation) }
                throw error
            }
        }
    }

    /// Makes the next call run `prepare` again.
    func needsPreparing() {
        state.withLock { $0.prepared = false }
    }

    /// Closes every connection as it comes back; the next calls reconnect.
    func close() {
        state.withLock { state in
            state.generation += 1
            for connection in state.idle { connection.generation = -1 }
        }
    }

    /// Reports the threads' queue (each thread holds one connection) under `pool`.
    func reportMetrics(to factory: any MetricsFactory, pool: String) {
        threads.reportMetrics(to: factory, pool: pool)
    }

    /// Closes every connection and joins the threads; later calls fail with `closed`.
    func shutdown() async {
        let first = state.withLock { state -> Bool in
            defer { state.closed = true }
            return !state.closed
        }
        guard first else { return }
        await threads.run { [self] in state.withLock { state in for connection in state.idle { connection.close() } } }
        await threads.shutdown()
    }

    /// Joins the threads without waiting (from a `deinit`).
    func shutdownInBackground() {
        let threads = threads
        Task.detached { await threads.shutdown() }
    }
}
