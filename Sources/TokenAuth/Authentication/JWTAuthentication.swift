public import Caching
public import Logging
public import TokenRevocation

/// Verifies `Authorization: Bearer <JWT>` and consults a revocation store: Django-Bolt's
/// `JWTAuthentication`, failing closed.
///
/// ```swift
/// let revocation = InMemoryRevocation()
/// let auth = try JWTAuthentication(secret: secret, revocationStore: revocation)
///
/// let user = try await auth.authenticate(authorization: request.headers["Authorization"])
/// // logout:
/// try await auth.logout(user)
/// // logout everywhere:
/// try await auth.logoutEverywhere(subject: user.userID, maxTokenLifetime: .seconds(7 * 86_400))
/// ```
///
/// Each request is checked in this order, each failure with its own
/// ``AuthenticationError/Code``: header present and `Bearer`; token well formed (strict
/// base64url and JSON, at most `maxTokenLength` bytes); `alg` among `algorithms` (`none`
/// never; the key is always `secret`, never chosen by `kid`); signature; `exp`, `nbf` and
/// `iat` with `leeway` (applied here, not by a library); the `typ` claim; `jti` when required;
/// then revocation: the `jti`, the token's family (`fam`), and the subject's
/// logout-everywhere cut-off compared with `iat`.
///
/// **Fail closed.** If the store throws, or takes longer than `revocationTimeout`, the token
/// is refused with ``AuthenticationError/Code/revocationUnavailable`` (HTTP 503): an
/// unanswered question about a token is never read as "not revoked". `failOpen: true`
/// accepts such tokens instead, logging a warning each time; choose it only when
/// availability matters more than logout. A store whose backend bounds its own answers within
/// `revocationTimeout` (``/TokenRevocation/RevocationStore/checkTimeLimit``: memcached or Redis with
/// `OPTIONS["read_timeout"]`) is called without a timeout task: it throws in time itself.
///
/// **Token types.** By default an access token is expected: a token whose `typ` is anything
/// else (a refresh token) is refused with ``AuthenticationError/Code/wrongTokenType``. A token
/// without `typ` counts as an access token (as Django-Bolt treats it) unless
/// `requireTokenType` is set. For a refresh endpoint use `expectedType: .refresh`.
///
/// **Secrets.** The secret must be at least as long as the hash output of every algorithm
/// accepted (``JWTAlgorithm/minimumKeyLength``: 32 bytes for HS256, 48 for HS384, 64 for
/// HS512), as RFC 7518 §3.2 requires; a shorter one is refused with
/// ``TokenError/Code/secretTooShort``. `allowingShortKeys: true` accepts it, for interop with a
/// service that already uses it, and logs one warning.
public struct JWTAuthentication: Sendable {
    private let key: PreparedHMACKey
    /// The algorithms a token may name in its `alg` header.
    public let algorithms: [JWTAlgorithm]
    /// The store consulted for every token, if any.
    public let revocationStore: (any RevocationStore)?
    private let stores: [any RevocationStore]
    /// The only store, when it is an ``/TokenRevocation/InMemoryRevocation``: asked synchronously.
    private let inMemoryStore: InMemoryRevocation?
    /// Whether a token must carry a `jti` (on whenever a store or handler is configured).
    public let requireJTI: Bool
    /// Clock-skew tolerance for `exp`, `nbf` and `iat`.
    public let leeway: Duration
    private let leewaySeconds: Double
    /// The token type accepted.
    public let expectedType: TokenType
    /// Whether a token without a `typ` claim is refused.
    public let requireTokenType: Bool
    /// How long a store may take to answer before the token is refused (or, failing open, accepted).
    public let revocationTimeout: Duration
    /// Whether a token is accepted when the store cannot answer.
    public let failOpen: Bool
    /// The longest token accepted, in bytes.
    public let maxTokenLength: Int
    private let logger: Logger
    private let clock: any CacheClock
    /// Metrics and spans, set by ``observed(by:)``; `nil` (nothing reported) by default.
    var instruments: AuthenticationInstruments?

