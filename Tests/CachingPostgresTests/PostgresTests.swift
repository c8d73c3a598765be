import Caching
import CachingPostgres
import CachingTesting
import MetricsTestKit
import Synchronization
import Testing

/// The backends a check made, shut down when it ends.
final class PostgresBackendList: Sendable {
    private let backends = Mutex<[PostgresBackend]>([])
    func append(_ backend: PostgresBackend) { backends.withLock { $0.append(backend) } }
    var all: [PostgresBackend] { backends.withLock { $0 } }
}

let tableCounter = Atomic<Int>(0)

/// A subject on one running server: a fresh table per check.
func postgresSubject(_ server: PostgresServer) -> CacheConformanceSubject {
    CacheConformanceSubject(name: "db (postgresql)", usesConfiguredClock: true) {
        let table = "cache_\(tableCounter.add(1, ordering: .relaxed).newValue)"
        let backends = PostgresBackendList()
        return CacheConformanceSubject.Storage(
            makeCache: { configuration in
                // Room for the concurrency check's 302 keys: with Django's default of 300 it culls
                // keys whose tasks have not read them back yet, a race of culling, not of this backend.
                var options = PostgresOptions(database: server.connectionString)
                options.maxEntries = 1000
                let backend = try PostgresBackend(table: table, options: options, clock: configuration.clock)
                backends.append(backend)
                return Cache(backend, configuration: configuration)
            },
            close: { for backend in backends.all { try await backend.shutdown() } })
    }
}

@Suite("PostgreSQL", .serialized)
struct PostgresTests {
    @Test("an alias with metrics on reports its connections' queue: one wait per statement's job")
    func poolMetrics() async throws {
        try await PostgresServer.with { server in
            let metrics = TestMetrics()
            let json =
                #"{"m": {"BACKEND": "postgres", "LOCATION": "metrics_cache", "OPTIONS": {"database": "\#(server.connectionString)"}}}"#
            let caches = try Caches(
                json: Array(json.utf8), backends: CacheBackends.standard.withPostgres(),
                observability: CacheObservability(metricsFactory: metrics))
            let cache = try caches["m"]
            try await cache.set("k", 1)
            let waits = try metrics.expectTimer("cache_pool_wait", [("pool", "postgresql m")])
            _ = try metrics.expectMeter("cache_pool_queue_depth", [("pool", "postgresql m")])
            let before = waits.values.count
            for index in 0..<4 { try await cache.set("k\(index)", index) }
            #expect(try await cache.get("k2", as: Int.self) == 2)
            #expect(waits.values.count == before + 5)
            try await caches.shutdown()
        }
    }

    @Test("the conformance suite against a real PostgreSQL server (one server, a fresh table per check)")
    func conformance() async throws {
        try await PostgresServer.with { server in
            let subject = postgresSubject(server)
            for check in CacheConformance.checks {
                try await check.run(on: subject)
            }
        }
    }

    @Test("rows survive a server restart; a call while it is down fails with unavailable, then it recovers without a new backend")
    func restart() async throws {
        try await PostgresServer.with { server in
            let cache = Cache(try PostgresBackend(table: "t", options: PostgresOptions(database: server.url)))
            try await cache.set("k", "kept")
            try await server.restart()
            var recovered: String?
            for _ in 0..<50 {
                do {
                    recovered = try await cache.get("k", as: String.self)
                    break
                } catch let error as CacheError where error.code == .unavailable {
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            #expect(recovered == "kept")
            try await cache.shutdown()
        }
    }

    @Test("settings: the password is never shown, unknown options name the alias and option")
    func settings() async throws {
        let options = PostgresOptions(database: "postgres://app:s3cret@db.internal:5432/app")
        let error = #expect(throws: CacheError.self) {
            _ = try Caches(
                json: Array(#"{"pg": {"BACKEND": "postgres", "LOCATION": "t", "OPTIONS": {"database": "x", "colour": 1}}}"#.utf8),
                backends: CacheBackends.standard.withPostgres())
        }
        #expect(error?.message.contains(#"CACHES["pg"]["OPTIONS"]["colour"]"#) == true)
        let backend = try PostgresBackend(table: "t", options: PostgresOptions(database: "postgres://app:s3cret@127.0.0.1:1/app"))
        let down = await #expect(throws: CacheError.self) { _ = try await backend.entry(forKey: "k") }
        #expect(down?.code == .unavailable)
        #expect(down?.message.contains("s3cret") == false, "\(down?.message ?? "")")
        #expect(down?.message.contains("app:***@127.0.0.1") == true, "\(down?.message ?? "")")
        _ = options
        try await backend.shutdown()
    }
}
