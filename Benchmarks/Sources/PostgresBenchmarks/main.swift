// Cache on PostgreSQL (PostgresBackend) against the SELECT its get runs, and DatabaseRevocation
// against the statement a one-id check runs, each prepared and looped through libpq from C
// (blocking, one connection), on a server this benchmark starts (CachingTesting's
// PostgresServer: initdb into a temporary directory, a loopback port), in one run (interleaved
// rounds).
//
//   cd Benchmarks && swift build -c release --product PostgresBenchmarks && .build/release/PostgresBenchmarks
//
// Environment: PG_BENCH_ROUNDS (default 5), PG_BENCH_SECONDS per round (default 0.4),
// PG_BENCH_POOL (pool_size, default 2); PG_BENCH_PROFILE_GET=N runs only N gets and N gets
// from C, three times, printing wall and CPU time per get (for `perf record -g`).

import BenchmarkSupport
import CPostgresBaseline
import Caching
import CachingPostgres
import CachingSQLite
import CachingTesting
import TokenRevocation

#if canImport(Glibc)
    import Glibc
#endif

let rounds = Int(environment("PG_BENCH_ROUNDS") ?? "") ?? 5
let seconds = Double(environment("PG_BENCH_SECONDS") ?? "") ?? 0.4
let poolSize = Int(environment("PG_BENCH_POOL") ?? "") ?? 2

let server = try await PostgresServer.start()
var options = PostgresOptions(database: server.connectionString)
options.poolSize = poolSize
let cache = Cache(try PostgresBackend(table: "bench_cache", options: options))
let value = [UInt8](repeating: 0x61, count: 100)
try await cache.set("bench", value, timeout: .never)
let madeKey = cache.makeKey("bench")

/// The baseline's own connection, used by one benchmark task at a time.
final class CConnection: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer
    init(_ conninfo: String) { raw = cpb_connect(conninfo)! }
    deinit { cpb_finish(raw) }
}

/// The process's CPU time (user + system, this process only), in microseconds.

// PG_BENCH_PROFILE_GET=N: only N sequential Cache.get calls (for `perf record`), after which
// the same number through libpq from C; prints wall and CPU time per get of each.
if let calls = Int(environment("PG_BENCH_PROFILE_GET") ?? "") {
    let c = CConnection(server.connectionString)
    let getSQL = "SELECT \"value\", \"expires\" > $2::timestamptz FROM \"bench_cache\" WHERE \"cache_key\" = $1"
    let now = DatabaseCacheTime.text(forUnixTime: SystemCacheClock().now()) + "+00"
    try await profilePerCall(calls: calls, what: "Cache.get") {
        let read = try await cache.get("bench", as: [UInt8].self)
        precondition(read?.count == 100)
    } baseline: { calls in
        precondition(cpb_get_loop(c.raw, getSQL, madeKey, now, Int32(calls)) == calls)
    }
    try await cache.shutdown()
    await server.stop()
    exit(0)
}

let revocation = try DatabaseRevocation(postgres: options)
try await withThrowingTaskGroup(of: Void.self) { group in
    for worker in 0..<4 {
        group.addTask { for index in 0..<2_500 { try await revocation.revoke("jti-\(worker)-\(index)", ttl: .seconds(86_400)) } }
    }
    try await group.waitForAll()
}
let revoked = "jti-2-1234"

let c = CConnection(server.connectionString)
let perCall = 50
let tasks = 16
// The statement a check runs for one id, its time a literal (the store binds it).
let lookupSQL =
    "SELECT \"jti\" FROM \"revoked_tokens\" WHERE \"jti\" = $1 AND \"expires_at\" > '\(DatabaseCacheTime.text(forUnixTime: SystemCacheClock().now()))+00'"
// The statement PostgresBackend's get runs (its text, both parameters), prepared once per loop.
let getSQL = "SELECT \"value\", \"expires\" > $2::timestamptz FROM \"bench_cache\" WHERE \"cache_key\" = $1"
let cGet = BenchCase("C libpq prepared SELECT loop", operationsPerCall: perCall) {
    let now = DatabaseCacheTime.text(forUnixTime: SystemCacheClock().now()) + "+00"
    precondition(cpb_get_loop(c.raw, getSQL, madeKey, now, Int32(perCall)) == perCall)
}
let swiftGet = BenchCase("Cache.get on PostgreSQL (sequential)", operationsPerCall: perCall) {
    for _ in 0..<perCall {
        let read = try await cache.get("bench", as: [UInt8].self)
        precondition(read?.count == 100)
    }
}
let swiftConcurrentGet = BenchCase("Cache.get on PostgreSQL, \(tasks) concurrent tasks", operationsPerCall: tasks * perCall) {
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
let cLookup = BenchCase("C libpq prepared revocation lookup loop", operationsPerCall: perCall) {
    precondition(cpb_lookup_loop(c.raw, lookupSQL, revoked, Int32(perCall)) == perCall)
}
let swiftCheck = BenchCase("DatabaseRevocation.isRevoked (sequential)", operationsPerCall: perCall) {
    for _ in 0..<perCall {
        let isRevoked = try await revocation.isRevoked(revoked)
        precondition(isRevoked)
    }
}
let swiftConcurrentCheck = BenchCase("DatabaseRevocation.check(jti, sub), \(tasks) concurrent tasks", operationsPerCall: tasks * perCall) {
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

printTableHeader(title: "PostgreSQL: Cache vs libpq from C (pool_size \(poolSize), \(rounds) rounds × \(seconds) s)")
printRow(try await compare(baseline: cGet, subject: swiftGet, rounds: rounds, roundDuration: seconds), target: 0.7)
printRow(try await compare(baseline: cGet, subject: swiftConcurrentGet, rounds: rounds, roundDuration: seconds))

printTableHeader(title: "PostgreSQL: DatabaseRevocation vs its lookup from C (pool_size \(poolSize), \(rounds) rounds × \(seconds) s)")
printRow(try await compare(baseline: cLookup, subject: swiftCheck, rounds: rounds, roundDuration: seconds))
printRow(try await compare(baseline: cLookup, subject: swiftConcurrentCheck, rounds: rounds, roundDuration: seconds))
await revocation.shutdown()
try await cache.shutdown()
await server.stop()
