import Caching
import CachingTesting
import Foundation
import Synchronization
import Testing

/// add and incr are atomic across tasks and across processes; readers never see a torn value.
@Suite("FileCache concurrency")
struct FileCacheConcurrencyTests {
    func withCache(_ body: (Cache, TemporaryDirectory) async throws -> Void) async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try await body(try Cache.file(directory: directory.path, maxEntries: 100_000), directory)
    }

    @Test("500 concurrent incr on one key end at exactly 500, every result distinct")
    func concurrentIncr() async throws {
        try await withCache { cache, _ in
            try await cache.set("counter", 0)
            let results = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<500 { group.addTask { try await cache.incr("counter") } }
                var results: [Int] = []
                for try await result in group { results.append(result) }
                return results
            }
            #expect(results.sorted() == Array(1...500))
            #expect(try await cache.get("counter", as: Int.self) == 500)
        }
    }

    @Test("200 concurrent add on one key: exactly one wins, and its value is stored")
    func concurrentAdd() async throws {
        try await withCache { cache, _ in
            let winners = try await withThrowingTaskGroup(of: Int?.self) { group in
                for index in 0..<200 { group.addTask { try await cache.add("once", index) ? index : nil } }
                var winners: [Int] = []
                for try await winner in group { if let winner { winners.append(winner) } }
                return winners
            }
            #expect(winners.count == 1)
            #expect(try await cache.get("once", as: Int.self) == winners.first)
        }
    }

    @Test("hundreds of tasks doing set, get, incr, add and delete on their own and shared keys")
    func mixed() async throws {
        try await withCache { cache, _ in
            try await cache.set("shared", 0)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<300 {
                    group.addTask {
                        let key = "own\(index)"
                        try await cache.set(key, "v\(index)")
                        #expect(try await cache.get(key, as: String.self) == "v\(index)")
                        #expect(try await cache.add(key, "other") == false)
                        try await cache.set(key + "n", index)
                        #expect(try await cache.incr(key + "n", by: 2) == index + 2)
                        _ = try await cache.incr("shared")
                        #expect(try await cache.delete(key))
                        #expect(try await cache.get(key, as: String.self) == nil)
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await cache.get("shared", as: Int.self) == 300)
            #expect(try await cache.fileCount() == 301)
        }
    }

    @Test("two processes and this one incr one key concurrently: no update is lost")
    func incrAcrossProcesses() async throws {
        try await withCache { cache, directory in
            try await cache.set("counter", 0, timeout: .never)
            let first = try HelperProcess(["incr", directory.path, "counter", "200"])
            let second = try HelperProcess(["incr", directory.path, "counter", "200"])
            for _ in 0..<200 { try await cache.incr("counter") }
            let lasts = [try await first.finish(), try await second.finish()].compactMap { Int($0) }
            #expect(lasts.count == 2)
            #expect(lasts.allSatisfy { $0 >= 200 && $0 <= 600 })
            #expect(try await cache.get("counter", as: Int.self) == 600)
        }
    }

    @Test("a value written by one process is read by the other, both ways")
    func sharedAcrossProcesses() async throws {
        try await withCache { cache, directory in
            #expect(try await runHelper(["set", directory.path, "from-child", "written by the child"]) == "ok")
            #expect(try await cache.get("from-child", as: String.self) == "written by the child")
            try await cache.set("from-parent", "written by the parent")
            #expect(try await runHelper(["get", directory.path, "from-parent"]) == "written by the parent")
            #expect(try await runHelper(["add", directory.path, "from-parent", "again"]) == "false")
            #expect(try await runHelper(["add", directory.path, "fresh", "child"]) == "true")
            #expect(try await cache.get("fresh", as: String.self) == "child")
        }
    }

    @Test("a reader never sees a torn value while another process rewrites a large one")
    func noTornReads() async throws {
        try await withCache { cache, directory in
            let size = 96 * 1024
            try await cache.set("big", [UInt8](repeating: 7, count: size), timeout: .never)
            // The child writes while this process reads…
            let writer = try HelperProcess(["rewrite", directory.path, "big", "\(size)", "40"])
            let done = Flag()
            let watcher = Task {
                defer { done.value.store(true, ordering: .releasing) }
                return try await writer.finish()
            }
            var reads = 0
            while !done.value.load(ordering: .acquiring) || reads < 20 {
                let value = try #require(try await cache.get("big", as: [UInt8].self))
                reads += 1
                #expect(value.count == size)
                #expect(value.allSatisfy { $0 == value[0] }, "read \(reads) is torn")
            }
            #expect(try await watcher.value == "ok")
            // …and this process writes while the child reads.
            let reader = try HelperProcess(["readcheck", directory.path, "big", "\(size)", "100"])
            for index in 0..<60 { try await cache.set("big", [UInt8](repeating: UInt8(index), count: size), timeout: .never) }
            let report = try await reader.finish()
            let fields = Dictionary(
                uniqueKeysWithValues: report.split(separator: " ").map {
                    let parts = $0.split(separator: "=")
                    return (String(parts[0]), Int(parts[1]) ?? -1)
                })
            #expect(fields["reads"] == 100, "\(report)")
            #expect(fields["uniform"] == 100, "\(report)")
            #expect(fields["torn"] == 0, "\(report)")
        }
    }
}

/// A flag one task sets and another polls.
private final class Flag: Sendable {
    let value = Atomic<Bool>(false)
}
