import Caching
import CachingTesting
import MetricsTestKit
import Testing

/// Metrics are injected per cache (a `TestMetrics` factory each), never bootstrapped globally,
/// so these tests run in parallel with everything else.
@Suite("Metrics: calls, hits, misses, errors by code, bytes and durations per alias and backend")
struct CacheMetricsTests {
    static func dimensions(_ alias: String, _ backend: String, _ operation: String) -> [(String, String)] {
        [("alias", alias), ("backend", backend), ("operation", operation)]
    }

    @Test("local memory: a set, a hit, a miss and a failed incr are counted with exact values and labels; no timers or bytes")
    func localMemoryFlow() async throws {
        let metrics = TestMetrics()
        let cache = Cache.localMemory(
            configuration: CacheConfiguration(observability: CacheObservability(metricsFactory: metrics, alias: "sessions")))
        try await cache.set("a", "hello")  // text: 5 bytes
        #expect(try await cache.get("a", as: String.self) == "hello")
        #expect(try await cache.get("b", as: String.self) == nil)
        await #expect(throws: CacheError.self) { _ = try await cache.incr("a") }
        #expect(try await cache.add("n", 7))  // integer: "7", 1 byte, through the backend protocol
        #expect(try await !cache.add("n", 8))
        #expect(try await cache.getMany(["a", "missing"], as: String.self) == ["a": "hello"])

        func counter(_ label: String, _ operation: String) throws -> Int64 {
            try metrics.expectCounter(label, Self.dimensions("sessions", "locmem", operation)).totalValue
        }
        #expect(try counter("cache_calls", "set") == 1)
        #expect(try counter("cache_calls", "get") == 2)
        #expect(try counter("cache_hits", "get") == 1)
        #expect(try counter("cache_misses", "get") == 1)
        #expect(try counter("cache_calls", "incr") == 1)
        #expect(try counter("cache_calls", "add") == 2)
        #expect(try counter("cache_calls", "get_many") == 1)
        #expect(try counter("cache_hits", "get_many") == 1)
        #expect(try counter("cache_misses", "get_many") == 1)
        let incrErrors = try metrics.expectCounter(
            "cache_errors", Self.dimensions("sessions", "locmem", "incr") + [("code", "notAnInteger")])
        #expect(incrErrors.totalValue == 1)
        #expect(metrics.counters(label: "cache_errors").count == 1)
        // Nothing crosses a socket or a disk: no byte counters, no timers (each would cost the
        // hot path more than it tells).
        #expect(metrics.counters(label: "cache_written_bytes").isEmpty)
        #expect(metrics.counters(label: "cache_read_bytes").isEmpty)
        #expect(metrics.timers.isEmpty, "a dictionary lookup is not timed")
    }

    @Test("a backend that does I/O: every call is timed, and a failure is counted under its CacheError code")
    func failingBackendIsTimedAndCountsErrors() async throws {
        let metrics = TestMetrics()
        let down = CacheError(.unavailable, "the test's server is down")
        let cache = Cache.failing(
            error: down,
            configuration: CacheConfiguration(observability: CacheObservability(metricsFactory: metrics, alias: "remote")))
        for _ in 0..<3 {
            await #expect(throws: CacheError.self) { _ = try await cache.get("k", as: Int.self) }
        }
        await #expect(throws: CacheError.self) { try await cache.set("k", 1) }
        let other = Cache(
            FailingBackend(),
            configuration: CacheConfiguration(observability: CacheObservability(metricsFactory: metrics, alias: "remote")))
        await #expect(throws: FailingBackend.Down.self) { try await other.set("k", 1) }

        #expect(try metrics.expectCounter("cache_calls", Self.dimensions("remote", "failing", "get")).totalValue == 3)
        #expect(try metrics.expectCounter("cache_hits", Self.dimensions("remote", "failing", "get")).totalValue == 0)
        #expect(try metrics.expectCounter("cache_misses", Self.dimensions("remote", "failing", "get")).totalValue == 0)
        let getErrors = try metrics.expectCounter(
            "cache_errors", Self.dimensions("remote", "failing", "get") + [("code", "unavailable")])
        #expect(getErrors.totalValue == 3)
        let setErrors = try metrics.expectCounter(
            "cache_errors", Self.dimensions("remote", "failing", "set") + [("code", "unavailable")])
        #expect(setErrors.totalValue == 1)
        let otherErrors = try metrics.expectCounter(
            "cache_errors", Self.dimensions("remote", "failing", "set") + [("code", "other")])
        #expect(otherErrors.totalValue == 1)
        let getTimer = try metrics.expectTimer("cache_duration", Self.dimensions("remote", "failing", "get"))
        #expect(getTimer.values.count == 3)
        #expect(getTimer.values.allSatisfy { $0 >= 0 })
        #expect(try metrics.expectTimer("cache_duration", Self.dimensions("remote", "failing", "set")).values.count == 2)
        #expect(try metrics.expectCounter("cache_written_bytes", [("alias", "remote"), ("backend", "failing")]).totalValue == 0)
    }

    @Test("Caches gives every alias its own alias label; with observability off the backend is not wrapped")
    func cachesLabelsEachAlias() async throws {
        let metrics = TestMetrics()
        let settings: [String: CacheSettings] = [
            "default": CacheSettings(backend: "locmem", location: "metrics-\(UniqueName.next())"),
            "sessions": CacheSettings(backend: "locmem", location: "metrics-\(UniqueName.next())"),
        ]
        let caches = try Caches(settings, observability: CacheObservability(metricsFactory: metrics))
        try await caches.default.set("k", 1)
        _ = try await caches["sessions"].get("k", as: Int.self)
        #expect(try metrics.expectCounter("cache_calls", Self.dimensions("default", "locmem", "set")).totalValue == 1)
        #expect(try metrics.expectCounter("cache_calls", Self.dimensions("default", "locmem", "get")).totalValue == 0)
        #expect(try metrics.expectCounter("cache_misses", Self.dimensions("sessions", "locmem", "get")).totalValue == 1)

        #expect(try !(caches.default.backend is LocalMemoryBackend), "instrumented: wrapped")
        let off = try Caches(settings)
        #expect(try off.default.backend is LocalMemoryBackend, "off: the backend itself, nothing in between")
    }
}
