import Caching
import CachingTesting
import Testing

/// Cache against its own rules (Django's DummyCacheTests).
@Suite("DummyCache")
struct DummyCacheTests {
    let cache = Cache.dummy()

    @Test("set is ignored and get misses, for every type")
    func simple() async throws {
        try await cache.set("key", "value")
        try await cache.set("int", 1)
        try await cache.set("profile", Profile(name: "a", age: 1, tags: []))
        #expect(try await cache.get("key", as: String.self) == nil)
        #expect(try await cache.get("int", as: Int.self) == nil)
        #expect(try await cache.get("profile", as: Profile.self) == nil)
        #expect(try await cache.get("key", default: "default") == "default")
    }

    @Test("add always succeeds and stores nothing")
    func add() async throws {
        #expect(try await cache.add("addkey1", "value"))
        #expect(try await cache.add("addkey1", "newvalue"))
        #expect(try await cache.get("addkey1", as: String.self) == nil)
    }

    @Test("getMany is always empty; setMany fails nothing; deleteMany and clear do nothing")
    func many() async throws {
        #expect(try await cache.getMany(["a", "b"], as: String.self) == [:])
        #expect(try await cache.setMany(["a": "a", "b": "b"]) == [])
        #expect(try await cache.setMany(["a": "a"], timeout: 2, version: 1) == [])
        try await cache.deleteMany(["a", "b"])
        try await cache.clear()
        try await cache.close()
    }

    @Test("delete, hasKey and touch return false")
    func deleteHasKeyTouch() async throws {
        try await cache.set("key1", "spam")
        #expect(try await cache.delete("key1") == false)
        #expect(try await cache.hasKey("key1") == false)
        #expect(try await cache.touch("key1") == false)
    }

    @Test("incr, decr, incrVersion and decrVersion always throw keyNotFound")
    func counters() async throws {
        try await cache.set("answer", 42)
        let operations: [() async throws -> Void] = [
            { try await cache.incr("answer") }, { try await cache.incr("does_not_exist") },
            { try await cache.incr("answer", by: -1) }, { try await cache.decr("answer") },
            { try await cache.decr("does_not_exist") }, { try await cache.decr("answer", by: -1) },
            { try await cache.incrVersion("answer") }, { try await cache.decrVersion("answer") },
        ]
        for operation in operations {
            let error = await #expect(throws: CacheError.self) { try await operation() }
            #expect(error?.code == .keyNotFound)
        }
    }

    @Test("getOrSet returns the default and runs the closure each time")
    func getOrSet() async throws {
        #expect(try await cache.getOrSet("mykey", default: "default") == "default")
        #expect(try await cache.getOrSet("mykey", default: String?.none) == nil)
        let calls = CallCounter()
        #expect(
            try await cache.getOrSet("mykey") {
                calls.increment()
                return 7
            } == 7)
        #expect(
            try await cache.getOrSet("mykey") {
                calls.increment()
                return 8
            } == 8)
        #expect(calls.value == 2)
    }

    @Test("keys are still validated")
    func validation() async throws {
        let error = await #expect(throws: CacheError.self) { try await cache.set("key with spaces", 1) }
        #expect(error?.code == .invalidKey)
        await #expect(throws: CacheError.self) { try await cache.getMany(["ok", "key with spaces"], as: Int.self) }
        await #expect(throws: CacheError.self) { try await cache.setMany(["ok": 1, "key with spaces": 2]) }
        await #expect(throws: CacheError.self) { try await cache.deleteMany(["ok", "key with spaces"]) }
    }
}

/// A Codable value stored as JSON.
private struct Profile: Codable, Sendable, Equatable {
    var name: String
    var age: Int
    var tags: [String]
}
