public import Caching
public import Logging

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
/// processes on one host, memcached or Redis for many hosts. ``consume(_:ttl:)`` rests on the
/// cache's atomic `add`.
///
/// ```swift
/// let caches = try Caches(contentsOf: "caches.json")
/// let revocation = try CacheRevocation(caches: caches, alias: "revocations")
/// ```
///
/// **A revocation is never forgotten.** A cache that may drop a live entry would un-revoke a
/// token: so the initializers refuse, with ``RevocationError/Code/unsafeStore`` naming the
/// alias and the setting to change, a cache whose backend declares that it may evict live
/// entries (local memory or files with `OPTIONS["WHEN_FULL"]` `"cull"`, Django's default;
/// memcached unless `servers_never_evict` declares `-M`; Redis unless `servers_never_evict`
/// declares `maxmemory-policy noeviction`) or move keys to another server on a failure
/// (memcached with several servers and `remove_failed_servers`; Redis with replicas, which may
/// lag behind the primary). Use
/// `"WHEN_FULL": "refuse"` (a full store then refuses the logout, which answers 503, instead of
/// forgetting an older one), or accept the risk by name with `acceptingRiskOf:`, which logs a
/// warning.
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
    /// Ways a cache may forget a live revocation, which a store accepts only when named.
    public struct Risks: OptionSet, Sendable, Hashable {
        public let rawValue: Int

        /// Creates a set of risks from its raw value.
        public init(rawValue: Int) { self.rawValue = rawValue }

        /// The backend may evict a live entry when it is full (Django's culling, memcached's LRU).
        public static let liveEntryEviction = Risks(rawValue: 1 << 0)
        /// The backend may move keys to another server when one fails, where the entry is absent.
        public static let keysMovingOnFailure = Risks(rawValue: 1 << 1)
    }

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
    /// Prepended to a family id for its rotation state (the current generation).
    public let generationKeyPrefix: String

    /// Creates a store over one cache.
    ///
    /// - Parameters:
    ///   - cache: The cache to keep entries in.
    ///   - keyPrefix: Prepended to a `jti` before the cache makes its key.
    ///   - familyKeyPrefix: Prepended to a family id.
    ///   - subjectKeyPrefix: Prepended to a subject.
    ///   - generationKeyPrefix: Prepended to a family id for its rotation state.
    ///   - risks: The ways of forgetting a revocation this store may accept (none by default).
    ///   - logger: Where an accepted risk is logged, once, as a warning.
    /// - Throws: ``RevocationError/Code/unsafeStore`` when the cache may forget a live entry in a
    ///   way not named in `risks`.
    public init(
        cache: Cache, keyPrefix: String = "revoked:", familyKeyPrefix: String = "revoked-family:",
        subjectKeyPrefix: String = "revoked-subject:", generationKeyPrefix: String = "family-generation:",
        acceptingRiskOf risks: Risks = [],
        logger: Logger = Logger(label: "swift-caching.TokenRevocation")
    ) throws(RevocationError) {
        try Self.checkSafety(cache.capabilities, of: "the cache given", settingsHint: nil, accepting: risks, logger: logger)
        self.source = .cache(cache)
        self.keyPrefix = keyPrefix
        self.familyKeyPrefix = familyKeyPrefix
        self.subjectKeyPrefix = subjectKeyPrefix
        self.generationKeyPrefix = generationKeyPrefix
    }

    /// Creates a store over a cache alias, resolved on every call, so that
    /// ``/Caching/Caches/withOverride(_:_:operation:)`` in a test replaces it.
    ///
    /// The alias must exist and be safe for revocation now; a cache put in its place by an
    /// override is trusted as it is.
    ///
    /// - Parameters:
    ///   - caches: The alias registry.
    ///   - alias: The alias (`default` by default).
    ///   - keyPrefix: Prepended to a `jti` before the cache makes its key.
    ///   - familyKeyPrefix: Prepended to a family id.
    ///   - subjectKeyPrefix: Prepended to a subject.
    ///   - generationKeyPrefix: Prepended to a family id for its rotation state.
    ///   - risks: The ways of forgetting a revocation this store may accept (none by default).
    ///   - logger: Where an accepted risk is logged, once, as a warning.
    /// - Throws: ``RevocationError/Code/storeFailure`` for an unknown alias;
    ///   ``RevocationError/Code/unsafeStore`` when the alias may forget a live entry in a way
    ///   not named in `risks`.
    public init(
        caches: Caches, alias: String = Caches.defaultAlias, keyPrefix: String = "revoked:",
        familyKeyPrefix: String = "revoked-family:", subjectKeyPrefix: String = "revoked-subject:",
        generationKeyPrefix: String = "family-generation:", acceptingRiskOf risks: Risks = [],
        logger: Logger = Logger(label: "swift-caching.TokenRevocation")
    ) throws(RevocationError) {
        let cache: Cache
        do {
            cache = try caches[alias]
        } catch {
            throw RevocationError(
                .storeFailure, "CacheRevocation could not resolve cache alias '\(alias)': \(error)", underlying: error)
        }
        try Self.checkSafety(
            cache.capabilities, of: "CACHES[\"\(alias)\"]", settingsHint: alias, accepting: risks, logger: logger)
        self.source = .alias(caches, alias)
        self.keyPrefix = keyPrefix
        self.familyKeyPrefix = familyKeyPrefix
        self.subjectKeyPrefix = subjectKeyPrefix
        self.generationKeyPrefix = generationKeyPrefix
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

    /// The bound the cache's backend (the alias's, resolved now) puts on every read
    /// (``/Caching/CacheBackendCapabilities/readTimeLimit``: memcached or Redis with
    /// `OPTIONS["read_timeout"]`), which bounds ``check(_:)``: it only reads. `nil` when the
    /// backend promises none; then `JWTAuthentication` races the check against its timeout.
    public var checkTimeLimit: Duration? {
        guard let cache = try? cache() else { return nil }
        return cache.capabilities.readTimeLimit
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
        let seconds = try RevocationLimits.seconds(ttl, what: "the ttl of the use of jti '\(jti)'")
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
        let seconds = try RevocationLimits.seconds(ttl, what: "the ttl of the logout-everywhere cut-off of subject '\(subject)'")
        try RevocationLimits.checkTime(issuedBefore, what: "the logout-everywhere cut-off of subject '\(subject)'")
        guard seconds > 0 else { return }
        let what = "the logout-everywhere cut-off of subject '\(subject)'"
        try await run("storing \(what)", cache) {
            let end = cache.configuration.clock.now() + seconds
            try await update(key, in: cache, what: what) { current in
                var cutoff = SubjectCutoff(cutoff: issuedBefore, end: end)
                if let current {
                    let previous = SubjectCutoff(current, key: key)
                    // Never earlier, never shorter: a concurrent or later call with a smaller
                    // value or a shorter ttl changes nothing it would weaken.
                    if let previous, previous.cutoff >= cutoff.cutoff, previous.end >= cutoff.end { return nil }
                    if let previous {
                        cutoff.cutoff = max(cutoff.cutoff, previous.cutoff)
                        cutoff.end = max(cutoff.end, previous.end)
                    }
                }
                return (cutoff.entry, cutoff.end)
            }
        }
    }

    public func revokedBefore(subject: String) async throws -> Double? {
        let cache = try cache()
        let key = try validKey(subjectKeyPrefix + subject, id: subject, kind: "subject", cache: cache)
        return try await run("reading the logout-everywhere cut-off of subject '\(subject)'", cache) {
            guard let entry = try await cache.backend.entry(forKey: key) else { return nil }
            return try SubjectCutoff.read(entry, key: key).cutoff
        }
    }

    public func revokeFamily(_ family: String, ttl: Duration) async throws {
        let cache = try cache()
        let key = try validKey(familyKeyPrefix + family, id: family, kind: "family", cache: cache)
        try await storeUntil(key, ttl: ttl, cache: cache, what: "the revocation of token family '\(family)'")
    }

    public func startFamily(_ family: String, ttl: Duration) async throws {
        let cache = try cache()
        let key = try validKey(generationKeyPrefix + family, id: family, kind: "family", cache: cache)
        let what = "the rotation state of token family '\(family)'"
        let seconds = try RevocationLimits.seconds(ttl, what: "the ttl of \(what)")
        guard seconds > 0 else { return }
        let started = try await run("starting \(what)", cache) {
            let end = cache.configuration.clock.now() + seconds
            return try await cache.backend.compareAndStore(.integer(0), forKey: key, expiry: .at(end), expected: nil)
        }
        guard started else {
            throw RevocationError(.invalidIdentifier, "Token family '\(family)' was started already; a new login needs a new family id")
        }
    }

    public func rotateFamily(_ family: String, from generation: Int, ttl: Duration) async throws -> FamilyRotation {
        let cache = try cache()
        let key = try validKey(generationKeyPrefix + family, id: family, kind: "family", cache: cache)
        let what = "the rotation state of token family '\(family)'"
        let seconds = try RevocationLimits.seconds(ttl, what: "the ttl of \(what)")
        return try await run("rotating \(what)", cache) {
            for _ in 0..<64 {
                guard let current = try await cache.backend.entry(forKey: key) else { return .unknown }
                guard let stored = current.integerValue else {
                    throw RevocationError(
                        .storeFailure,
                        "The rotation state under key '\(key)' is not an integer (flags \(current.flags)); the refresh cannot be checked")
                }
                guard stored == generation, generation < Int.max else { return .reused }
                let end = cache.configuration.clock.now() + max(seconds, 0)
                if try await cache.backend.compareAndStore(.integer(generation + 1), forKey: key, expiry: .at(end), expected: current) {
                    return .rotated(to: generation + 1)
                }
            }
            throw RevocationError(.storeFailure, "CacheRevocation could not rotate \(what): 64 concurrent writers kept changing it")
        }
    }

    public func isFamilyRevoked(_ family: String) async throws -> Bool {
        let cache = try cache()
        let key = try validKey(familyKeyPrefix + family, id: family, kind: "family", cache: cache)
        return try await run("reading the revocation of token family '\(family)'", cache) {
            try await cache.backend.containsEntry(forKey: key)
        }
    }

    /// Looks up the `jti`, family and subject in one multi-get. On memcached and Redis, the
    /// multi-gets of concurrent checks are sent as one (the backend coalesces reads: one `MGET`
    /// on Redis), and a failed batch fails every check in it.
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
                status.subjectCutoff = try SubjectCutoff.read(entry, key: subjectKey).cutoff
            }
            return status
        }
    }

    // MARK: Internals

    /// Refuses a backend that may forget a live entry, unless the risk is accepted by name.
    static func checkSafety(
        _ capabilities: CacheBackendCapabilities, of what: String, settingsHint alias: String?, accepting risks: Risks,
        logger: Logger
    ) throws(RevocationError) {
        var problems: [String] = []
        var accepted: [String] = []
        if capabilities.mayEvictLiveEntries {
            let problem: String
            switch capabilities.name {
            case "locmem", "file":
                problem =
                    "the \(capabilities.name) backend evicts live entries when it holds MAX_ENTRIES (OPTIONS[\"WHEN_FULL\"] is \"cull\"); set OPTIONS[\"WHEN_FULL\"] to \"refuse\" and MAX_ENTRIES to what the revocations need"
            case "memcached":
                problem =
                    "memcached evicts live items when its memory is full; run every server with -M and declare it with OPTIONS[\"servers_never_evict\"] = true"
            case "redis":
                problem =
                    "Redis evicts live keys when it reaches maxmemory under any maxmemory-policy but noeviction; run every server with maxmemory-policy noeviction (or no maxmemory) and declare it with OPTIONS[\"servers_never_evict\"] = true"
            default:
                problem = "the \(capabilities.name) backend may evict live entries when full"
            }
            if risks.contains(.liveEntryEviction) { accepted.append(problem) } else { problems.append(problem) }
        }
        if capabilities.mayMoveKeysOnFailure {
            let problem =
                capabilities.name == "redis"
                ? "with several LOCATION servers Redis reads from replicas, which may not have received a revocation yet (or ever, when replication breaks); give the revocation alias one LOCATION, its primary"
                : "the \(capabilities.name) backend moves a failed server's keys to the others, where a revocation is absent; set OPTIONS[\"remove_failed_servers\"] to false"
            if risks.contains(.keysMovingOnFailure) { accepted.append(problem) } else { problems.append(problem) }
        }
        if !problems.isEmpty {
            throw RevocationError(
                .unsafeStore,
                "\(what) cannot keep revocations: \(problems.joined(separator: "; and ")). A forgotten revocation lets a logged-out token in again; to use it anyway, pass acceptingRiskOf: (.liveEntryEviction, .keysMovingOnFailure) and live with that"
            )
        }
        for risk in accepted {
            logger.warning(
                "CacheRevocation accepts a store that may forget revocations: \(risk)",
                metadata: ["cache.alias": "\(alias ?? "-")", "cache.backend": "\(capabilities.name)"])
        }
    }

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

    /// Stores a marker whose value is its end (whole seconds, rounded up), never shortening a
    /// live one, atomically (compare-and-set).
    private func storeUntil(_ key: String, ttl: Duration, cache: Cache, what: String) async throws {
        let seconds = try RevocationLimits.seconds(ttl, what: "the ttl of \(what)")
        guard seconds > 0 else { return }
        try await run("storing \(what)", cache) {
            let end = cache.configuration.clock.now() + seconds
            try await update(key, in: cache, what: what) { current in
                if let current, let previous = try? CacheValueCodec.decode(current, as: Int.self, key: key), Double(previous) >= end {
                    return nil
                }
                return (try CacheValueCodec.encode(Int(end.rounded(.up))), end)
            }
        }
    }

    /// A read-modify-write of one entry that no concurrent writer can undo: reads the entry,
    /// asks `change` for the new one (`nil`: nothing to do) and stores it only if the entry is
    /// still the one read, else starts again.
    private func update(
        _ key: String, in cache: Cache, what: String,
        _ change: (CacheEntry?) throws -> (entry: CacheEntry, end: Double)?
    ) async throws {
        for _ in 0..<64 {
            let current = try await cache.backend.entry(forKey: key)
            guard let (entry, end) = try change(current) else { return }
            if try await cache.backend.compareAndStore(entry, forKey: key, expiry: .at(end), expected: current) { return }
        }
        throw RevocationError(
            .storeFailure, "CacheRevocation could not store \(what): 64 concurrent writers kept changing it; nothing is known to be stored")
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

/// A subject's logout-everywhere cut-off as stored in a cache: UTF-8 text `"<cutoff>:<end>"`
/// (Python reads it as a `str`), the cut-off as the exact Unix time of the logout (shortest
/// round-tripping decimal, so a fractional `iat` compares exactly) and the end of the entry
/// in Unix seconds. An integer (whole seconds, as earlier versions stored) is read as the cut-off.
struct SubjectCutoff {
    var cutoff: Double
    var end: Double

    init(cutoff: Double, end: Double) {
        self.cutoff = cutoff
        self.end = end
    }

    /// Parses an entry; `nil` when it is in neither form.
    init?(_ entry: CacheEntry, key: String) {
        if let whole = try? CacheValueCodec.decode(entry, as: Int.self, key: key) {
            self.init(cutoff: Double(whole), end: -.infinity)
            return
        }
        guard let text = try? CacheValueCodec.decode(entry, as: String.self, key: key) else { return nil }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let cutoff = Double(parts[0]), let end = Double(parts[1]), cutoff.isFinite, end.isFinite else {
            return nil
        }
        self.init(cutoff: cutoff, end: end)
    }

    /// Parses an entry, or throws: an unreadable cut-off must not read as "none".
    static func read(_ entry: CacheEntry, key: String) throws(RevocationError) -> SubjectCutoff {
        guard let cutoff = SubjectCutoff(entry, key: key) else {
            throw RevocationError(
                .storeFailure,
                "The logout-everywhere cut-off under key '\(key)' is in no form this library wrote (flags \(entry.flags)); tokens of the subject cannot be checked"
            )
        }
        return cutoff
    }

    /// The entry: the text form.
    var entry: CacheEntry {
        CacheEntry(flags: CacheItemFlags.text, bytes: Array("\(cutoff):\(end.rounded(.up))".utf8))
    }
}
