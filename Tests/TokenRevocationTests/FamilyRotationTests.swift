import Caching
import CachingTesting
import Testing
import TokenRevocation

/// Refresh-token rotation with one entry per login: the family's current generation.
@Suite("Revocation stores: refresh-token rotation by family generation", .postgresServer)
struct FamilyRotationTests {
    @Test("a family moves one generation per refresh; an older generation is reuse; an unknown family is unknown", arguments: StoreCase.all)
    func rotation(store: StoreCase) async throws {
        let clock = ManualCacheClock(start: 1_767_225_600)
        let revocation = try store.make(clock)
        try await revocation.startFamily("login-1", ttl: .seconds(600))
        #expect(try await revocation.rotateFamily("login-1", from: 0, ttl: .seconds(600)) == .rotated(to: 1))
        #expect(try await revocation.rotateFamily("login-1", from: 0, ttl: .seconds(600)) == .reused)
        #expect(try await revocation.rotateFamily("login-1", from: 1, ttl: .seconds(600)) == .rotated(to: 2))
        #expect(try await revocation.rotateFamily("login-1", from: 5, ttl: .seconds(600)) == .reused, "a generation never issued")
        #expect(try await revocation.rotateFamily("never-started", from: 0, ttl: .seconds(600)) == .unknown)
        await #expect(throws: RevocationError.self) { try await revocation.startFamily("login-1", ttl: .seconds(600)) }
        // Each rotation extends the family's life to the new refresh token's.
        clock.advance(by: 500)
        #expect(try await revocation.rotateFamily("login-1", from: 2, ttl: .seconds(600)) == .rotated(to: 3))
        clock.advance(by: 500)
        #expect(try await revocation.rotateFamily("login-1", from: 3, ttl: .seconds(600)) == .rotated(to: 4))
        clock.advance(by: 601)
        #expect(try await revocation.rotateFamily("login-1", from: 4, ttl: .seconds(600)) == .unknown, "ended with its last token")
    }

    @Test("64 concurrent refreshes with one refresh token: exactly one wins, the others see reuse", arguments: StoreCase.all)
    func concurrentRefresh(store: StoreCase) async throws {
        try await expectOneWinner(of: 64, refreshing: "login-race", in: try store.make(ManualCacheClock()))
    }

    @Test("10,000 refreshes of one login keep one entry (state grows with logins, not refreshes)")
    func constantState() async throws {
        let clock = ManualCacheClock()
        let inMemory = InMemoryRevocation(maxEntries: 10, clock: clock)
        let backend = LocalMemoryBackend(maxEntries: 10, whenFull: .refuse, clock: clock)
        let overCache = try CacheRevocation(cache: Cache(backend, configuration: CacheConfiguration(clock: clock)))
        for store in [inMemory, overCache] as [any RevocationStore] {
            try await store.startFamily("login", ttl: .seconds(3600))
            for generation in 0..<10_000 {
                #expect(try await store.rotateFamily("login", from: generation, ttl: .seconds(3600)) == .rotated(to: generation + 1))
            }
        }
        #expect(inMemory.entryCount == 1)
        #expect(backend.entryCount == 1)
    }
}

/// Starts a family, presents its first refresh token `count` times at once, and expects exactly
/// one rotation and `count - 1` reuses.
func expectOneWinner(of count: Int, refreshing family: String, in store: any RevocationStore) async throws {
    try await store.startFamily(family, ttl: .seconds(600))
    let outcomes = try await withThrowingTaskGroup(of: FamilyRotation.self) { group in
        for _ in 0..<count { group.addTask { try await store.rotateFamily(family, from: 0, ttl: .seconds(600)) } }
        var outcomes: [FamilyRotation] = []
        for try await outcome in group { outcomes.append(outcome) }
        return outcomes
    }
    #expect(outcomes.filter { $0 == .rotated(to: 1) }.count == 1)
    #expect(outcomes.filter { $0 == .reused }.count == count - 1)
}
