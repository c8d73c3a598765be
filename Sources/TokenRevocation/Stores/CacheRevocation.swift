public import Caching

/// A revocation store over any `Cache` or cache alias: Django-Bolt's cache revocation.
///
/// A revoked `jti` is stored under `revoked:{jti}` passed through the cache's own key
/// function, so with the default `KEY_PREFIX` and `VERSION` it is the key `:1:revoked:abc`,
/// exactly where a Django app using Django's cache (and Django-Bolt's
/// `DjangoCacheRevocation`) keeps it. Token families live under `revoked-family:{fam}` and
/// logout-everywhere cut-offs under `revoked-subject:{sub}`; the three prefixes are
/// configurable and cannot collide with one another as long as they differ.
///
/// Shared by every process that uses the same cache: a file cache directory for several
/// processes on one host, memcached for many hosts. ``consume(_:ttl:)`` rests on the
/// cache's atomic `add`.
///
/// ```swift
/// let caches = try Caches(contentsOf: "caches.json")
/// let revocation = CacheRevocation(caches: caches, alias: "default")
/// ```
///
/// **Values.** A revoked id's value is the Unix second its entry ends (an integer, which
/// Python clients read natively, and which Django-Bolt's `is not None` check counts as
/// revoked). Revoking again reads it first and never shortens the entry.
///
/// **Identifiers.** An id whose made key memcached would refuse (longer than 250 bytes
/// after the prefixes, or containing a space or a control character) throws
/// ``RevocationError/Code/invalidIdentifier`` before any I/O, on every backend, whatever
/// the alias's `KEY_VALIDATION`. Ids are not hashed, so the keys stay readable by a Django
/// peer; a token whose `jti` cannot be stored is refused by `JWTAuthentication`.
///
/// **Failures.** A backend error is rethrown as ``RevocationError/Code/storeFailure``; a miss
/// is believed only when the backend answered.
public struct CacheRevocation: RevocationStore {
    private enum Source: Sendable {
        case cache(Cache)
        case alias(Caches, String)
    }

    private let source: Source
    /// Prepended to a `jti` (`revoked:` by default, as Django-Bolt).
    public let keyPrefix: String
    /// Prepended to a token family id.
    public let familyKeyPrefix: String
    /// Prepended to a subject for its logout-everywhere cut-off.
    public let subjectKeyPrefix: String

    /// Creates a store over one cache.
    ///
    /// - Parameters:
    ///   - cache: The cache to keep entries in.
    ///   - keyPrefix: Prepended to a `jti` before the cache makes its key.
    ///   - familyKeyPrefix: Prepended to a family id.
    ///   - subjectKeyPrefix: Prepended to a subject.
    public init(
        cache: Cache, keyPrefix: String = "revoked:", familyKeyPrefix: String = "revoked-family:",
        subjectKeyPrefix: String = "revoked-subject:"
    ) {
        self.source = .cache(cache)
        self.keyPrefix = keyPrefix
        self.familyKeyPrefix = familyKeyPrefix
        self.subjectKeyPrefix = subjectKeyPrefix
    }

    /// Creates a store over a cache alias, resolved on every call, so that
    /// ``/Caching/Caches/withOverride(_:_:operation:)`` in a test replaces it.
    ///
    /// - Parameters:
    ///   - caches: The alias registry.
    ///   - alias: The alias (`default` by default).
    ///   - keyPrefix: Prepended to a `jti` before the cache makes its key.
    ///   - familyKeyPrefix: Prepended to a family id.
    ///   - subjectKeyPrefix: Prepended to a subject.
    public init(
        caches: Caches, alias: String = Caches.defaultAlias, keyPrefix: String = "revoked:",
        familyKeyPrefix: String = "revoked-family:", subjectKeyPrefix: String = "revoked-subject:"
    ) {
        self.source = .alias(caches, alias)
        self.keyPrefix = keyPrefix
        self.familyKeyPrefix = familyKeyPrefix
        self.subjectKeyPrefix = subjectKeyPrefix
    }

    /// The clock of the cache (the alias's cache, resolved now).
    public var clock: any CacheClock {
        (try? cache())?.configuration.clock ?? SystemCacheClock()
    }

