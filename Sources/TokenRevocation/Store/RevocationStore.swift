public import Caching

/// Where revoked token ids (`jti`), revoked token families and per-subject
/// "logout everywhere" cut-offs are remembered until the tokens they concern
/// would have expired anyway.
///
/// Stateless tokens cannot be taken back, so logging out means remembering, for the
/// rest of a token's life, that it no longer counts. A store does that with entries that
/// expire on their own:
///
/// - ``revoke(_:ttl:)`` / ``isRevoked(_:)``: one token, by its `jti`.
/// - ``consume(_:ttl:)``: one-time use for refresh-token rotation; `true` only for the first
///   caller, atomically, after which the `jti` counts as revoked.
/// - ``revokeFamily(_:ttl:)`` / ``isFamilyRevoked(_:)``: every refresh token descended from
///   one login (the `fam` claim), for when a replayed refresh token is seen.
/// - ``revokeAll(subject:issuedBefore:ttl:)`` / ``revokedBefore(subject:)``: logout
///   everywhere; every token of a subject whose `iat` is at or before the cut-off is refused.
///
/// Rules every store follows:
/// - A write that could not be stored throws, so a logout never reports success without
///   revoking.
/// - A ttl longer than ``RevocationLimits/maximumLifetime`` or a cut-off that is not a
///   plausible Unix time throws ``RevocationError/Code/invalidArgument``; nothing traps.
/// - A read that could not get a real answer from the backend throws; it never reports
///   "not revoked" for a failure.
/// - Revoking twice is harmless; the entry keeps the longer of the two lifetimes.
/// - A ttl of zero or less stores nothing (the token is already past use).
///
/// Implementations: ``InMemoryRevocation`` (one process), ``CacheRevocation`` (any cache or
/// cache alias, shared by processes) and ``HandlerRevocation`` (an async closure).
public protocol RevocationStore: Sendable {
    /// The wall clock that turns a token's `exp` into a ttl (``revoke(_:expiresAt:leeway:)``).
    var clock: any CacheClock { get }

    /// Whether the store answers from this process's memory without I/O, so it can neither
    /// hang nor fail for lack of a server.
    ///
    /// `JWTAuthentication` bounds every other store's answer with a timeout; a store that
    /// returns `true` here is called directly, which saves two task creations per request.
    var answersInProcess: Bool { get }

    /// The longest ``check(_:)`` can take before it answers or throws, when the store's
    /// backend enforces such a bound itself; `nil` when it promises none.
    ///
    /// `JWTAuthentication` calls a store directly, without a timeout task, when this bound is
    /// within its `revocationTimeout`: the store fails the check itself in time (and the token
    /// is refused), so a race would only add two task creations per request.
    var checkTimeLimit: Duration? { get }

    /// Revokes one token until `ttl` from now.
    ///
    /// - Parameters:
    ///   - jti: The token's `jti` claim.
    ///   - ttl: How long to remember it; zero or less stores nothing.
    /// - Throws: ``RevocationError`` when the id is invalid or the revocation could not be stored.
    func revoke(_ jti: String, ttl: Duration) async throws

    /// Whether a token id is revoked (or consumed).
    ///
    /// - Parameter jti: The token's `jti` claim.
    /// - Returns: `true` while a revocation entry for it is live.
    /// - Throws: ``RevocationError`` when the id is invalid or the store could not answer.
    func isRevoked(_ jti: String) async throws -> Bool

    /// Marks a token id as used, atomically: only the first caller gets `true`.
    ///
    /// After a successful consume the id counts as revoked, so a replayed refresh token is
    /// refused and detected. Across processes this rests on the backend's atomic `add`.
    ///
    /// - Parameters:
    ///   - jti: The token's `jti` claim.
    ///   - ttl: How long to remember the use; zero or less stores nothing and returns `false`
    ///     (the token is past use anyway).
    /// - Returns: `true` for the first use, `false` if the id was already used or revoked.
    /// - Throws: ``RevocationError`` when the id is invalid or the store could not answer.
    func consume(_ jti: String, ttl: Duration) async throws -> Bool

    /// Revokes every token of `subject` issued at or before `issuedBefore` (logout everywhere).
    ///
    /// The cut-off is kept exactly (sub-second), and every token whose `iat` is at or before it
    /// is refused, a fractional `iat` included; a token minted with a whole-second `iat` in the
    /// same second as the logout, before or after it, is refused too. A later or concurrent
    /// call never moves the cut-off backwards and never shortens its lifetime.
    ///
    /// - Parameters:
    ///   - subject: The `sub` claim.
    ///   - issuedBefore: The cut-off, Unix seconds.
    ///   - ttl: How long to keep it: the longest lifetime of any token, plus the leeway.
    /// - Throws: ``RevocationError`` when the subject is invalid or the cut-off could not be stored.
    func revokeAll(subject: String, issuedBefore: Double, ttl: Duration) async throws

