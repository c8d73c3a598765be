/// Writes a `PickleValue` as Python pickle data, protocol 4 (Python 3.4 and later read it).
///
/// | value | opcodes |
/// | --- | --- |
/// | `None`, `True`, `False` | `NONE`, `NEWTRUE`, `NEWFALSE` |
/// | `int` | `BININT1` (0...255), `BININT2` (...65535), `BININT` (32-bit), else `LONG1` |
/// | `float` | `BINFLOAT` (8 bytes, big-endian) |
/// | `str` | `SHORT_BINUNICODE` (< 256 UTF-8 bytes), `BINUNICODE` (< 4 GiB), else `BINUNICODE8` |
/// | `bytes` | `SHORT_BINBYTES`, `BINBYTES`, `BINBYTES8` by the same lengths |
/// | `list` | `EMPTY_LIST`, then `APPEND` for one item or `MARK` … `APPENDS` per 1000 items |
/// | `dict` | `EMPTY_DICT`, then `SETITEM` for one item or `MARK` … `SETITEMS` per 1000 items |
/// | a `list` as a dict key | `MARK` … `TUPLE`: a tuple, as it was before it was read |
///
/// The data opens with `PROTO 4` and ends with `STOP`. It has no `FRAME` (framing is optional
/// for readers) and no memo (nothing is shared). Python's `pickle.loads` gives back an equal
/// value; `PickleReader` reads it too.
package enum PickleWriter {
    /// The pickle data for a value.
    ///
    /// - Parameter value: The value.
    /// - Returns: The pickle data, protocol 4.
    package static func write(_ value: PickleValue) -> [UInt8] {
        var output: [UInt8] = [0x80, 4]
        append(value, to: &output)
        output.append(0x2E)
        return output
    }

    /// The pickle of a `str`, from its UTF-8 bytes (which the caller has checked are valid):
    /// the same bytes as `write(.string(...))`, without making a `String`.
    ///
    /// - Parameter utf8: The text's UTF-8 bytes.
    /// - Returns: The pickle data.
    package static func write(utf8 text: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(text.count + 12)
        output.append(contentsOf: [0x80, 4])
        appendLength(text.count, short: 0x8C, long: 0x58, huge: 0x8D, to: &output)
        output.append(contentsOf: text)
        output.append(0x2E)
        return output
    }

    /// The pickle of a `bytes`: the same bytes as `write(.bytes(...))`.
    ///
    /// - Parameter bytes: The bytes.
    /// - Returns: The pickle data.
    package static func write(bytes: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count + 12)
        output.append(contentsOf: [0x80, 4])
        appendLength(bytes.count, short: 0x43, long: 0x42, huge: 0x8E, to: &output)
        output.append(contentsOf: bytes)
        output.append(0x2E)
        return output
    }

    private static let batch = 1000

    private static func append(_ value: PickleValue, to output: inout [UInt8]) {
        switch value {
        case .none:
            output.append(0x4E)
        case .bool(let flag):
            output.append(flag ? 0x88 : 0x89)
        case .int(let number):
            appendInt(number, to: &output)
        case .float(let number):
            output.append(0x47)
            withUnsafeBytes(of: number.bitPattern.bigEndian) { output.append(contentsOf: $0) }
        case .string(let text):
            let count = text.utf8.count
            appendLength(count, short: 0x8C, long: 0x58, huge: 0x8D, to: &output)
            output.append(contentsOf: text.utf8)
        case .bytes(let bytes):
            appendLength(bytes.count, short: 0x43, long: 0x42, huge: 0x8E, to: &output)
            output.append(contentsOf: bytes)
        case .list(let items):
            output.append(0x5D)
            if items.count == 1 {
                append(items[0], to: &output)
                output.append(0x61)
            } else {
                for start in stride(from: 0, to: items.count, by: batch) {
                    output.append(0x28)
                    for item in items[start..<min(start + batch, items.count)] { append(item, to: &output) }
                    output.append(0x65)
                }
            }
        case .dict(let items):
            output.append(0x7D)
            if items.count == 1 {
                appendKey(items[0].key, to: &output)
                append(items[0].value, to: &output)
                output.append(0x73)
            } else {
                for start in stride(from: 0, to: items.count, by: batch) {
                    output.append(0x28)
                    for item in items[start..<min(start + batch, items.count)] {
                        appendKey(item.key, to: &output)
                        append(item.value, to: &output)
                    }
                    output.append(0x75)
                }
            }
        }
    }

    /// A dict key: a list (a tuple that was read) is written as a tuple again, since Python
    /// cannot use a list as a key.
    private static func appendKey(_ key: PickleValue, to output: inout [UInt8]) {
        guard case .list(let items) = key else { return append(key, to: &output) }
        output.append(0x28)
        for item in items { appendKey(item, to: &output) }
        output.append(0x74)
    }

    private static func appendLength(_ count: Int, short: UInt8, long: UInt8, huge: UInt8, to output: inout [UInt8]) {
        if count < 256 {
            output.append(short)
            output.append(UInt8(count))
        } else if count <= Int(UInt32.max) {
            output.append(long)
            withUnsafeBytes(of: UInt32(count).littleEndian) { output.append(contentsOf: $0) }
        } else {
            output.append(huge)
            withUnsafeBytes(of: UInt64(count).littleEndian) { output.append(contentsOf: $0) }
        }
    }

    private static func appendInt(_ number: Int64, to output: inout [UInt8]) {
        if number >= 0, number <= 0xFF {
            output.append(0x4B)
            output.append(UInt8(number))
        } else if number >= 0, number <= 0xFFFF {
            output.append(0x4D)
            withUnsafeBytes(of: UInt16(number).littleEndian) { output.append(contentsOf: $0) }
        } else if let small = Int32(exactly: number) {
            output.append(0x4A)
            withUnsafeBytes(of: small.littleEndian) { output.append(contentsOf: $0) }
        } else {
            // The shortest little-endian two's complement, as Python's encode_long gives.
            var bytes: [UInt8] = []
            withUnsafeBytes(of: number.littleEndian) { bytes.append(contentsOf: $0) }
            while bytes.count > 1 {
                let last = bytes[bytes.count - 1]
                let next = bytes[bytes.count - 2]
                if (last == 0x00 && next & 0x80 == 0) || (last == 0xFF && next & 0x80 != 0) {
                    bytes.removeLast()
                } else {
                    break
                }
            }
            output.append(0x8A)
            output.append(UInt8(bytes.count))
            output.append(contentsOf: bytes)
        }
    }
}
