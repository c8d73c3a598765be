public import Caching

/// How a ``/Caching/CacheEntry`` (item flags and bytes) is kept in a Redis string, so that
/// Django's `RedisCache` (its `RedisSerializer`: `int` as plain decimal, everything else
/// pickled) and this library read each other's values.
///
/// | Swift value | entry | stored as | Django's `RedisCache` reads |
/// | --- | --- | --- | --- |
/// | integers | flags 4, ASCII decimal | the decimal digits, as Django writes an `int` | the `int`; `INCRBY` works on it |
/// | `String` | flags 16, UTF-8 | a pickle (protocol 4) of the `str` | the `str` |
/// | `[UInt8]`, `Data` | flags 0 | a pickle of the `bytes` | the `bytes` |
/// | `Bool` | flags 2, `"1"`/`"0"` | a pickle of `True`/`False` | the `bool` |
/// | `Double`, `Float`, `nil`, arrays and dictionaries of these and of the above | flags 1, a pickle | the pickle unchanged | the `float`, `None`, `list`, `dict` |
/// | anything else `Codable` (a struct, an array of structs) | flags 256, JSON | ``header`` (8 bytes: `00 53 43 01` and the flags, big-endian) then the JSON | nothing: `pickle.UnpicklingError` (`invalid load key, '\x00'`) |
///
/// Read back: a string with the header is that entry; a plain decimal (what Django writes
/// for an `int`) is an integer entry; a pickle of one `str`, `bytes` or `bool` (what either
/// side writes for those) is the text, bytes or bool entry, found without running the
/// pickle machine; anything else is an entry with ``/Caching/CacheItemFlags/pickle``, which
/// the codec reads with its bounded pickle reader: plain values decode as any `Decodable` of
/// their shape, anything else (a `datetime`, a class instance, a `set`) is
/// ``/Caching/CacheError/Code/foreignValue``. The first byte 0x00 is neither a digit, a sign nor
/// a pickle opcode, so no Django value is ever mistaken for one of ours.
public enum RedisValueFormat: Sendable {
    /// The four bytes that open every non-integer value this library writes; the flags follow.
    public static let header: [UInt8] = [0x00, 0x53, 0x43, 0x01]

    /// The bytes stored in Redis for an entry.
    ///
    /// - Parameter entry: The entry.
    /// - Returns: Plain decimal for an integer entry; a pickle for text, bytes, a bool or a
    ///   pickle entry; otherwise the header, flags and bytes.
    public static func encode(_ entry: CacheEntry) -> [UInt8] {
        switch entry.flags {
        case CacheItemFlags.integer where isPlainDecimal(entry.bytes):
            return entry.bytes
        case CacheItemFlags.text where CacheValueCodec.isValidUTF8(entry.bytes):
            return PickleWriter.write(utf8: entry.bytes)
        case CacheItemFlags.bytes:
            return PickleWriter.write(bytes: entry.bytes)
        case CacheItemFlags.integerOrBool where entry.bytes == [0x31] || entry.bytes == [0x30]:
            return PickleWriter.write(.bool(entry.bytes == [0x31]))
        case CacheItemFlags.pickle where !entry.bytes.isEmpty && entry.bytes[0] != header[0] && !isPlainDecimal(entry.bytes):
            return entry.bytes
        default:
            break
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + entry.bytes.count)
        bytes.append(contentsOf: header)
        withUnsafeBytes(of: entry.flags.bigEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: entry.bytes)
        return bytes
    }

    /// The entry a stored Redis string holds.
    ///
    /// - Parameter bytes: The stored bytes.
    /// - Returns: The entry (an integer, one of ours, or a foreign value flagged as a pickle).
    public static func decode(_ bytes: [UInt8]) -> CacheEntry {
        bytes.withUnsafeBytes { decode($0) }
    }

    /// The entry a stored Redis string holds, read from a buffer (copied once).
    ///
    /// - Parameter bytes: The stored bytes.
    /// - Returns: The entry (an integer, one of ours, or a foreign value flagged as a pickle).
    public static func decode(_ bytes: UnsafeRawBufferPointer) -> CacheEntry {
        if bytes.count >= 8, bytes[0] == header[0], bytes[1] == header[1], bytes[2] == header[2], bytes[3] == header[3] {
            let flags = UInt32(bytes[4]) << 24 | UInt32(bytes[5]) << 16 | UInt32(bytes[6]) << 8 | UInt32(bytes[7])
            return CacheEntry(flags: flags, bytes: Array(UnsafeRawBufferPointer(rebasing: bytes[8...])))
        }
        switch PickleReader.scalar(in: bytes) {
        case .string(let range):
            return CacheEntry(flags: CacheItemFlags.text, bytes: Array(UnsafeRawBufferPointer(rebasing: bytes[range])))
        case .bytes(let range):
            return CacheEntry(flags: CacheItemFlags.bytes, bytes: Array(UnsafeRawBufferPointer(rebasing: bytes[range])))
        case .bool(let flag):
            return CacheEntry(flags: CacheItemFlags.integerOrBool, bytes: flag ? [0x31] : [0x30])
        case nil:
            break
        }
        let array = Array(bytes)
        if isPlainDecimal(array) { return CacheEntry(flags: CacheItemFlags.integer, bytes: array) }
        return CacheEntry(flags: CacheItemFlags.pickle, bytes: array)
    }

    /// Whether the bytes are an optional minus sign and 1 to 20 digits: what Python's `str(int)`
    /// writes for a 64-bit integer, and what `INCRBY` accepts.
    static func isPlainDecimal(_ bytes: [UInt8]) -> Bool {
        var digits = bytes[...]
        if digits.first == UInt8(ascii: "-") { digits = digits.dropFirst() }
        return !digits.isEmpty && digits.count <= 20 && digits.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }
}
