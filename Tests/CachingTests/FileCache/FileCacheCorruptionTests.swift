import Caching
import CachingTesting
import Foundation
import Testing

/// Bad files under a key's name: each reads as a miss, is removed, and costs no other key.
@Suite("FileCache corrupt files")
struct FileCacheCorruptionTests {
    /// How to spoil a valid file's bytes.
    struct Damage: Sendable, CustomTestStringConvertible {
        var name: String
        var apply: @Sendable ([UInt8]) -> [UInt8]
        var testDescription: String { name }
    }

    static let keyLength = ":1:victim".utf8.count

    static let damages: [Damage] = {
        var damages: [Damage] = [Damage(name: "zero-length") { _ in [] }]
        for offset in [1, 4, 8, 16, 24, 40, 47, 48, 48 + keyLength - 1, 48 + keyLength, 48 + keyLength + 5] {
            damages.append(Damage(name: "truncated at \(offset)") { Array($0.prefix(offset)) })
        }
        damages.append(Damage(name: "truncated by one byte") { Array($0.dropLast()) })
        damages.append(Damage(name: "a trailing byte") { $0 + [0] })
        damages.append(
            Damage(name: "random bytes of the same length") { bytes in
                var generator = SeededRandomNumberGenerator(seed: 42)
                return bytes.map { _ in UInt8.random(in: 0...255, using: &generator) }
            })
        damages.append(
            Damage(name: "a Django pickle under our name") { _ in
                // pickle.dumps(1767225900.0) then zlib-compressed pickle, as Django's .djcache files hold.
                [0x80, 0x05, 0x95, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0x47, 0x41, 0xda, 0x54, 0x6c, 0x8b, 0x00, 0x00, 0x00, 0x2e]
                    + [0x78, 0x9c, 0x6b, 0x60, 0x99, 0x5a, 0xcc, 0x00, 0x00, 0x04, 0x74, 0x01, 0x5d]
            })
        for (name, offset) in [
            ("payload", -1), ("first payload byte", 48 + keyLength), ("item flags", 24), ("key length", 28),
            ("payload length", 32), ("checksum", 40), ("key", 50), ("magic", 0), ("version", 4),
            ("expiry complement", 16), ("expiry and its complement alike", -2),
        ] {
            damages.append(
                Damage(name: "flipped \(name)") { bytes in
                    var bytes = bytes
                    switch offset {
                    case -1: bytes[bytes.count - 3] ^= 0x20
                    case -2:
                        // A consistent pair holding a NaN other than "never", which no writer produces.
                        let nan: [UInt8] = [0x01, 0, 0, 0, 0, 0, 0xF8, 0x7F]
                        for index in 0..<8 {
                            bytes[8 + index] = nan[index]
                            bytes[16 + index] = ~nan[index]
                        }
                    default: bytes[offset] ^= 0x01
                    }
                    return bytes
                })
        }
        return damages
    }()

    @Test("a damaged file is a miss and is removed; other keys are untouched", arguments: damages)
    func damaged(damage: Damage) async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let cache = try Cache.file(directory: directory.path)
        try await cache.set("victim", "the victim's value, long enough to have a payload")
        try await cache.set("other", "intact")
        let path = cache.filePath(forKey: cache.makeKey("victim"))
        let bytes = [UInt8](try #require(FileManager.default.contents(atPath: path)))
        let damaged = damage.apply(bytes)
        #expect(damaged != bytes)
        try Data(damaged).write(to: URL(fileURLWithPath: path))

        #expect(try await cache.get("victim", as: String.self) == nil)
        #expect(!FileManager.default.fileExists(atPath: path), "the damaged file is removed")
        #expect(try await cache.get("other", as: String.self) == "intact")
        #expect(try await cache.fileCount() == 1)
    }

    @Test(
        "every operation treats a damaged file as missing",
        arguments: [
            "hasKey", "delete", "touch", "incr", "add", "getMany",
        ])
    func damagedForEveryOperation(operation: String) async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let cache = try Cache.file(directory: directory.path)
        try await cache.set("victim", 10)
        try await cache.set("other", 20)
        let path = cache.filePath(forKey: cache.makeKey("victim"))
        var bytes = [UInt8](try #require(FileManager.default.contents(atPath: path)))
        bytes[bytes.count - 1] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        switch operation {
        case "hasKey": #expect(try await cache.hasKey("victim") == false)
        case "delete": #expect(try await cache.delete("victim") == false)
        case "touch": #expect(try await cache.touch("victim") == false)
        case "incr":
            let error = await #expect(throws: CacheError.self) { try await cache.incr("victim") }
            #expect(error?.code == .keyNotFound)
        case "add":
            #expect(try await cache.add("victim", 11))
            #expect(try await cache.get("victim", as: Int.self) == 11)
        default:
            #expect(try await cache.getMany(["victim", "other"], as: Int.self) == ["other": 20])
        }
        if operation != "add" { #expect(!FileManager.default.fileExists(atPath: path)) }
        #expect(try await cache.get("other", as: Int.self) == 20)
    }

    @Test("another key's valid file under this key's name is a miss, and is left alone")
    func keyMismatch() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let cache = try Cache.file(directory: directory.path)
        try await cache.set("A", "A's value")
        let aPath = cache.filePath(forKey: cache.makeKey("A"))
        let bPath = cache.filePath(forKey: cache.makeKey("B"))
        let aBytes = try #require(FileManager.default.contents(atPath: aPath))
        try aBytes.write(to: URL(fileURLWithPath: bPath))

        #expect(try await cache.get("B", as: String.self) == nil)
        #expect(try await cache.hasKey("B") == false)
        #expect(try await cache.delete("B") == false)
        #expect(try await cache.touch("B") == false)
        await #expect(throws: CacheError.self) { try await cache.incr("B") }
        #expect(FileManager.default.contents(atPath: bPath) == aBytes, "another key's file is not removed")
        #expect(try await cache.get("A", as: String.self) == "A's value")
    }
}
