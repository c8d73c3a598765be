import CSQLite
import Caching
import CachingSQLite
import CachingTesting
import Foundation
import Testing

extension SQLiteTests {
    /// Files and tables that are not what the cache needs: specific errors, and nothing lost.
    @Suite("SQLite: faults")
    struct SQLiteFaultTests {
        @Test("a file that is not a SQLite database: storageFailure naming it, and the file is left untouched")
        func corruptFile() async throws {
            let fixture = SQLiteFixture()
            defer { fixture.directory.remove() }
            let garbage = Data(String(repeating: "not a database, but someone's notes\n", count: 200).utf8)
            try garbage.write(to: URL(fileURLWithPath: fixture.path))
            let cache = try Cache.sqlite(table: "t", options: fixture.options())
            for operation in ["set", "get"] {
                let error = await #expect(throws: CacheError.self, "\(operation)") {
                    if operation == "set" { try await cache.set("k", 1) } else { _ = try await cache.get("k", as: Int.self) }
                }
                #expect(error?.code == .storageFailure)
                #expect(error?.message.contains("not a valid SQLite database") == true, "\(error?.message ?? "")")
                #expect(error?.message.contains(fixture.path) == true)
            }
            try await cache.shutdown()
            #expect(try Data(contentsOf: URL(fileURLWithPath: fixture.path)) == garbage, "the file was not rewritten")
        }

        @Test("a database in a directory that does not exist: storageFailure saying so; nothing is created")
        func missingDirectory() async throws {
            let fixture = SQLiteFixture()
            defer { fixture.directory.remove() }
            let path = fixture.directory.path + "/missing/cache.sqlite3"
            let cache = try Cache.sqlite(table: "t", options: SQLiteOptions(database: path))
            let error = await #expect(throws: CacheError.self) { try await cache.set("k", 1) }
            #expect(error?.code == .storageFailure)
            #expect(error?.message.contains("cannot be opened") == true, "\(error?.message ?? "")")
            #expect(error?.message.contains("does its directory exist") == true)
            #expect(!FileManager.default.fileExists(atPath: fixture.directory.path + "/missing"))
            try await cache.shutdown()
        }

        @Test("a table of another shape: invalidSettings naming the table and what it lacks; its rows stay")
        func wrongSchema() async throws {
            let fixture = SQLiteFixture()
            defer { fixture.directory.remove() }
            _ = try await fixture.sqlite3("CREATE TABLE t (id integer PRIMARY KEY, payload text); INSERT INTO t VALUES (1, 'keep me')")
            let cache = try Cache.sqlite(table: "t", options: fixture.options())
            let error = await #expect(throws: CacheError.self) { try await cache.set("k", 1) }
            #expect(error?.code == .invalidSettings)
            let message = error?.message ?? ""
            #expect(message.contains(#"CACHES["default"]["LOCATION"] names the table "t""#), "\(message)")
            #expect(message.contains("not Django's cache table") && message.contains("cache_key, value, expires"), "\(message)")
            #expect(try await fixture.sqlite3("SELECT payload FROM t") == "keep me")
            try await cache.shutdown()
        }

        @Test("a missing table with create_table off: invalidSettings saying how to create it")
        func missingTable() async throws {
            let fixture = SQLiteFixture()
            defer { fixture.directory.remove() }
            let backend = try SQLiteBackend(table: "t", options: fixture.options { $0.createTable = false })
            let cache = Cache(backend)
            let error = await #expect(throws: CacheError.self) { _ = try await cache.get("k", as: Int.self) }
            #expect(error?.code == .invalidSettings)
            #expect(error?.message.contains("createcachetable") == true, "\(error?.message ?? "")")
            try await backend.createTable()
            try await cache.set("k", 1)
            #expect(try await cache.get("k", as: Int.self) == 1)
            try await cache.shutdown()
        }

