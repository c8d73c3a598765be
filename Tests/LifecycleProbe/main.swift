// A child process for the lifecycle tests of the backends that own threads and connections:
// N times builds a Caches with one alias, uses it (one call, many calls, several at once so
// more than one connection opens, close and use again) and shuts it down; prints
// "before=T,D after=T,D" (threads and descriptors, from /proc).
//
//   LifecycleProbe memcached N          (starts its own memcached)
//   LifecycleProbe redis N              (starts its own redis-server)
//   LifecycleProbe sqlite N DIRECTORY   (a database file in DIRECTORY)
//
// Or, for the SQLite read-only fault test (run as an unprivileged user, for whom the file is
// read-only): reads key "k" and sets key "new" in table "t" of FILE, printing what each did.
//
//   LifecycleProbe sqlite-write-once FILE
//
// Or, for the test that servers die with the process that started them: starts memcached or
// redis-server, prints "pid=N" and kills itself with SIGKILL (no clean-up runs).
//
//   LifecycleProbe orphan memcached|redis
//
// Or, for the SQLite disk-full fault test (DIRECTORY a small tmpfs; see SQLiteDiskFull.swift):
//
//   LifecycleProbe sqlite-disk-full DIRECTORY
import Caching
import CachingMemcached
import CachingRedis
import CachingSQLite
import CachingTesting

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

let arguments = CommandLine.arguments.dropFirst().map { $0 }

if arguments.count == 2, arguments[0] == "sqlite-write-once" {
    let cache = try Cache.sqlite(table: "t", options: SQLiteOptions(database: arguments[1]))
    var report: [String] = []
    do {
        report.append("get=\(try await cache.get("k", as: String.self) ?? "nil")")
    } catch let error as CacheError {
        report.append("get=\(error.code): \(error.message)")
    }
    do {
        try await cache.set("new", "value")
        report.append("set=ok")
    } catch let error as CacheError {
        report.append("set=\(error.code): \(error.message)")
    }
    try await cache.shutdown()
    print(report.joined(separator: "\n"))
    exit(0)
}

if arguments.count == 2, arguments[0] == "orphan" {
    let server: LoopbackServer = arguments[1] == "redis" ? try await RedisServer.start() : try await MemcachedServer.start()
    print("pid=\(server.processID ?? -1)")
    fflush(nil)
    kill(getpid(), SIGKILL)
}

if arguments.count == 2, arguments[0] == "sqlite-disk-full" {
    print(try await sqliteDiskFull(directory: arguments[1]).joined(separator: "\n"))
    exit(0)
}

guard arguments.count >= 2, let rounds = Int(arguments[1]) else {
    print("usage: LifecycleProbe memcached|redis|sqlite N [DIRECTORY]")
    exit(64)
}
let server: LoopbackServer?
let settings: String
let backends: CacheBackends
switch arguments[0] {
case "memcached":
    let memcached = try await MemcachedServer.start()
    server = memcached
    settings = #"{"BACKEND": "memcached", "LOCATION": "\#(memcached.address)", "OPTIONS": {"pool_size": 3}}"#
    backends = CacheBackends.standard.withMemcached()
case "redis":
    let redis = try await RedisServer.start()
    server = redis
    settings = #"{"BACKEND": "redis", "LOCATION": "\#(redis.url)", "OPTIONS": {"pool_size": 3}}"#
    backends = CacheBackends.standard.withRedis()
case "sqlite":
    let directory = arguments.count > 2 ? arguments[2] : "/tmp"
    server = nil
    settings = #"""
        {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "cache_table",
         "OPTIONS": {"database": "\#(directory)/probe.sqlite3", "pool_size": 3}}
        """#
    backends = CacheBackends.standard.withSQLite()
default:
    print("unknown backend \(arguments[0]); expected memcached, redis or sqlite")
    exit(64)
}

func useAndShutDown(_ index: Int) async throws {
    let caches = try Caches(json: Array(#"{"default": \#(settings)}"#.utf8), backends: backends)
    try await caches.default.set("k\(index)", index)
    _ = try await caches.default.get("k\(index)", as: Int.self)
    _ = try await caches.default.getMany(["k\(index)", "missing"], as: Int.self)
    // Several calls at once, so more than one connection of the pool is opened.
    try await withThrowingTaskGroup(of: Void.self) { group in
        for task in 0..<6 {
            group.addTask { _ = try await caches.default.get("k\(index)", as: Int.self) }
            group.addTask { try await caches.default.set("k\(index):\(task)", task) }
        }
        try await group.waitForAll()
    }
    try await caches.default.close()
    _ = try await caches.default.get("k\(index)", as: Int.self)
    try await caches.shutdown()
    do {
        _ = try await caches.default.get("k\(index)", as: Int.self)
        print("error: a call after shutdown did not fail")
        exit(2)
    } catch let error as CacheError where error.code == .closed {
    }
}

try await useAndShutDown(-1)  // starts what lives for the whole process
await ProcessResources.warmUpConcurrency()
let before = ProcessResources.current()
for index in 0..<rounds { try await useAndShutDown(index) }
let after = await ProcessResources.settled(at: before)
print("before=\(before.threads),\(before.descriptors) after=\(after.threads),\(after.descriptors)")
await server?.stop()
