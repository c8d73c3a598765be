import Caching
import CachingTesting
import Foundation
import InMemoryLogging
import Logging
import Synchronization
import Testing
import TokenRevocation

@testable import TokenAuth

private func refusal(
    _ auth: JWTAuthentication, _ header: String?
) async -> AuthenticationError? {
    do {
        _ = try await auth.authenticate(authorization: header)
        return nil
    } catch {
        return error
    }
}

@Suite("JWTAuthentication: refusals")
struct RefusalTests {
    let clock = ManualCacheClock()

    func auth(_ store: (any RevocationStore)? = nil, algorithms: [JWTAlgorithm] = [.hs256]) throws -> JWTAuthentication {
        try JWTAuthentication(secret: secret, algorithms: algorithms, revocationStore: store, clock: clock)
    }

    func bearer(_ token: Token, algorithm: JWTAlgorithm = .hs256, secret: String = secret) throws -> String {
        "Bearer " + (try token.encode(secret: secret, algorithm: algorithm))
    }

    @Test("a good token authenticates and every claim reaches the context, is_admin included")
    func accepted() async throws {
        let token = try Token.create(
            sub: "42", jti: "j", isStaff: true, isAdmin: true, permissions: ["p.view"], extras: ["tenant": "acme"],
            clock: clock)
        let user = try await auth().authenticate(authorization: bearer(token))
        #expect(user.userID == "42")
        #expect(user.isStaff && user.isAdmin)
        #expect(user.permissions == ["p.view"] && user.hasPermission("p.view"))
        #expect(user.jti == "j" && user.type == .access && user.expiresAt == token.exp && user.issuedAt == token.iat)
        #expect(user.claims["tenant"] == "acme")
        #expect(user.token == token)
        // The scheme is case-insensitive.
        _ = try await auth().authenticate(authorization: "bearer " + token.encode(secret: secret))
    }

    @Test("missing header")
    func missingHeader() async throws {
        #expect(await refusal(try auth(), nil)?.code == .missingHeader)
        #expect(await refusal(try auth(), "")?.code == .missingHeader)
    }

    @Test("not a bearer token")
    func notBearer() async throws {
        let jwt = try Token.create(sub: "1", clock: clock).encode(secret: secret)
        for header in [
            "Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Token " + jwt, jwt, "Bearer\t" + jwt, "Bearerx" + jwt, "Bearer\0" + jwt,
            "Bearer\u{0}" + jwt, "Bearеr " + jwt,
        ] {
            let error = await refusal(try auth(), header)
            #expect(error?.code == .notBearer, "\(header)")
            #expect(error?.httpStatus == 401)
        }
    }

