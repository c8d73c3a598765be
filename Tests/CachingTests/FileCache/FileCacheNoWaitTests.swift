@_spi(Benchmarks) import Caching
import CachingTesting
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A get reads a small file on the calling task when the kernel can serve it without waiting for
/// the disk (Linux), and otherwise on the thread pool: both give the same answers, and the
/// calling task never reads, removes or trusts anything the pool path would treat with care.
@Suite("FileCache: reads on the calling task")
struct FileCacheNoWaitTests {
    /// Whether this system reads on the calling task at all: Linux with glibc on x86-64 or
    /// arm64, kernel 5.12 or later (`RESOLVE_CACHED`).
    static let readsOnTask: Bool = {
        #if os(Linux) && canImport(Glibc) && (arch(x86_64) || arch(arm64))
            var names = utsname()
            guard uname(&names) == 0 else { return false }
            let release = withUnsafeBytes(of: names.release) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            let numbers = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
            guard numbers.count == 2 else { return false }
            return (numbers[0], numbers[1]) >= (5, 12)
        #else
            false
        #endif
    }()

    func withBackend(
        clock: ManualCacheClock = ManualCacheClock(), _ body: (Cache, FileBackend, TemporaryDirectory) async throws -> Void
    ) async throws {
        let directory = TemporaryDirectory("swcache-nowait")
        defer { directory.remove() }
        let backend = try FileBackend(directory: directory.path, clock: clock)
        try await body(Cache(backend, configuration: CacheConfiguration(clock: clock)), backend, directory)
    }

    struct Profile: Codable, Equatable, Sendable {
        var name: String
        var visits: Int
    }

    @Test("a small live entry read on the calling task equals the pool's read of it")
    func sameAsPool() async throws {
        try await withBackend { cache, backend, _ in
            try await cache.set("text", "a cached value", timeout: .never)
            try await cache.set("empty", "", timeout: .never)
            try await cache.set("number", 42, timeout: 300)
            try await cache.set("bytes", [UInt8](0...255), timeout: .never)
            try await cache.set("profile", Profile(name: "ada", visits: 3), timeout: .never)
            try await cache.set("near-limit", String(repeating: "v", count: 60_000), timeout: .never)
            for key in ["text", "empty", "number", "bytes", "profile", "near-limit"] {
                let made = cache.makeKey(key)
                let pooled = try #require(try await backend.entryThroughPool(forKey: made))
                let onTask = backend.entryWithoutWaiting(forKey: made)
                if Self.readsOnTask {
                    #expect(onTask == .some(pooled), "\(key) is answered on the calling task, as the pool answers it")
                } else {
                    #expect(onTask == nil, "\(key): every read goes to the pool off Linux")
                }
            }
            #expect(try await cache.get("profile", as: Profile.self) == Profile(name: "ada", visits: 3))
            #expect(try await cache.get("bytes", as: [UInt8].self) == [UInt8](0...255))
        }
    }

    @Test("a file over 64 KiB is left to the pool, which reads it")
    func largeFileGoesToPool() async throws {
        try await withBackend { cache, backend, _ in
            let large = String(repeating: "w", count: 70_000)
            try await cache.set("large", large, timeout: .never)
            #expect(backend.entryWithoutWaiting(forKey: cache.makeKey("large")) == nil)
            #expect(try await cache.get("large", as: String.self) == large)
        }
    }

    @Test("an expired file is left to the pool, which removes it; the calling task removes nothing")
    func expiredGoesToPool() async throws {
        let clock = ManualCacheClock()
        try await withBackend(clock: clock) { cache, backend, _ in
            try await cache.set("brief", "soon gone", timeout: 10)
            let made = cache.makeKey("brief")
            clock.advance(by: 11)
            #expect(backend.entryWithoutWaiting(forKey: made) == nil)
            #expect(FileManager.default.fileExists(atPath: backend.filePath(forKey: made)))
            #expect(try await cache.get("brief", as: String.self) == nil)
            #expect(!FileManager.default.fileExists(atPath: backend.filePath(forKey: made)), "the pool removed it")
        }
    }

