/// An error making or signing a ``Token``: what is wrong and what to do.
public struct TokenError: Error, Sendable, CustomStringConvertible {
    /// The kind of a ``TokenError``.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case reservedClaim
            case invalidClaim
            case invalidSecret
            case secretTooShort
            case invalidConfiguration
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// An extra claim uses a name the token sets itself (`sub`, `exp`, `iat`, `jti`, `typ` …).
        public static let reservedClaim = Code(.reservedClaim)
        /// A claim cannot be encoded (an empty subject, a non-finite number, a bad lifetime).
        public static let invalidClaim = Code(.invalidClaim)
        /// The secret is empty.
        public static let invalidSecret = Code(.invalidSecret)
        /// The secret is shorter than an algorithm it is used with requires (RFC 7518 §3.2: at
        /// least the hash output, ``JWTAlgorithm/minimumKeyLength``), and short keys were not
        /// allowed (`allowingShortKeys`).
        public static let secretTooShort = Code(.secretTooShort)
        /// `JWTAuthentication` was configured inconsistently (no algorithms, negative leeway).
        public static let invalidConfiguration = Code(.invalidConfiguration)

        public var description: String { base.rawValue }
    }

    /// The kind of error.
    public let code: Code
    /// What happened and what to do.
    public let message: String

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: The kind of error.
    ///   - message: A sentence saying what and why.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "TokenError.\(code): \(message)" }
}
