import CSQLite
import Caching
import CachingSQLite
import CachingTesting
import Foundation
import Testing

extension SQLiteTests {
    /// What the SQLite backend adds to the conformance suite: Django's table and times, WAL,
    /// culling, keys as data, settings.
    @Suite("SQLite: Django's table, culling, settings")
    struct SQLiteBehaviourTests {
        @Test("the file is in WAL mode and the table and index are Django's")
        func walAndTable() async throws {
            let fixture = SQLiteFixture()
            defer { fixture.directory.remove() }
            let cache = try Cache.sqlite(table: "my_cache_table", options: fixture.options())
            try await cache.set("k", 1)
            #expect(try await fixture.sqlite3("PRAGMA journal_mode") == "wal")
            let columns = try await fixture.sqlite3(
                "SELECT name || ' ' || type || ' ' || \"notnull\" || ' ' || pk FROM pragma_table_info('my_cache_table')")
            #expect(columns == "cache_key varchar(255) 1 1\nvalue TEXT 1 0\nexpires datetime 1 0")
            #expect(
                try await fixture.sqlite3("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
                    == "my_cache_table_expires")
            try await cache.shutdown()
        }

        @Test("expires is UTC text as Django writes it; no expiry is datetime.max; values are base64 pickles")
        func rowFormat() async throws {
            let fixture = SQLiteFixture()
            defer { fixture.directory.remove() }
            // 2026-12-01 21:17:28.25 UTC
            let clock = ManualCacheClock(start: 1_796_159_848.25)
            let cache = try Cache.sqlite(table: "t", options: fixture.options(), configuration: CacheConfiguration(clock: clock))
            try await cache.set("timed", 5, timeout: 100)
            try await cache.set("forever", 5, timeout: .never)
            try await cache.set("whole", 5, timeout: 0.75)
            #expect(try await fixture.sqlite3("SELECT expires FROM t WHERE cache_key = ':1:timed'") == "2026-12-01 21:19:08.250000")
            #expect(try await fixture.sqlite3("SELECT expires FROM t WHERE cache_key = ':1:forever'") == "9999-12-31 23:59:59")
            #expect(try await fixture.sqlite3("SELECT expires FROM t WHERE cache_key = ':1:whole'") == "2026-12-01 21:17:29")
            // What Python's base64.b64encode(pickle.dumps(5, 4)) gives (Django writes protocol 5 and reads any).
            #expect(try await fixture.sqlite3("SELECT value FROM t WHERE cache_key = ':1:forever'") == "gARLBS4=")
            #expect(DatabaseCacheTime.unixTime("2026-12-01 21:19:08.250000") == 1_796_159_948.25)
            #expect(DatabaseCacheTime.unixTime("2026-12-01T21:19:08") == 1_796_159_948)
            #expect(DatabaseCacheTime.unixTime("2026-13-01 21:19:08") == nil)
            try await cache.shutdown()
        }

        @Test("base64 as Python's: every length round-trips; anything but padded alphabet is refused")
        func base64() {
            var generator = SeededRandomNumberGenerator(seed: 7)
            for count in 0..<64 {
                let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let text = Base64.encode(bytes)
                #expect(text.count == (count + 2) / 3 * 4)
                #expect(Base64.decode(text) == bytes, "\(count) bytes")
            }
            #expect(Base64.encode(Array("Man".utf8)) == Array("TWFu".utf8))
            #expect(Base64.encode(Array("Ma".utf8)) == Array("TWE=".utf8))
            #expect(Base64.decode(Array("TQ==".utf8)) == Array("M".utf8))
            for bad in ["TWF", "TW=u", "T===", "=WFu", "TWFu=", "TW\u{0}u", "TWF-", "TWE=TWE="] {
                #expect(Base64.decode(Array(bad.utf8)) == nil, "\(bad)")
            }
        }

