/// Who a verified token speaks for: the user id and every claim the token carried.
public struct AuthenticatedUser: Sendable, Hashable {
    /// The verified token.
    public let token: Token

    /// Creates the context of a verified token.
    ///
    /// - Parameter token: The token.
    public init(token: Token) { self.token = token }

    /// The user id (`sub`).
    public var userID: String { token.sub }
    /// Every claim, standard ones included.
    public var claims: [String: ClaimValue] { token.claims }
    /// Whether the user is staff (`is_staff`; `false` when absent).
    public var isStaff: Bool { token.isStaff ?? false }
    /// Whether the user is an administrator: `is_admin`, or Django's `is_superuser` that
    /// Django-Bolt's `create_jwt_for_user` writes.
    public var isAdmin: Bool { token.isAdmin ?? false || token.extras["is_superuser"]?.boolValue == true }
    /// The permission names (`permissions`; empty when absent).
    public var permissions: [String] { token.permissions ?? [] }
    /// The token id (`jti`).
    public var jti: String? { token.jti }
    /// The token type (`typ`), `nil` when the token has none.
    public var type: TokenType? { token.type }
    /// The refresh-token family (`fam`).
    public var family: String? { token.family }
    /// The expiry, Unix seconds (`exp`).
    public var expiresAt: Double { token.exp }
    /// When the token was issued, Unix seconds (`iat`).
    public var issuedAt: Double? { token.iat }

    /// Whether the user has a permission.
    ///
    /// - Parameter permission: A permission name.
    /// - Returns: `true` if it is in ``permissions``.
    public func hasPermission(_ permission: String) -> Bool { permissions.contains(permission) }
}
