/// Django's defaults and the numeric rules shared by every backend, written once.
///
/// docs/DJANGO-SEMANTICS.md explains each rule and where this library departs from Django.
public enum DjangoDefaults: Sendable {
    /// `TIMEOUT` when a setting gives none: 300 seconds.
    public static let timeoutSeconds: Double = 300
    /// `OPTIONS["MAX_ENTRIES"]` for local memory and files: 300.
    public static let maxEntries = 300
    /// `OPTIONS["CULL_FREQUENCY"]` for local memory and files: 3 (remove a third when full).
    public static let cullFrequency = 3

    /// The seconds in a `Duration`, as a `Double`, attoseconds included.
    ///
    /// - Parameter duration: The duration.
    /// - Returns: Its length in seconds.
    @inlinable
    package static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// Adds two counters as `incr` does, reporting overflow instead of trapping.
    ///
    /// - Parameters:
    ///   - value: The stored integer.
    ///   - delta: The amount to add.
    ///   - key: The made key, named in the error.
    /// - Returns: The sum.
    /// - Throws: ``CacheError/Code/integerOverflow`` when the sum does not fit an `Int`.
    package static func increment(_ value: Int, by delta: Int, key: String) throws(CacheError) -> Int {
        let (sum, overflow) = value.addingReportingOverflow(delta)
        guard !overflow else { throw CacheError.overflow(key, value: value, delta: delta) }
        return sum
    }

    /// The digits of a counter as memcached, pymemcache and pylibmc store it: ASCII decimal,
    /// maybe padded with trailing spaces (memcached pads a number that `decr` made shorter).
    ///
    /// - Parameter bytes: The stored bytes.
    /// - Returns: The text without its padding, or `nil` when nothing is left.
    package static func decimalText(_ bytes: [UInt8]) -> String? {
        var end = bytes.count
        while end > 0, bytes[end - 1] == UInt8(ascii: " ") { end -= 1 }
        guard end > 0 else { return nil }
        return String(decoding: bytes[0..<end], as: UTF8.self)
    }

    /// The bytes a counter is stored as: ASCII decimal, what `incr` works on and Python clients read.
    ///
    /// - Parameter value: The integer.
    /// - Returns: Its decimal digits.
    package static func decimalBytes(_ value: Int) -> [UInt8] { Array(String(value).utf8) }
}

extension Duration {
    /// The duration in seconds, as a `Double`: ``DjangoDefaults/seconds(_:)``, for this
    /// package's modules.
    package var seconds: Double { DjangoDefaults.seconds(self) }
}
