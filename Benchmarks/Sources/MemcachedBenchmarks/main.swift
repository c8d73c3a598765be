// Cache against libmemcached called directly from C, on the same server, keys and
// values, in one run (interleaved rounds). Starts its own memcached on loopback.
//
//   cd Benchmarks && swift run -c release MemcachedBenchmarks
//
// Environment: MEMCACHED_BENCH_ROUNDS (default 5), MEMCACHED_BENCH_SECONDS per round (default 0.4),
// MEMCACHED_BENCH_POOL (pool_size, default 2), MEMCACHED_BENCH_CASES (get,set,getmany,core,concurrent,revocation).
// `--profile-getmany` / `--profile-get` run one long loop (MEMCACHED_BENCH_CALLS calls) for `perf record`.

import BenchmarkSupport
import CMemcachedBaseline
import Caching
import CachingMemcached
import CachingTesting
import TokenRevocation

#if canImport(Glibc)
    import Glibc
#endif

/// A libmemcached handle used by one benchmark task at a time.
final class CHandle: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer
    init(port: Int) {
        raw = cmb_create("127.0.0.1", Int32(port))!
    }
    deinit { cmb_free(raw) }
}

let rounds = Int(environment("MEMCACHED_BENCH_ROUNDS") ?? "") ?? 5
let seconds = Double(environment("MEMCACHED_BENCH_SECONDS") ?? "") ?? 0.4
let poolSize = Int(environment("MEMCACHED_BENCH_POOL") ?? "") ?? 2

let server = try await MemcachedServer.start()
var options = MemcachedOptions()
options.poolSize = poolSize
let cache = try Cache.memcached(location: [server.address], options: options)
let c = CHandle(port: server.port)

let value = [UInt8](repeating: 0x61, count: 100)
try await cache.set("bench", value, timeout: .never)
let madeKey = cache.makeKey("bench")
let keys = (0..<100).map { "mk\($0)" }
for key in keys { try await cache.set(key, value, timeout: .never) }
let madeKeys = keys.map { cache.makeKey($0) }

// C-side key arrays for the multi-get, kept alive for the whole run.
let cKeys: [UnsafeMutablePointer<CChar>?] = madeKeys.map { strdup($0) }
let cLengths: [Int] = madeKeys.map { $0.utf8.count }
final class CKeys: @unchecked Sendable {
    let pointers: [UnsafePointer<CChar>?]
    let lengths: [Int]
    init(_ pointers: [UnsafeMutablePointer<CChar>?], _ lengths: [Int]) {
        self.pointers = pointers.map { UnsafePointer($0) }
        self.lengths = lengths
    }
}
let cKeyArrays = CKeys(cKeys, cLengths)

let perCall = 50
let cGet = BenchCase("C memcached_get loop", operationsPerCall: perCall) {
    let hits = madeKey.withCString { cmb_get_loop(c.raw, $0, madeKey.utf8.count, Int32(perCall)) }
    precondition(hits == perCall)
}
let swiftGet = BenchCase("MemcachedCache.get (sequential)", operationsPerCall: perCall) {
    for _ in 0..<perCall {
        let read = try await cache.get("bench", as: [UInt8].self)
        precondition(read?.count == 100)
    }
}
let cSet = BenchCase("C memcached_set loop", operationsPerCall: perCall) {
    let stored = madeKey.withCString { key in
        value.withUnsafeBytes { bytes in
            cmb_set_loop(c.raw, key, madeKey.utf8.count, bytes.baseAddress!.assumingMemoryBound(to: CChar.self), 100, Int32(perCall))
        }
    }
    precondition(stored == perCall)
}
let swiftSet = BenchCase("MemcachedCache.set (sequential)", operationsPerCall: perCall) {
    for _ in 0..<perCall { try await cache.set("bench", value, timeout: .never) }
}
let cMget = BenchCase("C memcached_mget + fetch, 100 keys", operationsPerCall: 100) {
    let found = cKeyArrays.pointers.withUnsafeBufferPointer { pointers in
        cmb_mget(c.raw, pointers.baseAddress, cKeyArrays.lengths, 100)
    }
    precondition(found == 100)
}
let swiftMget = BenchCase("MemcachedCache.getMany(100)", operationsPerCall: 100) {
    let found = try await cache.getMany(keys, as: [UInt8].self)
    precondition(found.count == 100)
}
let tasks = 64
let perTask = 20
let swiftConcurrent = BenchCase("MemcachedCache.get, \(tasks) concurrent tasks", operationsPerCall: tasks * perTask) {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for task in 0..<tasks {
            group.addTask {
                for index in 0..<perTask {
                    let key = keys[(task * perTask + index) % keys.count]
                    let read = try await cache.get(key, as: [UInt8].self)
                    precondition(read?.count == 100)
                }
            }
        }
        try await group.waitForAll()
    }
}

