public import Hummingbird
public import HummingbirdAuth
public import NIOCore
public import TokenAuth

/// The request context of the logout server: Hummingbird's core context, the user an
/// ``AccessTokenAuthenticator`` verified (if any), and the client's address, which login
/// throttling counts attempts by.
public struct LogoutRequestContext: AuthRequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The user the access token speaks for, once authenticated.
    public var identity: AuthenticatedUser?
    /// The peer's address (the TCP peer: forwarding headers are not trusted).
    public let remoteAddress: SocketAddress?

    /// Creates the context of one request.
    ///
    /// - Parameter source: The channel and logger of the request.
    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.identity = nil
        self.remoteAddress = source.channel.remoteAddress
    }
}

/// Verifies the access token in `Authorization: Bearer <JWT>` and puts its user in the
/// request context's `identity`, where the protected routes read it.
///
/// Put it on a route group whose every route needs an access token. A request it cannot
/// authenticate never reaches the route: instead of returning `nil` (which would leave the
/// answer to a later middleware), it throws an ``APIError`` that names the reason, so the
/// client sees 401 `missing_header`, `revoked`, `expired` … with `WWW-Authenticate`, or 503
/// `revocation_unavailable` when the revocation store could not answer (fail closed).
public struct AccessTokenAuthenticator<Context: AuthRequestContext<AuthenticatedUser>>: AuthenticatorMiddleware {
    public typealias Identity = AuthenticatedUser

    /// The authentication that accepts access tokens only.
    public let authentication: JWTAuthentication

    /// Creates the middleware.
    ///
    /// - Parameter authentication: Verifies tokens and consults the revocation store; it should
    ///   expect access tokens (`expectedType: .access`).
    public init(_ authentication: JWTAuthentication) {
        self.authentication = authentication
    }

    /// Authenticates the request's `Authorization` header.
    ///
    /// - Returns: The user the access token speaks for; never `nil`.
    /// - Throws: ``APIError``: 401 for a missing, malformed, expired, revoked or wrong-type
    ///   token; 503 when the revocation store could not answer.
    public func authenticate(request: Request, context: Context) async throws -> AuthenticatedUser? {
        do {
            return try await authentication.authenticate(authorization: Self.authorization(in: request.headers))
        } catch {
            throw APIError(error)
        }
    }

    /// The value of the `Authorization` header, or `nil` without one.
    ///
    /// `HTTPFields`' subscript joins every value of a name with ", " into a new string, a copy
    /// of the token on every request; a request has one such header, whose value is taken as
    /// it is. Two or more are still joined, as the subscript does (and then refused: the
    /// joined value is not one bearer token).
    static func authorization(in headers: HTTPFields) -> String? {
        var found: String?
        for field in headers where field.name == .authorization {
            guard found == nil else { return headers[.authorization] }
            found = field.value
        }
        return found
    }
}
