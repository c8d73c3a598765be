public import Caching

/// A backend whose every operation throws, as a backend whose server is down: for testing that
/// code using a cache fails the way it should (a revocation check that fails closed, a page
/// that renders without its cache).
///
/// ```swift
/// let auth = try JWTAuthentication(secret: secret, revocationStore: CacheRevocation(cache: .failing()))
/// // every authenticate now throws revocationUnavailable
/// ```
public struct FailingBackend: CacheBackend {
    /// The error every operation throws unless another is given.
    public struct Down: Error, Sendable, Equatable {
        /// Creates the error.
        public init() {}
    }

    private let error: any Error & Sendable

    /// Creates a backend that always fails.
    ///
    /// - Parameter error: What every operation throws; ``Down`` by default.
    public init(error: any Error & Sendable = Down()) {
        self.error = error
    }

    /// A remote, shared backend that never evicts (it never holds anything), so revocation accepts it.
    public var capabilities: CacheBackendCapabilities {
        CacheBackendCapabilities(name: "failing", mayEvictLiveEntries: false, sharedAcrossProcesses: true)
    }

    public func entry(forKey key: String) async throws -> CacheEntry? { throw error }
    public func store(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws { throw error }
    public func storeIfAbsent(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws -> Bool {
        throw error
    }
    public func compareAndStore(
        _ entry: CacheEntry, forKey key: String, expiry: CacheExpiry, expected: CacheEntry?
    ) async throws -> Bool { throw error }
    public func removeEntry(forKey key: String) async throws -> Bool { throw error }
    public func updateExpiry(forKey key: String, to expiry: CacheExpiry) async throws -> Bool { throw error }
    public func increment(entryForKey key: String, by delta: Int) async throws -> Int { throw error }
    public func clear() async throws { throw error }
}

extension Cache {
    /// A cache whose every operation throws after making and validating its keys.
    ///
    /// - Parameters:
    ///   - error: What every operation throws; ``FailingBackend/Down`` by default.
    ///   - configuration: Key settings, applied (and validated) before the failure.
    /// - Returns: The cache.
    public static func failing(
        error: any Error & Sendable = FailingBackend.Down(), configuration: CacheConfiguration = CacheConfiguration()
    ) -> Cache {
        Cache(FailingBackend(error: error), configuration: configuration)
    }
}
