import Caching
import CachingMemcached
import CachingTesting
import InMemoryLogging
import InMemoryTracing
import Logging
import MetricsTestKit
import Testing
import Tracing

@Suite("Memcached: spans per OpenTelemetry's database conventions, and timed metrics, against a real server")
struct MemcachedObservabilityTests {
    @Test(
        "each call is a client span parented to the caller's span, with db.system.name, server address and port; never a value, the key only on request"
    )
    func spansFollowTheConventions() async throws {
        try await MemcachedServer.with { server in
            let tracer = InMemoryTracer()
            let metrics = TestMetrics()
            let cache = try Cache.memcached(
                location: [server.address],
                configuration: CacheConfiguration(
                    observability: CacheObservability(metricsFactory: metrics, tracer: tracer, alias: "sessions")))
            let secret = "value-that-must-not-appear"
            let request = tracer.startSpan("GET /profile")
            try await ServiceContext.withValue(request.context) {
                try await cache.set("user", secret)
                #expect(try await cache.get("user", as: String.self) == secret)
                #expect(try await cache.getMany(["user", "a", "b"], as: String.self).count == 1)
            }
            request.end()
            let spans = tracer.finishedSpans.filter { $0.spanID != request.spanContext.spanID }
            #expect(spans.map(\.operationName) == ["set", "get", "get_many"])
            for span in spans {
                #expect(span.kind == .client)
                #expect(span.traceID == request.spanContext.traceID)
                #expect(span.parentSpanID == request.spanContext.spanID)
                #expect(span.attributes.get("db.system.name") == .string("memcached"))
                #expect(span.attributes.get("db.operation.name") == .string(span.operationName))
                #expect(span.attributes.get("server.address") == .string("127.0.0.1"))
                #expect(span.attributes.get("server.port") == .int64(Int64(server.port)))
                #expect(span.attributes.get("cache.alias") == .string("sessions"))
                #expect(span.attributes.get("cache.key") == nil, "keys are recorded only when asked")
                #expect(span.status == nil && span.errors.isEmpty)
                // SpanAttributes is not a Sequence: its own forEach is the only way to see them all.
                // swift-format-ignore: ReplaceForEachWithForLoop
                span.attributes.forEach { name, value in
                    #expect(!"\(value)".contains(secret), "attribute \(name) holds the value")
                }
            }
            #expect(spans.last?.attributes.get("db.operation.batch.size") == .int64(3))
            #expect(spans.first?.attributes.get("db.operation.batch.size") == nil)

            // I/O is timed: one duration per call.
            let dimensions = [("alias", "sessions"), ("backend", "memcached"), ("operation", "get")]
            #expect(try metrics.expectTimer("cache_duration", dimensions).values.count == 1)
            #expect(try metrics.expectCounter("cache_hits", dimensions).totalValue == 1)
            let many = [("alias", "sessions"), ("backend", "memcached"), ("operation", "get_many")]
            #expect(try metrics.expectCounter("cache_hits", many).totalValue == 1)
            #expect(try metrics.expectCounter("cache_misses", many).totalValue == 2)
            // The value is stored as its UTF-8 text: written once, read by get and by getMany.
            let bytes = [("alias", "sessions"), ("backend", "memcached")]
            #expect(try metrics.expectCounter("cache_written_bytes", bytes).totalValue == Int64(secret.utf8.count))
            #expect(try metrics.expectCounter("cache_read_bytes", bytes).totalValue == Int64(2 * secret.utf8.count))
            // Each call waited once for a worker (and its connection): the set, the get, the getMany.
            let pool = [("pool", "memcached sessions")]
            #expect(try metrics.expectTimer("cache_pool_wait", pool).values.count == 3)
            #expect(try metrics.expectMeter("cache_pool_queue_depth", pool).values.count >= 6, "set at submit and take")
            try await cache.shutdown()
        }
    }

