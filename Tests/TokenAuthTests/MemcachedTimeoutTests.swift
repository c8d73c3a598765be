import Caching
import CachingMemcached
import CachingTesting
import Testing
import TokenRevocation

@testable import TokenAuth

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Authentication over a real memcached that stops answering (`SIGSTOP`: its sockets stay open,
/// nothing replies). A store whose backend bounds its reads within `revocationTimeout`
/// (`read_timeout`) is called without a timeout task, and must still refuse the token in time;
/// one without that bound, or with a longer one, stays under the timeout race.
@Suite("JWTAuthentication over a stopped memcached", .serialized)
struct MemcachedTimeoutTests {
    func authentication(
        _ server: MemcachedServer, readTimeout: Double?, revocationTimeout: Duration
    ) throws -> (JWTAuthentication, CacheRevocation) {
        let address = try #require(MemcachedServerAddress(parsing: server.address))
        var options = MemcachedOptions()
        options.serversNeverEvict = true
        options.poolSize = 1
        // libmemcached alone would wait this long: far beyond every bound tested here.
        options.pollTimeout = 10
        options.connectTimeout = 10
        options.sendTimeout = 10
        options.receiveTimeout = 10
        options.readTimeout = readTimeout
        let store = try CacheRevocation(cache: Cache(try MemcachedBackend(servers: [address], options: options)))
        let auth = try JWTAuthentication(secret: secret, revocationStore: store, revocationTimeout: revocationTimeout)
        return (auth, store)
    }

    /// Sends `signal` to the server; for `SIGSTOP`, returns once every thread of the process
    /// shows as stopped (`T` in `/proc/PID/task/TID/stat`): delivery is asynchronous, and a
    /// request sent before it takes effect would still be answered.
    func send(_ signal: Int32, to server: MemcachedServer) async throws {
        let pid = try #require(server.processID)
        #expect(kill(pid, signal) == 0)
        #if os(Linux)
            guard signal == SIGSTOP else { return }
            var state = "?"
            for _ in 0..<400 {
                state = Self.processState(pid)
                if state == "T" || state == "t" { return }
                try await Task.sleep(for: .milliseconds(5))
            }
            Issue.record("memcached (pid \(pid)) did not stop: its state is \(state)")
        #endif
    }

    #if os(Linux)
        /// The state letters of the process's threads, `T` when all of them are stopped.
        static func processState(_ pid: pid_t) -> String {
            guard let directory = opendir("/proc/\(pid)/task") else { return "gone" }
            defer { closedir(directory) }
            var states: Set<String> = []
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                guard let thread = Int32(name) else { continue }
                states.insert(threadState("/proc/\(pid)/task/\(thread)/stat"))
            }
            return states == ["T"] || states == ["t"] ? "T" : states.sorted().joined(separator: ",")
        }

        /// The state letter in a `stat` file (after the parenthesized command name).
        static func threadState(_ path: String) -> String {
            guard let file = fopen(path, "r") else { return "gone" }
            defer { fclose(file) }
            var buffer = [CChar](repeating: 0, count: 512)
            guard fgets(&buffer, Int32(buffer.count), file) != nil else { return "unreadable" }
            let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard let close = line.lastIndex(of: ")") else { return "unparsable" }
            return String(line[line.index(after: close)...].dropFirst().prefix(1))
        }
    #endif

    /// Authenticates `count` tokens at once; each one's error (nil when accepted) and time.
    func attempts(_ auth: JWTAuthentication, count: Int) async throws -> [(error: AuthenticationError?, seconds: Double)] {
        var headers: [String] = []
        for _ in 0..<count { headers.append("Bearer " + (try Token.create(sub: "1").encode(secret: secret))) }
        return await withTaskGroup(of: (error: AuthenticationError?, seconds: Double).self) { group in
            for header in headers {
                group.addTask {
                    let start = ContinuousClock.now
                    let failure: AuthenticationError?
                    do throws(AuthenticationError) {
                        _ = try await auth.authenticate(authorization: header)
                        failure = nil
                    } catch {
                        failure = error
                    }
                    return (failure, (ContinuousClock.now - start).seconds)
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
    }

    @Test("read_timeout within revocationTimeout: no race, and every check is refused (503) within the bound")
    func boundedByTheBackend() async throws {
        let server = try await MemcachedServer.start(arguments: ["-M"])
        let (auth, store) = try authentication(server, readTimeout: 0.25, revocationTimeout: .seconds(3))
        let bound = try #require(store.checkTimeLimit)
        #expect(bound <= auth.revocationTimeout)
        // Answers while the server runs.
        _ = try await auth.authenticate(authorization: "Bearer " + Token.create(sub: "1").encode(secret: secret))
        try await send(SIGSTOP, to: server)
        let results = try await attempts(auth, count: 8)
        try await send(SIGCONT, to: server)
        #expect(results.count == 8)
        for result in results {
            let error = try #require(result.error, "a token was accepted while the store could not answer")
            #expect(error.code == .revocationUnavailable && error.httpStatus == 503)
            // The store failed the check itself (a timeout of its own), not the race.
            #expect(error.message.contains("did not answer within") == false, "\(error.message)")
            #expect((((error.underlying as? RevocationError)?.underlying) as? CacheError)?.code == .timeout, "\(error)")
            // The bound is 0.275 s; the margin absorbs a loaded machine, well under the 3 s
            // timeout the check is no longer raced against and the 10 s libmemcached would take.
            #expect(result.seconds >= 0.24 && result.seconds < 1.5, "took \(result.seconds) s")
        }
        await server.stop()
    }

    @Test("read_timeout longer than revocationTimeout, or none: the race still cuts the check off at the timeout")
    func raceStays() async throws {
        for readTimeout in [nil, 5.0] {
            let server = try await MemcachedServer.start(arguments: ["-M"])
            let (auth, store) = try authentication(server, readTimeout: readTimeout, revocationTimeout: .milliseconds(300))
            #expect(readTimeout == nil ? store.checkTimeLimit == nil : store.checkTimeLimit! > auth.revocationTimeout)
            try await send(SIGSTOP, to: server)
            let results = try await attempts(auth, count: 4)
            try await send(SIGCONT, to: server)
            for result in results {
                let error = try #require(result.error, "a token was accepted while the store could not answer")
                #expect(error.code == .revocationUnavailable)
                #expect(error.message.contains("did not answer within"), "\(error.message)")
                #expect(result.seconds >= 0.29 && result.seconds < 1.5, "took \(result.seconds) s")
            }
            await server.stop()
        }
    }
}
