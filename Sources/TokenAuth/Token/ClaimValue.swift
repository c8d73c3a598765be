/// A JSON value in a token's claims: what `extras` hold and what authentication returns.
///
/// Integers without a fraction or exponent that fit `Int` stay exact (`.integer`); other
/// numbers are `.number`.
public enum ClaimValue: Sendable, Hashable, CustomStringConvertible {
    /// JSON `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// An integer.
    case integer(Int)
    /// Any other (finite) number.
    case number(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([ClaimValue])
    /// An object. Keys are unique.
    case object([String: ClaimValue])

    /// The string, if this is a string.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The boolean, if this is a boolean.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The number as a `Double`, if this is an integer or a number.
    public var doubleValue: Double? {
        switch self {
        case .integer(let value): Double(value)
        case .number(let value): value
        default: nil
        }
    }

    /// The integer, if this is an integer (or a number with no fraction that fits `Int`).
    public var intValue: Int? {
        switch self {
        case .integer(let value): return value
        case .number(let value):
            guard value.rounded() == value, let exact = Int(exactly: value) else { return nil }
            return exact
        default: return nil
        }
    }

    /// The elements, if this is an array.
    public var arrayValue: [ClaimValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The JSON text of this value (object keys sorted).
    public var description: String {
        var writer = JSONWriter()
        writer.write(self)
        return writer.text
    }
}

extension ClaimValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByFloatLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .integer(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(arrayLiteral elements: ClaimValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, ClaimValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    public init(nilLiteral: ()) { self = .null }
}
