import Caching
import CachingMemcached
import CachingTesting
import Foundation
import Testing

/// memcached's worker threads and connections are given back by `shutdown`, and no caller can
/// put a command on the wire through a key.
@Suite("Memcached: lifecycle and the key boundary")
struct MemcachedLifecycleTests {
    @Test("50 Caches with a memcached alias, used, closed and shut down, leave threads and descriptors where they were")
    func noLeaks() async throws {
        let output = try await runProgram(try builtExecutable("LifecycleProbe"), ["memcached", "50"])
        let counts = output.split(separator: " ").map { $0.split(separator: "=").last.map(String.init) ?? "" }
        #expect(counts.count == 2 && counts[0] == counts[1], "\(output)")
    }

    @Test(
        "a test process killed without clean-up takes its memcached and redis-server with it (none is left to init)",
        arguments: ["memcached", "redis"])
    func serversDieWithTheirTestProcess(program: String) async throws {
        let output = try await runProgram(try builtExecutable("LifecycleProbe"), ["orphan", program], allowFailure: true)
        let pid = try #require(output.split(separator: "\n").first { $0.hasPrefix("pid=") }.flatMap { Int32($0.dropFirst(4)) })
        try #require(pid > 0, "\(output)")
        func running() -> Bool {
            // Gone, or a zombie waiting for init to reap it.
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
            let state = stat.split(separator: ")").last?.split(separator: " ").first
            return state != "Z"
        }
        for _ in 0..<150 where running() { try await Task.sleep(for: .milliseconds(20)) }
        if running() {
            Issue.record("\(program) (pid \(pid)) outlived the killed process that started it")
            kill(pid, SIGKILL)
        }
    }

    @Test("the backend refuses a key with CR/LF, a space or over 250 bytes, whoever calls it, and sends nothing")
    func wireKeys() async throws {
        try await MemcachedServer.with { server in
            let backend = try MemcachedBackend(location: [server.address])
            let cache = Cache(backend, configuration: CacheConfiguration(keyFunction: { key, _, _ in key }))
            try await cache.set("bystander", "safe")
            for key in ["x\r\nflush_all", "with space", String(repeating: "k", count: 251), "", "del\u{7F}"] {
                await #expect(throws: CacheError.self) { _ = try await backend.entry(forKey: key) }
                await #expect(throws: CacheError.self) { try await backend.store(.integer(1), forKey: key, expiry: .never) }
                await #expect(throws: CacheError.self) { _ = try await backend.entries(forKeys: ["ok", key]) }
                await #expect(throws: CacheError.self) { _ = try await backend.removeEntry(forKey: key) }
                await #expect(throws: CacheError.self) { _ = try await backend.increment(entryForKey: key, by: 1) }
            }
            #expect(try await cache.get("bystander", as: String.self) == "safe", "no flush_all reached the server")
            try await cache.shutdown()
        }
    }
}
