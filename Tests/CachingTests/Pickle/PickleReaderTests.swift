import CachingTesting
import Testing

@testable import Caching

/// The pickle reader against what CPython writes, and against hostile input.
@Suite("Pickle reader")
struct PickleReaderTests {
    static func bytes(_ hex: String) -> [UInt8] {
        var result: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            result.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return result
    }

    static func expectForeign(_ data: [UInt8], _ comment: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let value = try PickleReader.read(data)
            Issue.record("read \(value) from \(comment)", sourceLocation: sourceLocation)
        } catch let error as CacheError {
            #expect(error.code == .foreignValue, "\(comment): \(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("\(comment): not a CacheError: \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test("every value CPython pickled with protocols 0 to 5 reads back equal", arguments: PickleSamples.readable)
    func readsCPython(_ sample: PickleSample) throws {
        for (proto, hex) in sample.hex.sorted(by: { $0.key < $1.key }) {
            let value = try PickleReader.read(Self.bytes(hex))
            #expect(value == sample.expected, "\(sample.name), protocol \(proto)")
        }
    }

    @Test("objects, sets, out-of-range ints and old-protocol bytes CPython pickled are foreign values", arguments: PickleSamples.foreign)
    func refusesCPythonObjects(_ sample: PickleSample) {
        for (proto, hex) in sample.hex.sorted(by: { $0.key < $1.key }) {
            Self.expectForeign(Self.bytes(hex), "\(sample.name), protocol \(proto)")
        }
    }

    @Test("every truncation of every sample is a foreign value")
    func truncations() {
        for sample in PickleSamples.readable {
            for (proto, hex) in sample.hex {
                let data = Self.bytes(hex)
                // Every length for the small samples; a spread of lengths for the large ones.
                let step = data.count > 2000 ? data.count / 200 : 1
                for length in stride(from: 0, to: data.count, by: step) {
                    Self.expectForeign(Array(data.prefix(length)), "\(sample.name) p\(proto) cut to \(length)")
                }
            }
        }
    }

    @Test("each opcode that names, calls or builds an object is refused, with its name in the message")
    func forbiddenOpcodes() throws {
        let opcodes: [(UInt8, String)] = [
            (0x63, "GLOBAL"), (0x93, "STACK_GLOBAL"), (0x52, "REDUCE"), (0x62, "BUILD"), (0x69, "INST"), (0x6F, "OBJ"),
            (0x81, "NEWOBJ"), (0x92, "NEWOBJ_EX"), (0x82, "EXT1"), (0x83, "EXT2"), (0x84, "EXT4"), (0x50, "PERSID"),
            (0x51, "BINPERSID"), (0x8F, "EMPTY_SET"), (0x90, "ADDITEMS"), (0x91, "FROZENSET"), (0x97, "NEXT_BUFFER"),
            (0x98, "READONLY_BUFFER"), (0x53, "STRING"), (0xFF, "0xff"), (0x00, "0x0"),
        ]
        for (opcode, name) in opcodes {
            // The opcode with plausible operands after a value on the stack: never run.
            let data: [UInt8] = [0x80, 0x04, 0x4E, 0x4E, opcode, 0x4B, 0x01, 0x0A, 0x0A, 0x2E]
            let error = #expect(throws: CacheError.self) { try PickleReader.read(data) }
            #expect(error?.code == .foreignValue)
            #expect(error?.message.contains(name) == true, "\(error?.message ?? "")")
        }
        // GLOBAL's real form, as protocol 0 writes `os.system`.
        let global = Array("cos\nsystem\n(S'true'\ntR.".utf8)
        let error = #expect(throws: CacheError.self) { try PickleReader.read(global) }
        #expect(error?.message.contains("GLOBAL") == true)
        Self.expectForeign([0x80, 0x06, 0x4E, 0x2E], "protocol 6")
    }

    @Test("lengths past the end of the data are refused without allocating them")
    func hugeLengths() {
        let le64: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]
        let cases: [([UInt8], String)] = [
            ([0x80, 0x04, 0x8D] + le64 + [0x2E], "BINUNICODE8 of 2^63-1"),
            ([0x80, 0x04, 0x8E] + le64 + [0x2E], "BINBYTES8 of 2^63-1"),
            ([0x80, 0x05, 0x96] + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF] + [0x2E], "BYTEARRAY8 of 2^64-1"),
            ([0x80, 0x04, 0x95] + le64 + [0x4E, 0x2E], "FRAME of 2^63-1"),
            ([0x80, 0x03, 0x42, 0xFF, 0xFF, 0xFF, 0xFF, 0x2E], "BINBYTES of 2^32-1"),
            ([0x80, 0x03, 0x58, 0xFF, 0xFF, 0xFF, 0xFF, 0x2E], "BINUNICODE of 2^32-1"),
            ([0x80, 0x02, 0x8B, 0xFF, 0xFF, 0xFF, 0x7F, 0x2E], "LONG4 of 2^31-1"),
            ([0x80, 0x02, 0x8B, 0xFF, 0xFF, 0xFF, 0xFF, 0x2E], "LONG4 of a negative length"),
            ([0x80, 0x02, 0x54, 0xFF, 0xFF, 0xFF, 0xFF, 0x2E], "BINSTRING of a negative length"),
            ([0x80, 0x04, 0x8C, 0x05, 0x61, 0x2E], "SHORT_BINUNICODE of 5 with 2 left"),
        ]
        for (data, comment) in cases { Self.expectForeign(data, comment) }
    }

    @Test("nesting is bounded: 100 levels read, 101 do not, and 100 000 fail fast")
    func depth() throws {
        func nested(_ depth: Int) -> [UInt8] {
            [0x80, 0x02] + [UInt8](repeating: 0x5D, count: depth) + [UInt8](repeating: 0x61, count: depth - 1) + [0x2E]
        }
        var value = try PickleReader.read(nested(100))
        var levels = 0
        while case .list(let items) = value {
            levels += 1
            value = items.first ?? .none
        }
        #expect(levels == 100)
        Self.expectForeign(nested(101), "101 levels")
        Self.expectForeign(nested(100_000), "100 000 levels")
        // Marks without end and tuples of tuples nest the same way.
        Self.expectForeign([0x80, 0x02] + [UInt8](repeating: 0x28, count: 100_000) + [0x2E], "100 000 marks")
        Self.expectForeign([0x80, 0x02, 0x29] + [UInt8](repeating: 0x85, count: 1000) + [0x2E], "1000 nested tuples")
    }

    @Test("shared references that expand exponentially are refused by the value bound")
    func expansion() throws {
        // L0 = [1]; L(i+1) = [Li, Li]: 2^40 values once expanded, 200 bytes of pickle.
        var data: [UInt8] = [0x80, 0x02, 0x5D, 0x4B, 0x01, 0x61, 0x71, 0x00]
        for level in 0..<40 {
            data += [0x5D, 0x28, 0x68, UInt8(level), 0x68, UInt8(level), 0x65, 0x71, UInt8(level + 1)]
        }
        data.append(0x2E)
        let clock = ContinuousClock()
        let elapsed = clock.measure { Self.expectForeign(data, "2^40 shared values") }
        #expect(elapsed < .seconds(10), "refused after a bounded amount of work: \(elapsed)")
        // Under the bound, sharing reads as copies.
        let small = Array(data.prefix(8 + 9 * 3)) + [0x2E]
        let level1: PickleValue = .list([.list([.int(1)]), .list([.int(1)])])
        let level2: PickleValue = .list([level1, level1])
        #expect(try PickleReader.read(small) == .list([level2, level2]))
    }

    @Test("a container that contains itself is refused")
    func cycles() {
        Self.expectForeign([0x80, 0x02, 0x5D, 0x71, 0x00, 0x68, 0x00, 0x61, 0x2E], "list in itself")
        Self.expectForeign([0x80, 0x02, 0x7D, 0x71, 0x00, 0x4B, 0x01, 0x68, 0x00, 0x73, 0x2E], "dict in itself")
        Self.expectForeign(
            [0x80, 0x02, 0x5D, 0x71, 0x00, 0x5D, 0x71, 0x01, 0x68, 0x00, 0x61, 0x61, 0x2E], "a in b in a")
    }

    @Test("malformed machines are refused: bad stacks, memo misses, bad keys and texts")
    func malformed() {
        let cases: [([UInt8], String)] = [
            ([0x2E], "STOP on an empty stack"),
            ([0x80, 0x02, 0x28, 0x2E], "STOP right after MARK"),
            ([0x80, 0x02, 0x61, 0x2E], "APPEND to nothing"),
            ([0x80, 0x02, 0x4B, 0x01, 0x4B, 0x02, 0x61, 0x2E], "APPEND to an int"),
            ([0x80, 0x02, 0x29, 0x4B, 0x02, 0x61, 0x2E], "APPEND to a tuple"),
            ([0x80, 0x02, 0x5D, 0x4B, 0x01, 0x4B, 0x02, 0x73, 0x2E], "SETITEM in a list"),
            ([0x80, 0x02, 0x7D, 0x5D, 0x4B, 0x01, 0x73, 0x2E], "a list as a key"),
            ([0x80, 0x02, 0x7D, 0x4B, 0x01, 0x5D, 0x85, 0x4B, 0x01, 0x73, 0x2E], "a tuple holding a list as a key"),
            ([0x80, 0x02, 0x28, 0x4B, 0x01, 0x64, 0x2E], "DICT with an odd number of items"),
            ([0x80, 0x02, 0x65, 0x2E], "APPENDS without MARK"),
            ([0x80, 0x02, 0x31, 0x2E], "POP_MARK without MARK"),
            ([0x80, 0x02, 0x30, 0x2E], "POP on an empty stack"),
            ([0x80, 0x02, 0x68, 0x05, 0x2E], "BINGET of an empty memo"),
            ([0x80, 0x02, 0x4B, 0x01, 0x86, 0x2E], "TUPLE2 of one value"),
            ([0x80, 0x02, 0x71, 0x00, 0x2E], "BINPUT of nothing"),
            (Array("I12a\n.".utf8), "INT that is not a number"),
            (Array("I99999999999999999999\n.".utf8), "INT above 64 bits"),
            (Array("L-99999999999999999999L\n.".utf8), "LONG below 64 bits"),
            (Array("Fabc\n.".utf8), "FLOAT that is not a number"),
            (Array("g1x\n.".utf8), "GET of a bad index"),
            (Array("V\\ud800\n.".utf8), "UNICODE with a lone surrogate"),
            (Array("V\\u12\n.".utf8), "UNICODE with a short escape"),
            ([0x80, 0x03, 0x8C, 0x02, 0xC3, 0x28, 0x2E], "SHORT_BINUNICODE that is not UTF-8"),
            ([0x80, 0x03, 0x8C, 0x03, 0xED, 0xA0, 0x80, 0x2E], "a UTF-8 surrogate (Python's surrogatepass)"),
            ([0x55, 0x01, 0xE9, 0x2E], "SHORT_BINSTRING that is not ASCII"),
            ([0x4B], "BININT1 without its byte"),
            ([0x4A, 0x01, 0x02], "BININT cut short"),
            ([0x47, 0x01], "BINFLOAT cut short"),
            (Array("I12".utf8), "INT without its newline"),
            ([], "nothing at all"),
        ]
        for (data, comment) in cases { Self.expectForeign(data, comment) }
    }

    @Test("what Python allows beyond the writer: protocol 0 True, LONG suffixes, POP, DUP, trailing bytes, duplicate keys")
    func lenientForms() throws {
        #expect(try PickleReader.read(Array("I01\n.".utf8)) == .bool(true))
        #expect(try PickleReader.read(Array("I00\n.".utf8)) == .bool(false))
        #expect(try PickleReader.read(Array("L-12L\n.".utf8)) == .int(-12))
        #expect(try PickleReader.read(Array("L7\n.".utf8)) == .int(7))
        #expect(try PickleReader.read([0x4B, 0x01, 0x4B, 0x02, 0x30, 0x2E]) == .int(1))
        #expect(try PickleReader.read([0x28, 0x4B, 0x01, 0x4B, 0x02, 0x31, 0x4B, 0x03, 0x2E]) == .int(3))
        #expect(try PickleReader.read([0x4B, 0x05, 0x32, 0x86, 0x2E]) == .list([.int(5), .int(5)]))
        #expect(try PickleReader.read([0x4E, 0x2E, 0xFF, 0xFF]) == .none, "bytes after STOP are ignored, as by pickle.loads")
        #expect(try PickleReader.read([0x55, 0x02, 0x68, 0x69, 0x2E]) == .string("hi"), "Python 2 str in ASCII")
        #expect(try PickleReader.read([0x8A, 0x00, 0x2E]) == .int(0), "LONG1 of no bytes")
        #expect(
            try PickleReader.read([0x8A, 0x09, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x2E]) == .int(-1),
            "LONG1 over-long -1")
        Self.expectForeign([0x8A, 0x09, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0x2E], "LONG1 of -2^63 - 2^56 ...")
        // {1: 'a', 2: 'b', 1: 'c'}: the first place, the last value.
        let duplicate: [UInt8] = [0x7D, 0x28, 0x4B, 0x01, 0x4E, 0x4B, 0x02, 0x88, 0x4B, 0x01, 0x89, 0x75, 0x2E]
        #expect(
            try PickleReader.read(duplicate)
                == .dict([.init(key: .int(1), value: .bool(false)), .init(key: .int(2), value: .bool(true))]))
        // A list appended to after it was memoized is seen through the memo with its items.
        let memoized: [UInt8] = [0x5D, 0x71, 0x00, 0x4B, 0x01, 0x61, 0x5D, 0x68, 0x00, 0x61, 0x2E]
        #expect(try PickleReader.read(memoized) == .list([.list([.int(1)])]))
        let nan = try PickleReader.read([0x47, 0x7F, 0xF8, 0, 0, 0, 0, 0, 0, 0x2E])
        if case .float(let number) = nan { #expect(number.isNaN) } else { Issue.record("\(nan)") }
    }

    @Test("a seeded fuzz of mutated samples and random bytes never crashes: a value or a foreign-value error")
    func fuzz() {
        var random = SeededRandomNumberGenerator(seed: 0x5EED_91C1)
        let seeds = PickleSamples.readable.flatMap { sample in sample.hex.values.map(Self.bytes) }.filter { $0.count < 4000 }
        var accepted = 0
        for round in 0..<20_000 {
            var data: [UInt8]
            if round % 10 == 0 {
                data = (0..<Int.random(in: 0...64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            } else {
                data = seeds.randomElement(using: &random)!
                for _ in 0..<Int.random(in: 1...4, using: &random) {
                    guard !data.isEmpty else { break }
                    let at = Int.random(in: 0..<data.count, using: &random)
                    switch Int.random(in: 0..<4, using: &random) {
                    case 0: data[at] = UInt8.random(in: 0...255, using: &random)
                    case 1: data.remove(at: at)
                    case 2: data.insert(UInt8.random(in: 0...255, using: &random), at: at)
                    default: data[at] ^= 1 << UInt8.random(in: 0...7, using: &random)
                    }
                }
            }
            do {
                let value = try PickleReader.read(data)
                accepted += 1
                // Whatever was read writes and reads back equal (NaN aside).
                if !value.containsNaN { #expect(try PickleReader.read(PickleWriter.write(value)) == value) }
            } catch let error as CacheError {
                #expect(error.code == .foreignValue, "\(error)")
            } catch {
                Issue.record("not a CacheError: \(error)")
            }
        }
        #expect(accepted > 100, "the mutations keep some inputs valid: \(accepted)")
    }
}

extension PickleValue {
    var containsNaN: Bool {
        switch self {
        case .float(let number): number.isNaN
        case .list(let items): items.contains { $0.containsNaN }
        case .dict(let items): items.contains { $0.key.containsNaN || $0.value.containsNaN }
        default: false
        }
    }
}
