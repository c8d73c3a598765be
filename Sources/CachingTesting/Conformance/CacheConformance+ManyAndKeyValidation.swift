import Caching
import InMemoryLogging
import Logging
import Testing

extension CacheConformance {
    /// Keys whose made form (`:1:` + key) breaks a memcached rule.
    static let invalidKeys: [(String, String)] = [
        ("key with spaces", "space"),
        ("key\twith\ttab", "control character"),
        ("key\u{0}nul", "NUL"),
        ("key\u{7F}del", "DEL"),
        ("key\nnewline", "newline"),
        (String(repeating: "a", count: 248), "251 code points"),
        (String(repeating: "é", count: 247), "250 code points but 497 UTF-8 bytes"),
        (String(repeating: "🇫🇷", count: 124), "248 flags: 127 characters, 251 code points"),
    ]

    /// getMany, setMany, deleteMany and key validation.
    public static let manyKeysAndValidation: [CacheConformanceCheck] = [
        CacheConformanceCheck("getMany returns only present keys, by the caller's keys", id: "getMany") { fx async throws in
            try await fx.cache.set("a", "a")
            try await fx.cache.set("b", "b")
            try await fx.cache.set("c", "c")
            try await fx.cache.set("d", "d")
            #expect(try await fx.cache.getMany(["a", "c", "d"], as: String.self) == ["a": "a", "c": "c", "d": "d"])
            #expect(try await fx.cache.getMany(["a", "b", "e"], as: String.self) == ["a": "a", "b": "b"])
            #expect(try await fx.cache.getMany(["a", "a", "b"], as: String.self) == ["a": "a", "b": "b"])
            #expect(try await fx.cache.getMany(["a", "b", "e"].lazy.map { $0 }, as: String.self) == ["a": "a", "b": "b"])
            #expect(try await fx.cache.getMany([String](), as: String.self) == [:])
        },
        CacheConformanceCheck(
            "getMany reads each made key once and answers every caller's key, repeated or not", id: "getManyRepeatedAndCollidingKeys"
        ) { fx async throws in
            // "A" and "a" make the same key with this key function.
            let folded = try await fx.cache(keyFunction: { key, prefix, version in "\(prefix):\(version):\(key.lowercased())" })
            try await folded.set("a", "first")
            try await folded.set("b", "second")
            let found = try await folded.getMany(["A", "a", "b", "A", "missing", "b", "MISSING"], as: String.self)
            #expect(found == ["A": "first", "a": "first", "b": "second"])

            // Many keys, present and missing, repeated far apart: each answer lands on its own key.
            for index in stride(from: 0, to: 150, by: 2) { try await fx.cache.set("k\(index)", index) }
            let keys = (0..<150).map { "k\($0)" } + (0..<150).reversed().map { "k\($0)" }
            let many = try await fx.cache.getMany(keys, as: Int.self)
            #expect(many == Dictionary(uniqueKeysWithValues: stride(from: 0, to: 150, by: 2).map { ("k\($0)", $0) }))
        },
        CacheConformanceCheck(
            "getMany throws for a value that does not decode, as get does, and reads nothing else into the result", id: "getManyUndecodable"
        ) { fx async throws in
            try await fx.cache.set("text", "hello")
            try await fx.cache.set("number", 7)
            try await fx.cache.set("bytes", [UInt8]([0xFF, 0xFE]))
            let single = await #expect(throws: CacheError.self) { try await fx.cache.get("bytes", as: String.self) }
            let many = await #expect(throws: CacheError.self) {
                try await fx.cache.getMany(["text", "bytes", "number"], as: String.self)
            }
            #expect(many?.code == single?.code)
            #expect(many?.key == single?.key)
            #expect(try await fx.cache.getMany(["text", "text", "missing"], as: String.self) == ["text": "hello"])
            #expect(try await fx.cache.get("number", as: Int.self) == 7)
        },
        CacheConformanceCheck("getMany skips expired keys", id: "getManyExpired", lettingTimePass: true) { fx async throws in
            try await fx.cache.set("short", 1, timeout: 1)
            try await fx.cache.set("long", 2, timeout: 100)
            try await fx.pass(1)
            #expect(try await fx.cache.getMany(["short", "long"], as: Int.self) == ["long": 2])
        },
        CacheConformanceCheck("setMany stores every value and returns no failed keys", id: "setMany") { fx async throws in
            #expect(try await fx.cache.setMany(["key1": "spam", "key2": "eggs"]) == [])
            #expect(try await fx.cache.get("key1", as: String.self) == "spam")
            #expect(try await fx.cache.get("key2", as: String.self) == "eggs")
            #expect(try await fx.cache.setMany([String: Int]()) == [])
        },
        CacheConformanceCheck("setMany applies the timeout", id: "setManyExpiration", lettingTimePass: true) { fx async throws in
            try await fx.cache.setMany(["key1": "spam", "key2": "eggs"], timeout: 2)
            try await fx.pass(2)
            #expect(try await fx.cache.get("key1", as: String.self) == nil)
            #expect(try await fx.cache.get("key2", as: String.self) == nil)
        },
        CacheConformanceCheck("deleteMany removes the named keys only", id: "deleteMany") { fx async throws in
            try await fx.cache.setMany(["key1": "spam", "key2": "eggs", "key3": "ham"])
            try await fx.cache.deleteMany(["key1", "key2", "missing"])
            #expect(try await fx.cache.get("key1", as: String.self) == nil)
            #expect(try await fx.cache.get("key2", as: String.self) == nil)
            #expect(try await fx.cache.get("key3", as: String.self) == "ham")
            try await fx.cache.deleteMany([String]())
            #expect(try await fx.cache.get("key3", as: String.self) == "ham")
        },
        CacheConformanceCheck("strict validation: every operation throws invalidKey and touches nothing", id: "invalidKeysThrow") {
            fx async throws in
            let cache = fx.cache
            try await cache.set("bystander", "safe")
            for (key, why) in Self.invalidKeys {
                let operations: [(String, () async throws -> Void)] = [
                    ("get", { _ = try await cache.get(key, as: Int.self) }),
                    ("set", { try await cache.set(key, 1) }),
                    ("add", { try await cache.add(key, 1) }),
                    ("delete", { try await cache.delete(key) }),
                    ("hasKey", { _ = try await cache.hasKey(key) }),
                    ("incr", { try await cache.incr(key) }),
                    ("decr", { try await cache.decr(key) }),
                    ("touch", { try await cache.touch(key) }),
                    ("getOrSet", { _ = try await cache.getOrSet(key, default: 1) }),
                    ("incrVersion", { try await cache.incrVersion(key) }),
                    ("getMany", { _ = try await cache.getMany(["bystander", key], as: String.self) }),
                    ("setMany", { try await cache.setMany(["bystander": "overwritten", key: "x"]) }),
                    ("deleteMany", { try await cache.deleteMany(["bystander", key]) }),
                ]
                for (name, operation) in operations {
                    let error = await #expect(throws: CacheError.self, "\(name) with a key with \(why)") { try await operation() }
                    #expect(error?.code == .invalidKey, "\(name) with a key with \(why)")
                    #expect(error?.key == ":1:" + key)
                }
            }
            #expect(try await cache.get("bystander", as: String.self) == "safe")
        },
        CacheConformanceCheck("the longest valid keys and unusual but valid characters are accepted", id: "validEdgeKeys") {
            fx async throws in
            let keys = [
                String(repeating: "a", count: 247),
                String(repeating: "é", count: 123),
                "nbsp\u{00A0}key", "next-line\u{0085}key", "punctuation!@#$%^&*()[]{};'\",./<>?`~|\\",
            ]
            for key in keys {
                try await fx.cache.set(key, key)
                #expect(try await fx.cache.get(key, as: String.self) == key)
            }
        },
        CacheConformanceCheck("an invalid key message names the made key and the rule", id: "invalidKeyMessage") { fx async throws in
            let spaced = await #expect(throws: CacheError.self) { try await fx.cache.set("key with spaces", 1) }
            #expect(spaced?.message.contains("':1:key with spaces'") == true)
            #expect(spaced?.message.contains("U+0020") == true)
            let long = await #expect(throws: CacheError.self) { try await fx.cache.set(String(repeating: "a", count: 248), 1) }
            #expect(long?.message.contains("251 code points long (longer than 250)") == true)
            let bytes = await #expect(throws: CacheError.self) { try await fx.cache.set(String(repeating: "é", count: 247), 1) }
            #expect(bytes?.message.contains("497 bytes long in UTF-8") == true)
            #expect(throws: CacheError.self) { try fx.cache.validateKey("a b") }
            try fx.cache.validateKey(":1:fine")
        },
        CacheConformanceCheck("a key function's result is what gets validated", id: "validationAfterKeyFunction") { fx async throws in
            let appending = try await fx.cache(keyFunction: { key, _, _ in key + ":1" })
            try await appending.set(String(repeating: "k", count: 248), 1)
            let error = await #expect(throws: CacheError.self) { try await appending.set(String(repeating: "k", count: 249), 1) }
            #expect(error?.code == .invalidKey)
        },
        CacheConformanceCheck("warn mode logs Django's CacheKeyWarning and proceeds where the backend can store the key", id: "warnMode") {
            fx async throws in
            let lenient = try await fx.cache(validation: .warn)
            if lenient.capabilities.requiresValidKeys {
                let error = await #expect(throws: CacheError.self) { try await lenient.set("key with spaces", 1) }
                #expect(error?.code == .invalidKey)
            } else {
                fx.logs.clear()
                try await lenient.set("key with spaces", 1)
                #expect(try await lenient.get("key with spaces", as: Int.self) == 1)
                let warnings = fx.logs.entries.filter { $0.level == .warning }
                #expect(warnings.count == 2)
                #expect(warnings.allSatisfy { "\($0.message)".contains("':1:key with spaces'") })
                #expect(warnings.first?.metadata["cache.warning"] == "CacheKeyWarning")
            }
        },
    ]
}
