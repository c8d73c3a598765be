// The logout server: login, logout, refresh and a protected profile over HTTP, on any cache alias.
//
//   swift run --package-path Examples/LogoutServer LogoutServer            # local memory, development secret
//   swift run --package-path Examples/LogoutServer LogoutServer --caches caches.json --revocation default
//
// See LogoutServerApp.ServerConfiguration for every option.
import Caching
import Configuration
import Hummingbird
import Logging
import LogoutServerApp

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

@main
struct LogoutServerMain {
    static func main() async {
        var logger = Logger(label: "LogoutServer")
        logger.logLevel = .info

        // One swift-configuration reader: the command line, then the environment (the caches of
        // CACHES_<ALIAS>_* come from it too when no caches file is given).
        let configuration: ServerConfiguration
        let config: ConfigReader
        do {
            config = try ServerConfiguration.configReader(
                arguments: Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment)
            configuration = try ServerConfiguration(config: config)
        } catch {
            Output.send(2, "LogoutServer: \(error)\n")
            exit(2)
        }

        do {
            let built = try await LogoutServerApplication.makeAuth(configuration, logger: logger, config: config)
            if configuration.secret == nil {
                logger.warning("No JWT secret given: using the development secret. Pass --secret or JWT_SECRET outside development.")
            }
            logger.info("Revocation: \(built.auth.revocationDescription)")
            let app = LogoutServerApplication.makeApplication(built, logger: logger) { port in
                // Tests and scripts read this line to learn the port.
                Output.send(1, "LogoutServer listening on http://\(configuration.host):\(port)\n")
            }
            try await app.runService()
            await built.auth.users.shutdown()
            logger.info("LogoutServer stopped; caches shut down")
        } catch {
            Output.send(2, "LogoutServer: \(error)\n")
            exit(1)
        }
    }
}

/// Unbuffered writes, so a line is seen at once by whoever reads the pipe.
enum Output {
    static func send(_ descriptor: Int32, _ text: String) {
        var text = text
        text.withUTF8 { buffer in _ = write(descriptor, buffer.baseAddress, buffer.count) }
    }
}
