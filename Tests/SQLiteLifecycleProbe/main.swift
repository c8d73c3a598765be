// A child process for the SQLite lifecycle test: N times builds a Caches with a database
// alias on SQLite (a writer thread, reader threads, their connections), uses it and shuts it
// down; prints "before=T,D after=T,D" (threads and descriptors, from /proc).
//
//   SQLiteLifecycleProbe N DIRECTORY
//
// Or, for the read-only fault test (run as an unprivileged user, for whom the file is
// read-only): reads key "k" and sets key "new" in table "t" of FILE, printing what each did.
//
//   SQLiteLifecycleProbe write-once FILE
import Caching
import CachingSQLite
import CachingTesting

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

if CommandLine.arguments.count == 3, CommandLine.arguments[1] == "write-once" {
    let cache = try Cache.sqlite(table: "t", options: SQLiteOptions(database: CommandLine.arguments[2]))
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
