// The backend written in the article "Implementing a backend"
// (Sources/Caching/Docs.docc/ImplementingABackend.md), run against the whole conformance suite.
//
// Every Swift code block of that article is a verbatim excerpt of this file; scripts/docs.sh
// checks it. Change the two together.

import Caching
import CachingTesting
import Synchronization
import Testing

/// The entries of a dictionary cache. Every backend made over the same storage sees the
/// same entries, as caches with the same `LOCATION` do.
final class DictionaryStorage: Sendable {
    struct Item: Sendable {
        var entry: CacheEntry
        var expiry: CacheExpiry
    }

    let items = Mutex<[String: Item]>([:])

    init() {}
}

/// A backend that keeps entries in a dictionary behind a mutex.
///
/// It never evicts a live entry, so it grows with every new key: fine for a test or a
/// small, bounded set of keys. An expired entry is removed when a call next looks at it.
struct DictionaryBackend: CacheBackend {
    let storage: DictionaryStorage
    let clock: any CacheClock

    init(storage: DictionaryStorage = DictionaryStorage(), clock: any CacheClock = SystemCacheClock()) {
        self.storage = storage
        self.clock = clock
    }

    var capabilities: CacheBackendCapabilities {
        CacheBackendCapabilities(name: "dictionary", mayEvictLiveEntries: false, answersInProcess: true)
    }

    /// The live item under `key`; an expired item is removed and reads as missing.
    private static func live(
        _ key: String, in items: inout [String: DictionaryStorage.Item], now: Double
    ) -> DictionaryStorage.Item? {
        guard let item = items[key] else { return nil }
        guard !item.expiry.isExpired(at: now) else {
            items[key] = nil
            return nil
        }
        return item
    }

    func entry(forKey key: String) async throws -> CacheEntry? {
        let now = clock.now()
        return storage.items.withLock { items in Self.live(key, in: &items, now: now)?.entry }
    }

    func store(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws {
        storage.items.withLock { items in items[key] = DictionaryStorage.Item(entry: entry, expiry: expiry) }
    }

    func storeIfAbsent(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws -> Bool {
        let now = clock.now()
        return storage.items.withLock { items in
            guard Self.live(key, in: &items, now: now) == nil else { return false }
            items[key] = DictionaryStorage.Item(entry: entry, expiry: expiry)
            return true
        }
    }

    func compareAndStore(
        _ entry: CacheEntry, forKey key: String, expiry: CacheExpiry, expected: CacheEntry?
    ) async throws -> Bool {
        let now = clock.now()
        return storage.items.withLock { items in
            guard Self.live(key, in: &items, now: now)?.entry == expected else { return false }
            items[key] = DictionaryStorage.Item(entry: entry, expiry: expiry)
            return true
        }
    }

    func removeEntry(forKey key: String) async throws -> Bool {
        let now = clock.now()
        return storage.items.withLock { items in
            guard let removed = items.removeValue(forKey: key) else { return false }
            return !removed.expiry.isExpired(at: now)
        }
    }

    func updateExpiry(forKey key: String, to expiry: CacheExpiry) async throws -> Bool {
        let now = clock.now()
        return storage.items.withLock { items in
            guard Self.live(key, in: &items, now: now) != nil else { return false }
            items[key]?.expiry = expiry
            return true
        }
    }

    func increment(entryForKey key: String, by delta: Int) async throws -> Int {
        let now = clock.now()
        return try storage.items.withLock { items throws(CacheError) -> Int in
            guard var item = Self.live(key, in: &items, now: now) else {
                throw CacheError(.keyNotFound, "Key '\(key)' not found", key: key)
            }
            guard let value = item.entry.integerValue else {
                throw CacheError(.notAnInteger, "Key '\(key)' holds a value that is not an integer", key: key)
            }
            let (sum, overflow) = value.addingReportingOverflow(delta)
            guard !overflow else {
                throw CacheError(.integerOverflow, "Adding \(delta) to \(value) under key '\(key)' overflows Int", key: key)
            }
            item.entry = .integer(sum)
            items[key] = item
            return sum
        }
    }

    func clear() async throws {
        storage.items.withLock { items in items.removeAll() }
    }
}

extension Cache {
    /// A cache over a dictionary of its own.
    ///
    /// - Parameter configuration: Key settings, clock and logger.
    /// - Returns: The cache.
    static func dictionary(configuration: CacheConfiguration = CacheConfiguration()) -> Cache {
        Cache(DictionaryBackend(clock: configuration.clock), configuration: configuration)
    }
}

extension CacheBackends {
    /// These backends plus `dictionary`, which reads no `OPTIONS`.
    ///
    /// - Returns: The registry with the dictionary backend added.
    func withDictionary() -> CacheBackends {
        var backends = self
        backends.register("dictionary", "myapp.cache.DictionaryCache") { context in
            try context.settings.rejectUnknownOptions(allowed: [], alias: context.alias, backend: "dictionary")
            return DictionaryBackend(clock: context.configuration.clock)
        }
        return backends
    }
}

// MARK: - Tests

@Suite("Article: the dictionary backend passes the conformance suite")
struct ArticleBackendTests {
    static let dictionary = CacheConformanceSubject(name: "dictionary", usesConfiguredClock: true) {
        let storage = DictionaryStorage()
        return CacheConformanceSubject.Storage(makeCache: { configuration in
            Cache(DictionaryBackend(storage: storage, clock: configuration.clock), configuration: configuration)
        })
    }

    @Test(arguments: CacheConformance.checks)
    func conformance(_ check: CacheConformanceCheck) async throws {
        try await check.run(on: Self.dictionary)
    }
}

@Suite("Article: the dictionary backend in settings and on its own")
struct ArticleBackendUsageTests {
    @Test("settings can name the registered backend")
    func settings() async throws {
        let json = #"{"default": {"BACKEND": "dictionary", "TIMEOUT": 60, "KEY_PREFIX": "app"}}"#
        let caches = try Caches(json: Array(json.utf8), backends: CacheBackends.standard.withDictionary())
        let cache = try caches.default
        try await cache.set("greeting", "hello")
        #expect(try await cache.get("greeting", as: String.self) == "hello")
        #expect(cache.makeKey("greeting") == "app:1:greeting")
        #expect(cache.capabilities.name == "dictionary")
    }

    @Test("an option the backend does not read is an error naming it")
    func unknownOption() throws {
        let json = #"{"default": {"BACKEND": "dictionary", "OPTIONS": {"MAX_ENTRIES": 10}}}"#
        let error = #expect(throws: CacheError.self) {
            try Caches(json: Array(json.utf8), backends: CacheBackends.standard.withDictionary())
        }
        #expect(error?.code == .invalidSettings)
        #expect(error?.message.contains(#"CACHES["default"]["OPTIONS"]["MAX_ENTRIES"]"#) == true)
    }

    @Test("the factory method gives a working cache, and expiry follows the configured clock")
    func factory() async throws {
        let clock = ManualCacheClock()
        let cache = Cache.dictionary(configuration: CacheConfiguration(clock: clock))
        try await cache.set("session", "abc", timeout: 60)
        clock.advance(by: 59)
        #expect(try await cache.get("session", as: String.self) == "abc")
        clock.advance(by: 1)
        #expect(try await cache.get("session", as: String.self) == nil)
    }
}
