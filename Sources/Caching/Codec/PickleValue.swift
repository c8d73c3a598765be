/// A plain Python value, as a pickle holds it: the subset of Python's types that this library
/// reads from and writes to pickle data.
///
/// Tuples read as `list(_:)`; a Python `int` outside the 64-bit range, a `set`, or any object
/// that needs a class or a function to be rebuilt is not a `PickleValue` (the reader refuses it
/// with ``CacheError/Code/foreignValue``).
package enum PickleValue: Sendable, Hashable {
    /// `None`.
    case none
    /// `True` or `False`.
    case bool(Bool)
    /// An `int` in the 64-bit range.
    case int(Int64)
    /// A `float`.
    case float(Double)
    /// A `str`.
    case string(String)
    /// A `bytes` (or a `bytearray`).
    case bytes([UInt8])
    /// A `list` (or a `tuple`).
    case list([PickleValue])
    /// A `dict`, in its insertion order.
    case dict([DictItem])

    /// One key and value of a `PickleValue/dict(_:)`.
    package struct DictItem: Sendable, Hashable {
        /// The key (a `str`, an `int`, `bytes`, a tuple...).
        package var key: PickleValue
        /// The value.
        package var value: PickleValue

        /// Creates an item.
        package init(key: PickleValue, value: PickleValue) {
            self.key = key
            self.value = value
        }
    }

    /// The Python type name, for messages.
    package var typeName: String {
        switch self {
        case .none: "None"
        case .bool: "bool"
        case .int: "int"
        case .float: "float"
        case .string: "str"
        case .bytes: "bytes"
        case .list: "list"
        case .dict: "dict"
        }
    }
}

extension PickleValue {
    /// The value an entry holds, in Python's terms, or `nil` for an entry that is not a plain
    /// Python value (JSON, zlib, unknown flags).
    ///
    /// Text is a `str`, bytes are `bytes`, an integer entry is an `int`, a flags-2 entry of
    /// `"1"`/`"0"` is a `bool` (how this library writes a `Bool`; any other decimal is an
    /// `int`, as pymemcache writes one), and a pickle is read with `PickleReader`.
    ///
    /// - Parameter entry: The entry.
    /// - Throws: ``CacheError/Code/foreignValue`` for a pickle the reader refuses.
    package init?(entry: CacheEntry) throws {
        switch entry.flags {
        case CacheItemFlags.text:
            guard let text = CacheValueCodec.validUTF8(entry.bytes) else { return nil }
            self = .string(text)
        case CacheItemFlags.bytes:
            self = .bytes(entry.bytes)
        case CacheItemFlags.integerOrBool where entry.bytes == [0x31]:
            self = .bool(true)
        case CacheItemFlags.integerOrBool where entry.bytes == [0x30]:
            self = .bool(false)
        case CacheItemFlags.integer, CacheItemFlags.integerOrBool:
            guard let number = entry.integerValue else { return nil }
            self = .int(Int64(number))
        case CacheItemFlags.pickle:
            self = try PickleReader.read(entry.bytes)
        default:
            return nil
        }
    }

    /// The entry for this value in the forms Python's memcached clients read natively: a `str`
    /// as text, `bytes` as bytes, an `int` as decimal, a `bool` as flags 2 `"1"`/`"0"`, and
    /// everything else as a pickle (``CacheItemFlags/pickle``) written by `PickleWriter`.
    package var entry: CacheEntry {
        switch self {
        case .string(let text): CacheEntry(flags: CacheItemFlags.text, bytes: Array(text.utf8))
        case .bytes(let bytes): CacheEntry(flags: CacheItemFlags.bytes, bytes: bytes)
        case .int(let number): CacheEntry(flags: CacheItemFlags.integer, bytes: Array(String(number).utf8))
        case .bool(let flag): CacheEntry(flags: CacheItemFlags.integerOrBool, bytes: flag ? [0x31] : [0x30])
        case .none, .float, .list, .dict: CacheEntry(flags: CacheItemFlags.pickle, bytes: PickleWriter.write(self))
        }
    }

    /// Decodes the value as a Swift type, as JSON would be decoded: a `dict` with `str` keys
    /// as a struct or `[String: T]`, a `list` as an array, `None` as `nil`, `bytes` as
    /// `[UInt8]` or `Data`, an `int` as any integer type it fits or as a `Double`.
    ///
    /// - Parameter type: The type to decode.
    /// - Returns: The decoded value.
    /// - Throws: `DecodingError` when the value does not have the type's shape.
    package func decode<T: Decodable>(as type: T.Type) throws -> T {
        try PickleValueDecoder(value: self, codingPath: []).decodeValue(T.self)
    }

    /// The Python value for a Swift value, when it is one of the types that map to a plain
    /// Python value (`PickleRepresentable`): `nil` for any other type.
    ///
    /// - Parameter value: The Swift value.
    package init?(representing value: some Any) {
        guard let representable = value as? any PickleRepresentable else { return nil }
        self = representable.pickleValue
    }
}
