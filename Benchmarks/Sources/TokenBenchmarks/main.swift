// `authenticate` per second: no revocation (the baseline) against each revocation store.
// Run from Benchmarks/: `swift run -c release TokenBenchmarks` (see docs/PERFORMANCE.md).
import BenchmarkSupport
import Caching
import TokenAuth
import TokenRevocation

let secret = "benchmark-secret-of-at-least-32-bytes!"

/// One revocation store to measure. The memcached store is one more entry in `subjects`
/// (a `CacheRevocation(cache: MemcachedCache(...))` against a server the benchmark starts).
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
        let store = CacheRevocation(cache: LocalMemoryCache(maxEntries: 100_000))
        try await populate(store, count: 10_000)
        return store
    },
    Subject(name: "CacheRevocation over LocalMemoryCache, raced against the timeout", target: nil) {
        let store = CacheRevocation(cache: LocalMemoryCache(maxEntries: 100_000))
        try await populate(store, count: 10_000)
        return RacedStore(base: store)
    },
    // Subject(name: "CacheRevocation over memcached", target: nil) { ... },  // added with CachingMemcached
]

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
