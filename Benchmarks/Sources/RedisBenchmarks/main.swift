// Cache on Redis against hiredis called directly from C, on the same server, keys and
// values, in one run (interleaved rounds). Starts its own redis-server on loopback.
//
//   cd Benchmarks && swift build -c release --product RedisBenchmarks && .build/release/RedisBenchmarks
//
// Environment: REDIS_BENCH_ROUNDS (default 5), REDIS_BENCH_SECONDS per round (default 0.4),
// REDIS_BENCH_POOL (pool_size, default 2), REDIS_BENCH_CASES (get,set,getmany,backendmany,concurrent;
// format, which needs no server: the value format and codec alone, against the least work).

import BenchmarkSupport
import CRedisBaseline
import Caching
import CachingRedis
import CachingTesting
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// A hiredis connection used by one benchmark task at a time.
final class CConnection: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer
    init(port: Int) {
        raw = crb_connect("127.0.0.1", Int32(port))!
    }
    deinit { crb_free(raw) }
}

let rounds = Int(environment("REDIS_BENCH_ROUNDS") ?? "") ?? 5
let seconds = Double(environment("REDIS_BENCH_SECONDS") ?? "") ?? 0.4
let poolSize = Int(environment("REDIS_BENCH_POOL") ?? "") ?? 2

let server = try await RedisServer.start()
var options = RedisOptions()
options.poolSize = poolSize
let backend = try RedisBackend(location: [server.url], options: options)
let cache = Cache(backend, configuration: CacheConfiguration())
let c = CConnection(port: server.port)

let value = [UInt8](repeating: 0x61, count: 100)
try await cache.set("bench", value, timeout: .never)
let madeKey = cache.makeKey("bench")
let keys = (0..<100).map { "mk\($0)" }
for key in keys { try await cache.set(key, value, timeout: .never) }
let madeKeys = keys.map { cache.makeKey($0) }

/// C-side key arrays for MGET, kept alive for the whole run.
final class CKeys: @unchecked Sendable {
    let storage: [UnsafeMutablePointer<CChar>?]
    let pointers: [UnsafePointer<CChar>?]
    let lengths: [Int]
    init(_ keys: [String]) {
        storage = keys.map { strdup($0) }
        pointers = storage.map { UnsafePointer($0) }
        lengths = keys.map { $0.utf8.count }
    }
    deinit { for pointer in storage { free(pointer) } }
}
let cKeys = CKeys(madeKeys)

let perCall = 50
let cGet = BenchCase("C hiredis GET loop", operationsPerCall: perCall) {
    let hits = madeKey.withCString { crb_get_loop(c.raw, $0, madeKey.utf8.count, Int32(perCall)) }
    precondition(hits == perCall)
}
let swiftGet = BenchCase("RedisCache.get (sequential)", operationsPerCall: perCall) {
    for _ in 0..<perCall {
        let read = try await cache.get("bench", as: [UInt8].self)
        precondition(read?.count == 100)
    }
}
// The C loop stores the same 108 bytes the cache stores (header and value), so both send alike.
let stored = RedisValueFormat.encode(CacheEntry(flags: 0, bytes: value))
let cSet = BenchCase("C hiredis SET loop", operationsPerCall: perCall) {
    let done = madeKey.withCString { key in
        stored.withUnsafeBytes { bytes in
            crb_set_loop(
                c.raw, key, madeKey.utf8.count, bytes.baseAddress!.assumingMemoryBound(to: CChar.self), stored.count, Int32(perCall))
        }
    }
    precondition(done == perCall)
}
let swiftSet = BenchCase("RedisCache.set (sequential)", operationsPerCall: perCall) {
    for _ in 0..<perCall { try await cache.set("bench", value, timeout: .never) }
}
let cMget = BenchCase("C hiredis MGET, 100 keys", operationsPerCall: 100) {
    let found = cKeys.pointers.withUnsafeBufferPointer { pointers in
        crb_mget(c.raw, pointers.baseAddress, cKeys.lengths, 100)
    }
    precondition(found == 100)
}
let swiftMget = BenchCase("RedisCache.getMany(100)", operationsPerCall: 100) {
    let found = try await cache.getMany(keys, as: [UInt8].self)
    precondition(found.count == 100)
}
// The backend alone, on made keys: what the core (key making, validation, value decoding) adds
// to getMany is the difference between this row and the one above.
let backendMget = BenchCase("RedisBackend.entries(forKeys:), 100 made keys", operationsPerCall: 100) {
    let found = try await backend.entries(forKeys: madeKeys)
    precondition(found.count == 100)
}
let tasks = 64
let perTask = 20
let swiftConcurrent = BenchCase("RedisCache.get, \(tasks) concurrent tasks", operationsPerCall: tasks * perTask) {
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

/// A benchmark whose result is wrong stops the run.
struct FormatCheckFailed: Error {
    let description: String
}

func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw FormatCheckFailed(description: message()) }
}

