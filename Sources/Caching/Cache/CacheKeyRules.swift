/// memcached's key rules, applied to made keys by every backend.
///
/// A made key (`prefix:version:key`) is invalid when it is longer than 250 Unicode code
/// points (Django's check, which counts code points, not grapheme clusters), longer than
/// 250 bytes in UTF-8 (memcached's own limit, which Django leaves to the client), or
/// contains a character in U+0000–U+0020 (control characters and space) or U+007F.
public enum CacheKeyRules: Sendable {
    /// The longest key memcached accepts, in bytes (and, for Django, in code points).
    public static let maxLength = 250

    /// Whether a made key may go on memcached's wire as it is: 1 to 250 UTF-8 bytes, none of
    /// them a control character, a space or DEL.
    ///
    /// A backend that speaks a text protocol checks every key with this at its own boundary,
    /// whoever calls it, so no key can carry a command (`"x\r\nflush_all"`).
    ///
    /// - Parameter key: A made key.
    /// - Returns: `true` when the key is safe to send.
    @inlinable
    public static func isValid(_ key: String) -> Bool {
        var key = key
        return key.withUTF8 { bytes in
            !bytes.isEmpty && bytes.count <= maxLength && !bytes.contains { $0 <= 0x20 || $0 == 0x7F }
        }
    }

    /// Throws unless ``isValid(_:)`` accepts the key: the check a wire-protocol backend makes
    /// before sending anything.
    ///
    /// - Parameters:
    ///   - key: A made key.
    ///   - backend: The backend's name, for the message.
    /// - Throws: ``CacheError/Code/invalidKey`` naming the key and the rule it breaks.
    public static func checkWireKey(_ key: String, backend: String) throws(CacheError) {
        guard !isValid(key) else { return }
        let problems = key.isEmpty ? ["the key is empty"] : problems(with: key)
        throw CacheError(
            .invalidKey, "\(backend) refused to send the key: \(problems.joined(separator: "; ")); nothing was sent", key: key)
    }

    /// The reasons a made key is invalid; empty when it is valid.
    ///
    /// - Parameter key: A made key.
    /// - Returns: One sentence per broken rule.
    public static func problems(with key: String) -> [String] {
        // Fast path, exact: a key of at most 250 UTF-8 bytes has at most 250 code points, and a
        // forbidden character is a single byte <= 0x20 or 0x7F (bytes of multi-byte characters
        // are all >= 0x80).
        let plain = key.utf8.withContiguousStorageIfAvailable { bytes in
            bytes.count <= maxLength && !bytes.contains { $0 <= 0x20 || $0 == 0x7F }
        }
        if plain == true { return [] }
        var problems: [String] = []
        var scalars = 0
        var badCharacter: Unicode.Scalar?
        for scalar in key.unicodeScalars {
            scalars += 1
            if badCharacter == nil, scalar.value <= 0x20 || scalar.value == 0x7F { badCharacter = scalar }
        }
        if scalars > maxLength {
            problems.append(
                "Cache key will cause errors if used with memcached: '\(abbreviate(key))' is \(scalars) code points long (longer than \(maxLength))"
            )
        } else if key.utf8.count > maxLength {
            problems.append(
                "Cache key will cause errors if used with memcached: '\(abbreviate(key))' is \(key.utf8.count) bytes long in UTF-8 (longer than \(maxLength))"
            )
        }
        if let badCharacter {
            let hex = String(badCharacter.value, radix: 16, uppercase: true)
            let code = String(repeating: "0", count: max(0, 4 - hex.count)) + hex
            problems.append(
                "Cache key contains characters that will cause errors if used with memcached: '\(abbreviate(key).debugEscaped)' contains U+\(code) (control characters, space and DEL are not allowed)"
            )
        }
        return problems
    }

    private static func abbreviate(_ key: String) -> String {
        let scalars = key.unicodeScalars
        guard scalars.count > 80 else { return key }
        return String(String.UnicodeScalarView(scalars.prefix(60))) + "…(\(scalars.count) code points)"
    }
}

extension String {
    /// The string with control characters shown as escapes, for messages.
    var debugEscaped: String {
        var result = ""
        for scalar in unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                result += scalar.escaped(asASCII: true)
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
