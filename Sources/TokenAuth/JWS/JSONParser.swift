/// A strict JSON parser (RFC 8259) for token headers and claims.
///
/// Refuses what lenient parsers let through and an attacker could use to make two
/// verifiers disagree: duplicate object keys, invalid UTF-8, unpaired surrogate escapes,
/// `NaN`/`Infinity`, leading zeros, trailing data, and nesting deeper than ``maxDepth``.
///
/// The parser reads a buffer it does not own: use it only inside the closure that lends the
/// buffer (``parse(_:)`` does this for an array). Its pieces (``parseRawString()``,
/// ``parseNumber()``, ``parseValue(depth:)``...) let a reader that knows the shape it expects
/// (a token's header or claims) read straight into its own fields, with the same rules.
struct JSONParser {
    struct Failure: Error, Sendable {
        /// What is wrong.
        var reason: String
        /// Where, in bytes from the start of the text.
        var offset: Int
        /// Whether the text is valid JSON holding a claim of the wrong type (the token's rules,
        /// not JSON's, refuse it).
        var isClaimError = false
    }

    /// A string's unescaped UTF-8: a range of the text when it has no escape, else the decoded bytes.
    enum RawString {
        case slice(Range<Int>)
        case decoded([UInt8])
    }

    static let maxDepth = 32

