public import Caching
public import InMemoryLogging
import Logging
public import Testing

/// The conformance suite: every rule of Django's cache API that every backend must follow,
/// as checks a backend's own tests run with a few lines.
///
/// Each ``CacheConformanceCheck`` opens fresh storage from a ``CacheConformanceSubject``,
/// runs one rule against a ``/Caching/Cache`` over it (a `ManualCacheClock` for backends that measure
/// expiry by the configured clock, real time for those whose server keeps it) and records
/// failures with Swift Testing's `#expect`.
///
/// ```swift
/// import CachingTesting
/// import Testing
///
/// let mine = CacheConformanceSubject(name: "MyBackend", usesConfiguredClock: true) {
///     CacheConformanceSubject.Storage(makeCache: { configuration in
///         Cache(MyBackend(clock: configuration.clock), configuration: configuration)
///     })
/// }
///
/// @Test(arguments: CacheConformance.checks)
/// func conformance(_ check: CacheConformanceCheck) async throws {
///     try await check.run(on: mine)
/// }
/// ```
public enum CacheConformance: Sendable {
    /// Every check, grouped: basic operations, counters and versions, many-key operations and
    /// key validation, timeouts, compare-and-set.
    public static var checks: [CacheConformanceCheck] {
        basicOperations + countersAndVersions + manyKeysAndValidation + timeouts + compareAndStore
    }

    /// The checks that let time pass (``CacheConformanceCheck/letsTimePass``): against a server
    /// that keeps its own clock they wait for it, so a suite may run them one at a time.
    public static var timedChecks: [CacheConformanceCheck] { checks.filter(\.letsTimePass) }

    /// The checks that never let time pass: safe to run in parallel with anything.
    public static var untimedChecks: [CacheConformanceCheck] { checks.filter { !$0.letsTimePass } }
}

/// A backend under test: how to open fresh, empty storage for one check.
public struct CacheConformanceSubject: Sendable, CustomTestStringConvertible {
    /// Storage opened for one check: every cache it makes shares the same entries.
    public struct Storage: Sendable {
        /// Builds a cache over this check's storage with a configuration (use its clock for the backend).
        public var makeCache: @Sendable (CacheConfiguration) async throws -> Cache
        /// Releases the storage (stops a server, removes a directory).
        public var close: @Sendable () async throws -> Void

        /// Describes storage opened for one check.
        ///
        /// - Parameters:
        ///   - makeCache: Builds a cache over the storage with a configuration.
        ///   - close: Releases the storage afterwards.
        public init(
            makeCache: @escaping @Sendable (CacheConfiguration) async throws -> Cache,
            close: @escaping @Sendable () async throws -> Void = {}
        ) {
            self.makeCache = makeCache
            self.close = close
        }
    }

    /// The name shown in test results.
    public var name: String
    /// `true` when expiry is measured by `CacheConfiguration.clock` (local backends), so a
    /// check can move time with a `ManualCacheClock`; `false` when a server keeps time, and
    /// checks wait for it instead.
    public var usesConfiguredClock: Bool
    /// Opens fresh, empty storage for one check.
    public var open: @Sendable () async throws -> Storage

    /// Describes a backend under test.
    ///
    /// - Parameters:
    ///   - name: The name shown in results.
    ///   - usesConfiguredClock: Whether the backend measures expiry with the configured clock.
    ///   - open: Opens fresh storage for one check.
    public init(name: String, usesConfiguredClock: Bool, open: @escaping @Sendable () async throws -> Storage) {
        self.name = name
        self.usesConfiguredClock = usesConfiguredClock
        self.open = open
    }

    public var testDescription: String { name }
}

/// One rule of the conformance suite.
public struct CacheConformanceCheck: Sendable, CustomTestStringConvertible {
    /// What the rule says, shown in test results.
    public let name: String
    /// A short identifier, stable across releases.
    public let id: String
    /// Whether the check lets time pass (``CacheConformanceFixture/pass(_:)``). Against a backend
    /// whose server keeps time this means real seconds of waiting on the server's clock; a
    /// suite can run these checks serialized and the rest (``CacheConformance/untimedChecks``)
    /// in parallel. A check that lets time pass without saying so fails.
    public let letsTimePass: Bool
    let body: @Sendable (CacheConformanceFixture) async throws -> Void

