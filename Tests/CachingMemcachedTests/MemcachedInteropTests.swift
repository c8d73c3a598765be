import Caching
import CachingMemcached
import CachingTesting
import Foundation
import Testing

/// Swift and Django share one memcached server: same keys, same int/str/bytes values, both ways.
/// The repository root, from this file's path (Tests/CachingMemcachedTests/…).
let interopRepositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

@Suite(
    "Memcached: interop with Django (PyMemcacheCache and PyLibMCCache)",
    .enabled(if: InteropPython.shouldRun(repositoryRoot: interopRepositoryRoot), Comment(rawValue: InteropPython.howToCreate)))
struct MemcachedInteropTests {
    static let repositoryRoot = interopRepositoryRoot

    /// The Python with Django, pymemcache and pylibmc: `SWIFT_CACHING_PYTHON`, or the repository's `.venv`.
    static var python: String { InteropPython.path(repositoryRoot: repositoryRoot) }

    /// Runs the Django side and returns its JSON report.
    static func runDjango(server: String, prefix: String, version: Int) async throws -> [String: Any] {
        let python = python
        guard FileManager.default.isExecutableFile(atPath: python) else {
            Issue.record(
                "No Python with Django at \(python): run scripts/setup-test-env.sh (it creates .venv with Django, pymemcache and pylibmc), or set SWIFT_CACHING_PYTHON"
            )
            throw CacheError(.unavailable, "python missing")
        }
        let script = repositoryRoot + "/Tests/CachingMemcachedTests/Interop/django_memcached_interop.py"
        let output = try await MemcachedServer.pool.run { () throws -> (Int32, Data, Data) in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = [script, server, prefix, String(version)]
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
        let json = try JSONSerialization.jsonObject(with: output.1)
        return try #require(json as? [String: Any])
    }

    @Test("int, str and bytes cross both ways with the same keys; incr works on both sides")
    func roundTrip() async throws {
        try await MemcachedServer.with { server in
            let prefix = "interop"
            let version = 3
            let cache = try Cache.memcached(
                location: [server.address], configuration: CacheConfiguration(keyPrefix: prefix, version: version))
            try await cache.set("swift_int", 42)
            try await cache.set("swift_negative", -17)
            try await cache.set("swift_big", Int64.max)
            try await cache.set("swift_str", "héllo wörld ☃")
            try await cache.set("swift_bytes", [UInt8]([0, 1, 127, 128, 255]))
            try await cache.set("swift_empty", "")
            try await cache.set("swift_counter_pymemcache", 10)
            try await cache.set("swift_counter_pylibmc", 20)

            let report = try await Self.runDjango(server: server.address, prefix: prefix, version: version)
            let madeKeys = try #require(report["made_key"] as? [String: String])
            let read = try #require(report["read"] as? [String: [String: [Any]]])
            let increments = try #require(report["incr"] as? [String: Int])
            for client in ["pymemcache", "pylibmc"] {
                #expect(madeKeys[client] == cache.makeKey("some:key"), "\(client) makes another key")
                let values = try #require(read[client])
                #expect(values["swift_int"]?.first as? String == "int")
                #expect(values["swift_int"]?.last as? Int == 42)
                #expect(values["swift_negative"]?.last as? Int == -17)
                #expect(values["swift_big"]?.last as? Int == Int(Int64.max))
                #expect(values["swift_str"]?.first as? String == "str")
                #expect(values["swift_str"]?.last as? String == "héllo wörld ☃")
                #expect(values["swift_empty"]?.first as? String == "str")
                #expect(values["swift_empty"]?.last as? String == "")
                #expect(values["swift_bytes"]?.first as? String == "bytes")
                #expect(values["swift_bytes"]?.last as? String == "00017f80ff")
            }
            #expect(increments == ["pymemcache": 15, "pylibmc": 25])
            #expect(try await cache.get("swift_counter_pymemcache", as: Int.self) == 15)

            for client in ["pymemcache", "pylibmc"] {
                #expect(try await cache.get("\(client)_int", as: Int.self) == 1234)
                #expect(try await cache.get("\(client)_str", as: String.self) == "Grüße, ☃")
                #expect(try await cache.get("\(client)_bytes", as: [UInt8].self) == [0x00, 0x10, 0xFE, 0xFF])
                #expect(try await cache.incr("\(client)_counter", by: 3) == 10)
                // A str is not an int, on either side.
                await #expect(throws: CacheError.self) { try await cache.get("\(client)_str", as: Int.self) }
            }
        }
    }
}
