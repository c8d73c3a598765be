import Caching
import CachingTesting

#if canImport(Glibc)
    import Glibc
#endif

/// A second, raw text-protocol connection to a test server, to see what the backend sent
/// (TTLs with the meta command `mg key t`, counters with `stats`) without going through it.
/// Every call blocks briefly, so it runs on the blocking pool.
struct MemcachedRawClient: Sendable {
    let port: Int

    init(_ server: MemcachedServer) { port = server.port }

    /// Sends one command and reads until a line that ends the reply.
    func command(_ text: String, until terminators: [String]) async throws -> String {
        let port = port
        return try await MemcachedServer.pool.run { () throws(CacheError) -> String in
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw CacheError(.unavailable, "raw socket failed") }
            defer { close(fd) }
            var timeout = timeval(tv_sec: 3, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(port).bigEndian
            address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else { throw CacheError(.unavailable, "raw connect to \(port) failed") }
            let bytes = Array((text + "\r\n").utf8)
            _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            var reply: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard count > 0 else {
                    throw CacheError(.timeout, "raw reply from \(port) ended early: \(String(decoding: reply, as: UTF8.self))")
                }
                reply += buffer[0..<count]
                let textSoFar = String(decoding: reply, as: UTF8.self)
                if terminators.contains(where: {
                    textSoFar.hasSuffix($0 + "\r\n") || textSoFar.hasPrefix($0) && textSoFar.hasSuffix("\r\n")
                }) {
                    return textSoFar
                }
            }
        }
    }

    /// The seconds left on a key (`-1` for never), or `nil` when the key is missing.
    func ttl(_ key: String) async throws -> Int? {
        let reply = try await command("mg \(key) t", until: ["HD", "EN"])
        if reply.hasPrefix("EN") { return nil }
        let line = reply.unicodeScalars.filter { $0 != "\r" && $0 != "\n" }
        guard let token = String(String.UnicodeScalarView(line)).split(separator: " ").first(where: { $0.hasPrefix("t") }),
            let value = Int(token.dropFirst())
        else { throw CacheError(.protocolError, "unexpected mg reply: \(reply)") }
        return value
    }

    /// Whether the key is on this server.
    func has(_ key: String) async throws -> Bool {
        try await command("mg \(key)", until: ["HD", "EN"]).hasPrefix("HD")
    }

    /// The server's `stats` as a dictionary.
    func stats() async throws -> [String: Int] {
        let reply = try await command("stats", until: ["END"])
        var result: [String: Int] = [:]
        for line in reply.split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: " ")
            if parts.count == 3, parts[0] == "STAT", let value = Int(parts[2]) { result[String(parts[1])] = value }
        }
        return result
    }
}
