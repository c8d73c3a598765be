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

    /// Registers ``MemcachedCache`` under ``memcachedNames``.
    public mutating func registerMemcached() {
        for name in Self.memcachedNames {
            register(name) { context in try MemcachedCache(context: context) }
        }
    }

    /// These backends plus memcached.
    ///
    /// ```swift
    /// let caches = try Caches(contentsOf: "caches.json", backends: CacheBackends.standard.withMemcached())
    /// ```
    ///
    /// - Returns: A registry with ``MemcachedCache`` registered under ``memcachedNames``.
    public func withMemcached() -> CacheBackends {
        var backends = self
        backends.registerMemcached()
        return backends
    }
}
