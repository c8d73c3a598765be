import Caching
import CachingConfiguration
import CachingMemcached
import CachingPostgres
import CachingRedis
import CachingSQLite
import CachingTesting
import Configuration
import InMemoryLogging
import Logging
import Synchronization
import SystemPackage
import Testing

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// An in-memory provider from dotted keys.
func inMemory(_ values: [String: ConfigValue], name: String? = nil) -> InMemoryProvider {
    InMemoryProvider(
        name: name,
        values: Dictionary(
            uniqueKeysWithValues: values.map { key, value in
                (AbsoluteConfigKey(key.split(separator: ".").map(String.init)), value)
            }))
}

/// An environment provider over an explicit dictionary: the process's environment is never read
/// nor changed.
func environment(_ variables: [String: String]) -> EnvironmentVariablesProvider {
    EnvironmentVariablesProvider(environmentVariables: variables)
}

/// The settings a JSON document gives, alias by alias, as JSON values (CacheSettings is not
/// Equatable; its JSON value is, and holds every setting).
func jsonSettings(_ json: String) throws -> [String: SettingsValue] {
    try CacheSettings.parse(json: Array(json.utf8)).mapValues(\.jsonValue)
}

func readerSettings(_ providers: any ConfigProvider...) async throws -> [String: SettingsValue] {
    try await CacheSettings.settings(from: ConfigReader(providers: providers)).mapValues(\.jsonValue)
}

/// The message of the CacheError an operation throws.
func errorMessage(_ operation: () async throws -> Void) async -> String? {
    do {
        try await operation()
        return nil
    } catch let error as CacheError {
        return "\(error.code): \(error.message)"
    } catch {
        return "not a CacheError: \(error)"
    }
}

/// Every backend of the package, as the example registers them.
let allBackends = CacheBackends.standard.withMemcached().withRedis().withSQLite().withPostgres()

@Suite("Cache settings from a ConfigReader")
struct ConfigReaderSettingsTests {
    @Test("in-memory values give the same settings as the same Django-shaped JSON")
    func inMemoryEqualsJSON() async throws {
        let fromReader = try await readerSettings(
            inMemory([
                "caches.aliases": .init(.stringArray(["default", "shared", "files"]), isSecret: false),
                "caches.default.backend": "django.core.cache.backends.locmem.LocMemCache",
                "caches.default.location": "main",
                "caches.default.timeout": .init(.int(60), isSecret: false),
                "caches.default.key_prefix": "app",
                "caches.default.version": .init(.int(3), isSecret: false),
                "caches.default.key_validation": "warn",
                "caches.default.options.max_entries": .init(.int(50), isSecret: false),
                "caches.default.options.when_full": "refuse",
                "caches.shared.backend": "memcached",
                "caches.shared.location": .init(.stringArray(["127.0.0.1:11211", "127.0.0.1:11212"]), isSecret: false),
                "caches.shared.timeout": .init(.double(0.5), isSecret: false),
                "caches.shared.options.pool_size": .init(.int(8), isSecret: false),
                "caches.shared.options.tcp_nodelay": .init(.bool(true), isSecret: false),
                "caches.shared.options.max_value_size": .init(.int(2_000_000), isSecret: false),
                "caches.files.backend": "file",
                "caches.files.location": "/var/tmp/django_cache",
                "caches.files.options.max_value_size": .init(.int(4096), isSecret: false),
                "caches.files.options.shared_group": .init(.bool(true), isSecret: false),
            ]))
        let fromJSON = try jsonSettings(
            """
            {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "main", "TIMEOUT": 60,
                         "KEY_PREFIX": "app", "VERSION": 3, "KEY_VALIDATION": "warn",
                         "OPTIONS": {"MAX_ENTRIES": 50, "WHEN_FULL": "refuse"}},
             "shared": {"BACKEND": "memcached", "LOCATION": ["127.0.0.1:11211", "127.0.0.1:11212"], "TIMEOUT": 0.5,
                        "OPTIONS": {"pool_size": 8, "tcp_nodelay": true, "max_value_size": 2000000}},
             "files": {"BACKEND": "file", "LOCATION": "/var/tmp/django_cache",
                       "OPTIONS": {"MAX_VALUE_SIZE": 4096, "SHARED_GROUP": true}}}
            """)
        #expect(fromReader == fromJSON)
    }

