import Crypto

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

    /// The signature length in bytes.
    var signatureLength: Int {
        switch base {
        case .hs256: 32
        case .hs384: 48
        case .hs512: 64
        }
    }

    func sign(_ message: some Collection<UInt8>, key: SymmetricKey) -> [UInt8] {
        let bytes = Array(message)
        switch base {
        case .hs256: return Array(HMAC<SHA256>.authenticationCode(for: bytes, using: key))
        case .hs384: return Array(HMAC<SHA384>.authenticationCode(for: bytes, using: key))
        case .hs512: return Array(HMAC<SHA512>.authenticationCode(for: bytes, using: key))
        }
    }

    /// Compares in constant time (swift-crypto's `isValidAuthenticationCode`).
    func verify(_ signature: [UInt8], message: some Collection<UInt8>, key: SymmetricKey) -> Bool {
        guard signature.count == signatureLength else { return false }
        let bytes = Array(message)
        switch base {
        case .hs256: return HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: bytes, using: key)
        case .hs384: return HMAC<SHA384>.isValidAuthenticationCode(signature, authenticating: bytes, using: key)
        case .hs512: return HMAC<SHA512>.isValidAuthenticationCode(signature, authenticating: bytes, using: key)
        }
    }
}
