import Caching
import CachingPostgres
import CachingSQLite
import CachingTesting
import Foundation
import InMemoryLogging
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import TokenRevocation
import Tracing

/// The repository root, from this file's path (Tests/TokenRevocationTests/…).
let revocationRepositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// One database under a ``DatabaseRevocation``: a SQLite file or a table on the suite's server,
/// with a raw client to plant and count rows underneath the store.
struct RevocationDatabaseCase: Sendable, CustomTestStringConvertible {
    enum Kind: Sendable { case sqlite, postgres }
    var kind: Kind
    var testDescription: String { kind == .sqlite ? "SQLite" : "PostgreSQL" }

    static let all = [RevocationDatabaseCase(kind: .sqlite), RevocationDatabaseCase(kind: .postgres)]

    /// A fresh database (file or table) and how to reach it.
    struct Place: Sendable {
        var kind: Kind
        var location: String
        var table: String
        var server: PostgresServer?

        func store(
            clock: any CacheClock = SystemCacheClock(), createTable: Bool = true, table: String? = nil, readOnTask: Bool = true
        ) throws -> DatabaseRevocation {
            switch kind {
            case .sqlite:
                var options = SQLiteOptions(database: location)
                options.createTable = createTable
                options.readOnTask = readOnTask
                return try DatabaseRevocation(sqlite: options, table: table ?? self.table, clock: clock)
            case .postgres:
                var options = PostgresOptions(database: location)
                options.createTable = createTable
                options.timeout = 2
                return try DatabaseRevocation(postgres: options, table: table ?? self.table, clock: clock)
            }
        }

        /// Runs SQL with the database's own client (`sqlite3` or `psql`); its output.
        func sql(_ text: String) async throws -> String {
            switch kind {
            case .sqlite: return try await runProgram("/usr/bin/sqlite3", [location, text])
            case .postgres:
                return try await runProgram(
                    "/usr/bin/psql",
                    ["-X", "-q", "-t", "-A", "-h", "127.0.0.1", "-p", "\(server!.port)", "-U", "postgres", "-d", "postgres", "-c", text])
            }
        }

        /// A time literal of the database's own kind.
        func time(_ unix: Double) -> String {
            kind == .sqlite ? "'\(DatabaseCacheTime.text(forUnixTime: unix))'" : "'\(DatabaseCacheTime.text(forUnixTime: unix))+00'"
        }

        var pythonLocation: String { kind == .sqlite ? location : server!.url }
    }

    /// A fresh database; on PostgreSQL on `server`, else on the suite's server.
    func place(server: PostgresServer? = nil) throws -> Place {
        let table = "revoked_\(tableNumber.add(1, ordering: .relaxed).newValue)"
        switch kind {
        case .sqlite:
            let directory = TemporaryDirectory("swcache-dbrevocation")
            try FileManager.default.createDirectory(atPath: directory.path, withIntermediateDirectories: true)
            return Place(kind: .sqlite, location: directory.path + "/revocations.sqlite3", table: table)
        case .postgres:
            guard let server = server ?? PostgresServerTrait.current else { throw CacheError(.unavailable, "needs .postgresServer") }
            return Place(kind: .postgres, location: server.connectionString, table: table, server: server)
        }
    }
}