    @Test("environment variables give the same settings as the same Django-shaped JSON")
    func environmentEqualsJSON() async throws {
        let fromReader = try await readerSettings(
            environment([
                "CACHES_ALIASES": "default,sessions,db",
                "CACHES_DEFAULT_BACKEND": "locmem",
                "CACHES_DEFAULT_TIMEOUT": "null",
                "CACHES_DEFAULT_OPTIONS_MAX_ENTRIES": "50",
                "CACHES_DEFAULT_OPTIONS_CULL_FREQUENCY": "0",
                "CACHES_SESSIONS_BACKEND": "redis",
                "CACHES_SESSIONS_LOCATION": "redis://127.0.0.1:6379/1,redis://127.0.0.1:6380/1",
                "CACHES_SESSIONS_TIMEOUT": "1.5",
                "CACHES_SESSIONS_KEY_PREFIX": "s",
                "CACHES_SESSIONS_VERSION": "2",
                "CACHES_SESSIONS_OPTIONS_PASSWORD": "1234",
                "CACHES_SESSIONS_OPTIONS_READ_TIMEOUT": "null",
                "CACHES_SESSIONS_OPTIONS_SERVERS_NEVER_EVICT": "true",
                "CACHES_DB_BACKEND": "db",
                "CACHES_DB_LOCATION": "cache_table",
                "CACHES_DB_OPTIONS_DATABASE": "/var/lib/app/cache.sqlite3",
                "CACHES_DB_OPTIONS_BUSY_TIMEOUT": "2",
            ]))
        let fromJSON = try jsonSettings(
            """
            {"default": {"BACKEND": "locmem", "TIMEOUT": null, "OPTIONS": {"MAX_ENTRIES": 50, "CULL_FREQUENCY": 0}},
             "sessions": {"BACKEND": "redis", "LOCATION": ["redis://127.0.0.1:6379/1", "redis://127.0.0.1:6380/1"],
                          "TIMEOUT": 1.5, "KEY_PREFIX": "s", "VERSION": 2,
                          "OPTIONS": {"password": "1234", "read_timeout": null, "servers_never_evict": true}},
             "db": {"BACKEND": "db", "LOCATION": "cache_table",
                    "OPTIONS": {"database": "/var/lib/app/cache.sqlite3", "busy_timeout": 2}}}
            """)
        #expect(fromReader == fromJSON)
        // A numeric password stays text: the option is read as the type the backend expects.
        #expect(fromReader["sessions"]?.description.contains("\"password\": \"1234\"") == true)
    }