    let bytes: UnsafeBufferPointer<UInt8>
    private(set) var index = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// Parses one JSON text.
    static func parse(_ bytes: [UInt8]) throws(Failure) -> ClaimValue {
        let result = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(Failure) -> ClaimValue in
                var parser = JSONParser(buffer)
                parser.skipWhitespace()
                let value = try parser.parseValue(depth: 0)
                try parser.expectEnd()
                return value
            }
        }
        return try result.get()
    }

    func fail(_ reason: String) -> Failure { Failure(reason: reason, offset: index) }

    /// The byte at the cursor, or `nil` at the end.
    var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    /// Skips whitespace, then refuses anything left.
    mutating func expectEnd() throws(Failure) {
        skipWhitespace()
        guard index == bytes.count else { throw fail("unexpected data after the JSON value") }
    }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    /// Consumes `byte` (after whitespace) or fails with `reason`.
    mutating func expect(_ byte: UInt8, _ reason: String) throws(Failure) {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else { throw fail(reason) }
        index += 1
    }

    mutating func parseValue(depth: Int) throws(Failure) -> ClaimValue {
        guard index < bytes.count else { throw fail("unexpected end of JSON") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool(try parseBool())
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw fail("unexpected character")
        }
    }

    /// Parses `true` or `false` at the cursor.
    mutating func parseBool() throws(Failure) -> Bool {
        if index < bytes.count, bytes[index] == UInt8(ascii: "t") {
            try expectLiteral("true")
            return true
        }
        try expectLiteral("false")
        return false
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(Failure) {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw fail("unexpected end of JSON") }
        let pointer = literal.utf8Start
        for offset in 0..<count where bytes[index + offset] != pointer[offset] {
            throw fail("invalid literal")
        }
        index += count
    }

    /// Walks the members of the object at the cursor, calling `member` with each key, the
    /// cursor on the member's value; `member` must consume the value. Refuses what ``parse(_:)``
    /// refuses, except duplicate keys: detecting them is `member`'s job.
    mutating func parseMembers(
        depth: Int, _ member: (inout JSONParser, RawString) throws(Failure) -> Void
    ) throws(Failure) {
        guard depth <= Self.maxDepth else { throw fail("nesting deeper than \(Self.maxDepth)") }
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
            let key = try parseRawString()
            try expect(UInt8(ascii: ":"), "expected ':'")
            skipWhitespace()
            try member(&self, key)
            skipWhitespace()
            guard index < bytes.count else { throw fail("unexpected end of JSON") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "}") else { throw fail("expected ',' or '}'") }
            index += 1
            return
        }
    }

    private mutating func parseObject(depth: Int) throws(Failure) -> ClaimValue {
        var object: [String: ClaimValue] = [:]
        try parseMembers(depth: depth) { (parser: inout JSONParser, raw: RawString) throws(Failure) in
            let key = parser.string(raw)
            let value = try parser.parseValue(depth: depth)
            guard object.updateValue(value, forKey: key) == nil else { throw parser.fail("duplicate key '\(key)'") }
        }
        return .object(object)
    }

    /// Walks the elements of the array at the cursor, calling `element` with the cursor on
    /// each; `element` must consume it.
    mutating func parseElements(depth: Int, _ element: (inout JSONParser) throws(Failure) -> Void) throws(Failure) {
        guard depth <= Self.maxDepth else { throw fail("nesting deeper than \(Self.maxDepth)") }
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            try element(&self)
            skipWhitespace()
            guard index < bytes.count else { throw fail("unexpected end of JSON") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "]") else { throw fail("expected ',' or ']'") }
            index += 1
            return
        }
    }

    private mutating func parseArray(depth: Int) throws(Failure) -> ClaimValue {
        var array: [ClaimValue] = []
        try parseElements(depth: depth) { (parser: inout JSONParser) throws(Failure) in
            array.append(try parser.parseValue(depth: depth))
        }
        return .array(array)
    }

    /// Parses the string at the cursor.
    mutating func parseString() throws(Failure) -> String {
        string(try parseRawString())
    }

    /// The text of a string ``parseRawString()`` read (its UTF-8 is already validated).
    func string(_ raw: RawString) -> String {
        switch raw {
        case .slice(let range): String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
        case .decoded(let decoded): String(decoding: decoded, as: UTF8.self)
        }
    }

    /// Whether a string ``parseRawString()`` read is exactly `name` (ASCII).
    func matches(_ raw: RawString, _ name: StaticString) -> Bool {
        let count = name.utf8CodeUnitCount
        let pointer = name.utf8Start
        switch raw {
        case .slice(let range):
            guard range.count == count else { return false }
            for offset in 0..<count where bytes[range.lowerBound + offset] != pointer[offset] { return false }
            return true
        case .decoded(let decoded):
            guard decoded.count == count else { return false }
            for offset in 0..<count where decoded[offset] != pointer[offset] { return false }
            return true
        }
    }

    /// Parses the string at the cursor (on its opening quote) into its unescaped bytes,
    /// without making a `String`: a run with no escape is returned as a range of the text.
    mutating func parseRawString() throws(Failure) -> RawString {
        index += 1  // opening quote
        // Fast path: a run of unescaped bytes (UTF-8 validated here).
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let range = start..<index
                index += 1
                return .slice(range)
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw fail("control character in string") }
            if byte < 0x80 { index += 1 } else { _ = try parseUTF8Scalar() }
        }
        // Slow path: escapes. Keep the validated run as bytes and append decoded scalars.
        var out = Array(bytes[start..<index])
        while true {
            guard index < bytes.count else { throw fail("unterminated string") }
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return .decoded(out)
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { throw fail("unterminated escape") }
                let escape = bytes[index]
                index += 1
                let scalar: Unicode.Scalar
                switch escape {
                case UInt8(ascii: "\""): scalar = "\""
                case UInt8(ascii: "\\"): scalar = "\\"
                case UInt8(ascii: "/"): scalar = "/"
                case UInt8(ascii: "b"): scalar = "\u{08}"
                case UInt8(ascii: "f"): scalar = "\u{0C}"
                case UInt8(ascii: "n"): scalar = "\n"
                case UInt8(ascii: "r"): scalar = "\r"
                case UInt8(ascii: "t"): scalar = "\t"
                case UInt8(ascii: "u"):
                    let high = try parseHex4()
                    if (0xD800...0xDBFF).contains(high) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                            bytes[index + 1] == UInt8(ascii: "u")
                        else { throw fail("unpaired surrogate escape") }
                        index += 2
                        let low = try parseHex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw fail("unpaired surrogate escape") }
                        let value = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                        guard let combined = Unicode.Scalar(value) else { throw fail("invalid escape") }
                        scalar = combined
                    } else {
                        guard let single = Unicode.Scalar(high) else { throw fail("unpaired surrogate escape") }
                        scalar = single
                    }
                default: throw fail("invalid escape")
                }
                UTF8.encode(scalar) { out.append($0) }
            case 0x00..<0x20:
                throw fail("control character in string")
            case 0x00..<0x80:
                out.append(byte)
                index += 1
            default:
                let first = index
                _ = try parseUTF8Scalar()
                out.append(contentsOf: bytes[first..<index])
            }
        }
    }

    private mutating func parseHex4() throws(Failure) -> UInt32 {
        guard index + 4 <= bytes.count else { throw fail("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw fail("invalid \\u escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    /// Decodes one multi-byte UTF-8 scalar, refusing overlong forms, surrogates and bytes past U+10FFFF.
    private mutating func parseUTF8Scalar() throws(Failure) -> Unicode.Scalar {
        let lead = bytes[index]
        let length: Int
        var value: UInt32
        switch lead {
        case 0xC2...0xDF:
            length = 2
            value = UInt32(lead & 0x1F)
        case 0xE0...0xEF:
            length = 3
            value = UInt32(lead & 0x0F)
        case 0xF0...0xF4:
            length = 4
            value = UInt32(lead & 0x07)
        default: throw fail("invalid UTF-8")
        }
        guard index + length <= bytes.count else { throw fail("truncated UTF-8") }
        for offset in 1..<length {
            let byte = bytes[index + offset]
            guard byte & 0xC0 == 0x80 else { throw fail("invalid UTF-8") }
            value = value << 6 | UInt32(byte & 0x3F)
        }
        let minimum: UInt32 = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000
        guard value >= minimum, value <= 0x10FFFF, let scalar = Unicode.Scalar(value) else {
            throw fail("invalid UTF-8")
        }
        index += length
        return scalar
    }

    /// Parses the number at the cursor: `.integer` when it has no fraction or exponent and
    /// fits `Int`, else a finite `.number`.
    mutating func parseNumber() throws(Failure) -> ClaimValue {
        let start = index
        var isInteger = true
        let negative = bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        guard index < bytes.count else { throw fail("invalid number") }
        let digitsStart = index
        var magnitude = 0
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else if (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(bytes[index]) {
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                // Wraps harmlessly past 18 digits: such numbers take the text path below.
                magnitude = magnitude &* 10 &+ Int(bytes[index] &- UInt8(ascii: "0"))
                index += 1
            }
        } else {
            throw fail("invalid number")
        }
        let integerDigits = index - digitsStart
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            let digits = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            guard index > digits else { throw fail("invalid number") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            let digits = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            guard index > digits else { throw fail("invalid number") }
        }
        // Up to 18 digits always fit Int: no text needed.
        if isInteger, integerDigits <= 18 { return .integer(negative ? -magnitude : magnitude) }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        if isInteger, let integer = Int(text) { return .integer(integer) }
        guard let double = Double(text), double.isFinite else { throw fail("number out of range") }
        return .number(double)
    }
}
