import Caching
import CachingTesting
import Foundation
import Testing
import TokenRevocation

@Suite("CacheRevocation")
struct CacheRevocationTests {
    @Test("the stored key is revoked:{jti} through the alias's prefix and version, byte for byte")
    func storedKey() async throws {
        let clock = ManualCacheClock()
        let cache = Cache.localMemory(whenFull: .refuse, configuration: CacheConfiguration(clock: clock))
        let revocation = try CacheRevocation(cache: cache)
        try await revocation.revoke("abc", ttl: .seconds(60))
        #expect(try revocation.madeKey(forJTI: "abc") == ":1:revoked:abc")
        #expect(Array(try revocation.madeKey(forJTI: "abc").utf8) == Array(":1:revoked:abc".utf8))
        #expect(try await cache.backend.containsEntry(forKey: ":1:revoked:abc"))
        #expect((cache.backend as! LocalMemoryBackend).entryCount == 1)
        // The value is the entry's end, whole seconds: an integer a Python client reads natively.
        #expect(try await cache.get("revoked:abc", as: Int.self) == Int(clock.now()) + 60)

        let prefixed = Cache.localMemory(whenFull: .refuse, configuration: CacheConfiguration(keyPrefix: "app", version: 2, clock: clock))
        try await CacheRevocation(cache: prefixed).revoke("abc", ttl: .seconds(60))
        #expect(try await prefixed.backend.containsEntry(forKey: "app:2:revoked:abc"))

        let custom = Cache.localMemory(whenFull: .refuse, configuration: CacheConfiguration(clock: clock))
        let customRevocation = try CacheRevocation(cache: custom, keyPrefix: "rv:")
        try await customRevocation.revoke("abc", ttl: .seconds(60))
        #expect(try await custom.backend.containsEntry(forKey: ":1:rv:abc"))
        #expect(try customRevocation.madeKey(forJTI: "abc") == ":1:rv:abc")
    }

    @Test("family and subject entries use their own prefixes")
    func otherKeys() async throws {
        let cache = Cache.localMemory(whenFull: .refuse)
        let revocation = try CacheRevocation(cache: cache)
        try await revocation.revokeFamily("f1", ttl: .seconds(60))
        try await revocation.revokeAll(subject: "alice", issuedBefore: 1_767_225_600.9, ttl: .seconds(60))
        #expect(try await cache.backend.containsEntry(forKey: ":1:revoked-family:f1"))
        #expect(try await cache.get("revoked-subject:alice", as: String.self)?.hasPrefix("1767225600.9:") == true)
        #expect(try await revocation.revokedBefore(subject: "alice") == 1_767_225_600.9)
    }

    @Test("a revocation written by a Django-Bolt peer ('1' under revoked:{jti}) is honoured")
    func djangoBoltValue() async throws {
        let cache = Cache.localMemory(whenFull: .refuse)
        try await cache.set("revoked:from-django", "1", timeout: 60)
        #expect(try await CacheRevocation(cache: cache).isRevoked("from-django"))
    }

    @Test("a jti that cannot be a cache key is refused before any I/O; other keys untouched")
    func invalidJTIs() async throws {
        let cache = Cache.localMemory(whenFull: .refuse)
        let revocation = try CacheRevocation(cache: cache)
        try await revocation.revoke("kept", ttl: .seconds(60))
        let bad = ["has space", "tab\there", "new\nline", String(repeating: "x", count: 250), "del\u{7F}"]
        for jti in bad {
            let error = await #expect(throws: RevocationError.self) { try await revocation.revoke(jti, ttl: .seconds(60)) }
            #expect(error?.code == .invalidIdentifier)
            #expect(error?.message.contains("cannot be stored") == true)
            await #expect(throws: RevocationError.self) { try await revocation.isRevoked(jti) }
            await #expect(throws: RevocationError.self) { try await revocation.consume(jti, ttl: .seconds(60)) }
        }
        // The longest jti that fits: 250 bytes minus ":1:revoked:".
        let longest = String(repeating: "y", count: 250 - ":1:revoked:".utf8.count)
        try await revocation.revoke(longest, ttl: .seconds(60))
        #expect(try await revocation.isRevoked(longest))
        #expect((cache.backend as! LocalMemoryBackend).entryCount == 2)
        #expect(try await revocation.isRevoked("kept"))
    }

