public import Caching
import Synchronization

/// A revocation store in this process's memory: bounded, expiring, never forgetful.
///
/// For one process (development, tests, a single-instance service). Several processes or
/// hosts need a shared store: ``CacheRevocation`` over a file or memcached alias.
///
/// Entries expire at their ttl and are reclaimed: an expired entry found by a lookup is
/// removed at once, and every write sweeps all expired entries once the store has grown by
/// as many entries as it held after the previous sweep (amortized O(1) per write).
///
/// **Capacity.** The store holds at most `maxEntries` entries (jtis, families and subject
/// cut-offs together). When a new entry would exceed that, expired entries are reclaimed
/// first; if every entry is still live, the write throws
/// ``RevocationError/Code/capacityExceeded`` and stores nothing. A live revocation is never
/// evicted to make room: forgetting it would let a logged-out token back in, and a logout
/// that fails loudly (the client can retry, the operator sees it) is the safe outcome.
/// Re-revoking an id already held needs no room.
///
/// Identifiers must be non-empty and at most ``maxIdentifierLength`` bytes of UTF-8.
///
/// Time comes from an injectable ``/Caching/CacheClock`` so tests move it instead of sleeping.
public final class InMemoryRevocation: RevocationStore {
    /// The longest identifier accepted, in UTF-8 bytes.
    public static let maxIdentifierLength = 1024

    private enum Key: Hashable, Sendable {
        case token(String)
        case family(String)
        case subject(String)
        /// A family's rotation state; the entry's `cutoff` holds the generation.
        case generation(String)
    }

    private struct Entry: Sendable {
        var expiresAt: Double
        var cutoff: Double
    }

    private struct State: Sendable {
        var entries: [Key: Entry] = [:]
        var insertsSinceSweep = 0
        var sweepAfter = 1024

        mutating func live(_ key: Key, now: Double) -> Entry? {
            guard let entry = entries[key] else { return nil }
            if entry.expiresAt <= now {
                entries[key] = nil
                return nil
            }
            return entry
        }

        mutating func sweep(now: Double) {
            entries = entries.filter { $0.value.expiresAt > now }
            insertsSinceSweep = 0
            sweepAfter = max(1024, entries.count)
        }
    }

    /// The most entries held at once.
    public let maxEntries: Int
    /// The wall clock expiry is measured by.
    public let clock: any CacheClock
    private let state = Mutex(State())

    /// Creates an empty store.
    ///
    /// - Parameters:
    ///   - maxEntries: The capacity (100,000 by default, a few MB); at least 1.
    ///   - clock: The wall clock expiry is measured by.
    public init(maxEntries: Int = 100_000, clock: any CacheClock = SystemCacheClock()) {
        self.maxEntries = max(1, maxEntries)
        self.clock = clock
    }

    /// `true`: lookups are a lock and a dictionary, so authentication calls them directly.
    public var answersInProcess: Bool { true }

    /// The number of entries held, expired ones not yet reclaimed included.
    public var entryCount: Int { state.withLock { $0.entries.count } }

    /// Removes every expired entry now.
    public func reclaimExpired() {
        let now = clock.now()
        state.withLock { $0.sweep(now: now) }
    }

    /// Removes everything (for tests).
    public func removeAll() {
        state.withLock { $0 = State() }
    }

    public func revoke(_ jti: String, ttl: Duration) async throws {
        try Self.validate(jti, kind: "jti")
        try store(.token(jti), ttl: ttl, cutoff: 0, what: "the revocation of jti '\(jti)'")
    }

    public func isRevoked(_ jti: String) async throws -> Bool {
        try Self.validate(jti, kind: "jti")
        let now = clock.now()
        return state.withLock { $0.live(.token(jti), now: now) != nil }
    }

    public func consume(_ jti: String, ttl: Duration) async throws -> Bool {
        try Self.validate(jti, kind: "jti")
        let seconds = try RevocationLimits.seconds(ttl, what: "the ttl of the use of jti '\(jti)'")
        guard seconds > 0 else { return false }
        let now = clock.now()
        return try state.withLock { state throws(RevocationError) -> Bool in
            if state.live(.token(jti), now: now) != nil { return false }
            try self.insert(
                .token(jti), Entry(expiresAt: now + seconds, cutoff: 0), into: &state, now: now,
                what: "the use of jti '\(jti)'")
            return true
        }
    }

    public func revokeAll(subject: String, issuedBefore: Double, ttl: Duration) async throws {
        try Self.validate(subject, kind: "subject")
        let what = "the logout-everywhere cut-off of subject '\(subject)'"
        try RevocationLimits.checkTime(issuedBefore, what: what)
        try store(.subject(subject), ttl: ttl, cutoff: issuedBefore, what: what)
    }

    public func revokedBefore(subject: String) async throws -> Double? {
        try Self.validate(subject, kind: "subject")
        let now = clock.now()
        return state.withLock { $0.live(.subject(subject), now: now)?.cutoff }
    }

