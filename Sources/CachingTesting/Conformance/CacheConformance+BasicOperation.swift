import Caching
import FoundationEssentials
import Testing

/// A Codable value stored as JSON.
struct Profile: Codable, Sendable, Equatable {
    var name: String
    var age: Int
    var tags: [String]
}

extension CacheConformance {
    /// get, set, add, delete, hasKey and getOrSet on every backend (Django's BaseCacheTests).
    public static let basicOperations: [CacheConformanceCheck] = [
        CacheConformanceCheck("set then get returns the value", id: "simple") { fx async throws in
            try await fx.cache.set("key", "value")
            #expect(try await fx.cache.get("key", as: String.self) == "value")
        },
        CacheConformanceCheck("every value type round-trips with its type", id: "dataTypes") { fx async throws in
            let cache = fx.cache
            let profile = Profile(name: "Ada", age: 36, tags: ["math", "engines"])
            try await cache.set("int", 42)
            try await cache.set("negative", -7)
            try await cache.set("string", "héllo wörld ☃")
            try await cache.set("empty", "")
            try await cache.set("true", true)
            try await cache.set("false", false)
            try await cache.set("double", 1.5)
            try await cache.set("bytes", [UInt8]([0, 1, 2, 255]))
            try await cache.set("emptyBytes", [UInt8]())
            try await cache.set("data", Data([9, 8, 7]))
            try await cache.set("profile", profile)
            try await cache.set("list", [1, 2, 3])
            try await cache.set("dict", ["a": 1, "b": 2])
            try await cache.set("int64", Int64.max)
            try await cache.set("uint8", UInt8(200))
            #expect(try await cache.get("int", as: Int.self) == 42)
            #expect(try await cache.get("negative", as: Int.self) == -7)
            #expect(try await cache.get("string", as: String.self) == "héllo wörld ☃")
            #expect(try await cache.get("empty", as: String.self) == "")
            #expect(try await cache.get("true", as: Bool.self) == true)
            #expect(try await cache.get("false", as: Bool.self) == false)
            #expect(try await cache.get("double", as: Double.self) == 1.5)
            #expect(try await cache.get("bytes", as: [UInt8].self) == [0, 1, 2, 255])
            #expect(try await cache.get("emptyBytes", as: [UInt8].self) == [])
            #expect(try await cache.get("data", as: Data.self) == Data([9, 8, 7]))
            #expect(try await cache.get("profile", as: Profile.self) == profile)
            #expect(try await cache.get("list", as: [Int].self) == [1, 2, 3])
            #expect(try await cache.get("dict", as: [String: Int].self) == ["a": 1, "b": 2])
            #expect(try await cache.get("int64", as: Int64.self) == .max)
            #expect(try await cache.get("uint8", as: UInt8.self) == 200)
        },
        CacheConformanceCheck("a large binary value round-trips", id: "largeValue") { fx async throws in
            var generator = SeededRandomNumberGenerator(seed: 7)
            let bytes = (0..<500_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
            try await fx.cache.set("big", bytes)
            #expect(try await fx.cache.get("big", as: [UInt8].self) == bytes)
        },
        CacheConformanceCheck("a missing key gives nil or the default", id: "nonExistent") { fx async throws in
            #expect(try await fx.cache.get("missing", as: String.self) == nil)
            #expect(try await fx.cache.get("missing", default: "fallback") == "fallback")
            #expect(try await fx.cache.hasKey("missing") == false)
        },
        CacheConformanceCheck("a stored nil is a value, told apart from a missing key", id: "storedNil") { fx async throws in
            try await fx.cache.set("nothing", Int?.none)
            let read = try await fx.cache.get("nothing", as: Int?.self)
            #expect(read == .some(.none))
            #expect(try await fx.cache.get("nothing", default: Int?(5)) == nil)
            #expect(try await fx.cache.hasKey("nothing"))
            let many = try await fx.cache.getMany(["nothing", "missing"], as: Int?.self)
            #expect(many.count == 1)
            #expect(many["nothing"] == .some(.none))
            try await fx.cache.set("something", Int?(3))
            #expect(try await fx.cache.get("something", as: Int?.self) == .some(3))
        },
        CacheConformanceCheck("set overwrites the value", id: "overwrite") { fx async throws in
            try await fx.cache.set("key", 1)
            try await fx.cache.set("key", 2)
            #expect(try await fx.cache.get("key", as: Int.self) == 2)
        },
        CacheConformanceCheck("add stores only when the key is free", id: "add") { fx async throws in
            #expect(try await fx.cache.add("addkey1", "value"))
            #expect(try await fx.cache.add("addkey1", "newvalue") == false)
            #expect(try await fx.cache.get("addkey1", as: String.self) == "value")
            try await fx.cache.set("stored-nil", String?.none)
            #expect(try await fx.cache.add("stored-nil", "x") == false)
        },
        CacheConformanceCheck("a failed add leaves the existing expiry alone", id: "addKeepsExpiry", lettingTimePass: true) {
            fx async throws in
            // Three seconds, not one or two: on a server's one-second clock the add must arrive
            // while the value certainly lives, even on a loaded machine.
            try await fx.cache.set("key", "first", timeout: 3)
            #expect(try await fx.cache.add("key", "second", timeout: 1000) == false)
            try await fx.pass(3)
            #expect(try await fx.cache.get("key", as: String.self) == nil)
            #expect(try await fx.cache.add("key", "third"))
            #expect(try await fx.cache.get("key", as: String.self) == "third")
        },
        CacheConformanceCheck("delete returns whether a live value was removed", id: "delete") { fx async throws in
            try await fx.cache.set("key1", "spam")
            try await fx.cache.set("key2", "eggs")
            #expect(try await fx.cache.delete("key1"))
            #expect(try await fx.cache.get("key1", as: String.self) == nil)
            #expect(try await fx.cache.get("key2", as: String.self) == "eggs")
            #expect(try await fx.cache.delete("key1") == false)
            #expect(try await fx.cache.delete("never-set") == false)
        },
        CacheConformanceCheck("delete of an expired key returns false", id: "deleteExpired", lettingTimePass: true) { fx async throws in
            try await fx.cache.set("short", 1, timeout: 1)
            try await fx.pass(1)
            #expect(try await fx.cache.delete("short") == false)
        },
        CacheConformanceCheck("hasKey sees live values only", id: "hasKey", lettingTimePass: true) { fx async throws in
            try await fx.cache.set("hello1", "goodbye1")
            try await fx.cache.set("forever", 1, timeout: .never)
            try await fx.cache.set("short", 1, timeout: 1)
            #expect(try await fx.cache.hasKey("hello1"))
            #expect(try await fx.cache.hasKey("goodbye1") == false)
            #expect(try await fx.cache.hasKey("forever"))
            try await fx.pass(1)
            #expect(try await fx.cache.hasKey("short") == false)
            #expect(try await fx.cache.hasKey("forever"))
        },
        CacheConformanceCheck("getOrSet stores and returns the default on a miss", id: "getOrSet") { fx async throws in
            #expect(try await fx.cache.get("projector", as: Int.self) == nil)
            #expect(try await fx.cache.getOrSet("projector", default: 42) == 42)
            #expect(try await fx.cache.get("projector", as: Int.self) == 42)
            #expect(try await fx.cache.getOrSet("projector", default: 7) == 42)
            #expect(try await fx.cache.getOrSet("null", default: String?.none) == nil)
            #expect(try await fx.cache.hasKey("null"))
        },
        CacheConformanceCheck("getOrSet runs the closure only on a miss", id: "getOrSetClosure") { fx async throws in
            let calls = CallCounter()
            let first = try await fx.cache.getOrSet("computed") {
                calls.increment()
                return "made"
            }
            let second = try await fx.cache.getOrSet("computed") {
                calls.increment()
                return "again"
            }
            #expect(first == "made")
            #expect(second == "made")
            #expect(calls.value == 1)
        },
        CacheConformanceCheck("getOrSet rethrows the closure's error and stores nothing", id: "getOrSetThrowing") { fx async throws in
            struct Boom: Error {}
            await #expect(throws: Boom.self) {
                _ = try await fx.cache.getOrSet("k") { () async throws -> Int in throw Boom() }
            }
            #expect(try await fx.cache.hasKey("k") == false)
        },
        CacheConformanceCheck("getOrSet returns the winner when another writer stores first", id: "getOrSetRacing") { fx async throws in
            let cache = fx.cache
            let result = try await cache.getOrSet("race") {
                try await cache.set("race", "winner")
                return "loser"
            }
            #expect(result == "winner")
            #expect(try await cache.get("race", as: String.self) == "winner")
        },
        CacheConformanceCheck("getOrSet honours the version", id: "getOrSetVersion") { fx async throws in
            #expect(try await fx.cache.getOrSet("brian", default: 42, version: 1) == 42)
            #expect(try await fx.cache.getOrSet("brian", default: 43, version: 2) == 43)
            #expect(try await fx.cache.get("brian", as: Int.self, version: 1) == 42)
            #expect(try await fx.cache.get("brian", as: Int.self, version: 2) == 43)
            #expect(try await fx.cache.get("brian", as: Int.self, version: 3) == nil)
        },
        CacheConformanceCheck("reading a value as the wrong type is a decoding error, and the value stays", id: "typeMismatch") {
            fx async throws in
            try await fx.cache.set("number", 5)
            try await fx.cache.set("profile", Profile(name: "a", age: 1, tags: []))
            let error = await #expect(throws: CacheError.self) { try await fx.cache.get("number", as: String.self) }
            #expect(error?.code == .decodingFailed)
            #expect(error?.message.contains(":1:number") == true)
            let jsonError = await #expect(throws: CacheError.self) { try await fx.cache.get("profile", as: [Int].self) }
            #expect(jsonError?.code == .decodingFailed)
            #expect(try await fx.cache.get("number", as: Int.self) == 5)
        },
        CacheConformanceCheck("unicode keys and values", id: "unicode") { fx async throws in
            let stuff: [String: String] = [
                "ascii": "ascii_value",
                "unicode_ascii": "Iñtërnâtiônàlizætiøn1",
                "Iñtërnâtiônàlizætiøn": "Iñtërnâtiônàlizætiøn2",
                "ascii2": "{'x' : 1 }",
                "日本語": "テスト",
                "\u{00A0}nbsp": "NBSP is not whitespace to memcached",
            ]
            for (key, value) in stuff {
                try await fx.cache.delete(key)
                try await fx.cache.set(key, value)
                #expect(try await fx.cache.get(key, as: String.self) == value)
                try await fx.cache.delete(key)
                #expect(try await fx.cache.add(key, value))
                #expect(try await fx.cache.get(key, as: String.self) == value)
            }
            try await fx.cache.deleteMany(stuff.keys)
            #expect(try await fx.cache.setMany(stuff) == [])
            #expect(try await fx.cache.getMany(stuff.keys, as: String.self) == stuff)
        },
        CacheConformanceCheck("close releases resources and the cache still works", id: "close") { fx async throws in
            try await fx.cache.set("k", 1)
            try await fx.cache.close()
            #expect(try await fx.cache.get("k", as: Int.self) == 1)
        },
        CacheConformanceCheck("clear removes every key, whatever its prefix or version", id: "clear") { fx async throws in
            let prefixed = try await fx.cache(prefix: "other")
            try await fx.cache.set("key1", "spam")
            try await fx.cache.set("key2", "eggs", version: 2)
            try await prefixed.set("key3", "ham")
            try await fx.cache.clear()
            #expect(try await fx.cache.get("key1", as: String.self) == nil)
            #expect(try await fx.cache.get("key2", as: String.self, version: 2) == nil)
            #expect(try await prefixed.get("key3", as: String.self) == nil)
        },
        CacheConformanceCheck("hundreds of concurrent tasks: incr loses nothing and exactly one add wins", id: "concurrency") {
            fx async throws in
            let cache = fx.cache
            try await cache.set("counter", 0)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<300 { group.addTask { try await cache.incr("counter") } }
                try await group.waitForAll()
            }
            #expect(try await cache.get("counter", as: Int.self) == 300)
            let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<200 { group.addTask { try await cache.add("once", index) } }
                var count = 0
                for try await won in group where won { count += 1 }
                return count
            }
            #expect(winners == 1)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<300 {
                    group.addTask {
                        try await cache.set("k\(index)", index)
                        let read = try await cache.get("k\(index)", as: Int.self)
                        #expect(read == index)
                    }
                }
                try await group.waitForAll()
            }
        },
    ]
}
