import Caching
import CachingTesting
import InMemoryLogging
import Logging
import Testing

/// CacheSettings (Django's CACHES shape) and Caches (aliases, overrides).
@Suite("Settings and aliases")
struct SettingsAndAliasTests {
    @Test("a Django-shaped CACHES document loads, dotted paths included")
    func loadsDjangoShape() async throws {
        let json = """
            {
              "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "unique-snowflake"},
              "short": {"BACKEND": "locmem", "TIMEOUT": 60, "KEY_PREFIX": "app", "VERSION": 2,
                        "OPTIONS": {"MAX_ENTRIES": 1000, "CULL_FREQUENCY": 4}},
              "forever": {"BACKEND": "locmem", "TIMEOUT": null, "LOCATION": ["a"]},
              "off": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
              "lenient": {"BACKEND": "locmem", "KEY_VALIDATION": "warn", "TIMEOUT": 1.5}
            }
            """
        let caches = try Caches(json: Array(json.utf8))
        #expect(caches.aliases == ["default", "forever", "lenient", "off", "short"])
        let short = try caches["short"]
        #expect(short.configuration.keyPrefix == "app")
        #expect(short.configuration.version == 2)
        #expect(short.configuration.defaultTimeout == .seconds(60))
        #expect(short.makeKey("k") == "app:2:k")
        #expect(try caches["forever"].configuration.defaultTimeout == .never)
        #expect(try caches["lenient"].configuration.keyValidation == .warn)
        #expect(try caches["lenient"].configuration.defaultTimeout == .seconds(1.5))
        #expect(try caches.default.backend is LocalMemoryBackend)
        #expect(try caches["off"].backend is DummyBackend)
        #expect((try caches["default"].backend as? LocalMemoryBackend)?.location == "unique-snowflake")
        #expect(caches.settings["short"]?.options["MAX_ENTRIES"] == .int(1000))
        try await caches.default.set("k", 1)
        #expect(try await caches["default"].get("k", as: Int.self) == 1)
        try await caches.closeAll()
    }