        @Test("a database another connection holds locked: writes fail with timeout after busy_timeout, reads go on, and it recovers")
        func locked() async throws {
            let fixture = SQLiteFixture()
            defer { fixture.directory.remove() }
            let cache = try Cache.sqlite(table: "t", options: fixture.options { $0.busyTimeout = 0.3 })
            try await cache.set("k", "before")
            var holder: OpaquePointer?
            #expect(sqlite3_open(fixture.path, &holder) == SQLITE_OK)
            defer { sqlite3_close(holder) }
            #expect(
                sqlite3_exec(holder, "BEGIN IMMEDIATE; INSERT INTO t VALUES ('other', 'x', '9999-12-31 23:59:59')", nil, nil, nil)
                    == SQLITE_OK)
            let start = ContinuousClock.now
            let error = await #expect(throws: CacheError.self) { try await cache.set("k", "during") }
            let waited = ContinuousClock.now - start
            #expect(error?.code == .timeout)
            #expect(error?.message.contains("busy_timeout") == true, "\(error?.message ?? "")")
            #expect(waited >= .milliseconds(250) && waited < .seconds(10), "waited \(waited)")
            #expect(try await cache.get("k", as: String.self) == "before", "WAL lets reads go on beside the lock")
            #expect(sqlite3_exec(holder, "COMMIT", nil, nil, nil) == SQLITE_OK)
            try await cache.set("k", "after")
            #expect(try await cache.get("k", as: String.self) == "after")
            try await cache.shutdown()
        }

        @Test("a file this process may only read: reads work, writes fail with storageFailure, the file is unchanged")
        func readOnlyFile() async throws {
            let fixture = SQLiteFixture()
            defer { fixture.directory.remove() }
            let cache = try Cache.sqlite(table: "t", options: fixture.options())
            try await cache.set("k", "kept")
            try await cache.shutdown()
            // Back to a rollback journal, so that a reader needs no -shm file it could not create.
            _ = try await fixture.sqlite3("PRAGMA journal_mode = DELETE")
            chmod(fixture.path, 0o444)
            let before = try Data(contentsOf: URL(fileURLWithPath: fixture.path))
            let probe = try builtExecutable("LifecycleProbe")
            // root may write any file: the probe runs as nobody, for whom the file is read-only.
            let output =
                getuid() == 0
                ? try await runProgram(
                    "/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", probe, "sqlite-write-once", fixture.path])
                : try await runProgram(probe, ["sqlite-write-once", fixture.path])
            let lines = output.split(separator: "\n").map(String.init)
            #expect(lines.count == 2, "\(output)")
            #expect(lines.last?.hasPrefix("set=storageFailure: SQLite database \(fixture.path)") == true, "\(output)")
            #expect(output.contains("read-only") || output.contains("cannot be opened"), "\(output)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: fixture.path)) == before, "the file was not changed")
            #expect(try await fixture.sqlite3("SELECT count(*) FROM t") == "1")
        }

        @Test(
            "a full disk: writes fail with storageFailure saying so, a logout that could not be stored says so, nothing stored before is lost, and both write again once space is freed"
        )
        func diskFull() async throws {
            let fixture = SQLiteFixture()
            defer { fixture.directory.remove() }
            let probe = try builtExecutable("LifecycleProbe")
            // A 4 MiB tmpfs mounted in a mount namespace of the probe's own: the kernel answers
            // ENOSPC, and the mount goes away with the process, whatever happens to it.
            // Not root: a user namespace maps this user to root inside it.
            let script = #"mount -t tmpfs -o size=4m swift-caching-disk-full "$1" && exec "$2" sqlite-disk-full "$1""#
            let namespace = getuid() == 0 ? ["--mount"] : ["--map-root-user", "--mount"]
            let output = try await runProgram(
                "/usr/bin/unshare", namespace + ["/bin/sh", "-c", script, "sh", fixture.directory.path, probe], allowFailure: true)
            var steps: [String: String] = [:]
            for line in output.split(separator: "\n") {
                guard let equals = line.firstIndex(of: "=") else { continue }
                steps[String(line[..<equals])] = String(line[line.index(after: equals)...])
            }
            try #require(
                steps["filled"] == "true",
                "the probe could not fill a tmpfs of its own (needs util-linux's unshare and mount, and root or user namespaces): \(output)"
            )
            let cachePlace = "storageFailure: SQLite database \(fixture.directory.path)/cache.sqlite3: the disk is full during"
            #expect(steps["set-big"]?.hasPrefix(cachePlace) == true, "\(output)")
            #expect(steps["get-kept"] == "value", "an entry written before the disk filled is still read: \(output)")
            #expect(steps["get-big"] == "nil", "the refused value is not half there: \(output)")
            #expect(steps["revoke"]?.hasPrefix("storeFailure:") == true, "\(output)")
            #expect(steps["revoke"]?.contains("disk is full") == true, "\(output)")
            #expect(steps["accepted-lost"] == "0", "every logout that returned is still revoked: \(output)")
            #expect(steps["revoked-before"] == "true", "\(output)")
            #expect(steps["refused-revoked"] == "false", "the refused logout was reported as refused, not half stored: \(output)")
            #expect(steps["unknown-revoked"] == "false", "checks still answer on a full disk: \(output)")
            #expect(steps["after-set-big"] == "\(256 * 1024)", "the cache writes again without being reopened: \(output)")
            #expect(steps["after-revoke"] == "true", "the store writes again without being reopened: \(output)")
            #expect(steps["integrity-cache"] == "ok", "\(output)")
            #expect(steps["integrity-revocations"] == "ok", "\(output)")
        }
    }
}