    /// The logout-everywhere cut-off of a subject, Unix seconds, or `nil` if there is none.
    ///
    /// - Parameter subject: The `sub` claim.
    /// - Returns: The cut-off; tokens with `iat` at or before it are revoked.
    /// - Throws: ``RevocationError`` when the store could not answer.
    func revokedBefore(subject: String) async throws -> Double?

    /// Revokes a whole token family (every refresh token descended from one login).
    ///
    /// - Parameters:
    ///   - family: The `fam` claim.
    ///   - ttl: How long to remember it: at least the refresh-token lifetime plus the leeway.
    /// - Throws: ``RevocationError`` when the id is invalid or the revocation could not be stored.
    func revokeFamily(_ family: String, ttl: Duration) async throws

    /// Whether a token family is revoked.
    ///
    /// - Parameter family: The `fam` claim.
    /// - Returns: `true` while the family's revocation entry is live.
    /// - Throws: ``RevocationError`` when the store could not answer.
    func isFamilyRevoked(_ family: String) async throws -> Bool

    /// Starts the rotation state of a login family (generation 0), kept for `ttl`: call it at
    /// login, before handing out the family's first refresh token.
    ///
    /// Refresh-token rotation then keeps one entry per login, whatever the number of refreshes
    /// (see ``rotateFamily(_:from:ttl:)``).
    ///
    /// - Parameters:
    ///   - family: The `fam` claim of the new login's tokens (a fresh random id).
    ///   - ttl: The refresh-token lifetime plus the leeway.
    /// - Throws: ``RevocationError`` when it could not be stored, or the family already exists.
    func startFamily(_ family: String, ttl: Duration) async throws

    /// Moves a login family from `generation` to the next, atomically, when a refresh token of
    /// that generation is presented: the first presenter wins, every later one (a copy of an
    /// already used refresh token) gets ``FamilyRotation/reused``.
    ///
    /// - Parameters:
    ///   - family: The refresh token's `fam` claim.
    ///   - generation: The generation the refresh token carries.
    ///   - ttl: How long the family's state lives from now: the new refresh token's lifetime
    ///     plus the leeway.
    /// - Returns: What the store found; on ``FamilyRotation/reused`` revoke the family.
    /// - Throws: ``RevocationError`` when the store could not answer.
    func rotateFamily(_ family: String, from generation: Int, ttl: Duration) async throws -> FamilyRotation

    /// Everything authentication needs to know about one token, in as few round trips as the
    /// store can manage (``CacheRevocation`` uses one multi-get).
    ///
    /// - Parameter query: The token's `jti`, `sub` and `fam`, any of them absent.
    /// - Returns: What the store holds for each.
    /// - Throws: ``RevocationError`` when the store could not answer.
    func check(_ query: RevocationQuery) async throws -> RevocationStatus
}

/// What presenting a refresh token of one generation of a login family did
/// (``RevocationStore/rotateFamily(_:from:ttl:)``).
public enum FamilyRotation: Sendable, Hashable {
    /// The token was of the family's current generation; the family has moved on to this one,
    /// which the new refresh token carries.
    case rotated(to: Int)
    /// The token is of an older generation: it was used already, so someone holds a copy.
    /// Revoke the family.
    case reused
    /// The store holds no state for the family (it ended, or was never started here): the
    /// token cannot be shown to be current, so it is refused.
    case unknown
}

/// The ids of one token to look up in a ``RevocationStore``.
public struct RevocationQuery: Sendable, Hashable {
    /// The `jti` claim.
    public var jti: String?
    /// The `sub` claim, for the logout-everywhere cut-off.
    public var subject: String?
    /// The `fam` claim.
    public var family: String?

    /// Creates a query.
    ///
    /// - Parameters:
    ///   - jti: The `jti` claim, if any.
    ///   - subject: The `sub` claim, if any.
    ///   - family: The `fam` claim, if any.
    public init(jti: String? = nil, subject: String? = nil, family: String? = nil) {
        self.jti = jti
        self.subject = subject
        self.family = family
    }
}

/// What a ``RevocationStore`` holds for one token.
public struct RevocationStatus: Sendable, Hashable {
    /// The `jti` is revoked or consumed.
    public var isRevoked: Bool
    /// The token's family is revoked.
    public var isFamilyRevoked: Bool
    /// The subject's logout-everywhere cut-off (Unix seconds), if any.
    public var subjectCutoff: Double?

