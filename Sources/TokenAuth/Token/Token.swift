public import Caching
public import Logging

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A JWT's claims, laid out as Django-Bolt's `Token` lays them out, so tokens pass between a
/// Django-Bolt (PyJWT) service and a Swift one that share a secret.
///
/// | Swift | claim | JSON |
/// | --- | --- | --- |
/// | ``sub`` | `sub` | string (the user id) |
/// | ``exp`` | `exp` | integer Unix seconds |
/// | ``iat`` | `iat` | integer Unix seconds |
/// | ``nbf`` | `nbf` | integer Unix seconds, optional |
/// | ``jti`` | `jti` | string, optional |
/// | ``type`` | `typ` | `"access"` or `"refresh"` (Django-Bolt's token-pair claim) |
/// | ``family`` | `fam` | string, refresh-token rotation family (Django-Bolt's claim) |
/// | ``isStaff`` | `is_staff` | boolean |
/// | ``isAdmin`` | `is_admin` | boolean |
/// | ``permissions`` | `permissions` | array of strings |
/// | ``extras`` | any other name | top-level claims, as Django-Bolt's `extras` (`result.update(self.extras)`) |
///
/// ```swift
/// let token = try Token.create(sub: "42", expiresIn: .seconds(900), permissions: ["posts.view"],
///                              extras: ["tenant": "acme"])
/// let jwt = try token.encode(secret: secret)                 // HS256
/// let back = try Token.decode(jwt, secret: secret)           // verified
/// ```
///
/// Unlike Django-Bolt's `Token.create`, `is_admin` is exactly what was passed (Django-Bolt's
/// sets it to `is_admin or is_staff`), and a `jti` is generated unless you pass `nil`.
public struct Token: Sendable, Hashable {
    /// The subject: the user id (`sub`).
    public var sub: String
    /// The expiry, Unix seconds (`exp`).
    public var exp: Double
    /// When the token was issued, Unix seconds (`iat`).
    public var iat: Double?
    /// Not valid before, Unix seconds (`nbf`).
    public var nbf: Double?
    /// The token id (`jti`), what revocation remembers.
    public var jti: String?
    /// Access or refresh (`typ`).
    public var type: TokenType?
    /// The refresh-token family (`fam`).
    public var family: String?
    /// Whether the user is staff (`is_staff`).
    public var isStaff: Bool?
    /// Whether the user is an administrator (`is_admin`).
    public var isAdmin: Bool?
    /// Permission names (`permissions`).
    public var permissions: [String]?
    /// Every other claim, at the top level of the payload.
    public var extras: [String: ClaimValue]

    /// The claim names set by the fields above, which ``extras`` may not use.
    public static let reservedClaims: Set<String> = [
        "sub", "exp", "iat", "nbf", "jti", "typ", "fam", "is_staff", "is_admin", "permissions",
    ]

    /// Creates a token from its claims, as they are.
    ///
    /// - Parameters:
    ///   - sub: The subject.
    ///   - exp: The expiry, Unix seconds.
    ///   - iat: Issued at, Unix seconds.
    ///   - nbf: Not before, Unix seconds.
    ///   - jti: The token id.
    ///   - type: Access or refresh.
    ///   - family: The refresh-token family.
    ///   - isStaff: The `is_staff` claim.
    ///   - isAdmin: The `is_admin` claim.
    ///   - permissions: The `permissions` claim.
    ///   - extras: Other claims.
    public init(
        sub: String, exp: Double, iat: Double? = nil, nbf: Double? = nil, jti: String? = nil, type: TokenType? = nil,
        family: String? = nil, isStaff: Bool? = nil, isAdmin: Bool? = nil, permissions: [String]? = nil,
        extras: [String: ClaimValue] = [:]
    ) {
        self.sub = sub
        self.exp = exp
        self.iat = iat
        self.nbf = nbf
        self.jti = jti
        self.type = type
        self.family = family
        self.isStaff = isStaff
        self.isAdmin = isAdmin
        self.permissions = permissions
        self.extras = extras
    }

    /// A new random token id: a lowercase UUID, as Django-Bolt's `uuid4()`.
    public static func randomID() -> String {
        UUID().uuidString.lowercased()
    }

