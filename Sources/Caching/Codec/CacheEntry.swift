/// An encoded value as a backend stores it: bytes plus memcached-style item flags.
///
/// Backends store and return entries unchanged; only ``CacheValueCodec`` gives them
/// meaning. The flags follow the conventions of Python's memcached clients so that a
/// Django application sharing a memcached server reads what Swift wrote (see
/// ``CacheItemFlags``).
public struct CacheEntry: Sendable, Hashable {
    /// The item flags: how the bytes are to be read.
    public var flags: UInt32
    /// The encoded value.
    public var bytes: [UInt8]

    /// Creates an entry.
    public init(flags: UInt32, bytes: [UInt8]) {
        self.flags = flags
        self.bytes = bytes
    }
}

/// The item flags this library writes and reads, shared with Python's memcached clients.
///
/// | value | pymemcache writes | pylibmc writes | swift-caching writes | swift-caching reads |
/// | --- | --- | --- | --- | --- |
/// | bytes | 0 | 0 | 0 | 0 → `[UInt8]` or `Data` |
/// | str | 16, UTF-8 | 16, UTF-8 | 16, UTF-8 | 16 → `String` |
/// | int | 2, ASCII decimal | 4, ASCII decimal | 4, ASCII decimal | 2 or 4 → any integer type or `Double` |
/// | bool | 1 (pickle) | 2, `"1"`/`"0"` | 2, `"1"`/`"0"` | 2 → `Bool` or an integer; 1 → `Bool` |
/// | float, None, list, dict | 1 (pickle) | 1 (pickle) | 1 (pickle, protocol 4) for `Double`, `Float`, `nil`, and arrays and dictionaries of the native types | 1 → any `Decodable` of that shape |
/// | anything else | 1 (pickle) | 1 (pickle) | ``json`` (256), JSON | 256 → any `Decodable`; 1 holding an object, or 8 → ``CacheError/Code/foreignValue`` |
///
/// A pickle is read by a bounded reader that runs only the opcodes building plain values
/// (`None`, `bool`, `int`, `float`, `str`, `bytes`, `list`, `tuple`, `dict`); a pickle naming
/// a class or a function is never executed. Entries of flag 256 written by earlier versions
/// still read.
public enum CacheItemFlags: Sendable {
    /// Raw bytes.
    public static let bytes: UInt32 = 0
    /// A Python pickle: plain values are read and written; objects are foreign values.
    public static let pickle: UInt32 = 1
    /// An integer as ASCII decimal, as pymemcache writes it; pylibmc writes a bool this way.
    public static let integerOrBool: UInt32 = 2
    /// An integer as ASCII decimal, as pylibmc writes it, and as this library writes it.
    public static let integer: UInt32 = 4
    /// zlib-compressed (never read: a foreign value).
    public static let zlib: UInt32 = 8
    /// UTF-8 text.
    public static let text: UInt32 = 16
    /// JSON written by this library, a bit of its own above Python's flags.
    public static let json: UInt32 = 0x100
}

extension CacheEntry {
    /// The entry's value as an integer, if it holds one (flags 2 or 4, ASCII decimal).
    ///
    /// memcached pads a number that `decr` made shorter with trailing spaces, so those are
    /// ignored.
    public var integerValue: Int? {
        guard flags == CacheItemFlags.integer || flags == CacheItemFlags.integerOrBool else { return nil }
        return Self.parseDecimal(bytes)
    }

    @usableFromInline
    static func parseDecimal(_ bytes: [UInt8]) -> Int? {
        DjangoDefaults.decimalText(bytes).flatMap { Int($0) }
    }

    /// An entry holding an integer, in the form `incr` works on and Python clients read.
    public static func integer(_ value: Int) -> CacheEntry {
        CacheEntry(flags: CacheItemFlags.integer, bytes: DjangoDefaults.decimalBytes(value))
    }
}
