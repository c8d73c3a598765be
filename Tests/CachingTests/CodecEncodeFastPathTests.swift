import Testing

@testable import Caching

/// The encoder's fast paths (String, [UInt8], Int) give exactly the flags and bytes of the
/// general path, which casts the value instead.
@Suite("CacheValueCodec encode fast paths")
struct CodecEncodeFastPathTests {
    @Test("String encodes as the general path does", arguments: ["", "plain", "naïve ☃ 𝄞", "with\nnewline and \u{0}nul"])
    func string(_ text: String) throws {
        #expect(try CacheValueCodec.encode(text) == CacheValueCodec.encodeGeneral(text))
        #expect(try CacheValueCodec.encode(text).flags == CacheItemFlags.text)
    }

    @Test("Int encodes as the general path does", arguments: [0, 1, -1, 42, Int.max, Int.min])
    func integer(_ number: Int) throws {
        #expect(try CacheValueCodec.encode(number) == CacheValueCodec.encodeGeneral(number))
        #expect(try CacheValueCodec.encode(number).bytes == Array(String(number).utf8))
    }

    @Test("bytes encode as the general path does", arguments: [[UInt8](), [0], [0xFF, 0xFE, 0x00, 0x41]])
    func bytes(_ bytes: [UInt8]) throws {
        #expect(try CacheValueCodec.encode(bytes) == CacheValueCodec.encodeGeneral(bytes))
        #expect(try CacheValueCodec.encode(bytes).flags == CacheItemFlags.bytes)
    }

    @Test("types without a fast path still take the general one")
    func others() throws {
        #expect(try CacheValueCodec.encode(true) == CacheEntry(flags: CacheItemFlags.integerOrBool, bytes: [0x31]))
        #expect(try CacheValueCodec.encode(Int8(-5)) == CacheEntry(flags: CacheItemFlags.integer, bytes: Array("-5".utf8)))
        #expect(try CacheValueCodec.encode(["a": 1]).flags == CacheItemFlags.pickle)
        #expect(try CacheValueCodec.encode(["a": Point(x: 1)]).flags == CacheItemFlags.json)
    }
}

private struct Point: Codable {
    var x: Int
}
