import CSQLite
import CSQLiteNoWait
import Caching
import CoreMetrics
import Synchronization

/// The backend's threads and connections.
///
/// SQLite lets one connection write at a time and, in WAL mode, any number read beside it.
/// So there is one **writer**: a ``/Caching/BlockingThreadPool`` of one thread that owns one
/// connection and runs every statement that changes the table; and **readers**: a pool of
/// `readerCount` threads with a stack of read-only connections that a job takes one from and
/// gives back (no more jobs run than there are connections, so a job always finds one).
/// Every SQLite call that may wait runs inside a job on these threads, never on Swift
/// concurrency's cooperative threads.
///
/// Reads first try the caller's task, when `readOnTask` is on and the platform has the no-wait
/// VFS (Linux): a second stack of read-only connections, opened through that VFS, whose reads
/// copy only pages already in memory, never sleep and never open a file. A read that would
/// have to wait fails at once on the task and runs again on a reader thread (which also opens
/// and warms those connections, so the task never opens one). So a cached read costs no thread
/// hop, and a cold one costs the hop it always did. See docs/PERFORMANCE.md, "SQLite reads on
/// the calling task".
///
/// ``close()`` closes every connection (the next job opens its own again); ``shutdown()``
/// closes them and joins the threads for good.
final class SQLiteConnectionPool: Sendable {
    private struct State {
        var idleReaders: [SQLiteConnection]
        /// Open, warm connections of the no-wait VFS, for reads on the caller's task.
        var taskReaders: [SQLiteConnection] = []
        /// No-wait connections to (re)open on a reader thread: never opened, from an older
        /// generation, or after a read on the task failed.
        var coldTaskReaders: [SQLiteConnection]
        /// Reads answered on the caller's task, and reads tried there that went to a thread.
        var taskReadsAnswered = 0
        var taskReadsDeferred = 0
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

    /// Whether reads try the caller's task first.
    let readsOnTask: Bool

    init(
        path: String, readerCount: Int, busyTimeoutMilliseconds: Int32, alias: String, readOnTask: Bool = true,
        prepareWriter: @escaping @Sendable (SQLiteConnection) throws(CacheError) -> Void,
        mapFailure: @escaping @Sendable (SQLiteFailure, String) -> CacheError
    ) {
        writer = SQLiteConnection(path: path, readOnly: false, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        let readers = (0..<readerCount).map { _ in
            SQLiteConnection(path: path, readOnly: true, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        }
        readsOnTask = readOnTask && swift_caching_nowait_register() == SQLITE_OK
        let taskReaders =
            readsOnTask
            ? (0..<readerCount).map { _ in
                // No busy wait: a lock held elsewhere sends the read to a thread at once.
                SQLiteConnection(path: path, readOnly: true, busyTimeoutMilliseconds: 0, vfs: SWIFT_CACHING_NOWAIT_VFS)
            } : []
        state = Mutex(State(idleReaders: readers, coldTaskReaders: taskReaders))
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

    /// Reads answered on the caller's task, and reads tried there that went to a thread.
    var taskReadCounts: (answered: Int, deferred: Int) {
        state.withLock { ($0.taskReadsAnswered, $0.taskReadsDeferred) }
    }

    /// Runs `body` with a read-only connection: on the caller's task when every page it needs
    /// is in memory (see the type's notes), else on a reader thread.
    func read<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (SQLiteConnection) throws(SQLiteFailure) -> T
    ) async throws(CacheError) -> T {
        // The task's read checks for a closed pool in the lock it takes its connection in.
        if readsOnTask, let value = readOnTask(body) { return value }
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
                let value = try body(connection)
                if readsOnTask { warmTaskReader(generation, body) }
                return .success(value)
            } catch {
                // A failed read may leave the handle in a bad state (a file replaced under it): start afresh.
                connection.close()
                return .failure(mapFailure(error, operation))
            }
        }
        return try result.get()
    }

    /// Runs `body` on the caller's task with a warm no-wait connection, or returns `nil` (no
    /// idle one, or the read would have had to wait, or failed: the caller's thread job will
    /// run it again and report what a failure really is).
    private func readOnTask<T>(_ body: (SQLiteConnection) throws(SQLiteFailure) -> T) -> T? {
        guard swift_caching_nowait_available() != 0,
            let connection = state.withLock({ state in state.closed ? nil : state.taskReaders.popLast() })
        else { return nil }
        var value: T?
        do throws(SQLiteFailure) {
            value = try body(connection)
        } catch {
            value = nil
        }
        let closeHere = state.withLock { state -> Bool in
            if value == nil { state.taskReadsDeferred += 1 } else { state.taskReadsAnswered += 1 }
            if state.closed { return true }
            // A failure may leave the handle in an error state: a reader thread reopens it.
            if value != nil, connection.generation == state.generation {
                state.taskReaders.append(connection)
            } else {
                state.coldTaskReaders.append(connection)
            }
            return false
        }
        if closeHere {
            // Shut down while this read ran: nobody else will close it. Closing a read-only
            // handle unlocks and closes descriptors; it never checkpoints or syncs.
            swift_caching_nowait_allow_waiting(1)
            connection.close()
            swift_caching_nowait_allow_waiting(0)
        }
        return value
    }

    /// On a reader thread, after a read there: opens one cold no-wait connection and runs the
    /// same read on it once (discarding the answer), so that its file handles, WAL index and
    /// prepared statement exist before a task uses it.
    private func warmTaskReader<T>(_ generation: Int, _ body: (SQLiteConnection) throws(SQLiteFailure) -> T) {
        guard
            let connection = state.withLock({ state in
                state.closed || state.generation != generation ? nil : state.coldTaskReaders.popLast()
            })
        else { return }
        swift_caching_nowait_allow_waiting(1)
        defer { swift_caching_nowait_allow_waiting(0) }
        connection.close()
        connection.generation = generation
        var warm = true
        do throws(SQLiteFailure) {
            _ = try body(connection)
        } catch {
            connection.close()
            warm = false
        }
        let closeHere = state.withLock { state -> Bool in
            if state.closed { return true }
            if warm && state.generation == generation {
                state.taskReaders.append(connection)
            } else {
                state.coldTaskReaders.append(connection)
            }
            return false
        }
        if closeHere { connection.close() }
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
                closeTaskReaders(&state)
            }
        }
    }

    /// Closes the idle no-wait connections (on a pool thread); one in use on a task comes back
    /// as cold, or is closed by that task after a shutdown.
    private func closeTaskReaders(_ state: inout State) {
        swift_caching_nowait_allow_waiting(1)
        defer { swift_caching_nowait_allow_waiting(0) }
        for reader in state.taskReaders + state.coldTaskReaders { reader.close() }
        state.coldTaskReaders += state.taskReaders
        state.taskReaders.removeAll()
    }

    /// Reports both threads' queues: `sqlite <alias> writer` and `sqlite <alias> readers`.
    func reportMetrics(to factory: any MetricsFactory, alias: String) {
        writerThread.reportMetrics(to: factory, pool: "sqlite \(alias) writer")
        readerThreads.reportMetrics(to: factory, pool: "sqlite \(alias) readers")
    }

    /// Closes every connection and joins the threads; later calls fail with `closed`.
    func shutdown() async {
        let first = state.withLock { state -> Bool in
            defer { state.closed = true }
            return !state.closed
        }
        guard first else { return }
        await readerThreads.run { [self] in
            state.withLock { state in
                for reader in state.idleReaders { reader.close() }
                closeTaskReaders(&state)
            }
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
