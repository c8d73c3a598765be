public import Caching

/// How Django's `DatabaseCache` table holds times: the `expires` column as text,
/// `YYYY-MM-DD HH:MM:SS` in UTC (what Django writes on SQLite with `USE_TZ = True`, its
/// default), with `.ffffff` microseconds when they are not zero.
///
/// Django drops the microseconds when it writes; this library keeps them, so an entry expires
/// at its exact deadline (Django reads them back as written). Fixed-width text sorts in time
/// order, so SQL compares it as text: an entry is live while `expires > now`. No expiry is
/// Django's `datetime.max` without microseconds, `9999-12-31 23:59:59`.
public enum DatabaseCacheTime: Sendable {
    /// The text Django writes for no expiry.
    public static let never = "9999-12-31 23:59:59"
    /// The last second the text can name (9999-12-31 23:59:59 UTC) as Unix time.
    static let latest: Double = 253_402_300_799

    /// The text for an expiry.
    public static func text(for expiry: CacheExpiry) -> String {
        switch expiry {
        case .never: never
        case .at(let deadline): text(forUnixTime: deadline)
        }
    }

    /// The text for a Unix time, truncated to the microsecond, clamped to years 1970…9999.
    public static func text(forUnixTime time: Double) -> String {
        String(decoding: bytes(forUnixTime: time), as: UTF8.self)
    }

    /// ``text(forUnixTime:)`` as UTF-8 bytes (what a get compares the `expires` column with).
    static func bytes(forUnixTime time: Double) -> [UInt8] {
        guard time.isFinite, time < latest else { return Array(never.utf8) }
        let micros = time <= 0 ? 0 : Int64((time * 1_000_000).rounded(.down))
        let seconds = micros / 1_000_000
        let fraction = Int(micros % 1_000_000)
        let days = seconds / 86_400
        let secondOfDay = Int(seconds % 86_400)
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        // Written into a stack buffer, then copied into one array: every get formats the current
        // time (`Array(unsafeUninitializedCapacity:)` looked up generic metadata on every call).
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 26) { buffer in
            var index = 0
            func put(_ value: Int, width: Int, then separator: UInt8? = nil) {
                var rest = value
                var position = index + width - 1
                while position >= index {
                    buffer[position] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest % 10)
                    rest /= 10
                    position -= 1
                }
                index += width
                if let separator {
                    buffer[index] = separator
                    index += 1
                }
            }
            put(year, width: 4, then: UInt8(ascii: "-"))
            put(month, width: 2, then: UInt8(ascii: "-"))
            put(day, width: 2, then: UInt8(ascii: " "))
            put(secondOfDay / 3600, width: 2, then: UInt8(ascii: ":"))
            put(secondOfDay / 60 % 60, width: 2, then: UInt8(ascii: ":"))
            put(secondOfDay % 60, width: 2)
            if fraction != 0 {
                buffer[index] = UInt8(ascii: ".")
                index += 1
                put(fraction, width: 6)
            }
            return [UInt8](UnsafeBufferPointer(rebasing: buffer[0..<index]))
        }
    }

    /// The Unix time a stored text names, or `nil` when it is not `YYYY-MM-DD HH:MM:SS[.f…]`
    /// (a `T` between date and time is accepted too).
    public static func unixTime(_ text: some StringProtocol) -> Double? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 19 else { return nil }
        func number(_ start: Int, _ count: Int) -> Int? {
            var value = 0
            for index in start..<(start + count) {
                let byte = bytes[index]
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        guard bytes[4] == 0x2D, bytes[7] == 0x2D, bytes[10] == 0x20 || bytes[10] == 0x54, bytes[13] == 0x3A, bytes[16] == 0x3A,
            let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2),
            let minute = number(14, 2), let second = number(17, 2),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60
        else { return nil }
        var fraction = 0.0
        if bytes.count > 19 {
            guard bytes[19] == 0x2E, bytes.count > 20, bytes.count <= 29, let digits = number(20, bytes.count - 20) else { return nil }
            fraction = Double(digits) / pow10(bytes.count - 20)
        }
        let days = daysSinceEpoch(year: year, month: month, day: day)
        return Double(days * 86_400 + hour * 3600 + minute * 60 + second) + fraction
    }

    private static func pow10(_ exponent: Int) -> Double {
        var value = 1.0
        for _ in 0..<exponent { value *= 10 }
        return value
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (eras of 400 years, March-based years).
    static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date `days` after 1970-01-01 (the inverse of ``daysSinceEpoch(year:month:day:)``).
    static func civilDate(daysSinceEpoch days: Int64) -> (year: Int, month: Int, day: Int) {
        let shifted = Int(days) + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }
}

