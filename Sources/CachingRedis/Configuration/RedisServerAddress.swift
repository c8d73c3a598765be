public import Caching

/// One Redis server, as `LOCATION` names it (the URL forms Django's `RedisCache` passes to
/// redis-py).
///
/// | form | meaning |
/// | --- | --- |
/// | `redis://127.0.0.1:6379`, `redis://cache1.internal` | host and port (6379 when omitted) |
/// | `redis://127.0.0.1:6379/2` | database 2 |
/// | `redis://:secret@127.0.0.1:6379`, `redis://user:secret@host` | with a password (and an ACL user) |
/// | `redis://[::1]:6379` | IPv6 host, in brackets |
/// | `unix:///run/redis.sock`, `unix:///run/redis.sock?db=1` | a unix socket, and its database |
///
/// `rediss://` (TLS) is refused: the hiredis this backend is built on speaks plain TCP only.
/// The password never appears in ``description``, logs or errors.
public struct RedisServerAddress: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// Where the server listens.
    public enum Endpoint: Sendable, Hashable {
        /// A TCP server: host name or IP address (without brackets) and port.
        case tcp(host: String, port: Int)
        /// A unix-domain socket path.
        case unixSocket(path: String)
    }

    /// Where the server listens.
    public var endpoint: Endpoint
    /// The database the URL selects (its path, or `?db=`), or `nil` when it names none.
    public var database: Int?
    /// The ACL user name the URL gives, if any.
    public var username: String?
    /// The password the URL gives, if any. Never printed.
    public var password: String?

    /// Redis's default port.
    public static let defaultPort = 6379

    /// Creates an address.
    ///
    /// - Parameters:
    ///   - endpoint: Where the server listens.
    ///   - database: The database to select, or `nil` for the one the options give.
    ///   - username: An ACL user name.
    ///   - password: A password.
    public init(endpoint: Endpoint, database: Int? = nil, username: String? = nil, password: String? = nil) {
        self.endpoint = endpoint
        self.database = database
        self.username = username
        self.password = password
    }

    /// Parses one server URL.
    ///
    /// - Parameter text: A `redis://` or `unix://` URL.
    /// - Returns: The address, or `nil` when the text is not one of the forms above.
    public init?(parsing text: String) {
        let text = text.trimmed
        if text.hasPrefix("unix://") {
            var rest = Substring(text.dropFirst("unix://".count))
            var database: Int?
            var password: String?
            if let question = rest.firstIndex(of: "?") {
                for pair in rest[rest.index(after: question)...].split(separator: "&") {
                    let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                    guard parts.count == 2 else { return nil }
                    switch parts[0] {
                    case "db":
                        guard let number = Int(parts[1]), number >= 0 else { return nil }
                        database = number
                    case "password": password = Self.percentDecoded(parts[1])
                    default: return nil
                    }
                }
                rest = rest[..<question]
            }
            guard rest.hasPrefix("/"), rest.count > 1 else { return nil }
            self.init(endpoint: .unixSocket(path: String(rest)), database: database, password: password)
            return
        }
        guard text.hasPrefix("redis://") else { return nil }
        var rest = Substring(text.dropFirst("redis://".count))
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let user = credentials[..<colon]
                username = user.isEmpty ? nil : Self.percentDecoded(user)
                password = Self.percentDecoded(credentials[credentials.index(after: colon)...])
            } else if !credentials.isEmpty {
                // redis-py reads `redis://secret@host` as a user name with no password; so do we.
                username = Self.percentDecoded(credentials)
            }
        }
        var database: Int?
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            if !path.isEmpty {
                guard let number = Int(path), number >= 0 else { return nil }
                database = number
            }
            rest = rest[..<slash]
        }
        var host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return nil }
                portText = after.dropFirst()
            }
            guard !host.isEmpty, host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return nil }
        } else {
            let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { return nil }
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
        self.init(endpoint: .tcp(host: String(host), port: port), database: database, username: username, password: password)
    }

    /// Parses `LOCATION`: a list of URLs, each entry possibly several separated by commas
    /// (Django's rule for a string `LOCATION`).
    ///
    /// - Parameters:
    ///   - location: The `LOCATION` entries.
    ///   - alias: The alias, named in errors.
    /// - Returns: The servers in order: the first takes writes.
    /// - Throws: ``/Caching/CacheError/Code/invalidSettings`` naming the alias and the entry that
    ///   does not parse (its password masked), or saying that no server is given.
    public static func parse(location: [String], alias: String) throws(CacheError) -> [RedisServerAddress] {
        var servers: [RedisServerAddress] = []
        for entry in location {
            for part in entry.split(separator: ",") {
                let piece = String(part).trimmed
                if piece.isEmpty { continue }
                if piece.hasPrefix("rediss://") {
                    throw CacheSettings.invalid(
                        alias, "LOCATION",
                        "holds '\(masked(piece))', a TLS URL; this backend's hiredis speaks plain TCP only: use redis:// on a trusted network or a unix:// socket"
                    )
                }
                guard let address = RedisServerAddress(parsing: piece) else {
                    throw CacheSettings.invalid(
                        alias, "LOCATION",
                        "holds '\(masked(piece))', which is not a Redis server URL; use redis://[:password@]host:port[/db] (redis://127.0.0.1:6379/0) or unix:///path/to/socket[?db=N]"
                    )
                }
                servers.append(address)
            }
        }
        guard !servers.isEmpty else {
            throw CacheSettings.invalid(
                alias, "LOCATION", "names no Redis server; give one or more URLs, such as \"redis://127.0.0.1:6379\"")
        }
        return servers
    }

    /// `text` with anything between `//` and the last `@`, and any `password=` value, replaced
    /// by `***`, so a URL that does not parse can be quoted in an error without its secret.
    static func masked(_ text: String) -> String {
        var result = Substring(text)
        var masked = ""
        if let scheme = firstRange(of: "://", in: result), let at = result.lastIndex(of: "@"), at > scheme.upperBound {
            masked += result[..<scheme.upperBound] + "***"
            result = result[at...]
        }
        if let password = firstRange(of: "password=", in: result) {
            let end = result[password.upperBound...].firstIndex(of: "&") ?? result.endIndex
            masked += result[..<password.upperBound] + "***"
            result = result[end...]
        }
        return masked + result
    }

    private static func firstRange(of needle: String, in text: Substring) -> Range<String.Index>? {
        var start = text.startIndex
        while start < text.endIndex {
            if text[start...].hasPrefix(needle) { return start..<text.index(start, offsetBy: needle.count) }
            start = text.index(after: start)
        }
        return nil
    }

    private static func percentDecoded(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
                let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The server and database, without credentials: `redis://127.0.0.1:6379/0`, `unix:///run/redis.sock`.
    public var description: String {
        let suffix = database.map { "/\($0)" } ?? ""
        switch endpoint {
        case .tcp(let host, let port):
            return "redis://\(host.contains(":") ? "[\(host)]" : host):\(port)\(suffix)"
        case .unixSocket(let path):
            return "unix://\(path)\(database.map { "?db=\($0)" } ?? "")"
        }
    }
}

extension RedisServerAddress {
    /// The same as ``description``: no credentials.
    public var debugDescription: String { description }

    /// Shows the address without its credentials, so `dump` and debuggers do not print them.
    public var customMirror: Mirror { Mirror(self, children: ["address": description], displayStyle: .struct) }
}

extension String {
    var trimmed: String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
