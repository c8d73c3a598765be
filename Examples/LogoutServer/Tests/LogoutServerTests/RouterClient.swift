import Caching
import CachingTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import LogoutServerApp
import NIOCore

/// The logout server's application in this process, tested through its router
/// (HummingbirdTesting's `.router`: no socket, no process), on a clock the test moves.
struct RouterClient: APIClient {
    let client: any TestClientProtocol

    /// Builds the server from command-line style arguments, runs `body` against it, then
    /// clears and closes its caches.
    ///
    /// Without `--caches` the server keeps revocations in local memory; each run gets a
    /// location of its own (`embeddedCacheLocation`), so tests running at the same time never
    /// share entries, and each clears its caches at the end.
    ///
    /// - Parameters:
    ///   - arguments: Server options, as the executable takes them (`--revocation memory`).
    ///   - clock: The server's wall clock. By default it starts at the real time in whole
    ///     seconds (as `iat` is), so that a memcached server, whose own clock judges long
    ///     expiry times, agrees with it.
    ///   - logger: The server's logger (one over an `InMemoryLogHandler` to read what it logs);
    ///     by default errors only, to standard error.
    ///   - observability: Where the server reports (a tracer a test reads); by default what the
    ///     configuration says (metrics to a registry of the server's own).
    static func run(
        _ arguments: [String] = [], clock: ManualCacheClock = ManualCacheClock(start: SystemCacheClock().now().rounded(.down)),
        logger: Logger? = nil, observability: ServerObservability? = nil, _ body: @Sendable (RouterClient) async throws -> Void
    ) async throws {
        var configuration = try ServerConfiguration(arguments: arguments, environment: [:])
        // Caches of its own: tests running at the same time never share entries.
        configuration.embeddedCacheLocation = "logout-test-\(UniqueName.next())"
        let logger =
            logger
            ?? {
                var logger = Logger(label: "LogoutServerTests")
                logger.logLevel = .error
                return logger
            }()
        let built = try await LogoutServerApplication.makeAuth(
            configuration, logger: logger, clock: clock, observability: observability)
        let app = LogoutServerApplication.makeApplication(built, logger: logger)
        do {
            try await app.test(.router) { client in try await body(RouterClient(client: client)) }
        } catch {
            await clear(built)
            throw error
        }
        await clear(built)
    }

    /// Empties the process-wide local-memory caches a server without `--caches` shares with the
    /// next test (revocations and login counters), and closes the caches.
    private static func clear(_ built: LogoutServerApplication.Built) async {
        for alias in built.caches.aliases { try? await built.caches[alias].clear() }
        try? await built.caches.shutdown()
        await built.auth.users.shutdown()
    }

    func request(
        _ method: String, _ path: String, token: String?, authorization: String?, body: String?, bodyData: Data?
    ) async throws -> Reply {
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        if let authorization { headers[.authorization] = authorization }
        let bytes = bodyData ?? body.map { Data($0.utf8) }
        if bytes != nil { headers[.contentType] = "application/json" }
        let response = try await client.executeRequest(
            uri: path, method: HTTPRequest.Method(method)!, headers: headers, body: bytes.map { ByteBuffer(bytes: $0) })
        var replyHeaders: [String: String] = [:]
        for field in response.headers { replyHeaders[field.name.canonicalName] = field.value }
        let data = Data(response.body.readableBytesView)
        return Reply(status: Int(response.status.code), headers: replyHeaders, body: data)
    }
}
