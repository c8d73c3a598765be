// Cache against libmemcached called directly from C, on the same server, keys and
// values, in one run (interleaved rounds). Starts its own memcached on loopback.
//
//   cd Benchmarks && swift run -c release MemcachedBenchmarks
//
// Environment: MEMCACHED_BENCH_ROUNDS (default 5), MEMCACHED_BENCH_SECONDS per round (default 0.4),
// MEMCACHED_BENCH_POOL (pool_size, default 2), MEMCACHED_BENCH_CASES (get,set,getmany,core,concurrent).
// `--profile-getmany` / `--profile-get` run one long loop (MEMCACHED_BENCH_CALLS calls) for `perf record`.

import BenchmarkSupport
import CMemcachedBaseline
import Caching
import CachingMemcached
import CachingTesting

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

func environment(_ name: String) -> String? {
    getenv(name).map { String(cString: $0) }
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

if CommandLine.arguments.contains("--profile-getmany") {
    // A long loop of getMany(100) calls, for `perf record` or `valgrind --tool=callgrind`.
    let calls = Int(environment("MEMCACHED_BENCH_CALLS") ?? "") ?? 2000
    for _ in 0..<calls { _ = try await cache.getMany(keys, as: [UInt8].self) }
    await server.stop()
    exit(0)
}
if CommandLine.arguments.contains("--profile-get") {
    let calls = Int(environment("MEMCACHED_BENCH_CALLS") ?? "") ?? 20000
    for _ in 0..<calls { _ = try await cache.get("bench", as: [UInt8].self) }
    await server.stop()
    exit(0)
}
printTableHeader(title: "Memcached: Cache vs libmemcached from C (pool_size \(poolSize), \(rounds) rounds × \(seconds) s)")
let selected = Set((environment("MEMCACHED_BENCH_CASES") ?? "get,set,getmany,core,concurrent").split(separator: ",").map(String.init))
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

for pointer in cKeys { free(pointer) }
await server.stop()
