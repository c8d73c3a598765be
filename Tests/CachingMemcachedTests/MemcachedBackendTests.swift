import Caching
import CachingMemcached
import CachingTesting
import Testing

/// memcached's own rules, beyond the conformance suite: settings, expiry, size, keys, counters.
@Suite("Memcached: settings and memcached's own rules")
struct MemcachedBackendTests {
    // MARK: Settings

    @Test("LOCATION parses as Django's does: host:port, IPv6, lists, ; and , separators, unix sockets")
    func locationParsing() throws {
        let parsed = try MemcachedServerAddress.parse(
            location: ["127.0.0.1:11211;cache2:11212, [::1]:11213", "localhost", "[::1]", "unix:/run/memcached/socket", "/tmp/mc.sock"],
            alias: "default")
        #expect(
            parsed == [
                .tcp(host: "127.0.0.1", port: 11211), .tcp(host: "cache2", port: 11212), .tcp(host: "::1", port: 11213),
                .tcp(host: "localhost", port: 11211), .tcp(host: "::1", port: 11211),
                .unixSocket(path: "/run/memcached/socket"), .unixSocket(path: "/tmp/mc.sock"),
            ])
    }

    @Test(
        "a LOCATION entry that does not parse is invalidSettings naming the alias and the entry",
        arguments: ["127.0.0.1:notaport", "127.0.0.1:70000", "::1:11211", "[::1", "host name:1", "unix:", "a:b:c"])
    func badLocation(entry: String) throws {
        let error = try #require(throws: CacheError.self) {
            try MemcachedServerAddress.parse(location: ["127.0.0.1:11211", entry], alias: "sessions")
        }
        #expect(error.code == .invalidSettings)
        #expect(error.message.contains("CACHES[\"sessions\"][\"LOCATION\"]"))
        #expect(error.message.contains(entry.trimmingSpaces))
    }

    @Test("an empty LOCATION is invalidSettings")
    func emptyLocation() throws {
        let error = try #require(throws: CacheError.self) { try Cache.memcached(location: [" ; "], alias: "x") }
        #expect(error.code == .invalidSettings)
    }

    @Test("settings select memcached by name and by Django's dotted paths; OPTIONS are read")
    func settingsSelectBackend() async throws {
        try await MemcachedServer.with { server in
            for name in [
                "memcached", "django.core.cache.backends.memcached.PyMemcacheCache",
                "django.core.cache.backends.memcached.PyLibMCCache", "django.core.cache.backends.memcached.MemcachedCache",
            ] {
                let json = """
                    {"default": {"BACKEND": "\(name)", "LOCATION": "\(server.address)", "KEY_PREFIX": "p",
                     "OPTIONS": {"pool_size": 2, "binary": true, "poll_timeout": 0.5, "max_value_size": 2000,
                                 "behaviors": {"ketama_weighted": true, "hash": "md5"}}}}
                    """
                let caches = try Caches(json: Array(json.utf8), backends: CacheBackends.standard.withMemcached())
                let cache = try caches.default
                #expect(cache.options.poolSize == 2)
                #expect(cache.options.binaryProtocol)
                #expect(cache.options.maxValueSize == 2000)
                try await cache.set("k", name)
                #expect(try await cache.get("k", as: String.self) == name)
            }
        }
    }

    @Test(
        "unknown or malformed OPTIONS are invalidSettings naming the option",
        arguments: [
            (#"{"MAX_ENTRIES": 30}"#, "MAX_ENTRIES"), (#"{"pool_size": 0}"#, "pool_size"),
            (#"{"poll_timeout": "fast"}"#, "poll_timeout"), (#"{"behaviors": {"no_such": 1}}"#, "no_such"),
            (#"{"behaviors": {"noreply": true}}"#, "noreply"), (#"{"distribution": "round_robin"}"#, "distribution"),
            (#"{"behaviors": {"hash": "sha1"}}"#, "hash"), (#"{"read_timeout": 0}"#, "read_timeout"),
            (#"{"read_timeout": "soon"}"#, "read_timeout"),
        ])
    func badOptions(options: String, named: String) throws {
        let json = #"{"mc": {"BACKEND": "memcached", "LOCATION": "127.0.0.1:1", "OPTIONS": "# + options + "}}"
        let error = try #require(throws: CacheError.self) {
            try Caches(json: Array(json.utf8), backends: CacheBackends.standard.withMemcached())
        }
        #expect(error.code == .invalidSettings)
        #expect(error.message.contains("CACHES[\"mc\"]"))
        #expect(error.message.contains(named))
    }

    // MARK: Expiry

    @Test("expiry: relative seconds rounded up plus one tick up to 30 days; longer is an absolute Unix time; never is 0")
    func expirationRule() throws {
        let clock = ManualCacheClock(start: 1_800_000_000)
        let cache = try MemcachedBackend(location: ["127.0.0.1:1"], clock: clock)
        #expect(cache.expiration(for: .never) == 0)
        // Rounded up, plus one second for memcached's clock tick: never shorter than asked.
        #expect(cache.expiration(for: .at(1_800_000_000 + 0.2)) == 2)
        #expect(cache.expiration(for: .at(1_800_000_000 + 10)) == 11)
        #expect(cache.expiration(for: .at(1_800_000_000 + 2_591_999)) == 2_592_000)
        #expect(cache.expiration(for: .at(1_800_000_000)) == nil)
        #expect(cache.expiration(for: .at(1_799_999_000)) == nil)
        // Longer than 30 days: the server's wall clock (not the injected one) plus the seconds.
        let wall = Int(SystemCacheClock().now())
        let absolute = try #require(cache.expiration(for: .at(1_800_000_000 + 2_592_000)))
        #expect((wall + 2_592_001...wall + 2_592_003).contains(absolute))
    }

    @Test("expiries past 30 days go as absolute Unix times and live as long as asked (sent as relative they would mean 1970)")
    func thirtyDayRuleOnTheServer() async throws {
        try await MemcachedServer.with { server in
            let cache = try Cache.memcached(location: [server.address])
            let raw = MemcachedRawClient(server)
            let started = ContinuousClock.now
            try await cache.set("exact", 1, timeout: 2_592_000)
            try await cache.set("over", 1, timeout: 2_592_001)
            try await cache.set("year", 1, timeout: .seconds(365 * 86_400))
            try await cache.set("forever", 1, timeout: .never)
            let exact = try #require(try await raw.ttl(":1:exact"))
            let over = try #require(try await raw.ttl(":1:over"))
            let year = try #require(try await raw.ttl(":1:year"))
            // memcached turns an absolute time into its own coarse clock, a few seconds off on a busy
            // machine; and the remaining lifetimes shrink by however long the calls took.
            let slack = 15 + Int((ContinuousClock.now - started).components.seconds)
            #expect((2_592_000 - slack...2_592_002).contains(exact))
            // Sent as relative 2 592 001 it would mean 1970 and be gone at once.
            #expect((2_592_001 - slack...2_592_003).contains(over))
            #expect((365 * 86_400 - slack...365 * 86_400 + 2).contains(year))
            #expect(try await raw.ttl(":1:forever") == -1)
            #expect(try await cache.get("over", as: Int.self) == 1)
        }
    }

    // MARK: Size

    @Test("a value over the item size limit is refused before sending and the old value stays")
    func tooLarge() async throws {
        try await MemcachedServer.with { server in
            let cache = try Cache.memcached(location: [server.address])
            let raw = MemcachedRawClient(server)
            try await cache.set("big", [UInt8](repeating: 1, count: 1000))
            try await cache.set("other", "untouched")
            let setsBefore = try await raw.stats()["cmd_set"]
            for size in [1_048_576, 1_048_576 - 63, 2_000_000] {
                let error = await #expect(throws: CacheError.self) {
                    try await cache.set("big", [UInt8](repeating: 2, count: size))
                }
                #expect(error?.code == .valueTooLarge)
                #expect(error?.message.contains(":1:big") == true)
                let addError = await #expect(throws: CacheError.self) { try await cache.add("fresh", [UInt8](repeating: 2, count: size)) }
                #expect(addError?.code == .valueTooLarge)
                let manyError = await #expect(throws: CacheError.self) {
                    try await cache.setMany(["big": [UInt8](repeating: 2, count: size), "small": [UInt8]([1])])
                }
                #expect(manyError?.code == .valueTooLarge)
            }
            #expect(try await raw.stats()["cmd_set"] == setsBefore)
            #expect(try await cache.get("big", as: [UInt8].self) == [UInt8](repeating: 1, count: 1000))
            #expect(try await cache.get("other", as: String.self) == "untouched")
            #expect(try await cache.get("small", as: [UInt8].self) == nil)
            #expect(try await cache.get("fresh", as: [UInt8].self) == nil)
            // The largest value the limit admits is stored by the server.
            let largest = 1_048_576 - ":1:big".utf8.count - MemcachedOptions.itemOverhead
            try await cache.set("big", [UInt8](repeating: 3, count: largest))
            #expect(try await cache.get("big", as: [UInt8].self)?.count == largest)
        }
    }

    @Test("max_value_size follows a server started with a larger -I")
    func largerItemSize() async throws {
        try await MemcachedServer.with(arguments: ["-I", "4m"]) { server in
            var options = MemcachedOptions()
            options.maxValueSize = 4 * 1_048_576
            let cache = try Cache.memcached(location: [server.address], options: options)
            let value = [UInt8](repeating: 7, count: 3_000_000)
            try await cache.set("large", value)
            #expect(try await cache.get("large", as: [UInt8].self) == value)
        }
    }

    // MARK: Keys

    @Test("invalid keys throw invalidKey, even in warn mode, and nothing reaches the server")
    func invalidKeys() async throws {
        try await MemcachedServer.with { server in
            let raw = MemcachedRawClient(server)
            for validation in [CacheKeyValidation.strict, .warn] {
                let cache = try Cache.memcached(location: [server.address], configuration: CacheConfiguration(keyValidation: validation))
                try await cache.set("fine", 1)
                let before = try await raw.stats()
                let bad = [
                    String(repeating: "a", count: 248),  // 251 code points once made (":1:" + 248)
                    String(repeating: "é", count: 124),  // 127 code points but 251 bytes made
                    "with space", "tab\there", "nul\u{0}", "del\u{7F}",
                ]
                for key in bad {
                    await #expect(throws: CacheError.self) { try await cache.set(key, 1) }
                    let getError = await #expect(throws: CacheError.self) { try await cache.get(key, as: Int.self) }
                    #expect(getError?.code == .invalidKey)
                    await #expect(throws: CacheError.self) { try await cache.delete(key) }
                    await #expect(throws: CacheError.self) { try await cache.incr(key) }
                    await #expect(throws: CacheError.self) { try await cache.getMany(["fine", key], as: Int.self) }
                    await #expect(throws: CacheError.self) { try await cache.setMany(["fine": 2, key: 2]) }
                }
                let after = try await raw.stats()
                for counter in ["cmd_get", "cmd_set", "cmd_touch", "delete_hits", "delete_misses", "incr_hits", "incr_misses"] {
                    #expect(after[counter] == before[counter], "\(counter) moved")
                }
                #expect(try await cache.get("fine", as: Int.self) == 1)
            }
        }
    }

    // MARK: Counters

    @Test("incr/decr follow memcached: 64-bit deltas, decr floors at 0, non-integers refused, text digits count", arguments: [false, true])
    func counters(binary: Bool) async throws {
        try await MemcachedServer.with { server in
            var options = MemcachedOptions()
            options.binaryProtocol = binary
            let cache = try Cache.memcached(location: [server.address], options: options)
            try await cache.set("n", 10)
            #expect(try await cache.incr("n", by: 5_000_000_000) == 5_000_000_010)
            #expect(try await cache.decr("n", by: 5_000_000_000) == 10)
            #expect(try await cache.decr("n", by: 100) == 0)
            #expect(try await cache.get("n", as: Int.self) == 0)
            let missing = await #expect(throws: CacheError.self) { try await cache.incr("absent") }
            #expect(missing?.code == .keyNotFound)
            #expect(missing?.message.contains(":1:absent") == true)
            for (key, value) in [("word", "abc"), ("float", "1.5")] {
                try await cache.set(key, value)
                let error = await #expect(throws: CacheError.self) { try await cache.incr(key) }
                #expect(error?.code == .notAnInteger)
                #expect(try await cache.get(key, as: String.self) == value)
            }
            try await cache.set("negative", -5)
            let negative = await #expect(throws: CacheError.self) { try await cache.incr("negative") }
            #expect(negative?.code == .notAnInteger)
            #expect(try await cache.get("negative", as: Int.self) == -5)
            try await cache.set("digits", "41")
            #expect(try await cache.incr("digits") == 42)
            #expect(try await cache.get("digits", as: String.self) == "42")
            // A shorter result is padded with spaces by memcached's text protocol; it still reads as an Int.
            try await cache.set("pad", 100)
            #expect(try await cache.decr("pad", by: 95) == 5)
            #expect(try await cache.get("pad", as: Int.self) == 5)
            // Over Int.max: stored by memcached, reported as overflow.
            try await cache.set("big", Int.max)
            let overflow = await #expect(throws: CacheError.self) { try await cache.incr("big") }
            #expect(overflow?.code == .integerOverflow)
        }
    }

    @Test("add, touch, delete and empty values agree across text and binary protocols", arguments: [false, true])
    func protocols(binary: Bool) async throws {
        try await MemcachedServer.with { server in
            var options = MemcachedOptions()
            options.binaryProtocol = binary
            let cache = try Cache.memcached(location: [server.address], options: options)
            #expect(try await cache.add("a", 1))
            #expect(try await !cache.add("a", 2))
            #expect(try await cache.get("a", as: Int.self) == 1)
            #expect(try await cache.touch("a", timeout: 100))
            #expect(try await !cache.touch("missing", timeout: 100))
            #expect(try await cache.delete("a"))
            #expect(try await !cache.delete("a"))
            try await cache.set("empty", "")
            try await cache.set("emptyBytes", [UInt8]())
            #expect(try await cache.get("empty", as: String.self) == "")
            #expect(try await cache.get("emptyBytes", as: [UInt8].self) == [])
            #expect(try await cache.hasKey("empty"))
            #expect(try await cache.getMany(["empty", "missing"], as: String.self) == ["empty": ""])
            #expect(try await cache.getMany(["emptyBytes", "missing"], as: [UInt8].self) == ["emptyBytes": []])
        }
    }

    @Test("getMany is one multi-get and setMany/deleteMany cover every key")
    func manyOperations() async throws {
        try await MemcachedServer.with { server in
            let cache = try Cache.memcached(location: [server.address])
            let raw = MemcachedRawClient(server)
            var values: [String: Int] = [:]
            for index in 0..<100 { values["k\(index)"] = index }
            #expect(try await cache.setMany(values).isEmpty)
            let before = try await raw.stats()
            let read = try await cache.getMany(values.keys.sorted() + ["nope"], as: Int.self)
            #expect(read == values)
            let after = try await raw.stats()
            // Every key was looked up once (memcached counts hits and misses per key).
            #expect((after["get_hits"] ?? 0) - (before["get_hits"] ?? 0) == 100)
            #expect((after["get_misses"] ?? 0) - (before["get_misses"] ?? 0) == 1)
            try await cache.deleteMany(values.keys.filter { $0.hasSuffix("7") })
            let left = try await cache.getMany(values.keys, as: Int.self)
            #expect(left.count == 90)
            try await cache.clear()
            #expect(try await cache.getMany(values.keys, as: Int.self).isEmpty)
        }
    }
}

extension String {
    var trimmingSpaces: String {
        var text = Substring(self)
        while text.first == " " { text.removeFirst() }
        while text.last == " " { text.removeLast() }
        return String(text)
    }
}
