import Caching
import CachingRedis
import CachingTesting
import Testing

extension RedisTests {
    /// What Redis holds underneath: integers as Django writes them, plain values pickled,
    /// structs with our header; counters and expiries as Django's RedisCache leaves them.
    @Suite("Redis: values and counters")
    struct RedisValueTests {
        @Test("the value format round-trips every entry and reads Django's integers")
        func format() {
            for entry in [
                CacheEntry.integer(42), .integer(-7), .integer(Int.max), CacheEntry(flags: CacheItemFlags.text, bytes: Array("12".utf8)),
                CacheEntry(flags: CacheItemFlags.json, bytes: Array("{}".utf8)), CacheEntry(flags: 0, bytes: []),
                CacheEntry(flags: CacheItemFlags.integerOrBool, bytes: Array("1".utf8)),
                CacheEntry(flags: CacheItemFlags.integer, bytes: Array("x".utf8)),
            ] {
                #expect(RedisValueFormat.decode(RedisValueFormat.encode(entry)) == entry, "\(entry)")
            }
            #expect(RedisValueFormat.encode(.integer(42)) == Array("42".utf8))
            #expect(RedisValueFormat.decode(Array("-15".utf8)) == .integer(-15))
            #expect(RedisValueFormat.decode([0x80, 0x05, 0x4B, 0x01, 0x2E]).flags == CacheItemFlags.pickle)
            #expect(RedisValueFormat.decode(Array("hello".utf8)).flags == CacheItemFlags.pickle)
            // Text, bytes and bools are pickled as Django's RedisSerializer pickles them.
            #expect(
                RedisValueFormat.encode(CacheEntry(flags: CacheItemFlags.text, bytes: Array("hi".utf8))) == [
                    0x80, 0x04, 0x8C, 0x02, 0x68, 0x69, 0x2E,
                ])
            #expect(RedisValueFormat.encode(CacheEntry(flags: CacheItemFlags.bytes, bytes: [7])) == [0x80, 0x04, 0x43, 0x01, 0x07, 0x2E])
            #expect(RedisValueFormat.encode(CacheEntry(flags: CacheItemFlags.integerOrBool, bytes: [0x31])) == [0x80, 0x04, 0x88, 0x2E])
            let pickle: [UInt8] = [0x80, 0x04, 0x4E, 0x2E]
            #expect(RedisValueFormat.encode(CacheEntry(flags: CacheItemFlags.pickle, bytes: pickle)) == pickle)
            #expect(RedisValueFormat.decode(pickle) == CacheEntry(flags: CacheItemFlags.pickle, bytes: pickle))
            // What Django writes for a str (protocol 5: FRAME, MEMOIZE) reads as text without the pickle machine.
            let django: [UInt8] = [0x80, 0x05, 0x95, 0x08, 0, 0, 0, 0, 0, 0, 0, 0x8C, 0x04, 0x74, 0x65, 0x78, 0x74, 0x94, 0x2E]
            #expect(RedisValueFormat.decode(django) == CacheEntry(flags: CacheItemFlags.text, bytes: Array("text".utf8)))
            // Invalid UTF-8 text is not pickled as a str Django would choke on.
            let invalid = CacheEntry(flags: CacheItemFlags.text, bytes: [0xC3, 0x28])
            #expect(RedisValueFormat.encode(invalid).prefix(4) == RedisValueFormat.header[...])
            #expect(RedisValueFormat.decode(RedisValueFormat.encode(invalid)) == invalid)
        }

        @Test("an int is stored as plain decimal; an int Django wrote is read and incremented, keeping its expiry")
        func integersAsDjango() async throws {
            try await RedisServer.with { server in
                let cache = try Cache.redis(location: [server.url])
                try await cache.set("n", 42)
                #expect(try await redisCLI(server, "GET", ":1:n") == "42")
                try await cache.set("s", "text")
                #expect(try await redisCLI(server, "STRLEN", ":1:s") == "9", "a protocol-4 pickle of the str: 2 + 2 + 4 + 1 bytes")
                _ = try await redisCLI(server, "SET", ":1:django", "17", "EX", "100")
                #expect(try await cache.get("django", as: Int.self) == 17)
                #expect(try await cache.incr("django", by: 5) == 22)
                #expect(try await cache.decr("django", by: 30) == -8)
                let ttl = Int(try await redisCLI(server, "PTTL", ":1:django")) ?? -1
                #expect(ttl > 90_000 && ttl <= 100_000, "incr keeps the expiry: \(ttl)")
                #expect(try await cache.get("django", as: Int.self) == -8)
                try await cache.shutdown()
            }
        }

        @Test("a value another client wrote (a pickle, plain text) is a foreign value, not a crash or garbage")
        func foreignValues() async throws {
            try await RedisServer.with { server in
                let cache = try Cache.redis(location: [server.url])
                _ = try await redisCLI(server, "SET", ":1:plain", "hello")
                let error = await #expect(throws: CacheError.self) { _ = try await cache.get("plain", as: String.self) }
                #expect(error?.code == .foreignValue, "\(String(describing: error))")
                try await cache.shutdown()
            }
        }

        @Test("incr: missing key, non-integer, 64-bit overflow; the value is unchanged after a failure")
        func incrementRules() async throws {
            try await RedisServer.with { server in
                let cache = try Cache.redis(location: [server.url])
                let missing = await #expect(throws: CacheError.self) { _ = try await cache.incr("none") }
                #expect(missing?.code == .keyNotFound)
                #expect(try await redisCLI(server, "EXISTS", ":1:none") == "0", "incr created no key")
                try await cache.set("text", "abc")
                let text = await #expect(throws: CacheError.self) { _ = try await cache.incr("text") }
                #expect(text?.code == .notAnInteger)
                try await cache.set("big", Int.max)
                let overflow = await #expect(throws: CacheError.self) { _ = try await cache.incr("big") }
                #expect(overflow?.code == .integerOverflow)
                #expect(try await cache.get("big", as: Int.self) == Int.max)
                try await cache.shutdown()
            }
        }

        @Test("expiry in milliseconds: PX is sent, touch(None) persists and reports a key with no expiry as found")
        func expiry() async throws {
            try await RedisServer.with { server in
                let cache = try Cache.redis(location: [server.url])
                // Milliseconds: 59.5 s is sent as such (whole seconds would give up to 60 000).
                try await cache.set("long", 1, timeout: .seconds(59.5))
                let ttl = Int(try await redisCLI(server, "PTTL", ":1:long")) ?? -1
                #expect(ttl > 30_000 && ttl <= 59_500, "\(ttl)")
                try await cache.set("short", 1, timeout: .seconds(0.25))
                try await Task.sleep(for: .milliseconds(400))
                #expect(try await cache.get("short", as: Int.self) == nil)
                #expect(try await redisCLI(server, "EXISTS", ":1:short") == "0", "the server expired it")
                try await cache.set("forever", 1, timeout: .never)
                #expect(try await redisCLI(server, "PTTL", ":1:forever") == "-1")
                #expect(try await cache.touch("forever", timeout: .never), "found, though it had no expiry")
                #expect(try await cache.touch("forever", timeout: .seconds(60)))
                #expect(try await cache.touch("forever", timeout: .never))
                #expect(try await redisCLI(server, "PTTL", ":1:forever") == "-1")
                #expect(try await !cache.touch("missing", timeout: .never))
                try await cache.shutdown()
            }
        }
    }
}
