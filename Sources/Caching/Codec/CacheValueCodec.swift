#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Turns values into ``CacheEntry`` bytes and back, the same way for every backend.
///
/// Integers, strings, booleans and raw bytes are written in the forms that Python's
/// memcached clients read natively (see ``CacheItemFlags``); floats, `nil`, and arrays and
/// dictionaries of these (and of strings, integers, booleans and bytes) are written as a
/// Python pickle under ``CacheItemFlags/pickle``, which Django reads as `float`, `None`,
/// `list` and `dict`; any other `Encodable` value (a struct, an array of structs) is written
/// as JSON under ``CacheItemFlags/json``. A stored `nil` is a pickled `None`, told apart from
/// a missing key.
///
/// Reading, a pickle holding plain Python values (`None`, `bool`, `int`, `float`, `str`,
/// `bytes`, `list`, `tuple`, `dict`) decodes as any `Decodable` of that shape, as JSON would;
/// a pickle of anything else (a class instance, a `datetime`, a `set`) is never executed and
/// is a ``CacheError/Code/foreignValue`` error.
public enum CacheValueCodec: Sendable {
    /// Encodes a value.
    ///
    /// - Parameter value: The value to store.
    /// - Returns: The entry to hand to a backend.
    /// - Throws: ``CacheError/Code/encodingFailed`` when JSON encoding fails.
    @inlinable
    public static func encode<V: Encodable>(_ value: V) throws -> CacheEntry {
        // Fast paths for the commonest writes, the same bytes and flags as the general path.
        if V.self == String.self {
            return CacheEntry(flags: CacheItemFlags.text, bytes: Array(unsafeBitCast(value, to: String.self).utf8))
        }
        if V.self == [UInt8].self {
            return CacheEntry(flags: CacheItemFlags.bytes, bytes: unsafeBitCast(value, to: [UInt8].self))
        }
        if V.self == Int.self {
            return CacheEntry(flags: CacheItemFlags.integer, bytes: Array(String(unsafeBitCast(value, to: Int.self)).utf8))
        }
        return try encodeGeneral(value)
    }

    /// Every type ``encode(_:)`` has no fast path for: casts to the native types, else JSON.
    @usableFromInline
    static func encodeGeneral<V: Encodable>(_ value: V) throws -> CacheEntry {
        switch value {
        case let bool as Bool:
            return CacheEntry(flags: CacheItemFlags.integerOrBool, bytes: bool ? [0x31] : [0x30])
        case let string as String:
            return CacheEntry(flags: CacheItemFlags.text, bytes: Array(string.utf8))
        case let bytes as any ByteArrayMarker:
            // Not `as [UInt8]`: that cast succeeds for an empty array of any element type.
            return CacheEntry(flags: CacheItemFlags.bytes, bytes: bytes.byteArray)
        case let data as Data:
            return CacheEntry(flags: CacheItemFlags.bytes, bytes: Array(data))
        case let integer as any BinaryInteger:
            return CacheEntry(flags: CacheItemFlags.integer, bytes: Array(String(describing: integer).utf8))
        case let representable as any PickleRepresentable:
            return CacheEntry(flags: CacheItemFlags.pickle, bytes: PickleWriter.write(representable.pickleValue))
        case let optional as any OptionalMarker where optional.isNil:
            return CacheEntry(flags: CacheItemFlags.pickle, bytes: PickleWriter.write(.none))
        default:
            do {
                let data = try JSONEncoder().encode(value)
                return CacheEntry(flags: CacheItemFlags.json, bytes: Array(data))
            } catch {
                throw CacheError(
                    .encodingFailed, "A value of type \(V.self) could not be encoded as JSON: \(error)",
                    underlying: error)
            }
        }
    }

    /// Decodes an entry as the requested type.
    ///
    /// - Parameters:
    ///   - entry: The entry a backend returned.
    ///   - type: The type to decode.
    ///   - key: The made key, named in errors.
    /// - Returns: The value.
    /// - Throws: ``CacheError/Code/decodingFailed`` when the stored value is not of the
    ///   requested type; ``CacheError/Code/foreignValue`` for a Python pickle of anything but
    ///   plain values, a zlib payload or flags this library does not know.
    @inlinable
    public static func decode<V: Decodable>(_ entry: CacheEntry, as type: V.Type, key: String) throws -> V {
        // Fast paths for the commonest reads: without them a get of a String or an Int spends
        // most of its time in dynamic casts. Each returns only what the general path below
        // would; anything else (bad UTF-8, not a number) falls through to it for its error.
        if V.self == String.self, entry.flags == CacheItemFlags.text, let text = validUTF8(entry.bytes) {
            return unsafeBitCast(text, to: V.self)
        }
        if V.self == Int.self, entry.flags == CacheItemFlags.integer || entry.flags == CacheItemFlags.integerOrBool,
            let number = CacheEntry.parseDecimal(entry.bytes)
        {
            return unsafeBitCast(number, to: V.self)
        }
        if V.self == [UInt8].self, entry.flags == CacheItemFlags.bytes {
            return unsafeBitCast(entry.bytes, to: V.self)
        }
        return try decodeGeneral(entry, as: V.self, key: key)
    }

