import Caching
import CachingTesting
import Foundation
import InMemoryLogging
import Logging
import Testing

@testable import TokenAuth

/// A secret of `count` bytes, different in every call, so that the once-per-secret warning of
/// one test is never swallowed by another that ran first.
private func uniqueSecret(_ count: Int) -> String {
    String(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(count))
        .padding(toLength: count, withPad: "k", startingAt: 0)
}

private func capturingLogger() -> (Logger, InMemoryLogHandler) {
    let logging = InMemoryLogHandler()
    return (Logger(label: "test", factory: { _ in logging }), logging)
}

@Suite("HMAC secrets shorter than the hash output (RFC 7518 §3.2)")
struct SecretLengthTests {
    static let cases: [(JWTAlgorithm, Int)] = [(.hs256, 32), (.hs384, 48), (.hs512, 64)]

    @Test("each algorithm needs its hash size: one byte less is refused, naming the algorithm and the bytes", arguments: cases)
    func encodeRefusesShortSecret(algorithm: JWTAlgorithm, bytes: Int) throws {
        #expect(algorithm.minimumKeyLength == bytes)
        let token = try Token.create(sub: "1")
        let refused = #expect(throws: TokenError.self) {
            try token.encode(secret: uniqueSecret(bytes - 1), algorithm: algorithm)
        }
        #expect(refused?.code == .secretTooShort)
        #expect(refused?.message.contains("\(algorithm.name) needs an HMAC secret of at least \(bytes) bytes") == true)
        #expect(refused?.message.contains("RFC 7518 §3.2") == true)
        #expect(refused?.message.contains("this one has \(bytes - 1)") == true)
        #expect(refused?.message.contains("allowingShortKeys") == true)
        _ = try token.encode(secret: uniqueSecret(bytes), algorithm: algorithm)
        let asBytes = #expect(throws: TokenError.self) {
            try token.encode(secret: Array(repeating: 7, count: bytes - 1), algorithm: algorithm)
        }
        #expect(asBytes?.code == .secretTooShort)
    }

    @Test("decode checks the secret against every algorithm it accepts, before reading the token")
    func decodeRefusesShortSecret() throws {
        let clock = ManualCacheClock()
        let fortyEight = uniqueSecret(48)
        let jwt = try Token.create(sub: "1", clock: clock).encode(secret: fortyEight, algorithm: .hs384)
        _ = try Token.decode(jwt, secret: fortyEight, algorithms: [.hs256, .hs384], clock: clock)
        let refused = #expect(throws: TokenError.self) {
            try Token.decode(jwt, secret: fortyEight, algorithms: [.hs384, .hs512], clock: clock)
        }
        #expect(refused?.code == .secretTooShort)
        #expect(refused?.message.contains("HS512 needs an HMAC secret of at least 64 bytes") == true)
        #expect(throws: TokenError.self) { try Token.decode("not.a.jwt", secret: uniqueSecret(31), clock: clock) }
    }

    @Test("JWTAuthentication checks every algorithm it accepts: the most demanding one decides")
    func authenticationRefusesShortSecret() throws {
        _ = try JWTAuthentication(secret: uniqueSecret(32))
        let forHS256 = #expect(throws: TokenError.self) { try JWTAuthentication(secret: uniqueSecret(31)) }
        #expect(forHS256?.code == .secretTooShort)
        #expect(forHS256?.message.contains("HS256 needs an HMAC secret of at least 32 bytes") == true)
        let mixed = #expect(throws: TokenError.self) {
            try JWTAuthentication(secret: uniqueSecret(48), algorithms: [.hs256, .hs512, .hs384])
        }
        #expect(mixed?.code == .secretTooShort)
        #expect(mixed?.message.contains("HS512 needs an HMAC secret of at least 64 bytes") == true)
        #expect(mixed?.message.contains("this one has 48") == true)
        _ = try JWTAuthentication(secret: uniqueSecret(64), algorithms: [.hs256, .hs512, .hs384])
        // An empty secret stays an error even with short keys allowed.
        let empty = #expect(throws: TokenError.self) { try JWTAuthentication(secret: "", allowingShortKeys: true) }
        #expect(empty?.code == .invalidSecret)
    }

    @Test("allowingShortKeys accepts a short secret for interop and logs one warning for it")
    func allowingShortKeys() async throws {
        let clock = ManualCacheClock()
        let (logger, logging) = capturingLogger()
        let short = uniqueSecret(10)
        let auth = try JWTAuthentication(
            secret: short, algorithms: [.hs256, .hs512], allowingShortKeys: true, logger: logger, clock: clock)
        let warnings = logging.entries.filter { $0.level == .warning }
        #expect(warnings.count == 1)
        #expect(warnings.first?.message.description.contains("allowingShortKeys") == true)
        #expect(warnings.first?.message.description.contains("HS512 needs an HMAC secret of at least 64 bytes") == true)
        #expect(warnings.first?.metadata["jwt.secret_bytes"] == "10")
        #expect(warnings.first?.message.description.contains(short) == false, "the secret itself is never logged")

        // Signing and checking many tokens with the same secret adds no warning.
        for algorithm in [JWTAlgorithm.hs256, .hs512] {
            let jwt = try Token.create(sub: "9", clock: clock)
                .encode(secret: short, algorithm: algorithm, allowingShortKeys: true, logger: logger)
            #expect(try await auth.authenticate(token: jwt).userID == "9")
            #expect(
                try Token.decode(jwt, secret: short, algorithms: [algorithm], allowingShortKeys: true, logger: logger, clock: clock)
                    .sub == "9")
        }
        _ = try JWTAuthentication(secret: short, allowingShortKeys: true, logger: logger, clock: clock)
        #expect(logging.entries.filter { $0.level == .warning }.count == 1)
    }

    @Test("Token.encode and Token.decode with allowingShortKeys warn once for a new secret")
    func encodeDecodeWarn() throws {
        let clock = ManualCacheClock(start: 1_000_000)
        let (logger, logging) = capturingLogger()
        let forEncode = uniqueSecret(20)
        for sub in ["1", "2"] {
            _ = try Token.create(sub: sub, clock: clock)
                .encode(secret: forEncode, algorithm: .hs384, allowingShortKeys: true, logger: logger)
        }
        #expect(logging.entries.filter { $0.level == .warning }.count == 1)
        #expect(logging.entries.first?.message.description.contains("Token.encode: accepting a short HMAC secret") == true)
        #expect(logging.entries.first?.message.description.contains("HS384 needs an HMAC secret of at least 48 bytes") == true)

        let (decodeLogger, decodeLogging) = capturingLogger()
        let forDecode = uniqueSecret(16)
        // Signed outside Token.encode, so decode is the first to meet this secret.
        let jwt = forge(header: #"{"alg":"HS256","typ":"JWT"}"#, payload: #"{"sub":"3","exp":2000000}"#, secret: forDecode)
        for _ in 0..<2 {
            #expect(try Token.decode(jwt, secret: forDecode, allowingShortKeys: true, logger: decodeLogger, clock: clock).sub == "3")
        }
        #expect(decodeLogging.entries.filter { $0.level == .warning }.count == 1)
        #expect(decodeLogging.entries.first?.message.description.contains("Token.decode") == true)
        // A short key changes nothing about the signature check.
        #expect(throws: AuthenticationError.self) {
            try Token.decode(jwt, secret: uniqueSecret(16), allowingShortKeys: true, logger: decodeLogger, clock: clock)
        }
    }
}
