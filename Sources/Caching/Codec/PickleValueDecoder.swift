#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A `Decoder` over a `PickleValue`: what `PickleValue/decode(as:)` uses.
///
/// It reads as JSONDecoder reads the equivalent JSON: a `dict` is a keyed container (its
/// `str` keys by name, its `int` keys by integer value), a `list` is an unkeyed container,
/// `None` is nil. Beyond JSON: `bytes` decode as `[UInt8]` or `Data`, and a `dict` read as an
/// unkeyed container gives its keys and values in turn (how Swift decodes a dictionary whose
/// keys are neither `String` nor `Int`).
struct PickleValueDecoder: Decoder {
    let value: PickleValue
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .dict(let items) = value else { throw mismatch([String: PickleValue].self) }
        return KeyedDecodingContainer(KeyedContainer<Key>(items: items, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        switch value {
        case .list(let items): return UnkeyedContainer(items: items, codingPath: codingPath)
        case .dict(let items): return UnkeyedContainer(items: items.flatMap { [$0.key, $0.value] }, codingPath: codingPath)
        default: throw mismatch([PickleValue].self)
        }
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { SingleValue(decoder: self) }

    func mismatch(_ type: Any.Type) -> DecodingError {
        DecodingError.typeMismatch(
            type, DecodingError.Context(codingPath: codingPath, debugDescription: "Expected \(type) but found a Python \(value.typeName)"))
    }

    func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
        if case .bytes(let bytes) = value {
            if T.self == [UInt8].self { return bytes as! T }
            if T.self == Data.self { return Data(bytes) as! T }
        }
        switch T.self {
        case is String.Type:
            guard case .string(let text) = value else { throw mismatch(T.self) }
            return text as! T
        case is Bool.Type:
            guard case .bool(let flag) = value else { throw mismatch(T.self) }
            return flag as! T
        case is Double.Type:
            return try decodeFloat() as! T
        case is Float.Type:
            return Float(try decodeFloat()) as! T
        case let integer as any FixedWidthInteger.Type:
            return try decodeInteger(integer) as! T
        default:
            return try T(from: self)
        }
    }

    func decodeFloat() throws -> Double {
        switch value {
        case .float(let number): return number
        case .int(let number): return Double(number)
        default: throw mismatch(Double.self)
        }
    }

    func decodeInteger<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
        guard case .int(let number) = value else { throw mismatch(I.self) }
        guard let exact = I(exactly: number) else {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(codingPath: codingPath, debugDescription: "The int \(number) does not fit in \(I.self)"))
        }
        return exact
    }

    struct SingleValue: SingleValueDecodingContainer {
        let decoder: PickleValueDecoder
        var codingPath: [any CodingKey] { decoder.codingPath }
        func decodeNil() -> Bool { decoder.value == .none }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.decodeValue(T.self) }
    }

    struct Index: CodingKey {
        let intValue: Int?
        var stringValue: String { "Index \(intValue ?? 0)" }
        init(intValue: Int) { self.intValue = intValue }
        init?(stringValue: String) { nil }
    }

    struct UnkeyedContainer: UnkeyedDecodingContainer {
        let items: [PickleValue]
        let codingPath: [any CodingKey]
        var currentIndex = 0
        var count: Int? { items.count }
        var isAtEnd: Bool { currentIndex >= items.count }

        init(items: [PickleValue], codingPath: [any CodingKey]) {
            self.items = items
            self.codingPath = codingPath
        }

        mutating func next() throws -> PickleValueDecoder {
            guard !isAtEnd else {
                throw DecodingError.valueNotFound(
                    PickleValue.self, DecodingError.Context(codingPath: codingPath, debugDescription: "The list has no more items"))
            }
            defer { currentIndex += 1 }
            return PickleValueDecoder(value: items[currentIndex], codingPath: codingPath + [Index(intValue: currentIndex)])
        }

        mutating func decodeNil() throws -> Bool {
            guard !isAtEnd, items[currentIndex] == .none else { return false }
            currentIndex += 1
            return true
        }

        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decodeValue(T.self) }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
            try next().container(keyedBy: type)
        }

        mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }
        mutating func superDecoder() throws -> any Decoder { try next() }
    }

    struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let items: [PickleValue.DictItem]
        let codingPath: [any CodingKey]
        /// Each key's place in `items`, so a lookup is not a scan.
        let positions: [PickleValue: Int]

        init(items: [PickleValue.DictItem], codingPath: [any CodingKey]) {
            self.items = items
            self.codingPath = codingPath
            var positions: [PickleValue: Int] = [:]
            positions.reserveCapacity(items.count)
            for (position, item) in items.enumerated() { positions[item.key] = position }
            self.positions = positions
        }

        var allKeys: [Key] {
            items.compactMap { item in
                switch item.key {
                case .string(let name): Key(stringValue: name)
                case .int(let number): Int(exactly: number).flatMap { Key(intValue: $0) }
                default: nil
                }
            }
        }

        func find(_ key: Key) -> PickleValue? {
            // A name first: a dictionary's String key also offers an integer value when it is digits.
            if let position = positions[.string(key.stringValue)] { return items[position].value }
            if let number = key.intValue, let position = positions[.int(Int64(number))] { return items[position].value }
            return nil
        }

        func value(for key: Key) throws -> PickleValueDecoder {
            guard let value = find(key) else {
                throw DecodingError.keyNotFound(
                    key, DecodingError.Context(codingPath: codingPath, debugDescription: "The dict has no key '\(key.stringValue)'"))
            }
            return PickleValueDecoder(value: value, codingPath: codingPath + [key])
        }

        func contains(_ key: Key) -> Bool { find(key) != nil }
        func decodeNil(forKey key: Key) throws -> Bool { try value(for: key).value == .none }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try value(for: key).decodeValue(T.self) }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<
            NestedKey
        > {
            try value(for: key).container(keyedBy: type)
        }

        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { try value(for: key).unkeyedContainer() }
        func superDecoder() throws -> any Decoder { PickleValueDecoder(value: .dict(items), codingPath: codingPath) }
        func superDecoder(forKey key: Key) throws -> any Decoder { try value(for: key) }
    }
}
