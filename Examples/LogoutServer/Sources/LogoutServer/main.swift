// The logout server: login, logout, refresh and a protected profile over HTTP, on any cache alias.
//
//   swift run --package-path Examples/LogoutServer LogoutServer            # local memory, development secret
//   swift run --package-path Examples/LogoutServer LogoutServer --caches caches.json --revocation default
//
// See LogoutServerApp.ServerConfiguration for every option.
import Hummingbird
import Logging
import LogoutServerApp

#if canImport(Glibc)
import Glibc
#endif

var logger = Logger(label: "LogoutServer")
logger.logLevel = .info

let configuration: ServerConfiguration
do {
    configuration = try ServerConfiguration(
        arguments: Array(CommandLine.arguments.dropFirst()), environment: Environment().getAll())
} catch {
    FileHandleOutput.standardError("LogoutServer: \(error)\n")
    exit(2)
}

do {
    let built = try await LogoutServerApplication.makeAuth(configuration, logger: logger)
    if configuration.secret == nil {
        logger.warning("No JWT secret given: using the development secret. Pass --secret or JWT_SECRET outside development.")
    }
    logger.info("Revocation: \(built.auth.revocationDescription)")
    let app = LogoutServerApplication.makeApplication(built, logger: logger) { port in
        // Tests and scripts read this line to learn the port.
        print("LogoutServer listening on http://\(configuration.host):\(port)")
        fflush(stdout)
    }
    try await app.runService()
    try await built.caches.closeAll()
    logger.info("LogoutServer stopped; caches closed")
} catch {
    FileHandleOutput.standardError("LogoutServer: \(error)\n")
    exit(1)
}

enum FileHandleOutput {
    static func standardError(_ text: String) {
        var text = text
        text.withUTF8 { buffer in _ = write(2, buffer.baseAddress, buffer.count) }
    }
}
