import Caching
import CachingSQLite
import CachingTesting
import Synchronization
import Testing

/// SQLite: a fresh file per check, measured by the check's clock. `MAX_ENTRIES` is 10,000, as
/// for the local-memory and file subjects: the concurrency check writes 302 keys, and Django's
/// default of 300 would cull some of them before they are read back.
let sqliteSubject = CacheConformanceSubject(name: "db (sqlite)", usesConfiguredClock: true) {
    let fixture = SQLiteFixture()
    let backends = BackendList()
    return CacheConformanceSubject.Storage(
        makeCache: { configuration in
            let backend = try SQLiteBackend(
                table: "cache_table", options: fixture.options { $0.maxEntries = 10_000 }, clock: configuration.clock)
            backends.append(backend)
            return Cache(backend, configuration: configuration)
        },
        close: {
            for backend in backends.all { try await backend.shutdown() }
            fixture.directory.remove()
        })
}

/// The backends a check made, shut down when it ends.
final class BackendList: Sendable {
    private let backends = Mutex<[SQLiteBackend]>([])
    func append(_ backend: SQLiteBackend) { backends.withLock { $0.append(backend) } }
    var all: [SQLiteBackend] { backends.withLock { $0 } }
}

extension SQLiteTests {
    @Suite("Conformance: db (sqlite)")
    struct SQLiteConformanceTests {
        @Test(arguments: CacheConformance.checks)
        func conformance(_ check: CacheConformanceCheck) async throws {
            try await check.run(on: sqliteSubject)
        }
    }
}
