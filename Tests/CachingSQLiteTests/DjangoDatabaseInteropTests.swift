import Caching
import CachingPostgres
import CachingSQLite
import CachingTesting
import Foundation
import Testing

/// The databases Swift and Django's `DatabaseCache` share a table in: a SQLite file, or a real
/// PostgreSQL server (Django's PostgreSQL backend over psycopg).
enum SharedDatabase: String, Sendable, CaseIterable, CustomStringConvertible {
    case sqlite
    case postgresql

    var description: String { rawValue }

    /// One database for one test: what Django's side is given, and Swift caches on it.
    struct Open: Sendable {
        /// The SQLite file's path or the server's `postgres://` URL, as the Python side takes it.
        let database: String
        let makeCache: @Sendable (_ table: String, _ createTable: Bool, _ clock: any CacheClock) throws -> Cache

        func cache(table: String, createTable: Bool = true, clock: any CacheClock = SystemCacheClock()) throws -> Cache {
            try makeCache(table, createTable, clock)
        }

        /// Runs the Django side on this database and returns its JSON report.
        func django(table: String, _ command: String) async throws -> [String: Any] {
            try await runDjango(database: database, table: table, command)
        }
    }

    /// Opens a fresh database, runs `body` with it, and removes it (or stops its server).
    func with(_ body: (Open) async throws -> Void) async throws {
        switch self {
        case .sqlite:
            let fixture = SQLiteFixture()
            defer { fixture.directory.remove() }
            try await body(
                Open(database: fixture.path) { table, createTable, clock in
                    try Cache.sqlite(
                        table: table, options: fixture.options { $0.createTable = createTable },
                        configuration: CacheConfiguration(clock: clock))
                })
        case .postgresql:
            try await PostgresServer.with { server in
                try await body(
                    Open(database: server.url) { table, createTable, clock in
                        var options = PostgresOptions(database: server.url)
                        options.createTable = createTable
                        return Cache(
                            try PostgresBackend(table: table, options: options, clock: clock),
                            configuration: CacheConfiguration(clock: clock))
                    })
            }
        }
    }
}

/// The repository root, from this file's path (Tests/CachingSQLiteTests/…).
let sqliteInteropRepositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// Runs Tests/CachingSQLiteTests/Interop/django_db_interop.py with Django's `DatabaseCache` on
/// `database` (a SQLite path or a `postgres://` URL) and returns its JSON report.
func runDjango(database: String, table: String, _ command: String) async throws -> [String: Any] {
    let python = InteropPython.path(repositoryRoot: sqliteInteropRepositoryRoot)
    guard FileManager.default.isExecutableFile(atPath: python) else {
        Issue.record(
            "No Python with Django at \(python): run scripts/setup-test-env.sh (it creates .venv with Django and psycopg), or set SWIFT_CACHING_PYTHON"
        )
        throw CacheError(.unavailable, "python missing")
    }
    let script = sqliteInteropRepositoryRoot + "/Tests/CachingSQLiteTests/Interop/django_db_interop.py"
    let output = try await runProgram(python, [script, database, table, command])
    let json = try JSONSerialization.jsonObject(with: Data(output.utf8))
    return try #require(json as? [String: Any], "\(output)")
}

/// Swift and Django's `DatabaseCache` on one table, on SQLite and on PostgreSQL: the same keys,
/// the same pickled values, both ways.
@Suite(
    "Database cache: values both ways with Django's DatabaseCache",
    .enabled(if: InteropPython.shouldRun(repositoryRoot: sqliteInteropRepositoryRoot), Comment(rawValue: InteropPython.howToCreate))
)
struct DjangoDatabaseInteropTests {
    /// A struct: stored as JSON behind a header, which Django's unpickler refuses.
    struct Visit: Codable, Sendable {
        var page: String
        var count: Int
    }

