public import Caching

/// A cache whose every operation throws, as a backend whose server is down: for testing that
/// code using a cache fails the way it should (a revocation check that fails closed, a page
/// that renders without its cache).
///
/// ```swift
/// let auth = try JWTAuthentication(secret: secret, revocationStore: CacheRevocation(cache: FailingCache()))
/// // every authenticate now throws revocationUnavailable
/// ```
public struct FailingCache: Cache {
    /// The error every operation throws unless another is given.
    public struct Down: Error, Sendable, Equatable {
        public init() {}
    }

    public let configuration: CacheConfiguration
    private let error: any Error & Sendable

    /// Creates a cache that always fails.
    ///
    /// - Parameters:
    ///   - error: What every operation throws; ``Down`` by default.
    ///   - configuration: Key settings, applied (and validated) before the failure.
    public init(error: any Error & Sendable = Down(), configuration: CacheConfiguration = CacheConfiguration()) {
        self.error = error
        self.configuration = configuration
    }

    public func entry(forKey key: String) async throws -> CacheEntry? { throw error }
    public func store(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws { throw error }
    public func storeIfAbsent(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws -> Bool {
        throw error
    }
    public func removeEntry(forKey key: String) async throws -> Bool { throw error }
    public func updateExpiry(forKey key: String, to expiry: CacheExpiry) async throws -> Bool { throw error }
    public func increment(entryForKey key: String, by delta: Int) async throws -> Int { throw error }
    public func clear() async throws { throw error }
}
