import Caching
import FoundationEssentials
import Testing

/// The value codec and its item flags, shared with Python's memcached clients.
@Suite("Value codec")
struct CodecTests {
    @Test("native values use pymemcache/pylibmc-compatible flags and bytes")
    func flags() throws {
        #expect(try CacheValueCodec.encode(42) == CacheEntry(flags: 4, bytes: Array("42".utf8)))
        #expect(try CacheValueCodec.encode(-7) == CacheEntry(flags: 4, bytes: Array("-7".utf8)))
        #expect(try CacheValueCodec.encode("héllo") == CacheEntry(flags: 16, bytes: Array("héllo".utf8)))
        #expect(try CacheValueCodec.encode(true) == CacheEntry(flags: 2, bytes: Array("1".utf8)))
        #expect(try CacheValueCodec.encode(false) == CacheEntry(flags: 2, bytes: Array("0".utf8)))
        #expect(try CacheValueCodec.encode([UInt8]([1, 2])) == CacheEntry(flags: 0, bytes: [1, 2]))
        #expect(try CacheValueCodec.encode(Data([3])) == CacheEntry(flags: 0, bytes: [3]))
        #expect(try CacheValueCodec.encode(Int?(5)) == CacheEntry(flags: 4, bytes: Array("5".utf8)))
        // None, float, list and dict are pickled (flag 1), as pymemcache and pylibmc write them.
        #expect(try CacheValueCodec.encode(Int?.none) == CacheEntry(flags: 1, bytes: [0x80, 0x04, 0x4E, 0x2E]))
        #expect(try CacheValueCodec.encode(1.5) == CacheEntry(flags: 1, bytes: [0x80, 0x04, 0x47, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0, 0x2E]))
        #expect(
            try CacheValueCodec.encode([1, 2]) == CacheEntry(flags: 1, bytes: [0x80, 0x04, 0x5D, 0x28, 0x4B, 0x01, 0x4B, 0x02, 0x65, 0x2E]))
        // An empty array is a list whatever its element type, not bytes.
        #expect(try CacheValueCodec.encode([Int]()) == CacheEntry(flags: 1, bytes: [0x80, 0x04, 0x5D, 0x2E]))
        #expect(try CacheValueCodec.encode([UInt8]?.some([])) == CacheEntry(flags: 0, bytes: []))
        // A struct, or an array of them, stays JSON.
        #expect(try CacheValueCodec.encode(Point(x: 1)) == CacheEntry(flags: 0x100, bytes: Array(#"{"x":1}"#.utf8)))
        #expect(try CacheValueCodec.encode([Point(x: 1)]).flags == 0x100)
        #expect(try CacheValueCodec.encode(Point?.none) == CacheEntry(flags: 1, bytes: [0x80, 0x04, 0x4E, 0x2E]))
    }

    struct Point: Codable, Equatable {
        var x: Double
    }

    @Test("JSON written before pickles (flag 256) still reads")
    func readsOldJSON() throws {
        #expect(try CacheValueCodec.decode(CacheEntry(flags: 0x100, bytes: Array("null".utf8)), as: Int?.self, key: "k") == .some(nil))
        #expect(try CacheValueCodec.decode(CacheEntry(flags: 0x100, bytes: Array("[1,2]".utf8)), as: [Int].self, key: "k") == [1, 2])
        #expect(try CacheValueCodec.decode(CacheEntry(flags: 0x100, bytes: Array("1.5".utf8)), as: Double.self, key: "k") == 1.5)
    }

    @Test("pickles of plain values read as any Decodable of their shape; objects are foreign values")
    func readsPickles() throws {
        let pickled = try CacheValueCodec.encode(["a": [1.5, nil] as [Double?]])
        #expect(pickled.flags == 1)
        #expect(try CacheValueCodec.decode(pickled, as: [String: [Double?]].self, key: "k") == ["a": [1.5, nil]])
        #expect(try CacheValueCodec.decode(CacheEntry(flags: 1, bytes: [0x80, 0x05, 0x88, 0x2E]), as: Bool.self, key: "k"))
        #expect(
            try CacheValueCodec.decode(CacheEntry(flags: 1, bytes: [0x80, 0x04, 0x4E, 0x2E]), as: String?.self, key: "k") == .some(nil))
        let mismatch = #expect(throws: CacheError.self) {
            try CacheValueCodec.decode(pickled, as: [Int].self, key: ":1:k")
        }
        #expect(mismatch?.code == .decodingFailed)
        #expect(mismatch?.message.contains(":1:k") == true)
        // datetime.datetime(2026, 12, 1), protocol 5: a GLOBAL and a REDUCE, never run.
        let datetime = PickleReaderTests.bytes(
            "8005952a000000000000008c086461746574696d65948c086461746574696d65949394430a07ea0c010c000000000094859452942e")
        let foreign = #expect(throws: CacheError.self) {
            try CacheValueCodec.decode(CacheEntry(flags: 1, bytes: datetime), as: String.self, key: ":1:when")
        }
        #expect(foreign?.code == .foreignValue)
        #expect(foreign?.message.contains(":1:when") == true)
        #expect(foreign?.message.contains("STACK_GLOBAL") == true)
    }

    @Test("what Python clients write reads back natively")
    func readsPython() throws {
        // pymemcache writes int with flag 2, pylibmc with 4; pylibmc writes bool as 2 "1"/"0".
        #expect(try CacheValueCodec.decode(CacheEntry(flags: 2, bytes: Array("12".utf8)), as: Int.self, key: "k") == 12)
        #expect(try CacheValueCodec.decode(CacheEntry(flags: 4, bytes: Array("12".utf8)), as: Int.self, key: "k") == 12)
        #expect(try CacheValueCodec.decode(CacheEntry(flags: 2, bytes: Array("1".utf8)), as: Bool.self, key: "k") == true)
        #expect(try CacheValueCodec.decode(CacheEntry(flags: 2, bytes: Array("0".utf8)), as: Bool.self, key: "k") == false)
        #expect(try CacheValueCodec.decode(CacheEntry(flags: 16, bytes: Array("é".utf8)), as: String.self, key: "k") == "é")
        #expect(try CacheValueCodec.decode(CacheEntry(flags: 0, bytes: [0xFF]), as: [UInt8].self, key: "k") == [0xFF])
        // memcached pads a number that decr made shorter with spaces.
        #expect(try CacheValueCodec.decode(CacheEntry(flags: 4, bytes: Array("9 ".utf8)), as: Int.self, key: "k") == 9)
        #expect(try CacheValueCodec.decode(CacheEntry(flags: 4, bytes: Array("9".utf8)), as: Int?.self, key: "k") == .some(9))
    }

    @Test("pickles, zlib and unknown flags are a foreign-value error naming the key")
    func foreign() {
        for flags: UInt32 in [1, 8, 9, 0x40] {
            let error = #expect(throws: CacheError.self) {
                try CacheValueCodec.decode(CacheEntry(flags: flags, bytes: [0x80, 0x04]), as: String.self, key: ":1:k")
            }
            #expect(error?.code == .foreignValue)
            #expect(error?.message.contains(":1:k") == true)
        }
    }

    @Test("invalid UTF-8 text and non-numeric integers are decoding errors")
    func malformed() {
        let text = #expect(throws: CacheError.self) {
            try CacheValueCodec.decode(CacheEntry(flags: 16, bytes: [0xC3, 0x28]), as: String.self, key: "k")
        }
        #expect(text?.code == .decodingFailed)
        let number = #expect(throws: CacheError.self) {
            try CacheValueCodec.decode(CacheEntry(flags: 4, bytes: Array("12a".utf8)), as: Int.self, key: "k")
        }
        #expect(number?.code == .decodingFailed)
        let tooBig = #expect(throws: CacheError.self) {
            try CacheValueCodec.decode(CacheEntry(flags: 4, bytes: Array("300".utf8)), as: UInt8.self, key: "k")
        }
        #expect(tooBig?.code == .decodingFailed)
    }

    @Test("a value that cannot be encoded is an encodingFailed error")
    func unencodable() {
        // NaN has no JSON form (it has a pickle one, so a bare Double.nan is stored).
        let error = #expect(throws: CacheError.self) { try CacheValueCodec.encode(Point(x: .nan)) }
        #expect(error?.code == .encodingFailed)
    }
}
