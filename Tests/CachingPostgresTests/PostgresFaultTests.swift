import Caching
import CachingPostgres
import CachingTesting
import Foundation
import Synchronization
import Testing

/// A raw client on the server (`psql`), to see and plant tables underneath the cache.
func psql(_ server: PostgresServer, _ sql: String) async throws -> String {
    try await runProgram(
        "/usr/bin/psql", ["-X", "-q", "-t", "-A", "-h", "127.0.0.1", "-p", "\(server.port)", "-U", "postgres", "-d", "postgres", "-c", sql])
}

/// A value tasks share behind a lock.
final class Shared<Value: Sendable>: Sendable {
    private let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
    func withLock<T: Sendable>(_ body: (inout Value) -> T) -> T { value.withLock { body(&$0) } }
}

/// How long a block took, in seconds.
func elapsed(_ body: () async throws -> Void) async rethrows -> Double {
    let start = ContinuousClock.now
    try await body()
    let duration = ContinuousClock.now - start
    return Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

extension PostgresTests {
    /// The server down, killed, hung; tables missing or of another shape: specific errors within
    /// the backend's time limit, nothing dropped, and recovery without a new backend.
    @Suite("PostgreSQL: faults")
    struct PostgresFaultTests {
        static func backend(_ database: String, timeout: Double = 2, createTable: Bool = true, poolSize: Int = 2) throws
            -> PostgresBackend
        {
            var options = PostgresOptions(database: database)
            options.timeout = timeout
            options.createTable = createTable
            options.poolSize = poolSize
            return try PostgresBackend(table: "t", options: options)
        }

        @Test("OPTIONS timeout: read from the settings; 0 or below is refused naming the option")
        func timeoutOption() throws {
            func settings(_ timeout: String) throws -> PostgresOptions {
                let caches = try CacheSettings.parse(
                    json: Array(
                        #"{"pg": {"BACKEND": "postgres", "LOCATION": "t", "OPTIONS": {"database": "x", "timeout": \#(timeout)}}}"#.utf8))
                return try PostgresOptions(settings: try #require(caches["pg"]), alias: "pg")
            }
            #expect(try settings("0.25").timeout == 0.25)
            let error = #expect(throws: CacheError.self) { _ = try settings("0") }
            #expect(error?.message.contains(#"CACHES["pg"]["OPTIONS"]["timeout"]"#) == true, "\(error?.message ?? "")")
        }

        @Test("down at start: unavailable naming host and port, never the password; the same backend works once the server is up")
        func downAtStart() async throws {
            try await PostgresServer.with { server in
                await server.kill()
                let backend = try Self.backend("postgres://postgres:s3cret@127.0.0.1:\(server.port)/postgres")
                let cache = Cache(backend)
                for _ in 0..<2 {
                    let seconds = await elapsed {
                        let error = await #expect(throws: CacheError.self) { _ = try await cache.get("k", as: String.self) }
                        #expect(error?.code == .unavailable)
                        let message = error?.message ?? ""
                        #expect(message.contains("127.0.0.1") && message.contains("\(server.port)"), "\(message)")
                        #expect(!message.contains("s3cret"), "\(message)")
                    }
                    #expect(seconds < 2.5, "refused at once, not after the time limit: \(seconds) s")
                }
                try await server.startAgain()
                try await cache.set("k", "up")
                #expect(try await cache.get("k", as: String.self) == "up")
                try await cache.shutdown()
            }
        }

        @Test(
            "killed and restarted under load: every call ends within the time limit, with unavailable or timeout; then the same backend works and the rows are there"
        )
        func killedUnderLoad() async throws {
            try await PostgresServer.with { server in
                let timeLimit = 2.0
                let cache = Cache(try Self.backend(server.url, timeout: timeLimit, poolSize: 4))
                try await cache.set("kept", "before the crash", timeout: .never)
                // Asynchronous commit in the fixture: give the WAL writer time to hand the row to the OS.
                try await Task.sleep(for: .seconds(1))
                let stop = Shared(false)
                let outcomes = Shared((ok: 0, failed: [String: Int](), slowest: 0.0, unexpected: [String]()))
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for worker in 0..<32 {
                        group.addTask {
                            var index = 0
                            while !stop.withLock({ $0 }) {
                                index += 1
                                var failure: CacheError?
                                var other: String?
                                let seconds = await elapsed {
                                    do {
                                        if index.isMultiple(of: 2) {
                                            try await cache.set("w\(worker)", index)
                                        } else {
                                            _ = try await cache.get("kept", as: String.self)
                                        }
                                    } catch let error as CacheError {
                                        failure = error
                                    } catch {
                                        other = "\(error)"
                                    }
                                }
                                outcomes.withLock {
                                    $0.slowest = max($0.slowest, seconds)
                                    if let failure {
                                        $0.failed["\(failure.code)", default: 0] += 1
                                        if failure.code != .unavailable && failure.code != .timeout {
                                            $0.unexpected.append(failure.message)
                                        }
                                    } else if let other {
                                        $0.unexpected.append(other)
                                    } else {
                                        $0.ok += 1
                                    }
                                }
                                if failure != nil { try? await Task.sleep(for: .milliseconds(20)) }
                            }
                        }
                    }
                    // The workers stop however this ends, so the group never waits for them forever.
                    defer { stop.withLock { $0 = true } }
                    try await Task.sleep(for: .milliseconds(500))
                    await server.kill()
                    try await Task.sleep(for: .milliseconds(700))
                    try await server.startAgain()
                    try await Task.sleep(for: .milliseconds(700))
                    stop.withLock { $0 = true }
                    try await group.waitForAll()
                }
                let result = outcomes.withLock { $0 }
                #expect(result.ok > 0)
                #expect((result.failed["unavailable"] ?? 0) > 0, "the crash was seen: \(result.failed)")
                #expect(result.unexpected.isEmpty, "\(result.unexpected.prefix(5))")
                #expect(result.slowest < timeLimit + 1.5, "the slowest call took \(result.slowest) s")
                // The same backend, no restart of it: it reconnects.
                var recovered: String?
                for _ in 0..<50 where recovered == nil {
                    recovered = try? await cache.get("kept", as: String.self)
                    if recovered == nil { try await Task.sleep(for: .milliseconds(100)) }
                }
                #expect(recovered == "before the crash")
                try await cache.set("after", 1)
                #expect(try await cache.get("after", as: Int.self) == 1)
                try await cache.shutdown()
            }
        }

        @Test("a hung server (every process stopped): calls end with timeout within the limit; after it resumes the same backend works")
        func pausedServer() async throws {
            try await PostgresServer.with { server in
                let cache = Cache(try Self.backend(server.url, timeout: 1))
                try await cache.set("k", "v", timeout: .never)
                #expect(await server.pause() > 1)
                let codes = Shared([String]())
                let seconds = try await elapsed {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for index in 0..<12 {
                            group.addTask {
                                let callSeconds = await elapsed {
                                    do {
                                        if index.isMultiple(of: 3) {
                                            try await cache.set("k\(index)", index)
                                        } else {
                                            _ = try await cache.get("k", as: String.self)
                                        }
                                        codes.withLock { $0.append("answered") }
                                    } catch let error as CacheError {
                                        codes.withLock { $0.append("\(error.code)") }
                                        if error.code == .timeout {
                                            #expect(error.message.contains("OPTIONS timeout"), "\(error.message)")
                                        }
                                    } catch {
                                        codes.withLock { $0.append("\(error)") }
                                    }
                                }
                                #expect(callSeconds < 1 + 1.5, "a call took \(callSeconds) s")
                            }
                        }
                        try await group.waitForAll()
                    }
                }
                await server.resume()
                #expect(codes.withLock { $0 } == Array(repeating: "timeout", count: 12))
                #expect(seconds < 3, "\(seconds) s for all calls")
                var recovered: String?
                for _ in 0..<50 where recovered == nil {
                    recovered = try? await cache.get("k", as: String.self)
                    if recovered == nil { try await Task.sleep(for: .milliseconds(100)) }
                }
                #expect(recovered == "v")
                try await cache.shutdown()
            }
        }

        @Test(
            "a missing table: created on demand in Django's shape; with create_table off, invalidSettings saying how, and nothing created")
        func missingTable() async throws {
            try await PostgresServer.with { server in
                let refused = Cache(try Self.backend(server.url, createTable: false))
                let error = await #expect(throws: CacheError.self) { try await refused.set("k", 1) }
                #expect(error?.code == .invalidSettings)
                let message = error?.message ?? ""
                #expect(message.contains(#"names the table "t""#) && message.contains("createcachetable"), "\(message)")
                #expect(message.contains(#"OPTIONS["create_table"]"#), "\(message)")
                #expect(try await psql(server, "SELECT count(*) FROM pg_tables WHERE tablename = 't'") == "0")
                try await refused.shutdown()

                let created = Cache(try Self.backend(server.url))
                try await created.set("k", 1)
                #expect(try await created.get("k", as: Int.self) == 1)
                #expect(
                    try await psql(
                        server,
                        "SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 't'"
                    ) == "cache_key character varying, value text, expires timestamp with time zone")
                #expect(try await psql(server, "SELECT indexdef LIKE '%(expires)' FROM pg_indexes WHERE indexname = 't_expires'") == "t")
                try await created.shutdown()
            }
        }

        @Test("a table of another shape: invalidSettings naming the table and what it lacks; its rows and columns stay")
        func wrongShape() async throws {
            try await PostgresServer.with { server in
                _ = try await psql(server, "CREATE TABLE t (id integer PRIMARY KEY, payload text); INSERT INTO t VALUES (1, 'keep me')")
                let cache = Cache(try Self.backend(server.url))
                for operation in ["set", "get"] {
                    let error = await #expect(throws: CacheError.self, "\(operation)") {
                        if operation == "set" { try await cache.set("k", 1) } else { _ = try await cache.get("k", as: Int.self) }
                    }
                    #expect(error?.code == .invalidSettings)
                    let message = error?.message ?? ""
                    #expect(message.contains(#"CACHES["default"]["LOCATION"] names the table "t""#), "\(message)")
                    #expect(message.contains("not Django's cache table") && message.contains("cache_key, value, expires"), "\(message)")
                }
                try await cache.shutdown()
                #expect(try await psql(server, "SELECT id, payload FROM t") == "1|keep me")
                #expect(
                    try await psql(
                        server,
                        "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 't'"
                    )
                        == "id,payload")
            }
        }
    }
}
