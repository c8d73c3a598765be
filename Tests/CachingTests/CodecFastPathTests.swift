import Caching
import Testing

/// The codec's fast paths (String, Int, bytes) give exactly what the general path gives,
/// including its errors.
@Suite("Value codec fast paths")
struct CodecFastPathTests {
    @Test(
        "invalid UTF-8 of every kind is a decoding error, whatever its length",
        arguments: [
            [0xFF], [0x41, 0x80], [0xC3, 0x41], [0xE2, 0x82, 0x41], [0xF0, 0x9F, 0x98, 0x41],
            [0xF0, 0x9F, 0x98], [0xED, 0xA0, 0x80], [0xC0, 0xAF],
        ] as [[UInt8]])
    func invalidText(bytes: [UInt8]) throws {
        let entry = CacheEntry(flags: CacheItemFlags.text, bytes: bytes)
        let error = try #require(throws: CacheError.self) { try CacheValueCodec.decode(entry, as: String.self, key: "k") }
        #expect(error.code == .decodingFailed)
    }

    @Test("valid text of every width reads back exactly")
    func validText() throws {
        for text in ["", "a", "é", "€", "😀", "mixed ascii, ünïcödé and 😀 emoji", String(repeating: "x", count: 1000)] {
            let entry = try CacheValueCodec.encode(text)
            #expect(try CacheValueCodec.decode(entry, as: String.self, key: "k") == text)
        }
    }

    @Test("integers: memcached's space padding, both flags, and non-numbers falling through to the error")
    func integers() throws {
        #expect(try CacheValueCodec.decode(CacheEntry(flags: 4, bytes: Array("42  ".utf8)), as: Int.self, key: "k") == 42)
        #expect(try CacheValueCodec.decode(CacheEntry(flags: 2, bytes: Array("1".utf8)), as: Int.self, key: "k") == 1)
        #expect(try CacheValueCodec.decode(CacheEntry(flags: 4, bytes: Array("-7".utf8)), as: Int.self, key: "k") == -7)
        let error = try #require(throws: CacheError.self) {
            try CacheValueCodec.decode(CacheEntry(flags: 4, bytes: Array("4x".utf8)), as: Int.self, key: "k")
        }
        #expect(error.code == .decodingFailed)
        #expect(try CacheValueCodec.decode(CacheEntry(flags: 4, bytes: Array("5".utf8)), as: Int?.self, key: "k") == 5)
    }

    @Test("bytes come back unchanged; text is not bytes")
    func bytes() throws {
        let raw: [UInt8] = [0, 1, 0xFF, 0x80]
        #expect(try CacheValueCodec.decode(CacheEntry(flags: 0, bytes: raw), as: [UInt8].self, key: "k") == raw)
        #expect(throws: CacheError.self) {
            try CacheValueCodec.decode(CacheEntry(flags: CacheItemFlags.text, bytes: raw), as: [UInt8].self, key: "k")
        }
    }
}
