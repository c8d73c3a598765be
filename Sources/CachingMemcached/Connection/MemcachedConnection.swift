import CLibmemcached
import Caching

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// One libmemcached handle (`memcached_st`), with a connection to each server.
///
/// Not thread-safe and not `Sendable`: a connection belongs to one worker thread for its
/// whole life, and every method blocks that thread. Return codes are turned into
/// ``CacheError`` values here, and the differences between the text and binary protocols
/// are normalized (`add` on an existing key is `NOTSTORED` or `DATA_EXISTS`; both mean "not
/// stored").
final class MemcachedConnection {
    private let handle: UnsafeMutablePointer<memcached_st>
    private let result: UnsafeMutablePointer<memcached_result_st>
    let servers: [MemcachedServerAddress]
    /// Where reconnects and ejections are reported, if anywhere.
    var events: MemcachedConnectionEvents?
    /// When this handle last took each server out of service (libmemcached keeps that state
    /// per handle), so one ejection is reported once, not on every call it refuses.
    private var ejectedAt: [String: ContinuousClock.Instant] = [:]
    private let retryTimeout: Duration

    /// Creates a handle with the servers and behaviours. Nothing connects until the first call.
    init(servers: [MemcachedServerAddress], options: MemcachedOptions, alias: String) throws(CacheError) {
        guard let handle = memcached_create(nil) else {
            throw CacheError(.storageFailure, "libmemcached could not allocate a handle for alias '\(alias)'")
        }
        // The result lives in memory of our own: libmemcached frees a result it allocated itself
        // when a fetch reaches the end, which would leave this pointer dangling.
        let result = UnsafeMutablePointer<memcached_result_st>.allocate(capacity: 1)
        guard memcached_result_create(handle, result) != nil else {
            result.deallocate()
            memcached_free(handle)
            throw CacheError(.storageFailure, "libmemcached could not allocate a result for alias '\(alias)'")
        }
        self.handle = handle
        self.result = result
        retryTimeout = .seconds(options.retryTimeout)
        self.servers = servers
        do {
            try configure(options: options, alias: alias)
        } catch {
            memcached_result_free(result)
            result.deallocate()
            memcached_free(handle)
            throw error
        }
    }

    deinit {
        memcached_result_free(result)
        result.deallocate()
        memcached_free(handle)
    }

    private func set(_ behavior: memcached_behavior_t, _ value: UInt64, _ name: String..., alias: String) throws(CacheError) {
        let rc = memcached_behavior_set(handle, behavior, value)
        guard rc == MEMCACHED_SUCCESS else {
            throw CacheSettings.invalid(
                alias, ["OPTIONS"] + name, "was refused by libmemcached: \(String(cString: memcached_strerror(handle, rc)))")
        }
    }

    private func configure(options: MemcachedOptions, alias: String) throws(CacheError) {
        let ms = { (seconds: Double) in UInt64((seconds * 1000).rounded(.up)) }
        let us = { (seconds: Double) in UInt64((seconds * 1_000_000).rounded(.up)) }
        try set(MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, options.binaryProtocol ? 1 : 0, "binary", alias: alias)
        try set(MEMCACHED_BEHAVIOR_TCP_NODELAY, options.tcpNoDelay ? 1 : 0, "tcp_nodelay", alias: alias)
        // CAS ids come back with every read, so compare-and-set can use them.
        try set(MEMCACHED_BEHAVIOR_SUPPORT_CAS, 1, "support_cas", alias: alias)
        try set(MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, ms(options.connectTimeout), "connect_timeout", alias: alias)
        try set(MEMCACHED_BEHAVIOR_POLL_TIMEOUT, ms(options.pollTimeout), "poll_timeout", alias: alias)
        try set(MEMCACHED_BEHAVIOR_SND_TIMEOUT, us(options.sendTimeout), "send_timeout", alias: alias)
        try set(MEMCACHED_BEHAVIOR_RCV_TIMEOUT, us(options.receiveTimeout), "receive_timeout", alias: alias)
        try set(MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT, UInt64(options.failureLimit), "failure_limit", alias: alias)
        let retry = UInt64(max(0, options.retryTimeout.rounded(.up)))
        try set(MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, retry, "retry_timeout", alias: alias)
        try set(MEMCACHED_BEHAVIOR_DEAD_TIMEOUT, retry, "retry_timeout", alias: alias)
        try set(MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS, options.removeFailedServers ? 1 : 0, "remove_failed_servers", alias: alias)
        try set(MEMCACHED_BEHAVIOR_DISTRIBUTION, MemcachedBehaviors.distributions[options.distribution] ?? 0, "distribution", alias: alias)
        for (name, value) in options.behaviors.sorted(by: { $0.key < $1.key }) {
            let (behavior, number) = try MemcachedBehaviors.resolve(name: name, value: value, alias: alias)
            try set(behavior, number, "behaviors", name, alias: alias)
        }
        for server in servers {
            let rc: memcached_return_t
            switch server {
            case .tcp(let host, let port): rc = memcached_server_add(handle, host, in_port_t(port))
            case .unixSocket(let path): rc = memcached_server_add_unix_socket(handle, path)
            }
            guard rc == MEMCACHED_SUCCESS else {
                throw CacheSettings.invalid(
                    alias, "LOCATION", "holds \(server), which libmemcached refused: \(String(cString: memcached_strerror(handle, rc)))")
            }
        }
    }

