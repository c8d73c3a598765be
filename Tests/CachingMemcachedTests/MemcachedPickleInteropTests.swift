import Caching
import CachingMemcached
import CachingTesting
import Foundation
import Testing

/// Django's memcached backends pickle (flag 1) every value that is not str, int or bytes; Swift
/// reads those pickles, and writes floats, None, lists and dicts the same way.
@Suite(
    "Memcached: pickled values (flag 1) with Django's PyMemcacheCache and PyLibMCCache",
    .enabled(if: InteropPython.shouldRun(repositoryRoot: interopRepositoryRoot), Comment(rawValue: InteropPython.howToCreate)))
struct MemcachedPickleInteropTests {
    /// A value both sides hold under the same name, the twin of an entry of `VALUES` in
    /// Tests/CachingRedisTests/Interop/django_pickle_interop.py.
    struct Value: Sendable {
        let name: String
        let write: @Sendable (Cache, String) async throws -> Void
        let read: @Sendable (Cache, String) async throws -> String?

        static func of<V: Codable & Equatable & Sendable>(_ name: String, _ value: V) -> Value {
            Value(
                name: name,
                write: { cache, key in try await cache.set(key, value) },
                read: { cache, key in
                    do {
                        guard let read = try await cache.get(key, as: V.self) else { return "\(key): missing" }
                        return read == value ? nil : "\(key): read \(String(describing: read).prefix(200))"
                    } catch {
                        return "\(key): \(error)"
                    }
                })
        }
    }

    struct Profile: Codable, Equatable {
        var name: String
        var age: Int
        var scores: [Double]
        var nickname: String?
    }

    static let values: [Value] = [
        .of("int_negative", -17),
        .of("str", "héllo wörld ☃ 𝄞"),
        .of("bytes", [UInt8]([0x00, 0x01, 0x7F, 0x80, 0xFF])),
        .of("true", true),
        .of("float", 1.5),
        .of("float_big", 1e300),
        .of("none", String?.none),
        .of("list_int", [1, 2, 3]),
        .of("list_str", ["a", "é", ""]),
        .of("list_empty", [Int]()),
        .of("list_large", Array(0..<5000)),
        .of("list_optional", [nil, 1] as [Int?]),
        .of("list_bytes", [[UInt8](Array("a".utf8)), []]),
        .of("dict", ["a": 1, "b": 2]),
        .of("dict_empty", [String: Int]()),
        .of("dict_int_keys", [1: "x", 2: "y"]),
        .of("dict_nested", ["inner": ["deep": [1, 2]], "other": [:]] as [String: [String: [Int]]]),
        .of("list_of_dicts", [["a": "x"], [:]] as [[String: String]]),
    ]

    static func runDjango(client: String, server: String, prefix: String, names: [String]) async throws -> [String: Any] {
        let python = InteropPython.path(repositoryRoot: interopRepositoryRoot)
        guard FileManager.default.isExecutableFile(atPath: python) else {
            Issue.record("No Python with Django at \(python): run scripts/setup-test-env.sh, or set SWIFT_CACHING_PYTHON")
            throw CacheError(.unavailable, "python missing")
        }
        let script = interopRepositoryRoot + "/Tests/CachingRedisTests/Interop/django_pickle_interop.py"
        let output = try await MemcachedServer.pool.run { () throws -> (Int32, Data, Data) in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = [script, client, server, prefix, "exchange", names.joined(separator: ",")]
            let out = Pipe()
            let err = Pipe()
            process.standardOutput = out
            process.standardError = err
            try process.run()
            let stdout = out.fileHandleForReading.readDataToEndOfFile()
            let stderr = err.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, stdout, stderr)
        }
        guard output.0 == 0 else {
            Issue.record("The Django script failed (\(output.0)): \(String(decoding: output.2, as: UTF8.self))")
            throw CacheError(.protocolError, "django script failed")
        }
        return try #require(try JSONSerialization.jsonObject(with: output.1) as? [String: Any])
    }

    @Test(
        "lists, dicts, floats, None and bools cross both ways; Django's objects are foreign values", arguments: ["pymemcache", "pylibmc"])
    func exchange(client: String) async throws {
        try await MemcachedServer.with { server in
            let prefix = "pickle-" + client
            let cache = try Cache.memcached(location: [server.address], configuration: CacheConfiguration(keyPrefix: prefix))
            for value in Self.values { try await value.write(cache, "swift_" + value.name) }
            try await cache.set("swift_counter", 10)

            let report = try await Self.runDjango(client: client, server: server.address, prefix: prefix, names: Self.values.map(\.name))
            let mismatches = try #require(report["mismatches"] as? [String])
            // The one documented difference: a Swift Bool is flags 2 "1", which both clients read as the int 1.
            #expect(mismatches == ["swift_true: got 1 (int)"], "\(mismatches)")
            #expect(report["incr"] as? Int == 15)

            for value in Self.values {
                let problem = try await value.read(cache, "django_" + value.name)
                #expect(problem == nil, "\(problem ?? "")")
            }
            let profile = try await cache.get("django_profile", as: Profile.self)
            #expect(profile == Profile(name: "Ada", age: 36, scores: [1.5, 2], nickname: nil))
            #expect(try await cache.incr("django_counter", by: 3) == 10)
            for name in ["datetime", "object", "set", "tuple_of_objects"] {
                let error = await #expect(throws: CacheError.self) { _ = try await cache.get("foreign_" + name, as: String.self) }
                #expect(error?.code == .foreignValue, "\(name): \(String(describing: error))")
            }
            try await cache.shutdown()
        }
    }
}