/// Standard base64 (RFC 4648, with padding): the form of Django's `value` column.
package enum Base64: Sendable {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let reverse: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }()

    /// Encodes bytes as base64 ASCII.
    package static func encode(_ bytes: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let chunk = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            output.append(alphabet[Int(chunk >> 18 & 63)])
            output.append(alphabet[Int(chunk >> 12 & 63)])
            output.append(alphabet[Int(chunk >> 6 & 63)])
            output.append(alphabet[Int(chunk & 63)])
            index += 3
        }
        let rest = bytes.count - index
        if rest > 0 {
            let chunk = UInt32(bytes[index]) << 16 | (rest == 2 ? UInt32(bytes[index + 1]) << 8 : 0)
            output.append(alphabet[Int(chunk >> 18 & 63)])
            output.append(alphabet[Int(chunk >> 12 & 63)])
            output.append(rest == 2 ? alphabet[Int(chunk >> 6 & 63)] : UInt8(ascii: "="))
            output.append(UInt8(ascii: "="))
        }
        return output
    }

    /// Decodes base64 ASCII strictly (as Python's `b64decode(validate=True)`): only the
    /// alphabet, padded to a multiple of four; `nil` otherwise.
    package static func decode(_ text: [UInt8]) -> [UInt8]? {
        text.withUnsafeBufferPointer { decode($0) }
    }

    /// ``decode(_:)-([UInt8])`` of bytes in place (a column's text, read without a copy).
    package static func decode(_ input: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard input.count % 4 == 0 else { return nil }
        guard let last = input.count >= 4 ? input.count - 4 : nil else { return [] }
        let padding = input[last + 3] == UInt8(ascii: "=") ? (input[last + 2] == UInt8(ascii: "=") ? 2 : 1) : 0
        let size = input.count / 4 * 3 - padding
        // Unsafe buffers: no bounds checks or lazy-global access per byte (a get decodes every value).
        // Decoded into a temporary buffer (on the stack when small), then copied into one array
        // (`Array(unsafeUninitializedCapacity:)` looked up generic metadata on every call).
        return reverse.withUnsafeBufferPointer { table -> [UInt8]? in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: size) { buffer -> [UInt8]? in
                var index = 0
                var written = 0
                // Every group of four but the last has no padding: a value ≥ 64 in any byte
                // (0xFF marks a byte outside the alphabet) refuses the whole text.
                while index < last {
                    let a = table[Int(input[index])]
                    let b = table[Int(input[index + 1])]
                    let c = table[Int(input[index + 2])]
                    let d = table[Int(input[index + 3])]
                    guard (a | b | c | d) & 0xC0 == 0 else { return nil }
                    let chunk = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
                    buffer[written] = UInt8(truncatingIfNeeded: chunk >> 16)
                    buffer[written + 1] = UInt8(truncatingIfNeeded: chunk >> 8)
                    buffer[written + 2] = UInt8(truncatingIfNeeded: chunk)
                    written += 3
                    index += 4
                }
                // The last group: "xx==" or "xxx=" or "xxxx"; a "=" anywhere else is refused.
                var chunk: UInt32 = 0
                for offset in 0..<4 {
                    if offset >= 4 - padding {
                        chunk <<= 6
                        continue
                    }
                    let value = table[Int(input[last + offset])]
                    guard value & 0xC0 == 0 else { return nil }
                    chunk = chunk << 6 | UInt32(value)
                }
                buffer[written] = UInt8(truncatingIfNeeded: chunk >> 16)
                if padding < 2 { buffer[written + 1] = UInt8(truncatingIfNeeded: chunk >> 8) }
                if padding < 1 { buffer[written + 2] = UInt8(truncatingIfNeeded: chunk) }
                return [UInt8](UnsafeBufferPointer(buffer))
            }
        }
    }
}