    @Test("with recordsKeys the made key is on the span; a failed call's span has error status and the CacheError code")
    func keysOnRequestAndErrors() async throws {
        let tracer = InMemoryTracer()
        let metrics = TestMetrics()
        try await MemcachedServer.with { server in
            var options = MemcachedOptions()
            options.connectTimeout = 0.5
            let cache = try Cache.memcached(
                location: [server.address], options: options,
                configuration: CacheConfiguration(
                    keyPrefix: "app",
                    observability: CacheObservability(metricsFactory: metrics, tracer: tracer, recordsKeys: true, alias: "s")))
            try await cache.set("k", 1)
            #expect(tracer.finishedSpans.last?.attributes.get("cache.key") == .string("app:1:k"))
            await server.stop()
            var failure: CacheError?
            do { _ = try await cache.get("k", as: Int.self) } catch let error as CacheError { failure = error }
            let code = try #require(failure).code
            let span = try #require(tracer.finishedSpans.last)
            #expect(span.operationName == "get")
            #expect(span.status?.code == .error)
            #expect(span.errors.count == 1)
            #expect(span.attributes.get("error.type") == .string(code.description))
            let errors = try metrics.expectCounter(
                "cache_errors", [("alias", "s"), ("backend", "memcached"), ("operation", "get"), ("code", code.description)])
            #expect(errors.totalValue == 1)
            try await cache.shutdown()
        }
    }

    /// A cache on `server` as alias `m`, reporting to fresh test metrics and an in-memory log.
    static func observedCache(_ server: MemcachedServer, _ change: (inout MemcachedOptions) -> Void) throws -> (
        Cache, TestMetrics, InMemoryLogHandler
    ) {
        let metrics = TestMetrics()
        let logs = InMemoryLogHandler()
        var options = MemcachedOptions()
        change(&options)
        let cache = try Cache.memcached(
            location: [server.address], options: options,
            configuration: CacheConfiguration(
                logger: Logger(label: "test", factory: { _ in logs }),
                observability: CacheObservability(metricsFactory: metrics, alias: "m")),
            alias: "m")
        return (cache, metrics, logs)
    }

    @Test("a restarted server: the broken connection is reopened, counted once and logged once at notice")
    func reconnectIsCountedAndLogged() async throws {
        try await MemcachedServer.with { server in
            let (cache, metrics, logs) = try Self.observedCache(server) { $0.poolSize = 1 }
            try await cache.set("k", 1)
            let reconnects = try metrics.expectCounter(
                "cache_reconnects", [("alias", "m"), ("backend", "memcached"), ("server", server.address)])
            #expect(reconnects.totalValue == 0, "the first connection is not a reconnect")
            try await server.restart()
            #expect(try await cache.get("k", as: Int.self) == nil, "the restarted server is empty; the call did not fail")
            try await cache.set("k", 2)
            #expect(reconnects.totalValue == 1)
            let notices = logs.entries.filter { $0.level == .notice }
            #expect(notices.count == 1)
            #expect(notices.first?.message.description.contains("opened again") == true)
            try await cache.shutdown()
        }
    }

    @Test("a stopped server: taken out of service after failure_limit failures, counted per connection, logged once at warning")
    func ejectionIsCountedAndLoggedOnce() async throws {
        try await MemcachedServer.with { server in
            let (cache, metrics, logs) = try Self.observedCache(server) { options in
                options.poolSize = 2
                options.failureLimit = 2
                options.retryTimeout = 30
            }
            // Two calls at once, so both pooled connections open.
            async let first: Void = cache.set("a", 1)
            async let second: Void = cache.set("b", 2)
            _ = try await (first, second)
            let ejections = try metrics.expectCounter(
                "cache_server_ejections", [("alias", "m"), ("backend", "memcached"), ("server", server.address)])
            #expect(ejections.totalValue == 0)
            await server.stop()
            var codes: [String] = []
            for index in 0..<12 {
                do {
                    try await cache.set("k\(index)", index)
                    codes.append("stored")
                } catch let error as CacheError {
                    #expect(error.code == .unavailable, "\(error)")
                    codes.append(error.message.contains("DISABLED") ? "disabled" : "\(error.code)")
                }
            }
            #expect(!codes.contains("stored"), "\(codes)")
            #expect(codes.suffix(4) == ["disabled", "disabled", "disabled", "disabled"], "\(codes)")
            #expect(ejections.totalValue == 2, "one per pooled connection: \(codes)")
            let warnings = logs.entries.filter { $0.level == .warning }
            #expect(warnings.count == 1, "\(warnings.map(\.message))")
            #expect(warnings.first?.message.description.contains("taken out of service") == true)
            #expect(warnings.first?.message.description.contains(server.address) == true)
            try await cache.shutdown()
        }
    }
}
