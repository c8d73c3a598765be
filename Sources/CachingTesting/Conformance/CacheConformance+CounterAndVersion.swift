import Caching
import Testing

extension CacheConformance {
    /// incr, decr, versions, prefixes and key functions.
    public static let countersAndVersions: [CacheConformanceCheck] = [
        CacheConformanceCheck("incr and decr add and subtract any delta", id: "incrDecr") { fx async throws in
            try await fx.cache.set("answer", 41)
            #expect(try await fx.cache.incr("answer") == 42)
            #expect(try await fx.cache.get("answer", as: Int.self) == 42)
            #expect(try await fx.cache.incr("answer", by: 10) == 52)
            #expect(try await fx.cache.incr("answer", by: -10) == 42)
            #expect(try await fx.cache.decr("answer") == 41)
            #expect(try await fx.cache.decr("answer", by: 10) == 31)
            #expect(try await fx.cache.decr("answer", by: -10) == 41)
            #expect(try await fx.cache.get("answer", as: Int.self) == 41)
        },
        CacheConformanceCheck("incr and decr of a missing key throw keyNotFound naming the made key", id: "incrMissing") {
            fx async throws in
            for operation: @Sendable () async throws -> Int in [
                { try await fx.cache.incr("does_not_exist") }, { try await fx.cache.decr("does_not_exist") },
            ] {
                let error = await #expect(throws: CacheError.self) { try await operation() }
                #expect(error?.code == .keyNotFound)
                #expect(error?.message == "Key ':1:does_not_exist' not found")
            }
            #expect(try await fx.cache.hasKey("does_not_exist") == false)
        },
        CacheConformanceCheck("incr of a value that is not an integer throws and changes nothing", id: "incrNotInteger") {
            fx async throws in
            try await fx.cache.set("text", "abc")
            try await fx.cache.set("json", Profile(name: "x", age: 1, tags: []))
            try await fx.cache.set("double", 2.5)
            try await fx.cache.set("other", 7)
            for key in ["text", "json", "double"] {
                let error = await #expect(throws: CacheError.self) { try await fx.cache.incr(key) }
                #expect(error?.code == .notAnInteger)
                #expect(error?.message.contains(":1:\(key)") == true)
            }
            #expect(try await fx.cache.get("text", as: String.self) == "abc")
            #expect(try await fx.cache.get("double", as: Double.self) == 2.5)
            #expect(try await fx.cache.get("other", as: Int.self) == 7)
        },
        CacheConformanceCheck("incr keeps the value's expiry", id: "incrKeepsExpiry", lettingTimePass: true) { fx async throws in
            // Three seconds: the incr must arrive while "short" certainly lives on a server's
            // one-second clock, even on a loaded machine.
            try await fx.cache.set("short", 1, timeout: 3)
            try await fx.cache.set("forever", 1, timeout: .never)
            #expect(try await fx.cache.incr("short") == 2)
            #expect(try await fx.cache.incr("forever") == 2)
            try await fx.pass(3)
            #expect(try await fx.cache.hasKey("short") == false)
            #expect(try await fx.cache.get("forever", as: Int.self) == 2)
        },
        CacheConformanceCheck("make key: prefix:version:key", id: "makeKey") { fx async throws in
            #expect(fx.cache.makeKey("k") == ":1:k")
            #expect(fx.cache.makeKey("") == ":1:")
            #expect(fx.cache.makeKey("k", version: 0) == ":0:k")
            #expect(fx.cache.makeKey("k", version: -1) == ":-1:k")
            let prefixed = try await fx.cache(prefix: "p", version: 3)
            #expect(prefixed.makeKey("k") == "p:3:k")
            #expect(prefixed.makeKey("k", version: 4) == "p:4:k")
            try await fx.cache.set("", "empty key")
            #expect(try await fx.cache.get("", as: String.self) == "empty key")
        },
        CacheConformanceCheck("key prefixes isolate caches sharing one store", id: "prefix") { fx async throws in
            let prefixed = try await fx.cache(prefix: "cacheprefix")
            try await fx.cache.set("somekey", "value")
            #expect(try await prefixed.hasKey("somekey") == false)
            try await prefixed.set("somekey", "value2")
            #expect(try await fx.cache.get("somekey", as: String.self) == "value")
            #expect(try await prefixed.get("somekey", as: String.self) == "value2")
        },
        CacheConformanceCheck("a custom key function replaces prefix:version:key", id: "customKeyFunction") { fx async throws in
            let custom: CacheKeyFunction = { key, prefix, version in "CUSTOM-" + [prefix, String(version), key].joined(separator: "-") }
            let first = try await fx.cache(keyFunction: custom)
            let second = try await fx.cache(keyFunction: custom)
            #expect(first.makeKey("answer1") == "CUSTOM--1-answer1")
            try await first.set("answer1", 42)
            #expect(try await first.get("answer1", as: Int.self) == 42)
            #expect(try await second.get("answer1", as: Int.self) == 42)
            #expect(try await fx.cache.get("answer1", as: Int.self) == nil)
            try await fx.cache.set("answer2", 42)
            #expect(try await first.get("answer2", as: Int.self) == nil)
        },
        CacheConformanceCheck("every operation addresses the exact version", id: "versioning") { fx async throws in
            let v2 = try await fx.cache(version: 2)
            try await fx.cache.set("answer1", 42)
            #expect(try await fx.cache.get("answer1", as: Int.self) == 42)
            #expect(try await fx.cache.get("answer1", as: Int.self, version: 1) == 42)
            #expect(try await fx.cache.get("answer1", as: Int.self, version: 2) == nil)
            #expect(try await v2.get("answer1", as: Int.self) == nil)
            #expect(try await v2.get("answer1", as: Int.self, version: 1) == 42)

            try await fx.cache.set("answer2", 42, version: 2)
            #expect(try await fx.cache.get("answer2", as: Int.self) == nil)
            #expect(try await v2.get("answer2", as: Int.self) == 42)

            #expect(try await fx.cache.add("answer3", 37, version: 2))
            #expect(try await fx.cache.add("answer3", 38, version: 2) == false)
            #expect(try await fx.cache.add("answer3", 39, version: 1))
            #expect(try await fx.cache.get("answer3", as: Int.self, version: 2) == 37)
            #expect(try await fx.cache.get("answer3", as: Int.self, version: 1) == 39)

            #expect(try await fx.cache.hasKey("answer1", version: 2) == false)
            #expect(try await v2.hasKey("answer1", version: 1))

            try await fx.cache.set("answer4", 37, version: 1)
            try await fx.cache.set("answer4", 42, version: 2)
            #expect(try await fx.cache.delete("answer4", version: 2))
            #expect(try await fx.cache.get("answer4", as: Int.self, version: 1) == 37)
            #expect(try await fx.cache.get("answer4", as: Int.self, version: 2) == nil)

            try await fx.cache.set("counter", 1, version: 1)
            try await fx.cache.set("counter", 2, version: 2)
            #expect(try await fx.cache.incr("counter", version: 2) == 3)
            #expect(try await fx.cache.decr("counter", version: 1) == 0)
            #expect(try await v2.get("counter", as: Int.self) == 3)
            #expect(try await fx.cache.get("counter", as: Int.self) == 0)

            try await fx.cache.setMany(["ford1": 37, "arthur1": 42], version: 2)
            #expect(try await fx.cache.getMany(["ford1", "arthur1"], as: Int.self) == [:])
            #expect(try await fx.cache.getMany(["ford1", "arthur1"], as: Int.self, version: 2) == ["ford1": 37, "arthur1": 42])
            #expect(try await v2.getMany(["ford1", "arthur1"], as: Int.self) == ["ford1": 37, "arthur1": 42])
            try await fx.cache.deleteMany(["ford1"], version: 1)
            #expect(try await v2.hasKey("ford1"))
            try await fx.cache.deleteMany(["ford1"], version: 2)
            #expect(try await v2.hasKey("ford1") == false)
        },
        CacheConformanceCheck("incrVersion moves the value to the next version", id: "incrVersion") { fx async throws in
            let v2 = try await fx.cache(version: 2)
            try await v2.set("answer", 42)
            #expect(try await v2.incrVersion("answer") == 3)
            #expect(try await v2.get("answer", as: Int.self) == nil)
            #expect(try await v2.get("answer", as: Int.self, version: 2) == nil)
            #expect(try await v2.get("answer", as: Int.self, version: 3) == 42)
            #expect(try await v2.incrVersion("answer", version: 3) == 4)
            #expect(try await v2.get("answer", as: Int.self, version: 4) == 42)
            #expect(try await v2.incrVersion("answer", by: 10, version: 4) == 14)
            #expect(try await v2.get("answer", as: Int.self, version: 14) == 42)

            try await fx.cache.set("null", String?.none)
            #expect(try await fx.cache.incrVersion("null") == 2)
            #expect(try await fx.cache.get("null", as: String?.self, version: 2) == .some(.none))
            #expect(try await fx.cache.hasKey("null") == false)

            let error = await #expect(throws: CacheError.self) { try await fx.cache.incrVersion("does_not_exist") }
            #expect(error?.code == .keyNotFound)
        },
        CacheConformanceCheck("incrVersion overwrites the target and keeps the value for delta 0", id: "incrVersionEdges") {
            fx async throws in
            try await fx.cache.set("k", "one", version: 1)
            try await fx.cache.set("k", "two", version: 2)
            #expect(try await fx.cache.incrVersion("k") == 2)
            #expect(try await fx.cache.get("k", as: String.self, version: 2) == "one")
            #expect(try await fx.cache.incrVersion("k", by: 0, version: 2) == 2)
            #expect(try await fx.cache.get("k", as: String.self, version: 2) == "one")
        },
        CacheConformanceCheck("decrVersion moves the value to the previous version", id: "decrVersion") { fx async throws in
            let v2 = try await fx.cache(version: 2)
            try await v2.set("answer", 42)
            #expect(try await v2.decrVersion("answer") == 1)
            #expect(try await v2.get("answer", as: Int.self) == nil)
            #expect(try await v2.get("answer", as: Int.self, version: 1) == 42)
            #expect(try await fx.cache.get("answer", as: Int.self) == 42)
            #expect(try await v2.decrVersion("answer", version: 1) == 0)
            #expect(try await v2.get("answer", as: Int.self, version: 0) == 42)
            let error = await #expect(throws: CacheError.self) { try await v2.decrVersion("does_not_exist", version: 2) }
            #expect(error?.code == .keyNotFound)
        },
    ]
}
