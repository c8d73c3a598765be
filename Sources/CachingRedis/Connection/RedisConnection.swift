import CHiredis
import Caching

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// One command: its arguments packed in one buffer, sent with `redisAppendCommandArgv`, so
/// every argument goes on the wire as a length-prefixed bulk string. No key or value is ever
/// formatted into command text: a key holding CR/LF or spaces is data, never a command.
struct RedisCommand: Sendable {
    private(set) var bytes: [UInt8] = []
    private(set) var ends: [Int] = []

    init(_ name: StaticString) {
        append(name)
    }

    init(_ name: StaticString, _ key: String) {
        append(name)
        append(key)
    }

    mutating func append(_ name: StaticString) {
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        ends.append(bytes.count)
    }

    mutating func append(_ text: String) {
        bytes.append(contentsOf: text.utf8)
        ends.append(bytes.count)
    }

    mutating func append(_ data: [UInt8]) {
        bytes.append(contentsOf: data)
        ends.append(bytes.count)
    }

    mutating func append(_ number: Int) {
        append(String(number))
    }

    var count: Int { ends.count }

    /// The command's name, for errors.
    var name: String { String(decoding: bytes[..<(ends.first ?? 0)], as: UTF8.self) }
}

/// A reply, copied out of hiredis's reply object.
enum RedisReply: Sendable {
    case string([UInt8])
    case integer(Int)
    case null
    case status(String)
    case error(String)
    case array([RedisReply])

    init(_ reply: UnsafePointer<redisReply>) {
        let value = reply.pointee
        switch value.type {
        case REDIS_REPLY_STRING:
            self = .string(value.len == 0 ? [] : Array(UnsafeRawBufferPointer(start: value.str, count: value.len)))
        case REDIS_REPLY_INTEGER: self = .integer(Int(value.integer))
        case REDIS_REPLY_NIL: self = .null
        case REDIS_REPLY_STATUS: self = .status(String(decoding: UnsafeRawBufferPointer(start: value.str, count: value.len), as: UTF8.self))
        case REDIS_REPLY_ERROR: self = .error(String(decoding: UnsafeRawBufferPointer(start: value.str, count: value.len), as: UTF8.self))
        case REDIS_REPLY_ARRAY:
            var elements: [RedisReply] = []
            elements.reserveCapacity(value.elements)
            for index in 0..<value.elements {
                if let element = value.element[index] { elements.append(RedisReply(element)) } else { elements.append(.null) }
            }
            self = .array(elements)
        default: self = .error("unknown reply type \(value.type)")
        }
    }
}

/// A connection to each server of an alias, used by one worker thread at a time.
///
/// Each server's `redisContext` is opened on first use (`redisConnectWithTimeout`, then
/// `redisSetTimeout` for sends and receives, `AUTH` and `SELECT`), and dropped after any I/O
/// error, so the next call reconnects. Before a command is sent on an idle context, a
/// zero-timeout `poll` checks that the server has not closed it (killed, restarted, or an idle
/// timeout on the server): such a context is replaced before anything is written, so a
/// restarted server costs no failed call.
///
/// Not `Sendable` in spirit: it is `@unchecked` so it can travel to a worker thread inside a
/// job, and the backend's connection stack guarantees that one thread holds it at a time.
final class RedisConnection: @unchecked Sendable {
    let servers: [RedisServerAddress]
    let options: RedisOptions
    let alias: String
    private var contexts: [UnsafeMutablePointer<redisContext>?]
    /// Per server: its last connection was lost (an I/O error, or closed by the server), so
    /// the next connect is a reconnect to report.
    private var lost: [Bool]
    /// Where reconnects are reported, if anywhere.
    var events: RedisConnectionEvents?
    /// The backend's close generation this connection last saw (see ``RedisBackend/close()``).
    var generation = 0

    init(servers: [RedisServerAddress], options: RedisOptions, alias: String) {
        self.servers = servers
        self.options = options
        self.alias = alias
        self.contexts = Array(repeating: nil, count: servers.count)
        self.lost = Array(repeating: false, count: servers.count)
    }