@Suite("DatabaseRevocation: SQL tables in Django-Bolt's layout, on SQLite and PostgreSQL", .postgresServer)
struct DatabaseRevocationTests {
    @Test(
        "concurrent checks are coalesced: 64 checks run fewer than 64 lookup statements, each answer right",
        arguments: RevocationDatabaseCase.all)
    func coalescing(database: RevocationDatabaseCase) async throws {
        let place = try database.place()
        // Lookups that wait (on SQLite: on the reader threads). A lookup answered on the caller's
        // task never suspends, so checks that arrive one after another each find a slot free
        // and need nobody to share their statement; what is tested here is the sharing when
        // statements take time.
        let store = try place.store(readOnTask: false)
        for index in stride(from: 0, to: 64, by: 2) { try await store.revoke("jti-\(index)", ttl: .seconds(600)) }
        try await store.revokeFamily("family-3", ttl: .seconds(600))
        try await store.revokeAll(subject: "user-5", issuedBefore: 1_000, ttl: .seconds(600))
        let before = store.lookupBatchCount
        let answers = try await withThrowingTaskGroup(of: (Int, RevocationStatus).self) { group in
            for index in 0..<64 {
                group.addTask {
                    (
                        index,
                        try await store.check(
                            RevocationQuery(jti: "jti-\(index)", subject: "user-\(index % 8)", family: "family-\(index % 8)"))
                    )
                }
            }
            var answers: [Int: RevocationStatus] = [:]
            for try await (index, status) in group { answers[index] = status }
            return answers
        }
        let statements = store.lookupBatchCount - before
        for index in 0..<64 {
            #expect(answers[index]?.isRevoked == (index % 2 == 0), "jti-\(index)")
            #expect(answers[index]?.isFamilyRevoked == (index % 8 == 3), "family of \(index)")
            #expect(answers[index]?.subjectCutoff == (index % 8 == 5 ? 1_000 : nil), "subject of \(index)")
        }
        #expect(statements < 64, "\(statements) lookup statements for 64 concurrent checks")
        await store.shutdown()
    }

    @Test(
        "ids with quotes, backslashes, control characters and non-ASCII are stored and found exactly", arguments: RevocationDatabaseCase.all
    )
    func awkwardIdentifiers(database: RevocationDatabaseCase) async throws {
        let store = try database.place().store()
        let awkward = ["a\"b", "back\\slash", "tab\tnew\nline\u{1}", "é-ü-日本", "[\"json\"]", "{\"a\",\"b\"}", "'; DROP TABLE x; --"]
        for id in awkward {
            try await store.revoke(id, ttl: .seconds(60))
            try await store.revokeFamily(id, ttl: .seconds(60))
            try await store.revokeAll(subject: id, issuedBefore: 42, ttl: .seconds(60))
        }
        let statuses = try await withThrowingTaskGroup(of: (String, RevocationStatus).self) { group in
            for id in awkward + awkward.map({ $0 + "-other" }) {
                group.addTask { (id, try await store.check(RevocationQuery(jti: id, subject: id, family: id))) }
            }
            var statuses: [String: RevocationStatus] = [:]
            for try await (id, status) in group { statuses[id] = status }
            return statuses
        }
        for id in awkward {
            #expect(statuses[id] == RevocationStatus(isRevoked: true, isFamilyRevoked: true, subjectCutoff: 42), "\(id)")
            #expect(statuses[id + "-other"] == RevocationStatus(), "\(id)-other")
        }
        await store.shutdown()
    }

    @Test("built from a database-cache alias: the alias's database and clock, tables of its own; another backend is refused")
    func fromAlias() async throws {
        let sqlite = try RevocationDatabaseCase(kind: .sqlite).place()
        guard let server = PostgresServerTrait.current else { throw CacheError(.unavailable, "needs .postgresServer") }
        let clock = ManualCacheClock(start: 1_767_225_600)
        let caches = try Caches(
            [
                "auth": CacheSettings(backend: "db", location: "auth_cache", options: ["database": .string(sqlite.location)]),
                "pg": CacheSettings(backend: "postgres", location: "auth_cache", options: ["database": .string(server.connectionString)]),
                "memory": CacheSettings(backend: "locmem"),
            ],
            backends: CacheBackends.standard.withSQLite().withPostgres(), clock: clock)
        for alias in ["auth", "pg"] {
            let store = try DatabaseRevocation(caches: caches, alias: alias, table: "alias_revocations")
            try await store.revoke("a", ttl: .seconds(10))
            #expect(try await store.isRevoked("a"), "\(alias)")
            clock.advance(by: 10)
            #expect(try await store.isRevoked("a") == false, "\(alias): the alias's clock")
            try await caches[alias].set("k", "v")
            #expect(try await caches[alias].get("k", as: String.self) == "v", "\(alias): the cache beside it")
            await store.shutdown()
        }
        #expect(try await sqlite.sql("SELECT COUNT(*) FROM alias_revocations") == "1")
        let refused = #expect(throws: RevocationError.self) { _ = try DatabaseRevocation(caches: caches, alias: "memory") }
        #expect(refused?.code == .invalidArgument)
        #expect(refused?.message.contains(#"CACHES["memory"]"#) == true)
        #expect(throws: RevocationError.self) { _ = try DatabaseRevocation(caches: caches, alias: "missing") }
        try await caches.shutdown()
    }

