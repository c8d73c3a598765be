// A child process for FileCache's two-process tests: runs one command against a cache
// directory and prints its result on standard output.
//
//   incr DIR KEY N             incr KEY N times; prints the last value
//   set DIR KEY VALUE          stores VALUE (a string)
//   get DIR KEY                prints the value, or "<miss>"
//   add DIR KEY VALUE          prints true or false
//   rewrite DIR KEY SIZE N     stores N byte values of SIZE bytes, value i filled with byte i % 251
//   fill DIR PREFIX N          stores N keys PREFIX0 … PREFIX(N-1), never expiring
//   readcheck DIR KEY SIZE N   reads KEY N times; prints "reads=R uniform=U torn=T"
//                              (a value is uniform when all its bytes are equal and its size is right)
//   lifecycle DIR - N          opens, uses and shuts down a local-memory Caches, a file Caches
//                              (in DIR) and a private BlockingThreadPool N times; prints
//                              "before=… after=…" (threads and descriptors, from /proc)
import Caching
import CachingTesting

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

func fail(_ message: String) -> Never {
    let text = Array("FileCacheProcessHelper: \(message)\n".utf8)
    _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(2)
}

let arguments = CommandLine.arguments
guard arguments.count >= 4 else { fail("usage: COMMAND DIR KEY [ARGS]") }
let command = arguments[1]
let cache: Cache
do {
    cache = try Cache.file(directory: arguments[2], maxEntries: 100_000)
} catch {
    fail("\(error)")
}
let key = arguments[3]

func integer(_ index: Int) -> Int {
    guard arguments.count > index, let value = Int(arguments[index]) else { fail("argument \(index) must be an integer") }
    return value
}

/// One open-use-shut-down round of each resource owner in the `Caching` module.
func lifecycleRound(_ index: Int, directory: String) async throws {
    let local = try Caches(["default": CacheSettings(backend: "locmem", location: "lifecycle-\(index)")])
    try await local.default.set("k", index)
    try await local.shutdown()

    let path = directory + "/round-\(index)"
    let files = try Caches(["default": CacheSettings(backend: "file", location: path)])
    try await files.default.set("k", index)
    _ = try await files.default.get("k", as: Int.self)
    _ = try await files.default.incr("k")
    try await files.shutdown()
    TemporaryDirectory(path: path).remove()

    let pool = BlockingThreadPool(threadCount: 4)
    _ = await pool.run { index }
    await pool.shutdown()
}

do {
    switch command {
    case "lifecycle":
        try await lifecycleRound(-1, directory: arguments[2])  // starts what lives for the whole process
        await ProcessResources.warmUpConcurrency()
        let before = ProcessResources.current()
        for index in 0..<integer(4) { try await lifecycleRound(index, directory: arguments[2]) }
        let after = await ProcessResources.settled(at: before)
        print("before=\(before.threads),\(before.descriptors) after=\(after.threads),\(after.descriptors)")
    case "incr":
        var last = 0
        for _ in 0..<integer(4) { last = try await cache.incr(key) }
        print(last)
    case "set":
        guard arguments.count > 4 else { fail("set needs a value") }
        try await cache.set(key, arguments[4], timeout: .never)
        print("ok")
    case "get":
        print(try await cache.get(key, as: String.self) ?? "<miss>")
    case "add":
        guard arguments.count > 4 else { fail("add needs a value") }
        print(try await cache.add(key, arguments[4], timeout: .never))
    case "rewrite":
        let size = integer(4)
        for index in 0..<integer(5) {
            try await cache.set(key, [UInt8](repeating: UInt8(index % 251), count: size), timeout: .never)
        }
        print("ok")
    case "fill":
        for index in 0..<integer(4) { try await cache.set("\(key)\(index)", index, timeout: .never) }
        print("ok")
    case "readcheck":
        var reads = 0
        var uniform = 0
        var torn = 0
        let size = integer(4)
        for _ in 0..<integer(5) {
            guard let value = try await cache.get(key, as: [UInt8].self) else { continue }
            reads += 1
            if value.count == size, let first = value.first, value.allSatisfy({ $0 == first }) {
                uniform += 1
            } else {
                torn += 1
            }
        }
        print("reads=\(reads) uniform=\(uniform) torn=\(torn)")
    default:
        fail("unknown command \(command)")
    }
} catch {
    fail("\(error)")
}
