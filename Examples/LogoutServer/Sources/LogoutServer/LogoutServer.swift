// The logout server: login, logout, refresh and a protected profile over HTTP, on any cache alias.
//
//   swift run --package-path Examples/LogoutServer LogoutServer            # local memory, development secret
//   swift run --package-path Examples/LogoutServer LogoutServer --caches caches.json --revocation default
//
// See LogoutServerApp.ServerConfiguration for every option. GET /metrics answers Prometheus' text
// format (--metrics off removes it); traces go over OTLP/HTTP to --otlp-endpoint
// (OTEL_EXPORTER_OTLP_ENDPOINT) in a build with the OTLP trait:
//   swift build --package-path Examples/LogoutServer --traits OTLP --product LogoutServer
import Caching
import Configuration
import Hummingbird
import Logging
import LogoutServerApp
import ServiceLifecycle
import Tracing

#if OTLP
    import OTel
#endif

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
            let tracing = try makeTracing(configuration)
            let built = try await LogoutServerApplication.makeAuth(
                configuration, logger: logger, config: config,
                observability: ServerObservability(metrics: configuration.metrics, tracer: tracing.tracer))
            if configuration.secret == nil {
                logger.warning("No JWT secret given: using the development secret. Pass --secret or JWT_SECRET outside development.")
            }
            logger.info("Revocation: \(built.auth.revocationDescription)")
            if let endpoint = configuration.otlpEndpoint { logger.info("Traces: OTLP/HTTP to \(endpoint)") }
            let app = LogoutServerApplication.makeApplication(built, logger: logger, services: tracing.services) { port in
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

/// The OTLP/HTTP trace exporter when an endpoint is configured: its tracer, and the service that
/// sends batches of spans (run beside the server, flushed on graceful shutdown). No endpoint: no
/// tracer. An endpoint in a build without the OTLP trait is a start-up error, not silence.
func makeTracing(_ configuration: ServerConfiguration) throws -> (tracer: (any Tracer)?, services: [any Service]) {
    guard let endpoint = configuration.otlpEndpoint else { return (nil, []) }
    #if OTLP
        var otel = OTel.Configuration.default
        otel.serviceName = "LogoutServer"
        otel.logs.enabled = false
        otel.metrics.enabled = false
        // OTEL_EXPORTER_OTLP_ENDPOINT is the collector's base URL; traces go to /v1/traces under it.
        otel.traces.otlpExporter.endpoint = (endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint) + "/v1/traces"
        let backend = try OTel.makeTracingBackend(configuration: otel)
        return (backend.factory, [backend.service])
    #else
        throw ServerConfigurationError(
            "--otlp-endpoint (OTEL_EXPORTER_OTLP_ENDPOINT) needs a build with the OTLP trait: "
                + "swift build --package-path Examples/LogoutServer --traits OTLP")
    #endif
}

/// Unbuffered writes, so a line is seen at once by whoever reads the pipe.
enum Output {
    static func send(_ descriptor: Int32, _ text: String) {
        var text = text
        text.withUTF8 { buffer in _ = write(descriptor, buffer.baseAddress, buffer.count) }
    }
}
