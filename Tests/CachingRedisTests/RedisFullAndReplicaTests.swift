import Caching
import CachingRedis
import CachingTesting
import InMemoryLogging
import Logging
import Synchronization
import Testing

extension RedisTests {
    /// Faults beyond a single server going away: a server that is full, a replica that is down
    /// or hangs, and a server killed while many calls are in flight.
    @Suite("Redis: full servers, replicas down, kills under load")
    struct RedisFullAndReplicaTests {
        /// Limits the server to what it uses now plus `room` bytes, never evicting.
        func fill(_ server: RedisServer, room: Int) async throws {
            let info = try await redisCLI(server, "INFO", "memory")
            let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("used_memory:") }
            let used = try #require(line.flatMap { Int($0.split(separator: ":").last ?? "") })
            #expect(try await redisCLI(server, "CONFIG", "SET", "maxmemory-policy", "noeviction") == "OK")
            #expect(try await redisCLI(server, "CONFIG", "SET", "maxmemory", String(used + room)) == "OK")
        }

        @Test("maxmemory reached with noeviction: every kind of write is refused with .full, nothing is lost, reads and deletes work")
        func fullServer() async throws {
            try await RedisServer.with { server in
                let cache = try Cache.redis(location: [server.url], alias: "sessions")
                // Connections open and key tables allocated first: the room is then for entries.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<8 { group.addTask { try await cache.set("warm-\(index)", index, timeout: .seconds(600)) } }
                    try await group.waitForAll()
                }
                try await fill(server, room: 300_000)
                try await cache.set("counter", 5)
                try await cache.set("early", "kept")
                let page = String(repeating: "p", count: 16_384)
                var stored: [Int] = []
                var full: CacheError?
                for index in 0..<100 {
                    do {
                        try await cache.set("page-\(index)", page)
                        stored.append(index)
                    } catch let error as CacheError {
                        full = error
                        break
                    }
                }
                let error = try #require(full, "300 kB never filled up")
                #expect(error.code == .full, "\(error)")
                #expect(error.message.contains("sessions") && error.message.contains("maxmemory"), "\(error.message)")
                #expect(error.key == ":1:page-\(stored.count)")
                // Each write path is refused the same way: SET NX, the compare-and-set and
                // increment scripts, and a pipelined set_many (whose keys are reported, Django's way).
                do {
                    _ = try await cache.add("new", page)
                    Issue.record("add stored on a full server")
                } catch let error as CacheError { #expect(error.code == .full, "\(error)") }
                let entry = try #require(try await cache.backend.entry(forKey: ":1:early"))
                do {
                    _ = try await cache.backend.compareAndStore(
                        CacheEntry(flags: entry.flags, bytes: Array(page.utf8)), forKey: ":1:early", expiry: .never, expected: entry)
                    Issue.record("the compare-and-set script stored on a full server")
                } catch let error as CacheError { #expect(error.code == .full, "\(error)") }
                do {
                    _ = try await cache.incr("counter")
                    Issue.record("incr stored on a full server")
                } catch let error as CacheError { #expect(error.code == .full, "\(error)") }
                let failed = try await cache.setMany(["a": page, "b": page])
                #expect(Set(failed) == ["a", "b"])
                // Nothing stored before is lost, and reads still answer.
                #expect(try await cache.get("early", as: String.self) == "kept")
                #expect(try await cache.get("counter", as: Int.self) == 5)
                #expect(try await cache.getMany(stored.map { "page-\($0)" }, as: String.self).count == stored.count)
                #expect(try await cache.hasKey("page-0"))
                // A delete makes room again.
                for index in stored { try await cache.delete("page-\(index)") }
                try await cache.set("after", page)
                #expect(try await cache.incr("counter") == 6)
                try await cache.shutdown()
            }
        }

        @Test("a replica killed: reads go to the first server (one warning), writes go on; restarted, reads reach it again")
        func replicaDown() async throws {
            let primary = try await RedisServer.start()
            let replica = try await RedisServer.start()
            let logs = InMemoryLogHandler()
            let cache = try Cache.redis(
                location: [primary.url, replica.url],
                configuration: CacheConfiguration(logger: Logger(label: "replica", factory: { _ in logs })), alias: "replicated")
            try await cache.set("n", 1)
            try await cache.setMany(["a": "A", "b": "B"])
            // The replica is empty (no real replication here): a read that reaches it misses.
            #expect(try await cache.get("n", as: Int.self) == nil)
            await replica.kill()
            for _ in 0..<5 {
                #expect(try await cache.get("n", as: Int.self) == 1, "read from the first server")
                #expect(try await cache.getMany(["a", "b", "c"], as: String.self) == ["a": "A", "b": "B"])
                #expect(try await cache.hasKey("a"))
            }
            try await cache.set("n", 2)
            #expect(try await cache.incr("n") == 3)
            let warnings = logs.entries.filter { $0.level == .warning }
            #expect(warnings.count == 1, "\(warnings)")
            #expect(warnings.first?.message.description.contains("replicated") == true)
            try await replica.restart()
            _ = try await redisCLI(replica, "SET", ":1:n", "70")
            #expect(try await cache.get("n", as: Int.self) == 70, "the restarted replica answers reads again")
            try await cache.shutdown()
            await primary.stop()
            await replica.stop()
        }

        @Test("a replica that hangs: reads to it time out with a clear error naming it (not retried elsewhere); writes go on")
        func replicaHangs() async throws {
            let primary = try await RedisServer.start()
            let replica = try await RedisServer.start()
            var options = RedisOptions()
            options.timeout = 0.3
            let cache = try Cache.redis(location: [primary.url, replica.url], options: options)
            try await cache.set("n", 1)
            _ = try await cache.get("n", as: Int.self)  // opens the connection to the replica
            #expect(try await replica.pause(), "redis-server did not stop")
            let start = monotonicSeconds()
            let error = await #expect(throws: CacheError.self) { _ = try await cache.get("n", as: Int.self) }
            let elapsed = monotonicSeconds() - start
            #expect(error?.code == .timeout)
            #expect(error?.message.contains(replica.address) == true, "\(String(describing: error))")
            #expect(elapsed >= 0.25 && elapsed < 5, "took \(elapsed) s")
            try await cache.set("n", 2)
            replica.resume()
            try await cache.shutdown()
            await primary.stop()
            await replica.stop()
        }

        @Test(
            "killed under load: 64 tasks mid-call all finish, each failing call bounded and unavailable or timed out; restarted, all work")
        func killedUnderLoad() async throws {
            let server = try await RedisServer.start()
            var options = RedisOptions()
            options.poolSize = 4
            options.timeout = 0.5
            options.connectTimeout = 0.5
            options.readTimeout = 0.5
            let cache = try Cache.redis(location: [server.url], options: options)
            try await cache.set("counter", 0)
            let tasks = 64
            let killed = ManualFlag()
            let outcomes = try await withThrowingTaskGroup(of: (failures: [CacheError.Code], slowest: Double, afterKill: Int).self) {
                group in
                for task in 0..<tasks {
                    group.addTask {
                        var failures: [CacheError.Code] = []
                        var slowest = 0.0
                        var afterKill = 0
                        // Each task keeps calling until it has made 20 calls after the kill.
                        var call = 0
                        while afterKill < 20 {
                            let wasKilled = killed.isSet
                            let start = monotonicSeconds()
                            do {
                                switch (task + call) % 4 {
                                case 0: _ = try await cache.get("k\(task)", as: Int.self)
                                case 1: try await cache.set("k\(task)", call)
                                case 2: _ = try await cache.getMany(["k\(task)", "k\(task + 1)", "counter"], as: Int.self)
                                default: _ = try await cache.incr("counter")
                                }
                            } catch let error as CacheError {
                                failures.append(error.code)
                            }
                            // Every call that ended after the kill, those in flight at the kill included.
                            if killed.isSet { slowest = max(slowest, monotonicSeconds() - start) }
                            if wasKilled { afterKill += 1 }
                            call += 1
                            if call > 100_000 { break }
                        }
                        return (failures, slowest, afterKill)
                    }
                }
                // Long enough for every task to be mid-call; short, so that 64 busy tasks do not
                // starve the other suites' timing bounds on two shared cores.
                try await Task.sleep(for: .milliseconds(100))
                await server.kill()
                killed.set()
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.count == tasks)
            var failures = 0
            for outcome in outcomes {
                #expect(outcome.afterKill == 20)
                // Refused connections fail at once; the bound allows one timeout on a loaded machine.
                #expect(outcome.slowest < 3, "a call took \(outcome.slowest) s after the kill")
                for code in outcome.failures {
                    #expect(code == .unavailable || code == .timeout, "\(code)")
                    failures += 1
                }
            }
            #expect(failures >= tasks * 20, "calls after the kill fail: \(failures)")
            try await server.restart()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<tasks {
                    group.addTask {
                        try await cache.set("k\(task)", task)
                        #expect(try await cache.get("k\(task)", as: Int.self) == task)
                    }
                }
                try await group.waitForAll()
            }
            try await cache.shutdown()
            await server.stop()
        }
    }
}

/// A flag one task sets and others read.
final class ManualFlag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}