    /// `true` when the cache's backend (the alias's, resolved now) answers from this process's
    /// memory and cannot hang (its capabilities say so: local memory, dummy); then
    /// `JWTAuthentication` skips the timeout race. Every other backend is raced against the timeout.
    public var answersInProcess: Bool {
        guard let cache = try? cache() else { return false }
        return cache.capabilities.answersInProcess
    }

    /// The key (before the cache's own prefix and version) a `jti` is stored under: `revoked:{jti}`.
    ///
    /// - Parameter jti: The token id.
    /// - Returns: The key given to the cache.
    public func key(forJTI jti: String) -> String { keyPrefix + jti }

    /// The made key a `jti` is stored under, as the backend sees it (`:1:revoked:abc` by default).
    ///
    /// - Parameter jti: The token id.
    /// - Returns: The made key.
    /// - Throws: ``RevocationError/Code/invalidIdentifier`` when the key is invalid,
    ///   ``RevocationError/Code/storeFailure`` when the alias does not exist.
    public func madeKey(forJTI jti: String) throws -> String {
        try validKey(key(forJTI: jti), id: jti, kind: "jti", cache: cache())
    }

    public func revoke(_ jti: String, ttl: Duration) async throws {
        let cache = try cache()
        let key = try validKey(keyPrefix + jti, id: jti, kind: "jti", cache: cache)
        try await storeUntil(key, ttl: ttl, cache: cache, what: "the revocation of jti '\(jti)'")
    }

    public func isRevoked(_ jti: String) async throws -> Bool {
        let cache = try cache()
        let key = try validKey(keyPrefix + jti, id: jti, kind: "jti", cache: cache)
        return try await run("reading the revocation of jti '\(jti)'", cache) {
            try await cache.backend.containsEntry(forKey: key)
        }
    }

    public func consume(_ jti: String, ttl: Duration) async throws -> Bool {
        let cache = try cache()
        let key = try validKey(keyPrefix + jti, id: jti, kind: "jti", cache: cache)
        let seconds = ttl.seconds
        guard seconds > 0 else { return false }
        let deadline = cache.configuration.clock.now() + seconds
        let entry = try CacheValueCodec.encode(Int(deadline.rounded(.up)))
        return try await run("recording the use of jti '\(jti)'", cache) {
            try await cache.backend.storeIfAbsent(entry, forKey: key, expiry: .at(deadline))
        }
    }

    public func revokeAll(subject: String, issuedBefore: Double, ttl: Duration) async throws {
        let cache = try cache()
        let key = try validKey(subjectKeyPrefix + subject, id: subject, kind: "subject", cache: cache)
        let seconds = ttl.seconds
        guard seconds > 0 else { return }
        let what = "the logout-everywhere cut-off of subject '\(subject)'"
        try await run("storing \(what)", cache) {
            var cutoff = Int(issuedBefore.rounded(.down))
            if let existing = try await cache.backend.entry(forKey: key),
                let previous = try? CacheValueCodec.decode(existing, as: Int.self, key: key)
            {
                cutoff = max(cutoff, previous)
            }
            let entry = try CacheValueCodec.encode(cutoff)
            try await cache.backend.store(entry, forKey: key, expiry: .at(cache.configuration.clock.now() + seconds))
        }
    }

    public func revokedBefore(subject: String) async throws -> Double? {
        let cache = try cache()
        let key = try validKey(subjectKeyPrefix + subject, id: subject, kind: "subject", cache: cache)
        return try await run("reading the logout-everywhere cut-off of subject '\(subject)'", cache) {
            guard let entry = try await cache.backend.entry(forKey: key) else { return nil }
            return Double(try CacheValueCodec.decode(entry, as: Int.self, key: key))
        }
    }

    public func revokeFamily(_ family: String, ttl: Duration) async throws {
        let cache = try cache()
        let key = try validKey(familyKeyPrefix + family, id: family, kind: "family", cache: cache)
        try await storeUntil(key, ttl: ttl, cache: cache, what: "the revocation of token family '\(family)'")
    }

    public func isFamilyRevoked(_ family: String) async throws -> Bool {
        let cache = try cache()
        let key = try validKey(familyKeyPrefix + family, id: family, kind: "family", cache: cache)
        return try await run("reading the revocation of token family '\(family)'", cache) {
            try await cache.backend.containsEntry(forKey: key)
        }
    }

