import CachingTesting
import Foundation
import Testing

/// Runs `redis-cli -p PORT arguments…` against a test server (a raw client, to see and plant
/// what Redis holds underneath the cache) and returns its output without the final newline.
func redisCLI(_ server: RedisServer, _ arguments: String...) async throws -> String {
    try await runProgram("/usr/bin/redis-cli", ["-h", server.host, "-p", String(server.port)] + arguments)
}

/// Seconds since an arbitrary start, for bounding how long a failing call takes.
func monotonicSeconds() -> Double {
    ProcessInfo.processInfo.systemUptime
}