    @Test("a corrupt file is left to the pool, which removes it; another key's file is a miss on the calling task")
    func corruptAndOtherKey() async throws {
        try await withBackend { cache, backend, _ in
            try await cache.set("victim", "the victim's value")
            try await cache.set("A", "A's value")
            let victim = backend.filePath(forKey: cache.makeKey("victim"))
            var bytes = [UInt8](try #require(FileManager.default.contents(atPath: victim)))
            bytes[bytes.count - 2] ^= 0x01
            try Data(bytes).write(to: URL(fileURLWithPath: victim))
            #expect(backend.entryWithoutWaiting(forKey: cache.makeKey("victim")) == nil)
            #expect(FileManager.default.fileExists(atPath: victim), "the calling task removes nothing")
            #expect(try await cache.get("victim", as: String.self) == nil)
            #expect(!FileManager.default.fileExists(atPath: victim), "the pool removed the corrupt file")

            let aBytes = try #require(FileManager.default.contents(atPath: backend.filePath(forKey: cache.makeKey("A"))))
            let bPath = backend.filePath(forKey: cache.makeKey("B"))
            try aBytes.write(to: URL(fileURLWithPath: bPath))
            let onTask = backend.entryWithoutWaiting(forKey: cache.makeKey("B"))
            #expect(onTask == (Self.readsOnTask ? Optional<CacheEntry?>.some(nil) : nil), "another key's file is a miss")
            #expect(try await cache.get("B", as: String.self) == nil)
            #expect(FileManager.default.contents(atPath: bPath) == aBytes, "another key's file stays")
        }
    }

    @Test("getMany answers what it can on the calling task and sends only the rest to the pool, in the callers' order")
    func manyMixesTaskAndPool() async throws {
        try await withBackend { cache, backend, _ in
            try await cache.set("a", "A", timeout: .never)
            try await cache.set("b", 2, timeout: .never)
            try await cache.set("corrupt", "will be damaged", timeout: .never)
            try await cache.set("c", "C", timeout: .never)
            let corrupt = backend.filePath(forKey: cache.makeKey("corrupt"))
            var bytes = [UInt8](try #require(FileManager.default.contents(atPath: corrupt)))
            bytes[bytes.count - 2] ^= 0x01
            try Data(bytes).write(to: URL(fileURLWithPath: corrupt))
            // A symbolic link is never followed on the calling task: the pool removes it.
            let link = backend.filePath(forKey: cache.makeKey("link"))
            #expect(symlink(backend.filePath(forKey: cache.makeKey("a")), link) == 0)
            if Self.readsOnTask {
                #expect(backend.entryWithoutWaiting(forKey: cache.makeKey("a")) != nil, "a is answered on the task")
                #expect(backend.entryWithoutWaiting(forKey: cache.makeKey("corrupt")) == nil, "corrupt needs the pool")
            }

            let keys = ["corrupt", "a", "missing-\(UniqueName.next())", "link", "c", "b"]
            let made = keys.map { cache.makeKey($0) }
            let found = try await backend.entries(forKeys: made)
            var one: [CacheEntry?] = []
            for key in made { one.append(try await backend.entryThroughPool(forKey: key)) }
            #expect(found == one, "the same answers as one pool read per key")
            #expect(found.map { $0 != nil } == [false, true, false, false, true, true])
            #expect(try found[1].map { try CacheValueCodec.decode($0, as: String.self, key: made[1]) } == "A")
            #expect(try found[4].map { try CacheValueCodec.decode($0, as: String.self, key: made[4]) } == "C")
            #expect(try found[5].map { try CacheValueCodec.decode($0, as: Int.self, key: made[5]) } == 2)
            #expect(!FileManager.default.fileExists(atPath: corrupt), "the pool removed the corrupt file")
            var info = stat()
            #expect(lstat(link, &info) != 0, "the pool removed the link")
            let strings = try await cache.getMany(["a", "c"], as: String.self)
            #expect(strings == ["a": "A", "c": "C"])
        }
    }

    @Test("planted files are never read on the calling task; the pool still removes them")
    func plantedFiles() async throws {
        try await withBackend { cache, backend, _ in
            try await cache.set("real", "real value")
            let realPath = backend.filePath(forKey: cache.makeKey("real"))

            // A symbolic link to a valid cache file: never followed.
            let linkPath = backend.filePath(forKey: cache.makeKey("link"))
            #expect(symlink(realPath, linkPath) == 0)
            // A FIFO: never waited on.
            let fifoPath = backend.filePath(forKey: cache.makeKey("fifo"))
            #expect(mkfifo(fifoPath, 0o600) == 0)
            // A file larger than the on-task limit whose bytes are not a cache file.
            let bigPath = backend.filePath(forKey: cache.makeKey("big"))
            let descriptor = open(bigPath, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            #expect(descriptor >= 0 && ftruncate(descriptor, 70_000) == 0)
            close(descriptor)

            for key in ["link", "fifo", "big"] {
                let path = backend.filePath(forKey: cache.makeKey(key))
                #expect(backend.entryWithoutWaiting(forKey: cache.makeKey(key)) == nil, "\(key) goes to the pool")
                var info = stat()
                #expect(lstat(path, &info) == 0, "\(key) is still there after the calling task looked")
                #expect(try await cache.get(key, as: String.self) == nil)
                #expect(lstat(path, &info) != 0, "the pool removed \(key)")
            }
            #expect(try await cache.get("real", as: String.self) == "real value")

            if geteuid() == 0 {
                // A valid cache file that belongs to another user (root may open it with O_NOATIME,
                // so this is fstat's check).
                try await cache.set("foreign", "planted")
                let foreign = backend.filePath(forKey: cache.makeKey("foreign"))
                #expect(chown(foreign, 65534, 65534) == 0)
                #expect(backend.entryWithoutWaiting(forKey: cache.makeKey("foreign")) == nil)
                #expect(try await cache.get("foreign", as: String.self) == nil)
                #expect(!FileManager.default.fileExists(atPath: foreign), "the pool removed another user's file")
            }
        }
    }

    @Test("a name never looked up is left to the pool; once the kernel knows it is missing, a miss is answered on the calling task")
    func missingNames() async throws {
        try await withBackend { cache, backend, _ in
            try await cache.set("present", 1)
            let made = cache.makeKey("absent-\(UniqueName.next())")
            if Self.readsOnTask {
                #expect(backend.entryWithoutWaiting(forKey: made) == nil, "a first lookup could read the directory")
                #expect(try await backend.entryThroughPool(forKey: made) == nil)
                #expect(backend.entryWithoutWaiting(forKey: made) == .some(nil), "now a cached miss")
            } else {
                #expect(backend.entryWithoutWaiting(forKey: made) == nil)
            }
            #expect(try await cache.get("absent", as: Int.self) == nil)
        }
    }

    #if os(Linux) && canImport(Glibc) && (arch(x86_64) || arch(arm64))
        /// A directory on a file system whose pages can be dropped: `/tmp`, unless a probe file
        /// there keeps its pages (tmpfs), then one under the package's `.build`.
        static func evictableDirectory() -> TemporaryDirectory {
            let probe = "/tmp/swcache-evict-probe-\(getpid())-\(UniqueName.next())"
            defer { unlink(probe) }
            if FileManager.default.createFile(atPath: probe, contents: Data(repeating: 7, count: 4096)), evictOnce(probe) {
                return TemporaryDirectory("swcache-evict")
            }
            let cwd = FileManager.default.currentDirectoryPath
            return TemporaryDirectory(path: "\(cwd)/.build/swcache-evict-\(getpid())-\(UniqueName.next())")
        }

        /// Writes a file's pages back and drops them from the page cache; returns whether none is
        /// resident. A busy machine may still hold a page for a moment (writeback in flight), so
        /// it tries a few times before giving up.
        static func evict(_ path: String) async throws -> Bool {
            for _ in 0..<20 {
                if evictOnce(path) { return true }
                try await Task.sleep(for: .milliseconds(10))
            }
            return false
        }

        static func evictOnce(_ path: String) -> Bool {
            let descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { return false }
            defer { close(descriptor) }
            var info = stat()
            guard fdatasync(descriptor) == 0, posix_fadvise(descriptor, 0, 0, POSIX_FADV_DONTNEED) == 0,
                fstat(descriptor, &info) == 0, info.st_size > 0
            else { return false }
            let length = Int(info.st_size)
            guard let mapping = mmap(nil, length, PROT_READ, MAP_SHARED, descriptor, 0), mapping != UnsafeMutableRawPointer(bitPattern: -1)
            else {
                return false
            }
            defer { munmap(mapping, length) }
            let pageSize = Int(getpagesize())
            var resident = [UInt8](repeating: 0, count: (length + pageSize - 1) / pageSize)
            guard mincore(mapping, length, &resident) == 0 else { return false }
            return resident.allSatisfy { $0 & 1 == 0 }
        }

        /// The calling thread's voluntary context switches so far (`RUSAGE_THREAD`): a read that
        /// slept waiting for the disk shows here.
        static func voluntarySwitches() -> Int {
            var usage = rusage()
            getrusage(__rusage_who_t(1), &usage)
            return usage.ru_nvcsw
        }

        @Test("a file whose pages are not in memory is never waited for on the calling task, and a get reads it through the pool")
        func evictedPages() async throws {
            let directory = Self.evictableDirectory()
            defer { directory.remove() }
            let backend = try FileBackend(directory: directory.path)
            let cache = Cache(backend)
            let keys = (0..<8).map { "evicted\($0)" }
            for key in keys { try await cache.set(key, "value of \(key)", timeout: .never) }
            // The first on-task read of a process looks its system calls up; do that outside
            // the measured reads.
            _ = backend.entryWithoutWaiting(forKey: cache.makeKey("warm-up"))
            for key in keys {
                let made = cache.makeKey(key)
                #expect(try await Self.evict(backend.filePath(forKey: made)), "\(key)'s pages were dropped")
                // RWF_NOWAIT promises no sleep, not no I/O: a tiny read the kernel completes at once
                // may still be answered (seen in CI). What must never happen is a sleep on this
                // thread, or an answer other than the file's.
                let before = Self.voluntarySwitches()
                let onTask = backend.entryWithoutWaiting(forKey: made)
                let slept = Self.voluntarySwitches() - before
                #expect(slept == 0, "the on-task read of \(key) slept \(slept) times")
                if let onTask {
                    #expect(onTask == (try await backend.entryThroughPool(forKey: made)), "\(key) answered on the task")
                }
            }
            for key in keys { #expect(try await Self.evict(backend.filePath(forKey: cache.makeKey(key)))) }
            for key in keys { #expect(try await cache.get(key, as: String.self) == "value of \(key)") }
        }
    #endif
}
