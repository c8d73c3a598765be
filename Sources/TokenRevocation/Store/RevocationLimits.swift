import Caching

/// The ranges revocation stores accept, checked before anything is stored, so that no input
/// can trap the process (a `Double` that does not fit an `Int`) or store something absurd.
public enum RevocationLimits: Sendable {
    /// The longest lifetime of a revocation entry: 100 years.
    public static let maximumLifetime: Duration = .seconds(100 * 365 * 86_400)
    /// Unix times accepted as cut-offs: from 1970 to the year 5138 (10¹¹ seconds).
    public static let timeRange: ClosedRange<Double> = 0...1e11

    /// A ttl in seconds (zero or less means "store nothing").
    ///
    /// - Throws: ``RevocationError/Code/invalidArgument`` for a ttl above ``maximumLifetime``.
    package static func seconds(_ ttl: Duration, what: String) throws(RevocationError) -> Double {
        guard ttl <= maximumLifetime else {
            throw RevocationError(
                .invalidArgument, "\(what) is \(ttl), longer than the \(maximumLifetime) a revocation may last; nothing was stored")
        }
        return ttl.seconds
    }

    /// Checks a Unix time given as a cut-off.
    ///
    /// - Throws: ``RevocationError/Code/invalidArgument`` for a time that is not finite or
    ///   outside ``timeRange``.
    package static func checkTime(_ time: Double, what: String) throws(RevocationError) {
        guard time.isFinite, timeRange.contains(time) else {
            throw RevocationError(
                .invalidArgument,
                "\(what) is \(time), which is not a Unix time between \(timeRange.lowerBound) and \(timeRange.upperBound) seconds; nothing was stored"
            )
        }
    }
}
