import Logging

/// What a backend factory receives to build one alias's backend.
public struct CacheBackendContext: Sendable {
    /// The alias being built.
    public var alias: String
    /// The alias's settings.
    public var settings: CacheSettings
    /// The configuration built from the settings (prefix, version, timeout, clock, logger
    /// with `cache.alias` and `cache.backend` metadata).
    public var configuration: CacheConfiguration
}

/// The backends that settings can name, by name: Django's `BACKEND` values.
///
/// ``standard`` knows `locmem`, `file` and `dummy` and Django's dotted paths for them.
/// Other modules add theirs (`CachingMemcached` adds `memcached`); an application adds its own:
///
/// ```swift
/// var backends = CacheBackends.standard
/// backends.register("myapp.RedisCache") { context in try MyRedisBackend(context) }
/// let caches = try Caches(settings, backends: backends)
/// ```
public struct CacheBackends: Sendable {
    /// Builds the backend of one alias; ``Caches`` wraps it in a ``Cache`` with the alias's
    /// configuration. Give the backend `context.configuration.clock`.
    public typealias Factory = @Sendable (CacheBackendContext) throws -> any CacheBackend

    private var factories: [String: Factory] = [:]

    /// An empty registry.
    public init() {}

    /// Registers a backend under one or more names (a short name and Django's dotted paths).
    ///
    /// - Parameters:
    ///   - names: The names settings may use for it; a name registered before is replaced.
    ///   - factory: Builds the cache.
    public mutating func register(_ names: String..., factory: @escaping Factory) {
        for name in names { factories[name] = factory }
    }

    /// The factory registered under a name.
    public func factory(named name: String) -> Factory? { factories[name] }

    /// The registered names, sorted.
    public var names: [String] { factories.keys.sorted() }

    /// The backends of the `Caching` module: `locmem`, `file` and `dummy`.
    public static var standard: CacheBackends {
        var backends = CacheBackends()
        backends.register("locmem", "django.core.cache.backends.locmem.LocMemCache") { context in
            let settings = context.settings
            try settings.rejectUnknownOptions(allowed: boundedStoreOptions, alias: context.alias, backend: "locmem")
            return LocalMemoryBackend(
                location: settings.primaryLocation,
                maxEntries: try maxEntries(settings, alias: context.alias),
                cullFrequency: try cullFrequency(settings, alias: context.alias),
                whenFull: try whenFull(settings, alias: context.alias),
                clock: context.configuration.clock)
        }
        backends.register("file", "filebased", "django.core.cache.backends.filebased.FileBasedCache") { context in
            let settings = context.settings
            try settings.rejectUnknownOptions(
                allowed: boundedStoreOptions.union(["MAX_VALUE_SIZE", "SHARED_GROUP"]), alias: context.alias, backend: "file")
            guard settings.location.count <= 1, !settings.primaryLocation.isEmpty else {
                throw CacheSettings.invalid(
                    context.alias, "LOCATION",
                    settings.location.count > 1
                        ? "must be one directory for the file backend; found \(settings.location.count) locations"
                        : "is missing or empty; the file backend needs a directory, such as \"/var/tmp/django_cache\"")
            }
            return try FileBackend(
                directory: settings.primaryLocation,
                maxEntries: try maxEntries(settings, alias: context.alias),
                cullFrequency: try cullFrequency(settings, alias: context.alias),
                whenFull: try whenFull(settings, alias: context.alias),
                maxValueSize: try settings.integerOption("MAX_VALUE_SIZE", default: 1_048_576, alias: context.alias),
                trustGroup: try settings.boolOption("SHARED_GROUP", default: false, alias: context.alias),
                clock: context.configuration.clock, alias: context.alias)
        }
        backends.register("dummy", "django.core.cache.backends.dummy.DummyCache") { _ in
            DummyBackend()
        }
        return backends
    }

    /// The options of the bounded stores (local memory, files).
    static let boundedStoreOptions: Set<String> = ["MAX_ENTRIES", "CULL_FREQUENCY", "WHEN_FULL"]

    static func maxEntries(_ settings: CacheSettings, alias: String) throws(CacheError) -> Int {
        let value = try settings.integerOption("MAX_ENTRIES", default: DjangoDefaults.maxEntries, alias: alias)
        guard value >= 1 else {
            throw CacheSettings.invalid(alias, ["OPTIONS", "MAX_ENTRIES"], "must be 1 or more; found \(value)")
        }
        return value
    }

    static func whenFull(_ settings: CacheSettings, alias: String) throws(CacheError) -> CacheFullPolicy {
        let name = try settings.stringOption("WHEN_FULL", default: CacheFullPolicy.cull.rawValue, alias: alias) ?? "cull"
        guard let policy = CacheFullPolicy(rawValue: name) else {
            throw CacheSettings.invalid(
                alias, ["OPTIONS", "WHEN_FULL"],
                "must be \"cull\" (Django's culling) or \"refuse\" (never evict a live entry); found \"\(name)\"")
        }
        return policy
    }

    static func cullFrequency(_ settings: CacheSettings, alias: String) throws(CacheError) -> Int {
        let value = try settings.integerOption("CULL_FREQUENCY", default: DjangoDefaults.cullFrequency, alias: alias)
        guard value >= 0 else {
            throw CacheSettings.invalid(alias, ["OPTIONS", "CULL_FREQUENCY"], "must be 0 or more; found \(value)")
        }
        return value
    }
}
