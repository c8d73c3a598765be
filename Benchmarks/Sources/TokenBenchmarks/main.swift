// `authenticate` per second: a token's verification and parsing against its HMAC alone (after
// the two ways libcrypto can compute that HMAC, against each other), then no revocation (the
// baseline) against each revocation store.
// Run from Benchmarks/: `swift run -c release TokenBenchmarks` (see docs/PERFORMANCE.md);
// `swift run -c release TokenBenchmarks verify` runs the first table only.
import BenchmarkSupport
import CHMACBaseline
import Caching
import CachingMemcached
import CachingTesting
import TokenAuth
import TokenRevocation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

let secret = "benchmark-secret-of-at-least-32-bytes!"

// How to compute the HMAC per token with OpenSSL's libcrypto (TokenAuth's Linux backend):
// the one-shot HMAC(), which redoes the key schedule (and, in OpenSSL 3, fetches the
// algorithm) for every message, against an EVP_MAC_CTX keyed once and copied
// (EVP_MAC_CTX_dup) per message. Both in C, over the same signing input.
//
// Then what verifying and parsing a token costs beyond its HMAC: `authenticate(token:)` with
// no store (base64url, the header, the HMAC, the claims into `Token`, the time checks) against
// HMAC-SHA256 alone the way TokenAuth computes it (a keyed context copied per token). The
// smaller the gap, the less the request path spends outside cryptography.
do {
    /// A keyed EVP_MAC_CTX that is only ever read (copied), so it may be shared.
    struct PreparedContext: @unchecked Sendable { let pointer: UnsafeMutableRawPointer }

    let token = try Token.create(
        sub: "user-42", expiresIn: .seconds(3600), isStaff: true, isAdmin: false,
        permissions: ["posts.view", "posts.edit"], extras: ["tenant": "acme"])
    let jwt = try token.encode(secret: secret)
    let signingInput = Array(jwt.utf8[..<jwt.utf8.lastIndex(of: UInt8(ascii: "."))!])
    let key = Array(secret.utf8)
    let oneShot = BenchCase("HMAC-SHA256 of the signing input, one-shot HMAC()") {
        var code = [UInt8](repeating: 0, count: 32)
        let ok = chb_hmac_sha256_oneshot(key, key.count, signingInput, signingInput.count, &code)
        precondition(ok == 1)
    }
    let prepared = PreparedContext(pointer: chb_hmac_sha256_prepare(key, key.count)!)
    let copied = BenchCase("HMAC-SHA256 of the signing input, keyed EVP_MAC_CTX copied per message") {
        var code = [UInt8](repeating: 0, count: 32)
        let ok = chb_hmac_sha256_dup(prepared.pointer, signingInput, signingInput.count, &code)
        precondition(ok == 1)
    }
    let auth = try JWTAuthentication(secret: secret)
    let verifyAndParse = BenchCase("authenticate(token:), no store: verify + parse into Token") {
        let user = try await auth.authenticate(token: jwt)
        precondition(user.userID == "user-42")
    }
    printTableHeader(title: "HMAC-SHA256 per message with libcrypto: keyed context copied against one-shot (C)")
    printRow(try await compare(baseline: oneShot, subject: copied, rounds: 9, roundDuration: 0.5))
    printTableHeader(title: "Token verify + parse against its HMAC alone (HS256, one task)")
    printRow(try await compare(baseline: copied, subject: verifyAndParse, rounds: 9, roundDuration: 0.5))
    chb_hmac_sha256_free(prepared.pointer)
}
if CommandLine.arguments.dropFirst().first == "verify" { exit(0) }

/// One revocation store to measure.
struct Subject {
    var name: String
    var target: Double?
    var makeStore: () async throws -> any RevocationStore
}

/// Forwards to a store but says it may block, so `JWTAuthentication` races every check
/// against its timeout: the cost a network store (memcached) pays on top of its round trip.
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

/// Fills a store with revoked ids, so lookups hit a populated table, not an empty one.
func populate(_ store: any RevocationStore, count: Int) async throws {
    for index in 0..<count {
        try await store.revoke("revoked-\(index)", ttl: .seconds(3600))
    }
}

let subjects: [Subject] = [
    Subject(name: "InMemoryRevocation", target: 0.9) {
        let store = InMemoryRevocation()
        try await populate(store, count: 10_000)
        return store
    },
    Subject(name: "CacheRevocation over LocalMemoryCache", target: nil) {
        let store = try CacheRevocation(cache: Cache.localMemory(maxEntries: 100_000))
        try await populate(store, count: 10_000)
        return store
    },
    Subject(name: "CacheRevocation over Cache, raced against the timeout", target: nil) {
        let store = try CacheRevocation(cache: Cache.localMemory(maxEntries: 100_000))
        try await populate(store, count: 10_000)
        return RacedStore(base: store)
    },
    Subject(name: "CacheRevocation over memcached (a server this benchmark starts)", target: nil) {
        let store = try CacheRevocation(cache: try memcachedCache())
        try await populate(store, count: 10_000)
        return store
    },
]

/// A memcached server on a free loopback port, started once, stopped at the end.
let memcachedServer = try await MemcachedServer.start()
func memcachedCache() throws -> Cache {
    guard let address = MemcachedServerAddress(parsing: memcachedServer.address) else {
        fatalError("unparsable address \(memcachedServer.address)")
    }
    return Cache(try MemcachedBackend(servers: [address]))
}

let token = try Token.create(
    sub: "user-42", expiresIn: .seconds(3600), isStaff: true, permissions: ["posts.view", "posts.edit"],
    extras: ["tenant": "acme"])
let header = "Bearer " + (try token.encode(secret: secret))

let baselineAuth = try JWTAuthentication(secret: secret)
let baseline = BenchCase("no revocation") {
    let user = try await baselineAuth.authenticate(authorization: header)
    precondition(user.userID == "user-42")
}

printTableHeader(title: "JWT authenticate per second (HS256, one task)")
for subject in subjects {
    let auth = try JWTAuthentication(secret: secret, revocationStore: try await subject.makeStore())
    let measured = BenchCase(subject.name) {
        let user = try await auth.authenticate(authorization: header)
        precondition(user.userID == "user-42")
    }
    printRow(try await compare(baseline: baseline, subject: measured, rounds: 7, roundDuration: 0.5), target: subject.target)
}

// A server handles many requests at once: the same comparison with 64 concurrent tasks,
// where concurrent memcached lookups share round trips.
printTableHeader(title: "JWT authenticate per second (HS256, 64 concurrent tasks)")
func concurrently(_ name: String, _ auth: JWTAuthentication) -> BenchCase {
    BenchCase(name, operationsPerCall: 64) {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<64 {
                group.addTask {
                    let user = try await auth.authenticate(authorization: header)
                    precondition(user.userID == "user-42")
                }
            }
            try await group.waitForAll()
        }
    }
}
let concurrentBaseline = concurrently("no revocation, 64 tasks", baselineAuth)
for subject in [subjects[0], subjects[3]] {
    let auth = try JWTAuthentication(secret: secret, revocationStore: try await subject.makeStore())
    printRow(
        try await compare(
            baseline: concurrentBaseline, subject: concurrently(subject.name + ", 64 tasks", auth), rounds: 5, roundDuration: 0.5),
        target: nil)
}
await memcachedServer.stop()
