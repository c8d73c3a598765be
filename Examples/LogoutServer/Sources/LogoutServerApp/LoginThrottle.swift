public import Caching

/// Counts login attempts per username and per client in fixed windows, on a cache alias, with
/// Django's API only (`add` then `incr`, both with the window as their timeout), so several
/// server processes sharing the alias share the counts.
///
/// An attempt over either limit is refused before the password is checked (no hashing work for
/// a flood); the answer says when the window ends (`Retry-After`).
public struct LoginThrottle: Sendable {
    /// Where the counters live: an alias whose entries may be culled (losing a counter only
    /// forgives a few attempts), never the revocation alias.
    public let cache: Cache
    /// Attempts allowed per username in one window.
    public let perUser: Int
    /// Attempts allowed per client address in one window.
    public let perClient: Int
    /// The window, in seconds.
    public let window: Double

    /// Creates a throttle.
    ///
    /// - Parameters:
    ///   - cache: Where the counters live.
    ///   - perUser: Attempts per username per window.
    ///   - perClient: Attempts per client per window.
    ///   - window: The window length in seconds.
    public init(cache: Cache, perUser: Int, perClient: Int, window: Double) {
        self.cache = cache
        self.perUser = perUser
        self.perClient = perClient
        self.window = window
    }

    /// Counts one attempt for a username from a client.
    ///
    /// - Returns: `nil` when the attempt may go on, else the seconds until the window ends.
    /// - Throws: `CacheError` when the counters cannot be read or written.
    public func attempt(username: String, client: String) async throws -> Int? {
        let now = cache.configuration.clock.now()
        let start = (now / window).rounded(.down) * window
        let retryAfter = max(1, Int((start + window - now).rounded(.up)))
        for (kind, id, limit) in [("user", username, perUser), ("client", client, perClient)] {
            let key = "throttle:login:\(kind):\(Self.keyPart(id)):\(Int(start))"
            _ = try await cache.add(key, 0, timeout: .seconds(window + 1))
            let count: Int
            do {
                count = try await cache.incr(key)
            } catch let error as CacheError where error.code == .keyNotFound {
                // The counter expired between add and incr (the window just ended): count again.
                _ = try await cache.add(key, 1, timeout: .seconds(window + 1))
                count = 1
            }
            if count > limit { return retryAfter }
        }
        return nil
    }

    /// A key-safe form of an id: hex of its UTF-8 bytes, at most 64 bytes of them (longer
    /// usernames share a counter with others of the same first 64 bytes, which only throttles
    /// them together).
    static func keyPart(_ id: String) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in id.utf8.prefix(64) {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: text, as: UTF8.self) + "-\(id.utf8.count)"
    }
}