    @Test("malformed: segments, base64url, JSON, header fields, claim types, missing sub or exp")
    func malformed() async throws {
        let now = Int(clock.now())
        let good = #"{"sub":"1","exp":\#(now + 60)}"#
        let cases: [(String, String)] = [
            ("two segments", "abc.def"),
            ("four segments", "a.b.c.d"),
            ("empty segment", "..sig"),
            ("padding", forge(header: #"{"alg":"HS256"}"#, payload: good) + "="),
            ("leading space", "Bearer  " + forge(header: #"{"alg":"HS256"}"#, payload: good)),
            ("header not JSON", forge(header: "alg=HS256", payload: good)),
            ("header an array", forge(header: #"["HS256"]"#, payload: good)),
            ("no alg", forge(header: #"{"typ":"JWT"}"#, payload: good)),
            ("alg not a string", forge(header: #"{"alg":256}"#, payload: good)),
            ("crit", forge(header: #"{"alg":"HS256","crit":["exp"]}"#, payload: good)),
            ("b64", forge(header: #"{"alg":"HS256","b64":false}"#, payload: good)),
            ("duplicate alg", forge(header: #"{"alg":"HS256","alg":"HS256"}"#, payload: good)),
            ("payload not JSON", forge(header: #"{"alg":"HS256"}"#, payload: "sub=1")),
            ("payload an array", forge(header: #"{"alg":"HS256"}"#, payload: "[1]")),
            ("no sub", forge(header: #"{"alg":"HS256"}"#, payload: #"{"exp":\#(now + 60)}"#)),
            ("empty sub", forge(header: #"{"alg":"HS256"}"#, payload: #"{"sub":"","exp":\#(now + 60)}"#)),
            ("integer sub", forge(header: #"{"alg":"HS256"}"#, payload: #"{"sub":1,"exp":\#(now + 60)}"#)),
            ("no exp", forge(header: #"{"alg":"HS256"}"#, payload: #"{"sub":"1"}"#)),
            ("string exp", forge(header: #"{"alg":"HS256"}"#, payload: #"{"sub":"1","exp":"\#(now + 60)"}"#)),
            ("string is_staff", forge(header: #"{"alg":"HS256"}"#, payload: #"{"sub":"1","exp":\#(now + 60),"is_staff":"yes"}"#)),
            ("permissions not strings", forge(header: #"{"alg":"HS256"}"#, payload: #"{"sub":"1","exp":\#(now + 60),"permissions":[1]}"#)),
            ("duplicate sub", forge(header: #"{"alg":"HS256"}"#, payload: #"{"sub":"1","sub":"2","exp":\#(now + 60)}"#)),
            ("huge", String(repeating: "a", count: 9000) + ".b.c"),
        ]
        for (name, token) in cases {
            let header = token.hasPrefix("Bearer") ? token : "Bearer " + token
            let error = await refusal(try auth(), header)
            #expect(error?.code == .malformed, "\(name): \(String(describing: error))")
        }
    }

    @Test("bad signature: another secret, a changed payload")
    func badSignature() async throws {
        let token = try Token.create(sub: "1", clock: clock)
        #expect(await refusal(try auth(), try bearer(token, secret: "another-secret-another-secret-!!"))?.code == .badSignature)
        let jwt = try token.encode(secret: secret)
        let parts = jwt.split(separator: ".")
        var changed = token
        changed.sub = "2"
        let otherPayload = try changed.encode(secret: secret).split(separator: ".")[1]
        #expect(await refusal(try auth(), "Bearer \(parts[0]).\(otherPayload).\(parts[2])")?.code == .badSignature)
    }

    @Test("algorithm not allowed: none (any case), another HMAC, asymmetric names")
    func algorithmNotAllowed() async throws {
        let now = Int(clock.now())
        let payload = #"{"sub":"1","exp":\#(now + 60)}"#
        let unsigned = { (alg: String) in
            Base64URL.encode(Array(#"{"alg":"\#(alg)"}"#.utf8)) + "." + Base64URL.encode(Array(payload.utf8)) + "."
        }
        for alg in ["none", "None", "NONE", "nOnE"] {
            #expect(await refusal(try auth(), "Bearer " + unsigned(alg) + "c2ln")?.code == .algorithmNotAllowed, "\(alg)")
        }
        for alg in ["RS256", "ES256", "hs256", "HS256 ", ""] {
            let token = forge(header: #"{"alg":"\#(alg)"}"#, payload: payload)
            #expect(await refusal(try auth(), "Bearer " + token)?.code == .algorithmNotAllowed, "\(alg)")
        }
        // HS384-signed with the same secret, while only HS256 is allowed.
        let hs384 = try Token.create(sub: "1", clock: clock)
        #expect(await refusal(try auth(), try bearer(hs384, algorithm: .hs384))?.code == .algorithmNotAllowed)
        // Allowed, but the header says HS384 over an HS256 signature.
        let lying = forge(header: #"{"alg":"HS384"}"#, payload: payload, algorithm: .hs256)
        #expect(await refusal(try auth(algorithms: [.hs256, .hs384]), "Bearer " + lying)?.code == .badSignature)
        // kid never selects a key.
        let withKid = forge(header: #"{"alg":"HS256","kid":"other"}"#, payload: payload)
        _ = try await auth().authenticate(authorization: "Bearer " + withKid)
    }

    @Test("expired and not yet valid, with the leeway applied")
    func times() async throws {
        let token = try Token.create(sub: "1", expiresIn: .seconds(10), clock: clock)
        let header = try bearer(token)
        let auth = try auth()
        clock.advance(by: 69)
        _ = try await auth.authenticate(authorization: header)
        clock.advance(by: 1)
        let expired = await refusal(auth, header)
        #expect(expired?.code == .expired && expired?.httpStatus == 401)

        let now = clock.now()
        var future = try Token.create(sub: "1", clock: clock)
        future.nbf = now + 61
        #expect(await refusal(auth, try bearer(future))?.code == .notYetValid)
        future.nbf = now + 60
        _ = try await auth.authenticate(authorization: try bearer(future))
        var issuedLater = try Token.create(sub: "1", clock: clock)
        issuedLater.iat = now + 3600
        #expect(await refusal(auth, try bearer(issuedLater))?.code == .notYetValid)
    }

    @Test("missing jti when a store is configured (requireJTI turns on by itself)")
    func missingJTI() async throws {
        let token = try Token.create(sub: "1", jti: nil, clock: clock)
        _ = try await auth().authenticate(authorization: bearer(token))
        let withStore = try auth(InMemoryRevocation(clock: clock))
        #expect(withStore.requireJTI)
        #expect(await refusal(withStore, try bearer(token))?.code == .missingJTI)
        let withHandler = try JWTAuthentication(secret: secret, revokedTokenHandler: { _ in false }, clock: clock)
        #expect(withHandler.requireJTI)
        #expect(await refusal(withHandler, try bearer(token))?.code == .missingJTI)
        let explicit = try JWTAuthentication(secret: secret, requireJTI: true, clock: clock)
        #expect(await refusal(explicit, try bearer(token))?.code == .missingJTI)
    }

    @Test("wrong token type: a refresh token where access is expected, and the reverse")
    func wrongType() async throws {
        let refresh = try Token.create(sub: "1", expiresIn: .seconds(30 * 86_400), type: .refresh, clock: clock)
        #expect(await refusal(try auth(), try bearer(refresh))?.code == .wrongTokenType)
        let odd = try Token.create(sub: "1", type: TokenType("id"), clock: clock)
        #expect(await refusal(try auth(), try bearer(odd))?.code == .wrongTokenType)
        let refreshEndpoint = try JWTAuthentication(secret: secret, expectedType: .refresh, clock: clock)
        _ = try await refreshEndpoint.authenticate(authorization: try bearer(refresh))
        let access = try Token.create(sub: "1", clock: clock)
        #expect(await refusal(refreshEndpoint, try bearer(access))?.code == .wrongTokenType)
        // No typ: an access token (Django-Bolt's rule) unless a type is required.
        var untyped = access
        untyped.type = nil
        _ = try await auth().authenticate(authorization: try bearer(untyped))
        #expect(await refusal(refreshEndpoint, try bearer(untyped))?.code == .wrongTokenType)
        let strict = try JWTAuthentication(secret: secret, requireTokenType: true, clock: clock)
        #expect(await refusal(strict, try bearer(untyped))?.code == .wrongTokenType)
    }

    @Test("a jti or sub the cache cannot hold is refused as malformed, not as unavailable")
    func unstorableIdentifiers() async throws {
        let auth = try auth(
            try CacheRevocation(cache: Cache.localMemory(whenFull: .refuse, configuration: CacheConfiguration(clock: clock))))
        let spaced = try Token.create(sub: "1", jti: "has space", clock: clock)
        #expect(await refusal(auth, try bearer(spaced))?.code == .malformed)
        let longSub = try Token.create(sub: String(repeating: "u", count: 300), clock: clock)
        #expect(await refusal(auth, try bearer(longSub))?.code == .malformed)
    }

    @Test("the configuration is checked")
    func configuration() {
        #expect(throws: TokenError.self) { try JWTAuthentication(secret: "") }
        #expect(throws: TokenError.self) { try JWTAuthentication(secret: secret, algorithms: []) }
        #expect(throws: TokenError.self) { try JWTAuthentication(secret: secret, leeway: .seconds(-1)) }
        #expect(throws: TokenError.self) { try JWTAuthentication(secret: secret, revocationTimeout: .zero) }
    }
}

@Suite("JWTAuthentication: revocation")
struct RevocationFlowTests {
    /// Each store kind authentication is exercised against. Authentication over memcached is
    /// exercised end to end by the logout server's tests (Examples/LogoutServer).
    /// "file" is a FileCache: file I/O, so every check runs under the timeout race.
    static let stores: [String] = ["in-memory", "cache", "file"]
    /// These tests are about revocation logic, not the timeout: generous, so a file store on a
    /// machine busy with the rest of the suite is not cut off (it would be refused, correctly).
    static let timeout = Duration.seconds(30)

    /// - Parameter directories: Where the file store's directory is recorded, for removal.
    func store(_ kind: String, clock: ManualCacheClock, directories: TemporaryDirectories) throws -> any RevocationStore {
        switch kind {
        case "in-memory": return InMemoryRevocation(clock: clock)
        case "cache":
            return try CacheRevocation(cache: Cache.localMemory(whenFull: .refuse, configuration: CacheConfiguration(clock: clock)))
        default:
            let directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("token-auth-\(UInt64.random(in: 0...UInt64.max))").path
            directories.add(directory)
            let store = try CacheRevocation(
                cache: try Cache.file(
                    directory: directory, maxEntries: 10_000, whenFull: .refuse, configuration: CacheConfiguration(clock: clock)))
            #expect(store.answersInProcess == false)
            return store
        }
    }

    @Test("logout revokes until exp + leeway: the token never comes back to life", arguments: stores)
    func logout(kind: String) async throws {
        let directories = TemporaryDirectories()
        defer { directories.removeAll() }
        let clock = ManualCacheClock()
        let auth = try JWTAuthentication(
            secret: secret, revocationStore: try store(kind, clock: clock, directories: directories), revocationTimeout: Self.timeout,
            clock: clock)
        let token = try Token.create(sub: "1", expiresIn: .seconds(300), clock: clock)
        let header = "Bearer " + (try token.encode(secret: secret))
        let user = try await auth.authenticate(authorization: header)
        try await auth.logout(user)
        #expect(await refusal(auth, header)?.code == .revoked)
        for offset in [299.0, 300, 330, 359] {
            clock.set(to: token.exp - 300 + offset)
            #expect(await refusal(auth, header)?.code == .revoked, "at exp\(offset >= 300 ? "+" : "-")\(abs(offset - 300))")
        }
        clock.set(to: token.exp + 60)
        #expect(await refusal(auth, header)?.code == .expired)
        // Another token of the same user is untouched.
        let other = try Token.create(sub: "1", clock: clock)
        _ = try await auth.authenticate(authorization: "Bearer " + other.encode(secret: secret))
    }

    @Test("logout everywhere refuses every earlier token of the subject, and only of that subject", arguments: stores)
    func logoutEverywhere(kind: String) async throws {
        let directories = TemporaryDirectories()
        defer { directories.removeAll() }
        let clock = ManualCacheClock(start: 1_767_225_600.25)
        let auth = try JWTAuthentication(
            secret: secret, revocationStore: try store(kind, clock: clock, directories: directories), revocationTimeout: Self.timeout,
            clock: clock)
        let aliceOld = "Bearer " + (try Token.create(sub: "alice", clock: clock).encode(secret: secret))
        let bob = "Bearer " + (try Token.create(sub: "bob", clock: clock).encode(secret: secret))
        clock.advance(by: 5)
        try await auth.logoutEverywhere(subject: "alice", maxTokenLifetime: .seconds(3600))
        let error = await refusal(auth, aliceOld)
        #expect(error?.code == .revokedByLogoutEverywhere && error?.httpStatus == 401)
        _ = try await auth.authenticate(authorization: bob)
        clock.advance(by: 1)
        let aliceNew = "Bearer " + (try Token.create(sub: "alice", clock: clock).encode(secret: secret))
        _ = try await auth.authenticate(authorization: aliceNew)
        // A token without iat cannot show it is newer than the cut-off.
        var noIat = try Token.create(sub: "alice", clock: clock)
        noIat.iat = nil
        #expect(try await refusal(auth, "Bearer " + noIat.encode(secret: secret))?.code == .revokedByLogoutEverywhere)
    }

    @Test("logout everywhere refuses a token with a fractional iat issued earlier in the same second", arguments: stores)
    func fractionalIssuedAt(kind: String) async throws {
        let directories = TemporaryDirectories()
        defer { directories.removeAll() }
        let clock = ManualCacheClock(start: 1_767_225_600.7)
        let auth = try JWTAuthentication(
            secret: secret, revocationStore: try store(kind, clock: clock, directories: directories), revocationTimeout: Self.timeout,
            clock: clock)
        // A peer (PyJWT) may write iat with a fraction: issued at .3, logout at .7 of one second.
        let early = Token(sub: "alice", exp: 1_767_229_200, iat: 1_767_225_600.3, jti: Token.randomID())
        try await auth.logoutEverywhere(subject: "alice", maxTokenLifetime: .seconds(3600))
        #expect(try await refusal(auth, "Bearer " + early.encode(secret: secret))?.code == .revokedByLogoutEverywhere)
        let later = Token(sub: "alice", exp: 1_767_229_200, iat: 1_767_225_600.9, jti: Token.randomID())
        _ = try await auth.authenticate(authorization: "Bearer " + later.encode(secret: secret))
    }

    @Test("refresh rotation: consume once, a replay is detected and revokes the family", arguments: stores)
    func rotation(kind: String) async throws {
        let directories = TemporaryDirectories()
        defer { directories.removeAll() }
        let clock = ManualCacheClock()
        let revocation = try store(kind, clock: clock, directories: directories)
        let refreshAuth = try JWTAuthentication(
            secret: secret, revocationStore: revocation, expectedType: .refresh, revocationTimeout: Self.timeout, clock: clock)
        let first = try Token.create(sub: "1", expiresIn: .seconds(86_400), type: .refresh, family: "fam-A", clock: clock)
        let firstHeader = "Bearer " + (try first.encode(secret: secret))
        let presented = try await refreshAuth.authenticate(authorization: firstHeader)
        #expect(try await revocation.consume(presented.jti!, expiresAt: presented.expiresAt, leeway: refreshAuth.leeway))
        // The rotated-out token is now refused by authentication itself...
        #expect(await refusal(refreshAuth, firstHeader)?.code == .revoked)
        // ...and a second consume (a replay that raced past authentication) fails: revoke the family.
        let second = try Token.create(sub: "1", expiresIn: .seconds(86_400), type: .refresh, family: "fam-A", clock: clock)
        let secondHeader = "Bearer " + (try second.encode(secret: secret))
        _ = try await refreshAuth.authenticate(authorization: secondHeader)
        #expect(try await revocation.consume(presented.jti!, ttl: .seconds(86_460)) == false)
        try await revocation.revokeFamily("fam-A", ttl: .seconds(86_460))
        let error = await refusal(refreshAuth, secondHeader)
        #expect(error?.code == .revoked && error?.message.contains("family") == true)
        // Another family is untouched.
        let other = try Token.create(sub: "1", type: .refresh, family: "fam-B", clock: clock)
        _ = try await refreshAuth.authenticate(authorization: "Bearer " + other.encode(secret: secret))
    }

    @Test("a custom handler decides revocation")
    func handler() async throws {
        let clock = ManualCacheClock()
        let auth = try JWTAuthentication(secret: secret, revokedTokenHandler: { $0 == "bad" }, clock: clock)
        let bad = try Token.create(sub: "1", jti: "bad", clock: clock)
        #expect(try await refusal(auth, "Bearer " + bad.encode(secret: secret))?.code == .revoked)
        let good = try Token.create(sub: "1", jti: "good", clock: clock)
        _ = try await auth.authenticate(authorization: "Bearer " + good.encode(secret: secret))
    }

    @Test("a cache alias resolved per request: Caches.withOverride reaches the timed check")
    func overrideReachesCheck() async throws {
        let clock = ManualCacheClock()
        let caches = try Caches(
            [
                "default": CacheSettings(
                    backend: "locmem", location: "auth-override-\(UInt64.random(in: 0...UInt64.max))", options: ["WHEN_FULL": "refuse"])
            ],
            clock: clock)
        #expect(try CacheRevocation(caches: caches).answersInProcess, "local memory cannot hang: no race")
        #expect(try CacheRevocation(cache: Cache.failing()).answersInProcess == false)
        let auth = try JWTAuthentication(
            secret: secret, revocationStore: RacedStore(base: try CacheRevocation(caches: caches)), clock: clock)
        #expect(auth.revocationStore?.answersInProcess == false, "the check runs under the timeout race")
        let token = try Token.create(sub: "1", jti: "in-override", clock: clock)
        let header = "Bearer " + (try token.encode(secret: secret))
        let replacement = Cache.localMemory(whenFull: .refuse, configuration: CacheConfiguration(clock: clock))
        try await CacheRevocation(cache: replacement).revoke("in-override", ttl: .seconds(60))
        _ = try await auth.authenticate(authorization: header)
        let inside = await caches.withOverride("default", replacement) { await refusal(auth, header) }
        #expect(inside?.code == .revoked)
    }
}

@Suite("JWTAuthentication: fail closed")
struct FailClosedTests {
    @Test("a store that throws: revocationUnavailable, HTTP 503")
    func throwingStore() async throws {
        let clock = ManualCacheClock()
        let auth = try JWTAuthentication(secret: secret, revocationStore: ThrowingStore(), clock: clock)
        let header = "Bearer " + (try Token.create(sub: "1", clock: clock).encode(secret: secret))
        let error = await refusal(auth, header)
        #expect(error?.code == .revocationUnavailable)
        #expect(error?.httpStatus == 503)
        #expect(error?.underlying is ThrowingStore.Down)
        let cacheDown = try JWTAuthentication(
            secret: secret, revocationStore: try CacheRevocation(cache: Cache.failing()), clock: clock)
        #expect(await refusal(cacheDown, header)?.code == .revocationUnavailable)
        let handlerDown = try JWTAuthentication(
            secret: secret, revokedTokenHandler: { _ in throw ThrowingStore.Down() }, clock: clock)
        #expect(await refusal(handlerDown, header)?.code == .revocationUnavailable)
    }

    @Test("a store that hangs (ignoring cancellation) is cut off at the timeout; the test finishes fast")
    func hangingStore() async throws {
        let clock = ManualCacheClock()
        let hanging = HangingStore()
        defer { hanging.release() }
        let auth = try JWTAuthentication(
            secret: secret, revocationStore: hanging, revocationTimeout: .milliseconds(100), clock: clock)
        let header = "Bearer " + (try Token.create(sub: "1", clock: clock).encode(secret: secret))
        let start = ContinuousClock.now
        let errors = await withTaskGroup(of: AuthenticationError?.self) { group in
            for _ in 0..<5 { group.addTask { await refusal(auth, header) } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let elapsed = ContinuousClock.now - start
        #expect(errors.count == 5)
        #expect(errors.allSatisfy { $0?.code == .revocationUnavailable })
        #expect(errors.first??.message.contains("did not answer within") == true)
        #expect(elapsed >= .milliseconds(100))
        // A hang would never end (the store waits until `release()`); the wide margin over
        // 100 ms absorbs a 2-core machine whose cooperative threads are busy with CPU-heavy
        // suites running in parallel (6 s was seen at load 9 while the pickle fuzz ran).
        #expect(elapsed < .seconds(20), "bounded by the timeout, took \(elapsed)")
    }

    @Test("fail open is explicit: the token is accepted and a warning is logged")
    func failOpen() async throws {
        let clock = ManualCacheClock()
        let logging = InMemoryLogHandler()
        let logger = Logger(label: "test", factory: { _ in logging })
        let auth = try JWTAuthentication(
            secret: secret, revocationStore: ThrowingStore(), failOpen: true, logger: logger, clock: clock)
        let token = try Token.create(sub: "7", jti: "j-7", clock: clock)
        let user = try await auth.authenticate(authorization: "Bearer " + token.encode(secret: secret))
        #expect(user.userID == "7")
        let warnings = logging.entries.filter { $0.level == .warning }
        #expect(warnings.count == 1)
        #expect(warnings.first?.message.description.contains("failOpen") == true)
        #expect(warnings.first?.metadata["token.jti"] == "j-7")

        let hanging = HangingStore()
        defer { hanging.release() }
        let openHanging = try JWTAuthentication(
            secret: secret, revocationStore: hanging, revocationTimeout: .milliseconds(50), failOpen: true,
            logger: logger, clock: clock)
        _ = try await openHanging.authenticate(authorization: "Bearer " + token.encode(secret: secret))
        // Fail-open never overrides a real answer: a revoked token stays refused.
        let store = InMemoryRevocation(clock: clock)
        try await store.revoke("j-7", ttl: .seconds(60))
        let open = try JWTAuthentication(secret: secret, revocationStore: store, failOpen: true, clock: clock)
        #expect(try await refusal(open, "Bearer " + token.encode(secret: secret))?.code == .revoked)
    }

    @Test("logout through a failing store throws: it never reports success without revoking")
    func logoutFails() async throws {
        let clock = ManualCacheClock()
        let auth = try JWTAuthentication(
            secret: secret, revocationStore: try CacheRevocation(cache: Cache.failing(configuration: CacheConfiguration(clock: clock))),
            failOpen: true, clock: clock)
        let user = AuthenticatedUser(token: try Token.create(sub: "1", clock: clock))
        await #expect(throws: RevocationError.self) { try await auth.logout(user) }
        await #expect(throws: RevocationError.self) {
            try await auth.logoutEverywhere(subject: "1", maxTokenLifetime: .seconds(60))
        }
    }
}

/// Temporary directories to remove at the end of a test.
final class TemporaryDirectories: Sendable {
    private let paths = Mutex<[String]>([])

    func add(_ path: String) { paths.withLock { $0.append(path) } }

    func removeAll() {
        let all = paths.withLock { paths in
            defer { paths = [] }
            return paths
        }
        for path in all { try? FileManager.default.removeItem(atPath: path) }
    }
}