    /// Creates an authenticator.
    ///
    /// - Parameters:
    ///   - secret: The shared HMAC secret (UTF-8 bytes, as PyJWT and Django-Bolt take it), at
    ///     least ``JWTAlgorithm/minimumKeyLength`` bytes for each of `algorithms`.
    ///   - algorithms: The accepted algorithms; HS256 only by default.
    ///   - allowingShortKeys: Accept a secret shorter than an accepted algorithm needs, logging
    ///     a warning (off by default: such a secret throws).
    ///   - revocationStore: Consulted for every token; turns `requireJTI` on.
    ///   - revokedTokenHandler: A closure answering whether a `jti` is revoked, consulted after
    ///     the store; turns `requireJTI` on.
    ///   - requireJTI: Refuse tokens without `jti` even with no store.
    ///   - leeway: Clock-skew tolerance (60 s by default, as Django-Bolt).
    ///   - expectedType: The token type accepted (`.access` by default).
    ///   - requireTokenType: Refuse tokens without a `typ` claim.
    ///   - revocationTimeout: The longest a store may take (1 s by default).
    ///   - failOpen: Accept tokens the store could not check, with a warning (off by default).
    ///   - maxTokenLength: The longest token accepted (8 KiB by default).
    ///   - logger: Where fail-open and short-secret warnings go.
    ///   - clock: The wall clock for `exp`, `nbf` and `iat`.
    /// - Throws: ``TokenError``: ``TokenError/Code/secretTooShort`` for a secret shorter than an
    ///   accepted algorithm needs; otherwise an empty secret, no algorithms, or a negative leeway
    ///   or timeout.
    public init(
        secret: String, algorithms: [JWTAlgorithm] = [.hs256], allowingShortKeys: Bool = false,
        revocationStore: (any RevocationStore)? = nil,
        revokedTokenHandler: HandlerRevocation.TokenHandler? = nil, requireJTI: Bool = false,
        leeway: Duration = .seconds(60), expectedType: TokenType = .access, requireTokenType: Bool = false,
        revocationTimeout: Duration = .seconds(1), failOpen: Bool = false, maxTokenLength: Int = 8192,
        logger: Logger = Logger(label: "swift-caching.TokenAuth"), clock: any CacheClock = SystemCacheClock()
    ) throws(TokenError) {
        guard !secret.isEmpty else { throw TokenError(.invalidSecret, "JWTAuthentication needs a non-empty secret") }
        guard !algorithms.isEmpty else {
            throw TokenError(.invalidConfiguration, "JWTAuthentication needs at least one algorithm")
        }
        guard leeway >= .zero else { throw TokenError(.invalidConfiguration, "leeway must be zero or more") }
        guard revocationTimeout > .zero else {
            throw TokenError(.invalidConfiguration, "revocationTimeout must be more than zero")
        }
        let bytes = Array(secret.utf8)
        try HMACKeyPolicy.check(
            bytes, algorithms: algorithms, allowingShortKeys: allowingShortKeys, user: "JWTAuthentication", logger: logger)
        self.key = PreparedHMACKey(bytes, algorithms: algorithms)
        self.algorithms = algorithms
        self.revocationStore = revocationStore
        var stores: [any RevocationStore] = []
        if let revocationStore { stores.append(revocationStore) }
        if let revokedTokenHandler { stores.append(HandlerRevocation(isRevoked: revokedTokenHandler)) }
        self.stores = stores
        self.inMemoryStore = revokedTokenHandler == nil ? revocationStore as? InMemoryRevocation : nil
        self.requireJTI = requireJTI || !stores.isEmpty
        self.leeway = leeway
        self.leewaySeconds = leeway.seconds
        self.expectedType = expectedType
        self.requireTokenType = requireTokenType
        self.revocationTimeout = revocationTimeout
        self.failOpen = failOpen
        self.maxTokenLength = maxTokenLength
        self.logger = logger
        self.clock = clock
    }

    /// Authenticates the value of an `Authorization` header.
    ///
    /// - Parameter authorization: The header value (`Bearer <token>`; the scheme is
    ///   case-insensitive, followed by exactly one space), or `nil` when there is none.
    /// - Returns: The user the token speaks for.
    /// - Throws: ``AuthenticationError`` with the reason.
    public func authenticate(authorization: String?) async throws(AuthenticationError) -> AuthenticatedUser {
        guard let instruments else { return try await verify(authorization: authorization) }
        return try await instruments.authenticate { () async throws(AuthenticationError) in
            try await verify(authorization: authorization)
        }
    }