    /// Makes a token issued now (Django-Bolt's `Token.create`).
    ///
    /// `iat` is now and `exp` is now plus `expiresIn`, both in whole seconds.
    ///
    /// - Parameters:
    ///   - sub: The user id; must not be empty.
    ///   - expiresIn: The lifetime (1 hour by default); at least one second.
    ///   - jti: The token id; a random UUID by default, `nil` for none.
    ///   - isStaff: The `is_staff` claim.
    ///   - isAdmin: The `is_admin` claim.
    ///   - permissions: The `permissions` claim, left out when `nil`.
    ///   - extras: Other top-level claims; their names must not be in ``reservedClaims``.
    ///   - type: Access (the default) or refresh.
    ///   - family: The refresh-token family (`fam`), left out when `nil`.
    ///   - clock: The wall clock for `iat`.
    /// - Returns: The token.
    /// - Throws: ``TokenError`` for an empty subject, a lifetime under one second, or a reserved extra.
    public static func create(
        sub: String, expiresIn: Duration = .seconds(3600), jti: String? = Token.randomID(), isStaff: Bool = false,
        isAdmin: Bool = false, permissions: [String]? = nil, extras: [String: ClaimValue] = [:],
        type: TokenType = .access, family: String? = nil, clock: any CacheClock = SystemCacheClock()
    ) throws(TokenError) -> Token {
        guard !sub.isEmpty else { throw TokenError(.invalidClaim, "sub (the user id) must not be empty") }
        let (lifetime, _) = expiresIn.components
        guard lifetime >= 1 else {
            throw TokenError(.invalidClaim, "expiresIn must be at least one second; got \(expiresIn)")
        }
        let now = clock.now().rounded(.down)
        let token = Token(
            sub: sub, exp: now + Double(lifetime), iat: now, jti: jti, type: type, family: family, isStaff: isStaff,
            isAdmin: isAdmin, permissions: permissions, extras: extras)
        try token.checkExtras()
        return token
    }

    /// Every claim, as it goes into the payload.
    public var claims: [String: ClaimValue] {
        var claims = extras
        for (key, value) in standardClaims { claims[key] = value }
        return claims
    }

    private var standardClaims: [(key: String, value: ClaimValue)] {
        var members: [(key: String, value: ClaimValue)] = [("sub", .string(sub)), ("exp", Self.time(exp))]
        if let iat { members.append(("iat", Self.time(iat))) }
        if let nbf { members.append(("nbf", Self.time(nbf))) }
        if let jti { members.append(("jti", .string(jti))) }
        if let type { members.append(("typ", .string(type.name))) }
        if let family { members.append(("fam", .string(family))) }
        if let isStaff { members.append(("is_staff", .bool(isStaff))) }
        if let isAdmin { members.append(("is_admin", .bool(isAdmin))) }
        if let permissions { members.append(("permissions", .array(permissions.map(ClaimValue.string)))) }
        return members
    }

    private static func time(_ seconds: Double) -> ClaimValue {
        if let whole = Int(exactly: seconds) { return .integer(whole) }
        return .number(seconds)
    }

    private func checkExtras() throws(TokenError) {
        let reserved = extras.keys.filter(Self.reservedClaims.contains).sorted()
        guard reserved.isEmpty else {
            throw TokenError(
                .reservedClaim,
                "extras must not set \(reserved.joined(separator: ", ")); use the Token field for it instead")
        }
    }

    // MARK: Encoding

    /// Signs the token (JWS compact serialization, header `{"alg":…,"typ":"JWT"}`).
    ///
    /// The secret must be at least as long as the algorithm's hash output
    /// (``JWTAlgorithm/minimumKeyLength``: 32, 48 or 64 bytes), as RFC 7518 §3.2 requires. A
    /// shorter one is refused unless `allowingShortKeys` is set, for interop with a service that
    /// already signs with it; then one warning per secret is logged (once per process).
    ///
    /// - Parameters:
    ///   - secret: The shared secret, as UTF-8 bytes (as PyJWT takes a `str` key).
    ///   - algorithm: HS256 (the default), HS384 or HS512.
    ///   - allowingShortKeys: Accept a secret shorter than the algorithm needs, with a warning.
    ///   - logger: Where that warning goes.
    /// - Returns: The token, `header.payload.signature`.
    /// - Throws: ``TokenError``: ``TokenError/Code/secretTooShort`` for a short secret,
    ///   ``TokenError/Code/invalidSecret`` for an empty one, or a reserved extra, an empty
    ///   subject or a non-finite number.
    public func encode(
        secret: String, algorithm: JWTAlgorithm = .hs256, allowingShortKeys: Bool = false,
        logger: Logger = Token.logger
    ) throws(TokenError) -> String {
        try encode(secret: Array(secret.utf8), algorithm: algorithm, allowingShortKeys: allowingShortKeys, logger: logger)
    }