    @Test("a failing backend throws storeFailure: a logout never reports success, a miss is never assumed")
    func failingBackend() async throws {
        let revocation = try CacheRevocation(cache: Cache.failing())
        let write = await #expect(throws: RevocationError.self) { try await revocation.revoke("a", ttl: .seconds(60)) }
        #expect(write?.code == .storeFailure)
        #expect(write?.underlying is FailingBackend.Down)
        let read = await #expect(throws: RevocationError.self) { try await revocation.isRevoked("a") }
        #expect(read?.code == .storeFailure)
        await #expect(throws: RevocationError.self) { try await revocation.consume("a", ttl: .seconds(60)) }
        await #expect(throws: RevocationError.self) { try await revocation.check(RevocationQuery(jti: "a", subject: "s")) }
        await #expect(throws: RevocationError.self) { try await revocation.revokeAll(subject: "s", ttl: .seconds(60)) }
    }

    @Test(
        "two Caches over one Cache directory (or one local-memory LOCATION) see each other's revocations",
        arguments: ["file", "locmem"])
    func sharedBetweenCaches(backend: String) async throws {
        let clock = ManualCacheClock()
        let location =
            backend == "file"
            ? FileManager.default.temporaryDirectory.appendingPathComponent("revocation-\(UniqueID.make())").path
            : "shared-revocation-\(UniqueID.make())"
        defer { if backend == "file" { try? FileManager.default.removeItem(atPath: location) } }
        let settings = ["default": CacheSettings(backend: backend, location: location, options: ["WHEN_FULL": "refuse"])]
        let first = try CacheRevocation(caches: try Caches(settings, clock: clock))
        let second = try CacheRevocation(caches: try Caches(settings, clock: clock))
        try await first.revoke("jti-1", ttl: .seconds(30))
        #expect(try await second.isRevoked("jti-1"))
        #expect(try await second.consume("once", ttl: .seconds(30)))
        #expect(try await first.consume("once", ttl: .seconds(30)) == false)
        try await second.revokeAll(subject: "alice", ttl: .seconds(30))
        #expect(try await first.revokedBefore(subject: "alice") == clock.now())
        // The stored key is the same file for both: Django's made key, byte for byte.
        #expect(try second.madeKey(forJTI: "jti-1") == ":1:revoked:jti-1")
        let firstCache = try Caches(settings, clock: clock).default
        #expect(try await firstCache.backend.containsEntry(forKey: ":1:revoked:jti-1"))
        clock.advance(by: 30)
        #expect(try await second.isRevoked("jti-1") == false)
    }

    @Test("an alias is resolved per call, so Caches.withOverride replaces it")
    func override() async throws {
        let caches = try Caches([
            "default": CacheSettings(backend: "locmem", location: "override-\(UniqueID.make())", options: ["WHEN_FULL": "refuse"])
        ])
        let revocation = try CacheRevocation(caches: caches)
        let replacement = Cache.localMemory(whenFull: .refuse)
        try await caches.withOverride("default", replacement) {
            try await revocation.revoke("inside", ttl: .seconds(60))
        }
        #expect(try await replacement.backend.containsEntry(forKey: ":1:revoked:inside"))
        #expect(try await revocation.isRevoked("inside") == false)
    }

    @Test("an unknown alias is a storeFailure naming it, at construction")
    func unknownAlias() async throws {
        let error = #expect(throws: RevocationError.self) { try CacheRevocation(caches: try Caches([:]), alias: "missing") }
        #expect(error?.code == .storeFailure)
        #expect(error?.message.contains("'missing'") == true)
    }
}

@Suite("InMemoryRevocation")
struct InMemoryRevocationTests {
    @Test("expired entries are reclaimed, not only hidden")
    func reclaim() async throws {
        let clock = ManualCacheClock()
        let store = InMemoryRevocation(clock: clock)
        for index in 0..<100 { try await store.revoke("j\(index)", ttl: .seconds(10)) }
        try await store.revoke("long", ttl: .seconds(1000))
        #expect(store.entryCount == 101)
        clock.advance(by: 10)
        #expect(try await store.isRevoked("j0") == false)
        #expect(store.entryCount == 100, "an expired entry found by a lookup is removed")
        store.reclaimExpired()
        #expect(store.entryCount == 1)
        #expect(try await store.isRevoked("long"))
    }

