import Caching
import CachingTesting
import Foundation
import Testing

/// What is particular to FileCache: the files, their permissions, the directory's life,
/// storage errors, clear, expiry on disk and settings (Django's FileBasedCacheTests).
@Suite("FileCache")
struct FileCacheTests {
    let clock = ManualCacheClock()

    func withCache(
        maxEntries: Int = 300, cullFrequency: Int = 3, maxValueSize: Int = 1_048_576, keyFunction: CacheKeyFunction? = nil,
        _ body: (Cache, TemporaryDirectory) async throws -> Void
    ) async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let cache = try Cache.file(
            directory: directory.path, maxEntries: maxEntries, cullFrequency: cullFrequency, maxValueSize: maxValueSize,
            configuration: CacheConfiguration(keyFunction: keyFunction, clock: clock))
        try await body(cache, directory)
    }

    @Test("one file per key, named by the FNV-1a 128 hash of the made key, holding the key")
    func layout() async throws {
        try await withCache(keyFunction: { key, _, _ in key }) { (cache: Cache, directory: TemporaryDirectory) in
            try await cache.set("a", "value")
            // FNV-1a 128 of "a" is the published test vector d228cb69…4e4a8964.
            let path = directory.path + "/d228cb696f1a8caf78912b704e4a8964.swcache2"
            #expect(cache.filePath(forKey: "a") == path)
            let bytes = try #require(FileManager.default.contents(atPath: path))
            #expect(Array(bytes.prefix(4)) == Array("SWCF".utf8))
            #expect(Array(bytes[48..<49]) == Array("a".utf8))
            #expect(try await cache.get("a", as: String.self) == "value")
            #expect(try await cache.fileCount() == 1)
        }
    }

    @Test("the directory and its missing parents are 0700, files 0600")
    func permissions() async throws {
        let root = TemporaryDirectory()
        defer { root.remove() }
        let nested = root.path + "/intermediate/cache"
        let cache = try Cache.file(directory: nested, configuration: CacheConfiguration(clock: clock))
        try await cache.set("key", 1)
        #expect(try mode(of: root.path) == 0o700)
        #expect(try mode(of: root.path + "/intermediate") == 0o700)
        #expect(try mode(of: nested) == 0o700)
        #expect(try mode(of: cache.filePath(forKey: cache.makeKey("key"))) == 0o600)
        for name in try FileManager.default.contentsOfDirectory(atPath: nested) {
            #expect(try mode(of: nested + "/" + name) == 0o600, "\(name)")
        }
    }

    @Test("the directory may be deleted at any time: reads miss, writes create it again")
    func directoryDeleted() async throws {
        try await withCache { cache, directory in
            try await cache.set("before", 1)
            try FileManager.default.removeItem(atPath: directory.path)
            #expect(try await cache.get("before", as: Int.self) == nil)
            #expect(try await cache.hasKey("before") == false)
            #expect(try await cache.delete("before") == false)
            await #expect(throws: CacheError.self) { try await cache.incr("before") }
            try await cache.set("after", 2)
            #expect(try await cache.get("after", as: Int.self) == 2)
            #expect(try mode(of: directory.path) == 0o700)
            try FileManager.default.removeItem(atPath: directory.path)
            #expect(try await cache.add("added", 3))
            #expect(try await cache.incr("added") == 4)
        }
    }

    @Test("a LOCATION whose parent is a file is a storageFailure naming the path and the reason")
    func parentIsAFile() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try writeFile(directory.path, Data("not a directory".utf8))
        let location = directory.path + "/cache"
        let error = try #require(throws: CacheError.self) { try Cache.file(directory: location) }
        #expect(error.code == .storageFailure)
        #expect(error.message.contains(location))
        #expect(error.message.contains("Not a directory"))
    }

    @Test("a LOCATION under /proc is a storageFailure, even for root")
    func impossibleDirectory() async throws {
        let location = "/proc/swcache-\(getpid())/cache"
        let error = try #require(throws: CacheError.self) { try Cache.file(directory: location) }
        #expect(error.code == .storageFailure)
        #expect(error.message.contains("/proc/swcache-\(getpid())"))
        #expect(error.message.contains("errno"))
    }

    @Test("a directory replaced by a file: set and get throw storageFailure with the reason")
    func directoryReplacedByFile() async throws {
        try await withCache { cache, directory in
            try await cache.set("key", 1)
            try FileManager.default.removeItem(atPath: directory.path)
            try writeFile(directory.path, Data("squatter".utf8))
            let setError = await #expect(throws: CacheError.self) { try await cache.set("key", 2) }
            #expect(setError?.code == .storageFailure)
            #expect(setError?.message.contains(directory.path) == true)
            #expect(setError?.message.contains("Not a directory") == true)
            let getError = await #expect(throws: CacheError.self) { try await cache.get("key", as: Int.self) }
            #expect(getError?.code == .storageFailure)
            // The squatting file is not ours to touch.
            #expect(FileManager.default.contents(atPath: directory.path) == Data("squatter".utf8))
        }
    }

    @Test("a directory where a key's file should be: get is a miss, set throws storageFailure (EISDIR), other keys intact")
    func directoryInPlaceOfFile() async throws {
        try await withCache { cache, _ in
            try await cache.set("other", "intact")
            let path = cache.filePath(forKey: cache.makeKey("blocked"))
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
            #expect(try await cache.get("blocked", as: Int.self) == nil, "not a cache file: a miss")
            #expect(try await cache.get("other", as: String.self) == "intact")
            let setError = await #expect(throws: CacheError.self) { try await cache.set("blocked", 1) }
            #expect(setError?.code == .storageFailure)
            #expect(setError?.message.contains("Is a directory") == true)
            #expect(try FileManager.default.contentsOfDirectory(atPath: cache.directory).filter { $0.hasPrefix(".swcache2-tmp-") }.isEmpty)
            #expect(try await cache.get("other", as: String.self) == "intact")
            var isDirectory: ObjCBool = false
            #expect(FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue)
        }
    }

    @Test("clear removes cache and temporary files only; other files and the directory stay")
    func clearKeepsOtherFiles() async throws {
        try await withCache { cache, directory in
            try await cache.setMany(["a": 1, "b": 2, "c": 3])
            let keep = ["notes.txt", "9fe685f2d059d8a11303e9e64be4cc7b.djcache", "ABCDEF.swcache"]
            for name in keep { try writeFile(directory.path + "/" + name, Data("x".utf8)) }
            try FileManager.default.createDirectory(atPath: directory.path + "/subdir", withIntermediateDirectories: false)
            let crashed = directory.path + "/.swcache-tmp-99999-1-dead"
            try writeFile(crashed, Data("half a write".utf8))
            #expect(try await cache.fileCount() == 3)

            try await cache.clear()

            #expect(try await cache.getMany(["a", "b", "c"], as: Int.self).isEmpty)
            #expect(try await cache.fileCount() == 0)
            #expect(!FileManager.default.fileExists(atPath: crashed))
            for name in keep + ["subdir"] {
                #expect(FileManager.default.fileExists(atPath: directory.path + "/" + name), "\(name)")
            }
            try await cache.set("again", 4)
            #expect(try await cache.get("again", as: Int.self) == 4)
        }
    }

    @Test("a temporary file left by a crash is ignored by reads and counts")
    func temporaryFilesIgnored() async throws {
        try await withCache(maxEntries: 3) { cache, directory in
            for index in 0..<5 {
                try writeFile(directory.path + "/.swcache-tmp-1-\(index)-crash", Data([0x53, 0x57]))
            }
            try await cache.setMany(["a": 1, "b": 2])
            #expect(try await cache.fileCount() == 2)
            #expect(try await cache.getMany(["a", "b"], as: Int.self) == ["a": 1, "b": 2])
        }
    }

    @Test("expiry follows the clock: present before the deadline, gone and removed at it")
    func expiry() async throws {
        try await withCache { cache, _ in
            let path = cache.filePath(forKey: cache.makeKey("key"))
            try await cache.set("key", "value", timeout: 10)
            clock.advance(by: 9.5)
            #expect(try await cache.get("key", as: String.self) == "value")
            clock.advance(by: 0.5)
            #expect(FileManager.default.fileExists(atPath: path))
            #expect(try await cache.get("key", as: String.self) == nil)
            #expect(!FileManager.default.fileExists(atPath: path))
        }
    }

    @Test("an expired file is not deleted, present, touched or incremented — and is removed")
    func expiredFileOperations() async throws {
        try await withCache { cache, _ in
            let operations: [(String, @Sendable (Cache) async throws -> Bool)] = [
                ("delete", { try await $0.delete("key") }),
                ("hasKey", { try await $0.hasKey("key") }),
                ("touch", { try await $0.touch("key", timeout: 100) }),
                (
                    "incr",
                    { cache in
                        do {
                            _ = try await cache.incr("key")
                            return true
                        } catch let error as CacheError {
                            #expect(error.code == .keyNotFound)
                            return false
                        }
                    }
                ),
            ]
            for (name, operation) in operations {
                let path = cache.filePath(forKey: cache.makeKey("key"))
                try await cache.set("key", 5, timeout: 1)
                clock.advance(by: 1)
                #expect(FileManager.default.fileExists(atPath: path), "\(name)")
                #expect(try await operation(cache) == false, "\(name)")
                #expect(!FileManager.default.fileExists(atPath: path), "\(name) leaves the expired file")
            }
        }
    }

    @Test("touch rewrites only the expiry field, in place")
    func touchInPlace() async throws {
        try await withCache { cache, _ in
            let path = cache.filePath(forKey: cache.makeKey("key"))
            try await cache.set("key", "value", timeout: 10)
            let before = try #require(FileManager.default.contents(atPath: path))
            let inodeBefore = try inode(of: path)
            clock.advance(by: 5)
            #expect(try await cache.touch("key", timeout: 100))
            let after = try #require(FileManager.default.contents(atPath: path))
            #expect(try inode(of: path) == inodeBefore)
            #expect(before.count == after.count)
            let changed = (0..<before.count).filter { before[$0] != after[$0] }
            #expect(!changed.isEmpty)
            #expect(changed.allSatisfy { (8..<24).contains($0) }, "changed offsets \(changed)")
            clock.advance(by: 99)
            #expect(try await cache.get("key", as: String.self) == "value")
            #expect(try await cache.touch("key", timeout: .never))
            clock.advance(by: 1_000_000)
            #expect(try await cache.get("key", as: String.self) == "value")
        }
    }

    @Test("incr keeps the expiry")
    func incrKeepsExpiry() async throws {
        try await withCache { cache, _ in
            try await cache.set("counter", 1, timeout: 10)
            clock.advance(by: 5)
            #expect(try await cache.incr("counter", by: 41) == 42)
            clock.advance(by: 4.9)
            #expect(try await cache.get("counter", as: Int.self) == 42)
            clock.advance(by: 0.1)
            #expect(try await cache.get("counter", as: Int.self) == nil)
        }
    }

    @Test("caches of one directory share files; a prefix separates their keys")
    func sharedDirectory() async throws {
        try await withCache { cache, directory in
            let twin = try Cache.file(directory: directory.path + "/", configuration: CacheConfiguration(clock: clock))
            let prefixed = try Cache.file(
                directory: directory.path, configuration: CacheConfiguration(keyPrefix: "p", clock: clock))
            try await cache.set("key", "plain")
            #expect(try await twin.get("key", as: String.self) == "plain")
            #expect(try await prefixed.get("key", as: String.self) == nil)
            try await prefixed.set("key", "prefixed")
            #expect(try await cache.get("key", as: String.self) == "plain")
            #expect(twin.directory == cache.directory)
        }
    }

    @Test("values of every size round-trip, up to several megabytes (MAX_VALUE_SIZE raised); one over the limit is refused")
    func largeValues() async throws {
        try await withCache(maxValueSize: 4_000_000) { cache, _ in
            for size in [0, 1, 7, 8, 9, 16383, 16384, 16385, 100_000, 3_000_000] {
                let value = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ size) }
                try await cache.set("blob", value)
                #expect(try await cache.get("blob", as: [UInt8].self) == value, "size \(size)")
            }
        }
        try await withCache { cache, _ in
            try await cache.set("blob", [UInt8](repeating: 1, count: 10))
            let error = await #expect(throws: CacheError.self) { try await cache.set("blob", [UInt8](repeating: 2, count: 1_048_577)) }
            #expect(error?.code == .valueTooLarge)
            #expect(try await cache.get("blob", as: [UInt8].self) == [UInt8](repeating: 1, count: 10), "the old value is kept")
        }
    }

    @Test("settings: file, filebased and Django's dotted path build a Cache with its OPTIONS")
    func settings() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let json = """
            {
              "a": {"BACKEND": "file", "LOCATION": "\(directory.path)/a"},
              "b": {"BACKEND": "filebased", "LOCATION": "\(directory.path)/b", "OPTIONS": {"MAX_ENTRIES": 7, "CULL_FREQUENCY": 0}},
              "c": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": "\(directory.path)/c"}
            }
            """
        let caches = try Caches(CacheSettings.parse(json: Array(json.utf8)))
        let b = try #require(try caches["b"].backend as? FileBackend)
        #expect(b.maxEntries == 7 && b.cullFrequency == 0 && b.directory == directory.path + "/b")
        for alias in ["a", "c"] {
            let cache = try caches[alias]
            #expect(cache.fileBackend.maxEntries == 300 && cache.fileBackend.cullFrequency == 3)
            try await cache.set("k", alias)
            #expect(try await cache.get("k", as: String.self) == alias)
        }
    }

    @Test("settings: a missing or empty LOCATION, or an unknown option, is invalidSettings naming the alias")
    func badSettings() async throws {
        for (settings, expected) in [
            (CacheSettings(backend: "file"), "LOCATION"),
            (CacheSettings(backend: "file", location: ""), "LOCATION"),
            (CacheSettings(backend: "file", location: ["/tmp/a", "/tmp/b"]), "LOCATION"),
            (CacheSettings(backend: "file", location: "/tmp/x", options: ["MAX_ENTRY": .int(3)]), "MAX_ENTRY"),
            (CacheSettings(backend: "file", location: "/tmp/x", options: ["CULL_FREQUENCY": .int(-1)]), "CULL_FREQUENCY"),
        ] {
            let error = try #require(throws: CacheError.self) { try Caches(["files": settings]) }
            #expect(error.code == .invalidSettings)
            #expect(error.message.contains("CACHES[\"files\"]"), "\(error.message)")
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }
}

func writeFile(_ path: String, _ data: Data) throws {
    try data.write(to: URL(fileURLWithPath: path))
}

func mode(of path: String) throws -> mode_t {
    var info = stat()
    guard stat(path, &info) == 0 else { throw CocoaError(.fileNoSuchFile) }
    return info.st_mode & 0o7777
}

func inode(of path: String) throws -> UInt64 {
    var info = stat()
    guard stat(path, &info) == 0 else { throw CocoaError(.fileNoSuchFile) }
    return UInt64(info.st_ino)
}