    public func revokeFamily(_ family: String, ttl: Duration) async throws {
        try Self.validate(family, kind: "family")
        try store(.family(family), ttl: ttl, cutoff: 0, what: "the revocation of token family '\(family)'")
    }

    public func startFamily(_ family: String, ttl: Duration) async throws {
        try Self.validate(family, kind: "family")
        let what = "the rotation state of token family '\(family)'"
        let seconds = try RevocationLimits.seconds(ttl, what: "the ttl of \(what)")
        guard seconds > 0 else { return }
        let now = clock.now()
        try state.withLock { state throws(RevocationError) in
            guard state.live(.generation(family), now: now) == nil else {
                throw RevocationError(.invalidIdentifier, "Token family '\(family)' was started already; a new login needs a new family id")
            }
            try self.insert(.generation(family), Entry(expiresAt: now + seconds, cutoff: 0), into: &state, now: now, what: what)
        }
    }

    public func rotateFamily(_ family: String, from generation: Int, ttl: Duration) async throws -> FamilyRotation {
        try Self.validate(family, kind: "family")
        let seconds = try RevocationLimits.seconds(ttl, what: "the ttl of the rotation state of token family '\(family)'")
        let now = clock.now()
        return state.withLock { state in
            guard var entry = state.live(.generation(family), now: now) else { return .unknown }
            guard Int(exactly: entry.cutoff) == generation, generation < Int.max else { return .reused }
            entry.cutoff += 1
            entry.expiresAt = max(entry.expiresAt, now + seconds)
            state.entries[.generation(family)] = entry
            return .rotated(to: generation + 1)
        }
    }

    public func isFamilyRevoked(_ family: String) async throws -> Bool {
        try Self.validate(family, kind: "family")
        let now = clock.now()
        return state.withLock { $0.live(.family(family), now: now) != nil }
    }

    public func check(_ query: RevocationQuery) async throws -> RevocationStatus {
        try status(for: query)
    }

    /// ``check(_:)`` without suspending: what the store holds for a token, answered under one
    /// lock in the calling thread (for `JWTAuthentication`, which calls it on every request).
    ///
    /// - Parameter query: The token's `jti`, `sub` and `fam`, any of them absent.
    /// - Returns: What the store holds for each.
    /// - Throws: ``RevocationError/Code/invalidIdentifier`` for an empty or overlong id.
    public func status(for query: RevocationQuery) throws(RevocationError) -> RevocationStatus {
        if let jti = query.jti { try Self.validate(jti, kind: "jti") }
        if let family = query.family { try Self.validate(family, kind: "family") }
        if let subject = query.subject { try Self.validate(subject, kind: "subject") }
        let now = clock.now()
        return state.withLock { state in
            var status = RevocationStatus()
            if let jti = query.jti { status.isRevoked = state.live(.token(jti), now: now) != nil }
            if let family = query.family { status.isFamilyRevoked = state.live(.family(family), now: now) != nil }
            if let subject = query.subject { status.subjectCutoff = state.live(.subject(subject), now: now)?.cutoff }
            return status
        }
    }

    // MARK: Internals

    private func store(_ key: Key, ttl: Duration, cutoff: Double, what: String) throws(RevocationError) {
        let seconds = try RevocationLimits.seconds(ttl, what: "the ttl of \(what)")
        guard seconds > 0 else { return }
        let now = clock.now()
        try state.withLock { state throws(RevocationError) in
            var entry = Entry(expiresAt: now + seconds, cutoff: cutoff)
            if let existing = state.live(key, now: now) {
                entry.expiresAt = max(entry.expiresAt, existing.expiresAt)
                entry.cutoff = max(entry.cutoff, existing.cutoff)
                state.entries[key] = entry
                return
            }
            try self.insert(key, entry, into: &state, now: now, what: what)
        }
    }

    private func insert(_ key: Key, _ entry: Entry, into state: inout State, now: Double, what: String) throws(RevocationError) {
        state.insertsSinceSweep += 1
        if state.insertsSinceSweep >= state.sweepAfter { state.sweep(now: now) }
        if state.entries.count >= maxEntries {
            state.sweep(now: now)
            if state.entries.count >= maxEntries {
                throw RevocationError(
                    .capacityExceeded,
                    "InMemoryRevocation is full: all \(maxEntries) entries are live, so \(what) was NOT stored; raise maxEntries or use CacheRevocation over a shared cache"
                )
            }
        }
        state.entries[key] = entry
    }

    static func validate(_ identifier: String, kind: String) throws(RevocationError) {
        if identifier.isEmpty {
            throw RevocationError(.invalidIdentifier, "The \(kind) is empty; a token without one cannot be revoked")
        }
        if identifier.utf8.count > maxIdentifierLength {
            throw RevocationError(
                .invalidIdentifier,
                "The \(kind) is \(identifier.utf8.count) bytes long; InMemoryRevocation accepts at most \(maxIdentifierLength)")
        }
    }
}