/// How a ``/Caching/CacheEntry`` is kept in the `value` column of Django's cache table: base64
/// text, as Django writes it, of a pickle wherever Django has a type for the value.
///
/// | Swift value (entry) | stored as (before base64) | Django's `DatabaseCache` reads |
/// | --- | --- | --- |
/// | `Int` and other integers (flags 4) | a pickle of an `int` | the `int` |
/// | `String` (flags 16) | a pickle of a `str` | the `str` |
/// | `[UInt8]`, `Data` (flags 0) | a pickle of `bytes` | the `bytes` |
/// | `Bool` (flags 2, `"1"`/`"0"`) | a pickle of a `bool` | `True` / `False` |
/// | `Double`, `Float` (JSON number) | a pickle of a `float` | the `float` |
/// | `nil` (JSON `null`) | a pickle of `None` | `None` |
/// | a pickle entry (flags 1) | the pickle itself | whatever it holds |
/// | any other `Codable` value (JSON array, object or string) | ``header`` (8 bytes: `00 53 43 01` and the flags, big-endian), then the JSON | an `UnpicklingError` (no pickle opens with 0x00): never mistaken for a value of Django's own |
///
/// Read back: a value with the header is that entry; a pickle is read with the library's
/// non-executing pickle reader: `int`, `str`, `bytes`, `bool` become the entries above, a
/// finite `float` and `None` become JSON (so they decode as `Double` and `nil`), and anything
/// else (`list`, `dict`, `inf`) stays a pickle entry, which the codec reads as any `Decodable`
/// of its shape. A pickle the reader refuses (one that would run code) is an entry with
/// ``/Caching/CacheItemFlags/pickle`` too, which the codec refuses again as
/// ``/Caching/CacheError/Code/foreignValue``: it is never run.
public enum DatabaseCacheValueFormat: Sendable {
    /// The four bytes that open a value this library writes in its own form; the flags follow.
    public static let header: [UInt8] = [0x00, 0x53, 0x43, 0x01]

    /// The `value` column's text (base64 ASCII) for an entry.
    public static func encode(_ entry: CacheEntry) -> [UInt8] {
        Base64.encode(pickleOrOwn(entry))
    }

    /// The bytes (before base64) for an entry: a pickle when Django has a type for it.
    static func pickleOrOwn(_ entry: CacheEntry) -> [UInt8] {
        switch entry.flags {
        case CacheItemFlags.pickle:
            return entry.bytes
        case CacheItemFlags.text, CacheItemFlags.bytes, CacheItemFlags.integer, CacheItemFlags.integerOrBool:
            if let value = try? PickleValue(entry: entry) { return PickleWriter.write(value) }
        case CacheItemFlags.json:
            if let value = jsonScalar(entry.bytes) { return PickleWriter.write(value) }
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

    /// A top-level JSON number as a Python `float` (integers never reach JSON: the codec writes
    /// them as decimal), and `null` as `None`; `nil` for any other JSON.
    static func jsonScalar(_ json: [UInt8]) -> PickleValue? {
        let text = String(decoding: json, as: UTF8.self)
        if text == "null" { return PickleValue.none }
        guard let first = json.first, first == UInt8(ascii: "-") || (first >= 0x30 && first <= 0x39),
            let number = Double(text), number.isFinite
        else { return nil }
        return .float(number)
    }

    /// The entry a `value` column holds, or `nil` when it is not base64.
    public static func decode(_ text: [UInt8]) -> CacheEntry? {
        text.withUnsafeBufferPointer { decode(base64: $0) }
    }

    /// ``decode(_:)`` of a `value` column's text in place (read without a copy).
    package static func decode(base64 text: UnsafeBufferPointer<UInt8>) -> CacheEntry? {
        guard let bytes = Base64.decode(text) else { return nil }
        if bytes.count >= 8, bytes[0] == header[0], bytes[1] == header[1], bytes[2] == header[2], bytes[3] == header[3] {
            let flags = UInt32(bytes[4]) << 24 | UInt32(bytes[5]) << 16 | UInt32(bytes[6]) << 8 | UInt32(bytes[7])
            return CacheEntry(flags: flags, bytes: Array(bytes[8...]))
        }
        // Python's pickle of one `bytes` or `bool` (what `set` of `[UInt8]` or `Bool` writes):
        // recognized without running the reader. A `str` still goes through the reader, which
        // checks its UTF-8.
        switch bytes.withUnsafeBytes({ PickleReader.scalar(in: $0) }) {
        case .bytes(let range): return CacheEntry(flags: CacheItemFlags.bytes, bytes: Array(bytes[range]))
        case .bool(let flag): return CacheEntry(flags: CacheItemFlags.integerOrBool, bytes: flag ? [0x31] : [0x30])
        case .string, nil: break
        }
        guard let value = try? PickleReader.read(bytes) else {
            return CacheEntry(flags: CacheItemFlags.pickle, bytes: bytes)
        }
        switch value {
        case .string, .bytes, .int, .bool:
            return value.entry
        case .none:
            return CacheEntry(flags: CacheItemFlags.json, bytes: Array("null".utf8))
        case .float(let number) where number.isFinite:
            return CacheEntry(flags: CacheItemFlags.json, bytes: Array("\(number)".utf8))
        default:
            return CacheEntry(flags: CacheItemFlags.pickle, bytes: bytes)
        }
    }
}