        @Test("a get that finds an expired row deletes it; a row renewed meanwhile stays")
        func getDeletesExpired() async throws {
            let fixture = SQLiteFixture()
            defer { fixture.directory.remove() }
            let clock = ManualCacheClock(start: SystemCacheClock().now())
            let cache = try Cache.sqlite(table: "t", options: fixture.options(), configuration: CacheConfiguration(clock: clock))
            try await cache.set("a", 1, timeout: 1)
            try await cache.set("b", 1, timeout: 1)
            try await cache.set("c", 1, timeout: 100)
            clock.advance(by: 2)
            #expect(try await fixture.sqlite3("SELECT count(*) FROM t") == "3")
            #expect(try await cache.get("a", as: Int.self) == nil)
            #expect(try await fixture.sqlite3("SELECT count(*) FROM t") == "2")
            #expect(try await cache.getMany(["b", "c"], as: Int.self) == ["c": 1])
            #expect(try await fixture.sqlite3("SELECT cache_key FROM t") == ":1:c")
            try await cache.shutdown()
        }

        @Test("culling is Django's: over MAX_ENTRIES, expired rows go first, then the first 1/CULL_FREQUENCY keys in key order")
        func culling() async throws {
            let fixture = SQLiteFixture()
            defer { fixture.directory.remove() }
            let clock = ManualCacheClock(start: SystemCacheClock().now())
            let options = fixture.options {
                $0.maxEntries = 30
                $0.cullFrequency = 3
            }
            let cache = try Cache.sqlite(
                table: "t", options: options, configuration: CacheConfiguration(keyFunction: { key, _, _ in key }, clock: clock))
            for index in 0..<31 { try await cache.set(String(format: "k%02d", index), index) }
            #expect(
                try await fixture.sqlite3("SELECT count(*) FROM t") == "31", "Django culls only when more than MAX_ENTRIES rows are there")
            // 31 rows > 30: no expired rows, so 31 / 3 = 10 keys in key order go (k00…k09), then k31 is written.
            try await cache.set("k31", 31)
            #expect(try await fixture.sqlite3("SELECT count(*) FROM t") == "22")
            #expect(try await fixture.sqlite3("SELECT min(cache_key) FROM t") == "k10")
            // Expired rows go first: with 9 expired among 31, 22 live remain and nothing else is culled.
            for index in 40..<49 { try await cache.set("e\(index)", index, timeout: 1) }
            clock.advance(by: 2)
            try await cache.set("z1", 1)
            try await cache.set("z2", 1)
            #expect(try await fixture.sqlite3("SELECT count(*) FROM t WHERE cache_key LIKE 'e%'") == "0")
            #expect(try await fixture.sqlite3("SELECT min(cache_key) FROM t") == "k10", "no live key was culled")
            // Updates of existing keys never cull.
            for _ in 0..<3 { try await cache.set("k10", 0) }
            #expect(try await fixture.sqlite3("SELECT count(*) FROM t") == "24")
            try await cache.shutdown()
        }

        @Test("rows another process added are seen: the count is taken afresh after MAX_ENTRIES / 2 new keys")
        func otherWriters() async throws {
            let fixture = SQLiteFixture()
            defer { fixture.directory.remove() }
            let options = fixture.options {
                $0.maxEntries = 20
                $0.cullFrequency = 2
            }
            let cache = try Cache.sqlite(table: "t", options: options, configuration: CacheConfiguration(keyFunction: { key, _, _ in key }))
            try await cache.set("first", 1)
            let values = (0..<40).map { "('other\(String(format: "%02d", $0))', 'gAVLBS4=', '9999-12-31 23:59:59')" }
            _ = try await fixture.sqlite3("INSERT INTO t VALUES " + values.joined(separator: ", "))
            for index in 0..<10 { try await cache.set("mine\(index)", index) }
            let count = Int(try await fixture.sqlite3("SELECT count(*) FROM t")) ?? 0
            #expect(count <= 30, "the table was culled although this process wrote only 11 keys (\(count) rows)")
            try await cache.shutdown()
        }

