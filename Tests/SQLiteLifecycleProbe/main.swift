// A child process for the SQLite lifecycle test: N times builds a Caches with a database
// alias on SQLite (a writer thread, reader threads, their connections), uses it and shuts it
// down; prints "before=T,D after=T,D" (threads and descriptors, from /proc).
//
//   SQLiteLifecycleProbe N DIRECTORY
import Caching
import CachingSQLite
import CachingTesting

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

let rounds = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 50 : 50
let directory = CommandLine.arguments.count > 2 ? CommandLine.arguments[2] : "/tmp"

func useAndShutDown(_ index: Int) async throws {
    let json = #"""
        {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "cache_table",
                     "OPTIONS": {"database": "\#(directory)/probe.sqlite3", "pool_size": 3}}}
        """#
    let caches = try Caches(json: Array(json.utf8), backends: CacheBackends.standard.withSQLite())
    try await caches.default.set("k\(index)", index)
    _ = try await caches.default.get("k\(index)", as: Int.self)
    _ = try await caches.default.getMany(["k\(index)", "missing"], as: Int.self)
    // Several calls at once, so more than one reader connection is opened.
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
let after = ProcessResources.current()
print("before=\(before.threads),\(before.descriptors) after=\(after.threads),\(after.descriptors)")
