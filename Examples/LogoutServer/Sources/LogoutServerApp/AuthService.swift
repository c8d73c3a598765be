public import Caching
import Hummingbird
public import Logging
public import TokenAuth
public import TokenRevocation

/// Issues, checks and revokes tokens for the HTTP routes.
public struct AuthService: Sendable {
    public let configuration: ServerConfiguration
    public let users: UserDirectory
    /// The revocation store, or `nil` for the `none` strategy.
    public let store: (any RevocationStore)?
    /// Accepts access tokens only.
    public let accessAuthentication: JWTAuthentication
    /// Accepts refresh tokens only.
    public let refreshAuthentication: JWTAuthentication
    /// What backs revocation, for logs and `/health`.
    public let revocationDescription: String
    /// The wall clock tokens are issued and checked by.
    public let clock: any CacheClock
    /// Counts login attempts per username and per client.
    public let throttle: LoginThrottle
    /// Whether a secret shorter than HS256 needs is accepted (development mode only), with a warning.
    let allowingShortKeys: Bool
    private let logger: Logger

    /// Creates the service.
    ///
    /// - Parameters:
    ///   - configuration: Secret, lifetimes, leeway and revocation timeout.
    ///   - users: Who can log in.
    ///   - store: The revocation store, or `nil` for the `none` strategy.
    ///   - revocationDescription: What backs revocation, for logs and `/health`.
    ///   - logger: Where fail-open warnings go.
    ///   - throttle: Counts login attempts.
    ///   - clock: The wall clock for `iat`, `exp` and their checks; the system clock unless a
    ///     test moves time by hand.
    ///   - observability: Where token authentications and revocation checks report; off by default.
    /// - Throws: `TokenError` for an empty secret, or one shorter than 32 bytes outside
    ///   development mode (development accepts it, with a warning).
    public init(
        configuration: ServerConfiguration, users: UserDirectory, store: (any RevocationStore)?,
        revocationDescription: String, throttle: LoginThrottle, logger: Logger, clock: any CacheClock = SystemCacheClock(),
        observability: CacheObservability = .off
    ) throws {
        self.throttle = throttle
        self.configuration = configuration
        self.users = users
        self.store = store
        self.revocationDescription = revocationDescription
        self.clock = clock
        self.logger = logger
        allowingShortKeys = configuration.mode == .development
        let timeout = Duration.milliseconds(configuration.revocationTimeoutMilliseconds)
        accessAuthentication = try JWTAuthentication(
            secret: configuration.signingSecret, allowingShortKeys: allowingShortKeys, revocationStore: store,
            leeway: configuration.leeway, expectedType: .access, requireTokenType: true, revocationTimeout: timeout,
            logger: logger, clock: clock
        ).observed(by: observability)
        refreshAuthentication = try JWTAuthentication(
            secret: configuration.signingSecret, allowingShortKeys: allowingShortKeys, revocationStore: store,
            leeway: configuration.leeway, expectedType: .refresh, requireTokenType: true, revocationTimeout: timeout,
            logger: logger, clock: clock
        ).observed(by: observability)
    }

    /// The claim a refresh token carries its family generation in.
    static let generationClaim = "gen"

    /// How long a login family's state and revocation live: a refresh token's lifetime plus the leeway.
    var familyLifetime: Duration { configuration.refreshLifetime + configuration.leeway }

    /// A fresh access/refresh pair for a user, both in one token family; the refresh token
    /// carries the family's generation, which the next refresh must present.
    func issuePair(for user: DemoUser, family: String, generation: Int) throws -> TokenPairResponse {
        let access = try Token.create(
            sub: user.userID, expiresIn: configuration.accessLifetime, isStaff: user.isStaff, isAdmin: user.isAdmin,
            permissions: user.permissions, type: .access, family: family, clock: clock)
        let refresh = try Token.create(
            sub: user.userID, expiresIn: configuration.refreshLifetime, isStaff: user.isStaff, isAdmin: user.isAdmin,
            permissions: user.permissions, extras: [Self.generationClaim: .integer(generation)], type: .refresh,
            family: family, clock: clock)
        let secret = configuration.signingSecret
        return TokenPairResponse(
            accessToken: try access.encode(secret: secret, allowingShortKeys: allowingShortKeys, logger: logger),
            refreshToken: try refresh.encode(secret: secret, allowingShortKeys: allowingShortKeys, logger: logger),
            expiresIn: Int(configuration.accessLifetime.components.seconds),
            refreshExpiresIn: Int(configuration.refreshLifetime.components.seconds))
    }

    /// Starts a login: a new family, its rotation state in the store, and the first pair.
    func startLogin(for user: DemoUser) async throws -> TokenPairResponse {
        let family = Token.randomID()
        if let store {
            do {
                try await store.startFamily(family, ttl: familyLifetime)
            } catch {
                throw APIError.revocationFailed(error)
            }
        }
        return try issuePair(for: user, family: family, generation: 0)
    }

