import CSQLite

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What SQLite said when a call failed: its primary and extended result codes and message.
struct SQLiteFailure: Error, Sendable, CustomStringConvertible {
    /// The primary result code (`SQLITE_BUSY`, `SQLITE_CORRUPT`, ...).
    var code: Int32
    /// The extended result code.
    var extendedCode: Int32
    /// `sqlite3_errmsg`, or a sentence of ours when there is no handle.
    var message: String

    var description: String { "SQLite error \(extendedCode): \(message)" }
}

/// One SQLite connection, used by one thread at a time (opened `SQLITE_OPEN_NOMUTEX`), with
/// its prepared statements cached by SQL text.
///
/// The handle is opened on first use and closed by ``close()``; a later use opens it again.
/// Not thread-safe: the pool hands it to one job at a time.
final class SQLiteConnection: @unchecked Sendable {
    /// The database file.
    let path: String
    /// Whether the connection only reads (the pool's reader connections).
    let readOnly: Bool
    /// How long a statement waits for another connection's lock before `SQLITE_BUSY`.
    let busyTimeoutMilliseconds: Int32
    /// The VFS the handle is opened with: `nil` for SQLite's default, or the no-wait VFS for
    /// connections that read on the caller's task.
    let vfs: String?
    /// The pool's generation this handle was opened in; an older one is reopened.
    var generation = 0
    private(set) var handle: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]
    /// The statement used last, checked before the dictionary.
    private var lastStatement: (sql: String, pointer: OpaquePointer)?

    init(path: String, readOnly: Bool, busyTimeoutMilliseconds: Int32, vfs: String? = nil) {
        self.path = path
        self.readOnly = readOnly
        self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
        self.vfs = vfs
    }

    deinit { close() }

    /// Whether the handle is open.
    var isOpen: Bool { handle != nil }

    /// Opens the handle if it is not open.
    func open() throws(SQLiteFailure) {
        guard handle == nil else { return }
        var opened: OpaquePointer?
        let flags =
            (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX
            | SQLITE_OPEN_NOFOLLOW
        let code = sqlite3_open_v2(path, &opened, flags, vfs)
        guard code == SQLITE_OK, let opened else {
            let failure = SQLiteFailure(
                code: code & 0xFF, extendedCode: code,
                message: opened.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(code)))
            sqlite3_close_v2(opened)
            throw failure
        }
        sqlite3_extended_result_codes(opened, 1)
        sqlite3_busy_timeout(opened, busyTimeoutMilliseconds)
        handle = opened
    }

    /// Finalizes every statement and closes the handle.
    func close() {
        for statement in statements.values { sqlite3_finalize(statement) }
        statements.removeAll()
        lastStatement = nil
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    /// The failure the handle reports for a result code.
    func failure(_ code: Int32) -> SQLiteFailure {
        let extended = handle.map { sqlite3_extended_errcode($0) } ?? code
        let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(code))
        return SQLiteFailure(code: code & 0xFF, extendedCode: extended, message: message)
    }

    /// Asks for WAL mode (readers beside one writer) and, when it is granted,
    /// `synchronous = NORMAL` (durable at checkpoints, as WAL intends). A file that cannot change
    /// its mode keeps its own, with SQLite's default synchronous setting.
    func enableWAL() throws(SQLiteFailure) {
        let mode = try withStatement("PRAGMA journal_mode = WAL") { statement throws(SQLiteFailure) in
            try statement.step() ? statement.text(0) : ""
        }
        if mode.lowercased() == "wal" { try execute("PRAGMA synchronous = NORMAL") }
    }

    /// Runs SQL text that takes no parameters and returns no rows we read (pragmas, DDL,
    /// transaction control).
    func execute(_ sql: String) throws(SQLiteFailure) {
        try open()
        let code = sqlite3_exec(handle, sql, nil, nil, nil)
        guard code == SQLITE_OK else { throw failure(code) }
    }

    /// Runs `body` with the cached prepared statement for `sql`, reset and unbound afterwards.
    func withStatement<T>(_ sql: String, _ body: (SQLiteStatement) throws(SQLiteFailure) -> T) throws(SQLiteFailure) -> T {
        try open()
        let pointer: OpaquePointer
        if let last = lastStatement, last.sql == sql {
            // The same statement as last time (a reader repeating the get): no hashing of the SQL.
            pointer = last.pointer
        } else if let cached = statements[sql] {
            pointer = cached
            lastStatement = (sql, cached)
        } else {
            var prepared: OpaquePointer?
            let code = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &prepared, nil)
            guard code == SQLITE_OK, let prepared else { throw failure(code) }
            statements[sql] = prepared
            lastStatement = (sql, prepared)
            pointer = prepared
        }
        defer {
            sqlite3_reset(pointer)
            sqlite3_clear_bindings(pointer)
        }
        return try body(SQLiteStatement(pointer: pointer, connection: self))
    }

    /// Whether a transaction is open (`sqlite3_get_autocommit` is 0).
    var inTransaction: Bool { handle.map { sqlite3_get_autocommit($0) == 0 } ?? false }

    /// The rows changed by the last statement.
    var changes: Int { handle.map { Int(sqlite3_changes($0)) } ?? 0 }
}

