/// Why a token was refused: one code per reason, a message, and the HTTP status to answer.
///
/// Every code but ``Code/revocationUnavailable`` means the credentials are bad (401);
/// ``Code/revocationUnavailable`` means the server could not check them (503), so a client
/// may retry and an operator is alerted, instead of the user being logged out.
///
/// ```swift
/// do {
///     let user = try await auth.authenticate(authorization: request.headers[.authorization])
/// } catch {
///     return Response(status: error.httpStatus, headers: ["WWW-Authenticate": error.wwwAuthenticate])
/// }
/// ```
public struct AuthenticationError: Error, Sendable, CustomStringConvertible {
    /// The reason a token was refused.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case missingHeader
            case notBearer
            case malformed
            case badSignature
            case algorithmNotAllowed
            case expired
            case notYetValid
            case missingJTI
            case revoked
            case revokedByLogoutEverywhere
            case wrongTokenType
            case revocationUnavailable
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// No `Authorization` header (or an empty one).
        public static let missingHeader = Code(.missingHeader)
        /// The header is not `Bearer <token>`.
        public static let notBearer = Code(.notBearer)
        /// The token is not a well-formed JWS/JWT: segments, base64url, JSON, claim types,
        /// a `crit` header, a missing `sub` or `exp`, or a `jti`/`sub` the store cannot hold.
        public static let malformed = Code(.malformed)
        /// The signature does not match.
        public static let badSignature = Code(.badSignature)
        /// The header's `alg` is not one of the allowed algorithms (`none` never is).
        public static let algorithmNotAllowed = Code(.algorithmNotAllowed)
        /// `exp` plus the leeway has passed.
        public static let expired = Code(.expired)
        /// `nbf` (or `iat`) is later than now plus the leeway.
        public static let notYetValid = Code(.notYetValid)
        /// The token has no `jti`, and one is required (always, when a revocation store is configured).
        public static let missingJTI = Code(.missingJTI)
        /// The `jti` (or the token's family) is revoked or already used.
        public static let revoked = Code(.revoked)
        /// The subject logged out everywhere after this token was issued.
        public static let revokedByLogoutEverywhere = Code(.revokedByLogoutEverywhere)
        /// A refresh token where an access token is expected, or the other way round.
        public static let wrongTokenType = Code(.wrongTokenType)
        /// The revocation store failed or did not answer in time: the token could not be checked.
        public static let revocationUnavailable = Code(.revocationUnavailable)

        public var description: String { base.rawValue }
    }

    /// The reason.
    public let code: Code
    /// What was wrong, for logs; do not send it to the client.
    public let message: String
    /// The error behind this one (a revocation store's error), if any.
    public let underlying: (any Error & Sendable)?

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: The reason.
    ///   - message: What was wrong.
    ///   - underlying: The cause, if any.
    public init(_ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// The HTTP status to answer: 503 for ``Code/revocationUnavailable``, 401 otherwise.
    public var httpStatus: Int { code == .revocationUnavailable ? 503 : 401 }

    /// A `WWW-Authenticate` value for a 401 (RFC 6750): `Bearer` alone when no credentials
    /// were sent, `Bearer error="invalid_token"` otherwise.
    public var wwwAuthenticate: String {
        switch code {
        case .missingHeader, .notBearer: "Bearer"
        default: "Bearer error=\"invalid_token\""
        }
    }

    public var description: String {
        var text = "AuthenticationError.\(code): \(message)"
        if let underlying { text += " (underlying: \(underlying))" }
        return text
    }
}