    deinit {
        disconnect()
    }

    /// Closes every socket; the next command reconnects.
    func disconnect() {
        for index in contexts.indices {
            if let context = contexts[index] {
                redisFree(context)
                contexts[index] = nil
            }
        }
    }

    var isConnected: Bool { contexts.contains { $0 != nil } }

    private static func makeTimeval(seconds: Double) -> timeval {
        let whole = seconds.rounded(.down)
        return timeval(tv_sec: .init(whole), tv_usec: .init((seconds - whole) * 1_000_000))
    }

    /// The context for a server, connected, authenticated and on the right database.
    private func context(_ index: Int) throws(CacheError) -> UnsafeMutablePointer<redisContext> {
        if let context = contexts[index] {
            var poller = pollfd(fd: context.pointee.fd, events: Int16(POLLIN), revents: 0)
            // Nothing is expected between commands: readable means closed (EOF) or broken.
            if poll(&poller, 1, 0) == 0 { return context }
            redisFree(context)
            contexts[index] = nil
            lost[index] = true
        }
        let server = servers[index]
        let connectTimeout = Self.makeTimeval(seconds: options.connectTimeout)
        let made: UnsafeMutablePointer<redisContext>? =
            switch server.endpoint {
            case .tcp(let host, let port): redisConnectWithTimeout(host, Int32(port), connectTimeout)
            case .unixSocket(let path): redisConnectUnixWithTimeout(path, connectTimeout)
            }
        guard let made else {
            throw CacheError(.unavailable, "Redis cache '\(alias)': hiredis could not allocate a connection to \(server)")
        }
        if made.pointee.err != 0 {
            let reason = Self.errorText(made)
            redisFree(made)
            throw CacheError(
                reason.contains("timed out") ? .timeout : .unavailable,
                "Redis cache '\(alias)': could not connect to \(server) within \(options.connectTimeout) s (OPTIONS connect_timeout): \(reason)"
            )
        }
        guard redisSetTimeout(made, Self.makeTimeval(seconds: options.timeout)) == REDIS_OK else {
            let reason = Self.errorText(made)
            redisFree(made)
            throw CacheError(.unavailable, "Redis cache '\(alias)': could not set the I/O timeout on \(server): \(reason)")
        }
        contexts[index] = made
        do throws(CacheError) {
            let password = server.password ?? options.password
            if let password {
                var auth = RedisCommand("AUTH")
                if let user = server.username ?? options.username { auth.append(user) }
                auth.append(password)
                if case .error(let message) = try send(auth, index) {
                    // The server's message never holds the password; ours does not either.
                    throw CacheError(.unavailable, "Redis cache '\(alias)': \(server) refused the credentials: \(message)")
                }
            }
            let database = server.database ?? options.database
            if database != 0 {
                var select = RedisCommand("SELECT")
                select.append(database)
                if case .error(let message) = try send(select, index) {
                    throw CacheError(.unavailable, "Redis cache '\(alias)': \(server) refused database \(database): \(message)")
                }
            }
        } catch {
            if let context = contexts[index] { redisFree(context) }
            contexts[index] = nil
            throw error
        }
        if lost[index] {
            lost[index] = false
            events?.reconnected(to: server, index: index)
        }
        return made
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// Sends one command and reads its reply (an error reply is returned, not thrown).
    func send(_ command: RedisCommand, _ server: Int) throws(CacheError) -> RedisReply {
        try pipeline([command], server)[0]
    }

    /// Sends one command and reads its reply as entries: a string is one entry, nil is `nil`,
    /// an array is one element per entry (`MGET`), each decoded straight from hiredis's buffer.
    ///
    /// - Returns: The entries, or the reply itself when it is none of those (an error reply).
    func sendForEntries(_ command: RedisCommand, _ server: Int) throws(CacheError) -> Result<[CacheEntry?], UnexpectedReply> {
        try exchange(command, server) { reply -> Result<[CacheEntry?], UnexpectedReply> in
            let value = reply.pointee
            switch value.type {
            case REDIS_REPLY_STRING: return .success([Self.entry(value)])
            case REDIS_REPLY_NIL: return .success([nil])
            case REDIS_REPLY_ARRAY:
                var entries: [CacheEntry?] = []
                entries.reserveCapacity(value.elements)
                for index in 0..<value.elements {
                    guard let element = value.element[index] else {
                        entries.append(nil)
                        continue
                    }
                    switch element.pointee.type {
                    case REDIS_REPLY_STRING: entries.append(Self.entry(element.pointee))
                    case REDIS_REPLY_NIL: entries.append(nil)
                    default: return .failure(UnexpectedReply(reply: RedisReply(element)))
                    }
                }
                return .success(entries)
            default: return .failure(UnexpectedReply(reply: RedisReply(reply)))
            }
        }
    }

    /// A reply that is not what the command should give, to be reported by the caller.
    struct UnexpectedReply: Error {
        var reply: RedisReply
    }

    private static func entry(_ reply: redisReply) -> CacheEntry {
        guard reply.len > 0, let start = reply.str else { return RedisValueFormat.decode([UInt8]()) }
        return RedisValueFormat.decode(UnsafeRawBufferPointer(start: start, count: reply.len))
    }

    /// Sends one command and hands its raw reply to `read` before hiredis frees it.
    private func exchange<T>(
        _ command: RedisCommand, _ server: Int, _ read: (UnsafePointer<redisReply>) -> T
    ) throws(CacheError) -> T {
        let context = try context(server)
        try append(command, to: context, server)
        var raw: UnsafeMutableRawPointer?
        guard redisGetReply(context, &raw) == REDIS_OK, let raw else { throw failure(server, context) }
        defer { freeReplyObject(raw) }
        return read(raw.assumingMemoryBound(to: redisReply.self))
    }

    private func append(_ command: RedisCommand, to context: UnsafeMutablePointer<redisContext>, _ server: Int) throws(CacheError) {
        let appended = command.bytes.withUnsafeBufferPointer { buffer -> Int32 in
            let base = UnsafeRawPointer(buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!)
            var arguments: [UnsafePointer<CChar>?] = []
            var lengths: [Int] = []
            arguments.reserveCapacity(command.count)
            lengths.reserveCapacity(command.count)
            var start = 0
            for end in command.ends {
                arguments.append((base + start).assumingMemoryBound(to: CChar.self))
                lengths.append(end - start)
                start = end
            }
            return redisAppendCommandArgv(context, Int32(command.count), &arguments, lengths)
        }
        guard appended == REDIS_OK else { throw failure(server, context) }
    }

    /// Sends commands in one write and reads their replies, in order.
    func pipeline(_ commands: [RedisCommand], _ server: Int) throws(CacheError) -> [RedisReply] {
        let context = try context(server)
        for command in commands { try append(command, to: context, server) }
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let raw else { throw failure(server, context) }
            let reply = raw.assumingMemoryBound(to: redisReply.self)
            replies.append(RedisReply(reply))
            freeReplyObject(raw)
        }
        return replies
    }

    /// The error for a failed send or receive; the context is dropped (a reply may be half
    /// read), so the next call reconnects.
    private func failure(_ index: Int, _ context: UnsafeMutablePointer<redisContext>) -> CacheError {
        let code = context.pointee.err
        let reason = Self.errorText(context)
        let savedErrno = errno
        redisFree(context)
        contexts[index] = nil
        lost[index] = true
        let server = servers[index]
        if code == REDIS_ERR_IO && (savedErrno == EAGAIN || savedErrno == EWOULDBLOCK || reason.contains("temporarily unavailable")) {
            return CacheError(
                .timeout,
                "Redis cache '\(alias)': \(server) did not answer within \(options.timeout) s (OPTIONS timeout); the connection was closed")
        }
        if code == REDIS_ERR_PROTOCOL {
            return CacheError(.protocolError, "Redis cache '\(alias)': \(server) sent a reply hiredis could not read: \(reason)")
        }
        return CacheError(.unavailable, "Redis cache '\(alias)': the connection to \(server) failed: \(reason)")
    }
}
