// The floor the logout server is measured against: a bare Hummingbird 2 server answering
// `GET /profile` with a fixed JSON body (the same bytes the example answers for the demo user
// alice), and nothing else: no authentication, no revocation, no middleware. Whatever a
// Hummingbird application costs on a machine, this costs at least; `scripts/load-test.sh`
// runs it beside the example and prints each strategy's ratio to it.
//
//   swift run -c release --package-path Examples/LogoutServer BareServer [port]   # 0: any free port
import Hummingbird
import Logging
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

@main
struct BareServer {
    static func main() async throws {
        let arguments = CommandLine.arguments.dropFirst()
        guard arguments.count <= 1, let port = Int(arguments.first ?? "0"), (0...65_535).contains(port) else {
            writeLine(2, "usage: BareServer [port]")
            exit(2)
        }
        var logger = Logger(label: "BareServer")
        logger.logLevel = .info
        let body = ByteBuffer(
            string: #"{"is_admin":true,"is_staff":true,"permissions":["profile:read","users:manage"],"user_id":"1"}"#)
        let headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        let router = Router()
        router.get("/profile") { _, _ in
            Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: body))
        }
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "BareServer"),
            onServerRunning: { channel in
                // Scripts read this line to learn the port.
                writeLine(1, "BareServer listening on http://127.0.0.1:\(channel.localAddress?.port ?? port)")
            },
            logger: logger)
        try await app.runService()
    }

    /// Writes a line to a file descriptor at once (no buffering: a script waits for it).
    static func writeLine(_ descriptor: Int32, _ text: String) {
        var line = text + "\n"
        line.withUTF8 { bytes in _ = write(descriptor, bytes.baseAddress, bytes.count) }
    }
}
