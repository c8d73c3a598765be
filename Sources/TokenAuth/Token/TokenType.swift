/// The kind of a token, in its `typ` claim (Django-Bolt's names): access or refresh.
///
/// `JWTAuthentication` expecting access tokens refuses a refresh token, so a long-lived
/// refresh token cannot open a protected endpoint.
public struct TokenType: Sendable, Hashable, CustomStringConvertible {
    /// The `typ` claim value.
    public let name: String

    /// Creates a type with a custom `typ` value.
    ///
    /// - Parameter name: The claim value.
    public init(_ name: String) { self.name = name }

    /// A short-lived token for API calls (`"access"`).
    public static let access = TokenType("access")
    /// A long-lived token used only to get new tokens (`"refresh"`).
    public static let refresh = TokenType("refresh")

    public var description: String { name }
}
