import Caching
import CachingSQLite
import CachingTesting
import Foundation
import Testing

/// The repository root, from this file's path (Tests/CachingSQLiteTests/…).
let sqliteInteropRepositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

extension SQLiteTests {
    /// Swift and Django's `DatabaseCache` share one SQLite file and one table: the same keys,
    /// the same pickled values, both ways.
    @Suite(
        "SQLite: interop with Django's DatabaseCache",
        .enabled(
            if: InteropPython.shouldRun(repositoryRoot: sqliteInteropRepositoryRoot), Comment(rawValue: InteropPython.howToCreate))
    )
    struct SQLiteInteropTests {
        /// Runs the Django side and returns its JSON report.
        static func django(_ fixture: SQLiteFixture, table: String, _ command: String) async throws -> [String: Any] {
            let python = InteropPython.path(repositoryRoot: sqliteInteropRepositoryRoot)
            guard FileManager.default.isExecutableFile(atPath: python) else {
                Issue.record(
                    "No Python with Django at \(python): run scripts/setup-test-env.sh (it creates .venv with Django), or set SWIFT_CACHING_PYTHON"
                )
                throw CacheError(.unavailable, "python missing")
            }
            let script = sqliteInteropRepositoryRoot + "/Tests/CachingSQLiteTests/Interop/django_db_interop.py"
            let output = try await runProgram(python, [script, fixture.path, table, command])
            let json = try JSONSerialization.jsonObject(with: Data(output.utf8))
            return try #require(json as? [String: Any], "\(output)")
        }

        @Test("Django's createcachetable table is used by Swift as it is; Swift's table is the same shape for Django")
        func tables() async throws {
            let djangoMade = SQLiteFixture()
            let swiftMade = SQLiteFixture()
            defer {
                djangoMade.directory.remove()
                swiftMade.directory.remove()
            }
            #expect(try await Self.django(djangoMade, table: "django_cache", "createtable")["created"] as? Bool == true)
            let schemaBefore = try await djangoMade.sqlite3(".schema")
            let onDjangos = try Cache.sqlite(table: "django_cache", options: djangoMade.options { $0.createTable = false })
            try await onDjangos.set("k", "v")
            #expect(try await onDjangos.get("k", as: String.self) == "v")
            try await onDjangos.shutdown()
            #expect(try await djangoMade.sqlite3(".schema") == schemaBefore, "Swift left Django's table as it was")

            let swifts = try Cache.sqlite(table: "django_cache", options: swiftMade.options())
            try await swifts.set("k", "v")
            try await swifts.shutdown()
            let djangoSchema = try await Self.django(djangoMade, table: "django_cache", "schema")
            let swiftSchema = try await Self.django(swiftMade, table: "django_cache", "schema")
            #expect(
                try JSONSerialization.data(withJSONObject: djangoSchema, options: .sortedKeys)
                    == JSONSerialization.data(withJSONObject: swiftSchema, options: .sortedKeys),
                "Django sees \(swiftSchema) for Swift's table and \(djangoSchema) for its own")
            #expect(djangoSchema["primary_key"] as? [String] == ["cache_key"])
            #expect(djangoSchema["indexed"] as? [String] == ["expires"])
        }

        @Test("culling leaves the same keys as Django's: 45 keys written with MAX_ENTRIES 30, CULL_FREQUENCY 3")
        func sameCulling() async throws {
            let djangos = SQLiteFixture()
            let swifts = SQLiteFixture()
            defer {
                djangos.directory.remove()
                swifts.directory.remove()
            }
            let report = try await Self.django(djangos, table: "c", "cull")
            let djangoKeys = try #require(report["keys"] as? [String])
            let cache = try Cache.sqlite(
                table: "c",
                options: swifts.options {
                    $0.maxEntries = 30
                    $0.cullFrequency = 3
                })
            for index in 0..<45 { try await cache.set(String(format: "k%02d", index), index, timeout: .never) }
            try await cache.shutdown()
            let swiftKeys = try await swifts.sqlite3("SELECT cache_key FROM c ORDER BY cache_key").split(separator: "\n").map(String.init)
            #expect(swiftKeys == djangoKeys)
            #expect(djangoKeys.count < 45 && djangoKeys.count > 20, "\(djangoKeys)")
        }

        /// A struct: stored as JSON behind a header, which Django's unpickler refuses.
        struct Visit: Codable, Sendable {
            var page: String
            var count: Int
        }

        @Test("Django reads int, str, bytes, bool, float, None and a dict that Swift wrote, and incr works on Swift's counter")
        func djangoReadsSwift() async throws {
            let fixture = SQLiteFixture()
            defer { fixture.directory.remove() }
            let clock = ManualCacheClock(start: SystemCacheClock().now())
            let cache = try Cache.sqlite(table: "shared", options: fixture.options(), configuration: CacheConfiguration(clock: clock))
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

            let report = try await Self.django(fixture, table: "shared", "read")
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

        @Test("Swift reads int, str, bytes, bool, float and None that Django wrote, and incr works on Django's counter")
        func swiftReadsDjango() async throws {
            let fixture = SQLiteFixture()
            defer { fixture.directory.remove() }
            let report = try await Self.django(fixture, table: "shared", "write")
            let cache = try Cache.sqlite(table: "shared", options: fixture.options { $0.createTable = false })
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
            #expect(
                try await fixture.sqlite3("SELECT count(*) FROM shared WHERE cache_key = ':1:django_expired'") == "0",
                "the expired row a get found was deleted")
            try await cache.shutdown()
            let after = try await Self.django(fixture, table: "shared", "schema")
            #expect(after["indexed"] as? [String] == ["expires"])
        }
    }
}
