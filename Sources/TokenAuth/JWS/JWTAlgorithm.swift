/// An HMAC algorithm for signing tokens: HS256 (the default), HS384 or HS512.
///
/// Only these are supported, by design: `none` and every asymmetric algorithm are refused
/// at verification, so a token can never choose a weaker check than the one configured.
public struct JWTAlgorithm: Sendable, Hashable, CustomStringConvertible {
    private enum Base: String, Sendable, Hashable {
        case hs256 = "HS256"
        case hs384 = "HS384"
        case hs512 = "HS512"
    }

    private let base: Base
    private init(_ base: Base) { self.base = base }

    /// HMAC with SHA-256.
    public static let hs256 = JWTAlgorithm(.hs256)
    /// HMAC with SHA-384.
    public static let hs384 = JWTAlgorithm(.hs384)
    /// HMAC with SHA-512.
    public static let hs512 = JWTAlgorithm(.hs512)

    /// The `alg` header value: `HS256`, `HS384` or `HS512`.
    public var name: String { base.rawValue }

    public var description: String { name }

    /// The algorithm with this exact (case-sensitive) `alg` name, or `nil`.
    ///
    /// - Parameter name: An `alg` header value.
    public init?(name: String) {
        guard let base = Base(rawValue: name) else { return nil }
        self.base = base
    }

    /// The shortest secret accepted by default, in bytes: the hash output's size (32, 48 or
    /// 64), as RFC 7518 §3.2 requires.
    public var minimumKeyLength: Int { signatureLength }

    /// The signature length in bytes.
    var signatureLength: Int {
        switch base {
        case .hs256: 32
        case .hs384: 48
        case .hs512: 64
        }
    }

    /// The hash function its HMAC uses.
    var hash: PlatformHMAC.Hash {
        switch base {
        case .hs256: .sha256
        case .hs384: .sha384
        case .hs512: .sha512
        }
    }

    /// The HMAC of `message` under the secret `key`, computed once (signing is not the hot path).
    func sign(_ message: some Collection<UInt8>, key: [UInt8]) -> [UInt8] {
        Array(message).withUnsafeBytes { PlatformHMAC.authenticationCode(hash, key: key, message: $0) }
    }

    /// Verifies with a key prepared once (the HMAC key schedule is not redone per token),
    /// comparing in constant time. Fails closed: a key not prepared for this algorithm, or a
    /// failure inside the crypto library, refuses the signature.
    func verify(_ signature: [UInt8], message: UnsafeBufferPointer<UInt8>, key: PreparedHMACKey) -> Bool {
        guard signature.count == signatureLength,
            let code = key.authenticationCode(hash, message: UnsafeRawBufferPointer(message))
        else { return false }
        return PlatformHMAC.constantTimeEqual(code, signature)
    }
}
