import Caching
import CachingTesting
import Foundation
import Testing

/// Django's MAX_ENTRIES / CULL_FREQUENCY rule on files (docs/DJANGO-SEMANTICS.md, culling), expired files first,
/// then the oldest written; counted without a directory scan per write.
@Suite("FileCache culling")
struct FileCacheCullingTests {
    let clock = ManualCacheClock()

    func withCache(
        maxEntries: Int, cullFrequency: Int = 3, _ body: (Cache, TemporaryDirectory) async throws -> Void
    ) async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let cache = try Cache.file(
            directory: directory.path, maxEntries: maxEntries, cullFrequency: cullFrequency,
            configuration: CacheConfiguration(clock: clock))
        try await body(cache, directory)
    }

    @Test("MAX_ENTRIES 30 after 49 distinct sets leaves 29 (Django's test_cull)")
    func cull() async throws {
        try await withCache(maxEntries: 30) { cache, _ in
            for index in 1..<50 { try await cache.set("cull\(index)", "value") }
            #expect(try await cache.fileCount() == 29)
            #expect(try await cache.getMany((1..<50).map { "cull\($0)" }, as: String.self).count == 29)
            #expect(try await cache.get("cull49", as: String.self) == "value", "the key just written survives")
        }
    }

    @Test("CULL_FREQUENCY 0 leaves 19 of 49 (Django's test_zero_cull)")
    func zeroCull() async throws {
        try await withCache(maxEntries: 30, cullFrequency: 0) { cache, _ in
            for index in 1..<50 { try await cache.set("cull\(index)", "value") }
            #expect(try await cache.fileCount() == 19)
            #expect(try await cache.getMany((1..<50).map { "cull\($0)" }, as: String.self).count == 19)
        }
    }

    @Test("MAX_ENTRIES -1 still stores the key (Django's test_cull_delete_when_store_empty)")
    func negativeMaxEntries() async throws {
        try await withCache(maxEntries: -1) { cache, _ in
            try await cache.set("key", "value")
            #expect(try await cache.get("key", as: String.self) == "value")
            #expect(try await cache.add("second", 2))
            #expect(try await cache.get("second", as: Int.self) == 2)
        }
    }

    @Test("overwriting keys in a full directory culls nothing")
    func overwriteAtCapacity() async throws {
        try await withCache(maxEntries: 10) { cache, _ in
            for index in 0..<10 { try await cache.set("k\(index)", index) }
            for round in 0..<5 {
                for index in 0..<10 { try await cache.set("k\(index)", index + round) }
            }
            #expect(try await cache.fileCount() == 10)
            #expect(try await cache.getMany((0..<10).map { "k\($0)" }, as: Int.self).count == 10)
        }
    }

    @Test("a full directory loses its expired files first, and then no live one")
    func expiredFirst() async throws {
        try await withCache(maxEntries: 10) { cache, _ in
            for index in 0..<5 { try await cache.set("short\(index)", index, timeout: 10) }
            for index in 0..<5 { try await cache.set("long\(index)", index, timeout: .never) }
            clock.advance(by: 20)
            try await cache.set("new", 1)
            #expect(try await cache.fileCount() == 6)
            #expect(try await cache.getMany((0..<5).map { "long\($0)" } + ["new"], as: Int.self).count == 6)
        }
    }

    @Test("when no file has expired, the oldest written go first")
    func oldestFirst() async throws {
        try await withCache(maxEntries: 9) { cache, _ in
            for index in 0..<9 { try await cache.set("k\(index)", index) }
            // File times have a coarse clock; give each file a distinct modification time.
            for index in 0..<9 {
                let path = cache.filePath(forKey: cache.makeKey("k\(index)"))
                var times = [
                    timespec(tv_sec: 1_700_000_000 + index, tv_nsec: 0), timespec(tv_sec: 1_700_000_000 + index, tv_nsec: 0),
                ]
                #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
            }
            try await cache.set("new", 9)
            let present = try await cache.getMany((0..<9).map { "k\($0)" } + ["new"], as: Int.self)
            #expect(Set(present.keys) == Set(["k3", "k4", "k5", "k6", "k7", "k8", "new"]))
        }
    }

    @Test("files written by other processes are counted at the periodic rescan")
    func othersCounted() async throws {
        try await withCache(maxEntries: 30) { cache, directory in
            try await cache.set("mine0", 0)  // first use: a scan; 1 file
            let output = try await runHelper(["fill", directory.path, "theirs", "40"])
            #expect(output == "ok")
            // This process does not see those 40 files until it rescans, after MAX_ENTRIES / 2
            // files of its own: then 1 + 40 + 14 = 55 files, a cull of 55 / 3 = 18, and the new one.
            for index in 1...15 { try await cache.set("mine\(index)", index) }
            #expect(try await cache.fileCount() == 38)
        }
    }
}
