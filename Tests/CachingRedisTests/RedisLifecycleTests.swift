import Caching
import CachingRedis
import CachingTesting
import Foundation
import Testing

extension RedisTests {
    /// The backend's threads and connections are given back by `shutdown`, and no key can put a
    /// command on the wire.
    @Suite("Redis: lifecycle and the key boundary")
    struct RedisLifecycleTests {
        @Test("50 Caches with a Redis alias, used, closed and shut down, leave threads and descriptors where they were")
        func noLeaks() async throws {
            let output = try await runProgram(try builtExecutable("LifecycleProbe"), ["redis", "50"])
            let counts = output.split(separator: " ").map { $0.split(separator: "=").last.map(String.init) ?? "" }
            #expect(counts.count == 2 && counts[0] == counts[1], "\(output)")
        }

        @Test("a key holding CR/LF, spaces or a Redis command is data: stored and read back as itself, never run")
        func wireKeys() async throws {
            try await RedisServer.with { server in
                let backend = try RedisBackend(location: [server.url])
                let cache = Cache(backend, configuration: CacheConfiguration(keyFunction: { key, _, _ in key }))
                try await cache.set("bystander", "safe")
                let hostile = [
                    "x\r\nFLUSHDB\r\n", "*1\r\n$8\r\nFLUSHALL\r\n", "with space", String(repeating: "k", count: 300), "del\u{7F}",
                    "nul\u{0}byte",
                ]
                for (index, key) in hostile.enumerated() {
                    try await backend.store(.integer(index), forKey: key, expiry: .never)
                    #expect(try await backend.entry(forKey: key) == .integer(index))
                    #expect(try await backend.entries(forKeys: ["bystander-missing", key]) == [nil, .integer(index)])
                    #expect(try await backend.increment(entryForKey: key, by: 1) == index + 1)
                    #expect(try await backend.removeEntry(forKey: key))
                }
                #expect(try await cache.get("bystander", as: String.self) == "safe", "no FLUSHDB or FLUSHALL reached the server")
                #expect(try await redisCLI(server, "DBSIZE") == "1")
                try await cache.shutdown()
            }
        }

        @Test("calls after shutdown fail with closed; shutdown twice is harmless")
        func afterShutdown() async throws {
            try await RedisServer.with { server in
                let cache = try Cache.redis(location: [server.url])
                try await cache.set("k", 1)
                try await cache.shutdown()
                let error = await #expect(throws: CacheError.self) { _ = try await cache.get("k", as: Int.self) }
                #expect(error?.code == .closed)
                try await cache.shutdown()
            }
        }
    }
}
