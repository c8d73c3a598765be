import Crypto

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

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

    func sign(_ message: some Collection<UInt8>, key: SymmetricKey) -> [UInt8] {
        let bytes = Array(message)
        switch base {
        case .hs256: return Array(HMAC<SHA256>.authenticationCode(for: bytes, using: key))
        case .hs384: return Array(HMAC<SHA384>.authenticationCode(for: bytes, using: key))
        case .hs512: return Array(HMAC<SHA512>.authenticationCode(for: bytes, using: key))
        }
    }

    /// Verifies with a key prepared once (the HMAC key schedule is not redone per token),
    /// comparing in constant time.
    func verify(_ signature: [UInt8], message: UnsafeBufferPointer<UInt8>, key: PreparedHMACKey) -> Bool {
        guard signature.count == signatureLength else { return false }
        let bytes = UnsafeRawBufferPointer(message)
        switch base {
        case .hs256:
            var mac = key.sha256
            mac.update(data: bytes)
            return Self.constantTimeEqual(mac.finalize(), signature)
        case .hs384:
            var mac = key.sha384
            mac.update(data: bytes)
            return Self.constantTimeEqual(mac.finalize(), signature)
        case .hs512:
            var mac = key.sha512
            mac.update(data: bytes)
            return Self.constantTimeEqual(mac.finalize(), signature)
        }
    }

    /// Compares every byte, whatever the first difference, so timing says nothing about the code.
    private static func constantTimeEqual(_ code: some MessageAuthenticationCode, _ signature: [UInt8]) -> Bool {
        code.withUnsafeBytes { computed in
            guard computed.count == signature.count else { return false }
            var difference: UInt8 = 0
            for index in 0..<computed.count { difference |= computed[index] ^ signature[index] }
            return difference == 0
        }
    }
}

/// An HMAC key with its inner and outer pads already hashed, for each algorithm.
struct PreparedHMACKey: Sendable {
    let sha256: HMAC<SHA256>
    let sha384: HMAC<SHA384>
    let sha512: HMAC<SHA512>

    init(_ secret: [UInt8]) {
        let key = SymmetricKey(data: secret)
        sha256 = HMAC(key: key)
        sha384 = HMAC(key: key)
        sha512 = HMAC(key: key)
    }
}
