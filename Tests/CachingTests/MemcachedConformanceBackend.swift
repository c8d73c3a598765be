import Caching
import CachingMemcached
import CachingTesting

extension ConformanceBackend {
    /// memcached: a fresh server per test, so `clear` and counts see only that test's keys.
    /// The server keeps time, so expiry tests wait for its one-second clock.
    static let memcached = ConformanceBackend(name: "MemcachedCache", usesConfiguredClock: false) {
        let server = try await MemcachedServer.start()
        return Store(
            makeCache: { configuration in
                try MemcachedCache(location: [server.address], configuration: configuration)
            },
            close: { await server.stop() })
    }
}
