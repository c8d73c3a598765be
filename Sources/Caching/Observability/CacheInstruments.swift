import CoreMetrics
import Synchronization
import Tracing

/// A storage operation as metrics and spans name it (`operation`, `db.operation.name`).
@usableFromInline
enum CacheOperation: Int, CaseIterable, Sendable {
    case get, getMany, hasKey, set, setMany, add, compareAndSet, delete, deleteMany, touch, incr, clear

    /// The name in metrics and spans: memcached's command names, which Django's API echoes.
    var name: String {
        switch self {
        case .get: "get"
        case .getMany: "get_many"
        case .hasKey: "has_key"
        case .set: "set"
        case .setMany: "set_many"
        case .add: "add"
        case .compareAndSet: "cas"
        case .delete: "delete"
        case .deleteMany: "delete_many"
        case .touch: "touch"
        case .incr: "incr"
        case .clear: "clear"
        }
    }

    /// Operations that find a key or not, counted as hits and misses.
    var findsKeys: Bool { self == .get || self == .getMany || self == .hasKey }
}

/// The metrics of one cache, created once, when the ``Cache`` is: per call, only counter
/// handlers looked up by index are touched (and a timer, for backends that do I/O).
///
/// Handlers are held and called directly (`increment(by:)` on the factory's handler), not
/// through swift-metrics' `Counter` wrapper: local memory's `get` is a few hundred
/// nanoseconds, and each wrapper call adds a generic conversion and reference counting.
final class CacheMetrics: Sendable {
    let calls: [any CounterHandler]
    /// `nil` for backends that answer from memory: timing a dictionary lookup would cost more
    /// than the lookup and tell an operator nothing.
    let durations: [Timer]?
    let hits: [(any CounterHandler)?]
    let misses: [(any CounterHandler)?]
    /// `nil`, like ``durations``, for backends that answer from memory: their values never
    /// cross a socket or a disk, and each counter costs the hot path an atomic add.
    let bytesRead: (any CounterHandler)?
    let bytesWritten: (any CounterHandler)?
    // Local memory's `get`, the hottest path, without an array lookup.
    let getCalls: any CounterHandler
    let getHits: any CounterHandler
    let getMisses: any CounterHandler
    private let factory: any MetricsFactory
    private let dimensions: [(String, String)]
    private let errors = Mutex<[String: Counter]>([:])

    init(factory: any MetricsFactory, alias: String, backend: String, doesIO: Bool) {
        let dimensions = [("alias", alias), ("backend", backend)]
        func per(_ operation: CacheOperation) -> [(String, String)] {
            dimensions + [("operation", operation.name)]
        }
        let operations = CacheOperation.allCases
        calls = operations.map { factory.makeCounter(label: "cache_calls", dimensions: per($0)) }
        durations =
            doesIO
            ? operations.map { Timer(label: "cache_duration", dimensions: per($0), factory: factory) } : nil
        hits = operations.map { $0.findsKeys ? factory.makeCounter(label: "cache_hits", dimensions: per($0)) : nil }
        misses = operations.map { $0.findsKeys ? factory.makeCounter(label: "cache_misses", dimensions: per($0)) : nil }
        bytesRead = doesIO ? factory.makeCounter(label: "cache_read_bytes", dimensions: dimensions) : nil
        bytesWritten = doesIO ? factory.makeCounter(label: "cache_written_bytes", dimensions: dimensions) : nil
        getCalls = calls[CacheOperation.get.rawValue]
        getHits = hits[CacheOperation.get.rawValue]!
        getMisses = misses[CacheOperation.get.rawValue]!
        self.factory = factory
        self.dimensions = dimensions
    }

    /// Counts an error by operation and ``CacheError/Code`` (`other` for an error that is not a
    /// `CacheError`). Counters are made on first use: errors are rare, and at most one per
    /// operation and code exists.
    func countError(_ error: any Error, operation: CacheOperation) {
        let code = (error as? CacheError)?.code.description ?? "other"
        let counter = errors.withLock { counters in
            let name = "\(operation.name) \(code)"
            if let counter = counters[name] { return counter }
            let counter = Counter(
                label: "cache_errors",
                dimensions: dimensions + [("operation", operation.name), ("code", code)], factory: factory)
            counters[name] = counter
            return counter
        }
        counter.increment()
    }

    func countFound(_ found: Int, of total: Int, operation: CacheOperation) {
        if found > 0 { hits[operation.rawValue]?.increment(by: Int64(found)) }
        if total > found { misses[operation.rawValue]?.increment(by: Int64(total - found)) }
    }
}

/// The instruments of one ``Cache``: its metrics (if a factory is configured), its tracer (if
/// one is configured and the backend names a database system) and what spans say about the
/// backend. Made once, when the cache is.
@usableFromInline
final class CacheInstruments: Sendable {
    let metrics: CacheMetrics?
    let tracer: (any Tracer)?
    let telemetry: CacheBackendTelemetry
    let alias: String
    let recordsKeys: Bool
    // Local memory's `get`, the hottest path: the same handlers as `metrics`', called by
    // optional chaining on these stored properties. Unwrapping them into locals first
    // (`guard let`, `if let`) made the compiler wrap each of the three increments in a retain
    // and a release: eight atomic operations that cost more than the increments (seen in the
    // disassembly, and as 0.80-0.83x in the benchmark).
    private let getCalls: (any CounterHandler)?
    private let getHits: (any CounterHandler)?
    private let getMisses: (any CounterHandler)?
    private let bytesRead: (any CounterHandler)?
    private let getManyCalls: (any CounterHandler)?
    private let getManyHits: (any CounterHandler)?
    private let getManyMisses: (any CounterHandler)?
    private let setCalls: (any CounterHandler)?
    private let incrCalls: (any CounterHandler)?
    private let bytesWritten: (any CounterHandler)?

