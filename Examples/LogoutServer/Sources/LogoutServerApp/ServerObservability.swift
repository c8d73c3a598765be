public import Caching
import HTTPTypes
import Hummingbird
public import Prometheus
public import Tracing

/// Where the server's metrics and spans go: a Prometheus registry that `GET /metrics` exposes,
/// and a tracer. Both are the application's own and are handed to the library explicitly (no
/// process-wide `MetricsSystem` or `InstrumentationSystem`), so several servers can run in one
/// process, each with its own, as the tests do.
public struct ServerObservability: Sendable {
    /// The registry `GET /metrics` exposes, or `nil` when metrics are off (no route).
    public let registry: PrometheusCollectorRegistry?
    /// Where spans go, or `nil` for none: every request is then a server span, the parent of
    /// its token authentication and cache operations.
    public let tracer: (any Tracer)?
    /// What the caches (every alias) and the token authentications report to.
    public let cache: CacheObservability

    /// Creates the server's observability.
    ///
    /// - Parameters:
    ///   - metrics: Whether to report metrics to a new registry of this server's.
    ///   - tracer: Where spans go, or `nil` for none.
    public init(metrics: Bool, tracer: (any Tracer)? = nil) {
        let registry = metrics ? PrometheusCollectorRegistry() : nil
        self.registry = registry
        self.tracer = tracer
        cache = CacheObservability(metricsFactory: registry.map(Self.metricsFactory), tracer: tracer)
    }

    /// A factory over `registry` whose timers (Prometheus histograms) have buckets for cache and
    /// revocation-store calls: from 50 µs (a loopback memcached or Redis round trip is about
    /// 25 µs) to 1 s. swift-prometheus' default buckets start at 5 ms, above nearly every call.
    static func metricsFactory(_ registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
            .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(100),
            .milliseconds(250), .seconds(1),
        ]
        return factory
    }
}

/// The content type of Prometheus' text exposition format (version 0.0.4).
let prometheusContentType = "text/plain; version=0.0.4; charset=utf-8"

/// Adds `GET /metrics`: the registry's metrics in Prometheus' text exposition format.
///
/// The route needs no token, like most scrape targets: in production, let only the scraper
/// reach it (an internal port or network, or a rule in the proxy in front).
///
/// - Parameters:
///   - router: The router.
///   - registry: The registry to expose.
func addMetricsRoute<Context: RequestContext>(to router: Router<Context>, registry: PrometheusCollectorRegistry) {
    router.get("/metrics") { _, _ in
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16_384)
        registry.emit(into: &bytes)
        return Response(
            status: .ok, headers: [.contentType: prometheusContentType],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// Makes every request a server span with an explicit tracer (Hummingbird's `TracingMiddleware`
/// reads the process-wide `InstrumentationSystem` only), named `METHOD /route` once the route is
/// known, with OpenTelemetry's HTTP attributes. The span is the task-local `ServiceContext`
/// while the request runs, so the token authentication and cache operations it causes are its
/// children. A `traceparent` header (W3C trace context) continues the caller's trace when the
/// tracer reads it.
///
/// Headers are not recorded (`Authorization` carries the token), nor the query string.
struct RequestTracingMiddleware<Context: RequestContext>: RouterMiddleware {
    let tracer: any Tracer

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var serviceContext = ServiceContext.current ?? .topLevel
        tracer.extract(request.headers, into: &serviceContext, using: HTTPFieldsExtractor())
        let method = request.method.rawValue
        let span = tracer.startSpan(method, context: serviceContext, ofKind: .server)
        defer { span.end() }
        span.attributes["http.request.method"] = method
        span.attributes["url.path"] = request.uri.path
        do {
            let response = try await ServiceContext.$current.withValue(span.context) {
                try await next(request, context)
            }
            name(span, method: method, context: context)
            let status = Int(response.status.code)
            span.attributes["http.response.status_code"] = status
            if status >= 500 { span.setStatus(SpanStatus(code: .error)) }
            return response
        } catch {
            name(span, method: method, context: context)
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            span.attributes["http.response.status_code"] = Int(status)
            span.attributes["error.type"] = "\(type(of: error))"
            if status >= 500 {
                span.recordError(error)
                span.setStatus(SpanStatus(code: .error))
            }
            throw error
        }
    }

    private func name(_ span: any Span, method: String, context: Context) {
        guard let route = context.endpointPath else { return }
        span.operationName = "\(method) \(route)"
        span.attributes["http.route"] = route
    }
}

/// Reads trace-context headers (`traceparent`, `tracestate`) for a tracer's `extract`.
struct HTTPFieldsExtractor: Extractor {
    func extract(key: String, from carrier: HTTPFields) -> String? {
        guard let name = HTTPField.Name(key) else { return nil }
        return carrier[name]
    }
}
