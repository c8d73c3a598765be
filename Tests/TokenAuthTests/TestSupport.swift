import Caching
import CachingTesting
import Synchronization
import TokenRevocation
import Tracing

@testable import TokenAuth

/// 64 bytes: long enough for HS512, the most demanding algorithm (RFC 7518 §3.2).
let secret = "a-test-secret-of-64-bytes-long-enough-for-hs512-hs384-and-hs256!"

/// Signs any header and payload text, for tokens `Token.encode` would never make.
func forge(header: String, payload: String, secret: String = secret, algorithm: JWTAlgorithm = .hs256) -> String {
    let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(payload.utf8))
    let signature = algorithm.sign(Array(input.utf8), key: Array(secret.utf8))
    return input + "." + Base64URL.encode(signature)
}

/// Decodes one segment of a token, for checking what was written.
func segment(_ token: String, _ index: Int) -> ClaimValue? {
    let parts = token.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 3, let bytes = Base64URL.decode(Array(parts[index].utf8)) else { return nil }
    return try? JSONParser.parse(bytes)
}

/// A store whose check throws, as a server that is down.
struct ThrowingStore: RevocationStore {
    struct Down: Error {}
    func revoke(_ jti: String, ttl: Duration) async throws { throw Down() }
    func isRevoked(_ jti: String) async throws -> Bool { throw Down() }
    func consume(_ jti: String, ttl: Duration) async throws -> Bool { throw Down() }
    func revokeAll(subject: String, issuedBefore: Double, ttl: Duration) async throws { throw Down() }
    func revokedBefore(subject: String) async throws -> Double? { throw Down() }
    func revokeFamily(_ family: String, ttl: Duration) async throws { throw Down() }
    func isFamilyRevoked(_ family: String) async throws -> Bool { throw Down() }
}

/// A store whose every call starts and ends a span `store lookup` with `tracer` (from the
/// calling task's `ServiceContext`, as a backend that does I/O does), and answers "not revoked".
struct TracingStore: RevocationStore {
    let tracer: any Tracer
    private func lookup() { tracer.startSpan("store lookup", ofKind: .client).end() }
    func revoke(_ jti: String, ttl: Duration) async throws { lookup() }
    func isRevoked(_ jti: String) async throws -> Bool {
        lookup()
        return false
    }
    func consume(_ jti: String, ttl: Duration) async throws -> Bool {
        lookup()
        return true
    }
    func revokeAll(subject: String, issuedBefore: Double, ttl: Duration) async throws { lookup() }
    func revokedBefore(subject: String) async throws -> Double? {
        lookup()
        return nil
    }
    func revokeFamily(_ family: String, ttl: Duration) async throws { lookup() }
    func isFamilyRevoked(_ family: String) async throws -> Bool {
        lookup()
        return false
    }
}

/// A store that never answers and ignores cancellation, as a socket blocked forever.
/// `release()` lets the stuck calls finish when the test is done.
final class HangingStore: RevocationStore {
    private let waiters = Mutex<[CheckedContinuation<Void, Never>]>([])
    private let released = Mutex(false)

    var callCount: Int { waiters.withLock { $0.count } }

    private func hang() async {
        await withCheckedContinuation { continuation in
            let resumeNow = released.withLock { $0 }
            if resumeNow { continuation.resume() } else { waiters.withLock { $0.append(continuation) } }
        }
    }

    func release() {
        released.withLock { $0 = true }
        let all = waiters.withLock { waiters in
            defer { waiters = [] }
            return waiters
        }
        for waiter in all { waiter.resume() }
    }

    func revoke(_ jti: String, ttl: Duration) async throws { await hang() }
    func isRevoked(_ jti: String) async throws -> Bool {
        await hang()
        return false
    }
    func consume(_ jti: String, ttl: Duration) async throws -> Bool {
        await hang()
        return false
    }
    func revokeAll(subject: String, issuedBefore: Double, ttl: Duration) async throws { await hang() }
    func revokedBefore(subject: String) async throws -> Double? {
        await hang()
        return nil
    }
    func revokeFamily(_ family: String, ttl: Duration) async throws { await hang() }
    func isFamilyRevoked(_ family: String) async throws -> Bool {
        await hang()
        return false
    }
}

/// Forwards to a store but says it may block, so authentication races it against the timeout
/// (as it does a network store).
struct RacedStore: RevocationStore {
    let base: any RevocationStore
    var clock: any CacheClock { base.clock }
    func revoke(_ jti: String, ttl: Duration) async throws { try await base.revoke(jti, ttl: ttl) }
    func isRevoked(_ jti: String) async throws -> Bool { try await base.isRevoked(jti) }
    func consume(_ jti: String, ttl: Duration) async throws -> Bool { try await base.consume(jti, ttl: ttl) }
    func revokeAll(subject: String, issuedBefore: Double, ttl: Duration) async throws {
        try await base.revokeAll(subject: subject, issuedBefore: issuedBefore, ttl: ttl)
    }
    func revokedBefore(subject: String) async throws -> Double? { try await base.revokedBefore(subject: subject) }
    func revokeFamily(_ family: String, ttl: Duration) async throws { try await base.revokeFamily(family, ttl: ttl) }
    func isFamilyRevoked(_ family: String) async throws -> Bool { try await base.isFamilyRevoked(family) }
    func check(_ query: RevocationQuery) async throws -> RevocationStatus { try await base.check(query) }
}
