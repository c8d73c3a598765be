import Caching
import CachingPostgres
import CachingTesting
import Foundation
import Testing

/// The repository root, from this file's path (Tests/CachingPostgresTests/…).
let postgresInteropRepositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

extension PostgresTests {
    /// Swift and Django's `DatabaseCache` (Django's PostgreSQL backend over psycopg) on one real
    /// server: each uses the other's table as it is. Values both ways, on SQLite and PostgreSQL,
    /// are in CachingSQLiteTests' `DjangoDatabaseInteropTests`.
    @Suite(
        "PostgreSQL: interop with Django's DatabaseCache",
        .enabled(
            if: InteropPython.shouldRun(repositoryRoot: postgresInteropRepositoryRoot), Comment(rawValue: InteropPython.howToCreate))
    )
    struct PostgresInteropTests {
        /// Runs the Django side against the server and returns its JSON report.
        static func django(_ server: PostgresServer, table: String, _ command: String) async throws -> [String: Any] {
            let python = InteropPython.path(repositoryRoot: postgresInteropRepositoryRoot)
            guard FileManager.default.isExecutableFile(atPath: python) else {
                Issue.record(
                    "No Python with Django at \(python): run scripts/setup-test-env.sh (it creates .venv with Django and psycopg), or set SWIFT_CACHING_PYTHON"
                )
                throw CacheError(.unavailable, "python missing")
            }
            let script = postgresInteropRepositoryRoot + "/Tests/CachingSQLiteTests/Interop/django_db_interop.py"
            let output = try await runProgram(python, [script, server.url, table, command])
            let json = try JSONSerialization.jsonObject(with: Data(output.utf8))
            return try #require(json as? [String: Any], "\(output)")
        }

        static func cache(_ server: PostgresServer, table: String, createTable: Bool = true, clock: any CacheClock = SystemCacheClock())
            throws -> Cache
        {
            var options = PostgresOptions(database: server.url)
            options.createTable = createTable
            return Cache(
                try PostgresBackend(table: table, options: options, clock: clock), configuration: CacheConfiguration(clock: clock))
        }

        @Test("Django's createcachetable table is used by Swift as it is; Swift's table is the same shape for Django")
        func tables() async throws {
            try await PostgresServer.with { server in
                #expect(try await Self.django(server, table: "django_cache", "createtable")["created"] as? Bool == true)
                let before = try await Self.django(server, table: "django_cache", "schema")
                let onDjangos = try Self.cache(server, table: "django_cache", createTable: false)
                try await onDjangos.set("k", "v")
                #expect(try await onDjangos.get("k", as: String.self) == "v")
                try await onDjangos.shutdown()
                let after = try await Self.django(server, table: "django_cache", "schema")
                #expect(
                    try JSONSerialization.data(withJSONObject: before, options: .sortedKeys)
                        == JSONSerialization.data(withJSONObject: after, options: .sortedKeys), "Swift left Django's table as it was")

                let swifts = try Self.cache(server, table: "swift_cache")
                try await swifts.set("k", "v")
                try await swifts.shutdown()
                let swiftSchema = try await Self.django(server, table: "swift_cache", "schema")
                #expect(
                    try JSONSerialization.data(withJSONObject: before, options: .sortedKeys)
                        == JSONSerialization.data(withJSONObject: swiftSchema, options: .sortedKeys),
                    "Django sees \(swiftSchema) for Swift's table and \(before) for its own")
                #expect(before["primary_key"] as? [String] == ["cache_key"])
                #expect(before["indexed"] as? [String] == ["expires"])
            }
        }
    }
}
