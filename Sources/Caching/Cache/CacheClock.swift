#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A source of wall-clock time for expiry.
///
/// Expiry is kept as an absolute Unix time in seconds so that several processes sharing
/// one store (a file cache directory, a memcached server) agree on when an entry ends.
/// The local backends take a clock so that tests can move time forward instead of
/// sleeping: see `ManualCacheClock` in the `CachingTesting` product.
public protocol CacheClock: Sendable {
    /// The current time as seconds since 1970-01-01 00:00:00 UTC.
    func now() -> Double
}

/// The system's real-time clock (`CLOCK_REALTIME`).
public struct SystemCacheClock: CacheClock {
    /// Creates the system clock.
    public init() {}

    public func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1_000_000_000
    }
}