    /// Creates a status.
    ///
    /// - Parameters:
    ///   - isRevoked: Whether the `jti` is revoked.
    ///   - isFamilyRevoked: Whether the family is revoked.
    ///   - subjectCutoff: The subject's cut-off, if any.
    public init(isRevoked: Bool = false, isFamilyRevoked: Bool = false, subjectCutoff: Double? = nil) {
        self.isRevoked = isRevoked
        self.isFamilyRevoked = isFamilyRevoked
        self.subjectCutoff = subjectCutoff
    }
}

extension RevocationStore {
    /// The system clock, unless the store has its own.
    public var clock: any CacheClock { SystemCacheClock() }

    /// `false`: a store is assumed to do I/O and is raced against the timeout.
    public var answersInProcess: Bool { false }

    /// `nil`: a store is assumed to have no bound of its own and is raced against the timeout.
    public var checkTimeLimit: Duration? { nil }

    /// Throws ``RevocationError/Code/unsupported``: a store that keeps no rotation state.
    public func startFamily(_ family: String, ttl: Duration) async throws {
        throw RevocationError(.unsupported, "\(Self.self) keeps no refresh-token rotation state for family '\(family)'")
    }

    /// Throws ``RevocationError/Code/unsupported``: a store that keeps no rotation state.
    public func rotateFamily(_ family: String, from generation: Int, ttl: Duration) async throws -> FamilyRotation {
        throw RevocationError(.unsupported, "\(Self.self) keeps no refresh-token rotation state for family '\(family)'")
    }

    /// Asks ``isRevoked(_:)``, ``isFamilyRevoked(_:)`` and ``revokedBefore(subject:)`` in turn.
    ///
    /// - Parameter query: The ids to look up.
    /// - Returns: What the store holds for each.
    /// - Throws: What the lookups throw.
    public func check(_ query: RevocationQuery) async throws -> RevocationStatus {
        var status = RevocationStatus()
        if let jti = query.jti { status.isRevoked = try await isRevoked(jti) }
        if let family = query.family { status.isFamilyRevoked = try await isFamilyRevoked(family) }
        if let subject = query.subject { status.subjectCutoff = try await revokedBefore(subject: subject) }
        return status
    }

    /// Revokes a token until its `exp` plus the verifier's leeway, never less.
    ///
    /// A verifier accepts a token until `exp + leeway`, so an entry that ended at `exp` would
    /// let a revoked token back in for the length of the leeway.
    ///
    /// ```swift
    /// try await store.revoke(user.jti!, expiresAt: user.expiresAt, leeway: .seconds(60))
    /// ```
    ///
    /// - Parameters:
    ///   - jti: The token's `jti` claim.
    ///   - expiresAt: The token's `exp` claim, Unix seconds.
    ///   - leeway: The leeway the verifier applies to `exp`.
    /// - Throws: As ``revoke(_:ttl:)``.
    public func revoke(_ jti: String, expiresAt: Double, leeway: Duration = .seconds(60)) async throws {
        try await revoke(jti, ttl: Self.ttl(until: expiresAt, leeway: leeway, now: clock.now()))
    }

    /// Consumes a token id until its `exp` plus the verifier's leeway (see ``consume(_:ttl:)``).
    ///
    /// - Parameters:
    ///   - jti: The token's `jti` claim.
    ///   - expiresAt: The token's `exp` claim, Unix seconds.
    ///   - leeway: The leeway the verifier applies to `exp`.
    /// - Returns: `true` for the first use only.
    /// - Throws: As ``consume(_:ttl:)``.
    public func consume(_ jti: String, expiresAt: Double, leeway: Duration = .seconds(60)) async throws -> Bool {
        try await consume(jti, ttl: Self.ttl(until: expiresAt, leeway: leeway, now: clock.now()))
    }

    /// Revokes every token of `subject` issued up to now (logout everywhere).
    ///
    /// - Parameters:
    ///   - subject: The `sub` claim.
    ///   - ttl: The longest lifetime of any token plus the leeway.
    /// - Throws: As ``revokeAll(subject:issuedBefore:ttl:)``.
    public func revokeAll(subject: String, ttl: Duration) async throws {
        try await revokeAll(subject: subject, issuedBefore: clock.now(), ttl: ttl)
    }

    /// The ttl that keeps an entry until `expiresAt + leeway`.
    static func ttl(until expiresAt: Double, leeway: Duration, now: Double) -> Duration {
        let seconds = expiresAt + leeway.seconds - now
        guard seconds.isFinite, seconds > 0 else { return .zero }
        return .seconds(min(seconds, 100 * 365 * 86_400))
    }
}
