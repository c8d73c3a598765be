import Caching
import CachingTesting
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The cache directory is hostile input: whatever another process plants in it — FIFOs,
/// symbolic links, huge or foreign files, directories — is a miss that never blocks, crashes or
/// exhausts memory, and the cache stays healthy.
@Suite("FileCache: a hostile directory")
struct FileCacheHostileTests {
    func withCache(_ body: (Cache, TemporaryDirectory) async throws -> Void) async throws {
        let directory = TemporaryDirectory("swcache-hostile")
        defer { directory.remove() }
        try await body(try Cache.file(directory: directory.path), directory)
    }

    /// The cache still works for the planted key and another one.
    func expectHealthy(_ cache: Cache, key: String) async throws {
        try await cache.set(key, "restored")
        #expect(try await cache.get(key, as: String.self) == "restored")
        try await cache.set("other", 1)
        #expect(try await cache.incr("other") == 2)
    }

    @Test("a FIFO at a key's path is a miss at once (no blocked thread) and is removed")
    func fifo() async throws {
        try await withCache { cache, _ in
            let path = cache.filePath(forKey: cache.makeKey("k"))
            #expect(mkfifo(path, 0o600) == 0)
            for _ in 0..<8 { #expect(try await cache.get("k", as: String.self) == nil) }  // more reads than pool threads
            var info = stat()
            #expect(lstat(path, &info) != 0, "the FIFO was removed")
            try await expectHealthy(cache, key: "k")
        }
    }

    @Test("a symbolic link to /dev/zero is a miss, not a crash, and the link is removed")
    func devZero() async throws {
        try await withCache { cache, _ in
            let path = cache.filePath(forKey: cache.makeKey("k"))
            #expect(symlink("/dev/zero", path) == 0)
            #expect(try await cache.get("k", as: String.self) == nil)
            var info = stat()
            #expect(lstat(path, &info) != 0, "the link was removed")
            try await expectHealthy(cache, key: "k")
        }
    }

    @Test("a symbolic link to a file outside: a miss; writing the key replaces the link and leaves the victim unchanged")
    func linkOutside() async throws {
        try await withCache { cache, directory in
            let victim = directory.path + "-victim"
            defer { unlink(victim) }
            try Data("precious".utf8).write(to: URL(fileURLWithPath: victim))
            let path = cache.filePath(forKey: cache.makeKey("k"))
            #expect(symlink(victim, path) == 0)
            #expect(try await cache.get("k", as: String.self) == nil)
            #expect(symlink(victim, path) == 0)
            try await cache.set("k", "mine")
            #expect(try await cache.get("k", as: String.self) == "mine")
            #expect(String(decoding: try Data(contentsOf: URL(fileURLWithPath: victim)), as: UTF8.self) == "precious")
        }
    }

    @Test("a 3 GiB sparse file is a miss without being read, and is removed")
    func hugeSparseFile() async throws {
        try await withCache { cache, _ in
            let path = cache.filePath(forKey: cache.makeKey("k"))
            let descriptor = open(path, O_WRONLY | O_CREAT, 0o600)
            #expect(descriptor >= 0)
            #expect(ftruncate(descriptor, 3 << 30) == 0)
            close(descriptor)
            let started = Date()
            #expect(try await cache.get("k", as: String.self) == nil)
            // Not a speed measurement: reading 3 GiB took 23 s and 3.2 GB here before the size check,
            // so finishing within 10 s on a loaded machine shows it was not read.
            #expect(Date().timeIntervalSince(started) < 10, "nothing was read")
            var info = stat()
            #expect(lstat(path, &info) != 0)
            try await expectHealthy(cache, key: "k")
        }
    }

    @Test("a directory at a key's path is a miss; a write fails with storageFailure; other keys are fine")
    func directoryAtPath() async throws {
        try await withCache { cache, _ in
            let path = cache.filePath(forKey: cache.makeKey("k"))
            #expect(mkdir(path, 0o700) == 0)
            #expect(try await cache.get("k", as: String.self) == nil)
            let error = await #expect(throws: CacheError.self) { try await cache.set("k", "x") }
            #expect(error?.code == .storageFailure)
            var info = stat()
            #expect(lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR, "not ours to remove")
            try await cache.set("other", 1)
            #expect(try await cache.get("other", as: Int.self) == 1)
        }
    }

    @Test("a symbolic link planted as a lock file is replaced; its target is never created")
    func lockFileLink() async throws {
        try await withCache { cache, directory in
            let target = directory.path + "-lock-target"
            defer { unlink(target) }
            for shard in 0..<FileBackend.lockShardCount {
                let lock = directory.path + "/.swcache2-lock-" + String(shard, radix: 16)
                unlink(lock)
                #expect(symlink(target, lock) == 0)
            }
            for index in 0..<64 { try await cache.add("key-\(index)", index) }  // add takes a shard's lock
            var info = stat()
            #expect(lstat(target, &info) != 0, "the link's target was not created")
            let lock = directory.path + "/.swcache2-lock-" + String(FileBackend.lockShard(forKey: cache.makeKey("key-0")), radix: 16)
            #expect(lstat(lock, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG)
        }
    }

    @Test("a directory that is a symbolic link, another user's, or writable by others is refused, naming the alias and the path")
    func unsafeDirectories() throws {
        let base = TemporaryDirectory("swcache-unsafe")
        defer { base.remove() }
        #expect(mkdir(base.path, 0o700) == 0)
        func refusal(_ path: String, _ options: [String: SettingsValue] = [:]) -> CacheError? {
            #expect(throws: CacheError.self) {
                try Caches(["pages": CacheSettings(backend: "file", location: path, options: options)])
            }
        }
        let real = base.path + "/real"
        #expect(mkdir(real, 0o700) == 0)
        #expect(symlink(real, base.path + "/link") == 0)
        let link = refusal(base.path + "/link")
        #expect(link?.code == .invalidSettings)
        #expect(link?.message.contains(#"CACHES["pages"]["LOCATION"]"#) == true)
        #expect(link?.message.contains("symbolic link") == true)

        let open = base.path + "/open"
        #expect(mkdir(open, 0o700) == 0 && chmod(open, 0o777) == 0)
        #expect(refusal(open)?.message.contains("writable by every user") == true)

        let group = base.path + "/group"
        #expect(mkdir(group, 0o700) == 0 && chmod(group, 0o770) == 0)
        #expect(refusal(group)?.message.contains("SHARED_GROUP") == true)
        _ = try Caches(["pages": CacheSettings(backend: "file", location: group, options: ["SHARED_GROUP": true])])

        if geteuid() == 0 {
            let foreign = base.path + "/foreign"
            #expect(mkdir(foreign, 0o700) == 0 && chown(foreign, 65534, 65534) == 0)
            #expect(refusal(foreign)?.message.contains("belongs to uid 65534") == true)
        }
    }
}
