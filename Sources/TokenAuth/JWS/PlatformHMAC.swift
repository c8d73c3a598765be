#if canImport(CommonCrypto)
    import CommonCrypto
#elseif canImport(CLibcrypto)
    import CLibcrypto
#else
    #error("TokenAuth needs CommonCrypto (Apple platforms) or OpenSSL's libcrypto (Linux: libssl-dev)")
#endif

/// HMAC-SHA2 and SHA-256 from the platform's vetted crypto library: CommonCrypto on Apple
/// platforms, OpenSSL's libcrypto (3.0 or later) on Linux. Nothing here computes a hash itself.
enum PlatformHMAC {
    /// The hash functions HS256, HS384 and HS512 use.
    enum Hash: Sendable {
        case sha256, sha384, sha512

        /// The HMAC output length in bytes.
        var outputLength: Int {
            switch self {
            case .sha256: 32
            case .sha384: 48
            case .sha512: 64
            }
        }
    }

    /// HMAC of `message` under `key`, in one call.
    static func authenticationCode(_ hash: Hash, key: [UInt8], message: UnsafeRawBufferPointer) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: hash.outputLength) { out, initialized in
            key.withUnsafeBytes { key in
                withNonNullBase(key) { keyBase in
                    withNonNullBase(message) { messageBase in
                        #if canImport(CommonCrypto)
                            CCHmac(hash.commonCrypto, keyBase, key.count, messageBase, message.count, out.baseAddress!)
                        #else
                            var length: UInt32 = 0
                            let result = HMAC(
                                hash.evp, keyBase, Int32(key.count), messageBase.assumingMemoryBound(to: UInt8.self),
                                message.count, out.baseAddress!, &length)
                            // Only an allocation failure inside libcrypto makes HMAC() fail.
                            precondition(result != nil && Int(length) == hash.outputLength, "libcrypto HMAC() failed")
                        #endif
                    }
                }
            }
            initialized = hash.outputLength
        }
    }

    /// SHA-256 of `bytes`.
    static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 32) { out, initialized in
            bytes.withUnsafeBytes { bytes in
                withNonNullBase(bytes) { base in
                    #if canImport(CommonCrypto)
                        _ = CC_SHA256(base, CC_LONG(bytes.count), out.baseAddress!)
                    #else
                        _ = SHA256(base.assumingMemoryBound(to: UInt8.self), bytes.count, out.baseAddress!)
                    #endif
                }
            }
            initialized = 32
        }
    }

    /// Compares every byte, whatever the first difference, so timing says nothing about the code.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in 0..<a.count { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    /// An empty buffer may have no base address; the C functions want one even for zero bytes.
    static func withNonNullBase<R>(_ buffer: UnsafeRawBufferPointer, _ body: (UnsafeRawPointer) -> R) -> R {
        if let base = buffer.baseAddress { return body(base) }
        var zero: UInt8 = 0
        return withUnsafePointer(to: &zero) { body(UnsafeRawPointer($0)) }
    }
}

#if canImport(CommonCrypto)
    extension PlatformHMAC.Hash {
        fileprivate var commonCrypto: CCHmacAlgorithm {
            switch self {
            case .sha256: CCHmacAlgorithm(kCCHmacAlgSHA256)
            case .sha384: CCHmacAlgorithm(kCCHmacAlgSHA384)
            case .sha512: CCHmacAlgorithm(kCCHmacAlgSHA512)
            }
        }
    }

    /// The secret and the allowed algorithms' hashes, for CommonCrypto's one-shot `CCHmac` per
    /// verification.
    struct PreparedHMACKey: Sendable {
        private let secret: [UInt8]
        private let hashes: Set<PlatformHMAC.Hash>

        init(_ secret: [UInt8], algorithms: [JWTAlgorithm]) {
            self.secret = secret
            self.hashes = Set(algorithms.map(\.hash))
        }

        /// The HMAC of `message`, or `nil` when the algorithm was not prepared.
        func authenticationCode(_ hash: PlatformHMAC.Hash, message: UnsafeRawBufferPointer) -> [UInt8]? {
            guard hashes.contains(hash) else { return nil }
            return PlatformHMAC.authenticationCode(hash, key: secret, message: message)
        }
    }