/// A prepared statement being run: parameters bound by position (1-based), rows stepped.
struct SQLiteStatement {
    let pointer: OpaquePointer
    let connection: SQLiteConnection

    /// Binds UTF-8 text (any bytes, NUL included: the length is given).
    func bind(_ index: Int32, _ text: String) throws(SQLiteFailure) {
        var text = text
        let code = text.withUTF8 { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                guard let base = chars.baseAddress, chars.count > 0 else {
                    return sqlite3_bind_text(pointer, index, "", 0, swift_caching_sqlite_transient())
                }
                return sqlite3_bind_text(pointer, index, base, Int32(chars.count), swift_caching_sqlite_transient())
            }
        }
        guard code == SQLITE_OK else { throw connection.failure(code) }
    }

    /// Binds bytes as text (the base64 of a value: ASCII).
    func bind(_ index: Int32, ascii bytes: [UInt8]) throws(SQLiteFailure) {
        let code = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                guard let base = chars.baseAddress, chars.count > 0 else {
                    return sqlite3_bind_text(pointer, index, "", 0, swift_caching_sqlite_transient())
                }
                return sqlite3_bind_text(pointer, index, base, Int32(chars.count), swift_caching_sqlite_transient())
            }
        }
        guard code == SQLITE_OK else { throw connection.failure(code) }
    }

    /// Binds an integer.
    func bind(_ index: Int32, _ value: Int) throws(SQLiteFailure) {
        let code = sqlite3_bind_int64(pointer, index, Int64(value))
        guard code == SQLITE_OK else { throw connection.failure(code) }
    }

    /// Binds a floating-point number (stored exactly: SQLite's REAL is an IEEE double).
    func bind(_ index: Int32, double value: Double) throws(SQLiteFailure) {
        let code = sqlite3_bind_double(pointer, index, value)
        guard code == SQLITE_OK else { throw connection.failure(code) }
    }

    /// Steps once: `true` for a row, `false` when done.
    func step() throws(SQLiteFailure) -> Bool {
        let code = sqlite3_step(pointer)
        switch code {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw connection.failure(code)
        }
    }

    /// Steps to the end, ignoring rows.
    func run() throws(SQLiteFailure) {
        while try step() {}
    }

    /// A column's value as bytes (text or blob), empty for NULL.
    func bytes(_ column: Int32) -> [UInt8] {
        // The pointer first, then the length (SQLite's rule: the length is that of the form asked for).
        let base = sqlite3_column_blob(pointer, column)
        let count = Int(sqlite3_column_bytes(pointer, column))
        guard count > 0, let base else { return [] }
        return Array(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Runs `body` with a column's bytes (text or blob) where SQLite holds them, without a copy:
    /// valid only inside `body`, before the next step or reset. Empty for NULL.
    func withBytes<R>(_ column: Int32, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        let base = sqlite3_column_blob(pointer, column)
        let count = Int(sqlite3_column_bytes(pointer, column))
        guard count > 0, let base else { return body(UnsafeBufferPointer(start: nil, count: 0)) }
        return body(UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: count))
    }

    /// Whether a column's text sorts after `bytes`, compared byte by byte as SQLite's BINARY
    /// collation compares text (the `expires` column against the current time), without a copy.
    func text(_ column: Int32, isAfter bytes: [UInt8]) -> Bool {
        let base = sqlite3_column_text(pointer, column)
        let count = Int(sqlite3_column_bytes(pointer, column))
        guard count > 0, let base else { return false }
        return bytes.withUnsafeBufferPointer { other in
            let common = min(count, other.count)
            let order = common == 0 ? 0 : memcmp(base, other.baseAddress!, common)
            return order > 0 || (order == 0 && count > other.count)
        }
    }

    /// A column's value as text.
    func text(_ column: Int32) -> String {
        let base = sqlite3_column_text(pointer, column)
        let count = Int(sqlite3_column_bytes(pointer, column))
        guard count > 0, let base else { return "" }
        return String(decoding: UnsafeBufferPointer(start: base, count: count), as: UTF8.self)
    }

    /// A column's value as an integer.
    func integer(_ column: Int32) -> Int { Int(sqlite3_column_int64(pointer, column)) }

    /// A column's value as a floating-point number.
    func double(_ column: Int32) -> Double { sqlite3_column_double(pointer, column) }

    /// Whether a column is NULL.
    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(pointer, column) == SQLITE_NULL }
}
