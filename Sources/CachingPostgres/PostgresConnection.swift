import CLibpq
import Caching

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A statement's rows (text format; `nil` for SQL NULL) and the rows it changed.
struct PostgresRows: Sendable {
    var rows: [[String?]]
    var affected: Int
}

/// One libpq connection, used by one thread at a time, with its prepared statements.
///
/// Opened on first use; a failed connection is closed and the next use opens it again.
final class PostgresConnection: @unchecked Sendable {
    private let conninfo: String
    private let describe: String
    private var handle: OpaquePointer?
    private var prepared: [String: String] = [:]
    /// The statement prepared or used last, checked before the dictionary.
    private var lastPrepared: (sql: String, name: String)?
    /// The pool's generation this handle was opened in; an older one is reopened.
    var generation = 0

    init(conninfo: String, describe: String) {
        self.conninfo = conninfo
        self.describe = describe
    }

    deinit { close() }

    func close() {
        if let handle { PQfinish(handle) }
        handle = nil
        prepared.removeAll()
        lastPrepared = nil
    }

    /// Whether a connection is open (a failed or timed-out one is closed).
    var isOpen: Bool { handle != nil }

    /// When the call using this connection must end; every wait on the socket stops there.
    var deadline = ContinuousClock.now
    /// The time limit the deadline comes from, for messages.
    var timeLimit = 5.0

    private func open() throws(CacheError) -> OpaquePointer {
        if let handle, PQstatus(handle) == CONNECTION_OK { return handle }
        close()
        guard let connection = PQconnectStart(conninfo) else {
            throw CacheError(.unavailable, "PostgreSQL \(describe) cannot be reached: out of memory")
        }
        func fail(_ message: String, code: CacheError.Code = .unavailable) -> CacheError {
            PQfinish(connection)
            return CacheError(code, "PostgreSQL \(describe) cannot be reached: \(message.singleLine)")
        }
        guard PQstatus(connection) != CONNECTION_BAD else { throw fail(String(cString: PQerrorMessage(connection))) }
        var polling = PGRES_POLLING_WRITING
        while polling != PGRES_POLLING_OK {
            guard polling != PGRES_POLLING_FAILED else { throw fail(String(cString: PQerrorMessage(connection))) }
            let ready = waitForSocket(connection, events: Int16(polling == PGRES_POLLING_READING ? POLLIN : POLLOUT))
            guard ready else {
                throw fail("no connection within \(timeLimit) s (OPTIONS timeout); the server does not answer", code: .timeout)
            }
            polling = PQconnectPoll(connection)
        }
        PQsetnonblocking(connection, 1)
        handle = connection
        return connection
    }

    /// Waits until the socket is ready for `events` or the deadline passes; `false` at the deadline.
    private func waitForSocket(_ connection: OpaquePointer, events: Int16) -> Bool {
        while true {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { return false }
            let (seconds, attoseconds) = remaining.components
            let milliseconds = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
            var descriptor = pollfd(fd: PQsocket(connection), events: events, revents: 0)
            let ready = poll(&descriptor, 1, milliseconds)
            if ready > 0 { return true }
            if ready < 0 && errno != EINTR { return true }  // libpq reports the socket's error
        }
    }

    /// Sends what `send` queued and waits, up to the deadline, for every result; returns the first.
    private func finish(_ connection: OpaquePointer, sent: Int32, operation: String) throws(CacheError) -> OpaquePointer? {
        func timedOut() -> CacheError {
            close()
            return CacheError(
                .timeout,
                "PostgreSQL \(describe) did not answer \(operation) within \(timeLimit) s (OPTIONS timeout); the connection was closed")
        }
        guard sent == 1 else { return nil }
        while true {
            let flushed = PQflush(connection)
            if flushed == 0 { break }
            if flushed < 0 { return nil }
            guard waitForSocket(connection, events: Int16(POLLIN | POLLOUT)) else { throw timedOut() }
            if PQconsumeInput(connection) == 0 { return nil }
        }
        var first: OpaquePointer?
        while true {
            while PQisBusy(connection) == 1 {
                guard waitForSocket(connection, events: Int16(POLLIN)) else {
                    if let first { PQclear(first) }
                    throw timedOut()
                }
                if PQconsumeInput(connection) == 0 { break }
            }
            guard let result = PQgetResult(connection) else { break }
            if first == nil { first = result } else { PQclear(result) }
            if PQstatus(connection) != CONNECTION_OK { break }
        }
        return first
    }

    /// Runs a statement, prepared once per connection, with text parameters.
    func run(_ sql: String, _ parameters: [String?], operation: String) throws(CacheError) -> PostgresRows {
        try query(sql, parameters, operation: operation) { read in
            let result = read.pointer
            var rows: [[String?]] = []
            let rowCount = Int(PQntuples(result))
            let columnCount = Int(PQnfields(result))
            rows.reserveCapacity(rowCount)
            for row in 0..<rowCount {
                var values: [String?] = []
                for column in 0..<columnCount {
                    if PQgetisnull(result, Int32(row), Int32(column)) == 1 {
                        values.append(nil)
                    } else {
                        values.append(String(cString: PQgetvalue(result, Int32(row), Int32(column))))
                    }
                }
                rows.append(values)
            }
            let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
            return PostgresRows(rows: rows, affected: affected)
        }
    }