        @Test("WHEN_FULL refuse: a new key is refused with full when every row is live, and nothing is evicted")
        func refuse() async throws {
            let fixture = SQLiteFixture()
            defer { fixture.directory.remove() }
            let clock = ManualCacheClock(start: SystemCacheClock().now())
            let options = fixture.options {
                $0.maxEntries = 5
                $0.whenFull = .refuse
            }
            let cache = try Cache.sqlite(table: "t", options: options, configuration: CacheConfiguration(clock: clock))
            for index in 0..<4 { try await cache.set("k\(index)", index) }
            try await cache.set("short", 1, timeout: 1)
            let error = await #expect(throws: CacheError.self) { try await cache.set("new", 1) }
            #expect(error?.code == .full)
            try await cache.set("k0", 100)
            #expect(try await cache.get("k0", as: Int.self) == 100, "an existing key can still be written")
            clock.advance(by: 2)
            try await cache.set("new", 1)
            #expect(try await fixture.sqlite3("SELECT count(*) FROM t") == "5")
            #expect(cache.backend.capabilities.mayEvictLiveEntries == false)
            try await cache.shutdown()
        }

        @Test("two backends on one file (two writer connections): concurrent incr loses nothing, exactly one add wins, CAS has one winner")
        func atomicAcrossConnections() async throws {
            let fixture = SQLiteFixture()
            defer { fixture.directory.remove() }
            let first = try Cache.sqlite(table: "t", options: fixture.options())
            let second = try Cache.sqlite(table: "t", options: fixture.options())
            try await first.set("counter", 0)
            let caches = [first, second]
            let addWins = try await withThrowingTaskGroup(of: Int.self) { group in
                for task in 0..<40 {
                    group.addTask {
                        let cache = caches[task % 2]
                        for _ in 0..<10 { _ = try await cache.incr("counter") }
                        return try await cache.add("once", task) ? 1 : 0
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(addWins == 1)
            #expect(try await second.get("counter", as: Int.self) == 400)
            try await first.set("cas", "start")
            let entry = try CacheValueCodec.encode("start")
            let casWins = try await withThrowingTaskGroup(of: Int.self) { group in
                for task in 0..<20 {
                    group.addTask {
                        let backend = caches[task % 2].backend
                        let won = try await backend.compareAndStore(
                            try CacheValueCodec.encode("winner \(task)"), forKey: caches[0].makeKey("cas"), expiry: .never, expected: entry)
                        return won ? 1 : 0
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(casWins == 1)
            #expect(try await first.get("cas", as: String.self)?.hasPrefix("winner ") == true)
            try await first.shutdown()
            try await second.shutdown()
        }

        @Test("a key holding quotes, SQL or NUL is data: stored and read back as itself, never run")
        func keysAreData() async throws {
            let fixture = SQLiteFixture()
            defer { fixture.directory.remove() }
            let backend = try SQLiteBackend(table: "odd \"table\"; DROP TABLE x", options: fixture.options())
            let cache = Cache(backend, configuration: CacheConfiguration(keyFunction: { key, _, _ in key }))
            try await cache.set("bystander", "safe")
            let hostile = ["'); DROP TABLE t; --", "\" OR 1=1 --", "nul\u{0}byte", String(repeating: "k", count: 300), "ünï"]
            for (index, key) in hostile.enumerated() {
                try await backend.store(.integer(index), forKey: key, expiry: .never)
                #expect(try await backend.entry(forKey: key) == .integer(index))
                #expect(try await backend.entries(forKeys: ["missing", key]) == [nil, .integer(index)])
                #expect(try await backend.increment(entryForKey: key, by: 1) == index + 1)
                #expect(try await backend.removeEntry(forKey: key))
            }
            #expect(try await cache.get("bystander", as: String.self) == "safe")
            #expect(try await fixture.sqlite3("SELECT count(*) FROM \"odd \"\"table\"\"; DROP TABLE x\"") == "1")
            try await cache.shutdown()
        }

        @Test("many-key calls of any size: 1 to 600 keys, duplicates, in one call")
        func manyKeys() async throws {
            let fixture = SQLiteFixture()
            defer { fixture.directory.remove() }
            let cache = try Cache.sqlite(table: "t", options: fixture.options { $0.maxEntries = 10_000 })
            let values = Dictionary(uniqueKeysWithValues: (0..<600).map { ("k\($0)", $0) })
            #expect(try await cache.setMany(values) == [])
            for count in [1, 3, 255, 256, 257, 600] {
                let keys = (0..<count).map { "k\($0)" } + ["k0", "absent"]
                let found = try await cache.getMany(keys, as: Int.self)
                #expect(found.count == count)
                #expect(found["k\(count - 1)"] == count - 1)
            }
            try await cache.deleteMany((0..<599).map { "k\($0)" })
            #expect(try await fixture.sqlite3("SELECT cache_key FROM t") == ":1:k599")
            try await cache.shutdown()
        }

        @Test("settings: the names, LOCATION as the table, OPTIONS checked, errors naming the alias and the setting")
        func settings() async throws {
            let fixture = SQLiteFixture()
            defer { fixture.directory.remove() }
            for name in ["db", "database", "django.core.cache.backends.db.DatabaseCache"] {
                let json =
                    #"{"default": {"BACKEND": "\#(name)", "LOCATION": "tbl", "OPTIONS": {"database": "\#(fixture.path)", "MAX_ENTRIES": 7, "busy_timeout": 0.5}}}"#
                let caches = try Caches(json: Array(json.utf8), backends: CacheBackends.standard.withSQLite())
                try await caches.default.set("k", name)
                #expect(try await caches.default.get("k", as: String.self) == name)
                let backend = try #require(caches.default.backend as? SQLiteBackend)
                #expect(backend.table == "tbl")
                #expect(backend.options.maxEntries == 7)
                #expect(backend.options.busyTimeout == 0.5)
                try await caches.shutdown()
            }
            let bad: [(String, String)] = [
                (#""LOCATION": "t", "OPTIONS": {"database": "x", "colour": 1}"#, #"CACHES["sql"]["OPTIONS"]["colour"]"#),
                (#""LOCATION": "t", "OPTIONS": {}"#, #"CACHES["sql"]["OPTIONS"]["database"] is missing"#),
                (#""LOCATION": "", "OPTIONS": {"database": "x"}"#, #"CACHES["sql"]["LOCATION"]"#),
                (#""LOCATION": "t", "OPTIONS": {"database": "x", "pool_size": 0}"#, #"CACHES["sql"]["OPTIONS"]["pool_size"]"#),
                (#""LOCATION": "t", "OPTIONS": {"database": "x", "busy_timeout": "5"}"#, #"CACHES["sql"]["OPTIONS"]["busy_timeout"]"#),
                (#""LOCATION": "t", "OPTIONS": {"database": "x", "MAX_ENTRIES": 0}"#, #"CACHES["sql"]["OPTIONS"]["MAX_ENTRIES"]"#),
                (#""LOCATION": "t", "OPTIONS": {"database": "x", "WHEN_FULL": "drop"}"#, #"CACHES["sql"]["OPTIONS"]["WHEN_FULL"]"#),
            ]
            for (body, expected) in bad {
                let json = #"{"sql": {"BACKEND": "db", \#(body)}}"#
                let error = #expect(throws: CacheError.self, "\(body)") {
                    _ = try Caches(json: Array(json.utf8), backends: CacheBackends.standard.withSQLite())
                }
                #expect(error?.code == .invalidSettings)
                #expect(error?.message.contains(expected) == true, "\(error?.message ?? "") should name \(expected)")
            }
        }
    }
}
