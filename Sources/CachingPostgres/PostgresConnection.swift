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
    }

    private func open() throws(CacheError) -> OpaquePointer {
        if let handle, PQstatus(handle) == CONNECTION_OK { return handle }
        close()
        let connection = PQconnectdb(conninfo)
        guard let connection, PQstatus(connection) == CONNECTION_OK else {
            let message = connection.map { String(cString: PQerrorMessage($0)) } ?? "out of memory"
            if let connection { PQfinish(connection) }
            throw CacheError(
                .unavailable, "PostgreSQL \(describe) cannot be reached: \(message.trimmingNewlines)")
        }
        handle = connection
        return connection
    }

    /// Runs a statement, prepared once per connection, with text parameters.
    func run(_ sql: String, _ parameters: [String?], operation: String) throws(CacheError) -> PostgresRows {
        let connection = try open()
        let name: String
        if let known = prepared[sql] {
            name = known
        } else {
            name = "s\(prepared.count)"
            let result = PQprepare(connection, name, sql, Int32(parameters.count), nil)
            defer { PQclear(result) }
            try check(result, connection, operation: operation)
            prepared[sql] = name
        }
        var cStrings: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.map { strdup($0) } ?? nil }
        defer { for pointer in cStrings { free(pointer) } }
        let result = cStrings.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: UnsafePointer<CChar>?.self) { values in
                PQexecPrepared(connection, name, Int32(parameters.count), values.baseAddress, nil, nil, 0)
            }
        }
        defer { PQclear(result) }
        try check(result, connection, operation: operation)
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

    /// Runs SQL text with no parameters (transaction control, DDL).
    func execute(_ sql: String, operation: String) throws(CacheError) {
        let connection = try open()
        let result = PQexec(connection, sql)
        defer { PQclear(result) }
        try check(result, connection, operation: operation)
    }

    private func check(_ result: OpaquePointer?, _ connection: OpaquePointer, operation: String) throws(CacheError) {
        let status = result.map { PQresultStatus($0) } ?? PGRES_FATAL_ERROR
        guard status != PGRES_COMMAND_OK, status != PGRES_TUPLES_OK else { return }
        let message = String(cString: PQerrorMessage(connection)).trimmingNewlines
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

extension String {
    var trimmingNewlines: String {
        var text = Substring(self)
        while let last = text.last, last.isNewline || last == " " { text.removeLast() }
        return String(text)
    }
}