    @Test("writes sweep expired entries as the store grows (bounded memory without a cap hit)")
    func sweepOnWrite() async throws {
        let clock = ManualCacheClock()
        let store = InMemoryRevocation(maxEntries: 1_000_000, clock: clock)
        for round in 0..<10 {
            for index in 0..<1000 { try await store.revoke("r\(round)-\(index)", ttl: .seconds(1)) }
            clock.advance(by: 1)
        }
        #expect(store.entryCount <= 2048, "expired rounds are swept: \(store.entryCount) entries held")
    }

    @Test("full of live entries: a new revocation throws capacityExceeded and nothing live is forgotten")
    func capacityLive() async throws {
        let clock = ManualCacheClock()
        let store = InMemoryRevocation(maxEntries: 3, clock: clock)
        try await store.revoke("a", ttl: .seconds(60))
        try await store.revoke("b", ttl: .seconds(60))
        try await store.revokeAll(subject: "s", ttl: .seconds(60))
        let error = await #expect(throws: RevocationError.self) { try await store.revoke("c", ttl: .seconds(60)) }
        #expect(error?.code == .capacityExceeded)
        #expect(error?.message.contains("NOT stored") == true)
        await #expect(throws: RevocationError.self) { try await store.consume("d", ttl: .seconds(60)) }
        await #expect(throws: RevocationError.self) { try await store.revokeFamily("f", ttl: .seconds(60)) }
        #expect(try await store.isRevoked("a"))
        #expect(try await store.isRevoked("b"))
        #expect(try await store.revokedBefore(subject: "s") != nil)
        #expect(try await store.isRevoked("c") == false)
        // Re-revoking an id already held needs no room.
        try await store.revoke("a", ttl: .seconds(120))
        #expect(store.entryCount == 3)
    }

    @Test("full, but with expired entries: they are reclaimed to make room")
    func capacityExpired() async throws {
        let clock = ManualCacheClock()
        let store = InMemoryRevocation(maxEntries: 2, clock: clock)
        try await store.revoke("short", ttl: .seconds(5))
        try await store.revoke("long", ttl: .seconds(500))
        clock.advance(by: 5)
        try await store.revoke("new", ttl: .seconds(60))
        #expect(try await store.isRevoked("new"))
        #expect(try await store.isRevoked("long"))
        #expect(store.entryCount == 2)
    }

    @Test("an over-long id is refused")
    func longIdentifier() async throws {
        let store = InMemoryRevocation()
        let error = await #expect(throws: RevocationError.self) {
            try await store.revoke(String(repeating: "x", count: InMemoryRevocation.maxIdentifierLength + 1), ttl: .seconds(1))
        }
        #expect(error?.code == .invalidIdentifier)
        #expect(store.entryCount == 0)
    }
}

@Suite("HandlerRevocation")
struct HandlerRevocationTests {
    @Test("asks its closures; writes are unsupported")
    func handler() async throws {
        let store = HandlerRevocation(revokedBefore: { $0 == "alice" ? 100 : nil }, isRevoked: { jti in jti.hasPrefix("bad") })
        #expect(try await store.isRevoked("bad-1"))
        #expect(try await store.isRevoked("good") == false)
        #expect(try await store.revokedBefore(subject: "alice") == 100)
        #expect(try await store.revokedBefore(subject: "bob") == nil)
        #expect(try await store.isFamilyRevoked("f") == false)
        let status = try await store.check(RevocationQuery(jti: "bad-2", subject: "alice"))
        #expect(status == RevocationStatus(isRevoked: true, subjectCutoff: 100))
        let error = await #expect(throws: RevocationError.self) { try await store.revoke("x", ttl: .seconds(1)) }
        #expect(error?.code == .unsupported)
        await #expect(throws: RevocationError.self) { try await store.consume("x", ttl: .seconds(1)) }
        await #expect(throws: RevocationError.self) { try await store.revokeFamily("x", ttl: .seconds(1)) }
        await #expect(throws: RevocationError.self) { try await store.revokeAll(subject: "x", ttl: .seconds(1)) }
    }

    @Test("a throwing closure propagates, never reads as 'not revoked'")
    func throwing() async throws {
        struct Down: Error {}
        let store = HandlerRevocation { _ in throw Down() }
        await #expect(throws: Down.self) { try await store.isRevoked("a") }
    }
}