    private func verify(authorization: String?) async throws(AuthenticationError) -> AuthenticatedUser {
        guard var authorization, !authorization.isEmpty else {
            throw AuthenticationError(.missingHeader, "No Authorization header")
        }
        // The token is read in place, in the header's own bytes: no copy of it is made.
        let decoded = try authorization.withUTF8 { utf8 in
            Result { () throws(AuthenticationError) -> Token in
                let scheme = "bearer".utf8
                guard utf8.count > scheme.count + 1,
                    zip(utf8.prefix(scheme.count), scheme).allSatisfy({ $0 | 0x20 == $1 }),
                    utf8[scheme.count] == 0x20
                else {
                    throw AuthenticationError(.notBearer, "The Authorization header is not 'Bearer <token>'")
                }
                return try decode(UnsafeBufferPointer(rebasing: utf8[(scheme.count + 1)...]))
            }
        }.get()
        return try await accept(decoded)
    }

    /// Authenticates a bare token (from a cookie, say).
    ///
    /// - Parameter token: The compact JWT.
    /// - Returns: The user the token speaks for.
    /// - Throws: ``AuthenticationError`` with the reason.
    public func authenticate(token: String) async throws(AuthenticationError) -> AuthenticatedUser {
        guard let instruments else { return try await verify(token: token) }
        return try await instruments.authenticate { () async throws(AuthenticationError) in try await verify(token: token) }
    }

    private func verify(token: String) async throws(AuthenticationError) -> AuthenticatedUser {
        var token = token
        let decoded = try token.withUTF8 { utf8 in
            Result { () throws(AuthenticationError) -> Token in try decode(utf8) }
        }.get()
        return try await accept(decoded)
    }

    /// Verifies a compact JWT and reads its claims: everything but revocation, which needs no I/O.
    private func decode(_ token: UnsafeBufferPointer<UInt8>) throws(AuthenticationError) -> Token {
        let claims = try CompactJWS.verify(token, key: key, algorithms: algorithms, maxLength: maxTokenLength)
        let decoded = try Token(verifiedClaims: claims)
        try decoded.checkTimes(now: clock.now(), leeway: leewaySeconds)
        try checkType(decoded)
        if requireJTI, decoded.jti == nil || decoded.jti?.isEmpty == true {
            throw AuthenticationError(.missingJTI, "The token has no 'jti', so it could not be revoked; one is required")
        }
        return decoded
    }

    /// Consults the revocation stores about a verified token, and accepts it if none refuses it.
    private func accept(_ decoded: Token) async throws(AuthenticationError) -> AuthenticatedUser {
        if let inMemoryStore {
            // The only store answers from this process's memory: asked synchronously, with no
            // async call and no loop over stores on the request path.
            let query = RevocationQuery(jti: decoded.jti, subject: decoded.sub, family: decoded.family)
            let started = instruments?.storeDuration == nil ? nil : ContinuousClock.now
            defer { if let started { instruments?.recordStoreCheck(since: started) } }
            let status: RevocationStatus
            do {
                status = try inMemoryStore.status(for: query)
            } catch {
                try refuseUnanswered(decoded, error, store: inMemoryStore)
                return AuthenticatedUser(token: decoded)
            }
            try refuseIfRevoked(decoded, status)
        } else if !stores.isEmpty {
            try await checkRevocation(decoded)
        }
        return AuthenticatedUser(token: decoded)
    }

    private func checkType(_ token: Token) throws(AuthenticationError) {
        guard let type = token.type else {
            if requireTokenType || expectedType != .access {
                throw AuthenticationError(
                    .wrongTokenType, "The token has no 'typ' claim; a '\(expectedType.name)' token is required")
            }
            return
        }
        guard type == expectedType else {
            throw AuthenticationError(
                .wrongTokenType, "A '\(type.name.prefix(32))' token was presented where a '\(expectedType.name)' token is required")
        }
    }

    private func checkRevocation(_ token: Token) async throws(AuthenticationError) {
        let query = RevocationQuery(jti: token.jti, subject: token.sub, family: token.family)
        for store in stores {
            let status: RevocationStatus
            let started = instruments?.storeDuration == nil ? nil : ContinuousClock.now
            defer { if let started { instruments?.recordStoreCheck(since: started) } }
            do {
                if store.answersInProcess || store.checkTimeLimit.map({ $0 <= revocationTimeout }) == true {
                    // The store cannot hang, or bounds its own answer within the timeout (and
                    // throws past it): no timeout task is needed to fail closed in time.
                    status = try await store.check(query)
                } else {
                    status = try await withDeadline(revocationTimeout) { try await store.check(query) }
                }
            } catch {
                try refuseUnanswered(token, error, store: store)
                continue
            }
            try refuseIfRevoked(token, status)
        }
    }

