import Caching
import CachingRedis
import CachingTesting
import InMemoryLogging
import InMemoryTracing
import Logging
import MetricsTestKit
import Testing
import Tracing

extension RedisTests {
    @Suite("Redis: reconnects counted and logged once, spans named redis, connection queue timed")
    struct RedisObservabilityTests {
        @Test("a restarted server: one reconnect per connection that had been connected, one notice each, never the password")
        func reconnectIsCountedAndLogged() async throws {
            try await RedisServer.with(arguments: ["--requirepass", "pw-never-logged"]) { server in
                let metrics = TestMetrics()
                let tracer = InMemoryTracer()
                let logs = InMemoryLogHandler()
                var options = RedisOptions()
                options.poolSize = 1
                let cache = try Cache.redis(
                    location: ["redis://:pw-never-logged@\(server.address)"], options: options,
                    configuration: CacheConfiguration(
                        logger: Logger(label: "test", factory: { _ in logs }),
                        observability: CacheObservability(metricsFactory: metrics, tracer: tracer, alias: "r")),
                    alias: "r")
                try await cache.set("k", 1)
                let reconnects = try metrics.expectCounter(
                    "cache_reconnects", [("alias", "r"), ("backend", "redis"), ("server", server.address)])
                #expect(reconnects.totalValue == 0, "the first connection is not a reconnect")
                try await server.restart()
                #expect(try await cache.get("k", as: Int.self) == nil, "the restarted server is empty")
                try await cache.set("k", 2)
                #expect(reconnects.totalValue == 1)
                let notices = logs.entries.filter { $0.level == .notice }
                #expect(notices.count == 1)
                #expect(notices.first?.message.description.contains("reconnected") == true)
                for entry in logs.entries {
                    #expect(!"\(entry.message) \(entry.metadata)".contains("pw-never-logged"))
                }

                let span = try #require(tracer.finishedSpans.last)
                #expect(span.operationName == "set")
                #expect(span.attributes.get("db.system.name") == .string("redis"))
                #expect(span.attributes.get("server.port") == .int64(Int64(server.port)))
                // SpanAttributes is not a Sequence: its own forEach is the only way to see them all.
                // swift-format-ignore: ReplaceForEachWithForLoop
                span.attributes.forEach { _, value in #expect(!"\(value)".contains("pw-never-logged")) }

                let wait = try metrics.expectTimer("cache_pool_wait", [("pool", "redis r")])
                // Concurrent reads share jobs, so there are at most as many waits as calls.
                #expect(!wait.values.isEmpty && wait.values.count <= 4, "\(wait.values)")
                try await cache.shutdown()
            }
        }
    }
}
