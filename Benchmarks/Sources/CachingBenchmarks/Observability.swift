// Observability's price on local memory's hot path (issue 14): the same cache with metrics
// off and on, interleaved in one run. "On" reports to AtomicMetrics, a factory whose counters
// and timers are one relaxed atomic add each: what a Prometheus or OTel back end does per
// increment before its exporter reads the totals.
import BenchmarkSupport
import Caching
import CoreMetrics
import Synchronization

/// Counters and timers that add to atomics, as a real back end does on the caller's thread.
final class AtomicMetrics: MetricsFactory {
    final class Handler: CounterHandler, TimerHandler, RecorderHandler {
        let total = Atomic<Int64>(0)
        let count = Atomic<Int64>(0)
        func increment(by amount: Int64) { total.wrappingAdd(amount, ordering: .relaxed) }
        func reset() { total.store(0, ordering: .relaxed) }
        func recordNanoseconds(_ duration: Int64) {
            total.wrappingAdd(duration, ordering: .relaxed)
            count.wrappingAdd(1, ordering: .relaxed)
        }
        func record(_ value: Int64) { recordNanoseconds(value) }
        func record(_ value: Double) { recordNanoseconds(Int64(value)) }
    }

    let handlers = Mutex<[String: Handler]>([:])

    func handler(_ label: String, _ dimensions: [(String, String)]) -> Handler {
        let name = label + dimensions.map { "|\($0.0)=\($0.1)" }.joined()
        return handlers.withLock { handlers in
            if let handler = handlers[name] { return handler }
            let handler = Handler()
            handlers[name] = handler
            return handler
        }
    }

    func total(_ label: String, _ dimensions: [(String, String)]) -> Int64 {
        handler(label, dimensions).total.load(ordering: .relaxed)
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler { handler(label, dimensions) }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        handler(label, dimensions)
    }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler { handler(label, dimensions) }
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}
}

func observabilityBenchmarks() async throws {
    printTableHeader(title: "Local memory with metrics on (AtomicMetrics) vs off, same run (ops/s)")
    let metrics = AtomicMetrics()
    let off = Cache.localMemory(maxEntries: 100_000)
    let on = Cache.localMemory(
        maxEntries: 100_000,
        configuration: CacheConfiguration(observability: CacheObservability(metricsFactory: metrics, alias: "bench")))
    let keys = (0..<100).map { "key\($0)" }
    for key in keys {
        try await off.set(key, value, timeout: .never)
        try await on.set(key, value, timeout: .never)
    }
    try await off.set("counter", 0, timeout: .never)
    try await on.set("counter", 0, timeout: .never)

    _ = try await run(
        BenchCase("metrics off get-hit") {
            let text = try await off.get("key7", as: String.self)
            try expect(text?.utf8.count == value.utf8.count, "off get-hit")
        },
        BenchCase("metrics on get-hit") {
            let text = try await on.get("key7", as: String.self)
            try expect(text?.utf8.count == value.utf8.count, "on get-hit")
        }, target: 0.9)
    _ = try await run(
        BenchCase("metrics off get-miss") {
            let text = try await off.get("missing", as: String.self)
            try expect(text == nil, "off get-miss")
        },
        BenchCase("metrics on get-miss") {
            let text = try await on.get("missing", as: String.self)
            try expect(text == nil, "on get-miss")
        })
    _ = try await run(
        BenchCase("metrics off set") { try await off.set("key8", value, timeout: .never) },
        BenchCase("metrics on set") { try await on.set("key8", value, timeout: .never) })
    _ = try await run(
        BenchCase("metrics off getMany(100)", operationsPerCall: 100) {
            try expect(try await off.getMany(keys, as: String.self).count == 100, "off getMany")
        },
        BenchCase("metrics on getMany(100)", operationsPerCall: 100) {
            try expect(try await on.getMany(keys, as: String.self).count == 100, "on getMany")
        })
    _ = try await run(
        BenchCase("metrics off incr") { _ = try await off.incr("counter") },
        BenchCase("metrics on incr") { _ = try await on.incr("counter") })
    _ = try await run(
        BenchCase("metrics off add (through the backend protocol)") { _ = try await off.add("key9", value) },
        BenchCase("metrics on add (through the backend protocol)") { _ = try await on.add("key9", value) })
    // The counters really counted: every get above was a call.
    let gets = metrics.total("cache_calls", [("alias", "bench"), ("backend", "locmem"), ("operation", "get")])
    try expect(gets > 0, "metrics on counted no get")
    print("\n(cache_calls{operation=get} on the instrumented cache: \(gets))")
}

/// `--profile-local-get` with metrics on (AtomicMetrics): the same 3,000,000 gets, for
/// `perf record` or for counting instructions with `valgrind --tool=callgrind` against it.
nonisolated func profileLocalGetWithMetrics() async throws {
    let metrics = AtomicMetrics()
    let cache = Cache.localMemory(
        configuration: CacheConfiguration(observability: CacheObservability(metricsFactory: metrics, alias: "bench")))
    try await cache.set("key7", value, timeout: .never)
    for _ in 0..<3_000_000 { _ = try await cache.get("key7", as: String.self) }
    let gets = metrics.total("cache_calls", [("alias", "bench"), ("backend", "locmem"), ("operation", "get")])
    try expect(gets == 3_000_000, "counted \(gets) gets")
}
