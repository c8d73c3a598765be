import Caching
import CachingTesting
import Testing
import TokenRevocation

/// A revocation store under test, with the clock that drives its expiry.
///
/// Every behaviour test runs against each case in ``all``; these stores follow a
/// `ManualCacheClock`. Memcached keeps time on the server, so `CacheRevocation` over memcached
/// has its own suite (`MemcachedRevocationTests`) against a server the test starts.
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
    ]
}

enum UniqueID {
    /// A fresh id, so cases sharing a process-wide store never see each other's entries.
    static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        return String(generator.next() as UInt64, radix: 36)
    }
}
