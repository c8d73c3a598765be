import Caching
import Synchronization

/// The backend's threads and connections.
///
/// SQLite lets one connection write at a time and, in WAL mode, any number read beside it.
/// So there is one **writer**: a ``/Caching/BlockingThreadPool`` of one thread that owns one
/// connection and runs every statement that changes the table; and **readers**: a pool of
/// `readerCount` threads with a stack of read-only connections that a job takes one from and
/// gives back (no more jobs run than there are connections, so a job always finds one).
/// Every SQLite call runs inside a job on these threads, never on Swift concurrency's
/// cooperative threads.
///
/// ``close()`` closes every connection (the next job opens its own again); ``shutdown()``
/// closes them and joins the threads for good.
final class SQLiteConnectionPool: Sendable {
    private struct State {
        var idleReaders: [SQLiteConnection]
        var generation = 0
        var closed = false
        /// Whether the writer has opened the database and checked the table since the last
        /// close: readers open read-only and need the file and the table to exist.
        var writerReady = false
    }

    private let writerThread: BlockingThreadPool
    private let readerThreads: BlockingThreadPool
    /// Touched only by jobs on `writerThread` (and by `deinit`).
    private let writer: SQLiteConnection
    private let state: Mutex<State>
    private let closedMessage: String
    /// Runs on the writer's thread whenever the writer opens the database: pragmas, table check.
    private let prepareWriter: @Sendable (SQLiteConnection) throws(CacheError) -> Void
    private let mapFailure: @Sendable (SQLiteFailure, String) -> CacheError

    init(
        path: String, readerCount: Int, busyTimeoutMilliseconds: Int32, alias: String,
        prepareWriter: @escaping @Sendable (SQLiteConnection) throws(CacheError) -> Void,
        mapFailure: @escaping @Sendable (SQLiteFailure, String) -> CacheError
    ) {
        writer = SQLiteConnection(path: path, readOnly: false, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        let readers = (0..<readerCount).map { _ in
            SQLiteConnection(path: path, readOnly: true, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        }
        state = Mutex(State(idleReaders: readers))
        writerThread = BlockingThreadPool(threadCount: 1)
        readerThreads = BlockingThreadPool(threadCount: readerCount)
        closedMessage = "The SQLite cache '\(alias)' was shut down; create a new one (Caches or SQLiteBackend)"
        self.prepareWriter = prepareWriter
        self.mapFailure = mapFailure
    }

    private func checkOpen() throws(CacheError) -> Int {
        let generation: Int? = state.withLock { $0.closed ? nil : $0.generation }
        guard let generation else { throw CacheError(.closed, closedMessage) }
        return generation
    }

    /// Runs `body` on the writer's thread with the writer connection, opened and prepared.
    func write<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (SQLiteConnection) throws(SQLiteFailure) -> T
    ) async throws(CacheError) -> T {
        let generation = try checkOpen()
        let result: Result<T, CacheError> = await writerThread.run { [self] () -> Result<T, CacheError> in
            do throws(CacheError) {
                try readyWriter(generation)
                do throws(SQLiteFailure) {
                    return .success(try body(writer))
                } catch {
                    throw mapFailure(error, operation)
                }
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Runs `body` on the writer's thread inside `BEGIN IMMEDIATE` … `COMMIT`: it holds the
    /// database's write lock from the first statement, so no other connection (of this process
    /// or another) writes between its reads and its writes. A throw rolls back.
    func transaction<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (SQLiteConnection) throws(CacheError) -> T
    ) async throws(CacheError) -> T {
        let generation = try checkOpen()
        let result: Result<T, CacheError> = await writerThread.run { [self] () -> Result<T, CacheError> in
            do throws(CacheError) {
                try readyWriter(generation)
                do throws(SQLiteFailure) {
                    try writer.withStatement("BEGIN IMMEDIATE") { statement throws(SQLiteFailure) in try statement.run() }
                } catch {
                    throw mapFailure(error, operation)
                }
                let value: T
                do throws(CacheError) {
                    value = try body(writer)
                    do throws(SQLiteFailure) {
                        try writer.withStatement("COMMIT") { statement throws(SQLiteFailure) in try statement.run() }
                    } catch {
                        throw mapFailure(error, operation)
                    }
                } catch {
                    if writer.inTransaction { try? writer.execute("ROLLBACK") }
                    throw error
                }
                return .success(value)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Runs `body` on a reader thread with a read-only connection.
    func read<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (SQLiteConnection) throws(SQLiteFailure) -> T
    ) async throws(CacheError) -> T {
        let generation = try checkOpen()
        if !state.withLock({ $0.writerReady }) {
            try await write(operation) { _ in }
        }
        let result: Result<T, CacheError> = await readerThreads.run { [self] () -> Result<T, CacheError> in
            guard let connection = state.withLock({ $0.idleReaders.popLast() }) else {
                return .failure(CacheError(.closed, closedMessage))
            }
            defer { state.withLock { $0.idleReaders.append(connection) } }
            if connection.generation != generation {
                connection.close()
                connection.generation = generation
            }
            do throws(SQLiteFailure) {
                return .success(try body(connection))
            } catch {
                // A failed read may leave the handle in a bad state (a file replaced under it): start afresh.
                connection.close()
                return .failure(mapFailure(error, operation))
            }
        }
        return try result.get()
    }

    /// Opens and prepares the writer connection if needed; on the writer's thread.
    private func readyWriter(_ generation: Int) throws(CacheError) {
        if writer.generation != generation {
            writer.close()
            writer.generation = generation
        }
        guard !writer.isOpen else { return }
        do throws(SQLiteFailure) {
            try writer.open()
        } catch {
            throw mapFailure(error, "open")
        }
        do throws(CacheError) {
            try prepareWriter(writer)
        } catch {
            writer.close()
            throw error
        }
        state.withLock { if $0.generation == generation { $0.writerReady = true } }
    }

    /// Closes every connection; the next call opens them again.
    func close() async throws(CacheError) {
        _ = try checkOpen()
        await closeConnections()
    }

    private func closeConnections() async {
        await writerThread.run { [self] in
            writer.close()
            state.withLock { state in
                state.generation += 1
                state.writerReady = false
                // Idle readers are closed now; a busy one is closed by its job's generation check.
                for reader in state.idleReaders {
                    reader.close()
                    reader.generation = state.generation
                }
            }
        }
    }

    /// Closes every connection and joins the threads; later calls fail with `closed`.
    func shutdown() async {
        let first = state.withLock { state -> Bool in
            defer { state.closed = true }
            return !state.closed
        }
        guard first else { return }
        await readerThreads.run { [self] in
            state.withLock { state in for reader in state.idleReaders { reader.close() } }
        }
        await readerThreads.shutdown()
        await closeConnections()
        await writerThread.shutdown()
    }

    /// Shuts down without waiting (from a `deinit`).
    func shutdownInBackground() {
        Task.detached { [self] in await shutdown() }
    }
}