    @Test("defaults: TIMEOUT 300, VERSION 1, no prefix, strict keys")
    func defaults() throws {
        let caches = try Caches(json: Array(#"{"default": {"BACKEND": "locmem"}}"#.utf8))
        let configuration = try caches.default.configuration
        #expect(configuration.defaultTimeout == .seconds(300))
        #expect(configuration.version == 1)
        #expect(configuration.keyPrefix == "")
        #expect(configuration.keyValidation == .strict)
    }

    @Test("settings encode back to Django's keys")
    func roundTrip() throws {
        let settings = CacheSettings(backend: "locmem", location: ["x"], timeout: .never, keyPrefix: "p", version: 3)
        let value = settings.jsonValue
        #expect(
            value == [
                "BACKEND": "locmem", "LOCATION": "x", "TIMEOUT": nil, "KEY_PREFIX": "p", "VERSION": 3, "OPTIONS": [:],
                "KEY_VALIDATION": "strict",
            ])
        let again = try CacheSettings(value, alias: "a")
        #expect(again.location == ["x"])
        #expect(again.timeout == .never)
    }

    @Test("the same alias is the same instance; locations are shared across aliases")
    func sameInstance() async throws {
        let caches = try Caches([
            "a": CacheSettings(backend: "locmem", location: "shared-\(UniqueName.next())")
        ])
        let first = try caches["a"]
        try await first.set("k", 1)
        #expect(try await caches["a"].get("k", as: Int.self) == 1)
    }

    /// Malformed settings, each with the words its error must contain.
    static let malformed: [(String, [String])] = [
        (#"not json"#, ["not valid JSON"]),
        (#"[1, 2]"#, ["must be a JSON object of aliases", "a list"]),
        (#"{"default": 5}"#, [#"CACHES["default"]"#, "must be an object"]),
        (#"{"default": {}}"#, [#"CACHES["default"]["BACKEND"]"#, "is missing"]),
        (#"{"default": {"BACKEND": 3}}"#, [#"CACHES["default"]["BACKEND"]"#, "non-empty string"]),
        (#"{"default": {"BACKEND": ""}}"#, [#"["BACKEND"]"#]),
        (#"{"x": {"BACKEND": "locmem", "TIMEOUT": "60"}}"#, [#"CACHES["x"]["TIMEOUT"]"#, "number of seconds or null", #""60""#]),
        (#"{"x": {"BACKEND": "locmem", "TIMEOUT": []}}"#, [#"["TIMEOUT"]"#]),
        (#"{"x": {"BACKEND": "locmem", "VERSION": "2"}}"#, [#"CACHES["x"]["VERSION"]"#, "integer"]),
        (#"{"x": {"BACKEND": "locmem", "VERSION": 1.5}}"#, [#"["VERSION"]"#]),
        (#"{"x": {"BACKEND": "locmem", "KEY_PREFIX": 1}}"#, [#"["KEY_PREFIX"]"#, "string"]),
        (#"{"x": {"BACKEND": "locmem", "LOCATION": 5}}"#, [#"["LOCATION"]"#, "string or a list of strings"]),
        (#"{"x": {"BACKEND": "locmem", "LOCATION": ["a", 1]}}"#, [#"["LOCATION"]"#, "in the list"]),
        (#"{"x": {"BACKEND": "locmem", "OPTIONS": []}}"#, [#"["OPTIONS"]"#, "object"]),
        (#"{"x": {"BACKEND": "locmem", "KEY_VALIDATION": "loose"}}"#, [#"["KEY_VALIDATION"]"#, #""strict" or "warn""#]),
        (#"{"x": {"BACKEND": "locmem", "TIMEOUTS": 5}}"#, [#"CACHES["x"]["TIMEOUTS"]"#, "is not a setting"]),
        (#"{"x": {"BACKEND": "locmem", "KEY_FUNCTION": "a.b"}}"#, [#"["KEY_FUNCTION"]"#, "keyFunction in Swift"]),
        (#"{"x": {"BACKEND": "locmem", "OPTIONS": {"MAX_ENTRIES": "many"}}}"#, [#"CACHES["x"]["OPTIONS"]["MAX_ENTRIES"]"#, "integer"]),
        (#"{"x": {"BACKEND": "locmem", "OPTIONS": {"CULL_FREQUENCY": -1}}}"#, [#"["OPTIONS"]["CULL_FREQUENCY"]"#, "0 or more"]),
        (
            #"{"x": {"BACKEND": "locmem", "OPTIONS": {"MAX_ENTRY": 5}}}"#,
            [#"["OPTIONS"]["MAX_ENTRY"]"#, "not an option of the locmem backend"]
        ),
    ]

    @Test("malformed settings give invalidSettings naming the alias and the setting", arguments: Self.malformed)
    func malformedSettings(json: String, words: [String]) {
        let error = #expect(throws: CacheError.self) { try Caches(json: Array(json.utf8)) }
        #expect(error?.code == .invalidSettings)
        for word in words {
            #expect(error?.message.contains(word) == true, "message '\(error?.message ?? "")' lacks '\(word)'")
        }
    }

    @Test("an unknown backend names the alias, the backend and what is known")
    func unknownBackend() {
        let error = #expect(throws: CacheError.self) {
            try Caches(json: Array(#"{"sessions": {"BACKEND": "django.core.cache.backends.redis.RedisCache"}}"#.utf8))
        }
        #expect(error?.code == .unknownBackend)
        #expect(error?.message.contains(#"CACHES["sessions"]["BACKEND"]"#) == true)
        #expect(error?.message.contains("RedisCache") == true)
        #expect(error?.message.contains("locmem") == true)
    }

    @Test("an unknown alias names the alias and the configured ones")
    func unknownAlias() throws {
        let caches = try Caches(["default": CacheSettings(backend: "locmem")])
        let error = #expect(throws: CacheError.self) { try caches["nonexistent"] }
        #expect(error?.code == .unknownAlias)
        #expect(error?.message == "The cache alias 'nonexistent' doesn't exist; configured aliases: default")
        let empty = try Caches([:])
        let noDefault = #expect(throws: CacheError.self) { try empty.default }
        #expect(noDefault?.message.contains("'default'") == true)
    }

    @Test("a missing or unreadable settings file is an invalidSettings error naming the path")
    func missingFile() {
        let error = #expect(throws: CacheError.self) { try Caches(contentsOf: "/nonexistent/caches.json") }
        #expect(error?.code == .invalidSettings)
        #expect(error?.message.contains("/nonexistent/caches.json") == true)
    }

    @Test("custom backends register by name")
    func customBackend() throws {
        var backends = CacheBackends.standard
        backends.register("myapp.TinyCache") { context in
            LocalMemoryBackend(maxEntries: 2, clock: context.configuration.clock)
        }
        let caches = try Caches(["default": CacheSettings(backend: "myapp.TinyCache", keyPrefix: "t")], backends: backends)
        #expect(try caches.default.makeKey("k") == "t:1:k")
    }

    @Test("a key function set in Swift reaches the alias")
    func keyFunction() throws {
        var settings = CacheSettings(backend: "locmem")
        settings.keyFunction = { key, prefix, version in "\(prefix)|\(version)|\(key)" }
        let caches = try Caches(["default": settings])
        #expect(try caches.default.makeKey("k") == "|1|k")
    }

    @Test("every alias shares the clock and gets alias and backend in its logger metadata")
    func clockAndLogger() async throws {
        let clock = ManualCacheClock()
        let caches = try Caches(
            ["default": CacheSettings(backend: "locmem")], clock: clock,
            logger: Logger(label: "test", factory: { _ in InMemoryLogHandler() }))
        let cache = try caches.default
        try await cache.set("k", 1, timeout: 10)
        clock.advance(by: 10)
        #expect(try await cache.hasKey("k") == false)
        #expect(cache.configuration.logger[metadataKey: "cache.alias"] == "default")
        #expect(cache.configuration.logger[metadataKey: "cache.backend"] == "locmem")
    }

    @Test("an override replaces an alias only inside its scope, and only for its tasks")
    func override() async throws {
        let caches = try Caches(["default": CacheSettings(backend: "locmem", location: "ov-\(UniqueName.next())")])
        let replacement = Cache.localMemory()
        try await replacement.set("who", "replacement")
        try await caches.default.set("who", "configured")
        let (inside, outsideConcurrently) = try await caches.withOverride("default", replacement) {
            let inside = try await caches.default.get("who", as: String.self)
            let concurrent = Task.detached { try await caches.default.get("who", as: String.self) }
            return (inside, try await concurrent.value)
        }
        #expect(inside == "replacement")
        #expect(outsideConcurrently == "configured")
        #expect(try await caches.default.get("who", as: String.self) == "configured")
        let other = try Caches(["default": CacheSettings(backend: "dummy")])
        try await caches.withOverride("default", replacement) { () async throws in
            #expect(try other.default.backend is DummyBackend)
            #expect(throws: CacheError.self) { try caches["extra"] }
        }
    }

    @Test("overrides in parallel tasks do not see each other")
    func parallelOverrides() async throws {
        let caches = try Caches(["default": CacheSettings(backend: "dummy")])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<50 {
                group.addTask {
                    try await caches.withOverride("default", Cache.localMemory()) {
                        try await caches.default.set("id", index)
                        await Task.yield()
                        #expect(try await caches.default.get("id", as: Int.self) == index)
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}
