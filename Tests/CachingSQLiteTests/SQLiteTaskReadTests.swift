import CSQLiteNoWait
import Caching
import CachingSQLite
import CachingTesting
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension SQLiteTests {
    /// Reads on the caller's task through the no-wait VFS: answered from memory, or sent to a
    /// reader thread, never waiting on the task.
    @Suite("SQLite: reads on the calling task")
    struct SQLiteTaskReadTests {
        #if os(Linux)
            @Test("a cached get is answered on the calling task, with the right value, and never opens, probes or sleeps there")
            func cachedReadsOnTask() async throws {
                let fixture = SQLiteFixture()
                defer { fixture.directory.remove() }
                let backend = try SQLiteBackend(table: "t", options: fixture.options())
                let cache = Cache(backend)
                for index in 0..<50 { try await cache.set("k\(index)", "value \(index)") }
                // The first read runs on a reader thread, which then opens and warms a task reader.
                #expect(try await cache.get("k0", as: String.self) == "value 0")
                let before = backend.taskReadCounts
                let strictCalls = swift_caching_nowait_strict_path_calls()
                let strictSleeps = swift_caching_nowait_strict_sleeps()
                for round in 0..<4 {
                    for index in 0..<50 {
                        #expect(try await cache.get("k\(index)", as: String.self) == "value \(index)", "round \(round)")
                    }
                    #expect(try await cache.get("missing", as: String.self) == nil)
                    #expect(try await cache.getMany(["k1", "k2", "missing"], as: String.self) == ["k1": "value 1", "k2": "value 2"])
                }
                let after = backend.taskReadCounts
                // 4 × 52 reads: all on the task, unless the machine evicted a page meanwhile.
                #expect(after.answered - before.answered >= 200, "\(before) → \(after)")
                #expect(swift_caching_nowait_strict_path_calls() == strictCalls, "a read on the task opened or probed a path")
                #expect(swift_caching_nowait_strict_sleeps() == strictSleeps, "a read on the task tried to sleep")
                // A write in between: the next read sees it (the task reader follows the WAL).
                try await cache.set("k0", "changed")
                #expect(try await cache.get("k0", as: String.self) == "changed")
                #expect(backend.taskReadCounts.answered > after.answered)
                try await cache.shutdown()
            }

            @Test("pages not in memory: the task refuses the read at once and a reader thread answers it")
            func coldPagesGoToAThread() async throws {
                let fixture = SQLiteFixture()
                defer { fixture.directory.remove() }
                let backend = try SQLiteBackend(table: "t", options: fixture.options { $0.maxEntries = 100_000 })
                let cache = Cache(backend)
                let filler = String(repeating: "x", count: 2000)
                try await cache.setMany(Dictionary(uniqueKeysWithValues: (0..<2000).map { ("k\($0)", filler + "\($0)") }))
                #expect(try await cache.get("k1", as: String.self) == filler + "1")
                #expect(try await cache.get("k2", as: String.self) == filler + "2")
                var refusedSomewhere = false
                for attempt in 0..<5 where !refusedSomewhere {
                    // Write the pages out, then drop them from the page cache.
                    for suffix in ["", "-wal"] { try Self.evict(fixture.path + suffix) }
                    let before = backend.taskReadCounts
                    let key = "k\(1000 + attempt * 100)"
                    #expect(try await cache.get(key, as: String.self) == filler + "\(1000 + attempt * 100)")
                    refusedSomewhere = backend.taskReadCounts.deferred > before.deferred
                }
                #expect(refusedSomewhere, "no read on the task was refused after the pages were dropped")
                try await cache.shutdown()
            }

            /// Syncs `path` and asks the kernel to drop its pages from the page cache.
            static func evict(_ path: String) throws {
                let descriptor = open(path, O_RDONLY | O_CLOEXEC)
                guard descriptor >= 0 else { return }
                defer { close(descriptor) }
                _ = fdatasync(descriptor)
                let result = posix_fadvise(descriptor, 0, 0, Int32(POSIX_FADV_DONTNEED))
                #expect(result == 0, "posix_fadvise: \(result)")
            }
        #endif

        @Test("read_on_task false: every read goes to a reader thread")
        func offByOption() async throws {
            let fixture = SQLiteFixture()
            defer { fixture.directory.remove() }
            let backend = try SQLiteBackend(table: "t", options: fixture.options { $0.readOnTask = false })
            let cache = Cache(backend)
            try await cache.set("k", "v")
            for _ in 0..<20 { #expect(try await cache.get("k", as: String.self) == "v") }
            #expect(backend.taskReadCounts.answered == 0 && backend.taskReadCounts.deferred == 0)
            try await cache.shutdown()
        }

        @Test("read_on_task is read from OPTIONS and must be a bool")
        func option() throws {
            let good = CacheSettings(backend: "db", location: "t", options: ["database": "/tmp/x.sqlite3", "read_on_task": false])
            #expect(try SQLiteOptions(settings: good, alias: "a").readOnTask == false)
            let bad = CacheSettings(backend: "db", location: "t", options: ["database": "/tmp/x.sqlite3", "read_on_task": "yes"])
            let error = #expect(throws: CacheError.self) { try SQLiteOptions(settings: bad, alias: "a") }
            #expect(error?.code == .invalidSettings && error?.message.contains("read_on_task") == true, "\(String(describing: error))")
        }
    }
}