    @Test("without caches.aliases the alias is default; with neither, BACKEND is missing as in JSON")
    func aliasRule() async throws {
        let settings = try await readerSettings(environment(["CACHES_DEFAULT_BACKEND": "dummy", "CACHES_OTHER_BACKEND": "locmem"]))
        #expect(Array(settings.keys) == ["default"])
        let missing = await errorMessage { _ = try await readerSettings(environment([:])) }
        let jsonMissing = await errorMessage { _ = try jsonSettings(#"{"default": {}}"#) }
        #expect(missing != nil)
        #expect(missing == jsonMissing)
        #expect(missing?.contains(#"CACHES["default"]["BACKEND"]"#) == true)
        for bad in ["a.b", "", " x"] {
            let message = await errorMessage {
                _ = try await readerSettings(inMemory(["caches.aliases": .init(.stringArray([bad]), isSecret: false)]))
            }
            #expect(message?.contains("caches.aliases") == true, "\(bad): \(message ?? "no error")")
        }
    }

    @Test("an unknown backend is refused naming the alias, as from JSON")
    func unknownBackend() async throws {
        let fromReader = await errorMessage {
            _ = try await Caches(
                config: ConfigReader(provider: environment(["CACHES_ALIASES": "main", "CACHES_MAIN_BACKEND": "mongodb"])))
        }
        let fromJSON = await errorMessage { _ = try Caches(json: Array(#"{"main": {"BACKEND": "mongodb"}}"#.utf8)) }
        #expect(fromReader == fromJSON)
        #expect(fromReader?.hasPrefix("unknownBackend") == true)
        #expect(fromReader?.contains(#"CACHES["main"]["BACKEND"]"#) == true)
    }

    @Test("a malformed timeout is refused with the JSON path's error, naming alias and setting")
    func malformedTimeout() async throws {
        let fromEnvironment = await errorMessage {
            _ = try await readerSettings(environment(["CACHES_DEFAULT_BACKEND": "locmem", "CACHES_DEFAULT_TIMEOUT": "soon"]))
        }
        let fromInMemory = await errorMessage {
            _ = try await readerSettings(inMemory(["caches.default.backend": "locmem", "caches.default.timeout": "soon"]))
        }
        let fromJSON = await errorMessage { _ = try jsonSettings(#"{"default": {"BACKEND": "locmem", "TIMEOUT": "soon"}}"#) }
        #expect(fromJSON?.contains(#"CACHES["default"]["TIMEOUT"]"#) == true)
        #expect(fromEnvironment == fromJSON)
        #expect(fromInMemory == fromJSON)
        let boolean = await errorMessage {
            _ = try await readerSettings(
                inMemory(["caches.default.backend": "locmem", "caches.default.timeout": .init(.bool(true), isSecret: false)]))
        }
        let jsonBoolean = await errorMessage { _ = try jsonSettings(#"{"default": {"BACKEND": "locmem", "TIMEOUT": true}}"#) }
        #expect(boolean == jsonBoolean)
    }

    @Test("an option of another backend is refused by the alias's backend, as from JSON")
    func unknownOption() async throws {
        let fromReader = await errorMessage {
            _ = try await Caches(
                config: ConfigReader(provider: environment(["CACHES_DEFAULT_BACKEND": "locmem", "CACHES_DEFAULT_OPTIONS_POOL_SIZE": "4"])),
                backends: allBackends)
        }
        let fromJSON = await errorMessage {
            _ = try Caches(json: Array(#"{"default": {"BACKEND": "locmem", "OPTIONS": {"pool_size": 4}}}"#.utf8), backends: allBackends)
        }
        #expect(fromReader == fromJSON)
        #expect(fromReader?.contains(#"CACHES["default"]["OPTIONS"]["pool_size"]"#) == true, "\(fromReader ?? "no error")")
    }

    @Test("a value of the wrong type is refused with the JSON path's error, naming alias and setting")
    func wrongType() async throws {
        let directory = TemporaryDirectory("config-wrong-type")
        defer { directory.remove() }
        let cases: [(reader: [String: String], json: String)] = [
            (
                ["CACHES_DEFAULT_BACKEND": "locmem", "CACHES_DEFAULT_OPTIONS_MAX_ENTRIES": "many"],
                #"{"default": {"BACKEND": "locmem", "OPTIONS": {"MAX_ENTRIES": "many"}}}"#
            ),
            (
                ["CACHES_DEFAULT_BACKEND": "locmem", "CACHES_DEFAULT_VERSION": "2.5"],
                #"{"default": {"BACKEND": "locmem", "VERSION": 2.5}}"#
            ),
            // The environment reads yes/no and 1/0 as booleans too; "maybe" is none of them. The
            // option is refused before the directory would be created.
            (
                [
                    "CACHES_DEFAULT_BACKEND": "file", "CACHES_DEFAULT_LOCATION": directory.path,
                    "CACHES_DEFAULT_OPTIONS_SHARED_GROUP": "maybe",
                ],
                #"{"default": {"BACKEND": "file", "LOCATION": "\#(directory.path)", "OPTIONS": {"SHARED_GROUP": "maybe"}}}"#
            ),
            (
                ["CACHES_DEFAULT_BACKEND": "locmem", "CACHES_DEFAULT_KEY_VALIDATION": "lenient"],
                #"{"default": {"BACKEND": "locmem", "KEY_VALIDATION": "lenient"}}"#
            ),
        ]
        for (variables, json) in cases {
            let fromReader = await errorMessage {
                _ = try await Caches(config: ConfigReader(provider: environment(variables)), backends: allBackends)
            }
            let fromJSON = await errorMessage { _ = try Caches(json: Array(json.utf8), backends: allBackends) }
            #expect(fromReader != nil)
            #expect(!FileManager.default.fileExists(atPath: directory.path))
            #expect(fromReader == fromJSON, "\(variables)")
            #expect(fromReader?.contains(#"CACHES["default"]"#) == true)
        }
        // A typed provider: an integer where the backend name belongs.
        let typed = await errorMessage {
            _ = try await readerSettings(inMemory(["caches.default.backend": .init(.int(5), isSecret: false)]))
        }
        let jsonTyped = await errorMessage { _ = try jsonSettings(#"{"default": {"BACKEND": 5}}"#) }
        #expect(typed == jsonTyped)
    }

    @Test("environment variables win over a directory of files, and both over in-memory defaults")
    func precedence() async throws {
        let directory = TemporaryDirectory("config-precedence")
        try FileManager.default.createDirectory(atPath: directory.path, withIntermediateDirectories: false)
        defer { directory.remove() }
        for (name, contents) in [
            ("caches-default-backend", "locmem"), ("caches-default-timeout", "120"), ("caches-default-key_prefix", "from-file"),
        ] {
            try Data(contents.utf8).write(to: URL(fileURLWithPath: directory.path + "/" + name))
        }
        let files = try await DirectoryFilesProvider(directoryPath: FilePath(directory.path))
        let settings = try await readerSettings(
            environment(["CACHES_DEFAULT_TIMEOUT": "30"]), files,
            inMemory(["caches.default.version": .init(.int(7), isSecret: false), "caches.default.key_prefix": "from-defaults"]))
        let fromJSON = try jsonSettings(
            #"{"default": {"BACKEND": "locmem", "TIMEOUT": 30, "KEY_PREFIX": "from-file", "VERSION": 7}}"#)
        #expect(settings == fromJSON)
    }

    @Test("the option catalogue matches what each backend reads")
    func catalogueMatchesBackends() {
        let keys = CacheOptionKeys.standard
        func names(_ backend: String) -> Set<String> { Set(keys.options(forBackend: backend).map(\.name)) }
        // behaviors is an object of libmemcached behaviours: JSON only (see the article).
        #expect(names("memcached") == MemcachedOptions.names.subtracting(["behaviors"]))
        #expect(names("redis") == RedisOptions.names)
        #expect(names("db") == SQLiteOptions.names)
        #expect(names("postgres") == PostgresOptions.names)
        for name in CacheBackends.memcachedNames { #expect(names(name) == names("memcached")) }
        for name in CacheBackends.redisNames { #expect(names(name) == names("redis")) }
        for name in CacheBackends.sqliteNames { #expect(names(name) == names("db")) }
        for name in CacheBackends.postgresNames { #expect(names(name) == names("postgres")) }
        for name in CacheBackends.standard.names { #expect(keys.options(forBackend: name).count == names(name).count) }
        #expect(Set(CacheBackends.standard.names).isSubset(of: Set(allBackends.names)))
        #expect(keys.isSecret("password"))
        #expect(keys.isSecret("database"))
        #expect(!keys.isSecret("pool_size"))
    }
}

/// Records what a ConfigReader reports, as a logging access reporter would print it.
final class RecordingAccessReporter: AccessReporter {
    let lines = Mutex<[String]>([])
    func report(_ event: AccessEvent) {
        let line = "\(event.metadata.key) \(event.result) \(event.providerResults.map { "\($0.result)" })"
        lines.withLock { $0.append(line) }
    }
}

@Suite("Secrets read from a ConfigReader")
struct ConfigReaderSecretTests {
    static let password = "hunter2-never-shown"

    @Test("an error for a malformed setting next to a password does not contain the password")
    func errorsHoldNoPassword() async throws {
        let redis = await errorMessage {
            _ = try await Caches(
                config: ConfigReader(
                    provider: environment([
                        "CACHES_DEFAULT_BACKEND": "redis",
                        "CACHES_DEFAULT_LOCATION": "redis://:\(Self.password)@127.0.0.1:6379/0",
                        "CACHES_DEFAULT_OPTIONS_PASSWORD": Self.password,
                        "CACHES_DEFAULT_OPTIONS_DB": "zero",
                    ])), backends: allBackends)
        }
        #expect(redis?.contains(#"CACHES["default"]["OPTIONS"]["db"]"#) == true, "\(redis ?? "no error")")
        #expect(redis?.contains(Self.password) == false)

        let postgres = await errorMessage {
            _ = try await Caches(
                config: ConfigReader(
                    provider: environment([
                        "CACHES_DEFAULT_BACKEND": "postgres", "CACHES_DEFAULT_LOCATION": "cache_table",
                        "CACHES_DEFAULT_OPTIONS_DATABASE": "postgres://app:\(Self.password)@127.0.0.1:1/app",
                        "CACHES_DEFAULT_OPTIONS_POOL_SIZE": "lots",
                    ])), backends: allBackends)
        }
        #expect(postgres?.contains(#"CACHES["default"]["OPTIONS"]["pool_size"]"#) == true, "\(postgres ?? "no error")")
        #expect(postgres?.contains(Self.password) == false)

        // A secret of the wrong type is refused without being shown, whatever it holds.
        let typed = await errorMessage {
            _ = try await readerSettings(
                inMemory([
                    "caches.default.backend": "postgres",
                    "caches.default.options.database": .init(.stringArray(["postgres://app:\(Self.password)@h/app"]), isSecret: false),
                ]))
        }
        #expect(typed?.contains(#"CACHES["default"]["OPTIONS"]["database"]"#) == true, "\(typed ?? "no error")")
        #expect(typed?.contains("secret") == true)
        #expect(typed?.contains(Self.password) == false)
    }

    @Test("the logged configuration and the access reports hold no password")
    func logsHoldNoPassword() async throws {
        let logs = InMemoryLogHandler()
        let reporter = RecordingAccessReporter()
        // Redis aliases built as dummies: the test reads settings, and connects to nothing.
        var backends = CacheBackends.standard
        backends.register(CacheBackends.redisNames[0]) { _ in DummyBackend() }
        backends.register("postgres") { _ in DummyBackend() }
        let caches = try await Caches(
            config: ConfigReader(
                provider: environment([
                    "CACHES_ALIASES": "default,db",
                    "CACHES_DEFAULT_BACKEND": "redis",
                    "CACHES_DEFAULT_LOCATION": "redis://:\(Self.password)@127.0.0.1:6379/0",
                    "CACHES_DEFAULT_OPTIONS_PASSWORD": Self.password,
                    "CACHES_DEFAULT_OPTIONS_POOL_SIZE": "4",
                    "CACHES_DB_BACKEND": "postgres",
                    "CACHES_DB_OPTIONS_DATABASE": "host=127.0.0.1 password=\(Self.password)",
                ]), accessReporter: reporter),
            backends: backends, logger: Logger(label: "test", factory: { _ in logs }))
        #expect(caches.aliases == ["db", "default"])
        #expect(caches.settings["default"]?.options["password"] == .string(Self.password), "the backend gets the password")
        let lines = logs.entries.map { "\($0.message) \($0.metadata)" }
        #expect(lines.count == 2)
        #expect(lines.allSatisfy { !$0.contains(Self.password) }, "\(lines)")
        #expect(lines.contains { $0.contains("pool_size") && $0.contains("***") })
        let reports = reporter.lines.withLock { $0 }
        #expect(reports.contains { $0.contains("options.password") }, "the password was read through the reporter")
        #expect(reports.allSatisfy { !$0.contains(Self.password) }, "\(reports.filter { $0.contains(Self.password) })")
    }
}
