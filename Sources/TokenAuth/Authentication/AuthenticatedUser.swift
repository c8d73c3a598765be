/// Who a verified token speaks for: the user id and every claim the token carried.
public struct AuthenticatedUser: Sendable, Hashable {
    /// The token, boxed: a request context holds the user and is copied several times per
    /// request (through each middleware), and a reference is one retain where a `Token`'s
    /// fields are about ten.
    private final class Storage: Sendable {
        let token: Token
        init(_ token: Token) { self.token = token }
    }

    private let storage: Storage

    /// The verified token.
    public var token: Token { storage.token }

    /// Creates the context of a verified token.
    ///
    /// - Parameter token: The token.
    public init(token: Token) { self.storage = Storage(token) }

    /// Two users are equal when their tokens are.
    public static func == (lhs: AuthenticatedUser, rhs: AuthenticatedUser) -> Bool {
        lhs.storage === rhs.storage || lhs.storage.token == rhs.storage.token
    }

    /// Hashes the token.
    public func hash(into hasher: inout Hasher) { hasher.combine(storage.token) }

    /// The user id (`sub`).
    public var userID: String { storage.token.sub }
    /// Every claim, standard ones included.
    public var claims: [String: ClaimValue] { storage.token.claims }
    /// Whether the user is staff (`is_staff`; `false` when absent).
    public var isStaff: Bool { storage.token.isStaff ?? false }
    /// Whether the user is an administrator: `is_admin`, or Django's `is_superuser` that
    /// Django-Bolt's `create_jwt_for_user` writes.
    public var isAdmin: Bool { storage.token.isAdmin ?? false || storage.token.extras["is_superuser"]?.boolValue == true }
    /// The permission names (`permissions`; empty when absent).
    public var permissions: [String] { storage.token.permissions ?? [] }
    /// The token id (`jti`).
    public var jti: String? { storage.token.jti }
    /// The token type (`typ`), `nil` when the token has none.
    public var type: TokenType? { storage.token.type }
    /// The refresh-token family (`fam`).
    public var family: String? { storage.token.family }
    /// The expiry, Unix seconds (`exp`).
    public var expiresAt: Double { storage.token.exp }
    /// When the token was issued, Unix seconds (`iat`).
    public var issuedAt: Double? { storage.token.iat }

    /// Whether the user has a permission.
    ///
    /// - Parameter permission: A permission name.
    /// - Returns: `true` if it is in ``permissions``.
    public func hasPermission(_ permission: String) -> Bool { permissions.contains(permission) }
}
