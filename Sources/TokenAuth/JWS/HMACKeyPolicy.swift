import Logging
import Synchronization

/// The key-length rule for HMAC secrets, shared by ``Token`` and ``JWTAuthentication``.
///
/// RFC 7518 §3.2: "A key of the same size as the hash output (for instance, 256 bits for
/// "HS256") or larger MUST be used with this algorithm." A shorter secret is refused with
/// ``TokenError/Code/secretTooShort`` unless the caller accepts it by name
/// (`allowingShortKeys: true`, for interop with a service that already signs with it); then
/// one warning is logged for that secret, once per process, however many tokens it signs or
/// checks.
enum HMACKeyPolicy {
    /// Checks a secret against every algorithm it will be used with.
    ///
    /// - Parameters:
    ///   - secret: The key bytes.
    ///   - algorithms: The algorithms it signs or verifies with.
    ///   - allowingShortKeys: Accept a short key, with one warning, instead of throwing.
    ///   - user: Who is checking, for the message (`Token.encode`, `JWTAuthentication`).
    ///   - logger: Where the warning goes.
    /// - Throws: ``TokenError/Code/secretTooShort`` naming the algorithm and the bytes it needs.
    static func check(
        _ secret: [UInt8], algorithms: [JWTAlgorithm], allowingShortKeys: Bool, user: String, logger: Logger
    ) throws(TokenError) {
        // The most demanding algorithm decides; it is the one named in the message.
        guard let strictest = algorithms.max(by: { $0.minimumKeyLength < $1.minimumKeyLength }),
            secret.count < strictest.minimumKeyLength
        else { return }
        let problem =
            "\(strictest.name) needs an HMAC secret of at least \(strictest.minimumKeyLength) bytes "
            + "(RFC 7518 §3.2 asks for a key as long as the hash output); this one has \(secret.count)"
        guard allowingShortKeys else {
            throw TokenError(
                .secretTooShort,
                "\(user): \(problem). Use a longer random secret (e.g. `openssl rand -base64 64`), or pass "
                    + "allowingShortKeys: true to accept this one for interop with a service that already uses it")
        }
        guard warned.firstTime(for: secret) else { return }
        logger.warning(
            "\(user): accepting a short HMAC secret because allowingShortKeys is set: \(problem)",
            metadata: [
                "jwt.algorithm": "\(strictest.name)", "jwt.secret_bytes": "\(secret.count)",
                "jwt.required_bytes": "\(strictest.minimumKeyLength)",
            ])
    }

    /// The short secrets already warned about, by SHA-256 digest (never the secret itself).
    private static let warned = WarnedKeys()

    final class WarnedKeys: Sendable {
        /// Bounded, so a process that makes ever new short keys cannot grow it: past the bound,
        /// every use warns again.
        private static let limit = 256
        private let digests = Mutex<Set<[UInt8]>>([])

        /// `true` the first time a secret is seen (and always once the set is full).
        func firstTime(for secret: [UInt8]) -> Bool {
            let digest = PlatformHMAC.sha256(secret)
            return digests.withLock { digests in
                guard digests.count < Self.limit else { return !digests.contains(digest) }
                return digests.insert(digest).inserted
            }
        }
    }
}
