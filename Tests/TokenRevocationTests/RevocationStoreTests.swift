import Caching
import CachingTesting
import Testing
import TokenRevocation

/// Behaviour every writable store shares.
@Suite("Revocation stores: shared behaviour", .postgresServer)
struct RevocationStoreTests {
    @Test("revoke then isRevoked; other ids are untouched", arguments: StoreCase.all)
    func revokeAndCheck(store: StoreCase) async throws {
        let clock = ManualCacheClock()
        let revocation = try store.make(clock)
        #expect(try await revocation.isRevoked("a") == false)
        try await revocation.revoke("a", ttl: .seconds(60))
        #expect(try await revocation.isRevoked("a"))
        #expect(try await revocation.isRevoked("b") == false)
    }

    @Test("entries expire at their ttl (manual clock, no sleep)", arguments: StoreCase.all)
    func expiry(store: StoreCase) async throws {
        let clock = ManualCacheClock()
        let revocation = try store.make(clock)
        try await revocation.revoke("a", ttl: .seconds(10))
        clock.advance(by: 9.999)
        #expect(try await revocation.isRevoked("a"))
        clock.advance(by: 0.001)
        #expect(try await revocation.isRevoked("a") == false)
    }

    @Test("a ttl of zero or less stores nothing", arguments: StoreCase.all)
    func zeroTTL(store: StoreCase) async throws {
        let clock = ManualCacheClock()
        let revocation = try store.make(clock)
        try await revocation.revoke("zero", ttl: .zero)
        try await revocation.revoke("negative", ttl: .seconds(-5))
        #expect(try await revocation.isRevoked("zero") == false)
        #expect(try await revocation.isRevoked("negative") == false)
        #expect(try await revocation.consume("zero", ttl: .zero) == false)
        #expect(try await revocation.isRevoked("zero") == false)
        try await revocation.revokeAll(subject: "u", issuedBefore: clock.now(), ttl: .zero)
        #expect(try await revocation.revokedBefore(subject: "u") == nil)
    }

    @Test("revoking twice is harmless and keeps the longer lifetime", arguments: StoreCase.all)
    func revokeTwice(store: StoreCase) async throws {
        let clock = ManualCacheClock()
        let revocation = try store.make(clock)
        try await revocation.revoke("a", ttl: .seconds(100))
        try await revocation.revoke("a", ttl: .seconds(10))
        clock.advance(by: 50)
        #expect(try await revocation.isRevoked("a"))
        try await revocation.revoke("a", ttl: .seconds(100))
        clock.advance(by: 99)
        #expect(try await revocation.isRevoked("a"))
        clock.advance(by: 2)
        #expect(try await revocation.isRevoked("a") == false)
    }

    @Test("revoke(expiresAt:leeway:) keeps the entry until exp + leeway, not exp", arguments: StoreCase.all)
    func leewayLifetime(store: StoreCase) async throws {
        let clock = ManualCacheClock()
        let revocation = try store.make(clock)
        let exp = clock.now() + 300
        try await revocation.revoke("a", expiresAt: exp, leeway: .seconds(60))
        clock.set(to: exp + 59)
        #expect(try await revocation.isRevoked("a"), "the reference forgot the revocation at exp while still accepting the token")
        clock.set(to: exp + 60)
        #expect(try await revocation.isRevoked("a") == false)
        // A token already past exp + leeway stores nothing.
        try await revocation.revoke("old", expiresAt: clock.now() - 61, leeway: .seconds(60))
        #expect(try await revocation.isRevoked("old") == false)
    }

    @Test("consume: only the first caller wins, then the id counts as revoked", arguments: StoreCase.all)
    func consume(store: StoreCase) async throws {
        let clock = ManualCacheClock()
        let revocation = try store.make(clock)
        #expect(try await revocation.consume("r1", ttl: .seconds(60)))
        #expect(try await revocation.consume("r1", ttl: .seconds(60)) == false)
        #expect(try await revocation.isRevoked("r1"))
        try await revocation.revoke("r2", ttl: .seconds(60))
        #expect(try await revocation.consume("r2", ttl: .seconds(60)) == false, "a revoked id cannot be used")
        clock.advance(by: 60)
        #expect(try await revocation.consume("r1", ttl: .seconds(60)), "after expiry the id is free again")
    }

    @Test("consume is atomic under 200 concurrent callers", arguments: StoreCase.all)
    func consumeConcurrently(store: StoreCase) async throws {
        let clock = ManualCacheClock()
        let revocation = try store.make(clock)
        let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<200 { group.addTask { try await revocation.consume("refresh", ttl: .seconds(60)) } }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(winners == 1)
    }

