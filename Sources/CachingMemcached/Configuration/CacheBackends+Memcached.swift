public import Caching

extension CacheBackends {
    /// The names settings may use for the memcached backend: `memcached` and Django's dotted
    /// paths (`PyMemcacheCache`, `PyLibMCCache` and the old `MemcachedCache`).
    public static let memcachedNames = [
        "memcached",
        "django.core.cache.backends.memcached.PyMemcacheCache",
        "django.core.cache.backends.memcached.PyLibMCCache",
        "django.core.cache.backends.memcached.MemcachedCache",
    ]

    /// Registers ``MemcachedBackend`` under ``memcachedNames``.
    public mutating func registerMemcached() {
        for name in Self.memcachedNames {
            register(name) { context -> any CacheBackend in
                let options = try MemcachedOptions(settings: context.settings, alias: context.alias)
                guard options.replicas > 1 else { return try MemcachedBackend(context: context) }
                return try ReplicatedMemcachedBackend(
                    servers: MemcachedServerAddress.parse(location: context.settings.location, alias: context.alias),
                    replicas: options.replicas, options: options, clock: context.configuration.clock,
                    logger: context.configuration.logger, alias: context.alias,
                    observability: context.configuration.observability)
            }
        }
    }

    /// These backends plus memcached.
    ///
    /// ```swift
    /// let caches = try Caches(contentsOf: "caches.json", backends: CacheBackends.standard.withMemcached())
    /// ```
    ///
    /// - Returns: A registry with ``MemcachedBackend`` registered under ``memcachedNames``.
    public func withMemcached() -> CacheBackends {
        var backends = self
        backends.registerMemcached()
        return backends
    }
}

extension Cache {
    /// A cache on memcached servers (Django's `PyMemcacheCache`/`PyLibMCCache`); see
    /// ``MemcachedBackend``, or ``ReplicatedMemcachedBackend`` when `options.replicas` is 2 or more.
    ///
    /// No connection is made until the first call.
    ///
    /// - Parameters:
    ///   - location: The servers: `host:port`, `[::1]:11211`, `unix:/path`, or several.
    ///   - options: Pool size, timeouts, failure handling, item size, behaviours.
    ///   - configuration: Key settings, clock and logger.
    ///   - alias: The alias, named in errors.
    /// - Returns: The cache.
    /// - Throws: ``/Caching/CacheError/Code/invalidSettings`` for an address or option libmemcached refuses.
    public static func memcached(
        location: [String], options: MemcachedOptions = MemcachedOptions(),
        configuration: CacheConfiguration = CacheConfiguration(), alias: String = "memcached"
    ) throws(CacheError) -> Cache {
        if options.replicas > 1 {
            return Cache(
                try ReplicatedMemcachedBackend(
                    servers: MemcachedServerAddress.parse(location: location, alias: alias), replicas: options.replicas,
                    options: options, clock: configuration.clock, logger: configuration.logger, alias: alias,
                    observability: configuration.observability),
                configuration: configuration)
        }
        return Cache(
            try MemcachedBackend(
                location: location, options: options, clock: configuration.clock, logger: configuration.logger, alias: alias,
                observability: configuration.observability),
            configuration: configuration)
    }
}