    /// Signs the token with a secret given as bytes.
    ///
    /// - Parameters:
    ///   - secret: The shared secret; at least ``JWTAlgorithm/minimumKeyLength`` bytes.
    ///   - algorithm: HS256 (the default), HS384 or HS512.
    ///   - allowingShortKeys: Accept a secret shorter than the algorithm needs, with a warning.
    ///   - logger: Where that warning goes.
    /// - Returns: The token.
    /// - Throws: ``TokenError`` as ``encode(secret:algorithm:allowingShortKeys:logger:)-(String,_,_,_)``.
    public func encode(
        secret: [UInt8], algorithm: JWTAlgorithm = .hs256, allowingShortKeys: Bool = false,
        logger: Logger = Token.logger
    ) throws(TokenError) -> String {
        guard !secret.isEmpty else { throw TokenError(.invalidSecret, "The signing secret is empty") }
        try HMACKeyPolicy.check(
            secret, algorithms: [algorithm], allowingShortKeys: allowingShortKeys, user: "Token.encode", logger: logger)
        guard !sub.isEmpty else { throw TokenError(.invalidClaim, "sub (the user id) must not be empty") }
        try checkExtras()
        var members = standardClaims
        members.append(contentsOf: extras.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        for (key, value) in members where !Self.isFinite(value) {
            throw TokenError(.invalidClaim, "Claim '\(key)' holds a number that is not finite")
        }
        var writer = JSONWriter()
        writer.writeObject(members)
        return CompactJWS.sign(payload: writer.bytes, algorithm: algorithm, key: secret)
    }

    /// Where ``encode(secret:algorithm:allowingShortKeys:logger:)-(String,_,_,_)`` and
    /// ``decode(_:secret:algorithms:allowingShortKeys:leeway:maxLength:logger:clock:)`` warn
    /// about a short secret they were allowed to accept, unless given a logger.
    public static let logger = Logger(label: "swift-caching.TokenAuth")

    private static func isFinite(_ value: ClaimValue) -> Bool {
        switch value {
        case .number(let number): number.isFinite
        case .array(let elements): elements.allSatisfy(isFinite)
        case .object(let object): object.values.allSatisfy(isFinite)
        default: true
        }
    }

    // MARK: Decoding

    /// Verifies a token and returns its claims: signature, allowed algorithm, `exp` and
    /// `nbf`/`iat` with the leeway. It does not check the token type or revocation; use
    /// ``JWTAuthentication`` for requests.
    ///
    /// The secret is checked first, against every algorithm in `algorithms`, as
    /// ``encode(secret:algorithm:allowingShortKeys:logger:)-(String,_,_,_)`` checks it.
    ///
    /// - Parameters:
    ///   - token: The compact token.
    ///   - secret: The shared secret (UTF-8); at least ``JWTAlgorithm/minimumKeyLength`` bytes
    ///     for each of `algorithms`.
    ///   - algorithms: The algorithms accepted; HS256 only by default.
    ///   - allowingShortKeys: Accept a secret shorter than an algorithm needs, with a warning.
    ///   - leeway: Clock-skew tolerance for `exp`, `nbf` and `iat` (60 s by default, as Django-Bolt).
    ///   - maxLength: The longest token accepted, in bytes.
    ///   - logger: Where the short-secret warning goes.
    ///   - clock: The wall clock.
    /// - Returns: The token's claims.
    /// - Throws: ``TokenError`` when the secret is empty or too short (a configuration error,
    ///   whatever the token); ``AuthenticationError`` with the reason the token is refused.
    public static func decode(
        _ token: String, secret: String, algorithms: [JWTAlgorithm] = [.hs256], allowingShortKeys: Bool = false,
        leeway: Duration = .seconds(60), maxLength: Int = 8192, logger: Logger = Token.logger,
        clock: any CacheClock = SystemCacheClock()
    ) throws -> Token {
        let key = Array(secret.utf8)
        guard !key.isEmpty else { throw TokenError(.invalidSecret, "The verification secret is empty") }
        try HMACKeyPolicy.check(
            key, algorithms: algorithms, allowingShortKeys: allowingShortKeys, user: "Token.decode", logger: logger)
        let claims = try CompactJWS.verify(
            token, key: PreparedHMACKey(key, algorithms: algorithms), algorithms: algorithms, maxLength: maxLength)
        let decoded = try Token(verifiedClaims: claims)
        try decoded.checkTimes(now: clock.now(), leeway: leeway.seconds)
        return decoded
    }

    /// Checks `exp`, `nbf` and `iat` against `now` with `leeway` seconds (PyJWT's rules).
    func checkTimes(now: Double, leeway: Double) throws(AuthenticationError) {
        if now >= exp + leeway {
            throw AuthenticationError(
                .expired, "The token expired at \(Self.text(exp)) (leeway \(Self.text(leeway)) s; now \(Self.text(now)))")
        }
        if let nbf, nbf > now + leeway {
            throw AuthenticationError(.notYetValid, "The token is not valid before \(Self.text(nbf)) (now \(Self.text(now)))")
        }
        if let iat, iat > now + leeway {
            throw AuthenticationError(.notYetValid, "The token was issued in the future (iat \(Self.text(iat)), now \(Self.text(now)))")
        }
    }

    /// Seconds for a message, without trapping on huge values.
    static func text(_ seconds: Double) -> String {
        if let whole = Int(exactly: seconds.rounded(.down)) { return String(whole) }
        return String(seconds)
    }
}