    /// Runs a statement, prepared once per connection, with text parameters, and gives its
    /// successful result to `read` (valid only inside it: read what you need in place).
    func query<T>(
        _ sql: String, _ parameters: [String?], operation: String, read: (PostgresResult) -> T
    ) throws(CacheError) -> T {
        let connection = try open()
        let name: String
        if let last = lastPrepared, last.sql == sql {
            // The statement used last time (a pool thread repeating gets): no hashing of the SQL.
            name = last.name
        } else if let known = prepared[sql] {
            name = known
            lastPrepared = (sql, known)
        } else {
            name = "s\(prepared.count)"
            let result = try finish(
                connection, sent: PQsendPrepare(connection, name, sql, Int32(parameters.count), nil), operation: operation)
            defer { PQclear(result) }
            try check(result, connection, operation: operation)
            prepared[sql] = name
            lastPrepared = (sql, name)
        }
        var cStrings: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.map { strdup($0) } ?? nil }
        defer { for pointer in cStrings { free(pointer) } }
        let sent = cStrings.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: UnsafePointer<CChar>?.self) { values in
                PQsendQueryPrepared(connection, name, Int32(parameters.count), values.baseAddress, nil, nil, 0)
            }
        }
        let result = try finish(connection, sent: sent, operation: operation)
        defer { PQclear(result) }
        try check(result, connection, operation: operation)
        return read(PostgresResult(pointer: result!))
    }

    /// Runs SQL text with no parameters (transaction control, DDL).
    func execute(_ sql: String, operation: String) throws(CacheError) {
        let connection = try open()
        let result = try finish(connection, sent: PQsendQuery(connection, sql), operation: operation)
        defer { PQclear(result) }
        try check(result, connection, operation: operation)
    }

    private func check(_ result: OpaquePointer?, _ connection: OpaquePointer, operation: String) throws(CacheError) {
        let status = result.map { PQresultStatus($0) } ?? PGRES_FATAL_ERROR
        guard status != PGRES_COMMAND_OK, status != PGRES_TUPLES_OK else { return }
        let message = String(cString: PQerrorMessage(connection)).singleLine
        let state = result.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "C"))) }.map { String(cString: $0) } ?? ""
        if PQstatus(connection) != CONNECTION_OK {
            close()
            throw CacheError(.unavailable, "PostgreSQL \(describe) dropped the connection during \(operation): \(message)")
        }
        switch state {
        case "57014", "55P03", "40P01", "40001":
            throw CacheError(.timeout, "PostgreSQL \(describe): \(operation) gave up (SQLSTATE \(state)): \(message)")
        case "42P01", "42703":
            throw CacheError(
                .invalidSettings,
                "PostgreSQL \(describe): \(operation) found no cache table of Django's shape (SQLSTATE \(state)): \(message)")
        default:
            throw CacheError(.storageFailure, "PostgreSQL \(describe): \(operation) failed (SQLSTATE \(state)): \(message)")
        }
    }
}

/// A statement's successful result, read in place (text format).
struct PostgresResult {
    let pointer: OpaquePointer

    /// The number of rows.
    var rowCount: Int { Int(PQntuples(pointer)) }

    /// Whether a field is SQL NULL.
    func isNull(_ row: Int, _ column: Int) -> Bool { PQgetisnull(pointer, Int32(row), Int32(column)) == 1 }

    /// Runs `body` with a field's text where libpq holds it (valid only inside `body`).
    func withBytes<R>(_ row: Int, _ column: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        let count = Int(PQgetlength(pointer, Int32(row), Int32(column)))
        guard count > 0, let base = PQgetvalue(pointer, Int32(row), Int32(column)) else {
            return body(UnsafeBufferPointer(start: nil, count: 0))
        }
        return base.withMemoryRebound(to: UInt8.self, capacity: count) { body(UnsafeBufferPointer(start: $0, count: count)) }
    }

    /// A field's first byte (`t` or `f` for a boolean), or `nil` for NULL or an empty text.
    func firstByte(_ row: Int, _ column: Int) -> UInt8? {
        guard !isNull(row, column), PQgetlength(pointer, Int32(row), Int32(column)) > 0,
            let base = PQgetvalue(pointer, Int32(row), Int32(column))
        else { return nil }
        return UInt8(bitPattern: base[0])
    }
}

extension String {
    /// libpq's message on one line: its lines (libpq adds hints such as "\tIs the server
    /// running…" on lines of their own) trimmed and joined by a space, so that a log line that
    /// carries the error stays one line.
    var singleLine: String {
        var lines: [String] = []
        for line in split(whereSeparator: \.isNewline) {
            var text = line.drop { $0.isWhitespace }
            while let last = text.last, last.isWhitespace { text.removeLast() }
            if !text.isEmpty { lines.append(String(text)) }
        }
        return lines.joined(separator: " ")
    }
}
