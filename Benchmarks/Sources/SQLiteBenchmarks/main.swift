// Cache on SQLite (CachingSQLite) against the same statements run directly through SQLite's C
// API, on the same file, table, key and value, in one run (interleaved rounds); and
// DatabaseRevocation's check against its indexed lookup run directly (SQLITE_BENCH_REVOCATION=0
// skips those rows).
//
//   cd Benchmarks && swift build -c release --product SQLiteBenchmarks && .build/release/SQLiteBenchmarks
//
// Environment: SQLITE_BENCH_ROUNDS (default 5), SQLITE_BENCH_SECONDS per round (default 0.4),
// SQLITE_BENCH_POOL (pool_size, default 2); SQLITE_BENCH_PROFILE_GET=N runs only N gets and N
// gets from C, three times, printing wall and CPU time per get (for `perf record -g`).

import BenchmarkSupport
import CSQLiteBaseline
import Caching
import CachingSQLite
import TokenRevocation

#if canImport(Glibc)
    import Glibc
#endif

let rounds = Int(environment("SQLITE_BENCH_ROUNDS") ?? "") ?? 5
let seconds = Double(environment("SQLITE_BENCH_SECONDS") ?? "") ?? 0.4
let poolSize = Int(environment("SQLITE_BENCH_POOL") ?? "") ?? 2

let directory = "/tmp/sqlite-bench-\(getpid())"
mkdir(directory, 0o700)
let path = directory + "/cache.sqlite3"
var options = SQLiteOptions(database: path)
options.poolSize = poolSize
options.maxEntries = 100_000
let cache = try Cache.sqlite(table: "bench_cache", options: options)
// The same file and table with every read on the reader threads (read_on_task off): the path
// reads took before the no-wait VFS, measured in the same run.
var threadOptions = options
threadOptions.readOnTask = false
let threadCache = try Cache.sqlite(table: "bench_cache", options: threadOptions)
let value = [UInt8](repeating: 0x61, count: 100)
try await cache.set("bench", value, timeout: .never)
let madeKey = cache.makeKey("bench")

/// A connection of the baseline's own, used by one benchmark task at a time.
final class CConnection: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer
    init(path: String) { raw = csb_open(path)! }
    deinit { csb_close(raw) }
}
let c = CConnection(path: path)

/// The process's CPU time (user + system), in microseconds.

// SQLITE_BENCH_PROFILE_GET=N: only N sequential Cache.get calls (for `perf record`), then N
// through the C loop, three times; prints wall and CPU time per get of each.
if let calls = Int(environment("SQLITE_BENCH_PROFILE_GET") ?? "") {
    let selectSQL = "SELECT \"value\", \"expires\" FROM \"bench_cache\" WHERE \"cache_key\" = ?1"
    try await profilePerCall(calls: calls, what: "Cache.get") {
        let read = try await cache.get("bench", as: [UInt8].self)
        precondition(read?.count == 100)
    } baseline: { calls in
        var done = 0
        while done < calls {
            let batch = Int32(min(50, calls - done))
            precondition(csb_get_loop(c.raw, selectSQL, madeKey, batch) == batch)
            done += Int(batch)
        }
    }
    exit(0)
}

