import CachingTesting
import Foundation
import Testing

/// Runs `redis-cli -p PORT arguments…` against a test server (a raw client, to see and plant
/// what Redis holds underneath the cache) and returns its output without the final newline.
func redisCLI(_ server: RedisServer, _ arguments: String...) async throws -> String {
    try await runProgram("/usr/bin/redis-cli", ["-h", server.host, "-p", String(server.port)] + arguments)
}

/// The path of a helper executable built next to the test bundle.
func builtExecutable(_ name: String) throws -> String {
    let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    var directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = directory.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        directory.deleteLastPathComponent()
    }
    throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "\(name) not built; run `swift build --build-tests`"])
}

/// Seconds since an arbitrary start, for bounding how long a failing call takes.
func monotonicSeconds() -> Double {
    ProcessInfo.processInfo.systemUptime
}
