// A child process for the memcached lifecycle test: starts a memcached server, then N times
// builds a Caches with a memcached alias (a pool of worker threads and connections), uses it
// and shuts it down; prints "before=T,D after=T,D" (threads and descriptors, from /proc).
//
//   MemcachedLifecycleProbe N
import Caching
import CachingMemcached
import CachingTesting

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

let rounds = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 50 : 50
let server = try await MemcachedServer.start()

func useAndShutDown(_ index: Int) async throws {
    let json = #"{"default": {"BACKEND": "memcached", "LOCATION": "\#(server.address)", "OPTIONS": {"pool_size": 3}}}"#
    let caches = try Caches(json: Array(json.utf8), backends: CacheBackends.standard.withMemcached())
    try await caches.default.set("k\(index)", index)
    _ = try await caches.default.get("k\(index)", as: Int.self)
    _ = try await caches.default.getMany(["k\(index)", "missing"], as: Int.self)
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
await server.stop()
