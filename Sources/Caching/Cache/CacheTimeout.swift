/// How long a value lives in the cache: Django's `timeout` argument.
///
/// | Django | Swift |
/// | --- | --- |
/// | `DEFAULT_TIMEOUT` (the argument left out) | ``default`` |
/// | `None` | ``never`` |
/// | `300`, `0.5` | `.seconds(300)`, `.seconds(0.5)`, or a `Duration` |
/// | `0` or negative | `.seconds(0)`: nothing is stored and the old value is removed |
///
/// Integer and floating-point literals work directly: `timeout: 60`.
public enum CacheTimeout: Sendable, Hashable, CustomStringConvertible {
    /// The alias's default timeout (Django's `TIMEOUT` setting, 300 seconds unless configured).
    case `default`
    /// The value never expires (Django's `None`).
    case never
    /// The value expires this many seconds from now. Zero or less stores nothing.
    case seconds(Double)

    /// A timeout given as a `Duration`.
    public static func duration(_ duration: Duration) -> CacheTimeout {
        .seconds(DjangoDefaults.seconds(duration))
    }

    public var description: String {
        switch self {
        case .default: "default"
        case .never: "never"
        case .seconds(let seconds): "\(seconds)s"
        }
    }
}

extension CacheTimeout: ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral {
    public init(integerLiteral value: Int) { self = .seconds(Double(value)) }
    public init(floatLiteral value: Double) { self = .seconds(value) }
}

/// When a stored entry ends, as the backends receive it: absolute wall-clock time.
///
/// The `Caching` layer turns a ``CacheTimeout`` into an expiry once, so every backend
/// agrees; a timeout of zero or less never reaches a backend as an expiry (the entry is
/// removed instead).
public enum CacheExpiry: Sendable, Hashable {
    /// The entry does not expire.
    case never
    /// The entry expires at this Unix time, in seconds. It is gone from that instant on.
    case at(Double)

    /// Whether an entry with this expiry is gone at `now`.
    ///
    /// An entry is expired at exactly its deadline (Django's local-memory rule, `exp <= now`).
    @inlinable
    public func isExpired(at now: Double) -> Bool {
        switch self {
        case .never: false
        case .at(let deadline): deadline <= now
        }
    }

    /// The seconds left from `now`, or `nil` for ``never``.
    public func remaining(from now: Double) -> Double? {
        switch self {
        case .never: nil
        case .at(let deadline): deadline - now
        }
    }
}