#else
    extension PlatformHMAC.Hash {
        fileprivate var evp: OpaquePointer {
            switch self {
            case .sha256: EVP_sha256()
            case .sha384: EVP_sha384()
            case .sha512: EVP_sha512()
            }
        }

        /// The digest's name for the EVP_MAC `digest` parameter.
        fileprivate var name: String {
            switch self {
            case .sha256: "SHA256"
            case .sha384: "SHA384"
            case .sha512: "SHA512"
            }
        }
    }

    /// An HMAC key with its inner and outer pads already hashed, for each allowed algorithm:
    /// an `EVP_MAC_CTX` keyed once, copied (`EVP_MAC_CTX_dup`) for each message.
    struct PreparedHMACKey: Sendable {
        private let sha256: KeyedContext?
        private let sha384: KeyedContext?
        private let sha512: KeyedContext?

        init(_ secret: [UInt8], algorithms: [JWTAlgorithm]) {
            let hashes = Set(algorithms.map(\.hash))
            sha256 = hashes.contains(.sha256) ? KeyedContext(.sha256, secret: secret) : nil
            sha384 = hashes.contains(.sha384) ? KeyedContext(.sha384, secret: secret) : nil
            sha512 = hashes.contains(.sha512) ? KeyedContext(.sha512, secret: secret) : nil
        }

        /// The HMAC of `message`, or `nil` when the algorithm was not prepared or libcrypto fails
        /// (either way verification refuses).
        func authenticationCode(_ hash: PlatformHMAC.Hash, message: UnsafeRawBufferPointer) -> [UInt8]? {
            let context =
                switch hash {
                case .sha256: sha256
                case .sha384: sha384
                case .sha512: sha512
                }
            return context?.authenticationCode(message)
        }
    }

    /// An `EVP_MAC_CTX` holding the keyed HMAC state. It is never changed after `init`: each
    /// message works on a copy. OpenSSL's thread-safety rules (openssl-threads(7)) make an
    /// object safe to share when the calls on it do not modify it, which `EVP_MAC_CTX_dup`'s
    /// `const` source promises; hence `@unchecked Sendable`.
    final class KeyedContext: @unchecked Sendable {
        private let context: OpaquePointer
        private let hash: PlatformHMAC.Hash

        init?(_ hash: PlatformHMAC.Hash, secret: [UInt8]) {
            self.hash = hash
            guard let mac = EVP_MAC_fetch(nil, "HMAC", nil) else { return nil }
            defer { EVP_MAC_free(mac) }
            guard let context = EVP_MAC_CTX_new(mac) else { return nil }
            let keyed = hash.name.withCString { name in
                secret.withUnsafeBytes { key in
                    PlatformHMAC.withNonNullBase(key) { keyBase in
                        // OSSL_PARAM wants a mutable pointer; EVP_MAC_init only reads the name.
                        var params = [
                            OSSL_PARAM_construct_utf8_string("digest", UnsafeMutablePointer(mutating: name), 0),
                            OSSL_PARAM_construct_end(),
                        ]
                        return EVP_MAC_init(context, keyBase.assumingMemoryBound(to: UInt8.self), key.count, &params)
                    }
                }
            }
            guard keyed == 1 else {
                EVP_MAC_CTX_free(context)
                return nil
            }
            self.context = context
        }

        deinit { EVP_MAC_CTX_free(context) }

        func authenticationCode(_ message: UnsafeRawBufferPointer) -> [UInt8]? {
            guard let copy = EVP_MAC_CTX_dup(context) else { return nil }
            defer { EVP_MAC_CTX_free(copy) }
            let length = hash.outputLength
            var ok = true
            let code = [UInt8](unsafeUninitializedCapacity: length) { out, initialized in
                var written = 0
                let updated = PlatformHMAC.withNonNullBase(message) { base in
                    EVP_MAC_update(copy, base.assumingMemoryBound(to: UInt8.self), message.count)
                }
                ok =
                    updated == 1 && EVP_MAC_final(copy, out.baseAddress, &written, length) == 1 && written == length
                initialized = ok ? length : 0
            }
            return ok ? code : nil
        }
    }
#endif