/// Runs `body` `calls` times off the main actor, as the benchmark cases run (top-level code is
/// on the main actor, and a loop there would hop to it and back around every call).
@concurrent func profileLoop(_ calls: Int, _ body: @Sendable () async throws -> Void) async throws {
    for _ in 0..<calls { try await body() }
}
if CommandLine.arguments.contains("--profile-getmany") {
    // A long loop of getMany(100) calls, for `perf record`.
    try await profileLoop(Int(environment("MEMCACHED_BENCH_CALLS") ?? "") ?? 2000) {
        _ = try await cache.getMany(keys, as: [UInt8].self)
    }
    await server.stop()
    exit(0)
}
if CommandLine.arguments.contains("--profile-get") {
    try await profileLoop(Int(environment("MEMCACHED_BENCH_CALLS") ?? "") ?? 20000) {
        _ = try await cache.get("bench", as: [UInt8].self)
    }
    await server.stop()
    exit(0)
}
printTableHeader(title: "Memcached: Cache vs libmemcached from C (pool_size \(poolSize), \(rounds) rounds × \(seconds) s)")
let selected = Set(
    (environment("MEMCACHED_BENCH_CASES") ?? "get,set,getmany,core,concurrent,revocation").split(separator: ",").map(String.init))
if selected.contains("get") {
    printRow(try await compare(baseline: cGet, subject: swiftGet, rounds: rounds, roundDuration: seconds), target: 0.6)
}
if selected.contains("set") {
    printRow(try await compare(baseline: cSet, subject: swiftSet, rounds: rounds, roundDuration: seconds), target: 0.6)
}
if selected.contains("getmany") {
    printRow(try await compare(baseline: cMget, subject: swiftMget, rounds: rounds, roundDuration: seconds), target: 0.9)
}
if selected.contains("core") {
    // The part of getMany that is not memcached's: key making and validation, decoding, dictionaries.
    let local = Cache.localMemory(maxEntries: 1000)
    for key in keys { try await local.set(key, value, timeout: .never) }
    let localMget = BenchCase("LocalMemoryCache.getMany(100) (no I/O)", operationsPerCall: 100) {
        let found = try await local.getMany(keys, as: [UInt8].self)
        precondition(found.count == 100)
    }
    printRow(try await compare(baseline: cMget, subject: localMget, rounds: rounds, roundDuration: seconds))
}
if selected.contains("concurrent") {
    printRow(try await compare(baseline: cGet, subject: swiftConcurrent, rounds: rounds, roundDuration: seconds), target: 3)
}

if selected.contains("revocation") {
    // Revocation checks of 64 concurrent requests (a jti, a family and a subject each: one
    // 3-key multi-get per check), through CacheRevocation over memcached, against C doing the
    // same 64 multi-gets one after another on one connection. The backend gathers the checks
    // waiting at the same time into one multi-get of all their distinct keys.
    let checks = 64
    var revocationOptions = options
    revocationOptions.serversNeverEvict = true
    let revocationBackend = try MemcachedBackend(location: [server.address], options: revocationOptions)
    let revocation = try CacheRevocation(cache: Cache(revocationBackend))
    for index in 0..<checks where index % 2 == 0 { try await revocation.revoke("jti-\(index)", ttl: .seconds(3600)) }
    try await revocation.revokeFamily("fam-1", ttl: .seconds(3600))
    try await revocation.revokeAll(subject: "user-0", issuedBefore: 1_700_000_000, ttl: .seconds(3600))
    let queries = (0..<checks).map { RevocationQuery(jti: "jti-\($0)", subject: "user-\($0 % 8)", family: "fam-\($0 % 4)") }
    // The same made keys for C, and how many of each check's three are present.
    let checkKeys: [[UnsafeMutablePointer<CChar>?]] = try queries.map { query in
        let made: [String] = [
            try revocation.madeKey(forJTI: query.jti!), cache.makeKey("revoked-family:" + query.family!),
            cache.makeKey("revoked-subject:" + query.subject!),
        ]
        return made.map { strdup($0) }
    }
    let checkLengths = checkKeys.map { $0.map { strlen($0!) } }
    let present = (0..<checks).map { ($0 % 2 == 0 ? 1 : 0) + ($0 % 4 == 1 ? 1 : 0) + ($0 % 8 == 0 ? 1 : 0) }
    let cChecks = CKeys(checkKeys.flatMap { $0 }, checkLengths.flatMap { $0 })
    let cCheck = BenchCase("C memcached_mget + fetch, 3 keys, \(checks) in turn", operationsPerCall: checks) {
        cChecks.pointers.withUnsafeBufferPointer { pointers in
            cChecks.lengths.withUnsafeBufferPointer { lengths in
                for check in 0..<checks {
                    let found = cmb_mget(c.raw, pointers.baseAddress! + 3 * check, lengths.baseAddress! + 3 * check, 3)
                    precondition(found == present[check])
                }
            }
        }
    }
    let swiftChecks = BenchCase("CacheRevocation.check, \(checks) concurrent tasks", operationsPerCall: checks) {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, query) in queries.enumerated() {
                group.addTask {
                    let status = try await revocation.check(query)
                    precondition(status.isRevoked == (index % 2 == 0) && status.isFamilyRevoked == (index % 4 == 1))
                    precondition((status.subjectCutoff != nil) == (index % 8 == 0))
                }
            }
            try await group.waitForAll()
        }
    }
    let before = revocationBackend.readCounts
    printRow(try await compare(baseline: cCheck, subject: swiftChecks, rounds: rounds, roundDuration: seconds))
    let after = revocationBackend.readCounts
    let perRoundTrip = Double(after.reads - before.reads) / Double(max(1, after.roundTrips - before.roundTrips))
    print(
        "\nCacheRevocation.check over memcached: \(after.reads - before.reads) checks in \(after.roundTrips - before.roundTrips) multi-gets (\(format2(perRoundTrip)) checks a round trip)"
    )
    for pointer in checkKeys.flatMap({ $0 }) { free(pointer) }
}

for pointer in cKeys { free(pointer) }
await server.stop()