    /// Looks up the `jti`, family and subject in one multi-get.
    public func check(_ query: RevocationQuery) async throws -> RevocationStatus {
        let cache = try cache()
        let jtiKey = try query.jti.map { try validKey(keyPrefix + $0, id: $0, kind: "jti", cache: cache) }
        let familyKey = try query.family.map { try validKey(familyKeyPrefix + $0, id: $0, kind: "family", cache: cache) }
        let subjectKey = try query.subject.map {
            try validKey(subjectKeyPrefix + $0, id: $0, kind: "subject", cache: cache)
        }
        let keys = [jtiKey, familyKey, subjectKey].compactMap { $0 }
        guard !keys.isEmpty else { return RevocationStatus() }
        return try await run("checking revocation", cache) {
            // Positions in `keys`: jti, family, subject, each only when asked. Distinct prefixes
            // make the keys distinct, as the backend's multi-get needs.
            let found: [CacheEntry?]
            if keys.count == 1 {
                found = [try await cache.backend.entry(forKey: keys[0])]
            } else {
                found = try await cache.backend.entries(forKeys: keys)
            }
            var position = 0
            func next() -> CacheEntry? {
                defer { position += 1 }
                return position < found.count ? found[position] : nil
            }
            var status = RevocationStatus()
            if jtiKey != nil { status.isRevoked = next() != nil }
            if familyKey != nil { status.isFamilyRevoked = next() != nil }
            if let subjectKey, let entry = next() {
                status.subjectCutoff = Double(try CacheValueCodec.decode(entry, as: Int.self, key: subjectKey))
            }
            return status
        }
    }

    // MARK: Internals

    private func cache() throws(RevocationError) -> Cache {
        switch source {
        case .cache(let cache): return cache
        case .alias(let caches, let alias):
            do {
                return try caches[alias]
            } catch {
                throw RevocationError(
                    .storeFailure, "CacheRevocation could not resolve cache alias '\(alias)': \(error)", underlying: error)
            }
        }
    }

    private var sourceName: String {
        switch source {
        case .cache(let cache): "cache \(cache.capabilities.name)"
        case .alias(_, let alias): "cache alias '\(alias)'"
        }
    }

    /// Makes the key through the cache's key function and checks it against memcached's rules.
    private func validKey(_ key: String, id: String, kind: String, cache: Cache) throws(RevocationError) -> String {
        guard !id.isEmpty else {
            throw RevocationError(.invalidIdentifier, "The \(kind) is empty; a token without one cannot be revoked")
        }
        let made = cache.makeKey(key)
        let problems = CacheKeyRules.problems(with: made)
        guard problems.isEmpty else {
            throw RevocationError(
                .invalidIdentifier,
                "The \(kind) cannot be stored in \(sourceName): \(problems.joined(separator: "; ")). Use ids of printable characters without spaces, short enough that the made key stays within \(CacheKeyRules.maxLength) bytes (a UUID is)"
            )
        }
        return made
    }

    /// Stores a marker whose value is its end (whole seconds), never shortening a live one.
    private func storeUntil(_ key: String, ttl: Duration, cache: Cache, what: String) async throws {
        let seconds = ttl.seconds
        guard seconds > 0 else { return }
        try await run("storing \(what)", cache) {
            let deadline = cache.configuration.clock.now() + seconds
            if let existing = try await cache.backend.entry(forKey: key),
                let previous = try? CacheValueCodec.decode(existing, as: Int.self, key: key),
                Double(previous) >= deadline
            {
                return
            }
            let entry = try CacheValueCodec.encode(Int(deadline.rounded(.up)))
            try await cache.backend.store(entry, forKey: key, expiry: .at(deadline))
        }
    }

    private func run<R: Sendable>(_ what: String, _ cache: Cache, _ body: () async throws -> R) async throws -> R {
        do {
            return try await body()
        } catch let error as RevocationError {
            throw error
        } catch {
            throw RevocationError(
                .storeFailure,
                "CacheRevocation failed \(what) in \(sourceName): \(error); the token's state is unknown, so it must not be accepted",
                underlying: error)
        }
    }
}
