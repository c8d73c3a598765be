import Caching
import CachingRedis
import Testing

extension RedisTests {
    /// LOCATION and OPTIONS as Django writes them; every mistake is an error naming the alias and
    /// the setting, and no error or description shows a password.
    @Suite("Redis: settings")
    struct RedisSettingsTests {
        func caches(_ json: String) throws -> Caches {
            try Caches(json: Array(json.utf8), backends: CacheBackends.standard.withRedis())
        }

        func settingsError(_ json: String) -> CacheError? {
            #expect(throws: CacheError.self) { _ = try caches(json).default }
        }

        @Test("both names select the Redis backend", arguments: CacheBackends.redisNames)
        func names(_ name: String) throws {
            let cache = try caches(#"{"default": {"BACKEND": "\#(name)", "LOCATION": "redis://127.0.0.1:6379"}}"#).default
            #expect(cache.capabilities.name == "redis")
            #expect(cache.capabilities.sharedAcrossProcesses)
            #expect(!cache.capabilities.requiresValidKeys)
        }

        @Test("a LOCATION string with commas and a LOCATION list both give servers in order; the first takes writes")
        func locations() throws {
            let fromString = try RedisServerAddress.parse(location: ["redis://a:1, redis://b:2/3"], alias: "x")
            let fromList = try RedisServerAddress.parse(location: ["redis://a:1", "redis://b:2/3"], alias: "x")
            #expect(fromString == fromList)
            #expect(fromString.map(\.description) == ["redis://a:1", "redis://b:2/3"])
            let backend = try RedisBackend(location: ["redis://a:1,redis://b:2"])
            #expect(backend.servers.count == 2)
            #expect(backend.capabilities.mayMoveKeysOnFailure, "a read may reach a replica without a recent write")
        }

        @Test("URL forms: port, database, credentials, IPv6, unix sockets")
        func urlForms() throws {
            let plain = try #require(RedisServerAddress(parsing: "redis://cache.internal"))
            #expect(plain.endpoint == .tcp(host: "cache.internal", port: 6379) && plain.database == nil && plain.password == nil)
            let full = try #require(RedisServerAddress(parsing: "redis://app:p%40ss@127.0.0.1:6380/4"))
            #expect(full.endpoint == .tcp(host: "127.0.0.1", port: 6380))
            #expect(full.database == 4 && full.username == "app" && full.password == "p@ss")
            let passwordOnly = try #require(RedisServerAddress(parsing: "redis://:secret@127.0.0.1"))
            #expect(passwordOnly.username == nil && passwordOnly.password == "secret")
            let six = try #require(RedisServerAddress(parsing: "redis://[::1]:6390"))
            #expect(six.endpoint == .tcp(host: "::1", port: 6390) && six.description == "redis://[::1]:6390")
            let unix = try #require(RedisServerAddress(parsing: "unix:///run/redis.sock?db=2"))
            #expect(unix.endpoint == .unixSocket(path: "/run/redis.sock") && unix.database == 2)
            for bad in [
                "127.0.0.1:6379", "redis://", "redis://host:0", "redis://host:65536", "redis://host/x", "redis://a:b:c", "unix://",
                "unix://relative", "memcached://h",
            ] {
                #expect(RedisServerAddress(parsing: bad) == nil, "\(bad)")
            }
        }

        @Test("a bad LOCATION names the alias and the entry, with its password masked")
        func badLocation() {
            let error = settingsError(#"{"sessions": {"BACKEND": "redis", "LOCATION": "redis://:hunter2@host:notaport"}}"#)
            #expect(error?.code == .invalidSettings)
            #expect(error?.message.contains("sessions") == true && error?.message.contains("LOCATION") == true)
            #expect(error?.message.contains("hunter2") == false, "\(error?.message ?? "")")
            #expect(error?.message.contains("redis://***@host:notaport") == true, "\(error?.message ?? "")")
            let tls = settingsError(#"{"default": {"BACKEND": "redis", "LOCATION": "rediss://:topsecret@host:6380"}}"#)
            #expect(tls?.message.contains("TLS") == true && tls?.message.contains("topsecret") == false)
            let none = settingsError(#"{"default": {"BACKEND": "redis", "LOCATION": " , "}}"#)
            #expect(none?.message.contains("names no Redis server") == true)
            let bare = settingsError(#"{"default": {"BACKEND": "redis", "LOCATION": "127.0.0.1:6379"}}"#)
            #expect(bare?.message.contains("not a Redis server URL") == true)
        }

        @Test("OPTIONS are read, with redis-py's names as synonyms")
        func options() throws {
            let settings = try CacheSettings(
                .object([
                    "BACKEND": .string("redis"), "LOCATION": .string("redis://h"),
                    "OPTIONS": .object([
                        "pool_size": .int(4), "socket_connect_timeout": .double(0.25), "timeout": .double(0.5), "db": .int(3),
                        "password": .string("pw"), "username": .string("app"), "servers_never_evict": .bool(true),
                    ]),
                ]), alias: "a")
            let options = try RedisOptions(settings: settings, alias: "a")
            #expect(options.poolSize == 4 && options.connectTimeout == 0.25 && options.timeout == 0.5 && options.database == 3)
            #expect(options.password == "pw" && options.username == "app" && options.serversNeverEvict)
            #expect(!"\(options)".contains("pw,") && "\(options)".contains("password: ***"))
        }

        @Test(
            "an unknown or invalid option is an error naming the alias and the option",
            arguments: [
                (#"{"max_entries": 10}"#, "max_entries"), (#"{"pool_size": 0}"#, "pool_size"), (#"{"timeout": -1}"#, "timeout"),
                (#"{"connect_timeout": "fast"}"#, "connect_timeout"), (#"{"db": -2}"#, "db"), (#"{"password": 12345}"#, "password"),
                (#"{"timeout": 1, "socket_timeout": 2}"#, "socket_timeout"),
                (#"{"parser_class": "redis.connection.HiredisParser"}"#, "parser_class"),
                (#"{"read_timeout": 0}"#, "read_timeout"), (#"{"read_timeout": "soon"}"#, "read_timeout"),
            ])
        func badOptions(_ options: String, _ name: String) {
            let error = settingsError(#"{"edge": {"BACKEND": "redis", "LOCATION": "redis://h", "OPTIONS": \#(options)}}"#)
            #expect(error?.code == .invalidSettings)
            #expect(error?.message.contains("edge") == true && error?.message.contains(name) == true, "\(error?.message ?? "")")
            #expect(error?.message.contains("12345") == false, "a password is never quoted")
        }

        @Test("read_timeout: null or absent promises no read bound; seconds are declared as readTimeLimit, plus the watchdog's period")
        func readTimeout() throws {
            let caches = try caches(
                #"""
                {"none": {"BACKEND": "redis", "LOCATION": "redis://h"},
                 "null": {"BACKEND": "redis", "LOCATION": "redis://h", "OPTIONS": {"read_timeout": null}},
                 "bounded": {"BACKEND": "redis", "LOCATION": "redis://h", "OPTIONS": {"read_timeout": 0.2}}}
                """#)
            #expect(try caches["none"].capabilities.readTimeLimit == nil)
            #expect(try caches["null"].capabilities.readTimeLimit == nil)
            let bound = try #require(try caches["bounded"].capabilities.readTimeLimit)
            // A tenth of the limit between 1 and 50 ms: 0.2 s + 20 ms.
            #expect(bound == .milliseconds(220))
        }

        @Test("an address's description, debug description and mirror never hold its password")
        func addressHidesPassword() throws {
            let address = try #require(RedisServerAddress(parsing: "redis://user:sup3rsecret@127.0.0.1:6379/1"))
            var dumped = ""
            dump(address, to: &dumped)
            for text in [address.description, address.debugDescription, String(reflecting: address), dumped] {
                #expect(!text.contains("sup3rsecret"), "\(text)")
            }
        }
    }
}
