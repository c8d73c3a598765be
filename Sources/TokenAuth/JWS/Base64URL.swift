/// Strict base64url without padding (RFC 7515 §2), as JWS compact serialization requires.
///
/// Decoding refuses padding, whitespace, characters outside `A–Z a–z 0–9 - _`, a length
/// of 1 mod 4, and non-zero unused bits in the last character, so every byte string has
/// exactly one accepted encoding and a changed character always changes the bytes.
///
/// Both directions work on contiguous bytes (no generic collection code on the request path).
enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Each byte's 6-bit value, or `0xFF` for a byte outside the alphabet.
    private static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }()

    static func encode(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBufferPointer { encode($0) }
    }

    static func encode(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        let count = bytes.count
        let encodedCount = (count * 4 + 2) / 3
        return alphabet.withUnsafeBufferPointer { alphabet in
            String(unsafeUninitializedCapacity: encodedCount) { out in
                var input = 0
                var output = 0
                while input + 3 <= count {
                    let value = UInt32(bytes[input]) << 16 | UInt32(bytes[input + 1]) << 8 | UInt32(bytes[input + 2])
                    out[output] = alphabet[Int(value >> 18)]
                    out[output + 1] = alphabet[Int(value >> 12 & 0x3F)]
                    out[output + 2] = alphabet[Int(value >> 6 & 0x3F)]
                    out[output + 3] = alphabet[Int(value & 0x3F)]
                    input += 3
                    output += 4
                }
                switch count - input {
                case 1:
                    let value = UInt32(bytes[input]) << 16
                    out[output] = alphabet[Int(value >> 18)]
                    out[output + 1] = alphabet[Int(value >> 12 & 0x3F)]
                    output += 2
                case 2:
                    let value = UInt32(bytes[input]) << 16 | UInt32(bytes[input + 1]) << 8
                    out[output] = alphabet[Int(value >> 18)]
                    out[output + 1] = alphabet[Int(value >> 12 & 0x3F)]
                    out[output + 2] = alphabet[Int(value >> 6 & 0x3F)]
                    output += 3
                default: break
                }
                return output
            }
        }
    }

    /// Decodes strictly, or returns `nil`.
    static func decode(_ text: [UInt8]) -> [UInt8]? {
        text.withUnsafeBufferPointer { decode($0) }
    }

    /// Decodes strictly, or returns `nil`.
    static func decode(_ text: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        let count = text.count
        if count % 4 == 1 { return nil }
        let decodedCount = count * 3 / 4
        return decodeTable.withUnsafeBufferPointer { table in
            var valid = true
            let out = [UInt8](unsafeUninitializedCapacity: decodedCount) { out, initialized in
                var input = 0
                var output = 0
                while input + 4 <= count {
                    let a = table[Int(text[input])]
                    let b = table[Int(text[input + 1])]
                    let c = table[Int(text[input + 2])]
                    let d = table[Int(text[input + 3])]
                    // Every valid value is below 64; 0xFF marks a byte outside the alphabet.
                    guard (a | b | c | d) & 0x80 == 0 else {
                        valid = false
                        return
                    }
                    let value = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
                    out[output] = UInt8(truncatingIfNeeded: value >> 16)
                    out[output + 1] = UInt8(truncatingIfNeeded: value >> 8)
                    out[output + 2] = UInt8(truncatingIfNeeded: value)
                    input += 4
                    output += 3
                    initialized = output
                }
                switch count - input {
                case 2:
                    let a = table[Int(text[input])]
                    let b = table[Int(text[input + 1])]
                    // The 4 bits b carries past the byte must be zero: otherwise two encodings would give one value.
                    guard (a | b) & 0x80 == 0, b & 0x0F == 0 else {
                        valid = false
                        return
                    }
                    out[output] = a << 2 | b >> 4
                    initialized = output + 1
                case 3:
                    let a = table[Int(text[input])]
                    let b = table[Int(text[input + 1])]
                    let c = table[Int(text[input + 2])]
                    // Likewise the 2 bits c carries past the second byte.
                    guard (a | b | c) & 0x80 == 0, c & 0x03 == 0 else {
                        valid = false
                        return
                    }
                    let value = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6
                    out[output] = UInt8(truncatingIfNeeded: value >> 16)
                    out[output + 1] = UInt8(truncatingIfNeeded: value >> 8)
                    initialized = output + 2
                default: break
                }
            }
            return valid ? out : nil
        }
    }
}
