import Caching
import CachingRedis
import CachingTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension RedisTests {
    /// Faults: nothing listening, a server that never answers, a server killed and restarted,
    /// credentials, databases, replicas and error replies. Every failing call is bounded in time.
    @Suite("Redis: faults")
    struct RedisFaultTests {
        /// A loopback port nothing listens on (bound, then closed).
        func deadPort() throws -> Int {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            try withUnsafeMutablePointer(to: &address) { pointer in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    try #require(bind(fd, $0, length) == 0)
                    try #require(getsockname(fd, $0, &length) == 0)
                }
            }
            return Int(UInt16(bigEndian: address.sin_port))
        }

        /// A socket that accepts connections (the kernel completes them) but never reads or answers.
        func silentListener() throws -> (fd: Int32, port: Int) {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            try withUnsafeMutablePointer(to: &address) { pointer in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    try #require(bind(fd, $0, length) == 0)
                    try #require(getsockname(fd, $0, &length) == 0)
                }
            }
            try #require(listen(fd, 16) == 0)
            return (fd, Int(UInt16(bigEndian: address.sin_port)))
        }

        @Test("no server listening: a clear unavailable error at once, naming the alias and server but not the password")
        func unreachable() async throws {
            let port = try deadPort()
            var options = RedisOptions()
            options.connectTimeout = 0.3
            options.timeout = 0.3
            let cache = try Cache.redis(location: ["redis://:letmein@127.0.0.1:\(port)/0"], options: options, alias: "sessions")
            let start = monotonicSeconds()
            let error = await #expect(throws: CacheError.self) { try await cache.set("k", 1) }
            // Refused at once; the bound is loose only because the whole suite shares two busy cores.
            #expect(monotonicSeconds() - start < 5)
            #expect(error?.code == .unavailable)
            #expect(
                error?.message.contains("sessions") == true && error?.message.contains("127.0.0.1:\(port)") == true,
                "\(error?.message ?? "")")
            #expect(error?.message.contains("letmein") == false)
            // And it stays bounded on every try: no call waits on an earlier failure.
            await #expect(throws: CacheError.self) { _ = try await cache.get("k", as: Int.self) }
            try await cache.shutdown()
        }

        @Test("a server that never answers: a timeout after OPTIONS timeout, not a hang")
        func silentServer() async throws {
            let listener = try silentListener()
            defer { close(listener.fd) }
            var options = RedisOptions()
            options.timeout = 0.3
            let cache = try Cache.redis(location: ["redis://127.0.0.1:\(listener.port)"], options: options)
            let start = monotonicSeconds()
            let error = await #expect(throws: CacheError.self) { _ = try await cache.get("k", as: Int.self) }
            let elapsed = monotonicSeconds() - start
            #expect(error?.code == .timeout, "\(String(describing: error))")
            // Not before the timeout; well before forever (loose: the whole suite shares two busy cores).
            #expect(elapsed >= 0.25 && elapsed < 5, "took \(elapsed) s")
            try await cache.shutdown()
        }

        @Test("a server killed fails calls quickly; restarted on the same port, the same cache works again at once")
        func killAndRestart() async throws {
            let server = try await RedisServer.start()
            var options = RedisOptions()
            options.poolSize = 3
            let cache = try Cache.redis(location: [server.url], options: options)
            // Open every pooled connection.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<12 { group.addTask { try await cache.set("k\(index)", index) } }
                try await group.waitForAll()
            }
            await server.kill()
            let start = monotonicSeconds()
            let error = await #expect(throws: CacheError.self) { _ = try await cache.get("k1", as: Int.self) }
            #expect(error?.code == .unavailable, "\(String(describing: error))")
            #expect(monotonicSeconds() - start < 5)
            try await server.restart()
            // Stale sockets are noticed before anything is sent: no call fails after the restart.
            for index in 0..<12 {
                #expect(try await cache.get("k\(index)", as: Int.self) == nil, "the restarted server is empty")
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<12 { group.addTask { try await cache.set("k\(index)", index * 2) } }
                try await group.waitForAll()
            }
            #expect(try await cache.get("k5", as: Int.self) == 10)
            try await cache.shutdown()
            await server.stop()
        }

        @Test("a password from the URL or OPTIONS authenticates; a wrong one fails without being echoed")
        func authentication() async throws {
            try await RedisServer.with(arguments: ["--requirepass", "s3cr3t-pw"]) { server in
                let fromURL = try Cache.redis(location: ["redis://:s3cr3t-pw@127.0.0.1:\(server.port)"])
                try await fromURL.set("k", "v")
                var options = RedisOptions()
                options.password = "s3cr3t-pw"
                let fromOptions = try Cache.redis(location: [server.url], options: options)
                #expect(try await fromOptions.get("k", as: String.self) == "v")
                let wrong = try Cache.redis(location: ["redis://:not-the-pw@127.0.0.1:\(server.port)"])
                let error = await #expect(throws: CacheError.self) { _ = try await wrong.get("k", as: String.self) }
                #expect(error?.message.contains("not-the-pw") == false && error?.message.contains("s3cr3t") == false)
                let none = try Cache.redis(location: [server.url])
                await #expect(throws: CacheError.self) { _ = try await none.get("k", as: String.self) }
                for cache in [fromURL, fromOptions, wrong, none] { try await cache.shutdown() }
            }
        }

        @Test("databases are separate; clear empties only the configured one")
        func databases() async throws {
            try await RedisServer.with { server in
                let one = try Cache.redis(location: [server.url + "/1"])
                var options = RedisOptions()
                options.database = 2
                let two = try Cache.redis(location: [server.url], options: options)
                try await one.set("k", "one")
                try await two.set("k", "two")
                #expect(try await one.get("k", as: String.self) == "one")
                try await one.clear()
                #expect(try await one.get("k", as: String.self) == nil)
                #expect(try await two.get("k", as: String.self) == "two")
                try await one.shutdown()
                try await two.shutdown()
            }
        }

        @Test("with several servers, writes go to the first and reads to the others")
        func readsGoToReplicas() async throws {
            let primary = try await RedisServer.start()
            let replica = try await RedisServer.start()
            let cache = try Cache.redis(location: ["\(primary.url),\(replica.url)"])
            try await cache.set("n", 1)
            #expect(try await redisCLI(primary, "GET", ":1:n") == "1")
            #expect(try await redisCLI(replica, "EXISTS", ":1:n") == "0")
            _ = try await redisCLI(replica, "SET", ":1:n", "7")
            #expect(try await cache.get("n", as: Int.self) == 7, "the read went to the replica")
            #expect(try await cache.incr("n") == 2, "incr went to the primary")
            try await cache.shutdown()
            await primary.stop()
            await replica.stop()
        }

        @Test("an error reply (a key of another Redis type) is a protocol error naming the command")
        func errorReply() async throws {
            try await RedisServer.with { server in
                let cache = try Cache.redis(location: [server.url])
                _ = try await redisCLI(server, "LPUSH", ":1:list", "x")
                let error = await #expect(throws: CacheError.self) { _ = try await cache.get("list", as: String.self) }
                #expect(error?.code == .protocolError && error?.message.contains("WRONGTYPE") == true, "\(String(describing: error))")
                try await cache.shutdown()
            }
        }

        /// The server's count of connections accepted so far (`INFO stats`), this query's included.
        func connectionsReceived(_ server: RedisServer) async throws -> Int {
            let info = try await redisCLI(server, "INFO", "stats")
            let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("total_connections_received:") }
            return try #require(line.flatMap { Int($0.split(separator: ":").last ?? "") })
        }

        @Test("close() drops the connections and the next call reconnects")
        func closeReconnects() async throws {
            try await RedisServer.with { server in
                let cache = try Cache.redis(location: [server.url])
                try await cache.set("k", 1)
                let before = try await connectionsReceived(server)
                try await cache.close()
                #expect(try await cache.get("k", as: Int.self) == 1)
                let after = try await connectionsReceived(server)
                #expect(after == before + 2, "one new connection for the get, one for redis-cli: \(before) → \(after)")
                try await cache.shutdown()
            }
        }
    }
}
