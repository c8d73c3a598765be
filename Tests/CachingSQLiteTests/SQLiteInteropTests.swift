import Caching
import CachingSQLite
import CachingTesting
import Foundation
import Testing

extension SQLiteTests {
    /// Django's `DatabaseCache` and Swift on one SQLite file: the same table, the same culling.
    /// Values both ways, on SQLite and PostgreSQL, are in ``DjangoDatabaseInteropTests``.
    @Suite(
        "SQLite: interop with Django's DatabaseCache",
        .enabled(
            if: InteropPython.shouldRun(repositoryRoot: sqliteInteropRepositoryRoot), Comment(rawValue: InteropPython.howToCreate))
    )
    struct SQLiteInteropTests {
        /// Runs the Django side on the fixture's file and returns its JSON report.
        static func django(_ fixture: SQLiteFixture, table: String, _ command: String) async throws -> [String: Any] {
            try await runDjango(database: fixture.path, table: table, command)
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
    }
}