    @Test("logout everywhere: an exact cut-off that never moves back and never shortens its ttl", arguments: StoreCase.all)
    func logoutEverywhere(store: StoreCase) async throws {
        let clock = ManualCacheClock(start: 1_767_225_600.75)
        let revocation = try store.make(clock)
        #expect(try await revocation.revokedBefore(subject: "alice") == nil)
        try await revocation.revokeAll(subject: "alice", ttl: .seconds(3600))
        #expect(try await revocation.revokedBefore(subject: "alice") == 1_767_225_600.75, "kept to the sub-second")
        #expect(try await revocation.revokedBefore(subject: "bob") == nil)
        try await revocation.revokeAll(subject: "alice", issuedBefore: 1_767_000_000, ttl: .seconds(3600))
        #expect(try await revocation.revokedBefore(subject: "alice") == 1_767_225_600.75, "an earlier cut-off never wins")
        clock.advance(by: 10)
        try await revocation.revokeAll(subject: "alice", ttl: .seconds(60))
        #expect(try await revocation.revokedBefore(subject: "alice") == 1_767_225_610.75)
        clock.advance(by: 120)
        #expect(
            try await revocation.revokedBefore(subject: "alice") == 1_767_225_610.75,
            "a later call with a shorter ttl does not end the cut-off before the first call's hour")
        clock.advance(by: 3600)
        #expect(try await revocation.revokedBefore(subject: "alice") == nil)
    }

    @Test("absurd lifetimes and times are invalidArgument errors, never a trap", arguments: StoreCase.all)
    func absurdInputs(store: StoreCase) async throws {
        let revocation = try store.make(ManualCacheClock())
        let huge = Duration.seconds(Int64.max / 2)
        for call in [
            { try await revocation.revoke("j", ttl: huge) },
            { _ = try await revocation.consume("j", ttl: huge) },
            { try await revocation.revokeFamily("f", ttl: huge) },
            { try await revocation.revokeAll(subject: "s", issuedBefore: 1_767_225_600, ttl: huge) },
            { try await revocation.revokeAll(subject: "s", issuedBefore: .infinity, ttl: .seconds(60)) },
            { try await revocation.revokeAll(subject: "s", issuedBefore: .nan, ttl: .seconds(60)) },
            { try await revocation.revokeAll(subject: "s", issuedBefore: -1, ttl: .seconds(60)) },
            { try await revocation.revokeAll(subject: "s", issuedBefore: 1e300, ttl: .seconds(60)) },
        ] as [@Sendable () async throws -> Void] {
            let error = await #expect(throws: RevocationError.self) { try await call() }
            #expect(error?.code == .invalidArgument)
        }
        #expect(try await revocation.isRevoked("j") == false)
        #expect(try await revocation.revokedBefore(subject: "s") == nil)
    }

    @Test("concurrent cut-offs: the latest one and the longest lifetime win, whatever the order", arguments: StoreCase.all)
    func concurrentCutoffs(store: StoreCase) async throws {
        let clock = ManualCacheClock(start: 1_767_225_600)
        let revocation = try store.make(clock)
        for round in 0..<30 {
            let subject = "user-\(round)"
            let base = 1_767_225_000.0
            try await withThrowingTaskGroup(of: Void.self) { group in
                for offset in [2000.0, 1000.0, 1500.0, 500.0] {
                    group.addTask {
                        try await revocation.revokeAll(subject: subject, issuedBefore: base - 2000 + offset, ttl: .seconds(offset))
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await revocation.revokedBefore(subject: subject) == base)
        }
        clock.advance(by: 1999)
        #expect(try await revocation.revokedBefore(subject: "user-0") == base(), "the 2000 s lifetime is kept")
        clock.advance(by: 2)
        #expect(try await revocation.revokedBefore(subject: "user-0") == nil)
    }

    private func base() -> Double { 1_767_225_000 }

    @Test("family revocation", arguments: StoreCase.all)
    func family(store: StoreCase) async throws {
        let clock = ManualCacheClock()
        let revocation = try store.make(clock)
        #expect(try await revocation.isFamilyRevoked("fam-1") == false)
        try await revocation.revokeFamily("fam-1", ttl: .seconds(600))
        #expect(try await revocation.isFamilyRevoked("fam-1"))
        #expect(try await revocation.isFamilyRevoked("fam-2") == false)
        #expect(try await revocation.isRevoked("fam-1") == false, "families and jtis are separate namespaces")
        clock.advance(by: 600)
        #expect(try await revocation.isFamilyRevoked("fam-1") == false)
    }

    @Test("check() answers jti, family and subject together", arguments: StoreCase.all)
    func combinedCheck(store: StoreCase) async throws {
        let clock = ManualCacheClock()
        let revocation = try store.make(clock)
        try await revocation.revoke("j", ttl: .seconds(60))
        try await revocation.revokeFamily("f", ttl: .seconds(60))
        try await revocation.revokeAll(subject: "s", ttl: .seconds(60))
        let all = try await revocation.check(RevocationQuery(jti: "j", subject: "s", family: "f"))
        #expect(all == RevocationStatus(isRevoked: true, isFamilyRevoked: true, subjectCutoff: clock.now()))
        let none = try await revocation.check(RevocationQuery(jti: "x", subject: "y", family: "z"))
        #expect(none == RevocationStatus())
        let jtiOnly = try await revocation.check(RevocationQuery(jti: "j"))
        #expect(jtiOnly == RevocationStatus(isRevoked: true))
    }

    @Test("an empty id is refused with invalidIdentifier", arguments: StoreCase.all)
    func emptyIdentifier(store: StoreCase) async throws {
        let revocation = try store.make(ManualCacheClock())
        let error = await #expect(throws: RevocationError.self) { try await revocation.revoke("", ttl: .seconds(60)) }
        #expect(error?.code == .invalidIdentifier)
        await #expect(throws: RevocationError.self) { try await revocation.isRevoked("") }
        await #expect(throws: RevocationError.self) { try await revocation.revokeAll(subject: "", ttl: .seconds(60)) }
    }
}