    /// Rotates a verified refresh token: the family moves one generation and a new pair is
    /// issued; a refresh token of an older generation (a copy of a used one) revokes the login.
    func refresh(_ presented: AuthenticatedUser, for user: DemoUser) async throws -> TokenPairResponse {
        guard let store else {
            return try issuePair(for: user, family: presented.family ?? Token.randomID(), generation: 0)
        }
        guard let family = presented.family, case .integer(let generation)? = presented.token.extras[Self.generationClaim] else {
            throw APIError(
                .unauthorized, "invalid_refresh_token", "The refresh token carries no login family ('fam') or generation ('gen')",
                headers: [.wwwAuthenticate: #"Bearer error="invalid_token""#])
        }
        let outcome: FamilyRotation
        do {
            outcome = try await store.rotateFamily(family, from: generation, ttl: familyLifetime)
        } catch {
            throw APIError.revocationFailed(error)
        }
        switch outcome {
        case .rotated(let next):
            return try issuePair(for: user, family: family, generation: next)
        case .reused:
            // Someone holds a copy of a refresh token that was already used: end the whole login.
            do {
                try await store.revokeFamily(family, ttl: familyLifetime)
            } catch {
                throw APIError.revocationFailed(error)
            }
            throw APIError.refreshTokenReused
        case .unknown:
            throw APIError(
                .unauthorized, "login_ended", "This login has ended (it expired or the server lost its state); log in again",
                headers: [.wwwAuthenticate: #"Bearer error="invalid_token""#])
        }
    }

    /// Ends the login an access token belongs to: the token itself and its family, so the
    /// login's refresh token stops working too.
    func logout(_ user: AuthenticatedUser) async throws {
        try await accessAuthentication.logout(user)
        if let store, let family = user.family {
            try await store.revokeFamily(family, ttl: familyLifetime)
        }
    }

    func userRecord(forID id: String) -> DemoUser? {
        users.users.values.first { $0.userID == id }
    }
}

/// The body of a successful login or refresh.
struct TokenPairResponse: JSONResponse {
    var accessToken: String
    var refreshToken: String
    var tokenType = "Bearer"
    var expiresIn: Int
    var refreshExpiresIn: Int

    func write(to object: inout JSONObjectWriter) {
        object.member("access_token", accessToken)
        object.member("expires_in", expiresIn)
        object.member("refresh_expires_in", refreshExpiresIn)
        object.member("refresh_token", refreshToken)
        object.member("token_type", tokenType)
    }
}

extension APIError {
    /// The answer for a refused token: 401 with `WWW-Authenticate`, or 503 when the
    /// revocation store could not answer (fail closed). The body says which code, in a generic
    /// sentence; the library's message (times, ids, the store's error) goes to the log.
    init(_ error: AuthenticationError) {
        if error.code == .revocationUnavailable {
            self.init(.serviceUnavailable, error.code.apiCode, error.code.apiDetail, headers: [.retryAfter: "1"], underlying: error)
        } else {
            self.init(
                .unauthorized, error.code.apiCode, error.code.apiDetail, headers: [.wwwAuthenticate: error.wwwAuthenticate],
                underlying: error)
        }
    }

    /// The answer when a rotated refresh token is presented again.
    static let refreshTokenReused = APIError(
        .unauthorized, "refresh_token_reused",
        "This refresh token was already used; every token of its login is now revoked",
        headers: [.wwwAuthenticate: #"Bearer error="invalid_token""#])

    /// The answer when a revocation could not be stored: 503, because the logout did not happen.
    /// The store's error (which names servers and keys) is logged, never sent.
    static func revocationFailed(_ error: any Error) -> APIError {
        APIError(
            .serviceUnavailable, "revocation_unavailable", "The revocation could not be stored, so nothing was revoked; try again",
            headers: [.retryAfter: "1"], underlying: error)
    }
}

extension AuthenticationError.Code {
    /// The code in a JSON error body: snake_case, like every other code this API answers with
    /// (the library's `description` is the Swift name, `wrongTokenType`).
    var apiCode: String {
        switch self {
        case .missingHeader: "missing_header"
        case .notBearer: "not_bearer"
        case .malformed: "malformed"
        case .badSignature: "bad_signature"
        case .algorithmNotAllowed: "algorithm_not_allowed"
        case .expired: "expired"
        case .notYetValid: "not_yet_valid"
        case .missingJTI: "missing_jti"
        case .revoked: "revoked"
        case .revokedByLogoutEverywhere: "revoked_by_logout_everywhere"
        case .wrongTokenType: "wrong_token_type"
        case .revocationUnavailable: "revocation_unavailable"
        default: "invalid_token"
        }
    }

    /// The sentence in a JSON error body: what kind of refusal, nothing of the token's contents
    /// or the store's error.
    var apiDetail: String {
        switch self {
        case .missingHeader: "No Authorization header"
        case .notBearer: "The Authorization header is not 'Bearer <token>'"
        case .malformed: "The token is malformed"
        case .badSignature: "The token's signature does not match"
        case .algorithmNotAllowed: "The token's algorithm is not accepted"
        case .expired: "The token has expired"
        case .notYetValid: "The token is not valid yet"
        case .missingJTI: "The token has no id (jti), which this server requires"
        case .revoked: "The token has been revoked"
        case .revokedByLogoutEverywhere: "The token was revoked when its user logged out everywhere"
        case .wrongTokenType: "The token is of the wrong type for this endpoint"
        case .revocationUnavailable: "The token could not be checked now (fail closed); try again"
        default: "The token is not valid"
        }
    }
}