    init(
        _ name: String, id: String, lettingTimePass: Bool = false,
        body: @escaping @Sendable (CacheConformanceFixture) async throws -> Void
    ) {
        self.name = name
        self.id = id
        self.letsTimePass = lettingTimePass
        self.body = body
    }

    public var testDescription: String { name }

    /// Runs the check against fresh storage of a subject, closing the storage afterwards.
    ///
    /// - Parameter subject: The backend under test.
    /// - Throws: An error the backend threw where the rule expects none; failed expectations
    ///   are recorded as Swift Testing issues.
    public func run(on subject: CacheConformanceSubject) async throws {
        try await CacheConformanceFixture.with(subject, check: self, body)
    }
}

/// One check's view of a backend: a cache with the default configuration, a clock, and ways
/// to make more caches over the same storage and to let time pass.
public struct CacheConformanceFixture: Sendable {
    /// The backend under test.
    public let subject: CacheConformanceSubject
    let storage: CacheConformanceSubject.Storage
    /// The clock every cache of the check uses: a manual clock for backends that follow the
    /// configured clock, the real clock for backends whose server keeps time.
    public let clock: any CacheClock
    /// The manual clock, when the backend follows the configured clock.
    public let manualClock: ManualCacheClock?
    /// What the caches logged.
    public let logs: InMemoryLogHandler
    /// A cache with the default configuration (no prefix, version 1, 300 s timeout, strict keys).
    public let cache: Cache
    /// The check being run.
    let check: CacheConformanceCheck

    static func with(
        _ subject: CacheConformanceSubject, check: CacheConformanceCheck,
        _ body: (CacheConformanceFixture) async throws -> Void
    ) async throws {
        let storage = try await subject.open()
        let manualClock = subject.usesConfiguredClock ? ManualCacheClock(start: SystemCacheClock().now()) : nil
        let clock: any CacheClock = manualClock ?? SystemCacheClock()
        let logs = InMemoryLogHandler()
        let configuration = CacheConfiguration(clock: clock, logger: Logger(label: "conformance", factory: { _ in logs }))
        do {
            let cache = try await storage.makeCache(configuration)
            try await body(
                CacheConformanceFixture(
                    subject: subject, storage: storage, clock: clock, manualClock: manualClock, logs: logs, cache: cache,
                    check: check))
        } catch {
            try? await storage.close()
            throw error
        }
        try await storage.close()
    }

    /// Another cache over the same storage, with its own key settings.
    ///
    /// - Returns: The cache.
    /// - Throws: What the subject's `makeCache` throws.
    public func cache(
        prefix: String = "", version: Int = 1, keyFunction: CacheKeyFunction? = nil,
        defaultTimeout: CacheTimeout = .seconds(DjangoDefaults.timeoutSeconds), validation: CacheKeyValidation = .strict
    ) async throws -> Cache {
        try await storage.makeCache(
            CacheConfiguration(
                keyPrefix: prefix, version: version, keyFunction: keyFunction, defaultTimeout: defaultTimeout,
                keyValidation: validation, clock: clock, logger: Logger(label: "conformance", factory: { _ in logs })))
    }

    /// Lets `seconds` pass: moves the manual clock, or, for a backend whose server keeps time,
    /// waits until the server's one-second clock has certainly passed that point.
    ///
    /// - Parameter seconds: How long.
    public func pass(_ seconds: Double) async throws {
        // Suites run untimed checks in parallel with everything; one that waited on a server's
        // clock there could be starved into a false result. The flag must tell the truth.
        #expect(check.letsTimePass, "check '\(check.id)' lets time pass but is not declared lettingTimePass")
        if let manualClock {
            manualClock.advance(by: seconds)
        } else {
            try await Task.sleep(for: .milliseconds(Int((seconds + 1.5) * 1000)))
        }
    }

    /// Whether the check can move time by hours or years (only with the configured clock).
    public var canTravelFar: Bool { subject.usesConfiguredClock }
}
