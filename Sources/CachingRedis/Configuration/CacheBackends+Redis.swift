public import Caching

extension CacheBackends {
    /// The names settings may use for the Redis backend: `redis` and Django's dotted path.
    public static let redisNames = ["redis", "django.core.cache.backends.redis.RedisCache"]

    /// Registers ``RedisBackend`` under ``redisNames``.
    public mutating func registerRedis() {
        for name in Self.redisNames {
            register(name) { context -> any CacheBackend in try RedisBackend(context: context) }
        }
    }

    /// These backends plus Redis.
    ///
    /// ```swift
    /// let caches = try Caches(contentsOf: "caches.json", backends: CacheBackends.standard.withRedis())
    /// ```
    ///
    /// - Returns: A registry with ``RedisBackend`` registered under ``redisNames``.
    public func withRedis() -> CacheBackends {
        var backends = self
        backends.registerRedis()
        return backends
    }
}

extension Cache {
    /// A cache on Redis servers (Django's `RedisCache`); see ``RedisBackend``.
    ///
    /// No connection is made until the first call.
    ///
    /// - Parameters:
    ///   - location: The server URLs (`redis://[:password@]host:port[/db]`, `unix:///path`);
    ///     the first takes writes, reads go to the others when there are several.
    ///   - options: Pool size, timeouts, database, credentials.
    ///   - configuration: Key settings, clock and logger.
    ///   - alias: The alias, named in errors.
    /// - Returns: The cache.
    /// - Throws: ``/Caching/CacheError/Code/invalidSettings`` for a URL or option out of range.
    public static func redis(
        location: [String], options: RedisOptions = RedisOptions(), configuration: CacheConfiguration = CacheConfiguration(),
        alias: String = "redis"
    ) throws(CacheError) -> Cache {
        Cache(
            try RedisBackend(
                location: location, options: options, clock: configuration.clock, logger: configuration.logger, alias: alias,
                observability: configuration.observability),
            configuration: configuration)
    }
}