// The value format and codec alone, no server: what a get and a set do to one value.
let text = String(repeating: "a", count: 100)
// Django's pickle of that str (protocol 5: FRAME, SHORT_BINUNICODE, MEMOIZE, STOP).
let djangoPickle: [UInt8] = [0x80, 0x05, 0x95, 103, 0, 0, 0, 0, 0, 0, 0, 0x8C, 100] + Array(text.utf8) + [0x94, 0x2E]
let formatGetBaseline = BenchCase("copy 100 bytes + String(decoding:)") {
    let bytes = Array(djangoPickle[13..<113])
    try expect(String(decoding: bytes, as: UTF8.self).utf8.count == 100, "baseline")
}
let formatGet = BenchCase("RedisValueFormat.decode + codec, Django's pickled str") {
    let entry = RedisValueFormat.decode(djangoPickle)
    try expect(try CacheValueCodec.decode(entry, as: String.self, key: "k").utf8.count == 100, "format get")
}
let formatSetBaseline = BenchCase("Array(text.utf8)") {
    try expect(Array(text.utf8).count == 100, "baseline")
}
let formatSet = BenchCase("codec + RedisValueFormat.encode of a String (a pickle)") {
    try expect(RedisValueFormat.encode(try CacheValueCodec.encode(text)).count == 105, "format set")
}
let dictionary = Dictionary(uniqueKeysWithValues: (0..<10).map { ("field\($0)", $0 * 1000) })
let jsonRoundTrip = BenchCase("[String: Int] (10): JSONEncoder + JSONDecoder (the form before pickles)") {
    let data = try JSONEncoder().encode(dictionary)
    try expect(try JSONDecoder().decode([String: Int].self, from: data).count == 10, "json")
}
let pickleRoundTrip = BenchCase("[String: Int] (10): codec + RedisValueFormat, both ways (a pickle)") {
    let stored = RedisValueFormat.encode(try CacheValueCodec.encode(dictionary))
    let read = try CacheValueCodec.decode(RedisValueFormat.decode(stored), as: [String: Int].self, key: "k")
    try expect(read.count == 10, "pickle")
}

printTableHeader(title: "Redis: Cache vs hiredis from C (pool_size \(poolSize), \(rounds) rounds × \(seconds) s)")
let selected = Set((environment("REDIS_BENCH_CASES") ?? "get,set,getmany,backendmany,concurrent").split(separator: ",").map(String.init))
if selected.contains("get") {
    printRow(try await compare(baseline: cGet, subject: swiftGet, rounds: rounds, roundDuration: seconds), target: 0.8)
}
if selected.contains("set") {
    printRow(try await compare(baseline: cSet, subject: swiftSet, rounds: rounds, roundDuration: seconds), target: 0.8)
}
if selected.contains("getmany") {
    printRow(try await compare(baseline: cMget, subject: swiftMget, rounds: rounds, roundDuration: seconds), target: 0.9)
}
if selected.contains("backendmany") {
    printRow(try await compare(baseline: cMget, subject: backendMget, rounds: rounds, roundDuration: seconds))
}
if selected.contains("concurrent") {
    printRow(try await compare(baseline: cGet, subject: swiftConcurrent, rounds: rounds, roundDuration: seconds), target: 3)
}
if selected.contains("format") {
    printRow(try await compare(baseline: formatGetBaseline, subject: formatGet, rounds: rounds, roundDuration: seconds))
    printRow(try await compare(baseline: formatSetBaseline, subject: formatSet, rounds: rounds, roundDuration: seconds))
    printRow(try await compare(baseline: jsonRoundTrip, subject: pickleRoundTrip, rounds: rounds, roundDuration: seconds))
}
try await cache.shutdown()
await server.stop()