    init?(observability: CacheObservability, backend: any CacheBackend) {
        guard observability.isEnabled else { return nil }
        let capabilities = backend.capabilities
        telemetry = backend.telemetry
        metrics = observability.metricsFactory.map {
            CacheMetrics(
                factory: $0, alias: observability.alias, backend: capabilities.name, doesIO: !capabilities.answersInProcess)
        }
        getCalls = metrics?.getCalls
        getHits = metrics?.getHits
        getMisses = metrics?.getMisses
        bytesRead = metrics?.bytesRead ?? nil
        getManyCalls = metrics?.calls[CacheOperation.getMany.rawValue]
        getManyHits = metrics?.hits[CacheOperation.getMany.rawValue] ?? nil
        getManyMisses = metrics?.misses[CacheOperation.getMany.rawValue] ?? nil
        setCalls = metrics?.calls[CacheOperation.set.rawValue]
        incrCalls = metrics?.calls[CacheOperation.incr.rawValue]
        bytesWritten = metrics?.bytesWritten ?? nil
        tracer = telemetry.system == nil ? nil : observability.tracer
        alias = observability.alias
        recordsKeys = observability.recordsKeys
    }

    // MARK: Local memory's synchronous paths (no timer, no span)

    /// A `get` answered by local memory without going through the backend protocol.
    @usableFromInline
    func recordLocalGet(bytes: Int?) {
        getCalls?.increment(by: 1)
        if let bytes {
            getHits?.increment(by: 1)
            bytesRead?.increment(by: Int64(bytes))
        } else {
            getMisses?.increment(by: 1)
        }
    }

    /// A `get_many` answered by local memory.
    @usableFromInline
    func recordLocalGetMany(_ entries: [CacheEntry?]) {
        guard getManyCalls != nil else { return }
        getManyCalls?.increment(by: 1)
        var found = 0
        var bytes = 0
        for case let entry? in entries {
            found += 1
            bytes += entry.bytes.count
        }
        if found > 0 { getManyHits?.increment(by: Int64(found)) }
        if entries.count > found { getManyMisses?.increment(by: Int64(entries.count - found)) }
        if bytes > 0 { bytesRead?.increment(by: Int64(bytes)) }
    }

    /// A `set` or `incr` (the only two callers) done by local memory; `error` when it threw.
    @usableFromInline
    func recordLocalWrite(_ operation: CacheOperation, bytes: Int, error: (any Error)? = nil) {
        if operation == .set { setCalls?.increment(by: 1) } else { incrCalls?.increment(by: 1) }
        if let error {
            metrics?.countError(error, operation: operation)
        } else if bytes > 0 {
            bytesWritten?.increment(by: Int64(bytes))
        }
    }

    // MARK: Calls through the backend protocol

    /// Runs one backend call: counts it, times it (I/O backends), wraps it in a client span
    /// (backends with a database system, when a tracer is set) and counts its error by code.
    ///
    /// - Parameters:
    ///   - operation: The operation.
    ///   - key: The made key, recorded on the span only when keys are recorded.
    ///   - batchSize: The number of keys of a many-operation (`db.operation.batch.size`).
    ///   - body: The backend call.
    ///   - after: Records what the result says (hits, misses, bytes), when there are metrics.
    func measure<T: Sendable>(
        _ operation: CacheOperation, key: String? = nil, batchSize: Int? = nil,
        _ body: () async throws -> T, after: (CacheMetrics, T) -> Void = { _, _ in }
    ) async throws -> T {
        let metrics = self.metrics
        metrics?.calls[operation.rawValue].increment(by: 1)
        let start = metrics?.durations == nil ? nil : ContinuousClock.now
        let span = tracer.map { startSpan($0, operation, key: key, batchSize: batchSize) }
        defer {
            if let start, let timer = metrics?.durations?[operation.rawValue] { timer.record(since: start) }
            span?.end()
        }
        do {
            let result = try await body()
            if let metrics { after(metrics, result) }
            return result
        } catch {
            metrics?.countError(error, operation: operation)
            if let span {
                span.attributes["error.type"] = (error as? CacheError)?.code.description ?? "\(type(of: error))"
                span.recordError(error)
                span.setStatus(SpanStatus(code: .error))
            }
            throw error
        }
    }

    /// A client span named after the operation, parented to the caller's task-local context,
    /// with OpenTelemetry's database attributes.
    private func startSpan(
        _ tracer: any Tracer, _ operation: CacheOperation, key: String?, batchSize: Int?
    ) -> any Span {
        let span = tracer.startSpan(operation.name, ofKind: .client)
        var attributes = SpanAttributes()
        attributes["db.system.name"] = telemetry.system
        attributes["db.operation.name"] = operation.name
        attributes["cache.alias"] = alias
        if let address = telemetry.serverAddress { attributes["server.address"] = address }
        if let port = telemetry.serverPort { attributes["server.port"] = port }
        if let batchSize, batchSize > 1 { attributes["db.operation.batch.size"] = batchSize }
        if recordsKeys, let key { attributes["cache.key"] = key }
        span.attributes = attributes
        return span
    }
}
