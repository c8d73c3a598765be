public import Caching

/// One memcached server, as `LOCATION` names it.
///
/// Accepted forms, as Django's memcached backends accept them:
///
/// | form | meaning |
/// | --- | --- |
/// | `127.0.0.1:11211`, `cache1.internal:11211` | host and port |
/// | `127.0.0.1`, `localhost` | host, port 11211 |
/// | `[::1]:11211`, `[::1]` | IPv6 host (in brackets), with or without a port |
/// | `unix:/run/memcached/socket`, `/run/memcached/socket` | a unix socket |
public enum MemcachedServerAddress: Sendable, Hashable, CustomStringConvertible {
    /// A TCP server: host name or IP address (without brackets) and port.
    case tcp(host: String, port: Int)
    /// A unix-domain socket path.
    case unixSocket(path: String)

    /// memcached's default port.
    public static let defaultPort = 11211

    /// Parses one server address.
    ///
    /// - Parameter text: The address, in one of the forms above.
    /// - Returns: The address, or `nil` when it does not parse.
    public init?(parsing text: String) {
        let text = text.trimmed
        guard !text.isEmpty else { return nil }
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard path.hasPrefix("/"), path.count > 1 else { return nil }
            self = .unixSocket(path: path)
            return
        }
        if text.hasPrefix("/") {
            self = .unixSocket(path: text)
            return
        }
        var host: Substring
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { return nil }
                portText = rest.dropFirst()
            }
            guard !host.isEmpty, host.contains(":") || host.allSatisfy({ $0.isHexDigit || $0 == "." }) else { return nil }
        } else {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { return nil }  // a bare IPv6 address needs brackets
            host = parts[0]
            portText = parts.count == 2 ? parts[1] : nil
            let allowed: (Character) -> Bool = { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_" }
            guard !host.isEmpty, host.allSatisfy(allowed) else { return nil }
        }
        var port = Self.defaultPort
        if let portText {
            guard let parsed = Int(portText), (1...65535).contains(parsed) else { return nil }
            port = parsed
        }
        self = .tcp(host: String(host), port: port)
    }

    /// Parses `LOCATION`: each entry may itself hold several addresses separated by `;` or `,`.
    ///
    /// - Parameters:
    ///   - location: The `LOCATION` entries.
    ///   - alias: The alias, named in errors.
    /// - Returns: The servers, in order.
    /// - Throws: ``/Caching/CacheError/Code/invalidSettings`` naming the alias and the entry that does not
    ///   parse, or saying that no server is given.
    public static func parse(location: [String], alias: String) throws(CacheError) -> [MemcachedServerAddress] {
        var servers: [MemcachedServerAddress] = []
        for entry in location {
            for part in entry.split(whereSeparator: { $0 == ";" || $0 == "," }) {
                let piece = String(part).trimmed
                if piece.isEmpty { continue }
                guard let address = MemcachedServerAddress(parsing: piece) else {
                    throw CacheSettings.invalid(
                        alias, "LOCATION",
                        "holds '\(piece)', which is not a memcached server address; use host:port (127.0.0.1:11211), [IPv6]:port ([::1]:11211), or a unix socket (unix:/path or /path)"
                    )
                }
                servers.append(address)
            }
        }
        guard !servers.isEmpty else {
            throw CacheSettings.invalid(
                alias, "LOCATION", "names no memcached server; give one or more as host:port, such as \"127.0.0.1:11211\"")
        }
        return servers
    }

    public var description: String {
        switch self {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unixSocket(let path): "unix:\(path)"
        }
    }
}

extension String {
    var trimmed: String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
