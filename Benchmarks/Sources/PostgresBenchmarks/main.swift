// DatabaseRevocation on PostgreSQL against the statement a one-id check runs, prepared and
// looped through libpq from C (blocking, one connection), on a server this benchmark starts
// (CachingTesting's PostgresServer: initdb into a temporary directory, a loopback port), in one
// run (interleaved rounds).
//
//   cd Benchmarks && swift build -c release --product PostgresBenchmarks && .build/release/PostgresBenchmarks
//
// Environment: PG_BENCH_ROUNDS (default 5), PG_BENCH_SECONDS per round (default 0.4),
// PG_BENCH_POOL (pool_size, default 2).

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

func environment(_ name: String) -> String? {
    getenv(name).map { String(cString: $0) }
}

let rounds = Int(environment("PG_BENCH_ROUNDS") ?? "") ?? 5
let seconds = Double(environment("PG_BENCH_SECONDS") ?? "") ?? 0.4
let poolSize = Int(environment("PG_BENCH_POOL") ?? "") ?? 2

let server = try await PostgresServer.start()
var options = PostgresOptions(database: server.connectionString)
options.poolSize = poolSize
let revocation = try DatabaseRevocation(postgres: options)
try await withThrowingTaskGroup(of: Void.self) { group in
    for worker in 0..<4 {
        group.addTask { for index in 0..<2_500 { try await revocation.revoke("jti-\(worker)-\(index)", ttl: .seconds(86_400)) } }
    }
    try await group.waitForAll()
}
let revoked = "jti-2-1234"

/// The baseline's own connection, used by one benchmark task at a time.
final class CConnection: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer
    init(_ conninfo: String) { raw = cpb_connect(conninfo)! }
    deinit { cpb_finish(raw) }
}
let c = CConnection(server.connectionString)
let perCall = 50
let tasks = 16
// The statement a check runs for one id, its time a literal (the store binds it).
let lookupSQL =
    "SELECT \"jti\" FROM \"revoked_tokens\" WHERE \"jti\" = $1 AND \"expires_at\" > '\(DatabaseCacheTime.text(forUnixTime: SystemCacheClock().now()))+00'"
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

printTableHeader(title: "PostgreSQL: DatabaseRevocation vs its lookup from C (pool_size \(poolSize), \(rounds) rounds × \(seconds) s)")
printRow(try await compare(baseline: cLookup, subject: swiftCheck, rounds: rounds, roundDuration: seconds))
printRow(try await compare(baseline: cLookup, subject: swiftConcurrentCheck, rounds: rounds, roundDuration: seconds))
await revocation.shutdown()
await server.stop()