    /// Everything ``decode(_:as:key:)`` does past its fast paths: JSON, the other native
    /// types, optionals, and every error.
    @usableFromInline
    static func decodeGeneral<V: Decodable>(_ entry: CacheEntry, as type: V.Type, key: String) throws -> V {
        if entry.flags == CacheItemFlags.json {
            do {
                return try JSONDecoder().decode(V.self, from: Data(entry.bytes))
            } catch {
                throw CacheError(
                    .decodingFailed, "The value under key '\(key)' is JSON that does not decode as \(V.self): \(error)",
                    key: key, underlying: error)
            }
        }
        if entry.flags == CacheItemFlags.pickle { return try decodePickle(entry.bytes, as: V.self, key: key) }
        let target: any Any.Type = (V.self as? any OptionalMarker.Type)?.wrappedType ?? V.self
        let native: Any?
        switch entry.flags {
        case CacheItemFlags.text:
            native = decodeText(entry.bytes, as: target)
        case CacheItemFlags.integer, CacheItemFlags.integerOrBool:
            native = decodeNumber(entry, as: target)
        case CacheItemFlags.bytes:
            if target == [UInt8].self {
                native = entry.bytes
            } else if target == Data.self {
                native = Data(entry.bytes)
            } else {
                native = nil
            }
        default:
            throw CacheError(
                .foreignValue,
                "The value under key '\(key)' has item flags \(entry.flags) (\(describe(entry.flags))), a form this library does not read; store it as bytes, str or int on the other side, or read it there",
                key: key)
        }
        if let native, let value = native as? V { return value }
        throw CacheError(
            .decodingFailed,
            "The value under key '\(key)' is stored as \(describe(entry.flags)) and cannot be read as \(V.self)",
            key: key)
    }

    /// A pickle read by ``PickleReader`` (never executed), then decoded as JSON would be.
    static func decodePickle<V: Decodable>(_ bytes: [UInt8], as type: V.Type, key: String) throws -> V {
        let value: PickleValue
        do {
            value = try PickleReader.read(bytes)
        } catch let error as CacheError {
            throw CacheError(
                .foreignValue,
                "The value under key '\(key)' is a Python pickle this library does not read: \(error.message); store it as bytes, str, int or plain lists and dicts on the other side",
                key: key)
        }
        do {
            return try value.decode(as: V.self)
        } catch {
            throw CacheError(
                .decodingFailed,
                "The value under key '\(key)' is a pickled Python \(value.typeName) that does not decode as \(V.self): \(error)",
                key: key, underlying: error)
        }
    }

    private static func decodeText(_ bytes: [UInt8], as target: any Any.Type) -> Any? {
        guard target == String.self else { return nil }
        return validUTF8(bytes)
    }

    /// Whether the bytes are valid UTF-8 (what ``validUTF8(_:)`` checks).
    package static func isValidUTF8(_ bytes: [UInt8]) -> Bool { validUTF8(bytes) != nil }

    /// The bytes as a string if they are valid UTF-8. (`String(decoding:)` is specialized and
    /// fast, and replaces each invalid sequence with U+FFFD, so an unchanged result means the
    /// bytes were valid; `String(validating:as:)` is several times slower here.)
    @usableFromInline
    static func validUTF8(_ bytes: [UInt8]) -> String? {
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.utf8.count == bytes.count else { return nil }
        guard !bytes.isEmpty else { return text }
        let unchanged =
            text.utf8.withContiguousStorageIfAvailable { stored in
                bytes.withUnsafeBufferPointer { memcmp(stored.baseAddress!, $0.baseAddress!, $0.count) == 0 }
            } ?? text.utf8.elementsEqual(bytes)
        return unchanged ? text : nil
    }

    private static func decodeNumber(_ entry: CacheEntry, as target: any Any.Type) -> Any? {
        var end = entry.bytes.count
        while end > 0, entry.bytes[end - 1] == UInt8(ascii: " ") { end -= 1 }
        let text = String(decoding: entry.bytes[0..<end], as: UTF8.self)
        if target == Bool.self {
            guard let number = Int(text) else { return nil }
            return number != 0
        }
        if let integerType = target as? any FixedWidthInteger.Type {
            return parseInteger(integerType, text)
        }
        if target == Double.self { return Double(text) }
        return nil
    }

    private static func parseInteger<T: FixedWidthInteger>(_ type: T.Type, _ text: String) -> Any? {
        T(text, radix: 10)
    }

    static func describe(_ flags: UInt32) -> String {
        switch flags {
        case CacheItemFlags.bytes: "bytes"
        case CacheItemFlags.pickle: "a Python pickle"
        case CacheItemFlags.integerOrBool: "an integer or bool"
        case CacheItemFlags.integer: "an integer"
        case CacheItemFlags.zlib, CacheItemFlags.zlib | CacheItemFlags.pickle: "zlib-compressed data"
        case CacheItemFlags.text: "text"
        case CacheItemFlags.json: "JSON"
        default: "unknown flags"
        }
    }
}

/// `[UInt8]`, and no other array type: a dynamic cast to this protocol checks the element
/// type, where a cast to `[UInt8]` succeeds for any empty array.
protocol ByteArrayMarker {
    var byteArray: [UInt8] { get }
}

extension Array: ByteArrayMarker where Element == UInt8 {
    var byteArray: [UInt8] { self }
}

/// Lets the codec see through one level of `Optional`, so `Int?` reads an integer entry, and
/// tell a `nil` of any wrapped type.
protocol OptionalMarker {
    static var wrappedType: any Any.Type { get }
    var isNil: Bool { get }
}

extension Optional: OptionalMarker {
    static var wrappedType: any Any.Type { Wrapped.self }
    var isNil: Bool { self == nil }
}