    /// With observability on, a cache's backend is wrapped in instrumentation: the store still
    /// finds the database cache underneath (the logout server reports metrics by default).
    @Test("from an alias whose cache reports metrics and spans")
    func fromObservedAlias() async throws {
        let sqlite = try RevocationDatabaseCase(kind: .sqlite).place()
        let caches = try Caches(
            ["auth": CacheSettings(backend: "db", location: "auth_cache", options: ["database": .string(sqlite.location)])],
            backends: CacheBackends.standard.withSQLite(), observability: CacheObservability(tracer: NoOpTracer()))
        let store = try DatabaseRevocation(caches: caches, alias: "auth", table: "observed_revocations")
        try await store.revoke("a", ttl: .seconds(10))
        #expect(try await store.isRevoked("a"))
        #expect(try await sqlite.sql("SELECT COUNT(*) FROM observed_revocations") == "1")
        await store.shutdown()
        try await caches.shutdown()
    }

    @Test("a flood of 3,000 revocations never loses an earlier one: SQL does not evict", arguments: RevocationDatabaseCase.all)
    func flood(database: RevocationDatabaseCase) async throws {
        let place = try database.place()
        let store = try place.store()
        try await store.revoke("victim-access", ttl: .seconds(900))
        #expect(try await store.consume("victim-refresh", ttl: .seconds(900)))
        try await store.revokeAll(subject: "victim", issuedBefore: 1_000, ttl: .seconds(900))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    for index in 0..<750 { try await store.revoke("attacker-\(worker)-\(index)", ttl: .seconds(900)) }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await place.sql("SELECT COUNT(*) FROM \(place.table)") == "3002", "every row is kept")
        #expect(try await store.isRevoked("victim-access"))
        #expect(try await store.consume("victim-refresh", ttl: .seconds(900)) == false)
        #expect(try await store.revokedBefore(subject: "victim") == 1_000)
        #expect(try await store.isRevoked("attacker-3-749"))
        await store.shutdown()
    }

    @Test(
        "a planted row with a past expiry counts for nothing and does not block cleanup; live rows are never deleted",
        arguments: RevocationDatabaseCase.all)
    func plantedRow(database: RevocationDatabaseCase) async throws {
        let place = try database.place()
        let clock = ManualCacheClock(start: 1_767_225_600)
        let store = try place.store(clock: clock)
        try await store.revoke("live", ttl: .seconds(600))
        _ = try await place.sql(
            "INSERT INTO \(place.table) (jti, revoked_at, expires_at) VALUES ('forged', \(place.time(0)), \(place.time(1)))")
        #expect(try await store.isRevoked("forged") == false, "an expired row is not a revocation")
        // Re-revoking a planted expired row revokes it for real.
        try await store.revoke("forged", ttl: .seconds(60))
        #expect(try await store.isRevoked("forged"))
        _ = try await place.sql(
            "INSERT INTO \(place.table) (jti, revoked_at, expires_at) VALUES ('ancient', \(place.time(0)), \(place.time(1)))")
        #expect(try await store.consume("ancient", ttl: .seconds(60)), "an expired row does not block a first use")
        _ = try await place.sql(
            "INSERT INTO \(place.table) (jti, revoked_at, expires_at) VALUES ('planted', \(place.time(0)), \(place.time(1)))")
        #expect(try await store.removeExpired() == 1)
        #expect(try await place.sql("SELECT jti FROM \(place.table) ORDER BY jti") == "ancient\nforged\nlive")
        await store.shutdown()
    }

    @Test("removeExpired deletes in bounded batches and never a live row", arguments: RevocationDatabaseCase.all)
    func boundedCleanup(database: RevocationDatabaseCase) async throws {
        let place = try database.place()
        let clock = ManualCacheClock(start: 1_767_225_600)
        let store = try place.store(clock: clock)
        for index in 0..<25 { try await store.revoke("short-\(index)", ttl: .seconds(10)) }
        for index in 0..<5 { try await store.revoke("long-\(index)", ttl: .seconds(1000)) }
        try await store.revokeFamily("family-short", ttl: .seconds(10))
        try await store.revokeAll(subject: "subject-long", issuedBefore: 1_000, ttl: .seconds(1000))
        #expect(try await store.removeExpired() == 0, "nothing has expired yet")
        clock.advance(by: 10)
        #expect(try await store.removeExpiredBatch(fromStateTable: false, limit: 10) == 10)
        #expect(try await store.removeExpiredBatch(fromStateTable: false, limit: 10) == 10)
        #expect(try await store.removeExpiredBatch(fromStateTable: false, limit: 10) == 5)
        #expect(try await store.removeExpiredBatch(fromStateTable: false, limit: 10) == 0)
        #expect(try await store.removeExpired(batchSize: 1) == 1, "the expired family")
        #expect(try await place.sql("SELECT COUNT(*) FROM \(place.table)") == "5")
        for index in 0..<5 { #expect(try await store.isRevoked("long-\(index)")) }
        #expect(try await store.revokedBefore(subject: "subject-long") == 1_000)
        await store.shutdown()
    }

    @Test(
        "the cleanup service deletes on its interval and stops on graceful shutdown and on cancellation",
        arguments: RevocationDatabaseCase.all)
    func cleanupService(database: RevocationDatabaseCase) async throws {
        let place = try database.place()
        let clock = ManualCacheClock(start: 1_767_225_600)
        let store = try place.store(clock: clock)
        try await store.revoke("expiring", ttl: .seconds(5))
        try await store.revoke("kept", ttl: .seconds(500))
        clock.advance(by: 6)
        let group = ServiceGroup(
            services: [store.cleanupService(interval: .milliseconds(20), batchSize: 1)], gracefulShutdownSignals: [],
            cancellationSignals: [], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var count = ""
            for _ in 0..<200 {
                count = try await place.sql("SELECT COUNT(*) FROM \(place.table)")
                if count == "1" { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(count == "1", "the service deleted the expired row")
            // A row that expires while it runs is deleted on a later round.
            try await store.revoke("later", ttl: .seconds(1))
            clock.advance(by: 2)
            for _ in 0..<200 {
                count = try await place.sql("SELECT COUNT(*) FROM \(place.table)")
                if count == "1" { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(count == "1")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(try await store.isRevoked("kept"))
        // Cancellation ends it too.
        let running = Task { await store.cleanupService(interval: .seconds(3600)).run() }
        try await Task.sleep(for: .milliseconds(50))
        running.cancel()
        await running.value
        await store.shutdown()
    }

    @Test(
        "a table that vanishes after the store used it is never recreated empty: checks and revokes fail closed until it is back or createTables() is called",
        arguments: RevocationDatabaseCase.all)
    func vanishedTableFailsClosed(database: RevocationDatabaseCase) async throws {
        let place = try database.place()
        let store = try place.store()
        try await store.revoke("kept", ttl: .seconds(500))
        #expect(try await store.isRevoked("kept"))
        _ = try await place.sql("ALTER TABLE \(place.table) RENAME TO \(place.table)_away")
        for round in 0..<3 {
            do {
                let revoked = try await store.isRevoked("kept")
                Issue.record("round \(round): a check answered \(revoked) with the table gone")
            } catch let error as RevocationError {
                #expect(error.code == .storeFailure)
                #expect(error.message.contains("\(place.table)"), "\(error.message)")
            }
            await #expect(throws: RevocationError.self) { try await store.revoke("other-\(round)", ttl: .seconds(500)) }
        }
        #expect(
            try await place.sql("SELECT COUNT(*) FROM \(place.table)_away") == "1",
            "the revocation is where it was, and no empty table took its name")
        _ = try await place.sql("ALTER TABLE \(place.table)_away RENAME TO \(place.table)")
        var answer: Bool?
        for _ in 0..<50 where answer == nil {
            answer = try? await store.isRevoked("kept")
            if answer == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(answer == true, "the table back, the store answers from it")
        // Starting empty on purpose is the operator's call.
        _ = try await place.sql("DROP TABLE \(place.table)")
        await #expect(throws: RevocationError.self) { try await store.isRevoked("kept") }
        try await store.createTables()
        #expect(try await store.isRevoked("kept") == false)
        try await store.revoke("new", ttl: .seconds(60))
        #expect(try await store.isRevoked("new"))
        await store.shutdown()
    }

    @Test(
        "a cleanup that fails logs one warning per outage, and a notice when it works again",
        arguments: RevocationDatabaseCase.all)
    func cleanupFailureLoggedOnce(database: RevocationDatabaseCase) async throws {
        let place = try database.place()
        let creator = try place.store()
        try await creator.revoke("kept", ttl: .seconds(500))
        await creator.shutdown()
        // A store that does not create tables, its table renamed away: every round fails until
        // the table is back.
        let store = try place.store(createTable: false)
        _ = try await place.sql("ALTER TABLE \(place.table) RENAME TO \(place.table)_away")
        let logs = InMemoryLogHandler()
        var logger = Logger(label: "test", factory: { _ in logs })
        logger.logLevel = .debug
        let service = store.cleanupService(interval: .milliseconds(10), logger: logger)
        let running = Task { await service.run() }
        func failedRounds() -> Int { logs.entries.filter { $0.message.description.hasPrefix("Could not delete") }.count }
        for _ in 0..<300 where failedRounds() < 4 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(failedRounds() >= 4)
        #expect(logs.entries.filter { $0.level == .warning }.count == 1, "\(logs.entries.map(\.message))")
        _ = try await place.sql("ALTER TABLE \(place.table)_away RENAME TO \(place.table)")
        func notices() -> [InMemoryLogHandler.Entry] { logs.entries.filter { $0.level == .notice } }
        for _ in 0..<300 where notices().isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        running.cancel()
        await running.value
        #expect(notices().count == 1)
        #expect(notices().first?.message.description == "Deleting expired revocations works again")
        #expect(logs.entries.filter { $0.level == .warning }.count == 1)
        #expect(try await store.isRevoked("kept"))
        await store.shutdown()
    }

    @Test("200 concurrent consumes of one jti: exactly one winner", arguments: RevocationDatabaseCase.all)
    func consumeRace(database: RevocationDatabaseCase) async throws {
        let place = try database.place()
        let store = try place.store()
        let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<200 { group.addTask { try await store.consume("refresh-1", ttl: .seconds(600)) } }
            var wins = 0
            for try await won in group where won { wins += 1 }
            return wins
        }
        #expect(wins == 1)
        try await expectOneWinner(of: 64, refreshing: "login-race-2", in: store)
        await store.shutdown()
    }

    @Test("revocations survive a restart: the SQLite file reopened by a new store; PostgreSQL stopped and started")
    func survivesRestart() async throws {
        let sqlite = try RevocationDatabaseCase(kind: .sqlite).place()
        let first = try sqlite.store()
        try await first.revoke("kept", ttl: .seconds(600))
        try await first.revokeAll(subject: "user", issuedBefore: 1_234.5, ttl: .seconds(600))
        await first.shutdown()
        let second = try sqlite.store()
        #expect(try await second.isRevoked("kept"))
        #expect(try await second.revokedBefore(subject: "user") == 1_234.5)
        await second.shutdown()

        // A server of its own: the suite's serves the other tests meanwhile.
        try await PostgresServer.with { server in try await Self.restart(on: server) }
    }

    static func restart(on server: PostgresServer) async throws {
        let postgres = try RevocationDatabaseCase(kind: .postgres).place(server: server)
        let store = try postgres.store()
        try await store.revoke("kept", ttl: .seconds(600))
        try await store.revokeFamily("family", ttl: .seconds(600))
        try await postgres.server!.restart()
        var recovered = false
        for _ in 0..<50 {
            do {
                recovered = try await store.isRevoked("kept")
                break
            } catch let error as RevocationError where error.code == .storeFailure {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        #expect(recovered)
        let fresh = try postgres.store()
        #expect(try await fresh.isFamilyRevoked("family"))
        await fresh.shutdown()
        await store.shutdown()
    }

    @Test("PostgreSQL killed: every check throws storeFailure (never 'not revoked'); started again: the same store recovers")
    func killedServer() async throws {
        // A server of its own: the suite's serves the other tests meanwhile.
        try await PostgresServer.with { server in try await Self.kill(server) }
    }

    static func kill(_ server: PostgresServer) async throws {
        let place = try RevocationDatabaseCase(kind: .postgres).place(server: server)
        let store = try place.store()
        try await store.revoke("revoked", ttl: .seconds(600))
        #expect(try await store.isRevoked("revoked"))
        // The test server runs with synchronous_commit off: write its last commits out before
        // the crash, as a production server (synchronous_commit on) does at every commit.
        _ = try await place.sql("CHECKPOINT")
        await place.server!.kill()
        let failures = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<16 {
                group.addTask {
                    do {
                        _ = try await store.check(RevocationQuery(jti: index % 2 == 0 ? "revoked" : "other-\(index)", subject: "s"))
                        return false
                    } catch let error as RevocationError {
                        return error.code == .storeFailure
                    }
                }
            }
            var failures = 0
            for try await failed in group where failed { failures += 1 }
            return failures
        }
        #expect(failures == 16, "every check failed closed")
        await #expect(throws: RevocationError.self) { try await store.revoke("while-down", ttl: .seconds(60)) }
        try await place.server!.startAgain()
        var recovered: Bool?
        var lastError: RevocationError?
        for _ in 0..<100 {
            do {
                recovered = try await store.isRevoked("revoked")
                break
            } catch let error as RevocationError where error.code == .storeFailure {
                lastError = error
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        #expect(recovered == true, "\(lastError.map { "\($0)" } ?? "")")
        await store.shutdown()
    }

    @Test(
        "a missing table without create_table, and a table of another shape, are errors naming the table",
        arguments: RevocationDatabaseCase.all)
    func wrongTables(database: RevocationDatabaseCase) async throws {
        let place = try database.place()
        let strict = try place.store(createTable: false)
        let missing = await #expect(throws: RevocationError.self) { _ = try await strict.isRevoked("a") }
        #expect(missing?.code == .storeFailure)
        #expect(missing?.message.contains("\"\(place.table)\"") == true, "\(missing?.message ?? "")")
        try await strict.createTables()
        #expect(try await strict.isRevoked("a") == false)
        await strict.shutdown()

        _ = try await place.sql("CREATE TABLE wrong_shape (id integer PRIMARY KEY, payload text)")
        let wrong = try place.store(table: "wrong_shape")
        let shape = await #expect(throws: RevocationError.self) { _ = try await wrong.isRevoked("a") }
        #expect(shape?.message.contains("\"wrong_shape\"") == true, "\(shape?.message ?? "")")
        #expect(shape?.message.contains("jti") == true, "\(shape?.message ?? "")")
        await #expect(throws: RevocationError.self) { try await wrong.revoke("a", ttl: .seconds(60)) }
        await wrong.shutdown()
        #expect(try await place.sql("SELECT COUNT(*) FROM wrong_shape") == "0", "left as it was")
    }

    @Test("SQLite failures fail closed: a missing directory, a file that is not a database, a lock held too long")
    func sqliteFailures() async throws {
        let missing = try DatabaseRevocation(sqlite: SQLiteOptions(database: "/nonexistent-\(UniqueID.make())/revocations.sqlite3"))
        let unreachable = await #expect(throws: RevocationError.self) { _ = try await missing.isRevoked("a") }
        #expect(unreachable?.code == .storeFailure)
        #expect((unreachable?.underlying as? CacheError)?.code == .storageFailure)
        await missing.shutdown()

        let place = try RevocationDatabaseCase(kind: .sqlite).place()
        try Data("not a database, but long enough to look like a header of one".utf8).write(to: URL(fileURLWithPath: place.location))
        let garbage = try place.store()
        let notADatabase = await #expect(throws: RevocationError.self) {
            _ = try await garbage.check(RevocationQuery(jti: "a", subject: "s"))
        }
        #expect(notADatabase?.code == .storeFailure)
        await garbage.shutdown()

        let locked = try RevocationDatabaseCase(kind: .sqlite).place()
        var options = SQLiteOptions(database: locked.location)
        options.busyTimeout = 0.2
        let store = try DatabaseRevocation(sqlite: options, table: locked.table)
        try await store.revoke("a", ttl: .seconds(60))
        // Another process holds the write lock for a second: a revoke waits busy_timeout, then throws.
        let marker = locked.location + ".locked"
        let holder = Task {
            try await runProgram(
                "/usr/bin/sqlite3", [locked.location, "BEGIN EXCLUSIVE;", ".shell touch '\(marker)'", ".shell sleep 1", "COMMIT;"])
        }
        for _ in 0..<500 where !FileManager.default.fileExists(atPath: marker) { try await Task.sleep(for: .milliseconds(10)) }
        let busy = await #expect(throws: RevocationError.self) { try await store.revoke("b", ttl: .seconds(60)) }
        #expect((busy?.underlying as? CacheError)?.code == .timeout, "\(busy.map { "\($0)" } ?? "")")
        _ = try await holder.value
        #expect(try await store.isRevoked("a"))
        await store.shutdown()
    }

    @Test(
        "interop: a row Python writes in Bolt's layout is revoked for Swift, and Swift's rows are revoked for Python",
        .enabled(if: InteropPython.shouldRun(repositoryRoot: revocationRepositoryRoot), Comment(rawValue: InteropPython.howToCreate)),
        arguments: RevocationDatabaseCase.all)
    func interop(database: RevocationDatabaseCase) async throws {
        let place = try database.place()
        let store = try place.store()
        try await store.revoke("from-swift", ttl: .seconds(600))
        let python = InteropPython.path(repositoryRoot: revocationRepositoryRoot)
        let script = revocationRepositoryRoot + "/Tests/TokenRevocationTests/Interop/bolt_revocation_interop.py"
        func bolt(_ command: String, _ jtis: [String]) async throws -> [String: [String: Bool]] {
            let output = try await runProgram(python, [script, place.pythonLocation, place.table, command] + jtis)
            return try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: [String: Bool]], "\(output)")
        }
        let written = try await bolt("revoke", ["from-python"])
        #expect(written["live"]?["from-python"] == true)
        #expect(try await store.isRevoked("from-python"))
        #expect(try await store.isRevoked("never") == false)
        let seen = try await bolt("check", ["from-swift", "never"])
        #expect(seen["revoked"] == ["from-swift": true, "never": false])
        #expect(seen["live"] == ["from-swift": true, "never": false])
        // Python re-revoking a Swift row and Swift re-revoking Python's keep one row each.
        _ = try await bolt("revoke", ["from-swift"])
        try await store.revoke("from-python", ttl: .seconds(60))
        #expect(try await place.sql("SELECT COUNT(*) FROM \(place.table)") == "2")
        #expect(try await store.isRevoked("from-python"))
        await store.shutdown()
    }
}
