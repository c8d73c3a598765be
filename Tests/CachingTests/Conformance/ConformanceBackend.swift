import Caching
import CachingTesting
import InMemoryLogging
import Logging
import Testing

/// A backend the conformance suite runs against.
///
/// To add a backend, add one entry to ``ConformanceBackend/all``: a name, whether its
/// expiry follows the configuration's clock, and how to open a fresh, empty store for one
/// test (and close it afterwards).
struct ConformanceBackend: Sendable, CustomTestStringConvertible {
    /// A store opened for one test: every cache it makes shares the same storage.
    struct Store: Sendable {
        /// Builds a cache over this test's store with a configuration.
        var makeCache: @Sendable (CacheConfiguration) async throws -> any Cache
        /// Releases the store (stops a server, removes a directory).
        var close: @Sendable () async throws -> Void = {}
    }

    var name: String
    /// `true` when expiry is measured by `CacheConfiguration.clock` (local backends), so a
    /// test can move time with a `ManualCacheClock`; `false` when a server keeps time.
    var usesConfiguredClock: Bool
    var open: @Sendable () async throws -> Store

    var testDescription: String { name }

    /// Every backend the suite runs against.
    static let all: [ConformanceBackend] = [
        .localMemory,
        .file,
        .memcached,
    ]

    static let localMemory = ConformanceBackend(name: "LocalMemoryCache", usesConfiguredClock: true) {
        let location = "conformance-\(UniqueName.next())"
        return Store(makeCache: { configuration in
            LocalMemoryCache(location: location, maxEntries: 10_000, configuration: configuration)
        })
    }
}

extension ConformanceBackend {
    static let file = ConformanceBackend(name: "FileCache", usesConfiguredClock: true) {
        let directory = TemporaryDirectory()
        return Store(
            makeCache: { configuration in
                try FileCache(directory: directory.path, maxEntries: 10_000, configuration: configuration)
            },
            close: { directory.remove() })
    }
}

/// Names unique within the test process.
enum UniqueName {
    private static let counter = Counter()
    static func next() -> String { "\(counter.increment())-\(SystemCacheClock().now())" }

    private final class Counter: Sendable {
        private let value = Mutex(0)
        func increment() -> Int { value.withLock { $0 += 1; return $0 } }
    }
}

import Synchronization

/// One test's view of a backend: a cache with a manual clock, and ways to make more caches
/// over the same store and to let time pass.
struct Fixture: Sendable {
    let backend: ConformanceBackend
    let store: ConformanceBackend.Store
    /// The clock every cache of the test uses: a manual clock for backends that follow the
    /// configured clock, the real clock for backends whose server keeps time (a frozen clock
    /// would drift from the server's while the test runs).
    let clock: any CacheClock
    /// The manual clock, when the backend follows the configured clock.
    let manualClock: ManualCacheClock?
    let logs: InMemoryLogHandler
    /// A cache with the default configuration (no prefix, version 1, 300 s timeout, strict keys).
    let cache: any Cache

    /// Runs `body` with a fresh store of `backend`, closing it afterwards.
    static func with(
        _ backend: ConformanceBackend, _ body: (Fixture) async throws -> Void
    ) async throws {
        let store = try await backend.open()
        let manualClock = backend.usesConfiguredClock ? ManualCacheClock(start: SystemCacheClock().now()) : nil
        let clock: any CacheClock = manualClock ?? SystemCacheClock()
        let logs = InMemoryLogHandler()
        let configuration = CacheConfiguration(
            clock: clock, logger: Logger(label: "conformance", factory: { _ in logs }))
        do {
            let cache = try await store.makeCache(configuration)
            try await body(
                Fixture(backend: backend, store: store, clock: clock, manualClock: manualClock, logs: logs, cache: cache))
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
    }

    /// Another cache over the same store, with its own key settings.
    func cache(
        prefix: String = "", version: Int = 1, keyFunction: CacheKeyFunction? = nil,
        defaultTimeout: CacheTimeout = .seconds(300), validation: CacheKeyValidation = .strict
    ) async throws -> any Cache {
        try await store.makeCache(
            CacheConfiguration(
                keyPrefix: prefix, version: version, keyFunction: keyFunction, defaultTimeout: defaultTimeout,
                keyValidation: validation, clock: clock, logger: Logger(label: "conformance", factory: { _ in logs })))
    }

    /// Lets `seconds` pass: moves the manual clock, or, for a backend whose server keeps time,
    /// waits until the server's one-second clock has certainly passed that point.
    func pass(_ seconds: Double) async throws {
        if let manualClock {
            manualClock.advance(by: seconds)
        } else {
            try await Task.sleep(for: .milliseconds(Int((seconds + 1.5) * 1000)))
        }
    }

    /// Whether the test can move time by hours or years (only with the configured clock).
    var canTravelFar: Bool { backend.usesConfiguredClock }
}
