import Caching
import CachingPostgres
import CachingSQLite
import CachingTesting
import Foundation
import Synchronization
import Testing
import TokenRevocation

/// A revocation store under test, with the clock that drives its expiry.
///
/// Every behaviour test runs against each case in ``all``; these stores follow a
/// `ManualCacheClock`. Memcached keeps time on the server, so `CacheRevocation` over memcached
/// has its own suite (`MemcachedRevocationTests`) against a server the test starts.
/// `DatabaseRevocation` runs on a SQLite file of its own per store, and on PostgreSQL in a fresh
/// table of the server the suite's ``PostgresServerTrait`` started (suites using ``all`` carry
/// `.postgresServer`).
struct StoreCase: Sendable, CustomTestStringConvertible {
    var name: String
    var make: @Sendable (ManualCacheClock) throws -> any RevocationStore

    init(_ name: String, make: @escaping @Sendable (ManualCacheClock) throws -> any RevocationStore) {
        self.name = name
        self.make = make
    }

    var testDescription: String { name }

    static let all: [StoreCase] = [
        .init("InMemoryRevocation") { clock in InMemoryRevocation(clock: clock) },
        .init("CacheRevocation over LocalMemoryCache") { clock in
            try CacheRevocation(
                cache: Cache.localMemory(maxEntries: 10_000, whenFull: .refuse, configuration: CacheConfiguration(clock: clock)))
        },
        .init("CacheRevocation over a Caches alias (locmem)") { clock in
            let caches = try Caches(
                [
                    "default": CacheSettings(
                        backend: "locmem", location: "revocation-alias-\(UniqueID.make())", options: ["WHEN_FULL": "refuse"])
                ],
                clock: clock)
            return try CacheRevocation(caches: caches)
        },
        .init("CacheRevocation over FileCache") { clock in
            try CacheRevocation(
                cache: Cache.file(
                    directory: TemporaryDirectory("swcache-revocation").path, maxEntries: 10_000, whenFull: .refuse,
                    configuration: CacheConfiguration(clock: clock)))
        },
        .init("DatabaseRevocation on SQLite") { clock in
            let directory = TemporaryDirectory("swcache-dbrevocation")
            try FileManager.default.createDirectory(atPath: directory.path, withIntermediateDirectories: true)
            return try DatabaseRevocation(sqlite: SQLiteOptions(database: directory.path + "/revocations.sqlite3"), clock: clock)
        },
        .init("DatabaseRevocation on PostgreSQL") { clock in
            guard let server = PostgresServerTrait.current else {
                throw CacheError(.unavailable, "This suite needs the .postgresServer trait to run DatabaseRevocation on PostgreSQL")
            }
            return try DatabaseRevocation(
                postgres: PostgresOptions(database: server.connectionString),
                table: "revoked_\(tableNumber.add(1, ordering: .relaxed).newValue)",
                clock: clock)
        },
    ]
}

/// Numbers fresh PostgreSQL tables.
let tableNumber = Atomic<Int>(0)

/// Starts one PostgreSQL server for a whole suite, made available to its tests (and to
/// ``StoreCase/all``'s PostgreSQL case) as ``current``, and stops it when the suite ends.
struct PostgresServerTrait: SuiteTrait, TestTrait, TestScoping {
    @TaskLocal static var current: PostgresServer?

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        if Self.current != nil { return try await function() }
        try await PostgresServer.with { server in
            try await Self.$current.withValue(server) { try await function() }
        }
    }
}

extension Trait where Self == PostgresServerTrait {
    /// One PostgreSQL server for the suite (see ``PostgresServerTrait``).
    static var postgresServer: Self { PostgresServerTrait() }
}

enum UniqueID {
    /// A fresh id, so cases sharing a process-wide store never see each other's entries.
    static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        return String(generator.next() as UInt64, radix: 36)
    }
}
