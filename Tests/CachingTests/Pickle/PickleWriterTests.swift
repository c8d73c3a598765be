import CachingTesting
import FoundationEssentials
import Testing

@testable import Caching

/// The pickle writer, the mapping to cache entries, and the Decoder over pickled values.
@Suite("Pickle writer and decoder")
struct PickleWriterTests {
    @Test("the writer's bytes for each kind of value, opcode by opcode")
    func exactBytes() {
        #expect(PickleWriter.write(.none) == [0x80, 0x04, 0x4E, 0x2E])
        #expect(PickleWriter.write(.bool(true)) == [0x80, 0x04, 0x88, 0x2E])
        #expect(PickleWriter.write(.int(255)) == [0x80, 0x04, 0x4B, 0xFF, 0x2E])
        #expect(PickleWriter.write(.int(256)) == [0x80, 0x04, 0x4D, 0x00, 0x01, 0x2E])
        #expect(PickleWriter.write(.int(-1)) == [0x80, 0x04, 0x4A, 0xFF, 0xFF, 0xFF, 0xFF, 0x2E])
        #expect(PickleWriter.write(.int(1 << 31)) == [0x80, 0x04, 0x8A, 0x05, 0x00, 0x00, 0x00, 0x80, 0x00, 0x2E])
        #expect(PickleWriter.write(.int(Int64.min)) == [0x80, 0x04, 0x8A, 0x08, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x2E])
        #expect(PickleWriter.write(.float(1.5)) == [0x80, 0x04, 0x47, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0, 0x2E])
        #expect(PickleWriter.write(.string("é")) == [0x80, 0x04, 0x8C, 0x02, 0xC3, 0xA9, 0x2E])
        #expect(PickleWriter.write(.bytes([7])) == [0x80, 0x04, 0x43, 0x01, 0x07, 0x2E])
        #expect(PickleWriter.write(.list([.int(1)])) == [0x80, 0x04, 0x5D, 0x4B, 0x01, 0x61, 0x2E])
        #expect(PickleWriter.write(.list([])) == [0x80, 0x04, 0x5D, 0x2E])
        #expect(PickleWriter.write(.list([.none, .none])) == [0x80, 0x04, 0x5D, 0x28, 0x4E, 0x4E, 0x65, 0x2E])
        #expect(
            PickleWriter.write(.dict([.init(key: .string("a"), value: .none)])) == [0x80, 0x04, 0x7D, 0x8C, 0x01, 0x61, 0x4E, 0x73, 0x2E])
        let long = PickleWriter.write(.string(String(repeating: "x", count: 300)))
        #expect(Array(long.prefix(7)) == [0x80, 0x04, 0x58, 0x2C, 0x01, 0x00, 0x00])
    }

    @Test("every CPython sample, written again, reads back equal")
    func samplesRoundTrip() throws {
        for sample in PickleSamples.readable {
            guard let expected = sample.expected else { continue }
            #expect(try PickleReader.read(PickleWriter.write(expected)) == expected, "\(sample.name)")
        }
    }

    static func randomValue(_ random: inout SeededRandomNumberGenerator, depth: Int) -> PickleValue {
        let kinds = depth > 3 ? 6 : 8
        switch Int.random(in: 0..<kinds, using: &random) {
        case 0: return .none
        case 1: return .bool(Bool.random(using: &random))
        case 2:
            let scale = Int64(1) << Int64.random(in: 0...62, using: &random)
            return .int(Int64.random(in: -scale...scale, using: &random))
        case 3:
            let number = Double(bitPattern: random.next())
            return .float(number.isNaN ? 0.25 : number)
        case 4:
            let scalars = (0..<Int.random(in: 0...300, using: &random)).compactMap { _ in
                Unicode.Scalar(UInt32.random(in: 0...0x10FFFF, using: &random))
            }
            return .string(String(String.UnicodeScalarView(scalars)))
        case 5: return .bytes((0..<Int.random(in: 0...300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) })
        case 6: return .list((0..<Int.random(in: 0...1200, using: &random) / 100).map { _ in randomValue(&random, depth: depth + 1) })
        default:
            var items: [PickleValue.DictItem] = []
            var seen = Set<PickleValue>()
            for index in 0..<Int.random(in: 0...8, using: &random) {
                let key: PickleValue = index % 2 == 0 ? .string("k\(random.next() % 50)") : .int(Int64(random.next() % 50))
                guard seen.insert(key).inserted else { continue }
                items.append(.init(key: key, value: randomValue(&random, depth: depth + 1)))
            }
            return .dict(items)
        }
    }

    @Test("seeded random values round-trip writer → reader")
    func randomRoundTrip() throws {
        var random = SeededRandomNumberGenerator(seed: 12)
        for _ in 0..<2000 {
            let value = Self.randomValue(&random, depth: 0)
            #expect(try PickleReader.read(PickleWriter.write(value)) == value)
        }
        // A list long enough to need several APPENDS batches.
        let long = PickleValue.list((0..<2500).map { .int(Int64($0)) })
        #expect(try PickleReader.read(PickleWriter.write(long)) == long)
        let wide = PickleValue.dict((0..<2500).map { .init(key: .int(Int64($0)), value: .none) })
        #expect(try PickleReader.read(PickleWriter.write(wide)) == wide)
    }

    @Test("entries: text, bytes, ints and bools keep their memcached forms; the rest is a pickle")
    func entries() throws {
        #expect(PickleValue.string("é").entry == CacheEntry(flags: CacheItemFlags.text, bytes: Array("é".utf8)))
        #expect(PickleValue.bytes([1]).entry == CacheEntry(flags: CacheItemFlags.bytes, bytes: [1]))
        #expect(PickleValue.int(-3).entry == .integer(-3))
        #expect(PickleValue.bool(true).entry == CacheEntry(flags: CacheItemFlags.integerOrBool, bytes: [0x31]))
        #expect(PickleValue.none.entry == CacheEntry(flags: CacheItemFlags.pickle, bytes: [0x80, 0x04, 0x4E, 0x2E]))
        for value: PickleValue in [.string("x"), .bytes([]), .int(Int64.max), .bool(false), .none, .float(2), .list([.none])] {
            #expect(try PickleValue(entry: value.entry) == value)
        }
        #expect(try PickleValue(entry: CacheEntry(flags: CacheItemFlags.integerOrBool, bytes: Array("12".utf8))) == .int(12))
        #expect(try PickleValue(entry: CacheEntry(flags: CacheItemFlags.json, bytes: Array("1".utf8))) == nil)
        #expect(try PickleValue(entry: CacheEntry(flags: CacheItemFlags.text, bytes: [0xFF])) == nil)
        let error = #expect(throws: CacheError.self) { try PickleValue(entry: CacheEntry(flags: CacheItemFlags.pickle, bytes: [0x63])) }
        #expect(error?.code == .foreignValue)
    }

    struct Profile: Codable, Equatable {
        var name: String
        var age: Int
        var scores: [Double]
        var nickname: String?
        var avatar: Data
    }

    @Test("decoding as Swift types: dictionaries, arrays, optionals, structs, bytes, numbers")
    func decoding() throws {
        let dict = PickleValue.dict([.init(key: .string("a"), value: .int(1)), .init(key: .string("b"), value: .int(2))])
        #expect(try dict.decode(as: [String: Int].self) == ["a": 1, "b": 2])
        #expect(try PickleValue.list([.string("x"), .string("y")]).decode(as: [String].self) == ["x", "y"])
        #expect(try PickleValue.none.decode(as: Double?.self) == nil)
        #expect(try PickleValue.float(2.5).decode(as: Double?.self) == 2.5)
        #expect(try PickleValue.int(3).decode(as: Double.self) == 3)
        #expect(try PickleValue.float(0.5).decode(as: Float.self) == 0.5)
        #expect(try PickleValue.int(200).decode(as: UInt8.self) == 200)
        #expect(try PickleValue.bytes([1, 2]).decode(as: [UInt8].self) == [1, 2])
        #expect(try PickleValue.bytes([1, 2]).decode(as: Data.self) == Data([1, 2]))
        #expect(try PickleValue.list([.int(1), .int(2)]).decode(as: [UInt8].self) == [1, 2])
        let intKeys = PickleValue.dict([.init(key: .int(1), value: .string("x")), .init(key: .int(-2), value: .string("y"))])
        #expect(try intKeys.decode(as: [Int: String].self) == [1: "x", -2: "y"])
        let digits = PickleValue.dict([.init(key: .string("1"), value: .bool(true))])
        #expect(try digits.decode(as: [String: Bool].self) == ["1": true])
        let nested = PickleValue.list([.dict([.init(key: .string("k"), value: .list([.none, .int(1)]))])])
        #expect(try nested.decode(as: [[String: [Int?]]].self) == [["k": [nil, 1]]])
        let profile = PickleValue.dict([
            .init(key: .string("name"), value: .string("Ada")), .init(key: .string("age"), value: .int(36)),
            .init(key: .string("scores"), value: .list([.float(1.5), .int(2)])), .init(key: .string("avatar"), value: .bytes([9])),
        ])
        #expect(try profile.decode(as: Profile.self) == Profile(name: "Ada", age: 36, scores: [1.5, 2], nickname: nil, avatar: Data([9])))
        // Dictionaries keyed by neither String nor Int decode from the dict's pairs.
        let boolKeys = PickleValue.dict([.init(key: .bool(true), value: .int(1))])
        #expect(try boolKeys.decode(as: [Bool: Int].self) == [true: 1])
    }

    @Test("a value of the wrong shape is a DecodingError naming what was found")
    func mismatches() {
        let cases: [() throws -> Any] = [
            { try PickleValue.string("x").decode(as: Int.self) },
            { try PickleValue.int(1).decode(as: String.self) },
            { try PickleValue.int(1).decode(as: Bool.self) },
            { try PickleValue.int(300).decode(as: UInt8.self) },
            { try PickleValue.float(1.5).decode(as: Int.self) },
            { try PickleValue.list([]).decode(as: [String: Int].self) },
            { try PickleValue.dict([]).decode(as: Profile.self) },
            { try PickleValue.none.decode(as: String.self) },
            { try PickleValue.list([.int(1), .string("a")]).decode(as: [Int].self) },
        ]
        for (index, attempt) in cases.enumerated() {
            #expect(throws: DecodingError.self, "case \(index)") { _ = try attempt() }
        }
    }

    @Test("Swift values that map to Python values, found by a dynamic cast; structs do not")
    func representable() {
        #expect(PickleValue(representing: 1.5) == .float(1.5))
        #expect(PickleValue(representing: Int?.none) == PickleValue.none)
        #expect(PickleValue(representing: [1, 2]) == .list([.int(1), .int(2)]))
        #expect(PickleValue(representing: [[UInt8]([1])]) == .list([.bytes([1])]))
        #expect(
            PickleValue(representing: ["b": [true], "a": [false]])
                == .dict([.init(key: .string("a"), value: .list([.bool(false)])), .init(key: .string("b"), value: .list([.bool(true)]))]))
        #expect(PickleValue(representing: [2: "x"]) == .dict([.init(key: .int(2), value: .string("x"))]))
        #expect(PickleValue(representing: [Float(0.5)]) == .list([.float(0.5)]))
        let profile = Profile(name: "a", age: 1, scores: [], nickname: nil, avatar: Data())
        #expect(PickleValue(representing: profile) == nil)
        #expect(PickleValue(representing: [profile]) == nil)
        #expect(PickleValue(representing: ["p": profile]) == nil)
        #expect(PickleValue(representing: [UInt64(1)]) == nil, "UInt64 may not fit a 64-bit Python int")
    }
}
