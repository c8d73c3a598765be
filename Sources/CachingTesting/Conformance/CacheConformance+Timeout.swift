import Caching
import Testing

extension CacheConformance {
    /// Timeouts: the default, never, zero and negative, touch.
    public static let timeouts: [CacheConformanceCheck] = [
        CacheConformanceCheck("a value expires after its timeout", id: "expiration", lettingTimePass: true) { fx async throws in
            try await fx.cache.set("expire1", "very quickly", timeout: 1)
            try await fx.cache.set("expire2", "very quickly", timeout: 1)
            try await fx.cache.set("expire3", "very quickly", timeout: 1)
            try await fx.pass(1)
            #expect(try await fx.cache.get("expire1", as: String.self) == nil)
            #expect(try await fx.cache.add("expire2", "newvalue"))
            #expect(try await fx.cache.get("expire2", as: String.self) == "newvalue")
            #expect(try await fx.cache.hasKey("expire3") == false)
        },
        CacheConformanceCheck("the default timeout is the configured one", id: "defaultTimeout", lettingTimePass: true) { fx async throws in
            let cache = try await fx.cache(defaultTimeout: .seconds(2))
            try await cache.set("k", 1)
            try await cache.add("a", 1)
            try await cache.setMany(["m": 1])
            #expect(try await cache.get("k", as: Int.self) == 1)
            try await fx.pass(2)
            #expect(try await cache.get("k", as: Int.self) == nil)
            #expect(try await cache.get("a", as: Int.self) == nil)
            #expect(try await cache.get("m", as: Int.self) == nil)
        },
        CacheConformanceCheck("the default timeout is 300 seconds unless configured", id: "fiveMinutes", lettingTimePass: true) {
            fx async throws in
            #expect(fx.cache.configuration.defaultTimeout == .seconds(300))
            guard fx.canTravelFar else { return }
            try await fx.cache.set("k", 1)
            try await fx.pass(299)
            #expect(try await fx.cache.hasKey("k"))
            try await fx.pass(1)
            #expect(try await fx.cache.hasKey("k") == false)
        },
        CacheConformanceCheck("a never-expiring value outlives any default", id: "forever", lettingTimePass: true) { fx async throws in
            let shortDefault = try await fx.cache(defaultTimeout: .seconds(1))
            try await shortDefault.set("key1", "eggs", timeout: .never)
            #expect(try await shortDefault.add("key2", "ham", timeout: .never))
            #expect(try await shortDefault.add("key1", "new eggs", timeout: .never) == false)
            try await shortDefault.setMany(["key3": "sausage", "key4": "lobster bisque"], timeout: .never)
            try await shortDefault.set("key5", "belgian fries", timeout: 1)
            #expect(try await shortDefault.touch("key5", timeout: .never))
            try await fx.pass(fx.canTravelFar ? 86_400 * 400 : 1)
            #expect(try await shortDefault.get("key1", as: String.self) == "eggs")
            #expect(try await shortDefault.get("key2", as: String.self) == "ham")
            #expect(try await shortDefault.get("key3", as: String.self) == "sausage")
            #expect(try await shortDefault.get("key4", as: String.self) == "lobster bisque")
            #expect(try await shortDefault.get("key5", as: String.self) == "belgian fries")
        },
        CacheConformanceCheck("a never-expiring default timeout keeps values", id: "neverDefault", lettingTimePass: true) {
            fx async throws in
            let cache = try await fx.cache(defaultTimeout: .never)
            try await cache.set("k", 1)
            try await fx.pass(fx.canTravelFar ? 86_400 * 40 : 1)
            #expect(try await cache.get("k", as: Int.self) == 1)
        },
        CacheConformanceCheck("a timeout longer than 30 days works", id: "longTimeout", lettingTimePass: true) { fx async throws in
            let thirtyDaysAndASecond = CacheTimeout.seconds(60 * 60 * 24 * 30 + 1)
            try await fx.cache.set("key1", "eggs", timeout: thirtyDaysAndASecond)
            #expect(try await fx.cache.add("key2", "ham", timeout: thirtyDaysAndASecond))
            try await fx.cache.setMany(["key3": "sausage"], timeout: thirtyDaysAndASecond)
            #expect(try await fx.cache.get("key1", as: String.self) == "eggs")
            #expect(try await fx.cache.get("key2", as: String.self) == "ham")
            #expect(try await fx.cache.get("key3", as: String.self) == "sausage")
            if fx.canTravelFar {
                try await fx.pass(60 * 60 * 24 * 30)
                #expect(try await fx.cache.hasKey("key1"))
                try await fx.pass(1)
                #expect(try await fx.cache.hasKey("key1") == false)
            }
        },
        CacheConformanceCheck("a timeout of zero stores nothing and removes the old value", id: "zeroTimeout") { fx async throws in
            try await fx.cache.set("key1", "eggs", timeout: 0)
            #expect(try await fx.cache.get("key1", as: String.self) == nil)
            #expect(try await fx.cache.add("key2", "ham", timeout: 0))
            #expect(try await fx.cache.get("key2", as: String.self) == nil)
            #expect(try await fx.cache.setMany(["key3": "sausage"], timeout: 0) == [])
            #expect(try await fx.cache.get("key3", as: String.self) == nil)
            try await fx.cache.set("key4", "lobster", timeout: .never)
            #expect(try await fx.cache.touch("key4", timeout: 0))
            #expect(try await fx.cache.get("key4", as: String.self) == nil)
            try await fx.cache.set("existing", "old")
            try await fx.cache.set("existing", "new", timeout: 0)
            #expect(try await fx.cache.get("existing", as: String.self) == nil)
            try await fx.cache.set("present", "kept")
            #expect(try await fx.cache.add("present", "other", timeout: 0) == false)
            #expect(try await fx.cache.get("present", as: String.self) == "kept")
            try await fx.cache.set("many", "old")
            try await fx.cache.setMany(["many": "new"], timeout: 0)
            #expect(try await fx.cache.hasKey("many") == false)
            #expect(try await fx.cache.getOrSet("gos", default: 5, timeout: 0) == 5)
            #expect(try await fx.cache.hasKey("gos") == false)
        },
        CacheConformanceCheck("a negative timeout behaves like zero", id: "negativeTimeout") { fx async throws in
            try await fx.cache.set("k", 1)
            try await fx.cache.set("k", 2, timeout: -5)
            #expect(try await fx.cache.hasKey("k") == false)
            #expect(try await fx.cache.add("n", 1, timeout: -1))
            #expect(try await fx.cache.hasKey("n") == false)
            try await fx.cache.set("t", 1)
            #expect(try await fx.cache.touch("t", timeout: .duration(.seconds(-3))))
            #expect(try await fx.cache.hasKey("t") == false)
        },
        CacheConformanceCheck("a fractional timeout is honoured", id: "floatTimeout") { fx async throws in
            try await fx.cache.set("key1", "spam", timeout: 100.2)
            #expect(try await fx.cache.get("key1", as: String.self) == "spam")
            try await fx.cache.set("key2", "ham", timeout: .duration(.milliseconds(2500)))
            #expect(try await fx.cache.get("key2", as: String.self) == "ham")
        },
        CacheConformanceCheck("touch gives a live value a new timeout", id: "touch", lettingTimePass: true) { fx async throws in
            // Short timeouts, but long enough that each touch arrives while the value lives on a
            // server's one-second clock, even on a loaded machine.
            try await fx.cache.set("expire1", "very quickly", timeout: 3)
            #expect(try await fx.cache.touch("expire1", timeout: 4))
            try await fx.pass(2)
            #expect(try await fx.cache.hasKey("expire1"))
            try await fx.pass(2)
            #expect(try await fx.cache.hasKey("expire1") == false)
            try await fx.cache.set("expire2", "very quickly", timeout: 2)
            #expect(try await fx.cache.touch("expire2"))
            try await fx.pass(3)
            #expect(try await fx.cache.hasKey("expire2"))
            #expect(try await fx.cache.touch("nonexistent") == false)
            #expect(try await fx.cache.get("expire2", as: String.self) == "very quickly")
        },
        CacheConformanceCheck("touch on an expired key returns false", id: "touchExpired", lettingTimePass: true) { fx async throws in
            try await fx.cache.set("k", 1, timeout: 1)
            try await fx.pass(1)
            #expect(try await fx.cache.touch("k", timeout: 100) == false)
            #expect(try await fx.cache.hasKey("k") == false)
        },
    ]
}
