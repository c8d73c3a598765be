public import Caching
import Synchronization

/// A clock that moves only when told to, so expiry tests never sleep.
///
/// ```swift
/// let clock = ManualCacheClock()
/// let cache = Cache.localMemory(configuration: CacheConfiguration(clock: clock))
/// try await cache.set("k", 1, timeout: 10)
/// clock.advance(by: 10)
/// #expect(try await cache.get("k", as: Int.self) == nil)
/// ```
public final class ManualCacheClock: CacheClock {
    private let current: Mutex<Double>

    /// Creates a clock.
    ///
    /// - Parameter start: The Unix time the clock starts at; by default 2026-01-01 00:00:00 UTC.
    public init(start: Double = 1_767_225_600) {
        current = Mutex(start)
    }

    public func now() -> Double {
        current.withLock { $0 }
    }

    /// Moves the clock forward (or back, with a negative number).
    ///
    /// - Parameter seconds: How far to move it.
    public func advance(by seconds: Double) {
        current.withLock { $0 += seconds }
    }

    /// Moves the clock forward by a duration.
    public func advance(by duration: Duration) {
        advance(by: DjangoDefaults.seconds(duration))
    }

    /// Sets the clock to a Unix time.
    public func set(to time: Double) {
        current.withLock { $0 = time }
    }
}
