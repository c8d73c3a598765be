/// A read-only revocation store built from async closures: for revocation that is decided
/// elsewhere (your database, another service). Django-Bolt's `revoked_token_handler`.
///
/// ```swift
/// let store = HandlerRevocation { jti in
///     try await db.query("SELECT 1 FROM revoked WHERE jti = $1", jti).isEmpty == false
/// }
/// ```
///
/// A closure that throws makes the check fail, and `JWTAuthentication` refuses the token
/// (fail closed). Writes (``revoke(_:ttl:)``, ``consume(_:ttl:)``, ``revokeAll(subject:issuedBefore:ttl:)``,
/// ``revokeFamily(_:ttl:)``) throw ``RevocationError/Code/unsupported``: revoke where the
/// closure looks.
public struct HandlerRevocation: RevocationStore {
    /// Answers whether a `jti` is revoked.
    public typealias TokenHandler = @Sendable (_ jti: String) async throws -> Bool
    /// Answers a subject's logout-everywhere cut-off, Unix seconds, or `nil`.
    public typealias SubjectHandler = @Sendable (_ subject: String) async throws -> Double?
    /// Answers whether a token family is revoked.
    public typealias FamilyHandler = @Sendable (_ family: String) async throws -> Bool

    private let tokenHandler: TokenHandler
    private let subjectHandler: SubjectHandler?
    private let familyHandler: FamilyHandler?

    /// Creates a store from closures.
    ///
    /// - Parameters:
    ///   - revokedBefore: The subject's cut-off; `nil` (the default) means this store keeps none.
    ///   - isFamilyRevoked: Whether a family is revoked; `nil` means this store keeps none.
    ///   - isRevoked: Whether a `jti` is revoked.
    public init(
        revokedBefore: SubjectHandler? = nil, isFamilyRevoked: FamilyHandler? = nil,
        isRevoked: @escaping TokenHandler
    ) {
        self.tokenHandler = isRevoked
        self.subjectHandler = revokedBefore
        self.familyHandler = isFamilyRevoked
    }

    public func isRevoked(_ jti: String) async throws -> Bool {
        try await tokenHandler(jti)
    }

    public func revokedBefore(subject: String) async throws -> Double? {
        try await subjectHandler?(subject)
    }

    public func isFamilyRevoked(_ family: String) async throws -> Bool {
        try await familyHandler?(family) ?? false
    }

    public func revoke(_ jti: String, ttl: Duration) async throws {
        throw Self.unsupported("revoke jti '\(jti)'")
    }

    public func consume(_ jti: String, ttl: Duration) async throws -> Bool {
        throw Self.unsupported("consume jti '\(jti)'")
    }

    public func revokeAll(subject: String, issuedBefore: Double, ttl: Duration) async throws {
        throw Self.unsupported("revoke every token of subject '\(subject)'")
    }

    public func revokeFamily(_ family: String, ttl: Duration) async throws {
        throw Self.unsupported("revoke token family '\(family)'")
    }

    private static func unsupported(_ what: String) -> RevocationError {
        RevocationError(
            .unsupported,
            "HandlerRevocation cannot \(what): it only asks its closures; store the revocation where they look")
    }
}
