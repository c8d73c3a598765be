import Caching
import CachingRedis
import CachingTesting
import Foundation
import Testing

/// The repository root, from this file's path (Tests/CachingRedisTests/…).
let redisInteropRepositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// One value both sides hold under the same name: Swift's typed twin of an entry of `VALUES` in
/// Tests/CachingRedisTests/Interop/django_pickle_interop.py.
struct PickleInteropValue: Sendable {
    let name: String
    let write: @Sendable (Cache, String) async throws -> Void
    let read: @Sendable (Cache, String) async throws -> String?

    /// Writes `value`; reads the key as `V` and returns a mismatch, or nil when equal.
    static func value<V: Codable & Equatable & Sendable>(_ name: String, _ value: V) -> PickleInteropValue {
        PickleInteropValue(
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

    struct Profile: Codable, Equatable {
        var name: String
        var age: Int
        var scores: [Double]
        var nickname: String?
    }

    /// The twin of the Python table, in the same order.
    static let all: [PickleInteropValue] = [
        .value("int_zero", 0),
        .value("int_negative", -17),
        .value("int_max", Int.max),
        .value("int_min", Int.min),
        .value("str", "héllo wörld ☃ 𝄞"),
        .value("str_empty", ""),
        .value("str_digits", "12"),
        .value("str_large", String(repeating: "x", count: 100_000) + "é"),
        .value("bytes", [UInt8]([0x00, 0x01, 0x7F, 0x80, 0xFF])),
        .value("bytes_empty", [UInt8]()),
        .value("bytes_large", [UInt8]((0..<400).flatMap { _ in (0...255).map { UInt8($0) } })),
        .value("true", true),
        .value("false", false),
        .value("float", 1.5),
        .value("float_negative", -0.25),
        .value("float_big", 1e300),
        .value("none", String?.none),
        .value("list_int", [1, 2, 3]),
        .value("list_str", ["a", "é", ""]),
        .value("list_empty", [Int]()),
        .value("list_large", Array(0..<5000)),
        .value("list_optional", [nil, 1] as [Int?]),
        .value("list_float", [0.5, -1.0]),
        .value("list_bytes", [[UInt8](Array("a".utf8)), []]),
        .value("dict", ["a": 1, "b": 2]),
        .value("dict_empty", [String: Int]()),
        .value("dict_int_keys", [1: "x", 2: "y"]),
        .value("dict_nested", ["inner": ["deep": [1, 2]], "other": [:]] as [String: [String: [Int]]]),
        .value("list_of_dicts", [["a": "x"], [:]] as [[String: String]]),
    ]
}

/// Runs the Django side of the pickle interop test and returns its JSON report.
func runDjangoPickleInterop(backend: String, location: String, prefix: String, mode: String) async throws -> [String: Any] {
    let python = InteropPython.path(repositoryRoot: redisInteropRepositoryRoot)
    guard FileManager.default.isExecutableFile(atPath: python) else {
        Issue.record(
            "No Python with Django and redis-py at \(python): run scripts/setup-test-env.sh (it creates .venv from scripts/requirements-test.txt), or set SWIFT_CACHING_PYTHON"
        )
        throw CacheError(.unavailable, "python missing")
    }
    let script = redisInteropRepositoryRoot + "/Tests/CachingRedisTests/Interop/django_pickle_interop.py"
    let output = try await runProgram(python, [script, backend, location, prefix, mode])
    let json = try JSONSerialization.jsonObject(with: Data(output.utf8))
    return try #require(json as? [String: Any])
}

@Suite(
    "Redis: interop with Django's RedisCache (redis-py), pickled values both ways",
    .enabled(if: InteropPython.shouldRun(repositoryRoot: redisInteropRepositoryRoot), Comment(rawValue: InteropPython.howToCreate)))
struct RedisPickleInteropTests {
    @Test("every supported type crosses both ways, incr works on both sides, Django's objects are foreign values")
    func exchange() async throws {
        try await RedisServer.with { server in
            let prefix = "pickle"
            let cache = try Cache.redis(location: [server.url], configuration: CacheConfiguration(keyPrefix: prefix))
            for value in PickleInteropValue.all { try await value.write(cache, "swift_" + value.name) }
            try await cache.set("swift_counter", 10)
            // A Codable struct keeps our JSON form, which Django cannot unpickle.
            try await cache.set("swift_struct", PickleInteropValue.Profile(name: "Ada", age: 36, scores: [], nickname: nil))

            let report = try await runDjangoPickleInterop(backend: "redis", location: server.url, prefix: prefix, mode: "exchange")
            let mismatches = try #require(report["mismatches"] as? [String])
            #expect(mismatches.isEmpty, "\(mismatches)")
            #expect(report["struct"] as? String == "UnpicklingError", "what Django sees for a struct: \(report["struct"] ?? "")")
            #expect(report["incr"] as? Int == 15, "Django incremented Swift's int")
            #expect(try await cache.get("swift_counter", as: Int.self) == 15)

            for value in PickleInteropValue.all {
                let problem = try await value.read(cache, "django_" + value.name)
                #expect(problem == nil, "\(problem ?? "")")
            }
            // Django's dict read as a struct, through the pickle decoder.
            let profile = try await cache.get("django_profile", as: PickleInteropValue.Profile.self)
            #expect(profile == PickleInteropValue.Profile(name: "Ada", age: 36, scores: [1.5, 2], nickname: nil))
            #expect(try await cache.incr("django_counter", by: 3) == 10, "Swift incremented Django's int")

            for name in ["datetime", "object", "set", "int_huge", "tuple_of_objects"] {
                let error = await #expect(throws: CacheError.self) { _ = try await cache.get("foreign_" + name, as: String.self) }
                #expect(error?.code == .foreignValue, "\(name): \(String(describing: error))")
            }

            let after = try await runDjangoPickleInterop(backend: "redis", location: server.url, prefix: prefix, mode: "after")
            #expect(after["django_counter"] as? Int == 10, "Django reads the int Swift incremented")
            #expect(after["swift_counter"] as? Int == 15)
            try await cache.shutdown()
        }
    }
}