    @Test(
        "Django reads int, str, bytes, bool, float, None and a dict that Swift wrote, and incr works on Swift's counter",
        arguments: SharedDatabase.allCases)
    func djangoReadsSwift(_ shared: SharedDatabase) async throws {
        try await shared.with { database in
            let clock = ManualCacheClock(start: SystemCacheClock().now())
            let cache = try database.cache(table: "shared", clock: clock)
            try await cache.set("swift_int", 42)
            try await cache.set("swift_negative", -17)
            try await cache.set("swift_big", Int64.max)
            try await cache.set("swift_str", "héllo wörld ☃")
            try await cache.set("swift_bytes", [UInt8]([0, 1, 127, 128, 255]))
            try await cache.set("swift_true", true)
            try await cache.set("swift_false", false)
            try await cache.set("swift_float", 1.5)
            try await cache.set("swift_none", Int?.none)
            try await cache.set("swift_empty", "")
            try await cache.set("swift_counter", 10)
            try await cache.set("swift_dict", ["a": [1, 2]])
            try await cache.set("swift_codable", Visit(page: "/home", count: 3))
            // Expired for Django too: a deadline already in the past of the real clock.
            clock.advance(by: -3600)
            try await cache.set("swift_expired", "gone", timeout: 60)
            clock.advance(by: 3600)

            let report = try await database.django(table: "shared", "read")
            let read = try #require(report["read"] as? [String: [Any]])
            func check(_ name: String, _ type: String, _ value: (Any) -> Bool) {
                let pair = read[name] ?? []
                #expect(pair.first as? String == type, "\(name): Django read \(pair)")
                #expect(pair.count == 2 && value(pair[1]), "\(name): Django read \(pair)")
            }
            check("int", "int") { $0 as? Int == 42 }
            check("negative", "int") { $0 as? Int == -17 }
            check("big", "int") { $0 as? Int64 == Int64.max }
            check("str", "str") { $0 as? String == "héllo wörld ☃" }
            check("bytes", "bytes") { $0 as? [Int] == [0, 1, 127, 128, 255] }
            check("true", "bool") { $0 as? Bool == true }
            check("false", "bool") { $0 as? Bool == false }
            check("float", "float") { $0 as? Double == 1.5 }
            check("none", "NoneType") { $0 is NSNull }
            check("empty", "str") { $0 as? String == "" }
            check("dict", "dict") { $0 as? [String: [Int]] == ["a": [1, 2]] }
            #expect(report["has_none"] as? Bool == true, "a stored None is a key Django has")
            #expect(report["missing"] as? String == "MISSING")
            #expect(report["expired"] as? String == "MISSING", "Django sees Swift's expiry")
            #expect(report["codable"] as? String == "UnpicklingError", "a Codable value is not mistaken for one of Django's")
            #expect(report["incr"] as? Int == 15)
            #expect(try await cache.get("swift_counter", as: Int.self) == 15, "Swift reads the int Django's incr wrote")
            #expect(try await cache.incr("swift_counter", by: 2) == 17)
            try await cache.shutdown()
        }
    }

    @Test(
        "Swift reads int, str, bytes, bool, float and None that Django wrote, and incr works on Django's counter",
        arguments: SharedDatabase.allCases)
    func swiftReadsDjango(_ shared: SharedDatabase) async throws {
        try await shared.with { database in
            let report = try await database.django(table: "shared", "write")
            let cache = try database.cache(table: "shared", createTable: false)
            #expect(report["made_key"] as? String == cache.makeKey("some:key"))
            #expect(try await cache.get("django_int", as: Int.self) == 42)
            #expect(try await cache.get("django_negative", as: Int.self) == -17)
            #expect(try await cache.get("django_big", as: Int.self) == 1 << 62)
            #expect(try await cache.get("django_str", as: String.self) == "héllo wörld ☃")
            #expect(try await cache.get("django_bytes", as: [UInt8].self) == [0, 1, 127, 128, 255])
            #expect(try await cache.get("django_true", as: Bool.self) == true)
            #expect(try await cache.get("django_false", as: Bool.self) == false)
            #expect(try await cache.get("django_float", as: Double.self) == 1.5)
            #expect(try await cache.hasKey("django_none"))
            #expect(try await cache.get("django_none", as: Int?.self) == .some(nil), "a stored None is a stored nil")
            #expect(try await cache.incr("django_counter", by: 5) == 15)
            #expect(try await cache.get("django_expired", as: String.self) == nil)
            let keys = try #require(try await database.django(table: "shared", "keys")["keys"] as? [String])
            #expect(!keys.contains(":1:django_expired"), "the expired row a get found was deleted: \(keys)")
            #expect(keys.contains(":1:django_counter"))
            try await cache.shutdown()
            let after = try await database.django(table: "shared", "schema")
            #expect(after["indexed"] as? [String] == ["expires"])
        }
    }
}
