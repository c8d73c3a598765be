import Caching
import CachingMemcached
import CachingTesting
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Seconds on the monotonic clock, to bound waits.
private func now() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

/// Shared state for concurrent test tasks.
private final class Shared<Value: Sendable>: Sendable {
    private let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
    func withLock<R>(_ body: (inout sending Value) -> sending R) -> sending R { value.withLock(body) }
    var current: Value { value.withLock { $0 } }
}

/// Options with short timeouts so failures show quickly.
private func quickOptions(poolSize: Int = 4) -> MemcachedOptions {
    var options = MemcachedOptions()
    options.poolSize = poolSize
    options.connectTimeout = 0.5
    options.pollTimeout = 0.5
    options.sendTimeout = 0.5
    options.receiveTimeout = 0.5
    options.retryTimeout = 1
    options.failureLimit = 2
    return options
}

/// Retries `body` until it succeeds or `seconds` pass; returns whether it succeeded.
private func eventually(within seconds: Double, _ body: () async throws -> Bool) async -> Bool {
    let deadline = now() + seconds
    while now() < deadline {
        if (try? await body()) == true { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return false
}

/// Servers that fail, die, restart; many servers; heavy concurrency. Every wait is bounded.
@Suite("Memcached: failures, many servers, concurrency")
struct MemcachedFaultTests {
    @Test("a port with nothing listening is .unavailable naming the server, quickly")
    func nothingListening() async throws {
        let server = try await MemcachedServer.start()
        let address = server.address
        await server.stop()
        let cache = try Cache.memcached(location: [address], options: quickOptions())
        for _ in 0..<5 {
            let start = now()
            let error = await #expect(throws: CacheError.self) { try await cache.get("k", as: Int.self) }
            #expect(error?.code == .unavailable)
            #expect(error?.message.contains(address) == true || error?.message.contains("127.0.0.1") == true)
            #expect(now() - start < 2)
            let setError = await #expect(throws: CacheError.self) { try await cache.set("k", 1) }
            #expect(setError?.code == .unavailable)
        }
    }

    @Test("an address that resolves nowhere is .unavailable, not a hang")
    func unresolvable() async throws {
        let cache = try Cache.memcached(location: ["no-such-host.invalid:11211"], options: quickOptions())
        let start = now()
        let error = await #expect(throws: CacheError.self) { try await cache.get("k", as: Int.self) }
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains("no-such-host.invalid") == true)
        // Name resolution is getaddrinfo's (resolv.conf's timeouts and attempts), outside the
        // cache's own timeouts; the bound only shows that the call ends.
        #expect(now() - start < 30)
    }

    @Test("no server at start, then started: the same cache recovers")
    func serverStartsLater() async throws {
        let server = try await MemcachedServer.start()
        await server.stop()
        let cache = try Cache.memcached(location: [server.address], options: quickOptions())
        let error = await #expect(throws: CacheError.self) { try await cache.set("k", 1) }
        #expect(error?.code == .unavailable)
        try await server.restart()
        let recovered = await eventually(within: 10) {
            try await cache.set("k", 1)
            return try await cache.get("k", as: Int.self) == 1
        }
        await server.stop()
        #expect(recovered)
    }

    @Test("a restarted server: connections are re-established and writes work again")
    func serverRestarts() async throws {
        try await MemcachedServer.with { server in
            let cache = try Cache.memcached(location: [server.address], options: quickOptions())
            try await cache.set("before", 1)
            #expect(try await cache.get("before", as: Int.self) == 1)
            try await server.restart()
            let recovered = await eventually(within: 10) {
                try await cache.set("after", 2)
                return try await cache.get("after", as: Int.self) == 2
            }
            #expect(recovered)
            // The restarted server is empty, and every pooled connection works again: a
            // connection the restart closed is replaced on its next call, without an error.
            for _ in 0..<3 {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<16 {
                        group.addTask {
                            let value = try await cache.get("before", as: Int.self)
                            #expect(value == nil)
                        }
                    }
                    try await group.waitForAll()
                }
            }
        }
    }

    @Test("three servers with ketama: keys spread over all three, each key on exactly one")
    func threeServers() async throws {
        try await withServers(3) { servers in
            let cache = try Cache.memcached(location: [servers.map(\.address).joined(separator: ";")])
            var values: [String: Int] = [:]
            for index in 0..<300 { values["key\(index)"] = index }
            #expect(try await cache.setMany(values).isEmpty)
            var counts: [Int] = []
            for server in servers {
                counts.append(try await MemcachedRawClient(server).stats()["curr_items"] ?? 0)
            }
            #expect(counts.allSatisfy { $0 > 30 }, "uneven spread: \(counts)")
            #expect(counts.reduce(0, +) == 300)
            #expect(try await cache.getMany(values.keys, as: Int.self) == values)
            // Ketama is consistent: a second cache (another process, say) maps keys the same way.
            let other = try Cache.memcached(location: servers.map(\.address))
            #expect(try await other.getMany(values.keys, as: Int.self) == values)
        }
    }

    @Test("a server killed under load: other keys keep working, its keys fail fast, nothing hangs")
    func serverKilledUnderLoad() async throws {
        try await withServers(3) { servers in
            var options = quickOptions()
            options.removeFailedServers = false  // keep the dead server's keys mapped to it, to see them fail
            let cache = try Cache.memcached(location: servers.map(\.address), options: options)
            var values: [String: Int] = [:]
            for index in 0..<90 { values["key\(index)"] = index }
            #expect(try await cache.setMany(values).isEmpty)
            let victim = MemcachedRawClient(servers[1])
            var victimKeys = Set<String>()
            for key in values.keys where try await victim.has(":1:\(key)") { victimKeys.insert(key) }
            #expect(!victimKeys.isEmpty)

            let expected = values
            let onVictimServer = victimKeys
            let killed = Shared(false)
            let report = Shared<(ok: Int, victimFailures: Int, wrong: [String], slowest: Double)>((0, 0, [], 0))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<32 {
                    group.addTask {
                        let end = now() + 3
                        var index = worker
                        while now() < end {
                            let key = "key\(index % 90)"
                            index += 7
                            let start = now()
                            do {
                                let value = try await cache.get(key, as: Int.self)
                                report.withLock {
                                    if value == expected[key] { $0.ok += 1 } else { $0.wrong.append("\(key)=\(String(describing: value))") }
                                }
                            } catch let error as CacheError {
                                let onVictim = onVictimServer.contains(key)
                                report.withLock {
                                    if onVictim && killed.current && (error.code == .unavailable || error.code == .timeout) {
                                        $0.victimFailures += 1
                                    } else {
                                        $0.wrong.append("\(key): \(error)")
                                    }
                                }
                            }
                            let elapsed = now() - start
                            report.withLock { $0.slowest = max($0.slowest, elapsed) }
                        }
                    }
                }
                let victimServer = servers[1]
                group.addTask {
                    try await Task.sleep(for: .milliseconds(800))
                    killed.withLock { $0 = true }
                    await victimServer.kill()
                }
                try await group.waitForAll()
            }
            let result = report.current
            #expect(result.wrong.isEmpty, "unexpected results: \(result.wrong.prefix(5))")
            #expect(result.victimFailures > 0)
            #expect(result.ok > 100)
            #expect(result.slowest < 2.5, "a call took \(result.slowest) s")
            // Keys on the surviving servers still work, including writes.
            for key in values.keys where !victimKeys.contains(key) {
                try await cache.set(key, -1)
                #expect(try await cache.get(key, as: Int.self) == -1)
            }
            // The victim's keys fail with a clear error naming the dead server.
            let victimKey = try #require(victimKeys.first)
            let error = await #expect(throws: CacheError.self) { try await cache.set(victimKey, 1) }
            #expect(error?.code == .unavailable || error?.code == .timeout)
            #expect(error?.message.contains(servers[1].address) == true)
        }
    }

    @Test("a dead server is ejected after the failure limit; its keys move to the others")
    func ejection() async throws {
        try await withServers(3) { servers in
            let cache = try Cache.memcached(location: servers.map(\.address), options: quickOptions(poolSize: 1))
            var values: [String: Int] = [:]
            for index in 0..<60 { values["key\(index)"] = index }
            #expect(try await cache.setMany(values).isEmpty)
            let victim = MemcachedRawClient(servers[0])
            var victimKey: String?
            for key in values.keys.sorted() where try await victim.has(":1:\(key)") {
                victimKey = key
                break
            }
            let key = try #require(victimKey)
            await servers[0].kill()
            // Within the failure limit the calls fail; after it, the key is served by another server.
            let moved = await eventually(within: 5) {
                try await cache.set(key, 99)
                return try await cache.get(key, as: Int.self) == 99
            }
            #expect(moved)
            let onSecond = try await MemcachedRawClient(servers[1]).has(":1:\(key)")
            let onThird = try await MemcachedRawClient(servers[2]).has(":1:\(key)")
            #expect(onSecond != onThird)
        }
    }

    @Test("256 concurrent tasks for several seconds: every result is checked")
    func heavyConcurrency() async throws {
        try await MemcachedServer.with { server in
            let cache = try Cache.memcached(location: [server.address])
            try await cache.set("shared", 0)
            let failures = Shared<[String]>([])
            let increments = Shared(0)
            let operations = Shared(0)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<256 {
                    group.addTask {
                        let end = now() + 4
                        var round = 0
                        func check(_ condition: Bool, _ what: @autoclosure () -> String) {
                            if !condition { failures.withLock { $0.append("task \(task) round \(round): \(what())") } }
                        }
                        while now() < end {
                            let key = "t\(task)"
                            let value = task * 1_000_000 + round
                            try await cache.set(key, value)
                            let read = try await cache.get(key, as: Int.self)
                            check(read == value, "get \(String(describing: read)) after set \(value)")
                            let added = try await cache.add("add\(task)-\(round)", round)
                            check(added, "add of a fresh key failed")
                            let second = try await cache.add("add\(task)-\(round)", -1)
                            check(!second, "second add succeeded")
                            _ = try await cache.incr("shared")
                            increments.withLock { $0 += 1 }
                            let many = try await cache.getMany([key, "add\(task)-\(round)", "missing\(task)"], as: Int.self)
                            check(many == [key: value, "add\(task)-\(round)": round], "getMany \(many)")
                            let deleted = try await cache.delete("add\(task)-\(round)")
                            check(deleted, "delete returned false")
                            operations.withLock { $0 += 7 }
                            round += 1
                        }
                    }
                }
                try await group.waitForAll()
            }
            let problems = failures.current
            #expect(problems.isEmpty, "\(problems.count) wrong results, first: \(problems.prefix(3))")
            #expect(try await cache.get("shared", as: Int.self) == increments.current)
            #expect(operations.current > 256 * 7)
        }
    }
}

/// Starts `count` servers, runs `body`, and stops them all, whether `body` returns or throws.
func withServers(_ count: Int, _ body: ([MemcachedServer]) async throws -> Void) async throws {
    var servers: [MemcachedServer] = []
    do {
        for _ in 0..<count { servers.append(try await MemcachedServer.start()) }
        try await body(servers)
    } catch {
        for server in servers { await server.stop() }
        throw error
    }
    for server in servers { await server.stop() }
}