    /// Decides about a token a store could not answer for: malformed when its ids cannot be
    /// looked up; otherwise refused (fail closed), or accepted with a warning when `failOpen`.
    private func refuseUnanswered(_ token: Token, _ error: any Error, store: any RevocationStore) throws(AuthenticationError) {
        if let error = error as? RevocationError, error.code == .invalidIdentifier {
            throw AuthenticationError(
                .malformed, "Malformed token: its ids cannot be looked up for revocation: \(error.message)",
                underlying: error)
        }
        let timedOut = error is DeadlineExceeded
        let reason = timedOut ? "did not answer within \(revocationTimeout)" : "failed: \(error)"
        if failOpen {
            instruments?.count(.failedOpen)
            logger.warning(
                "Revocation store \(reason); accepting the token because failOpen is set",
                metadata: ["token.jti": "\(token.jti ?? "")", "token.sub": "\(token.sub)"])
            return
        }
        instruments?.count(timedOut ? .timedOut : .unavailable)
        // Once per refusal, here only: the caller gets the error, the operator the context.
        logger.error(
            "Revocation store \(reason); the token is refused (fail closed)",
            metadata: [
                "revocation.store": "\(type(of: store))", "revocation.outcome": "\(timedOut ? "timed_out" : "unavailable")",
                "token.jti": "\(token.jti ?? "")",
            ])
        throw AuthenticationError(
            .revocationUnavailable,
            "The revocation store \(reason); the token is refused because it could not be checked",
            underlying: error)
    }

    /// Refuses a token a store's answer shows revoked: its `jti`, its family, or its subject's
    /// logout-everywhere cut-off at or after its `iat` (or no `iat` at all).
    private func refuseIfRevoked(_ token: Token, _ status: RevocationStatus) throws(AuthenticationError) {
        if let instruments {
            let revokedByCutoff = status.subjectCutoff.map { cutoff in token.iat.map { $0 <= cutoff } ?? true } ?? false
            instruments.count(status.isRevoked || status.isFamilyRevoked || revokedByCutoff ? .revoked : .clear)
        }
        if status.isRevoked {
            throw AuthenticationError(.revoked, "The token's jti is revoked or already used")
        }
        if status.isFamilyRevoked {
            throw AuthenticationError(.revoked, "The token's family (fam) is revoked")
        }
        if let cutoff = status.subjectCutoff {
            guard let iat = token.iat else {
                throw AuthenticationError(
                    .revokedByLogoutEverywhere,
                    "The subject logged out everywhere and the token has no 'iat' to show it is newer")
            }
            if iat <= cutoff {
                throw AuthenticationError(
                    .revokedByLogoutEverywhere,
                    "The subject logged out everywhere at \(Token.text(cutoff)); the token was issued at \(Token.text(iat))")
            }
        }
    }

    // MARK: Logout

    /// Revokes the user's token until its `exp` plus this authenticator's leeway (logout).
    ///
    /// - Parameter user: An authenticated user.
    /// - Throws: ``/TokenRevocation/RevocationError`` when the revocation could not be stored (the logout did
    ///   not happen), or ``/TokenRevocation/RevocationError/Code/unsupported`` with no store or no `jti`.
    public func logout(_ user: AuthenticatedUser) async throws {
        guard let store = revocationStore else {
            throw RevocationError(.unsupported, "JWTAuthentication has no revocationStore to record the logout in")
        }
        guard let jti = user.jti else {
            throw RevocationError(.invalidIdentifier, "The token has no 'jti', so it cannot be revoked")
        }
        try await store.revoke(jti, expiresAt: user.expiresAt, leeway: leeway)
    }

    /// Revokes every token of a subject issued up to now (logout everywhere).
    ///
    /// - Parameters:
    ///   - subject: The user id (`sub`).
    ///   - maxTokenLifetime: The longest lifetime of any token you issue (the refresh-token
    ///     lifetime); the cut-off is kept that long plus the leeway.
    /// - Throws: ``/TokenRevocation/RevocationError`` when it could not be stored.
    public func logoutEverywhere(subject: String, maxTokenLifetime: Duration) async throws {
        guard let store = revocationStore else {
            throw RevocationError(.unsupported, "JWTAuthentication has no revocationStore to record the logout in")
        }
        try await store.revokeAll(subject: subject, issuedBefore: store.clock.now(), ttl: maxTokenLifetime + leeway)
    }
}