let perCall = 50
let selectSQL = "SELECT \"value\", \"expires\" FROM \"bench_cache\" WHERE \"cache_key\" = ?1"
let cGet = BenchCase("C sqlite3 prepared SELECT loop", operationsPerCall: perCall) {
    precondition(csb_get_loop(c.raw, selectSQL, madeKey, Int32(perCall)) == perCall)
}
let swiftGet = BenchCase("Cache.get on SQLite (sequential)", operationsPerCall: perCall) {
    for _ in 0..<perCall {
        let read = try await cache.get("bench", as: [UInt8].self)
        precondition(read?.count == 100)
    }
}
let threadGet = BenchCase("Cache.get on SQLite, read_on_task off (sequential)", operationsPerCall: perCall) {
    for _ in 0..<perCall {
        let read = try await threadCache.get("bench", as: [UInt8].self)
        precondition(read?.count == 100)
    }
}
let updateSQL = "UPDATE \"bench_cache\" SET \"value\" = ?2, \"expires\" = ?3 WHERE \"cache_key\" = ?1"
let storedValue = String(decoding: DatabaseCacheValueFormat.encode(try CacheValueCodec.encode(value)), as: UTF8.self)
let cSet = BenchCase("C sqlite3 BEGIN IMMEDIATE; UPDATE; COMMIT loop", operationsPerCall: perCall) {
    precondition(csb_set_loop(c.raw, updateSQL, madeKey, storedValue, DatabaseCacheTime.never, Int32(perCall)) == perCall)
}
let swiftSet = BenchCase("Cache.set on SQLite, existing key (sequential)", operationsPerCall: perCall) {
    for _ in 0..<perCall { try await cache.set("bench", value, timeout: .never) }
}
let tasks = 16
func concurrentGets(_ name: String, _ cache: Cache) -> BenchCase {
    BenchCase(name, operationsPerCall: tasks * perCall) {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<tasks {
                group.addTask {
                    for _ in 0..<perCall {
                        let read = try await cache.get("bench", as: [UInt8].self)
                        precondition(read?.count == 100)
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}
let swiftConcurrent = concurrentGets("Cache.get on SQLite, \(tasks) concurrent tasks", cache)
let threadConcurrent = concurrentGets("Cache.get on SQLite, read_on_task off, \(tasks) concurrent tasks", threadCache)

printTableHeader(title: "SQLite: Cache vs SQLite's C API (pool_size \(poolSize), \(rounds) rounds × \(seconds) s)")
printRow(try await compare(baseline: cGet, subject: swiftGet, rounds: rounds, roundDuration: seconds), target: 0.7)
printRow(try await compare(baseline: cGet, subject: threadGet, rounds: rounds, roundDuration: seconds))
printRow(try await compare(baseline: cSet, subject: swiftSet, rounds: rounds, roundDuration: seconds))
printRow(try await compare(baseline: cGet, subject: swiftConcurrent, rounds: rounds, roundDuration: seconds))
printRow(try await compare(baseline: cGet, subject: threadConcurrent, rounds: rounds, roundDuration: seconds))
try await threadCache.shutdown()

if environment("SQLITE_BENCH_REVOCATION") != "0" {
    // DatabaseRevocation on its own file: a table of 10,000 revoked ids, the one looked up among them.
    let revocationPath = directory + "/revocations.sqlite3"
    var revocationOptions = SQLiteOptions(database: revocationPath)
    revocationOptions.poolSize = poolSize
    let revocation = try DatabaseRevocation(sqlite: revocationOptions)
    try await withThrowingTaskGroup(of: Void.self) { group in
        for worker in 0..<4 {
            group.addTask { for index in 0..<2_500 { try await revocation.revoke("jti-\(worker)-\(index)", ttl: .seconds(86_400)) } }
        }
        try await group.waitForAll()
    }
    let revoked = "jti-2-1234"
    let cRevocation = CConnection(path: revocationPath)
    // The statement a check runs for one id, its time a literal (the store binds it).
    let lookupSQL =
        "SELECT \"jti\", \"expires_at\" FROM \"revoked_tokens\" WHERE \"jti\" = ?1 AND \"expires_at\" > '\(DatabaseCacheTime.text(forUnixTime: SystemCacheClock().now()))'"
    let cLookup = BenchCase("C sqlite3 prepared revocation lookup loop", operationsPerCall: perCall) {
        precondition(csb_get_loop(cRevocation.raw, lookupSQL, revoked, Int32(perCall)) == perCall)
    }
    let swiftCheck = BenchCase("DatabaseRevocation.isRevoked (sequential)", operationsPerCall: perCall) {
        for _ in 0..<perCall {
            let isRevoked = try await revocation.isRevoked(revoked)
            precondition(isRevoked)
        }
    }
    let swiftConcurrentIsRevoked = BenchCase(
        "DatabaseRevocation.isRevoked, \(tasks) concurrent tasks", operationsPerCall: tasks * perCall
    ) {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<tasks {
                group.addTask {
                    for index in 0..<perCall {
                        let isRevoked = try await revocation.isRevoked("jti-\(task % 4)-\(index)")
                        precondition(isRevoked)
                    }
                }
            }
            try await group.waitForAll()
        }
    }
    let swiftConcurrentCheck = BenchCase(
        "DatabaseRevocation.check(jti, sub), \(tasks) concurrent tasks", operationsPerCall: tasks * perCall
    ) {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<tasks {
                group.addTask {
                    for index in 0..<perCall {
                        let status = try await revocation.check(RevocationQuery(jti: "jti-\(task % 4)-\(index)", subject: "user-\(task)"))
                        precondition(status.isRevoked)
                    }
                }
            }
            try await group.waitForAll()
        }
    }
    printTableHeader(title: "SQLite: DatabaseRevocation vs its lookup from C (pool_size \(poolSize), \(rounds) rounds × \(seconds) s)")
    printRow(try await compare(baseline: cLookup, subject: swiftCheck, rounds: rounds, roundDuration: seconds))
    printRow(try await compare(baseline: cLookup, subject: swiftConcurrentIsRevoked, rounds: rounds, roundDuration: seconds))
    printRow(try await compare(baseline: cLookup, subject: swiftConcurrentCheck, rounds: rounds, roundDuration: seconds))
    await revocation.shutdown()
    for suffix in ["", "-wal", "-shm"] { unlink(revocationPath + suffix) }
}

try await cache.shutdown()
unlink(path)
unlink(path + "-wal")
unlink(path + "-shm")
rmdir(directory)
