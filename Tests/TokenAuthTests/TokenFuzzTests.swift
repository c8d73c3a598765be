import Caching
import CachingTesting
import Testing
import TokenRevocation

@testable import TokenAuth

/// Makes one mutation of a valid token.
struct TokenMutator {
    let original: String
    let segments: [String]

    init(_ token: String) {
        original = token
        segments = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    }

    static let kinds = [
        "flip bit", "replace byte", "swap segments", "duplicate segment", "remove segment", "alg none",
        "alg other HMAC", "huge header", "padding", "whitespace", "truncate", "append", "wrong key",
        "non-UTF-8 segment", "case change", "delete byte", "header with junk alg",
    ]

    func mutate(_ kind: String, using rng: inout SeededRandomNumberGenerator) -> String {
        var bytes = Array(original.utf8)
        let position = Int.random(in: 0..<bytes.count, using: &rng)
        switch kind {
        case "flip bit":
            bytes[position] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &rng)
            return String(decoding: bytes, as: UTF8.self)
        case "replace byte":
            bytes[position] = UInt8.random(in: 0...255, using: &rng)
            return String(decoding: bytes, as: UTF8.self)
        case "swap segments":
            var parts = segments
            let (a, b) = [(0, 1), (0, 2), (1, 2)].randomElement(using: &rng)!
            parts.swapAt(a, b)
            return parts.joined(separator: ".")
        case "duplicate segment":
            var parts = segments
            let index = Int.random(in: 0..<3, using: &rng)
            if Bool.random(using: &rng) {
                parts.insert(parts[index], at: Int.random(in: 0...3, using: &rng))
            } else {
                parts[Int.random(in: 0..<3, using: &rng)] = parts[index]
            }
            return parts.joined(separator: ".")
        case "remove segment":
            var parts = segments
            parts.remove(at: Int.random(in: 0..<3, using: &rng))
            return parts.joined(separator: Bool.random(using: &rng) ? "." : "..")
        case "alg none":
            let alg = ["none", "None", "NONE", "nOnE"].randomElement(using: &rng)!
            let header = Base64URL.encode(Array(#"{"alg":"\#(alg)","typ":"JWT"}"#.utf8))
            let signature = [segments[2], "", "AA"].randomElement(using: &rng)!
            return header + "." + segments[1] + "." + signature
        case "alg other HMAC":
            let alg = ["HS384", "HS512", "hs256", "HS256 "].randomElement(using: &rng)!
            let header = Base64URL.encode(Array(#"{"alg":"\#(alg)","typ":"JWT"}"#.utf8))
            return header + "." + segments[1] + "." + segments[2]
        case "huge header":
            let size = [1_000, 6_000, 20_000].randomElement(using: &rng)!
            let header = #"{"alg":"HS256","typ":"JWT","x":""# + String(repeating: "A", count: size) + #""}"#
            return Base64URL.encode(Array(header.utf8)) + "." + segments[1] + "." + segments[2]
        case "padding":
            let index = bytes.indices.randomElement(using: &rng)!
            bytes.insert(contentsOf: Array(String(repeating: "=", count: Int.random(in: 1...2, using: &rng)).utf8), at: index)
            return Bool.random(using: &rng) ? String(decoding: bytes, as: UTF8.self) : original + "=="
        case "whitespace":
            let space = [" ", "\t", "\n", "\r\n", "\u{00A0}"].randomElement(using: &rng)!
            bytes.insert(contentsOf: Array(space.utf8), at: Int.random(in: 0...bytes.count, using: &rng))
            return String(decoding: bytes, as: UTF8.self)
        case "truncate":
            return String(decoding: bytes.prefix(position), as: UTF8.self)
        case "append":
            let extra = ["A", "a", ".", "=", "AAAA", "%", "\u{FFFD}"].randomElement(using: &rng)!
            return original + extra
        case "wrong key":
            let key = Array("attacker-guess-\(rng.next())".utf8)
            let input = segments[0] + "." + segments[1]
            return input + "." + Base64URL.encode(JWTAlgorithm.hs256.sign(Array(input.utf8), key: key))
        case "non-UTF-8 segment":
            var junk = (0..<Int.random(in: 1...40, using: &rng)).map { _ in UInt8.random(in: 0x80...0xFF, using: &rng) }
            if Bool.random(using: &rng) { junk = Array(#"{"alg":"HS256","x":""#.utf8) + junk + Array(#""}"#.utf8) }
            var parts = segments
            parts[Int.random(in: 0..<2, using: &rng)] = Base64URL.encode(junk)
            return parts.joined(separator: ".")
        case "case change":
            let index = bytes.indices.filter { (0x41...0x5A).contains(bytes[$0]) || (0x61...0x7A).contains(bytes[$0]) }
                .randomElement(using: &rng)!
            bytes[index] ^= 0x20
            return String(decoding: bytes, as: UTF8.self)
        case "delete byte":
            bytes.remove(at: position)
            return String(decoding: bytes, as: UTF8.self)
        default:  // header with junk alg
            let junk = ["RS256", "ES256", "PS256", "EdDSA", "", "HS1", "HS256\u{0}"].randomElement(using: &rng)!
            let header = Base64URL.encode(Array(#"{"alg":"\#(junk)"}"#.utf8))
            return header + "." + segments[1] + "." + segments[2]
        }
    }
}

@Suite("Fuzz: mutated tokens")
struct TokenFuzzTests {
    @Test("10,000 mutated tokens: none accepted, no crash (seeded, reproducible)")
    func mutatedTokens() async throws {
        let clock = ManualCacheClock()
        let auth = try JWTAuthentication(
            secret: secret, algorithms: [.hs256, .hs384], revocationStore: InMemoryRevocation(clock: clock), clock: clock)
        let token = try Token.create(
            sub: "user-1", permissions: ["a", "b"], extras: ["tenant": "acme"], clock: clock)
        let original = try token.encode(secret: secret)
        _ = try await auth.authenticate(authorization: "Bearer " + original)  // the unmutated token is good

        let seed: UInt64 = 0x5EED_2026_1129
        var rng = SeededRandomNumberGenerator(seed: seed)
        let mutator = TokenMutator(original)
        var codes: [String: Int] = [:]
        var tried = 0
        var index = 0
        while tried < 10_000 {
            index += 1
            let kind = TokenMutator.kinds.randomElement(using: &rng)!
            let mutated = mutator.mutate(kind, using: &rng)
            guard mutated != original else { continue }
            tried += 1
            if tried % 64 == 0 { await Task.yield() }  // share the cooperative threads with timing tests
            do {
                let user = try await auth.authenticate(authorization: "Bearer " + mutated)
                Issue.record("mutation #\(index) (\(kind), seed \(seed)) was ACCEPTED for \(user.userID): \(mutated)")
            } catch {
                codes[error.code.description, default: 0] += 1
            }
            if (try? Token.decode(mutated, secret: secret, algorithms: [.hs256, .hs384], clock: clock)) != nil {
                Issue.record("mutation #\(index) (\(kind)) decoded: \(mutated)")
            }
        }
        #expect(codes.values.reduce(0, +) == 10_000)
        // The refusals are for the expected reasons, each seen.
        for code in ["malformed", "badSignature", "algorithmNotAllowed"] {
            #expect((codes[code] ?? 0) > 100, "\(code): \(codes)")
        }
        // notBearer: a mutation truncated to nothing leaves "Bearer " alone.
        #expect(Set(codes.keys).isSubset(of: ["malformed", "badSignature", "algorithmNotAllowed", "notBearer"]), "\(codes)")
    }

    @Test("random bytes and random base64url segments never crash the parser")
    func randomInput() async throws {
        var rng = SeededRandomNumberGenerator(seed: 42)
        for round in 0..<3_000 {
            if round % 64 == 0 { await Task.yield() }
            let bytes = (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = try? JSONParser.parse(bytes)
            _ = Base64URL.decode(bytes)
            let parts = (0..<3).map { _ in
                Base64URL.encode((0..<Int.random(in: 0...48, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
            }
            #expect(throws: AuthenticationError.self) { try Token.decode(parts.joined(separator: "."), secret: secret) }
        }
    }
}