    // MARK: Errors

    /// The server a key maps to, for messages.
    private func serverName(forKey key: UnsafeRawBufferPointer) -> String {
        var rc = MEMCACHED_SUCCESS
        guard let instance = memcached_server_by_key(handle, key.baseAddress?.assumingMemoryBound(to: CChar.self), key.count, &rc),
            let name = memcached_server_name(instance)
        else { return allServers }
        let host = String(cString: name)
        let port = memcached_server_port(instance)
        if port == 0 { return "unix:\(host)" }
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    private var allServers: String { servers.map(\.description).joined(separator: ", ") }

    /// Turns a failure into a ``CacheError`` and resynchronizes the handle when the reply stream
    /// may be out of step (after a timeout or an I/O failure, GHSA-wwmh-39wj-fx59).
    private func failure(_ rc: memcached_return_t, _ operation: String, key: UnsafeRawBufferPointer?) -> CacheError {
        let server = key.map(serverName(forKey:)) ?? allServers
        if rc == MEMCACHED_SERVER_TEMPORARILY_DISABLED || rc == MEMCACHED_SERVER_MARKED_DEAD { noteEjection(of: server) }
        let keyText = key.map { String(decoding: $0, as: UTF8.self) }
        var detail = String(cString: memcached_strerror(handle, rc))
        if let message = memcached_last_error_message(handle) {
            let text = String(cString: message)
            if !text.isEmpty, text != detail { detail += " (\(text))" }
        }
        let subject = keyText.map { "\(operation) of key '\($0)'" } ?? operation
        let code: CacheError.Code
        let advice: String
        switch rc {
        case MEMCACHED_TIMEOUT:
            code = .timeout
            advice = "the server did not answer in time; check that it is running and not overloaded, or raise poll_timeout"
        case MEMCACHED_CONNECTION_FAILURE, MEMCACHED_HOST_LOOKUP_FAILURE, MEMCACHED_CONNECTION_BIND_FAILURE,
            MEMCACHED_WRITE_FAILURE, MEMCACHED_READ_FAILURE, MEMCACHED_UNKNOWN_READ_FAILURE, MEMCACHED_ERRNO,
            MEMCACHED_SERVER_MARKED_DEAD, MEMCACHED_SERVER_TEMPORARILY_DISABLED, MEMCACHED_NO_SERVERS,
            MEMCACHED_FAIL_UNIX_SOCKET, MEMCACHED_PARTIAL_READ, MEMCACHED_SOME_ERRORS:
            code = .unavailable
            advice = "check that memcached runs at that address; a failed server is retried after retry_timeout"
        case MEMCACHED_E2BIG:
            code = .valueTooLarge
            advice = "the server refused the item as too large; raise memcached's -I or store less"
        case MEMCACHED_SERVER_MEMORY_ALLOCATION_FAILURE, MEMCACHED_MEMORY_ALLOCATION_FAILURE:
            code = .storageFailure
            advice = "memory ran out"
        default:
            code = .protocolError
            advice = "the reply was not one this client expects"
        }
        switch rc {
        case MEMCACHED_TIMEOUT, MEMCACHED_WRITE_FAILURE, MEMCACHED_READ_FAILURE, MEMCACHED_UNKNOWN_READ_FAILURE,
            MEMCACHED_PROTOCOL_ERROR, MEMCACHED_PARTIAL_READ, MEMCACHED_ERRNO, MEMCACHED_SOME_ERRORS, MEMCACHED_ERROR,
            MEMCACHED_UNKNOWN_STAT_KEY, MEMCACHED_FAILURE:
            memcached_quit(handle)
        default:
            break
        }
        return CacheError(code, "memcached \(subject) on \(server) failed: \(detail); \(advice)", key: keyText)
    }

    /// A call was refused because this handle took `server` out of service (`failure_limit`
    /// failures in a row). Reported once per retry window: after `retry_timeout` the handle
    /// tries the server again, and failing then is a new ejection.
    private func noteEjection(of server: String) {
        guard let events else { return }
        let now = ContinuousClock.now
        if let last = ejectedAt[server], last.duration(to: now) < retryTimeout { return }
        ejectedAt[server] = now
        events.ejected(server)
    }

    // MARK: Operations

    /// Runs an idempotent call, and once more on a fresh connection when it failed the way a
    /// connection the server has closed fails (a restarted server, an idle timeout). A timeout
    /// is not retried, so a call never waits twice. `add`, `incr` and `decr` are not idempotent
    /// and never come here.
    @inline(__always)
    private func retryingOnStaleConnection(_ call: () -> memcached_return_t) -> memcached_return_t {
        let rc = call()
        switch rc {
        case MEMCACHED_CONNECTION_FAILURE, MEMCACHED_WRITE_FAILURE, MEMCACHED_READ_FAILURE,
            MEMCACHED_UNKNOWN_READ_FAILURE, MEMCACHED_ERRNO:
            memcached_quit(handle)
            let retried = call()
            switch retried {
            case MEMCACHED_CONNECTION_FAILURE, MEMCACHED_WRITE_FAILURE, MEMCACHED_READ_FAILURE,
                MEMCACHED_UNKNOWN_READ_FAILURE, MEMCACHED_ERRNO, MEMCACHED_TIMEOUT, MEMCACHED_SERVER_MARKED_DEAD,
                MEMCACHED_SERVER_TEMPORARILY_DISABLED:
                break
            default:
                events?.reconnected()
            }
            return retried
        default:
            return rc
        }
    }

    /// Runs `body` with the key's UTF-8 bytes as a C buffer.
    @inline(__always)
    private func withKey<R, E: Error>(_ key: String, _ body: (UnsafePointer<CChar>, Int, UnsafeRawBufferPointer) throws(E) -> R) throws(E)
        -> R
    {
        var key = key
        let result: Result<R, E> = key.withUTF8 { buffer in
            let raw = UnsafeRawBufferPointer(buffer)
            do throws(E) {
                return .success(try body(raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count, raw))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// The entry under one key, or `nil`.
    func get(_ key: String) throws(CacheError) -> CacheEntry? {
        try withKey(key) { (pointer, length, raw) throws(CacheError) -> CacheEntry? in
            var valueLength = 0
            var flags: UInt32 = 0
            var value: UnsafeMutablePointer<CChar>?
            let rc = retryingOnStaleConnection { () -> memcached_return_t in
                free(value)
                var rc = MEMCACHED_SUCCESS
                value = memcached_get(handle, pointer, length, &valueLength, &flags, &rc)
                return rc
            }
            defer { free(value) }
            // A zero-length value comes back as NULL with SUCCESS: decide on the code, not the pointer.
            switch rc {
            case MEMCACHED_SUCCESS:
                let bytes =
                    valueLength > 0 && value != nil
                    ? Array(UnsafeRawBufferPointer(start: value, count: valueLength)) : []
                return CacheEntry(flags: flags, bytes: bytes)
            case MEMCACHED_NOTFOUND:
                return nil
            default:
                throw failure(rc, "get", key: raw)
            }
        }
    }

    /// The entries under distinct keys, in one multi-get, by position (`nil` for a missing key).
    ///
    /// - Throws: The first error of ``getEach(_:)``, in key order.
    func getMany(_ keys: [String]) throws(CacheError) -> [CacheEntry?] {
        if keys.count == 1 {
            return [try get(keys[0])]
        }
        let (found, errors) = getEach(keys)
        if let error = errors.first(where: { $0 != nil }) ?? nil { throw error }
        return found
    }

    /// Reads several keys in one multi-get and reports, for each key by position, its entry
    /// (`nil` when missing) or its error.
    ///
    /// If the multi-get fails part way (a server down), the keys not yet answered are read one
    /// by one, so each gets its own value or error; once a server has failed, its other keys
    /// get the same error without another attempt, so a dead server costs one timeout per call.
    /// A key that appears more than once gets its entry at every position.
    func getEach(_ keys: [String]) -> (found: [CacheEntry?], errors: [CacheError?]) {
        var found = [CacheEntry?](repeating: nil, count: keys.count)
        var storage: [UInt8] = []
        var offsets: [Int] = []
        var lengths: [Int] = []
        offsets.reserveCapacity(keys.count)
        lengths.reserveCapacity(keys.count)
        var total = 1
        for key in keys { total += key.utf8.count }
        storage.reserveCapacity(total)
        for key in keys {
            offsets.append(storage.count)
            storage.append(contentsOf: key.utf8)
            lengths.append(storage.count - offsets.last!)
        }
        storage.append(0)
        var clean = true
        storage.withUnsafeBufferPointer { bytes in
            let base = UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self)
            let pointers: [UnsafePointer<CChar>?] = offsets.map { base + $0 }
            let rc = pointers.withUnsafeBufferPointer { memcached_mget(handle, $0.baseAddress, lengths, keys.count) }
            guard rc == MEMCACHED_SUCCESS else {
                clean = false
                return
            }
            var cursor = 0
            while true {
                var fetchRC = MEMCACHED_SUCCESS
                guard memcached_fetch_result(handle, result, &fetchRC) != nil else {
                    if fetchRC != MEMCACHED_END && fetchRC != MEMCACHED_NOTFOUND && fetchRC != MEMCACHED_SUCCESS {
                        clean = false
                    }
                    break
                }
                guard fetchRC == MEMCACHED_SUCCESS else {
                    clean = false
                    break
                }
                let keyLength = memcached_result_key_length(result)
                guard let resultKey = memcached_result_key_value(result) else { continue }
                // Replies come in request order per server: look for the key from where the
                // last one matched, comparing bytes instead of building a String per reply.
                // A key already answered is passed over, so a repeated key fills its next position.
                var index = -1
                var fallback = -1
                var probe = cursor
                for _ in 0..<keys.count {
                    if lengths[probe] == keyLength, memcmp(base + offsets[probe], resultKey, keyLength) == 0 {
                        if found[probe] == nil {
                            index = probe
                            break
                        }
                        if fallback < 0 { fallback = probe }
                    }
                    probe = probe + 1 == keys.count ? 0 : probe + 1
                }
                if index < 0 { index = fallback }
                guard index >= 0 else { continue }
                cursor = index + 1 == keys.count ? 0 : index + 1
                let valueLength = memcached_result_length(result)
                // A zero-length value has a NULL pointer: the length decides, not the pointer.
                let bytes =
                    valueLength > 0
                    ? [UInt8](UnsafeRawBufferPointer(start: memcached_result_value(result), count: valueLength)) : []
                found[index] = CacheEntry(flags: memcached_result_flags(result), bytes: bytes)
            }
        }
        // A server that dies mid-fetch is skipped by libmemcached, and its keys look missing:
        // the handle's last error (reset at the start of every query) tells them apart.
        if clean {
            let last = memcached_last_error(handle)
            clean = last == MEMCACHED_SUCCESS || last == MEMCACHED_END || last == MEMCACHED_NOTFOUND
        }
        var errors = [CacheError?](repeating: nil, count: keys.count)
        if !clean {
            memcached_quit(handle)
            var failedServers: [String: CacheError] = [:]
            for (index, key) in keys.enumerated() where found[index] == nil {
                let server = withKey(key) { _, _, raw in serverName(forKey: raw) }
                if let error = failedServers[server] {
                    errors[index] = CacheError(error.code, error.message, key: key, underlying: error)
                    continue
                }
                do throws(CacheError) {
                    found[index] = try get(key)
                } catch {
                    errors[index] = error
                    if error.code == .unavailable || error.code == .timeout { failedServers[server] = error }
                }
            }
        }
        return (found, errors)
    }

    /// The entry under a key and its CAS id (memcached's `gets`), or `nil` when it is missing.
    func getWithCAS(_ key: String) throws(CacheError) -> (entry: CacheEntry, cas: UInt64)? {
        try withKey(key) { (pointer, length, raw) throws(CacheError) -> (entry: CacheEntry, cas: UInt64)? in
            var keys: [UnsafePointer<CChar>?] = [pointer]
            var lengths = [length]
            let rc = retryingOnStaleConnection { memcached_mget(handle, &keys, &lengths, 1) }
            guard rc == MEMCACHED_SUCCESS else { throw failure(rc, "gets", key: raw) }
            var found: (entry: CacheEntry, cas: UInt64)?
            while true {
                var fetchRC = MEMCACHED_SUCCESS
                guard memcached_fetch_result(handle, result, &fetchRC) != nil else {
                    guard fetchRC == MEMCACHED_END || fetchRC == MEMCACHED_NOTFOUND || fetchRC == MEMCACHED_SUCCESS else {
                        throw failure(fetchRC, "gets", key: raw)
                    }
                    break
                }
                guard fetchRC == MEMCACHED_SUCCESS else { throw failure(fetchRC, "gets", key: raw) }
                let valueLength = memcached_result_length(result)
                let bytes =
                    valueLength > 0
                    ? [UInt8](UnsafeRawBufferPointer(start: memcached_result_value(result), count: valueLength)) : []
                found = (CacheEntry(flags: memcached_result_flags(result), bytes: bytes), memcached_result_cas(result))
            }
            // A server that died mid-fetch looks like a miss; its last error tells them apart.
            let last = memcached_last_error(handle)
            guard found != nil || last == MEMCACHED_SUCCESS || last == MEMCACHED_END || last == MEMCACHED_NOTFOUND else {
                memcached_quit(handle)
                throw failure(last, "gets", key: raw)
            }
            return found
        }
    }

    /// Stores an entry only if the item still has the CAS id `cas` (memcached's `cas`).
    ///
    /// - Returns: `false` when the item changed or vanished since it was read.
    func compareAndSwap(_ key: String, _ entry: CacheEntry, expiration: Int, cas: UInt64) throws(CacheError) -> Bool {
        try withKey(key) { (pointer, length, raw) throws(CacheError) -> Bool in
            // Not retried: a first attempt that stored would make the retry report a conflict.
            let rc: memcached_return_t = entry.bytes.withUnsafeBytes { value in
                let valuePointer = (value.baseAddress ?? UnsafeRawPointer(pointer)).assumingMemoryBound(to: CChar.self)
                return memcached_cas(handle, pointer, length, valuePointer, value.count, time_t(expiration), entry.flags, cas)
            }
            switch rc {
            case MEMCACHED_SUCCESS, MEMCACHED_STORED: return true
            case MEMCACHED_DATA_EXISTS, MEMCACHED_NOTFOUND, MEMCACHED_NOTSTORED: return false
            default: throw failure(rc, "cas", key: raw)
            }
        }
    }

    enum StoreMode { case set, add }

    /// Stores an entry; returns `false` when `add` found the key present.
    func store(_ key: String, _ entry: CacheEntry, expiration: Int, mode: StoreMode) throws(CacheError) -> Bool {
        try withKey(key) { (pointer, length, raw) throws(CacheError) -> Bool in
            let rc: memcached_return_t = entry.bytes.withUnsafeBytes { value in
                let valuePointer = (value.baseAddress ?? UnsafeRawPointer(pointer)).assumingMemoryBound(to: CChar.self)
                switch mode {
                case .set:
                    return retryingOnStaleConnection {
                        memcached_set(handle, pointer, length, valuePointer, value.count, time_t(expiration), entry.flags)
                    }
                case .add:
                    // Not retried: if the first attempt stored the value, a retry would report "not stored".
                    return memcached_add(handle, pointer, length, valuePointer, value.count, time_t(expiration), entry.flags)
                }
            }
            switch rc {
            case MEMCACHED_SUCCESS, MEMCACHED_STORED: return true
            case MEMCACHED_NOTSTORED, MEMCACHED_DATA_EXISTS:
                // Text says NOTSTORED, binary says DATA_EXISTS: both mean "add found the key".
                if mode == .add { return false }
                throw failure(rc, "set", key: raw)
            default: throw failure(rc, mode == .add ? "add" : "set", key: raw)
            }
        }
    }

    /// Deletes a key; returns whether it was there.
    func delete(_ key: String) throws(CacheError) -> Bool {
        try withKey(key) { (pointer, length, raw) throws(CacheError) -> Bool in
            let rc = retryingOnStaleConnection { memcached_delete(handle, pointer, length, 0) }
            switch rc {
            case MEMCACHED_SUCCESS, MEMCACHED_DELETED: return true
            case MEMCACHED_NOTFOUND, MEMCACHED_DATA_DOES_NOT_EXIST: return false
            default: throw failure(rc, "delete", key: raw)
            }
        }
    }

    /// Sets a new expiration; returns whether the key was there.
    func touch(_ key: String, expiration: Int) throws(CacheError) -> Bool {
        try withKey(key) { (pointer, length, raw) throws(CacheError) -> Bool in
            let rc = retryingOnStaleConnection { memcached_touch(handle, pointer, length, time_t(expiration)) }
            switch rc {
            case MEMCACHED_SUCCESS: return true
            case MEMCACHED_NOTFOUND, MEMCACHED_DATA_DOES_NOT_EXIST: return false
            default: throw failure(rc, "touch", key: raw)
            }
        }
    }

    /// memcached's `incr` (positive delta) or `decr` (negative delta) with 64-bit offsets.
    ///
    /// - Returns: The new value as memcached computed it (unsigned, `decr` floored at 0).
    func increment(_ key: String, by delta: Int) throws(CacheError) -> UInt64 {
        try withKey(key) { (pointer, length, raw) throws(CacheError) -> UInt64 in
            var value: UInt64 = 0
            let rc =
                delta >= 0
                ? memcached_increment_by_key(handle, pointer, length, pointer, length, UInt64(delta), &value)
                : memcached_decrement_by_key(handle, pointer, length, pointer, length, UInt64(delta.magnitude), &value)
            switch rc {
            case MEMCACHED_SUCCESS: return value
            case MEMCACHED_NOTFOUND, MEMCACHED_DATA_DOES_NOT_EXIST:
                let keyText = String(decoding: raw, as: UTF8.self)
                throw CacheError(.keyNotFound, "Key '\(keyText)' not found", key: keyText)
            case MEMCACHED_CLIENT_ERROR, MEMCACHED_UNKNOWN_READ_FAILURE, MEMCACHED_INVALID_ARGUMENTS,
                MEMCACHED_PROTOCOL_ERROR, MEMCACHED_SERVER_ERROR:
                // The text protocol says CLIENT_ERROR for a non-numeric value; libmemcached turns the
                // binary protocol's "non-numeric" status into UNKNOWN_READ_FAILURE. Tell them apart
                // from real failures by reading the value, on a fresh connection unless the reply
                // was a clean CLIENT_ERROR line.
                let keyText = String(decoding: raw, as: UTF8.self)
                if rc != MEMCACHED_CLIENT_ERROR { memcached_quit(handle) }
                if let entry = try? get(keyText), !Self.isUnsignedDecimal(entry.bytes) {
                    throw CacheError(
                        .notAnInteger,
                        "Key '\(keyText)' holds a value that memcached cannot \(delta >= 0 ? "increment" : "decrement"): incr and decr need an unsigned 64-bit decimal integer (item flags \(entry.flags))",
                        key: keyText)
                }
                throw failure(rc, delta >= 0 ? "incr" : "decr", key: raw)
            default:
                throw failure(rc, delta >= 0 ? "incr" : "decr", key: raw)
            }
        }
    }

    /// Whether bytes are what memcached's incr accepts: decimal digits of a value below 2⁶⁴,
    /// maybe padded with spaces.
    static func isUnsignedDecimal(_ bytes: [UInt8]) -> Bool {
        guard let text = DjangoDefaults.decimalText(bytes), text.utf8.count <= 20 else { return false }
        return UInt64(text) != nil
    }

    /// `flush_all` on every server.
    func flush() throws(CacheError) {
        let rc = memcached_flush(handle, 0)
        guard rc == MEMCACHED_SUCCESS else { throw failure(rc, "flush_all", key: nil) }
    }

    /// Closes the connections; the next call reconnects.
    func quit() {
        memcached_quit(handle)
    }
}
