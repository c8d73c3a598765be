import Caching
public import Hummingbird
public import HummingbirdAuth
public import TokenAuth
import TokenRevocation

/// The JSON body of `POST /auth/login`.
struct LoginRequest: Decodable, Sendable {
    var username: String
    var password: String
}

/// The JSON body of `POST /auth/refresh`.
struct RefreshRequest: Decodable, Sendable {
    var refreshToken: String
    enum CodingKeys: String, CodingKey { case refreshToken = "refresh_token" }
}

/// The body of `GET /profile`.
struct ProfileResponse: JSONResponse {
    var userID: String
    var isStaff: Bool
    var isAdmin: Bool
    var permissions: [String]

    func write(to object: inout JSONObjectWriter) {
        object.member("is_admin", isAdmin)
        object.member("is_staff", isStaff)
        object.member("permissions", permissions)
        object.member("user_id", userID)
    }
}

/// Adds the API's routes to a router.
///
/// | route | auth | answers |
/// | --- | --- | --- |
/// | `POST /auth/login` `{username, password}` | — | 200 token pair; 400 malformed or a password with a NUL (`invalid_password`); 401 wrong credentials; 429 too many attempts (`Retry-After`) |
/// | `GET /profile` | access token | 200 `{user_id, is_staff, is_admin, permissions}` |
/// | `POST /auth/logout` | access token | 200; the token and its login (the refresh token too) are revoked |
/// | `POST /auth/refresh` `{refresh_token}` | refresh token in the body | 200 new pair (rotation); 401 reused, revoked or ended |
/// | `POST /auth/logout-all` | access token | 200; every token of the user issued until now is revoked |
/// | `GET /health` | — | 200 `{status, revocation}` |
///
/// The routes that need an access token form one group behind an ``AccessTokenAuthenticator``
/// and read the user from `context.identity`. A refused token answers 401 with
/// `WWW-Authenticate`; a revocation store that cannot answer gives 503 (fail closed); bad input
/// never gives a 500. Error bodies are `{"error": code, "detail": message, "request_id": id}`,
/// codes in snake_case, messages generic; the cause is logged with the same request id
/// (``APIError``, ``APIErrorMiddleware``).
///
/// - Parameters:
///   - router: The router, over a context that can hold the authenticated user.
///   - auth: Issues, checks and revokes the tokens.
public func addRoutes<Context: AuthRequestContext<AuthenticatedUser> & RemoteAddressRequestContext>(
    to router: Router<Context>, auth: AuthService
) {
    router.add(middleware: APIErrorMiddleware())

    router.get("/health") { _, _ in
        JSONBody.response(.ok) { object in
            object.member("revocation", auth.revocationDescription)
            object.member("status", "ok")
        }
    }

    router.post("/auth/login") { request, context in
        let body = try await JSONBody.decode(LoginRequest.self, from: request)
        // bcrypt stops at the first NUL: "wonderland\0anything" would pass for "wonderland".
        // Refused for every username alike, before any counting or hashing.
        guard !body.password.utf8.contains(0) else {
            throw APIError(.badRequest, "invalid_password", "A password may not contain a NUL character")
        }
        let client = context.remoteAddress?.ipAddress ?? "unknown"
        let wait: Int?
        do {
            wait = try await auth.throttle.attempt(username: body.username, client: client)
        } catch {
            throw APIError(
                .serviceUnavailable, "throttle_unavailable", "Login attempts cannot be counted now", headers: [.retryAfter: "1"],
                underlying: error)
        }
        if let wait {
            throw APIError(
                .tooManyRequests, "too_many_attempts", "Too many login attempts for this user or from this client; try again later",
                headers: [.retryAfter: "\(wait)"])
        }
        let verified: DemoUser?
        do {
            verified = try await auth.users.verify(username: body.username, password: body.password)
        } catch {
            // The password-hashing threads have a full queue (a login flood): refuse at once.
            throw APIError(
                .serviceUnavailable, "login_busy", "Too many logins are being checked; try again in a moment",
                headers: [.retryAfter: "1"])
        }
        guard let user = verified else {
            throw APIError(.unauthorized, "invalid_credentials", "Unknown username or wrong password")
        }
        return JSONBody.response(.ok, try await auth.startLogin(for: user))
    }

    router.post("/auth/refresh") { request, _ in
        let body = try await JSONBody.decode(RefreshRequest.self, from: request)
        let presented: AuthenticatedUser
        do {
            presented = try await auth.refreshAuthentication.authenticate(token: body.refreshToken)
        } catch let error as AuthenticationError {
            throw APIError(error)
        }
        guard let record = auth.userRecord(forID: presented.userID) else {
            throw APIError(.unauthorized, "unknown_user", "The refresh token's user no longer exists")
        }
        return JSONBody.response(.ok, try await auth.refresh(presented, for: record))
    }

    let protected = router.group().add(middleware: AccessTokenAuthenticator(auth.accessAuthentication))

    protected.get("/profile") { _, context in
        let user = try context.requireIdentity()
        return JSONBody.response(
            .ok,
            ProfileResponse(userID: user.userID, isStaff: user.isStaff, isAdmin: user.isAdmin, permissions: user.permissions))
    }

    protected.post("/auth/logout") { _, context in
        let user = try context.requireIdentity()
        guard auth.store != nil else {
            throw APIError(
                .notImplemented, "revocation_disabled",
                "This server runs without revocation (--revocation none), so a token cannot be revoked")
        }
        do {
            try await auth.logout(user)
        } catch {
            throw APIError.revocationFailed(error)
        }
        return JSONBody.response(.ok) { object in object.member("detail", "Logged out: the token and its login are revoked") }
    }

    protected.post("/auth/logout-all") { _, context in
        let user = try context.requireIdentity()
        guard auth.store != nil else {
            throw APIError(
                .notImplemented, "revocation_disabled",
                "This server runs without revocation (--revocation none), so tokens cannot be revoked")
        }
        do {
            try await auth.accessAuthentication.logoutEverywhere(subject: user.userID, maxTokenLifetime: auth.configuration.refreshLifetime)
        } catch {
            throw APIError.revocationFailed(error)
        }
        return JSONBody.response(.ok) { object in
            object.member("detail", "Logged out everywhere: every token issued until now is revoked")
        }
    }
}
