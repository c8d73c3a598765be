import Caching
import CachingTesting
import InMemoryLogging
import InMemoryTracing
import Logging
import MetricsTestKit
import Testing
import TokenRevocation
import Tracing

@testable import TokenAuth

@Suite("TokenAuth: a span per authentication with the refusal reason; revocation checks by outcome; fail-closed logged once")
struct AuthenticationObservabilityTests {
    @Test("accepted, revoked and bad-signature tokens: spans parented to the request, reasons as attributes, counts by outcome")
    func spansAndCounts() async throws {
        let clock = ManualCacheClock()
        let tracer = InMemoryTracer()
        let metrics = TestMetrics()
        let store = InMemoryRevocation(clock: clock)
        let auth = try JWTAuthentication(secret: secret, revocationStore: store, clock: clock)
            .observed(by: CacheObservability(metricsFactory: metrics, tracer: tracer))
        let good = try Token.create(sub: "1", jti: "good", clock: clock).encode(secret: secret)
        let revoked = try Token.create(sub: "2", jti: "gone", clock: clock).encode(secret: secret)
        try await store.revoke("gone", ttl: .seconds(600))
        let forged = try Token.create(sub: "3", jti: "forged", clock: clock).encode(secret: String(secret.reversed()))

        let request = tracer.startSpan("POST /profile")
        try await ServiceContext.withValue(request.context) {
            _ = try await auth.authenticate(authorization: "Bearer " + good)
            await #expect(throws: AuthenticationError.self) { _ = try await auth.authenticate(authorization: "Bearer " + revoked) }
            await #expect(throws: AuthenticationError.self) { _ = try await auth.authenticate(authorization: "Bearer " + forged) }
        }
        request.end()
        let spans = tracer.finishedSpans.filter { $0.operationName == "authenticate token" }
        #expect(spans.count == 3)
        #expect(spans.allSatisfy { $0.parentSpanID == request.spanContext.spanID })
        #expect(spans.map { $0.attributes.get("auth.outcome") } == [.string("accepted"), .string("refused"), .string("refused")])
        #expect(spans.map { $0.attributes.get("auth.refusal_reason") } == [nil, .string("revoked"), .string("badSignature")])
        #expect(spans.allSatisfy { $0.status == nil }, "a refused token is not a service failure")
        for span in spans {
            // swift-format-ignore: ReplaceForEachWithForLoop
            span.attributes.forEach { name, value in
                for token in [good, revoked, forged] {
                    #expect(!"\(value)".contains(token.prefix(20)), "attribute \(name) holds a token")
                }
            }
        }
        #expect(try metrics.expectCounter("token_authentications", [("outcome", "accepted")]).totalValue == 1)
        #expect(try metrics.expectCounter("token_authentications", [("outcome", "revoked")]).totalValue == 1)
        #expect(try metrics.expectCounter("token_authentications", [("outcome", "badSignature")]).totalValue == 1)
        #expect(try metrics.expectCounter("revocation_checks", [("outcome", "clear")]).totalValue == 1)
        #expect(try metrics.expectCounter("revocation_checks", [("outcome", "revoked")]).totalValue == 1)
        #expect(try metrics.expectCounter("revocation_checks", [("outcome", "unavailable")]).totalValue == 0)
        // The forged token never reached the store.
        #expect(try metrics.expectTimer("revocation_check_duration").values.count == 2)
    }

    @Test("the authentication span is current while the store is asked: the store's spans are its children, with or without a timeout race")
    func storeSpansNestUnderTheAuthentication() async throws {
        let clock = ManualCacheClock()
        let tracer = InMemoryTracer()
        let store = TracingStore(tracer: tracer)
        let token = try Token.create(sub: "1", jti: "nested", clock: clock).encode(secret: secret)
        // TracingStore declares no time limit, so the check runs under the timeout race: the
        // race's task must carry the span too.
        let auth = try JWTAuthentication(secret: secret, revocationStore: store, clock: clock)
            .observed(by: CacheObservability(tracer: tracer))
        let request = tracer.startSpan("GET /profile")
        try await ServiceContext.withValue(request.context) {
            _ = try await auth.authenticate(authorization: "Bearer " + token)
        }
        request.end()
        let authentication = try #require(tracer.finishedSpans.first { $0.operationName == "authenticate token" })
        let lookups = tracer.finishedSpans.filter { $0.operationName == "store lookup" }
        #expect(lookups.count == 2, "the jti and the subject's cut-off (the protocol's default check)")
        #expect(lookups.allSatisfy { $0.parentSpanID == authentication.spanContext.spanID })
        #expect(authentication.parentSpanID == request.spanContext.spanID)
    }

    @Test("a store that is down: the refusal is logged once, without the token, counted as unavailable, and its span has error status")
    func failClosedIsLoggedOnce() async throws {
        let clock = ManualCacheClock()
        let tracer = InMemoryTracer()
        let metrics = TestMetrics()
        let logging = InMemoryLogHandler()
        let logger = Logger(label: "test", factory: { _ in logging })
        let auth = try JWTAuthentication(secret: secret, revocationStore: ThrowingStore(), logger: logger, clock: clock)
            .observed(by: CacheObservability(metricsFactory: metrics, tracer: tracer))
        let token = try Token.create(sub: "9", jti: "j-9", clock: clock).encode(secret: secret)
        var refusal: AuthenticationError?
        do { _ = try await auth.authenticate(authorization: "Bearer " + token) } catch { refusal = error }
        #expect(refusal?.code == .revocationUnavailable)

        let logged = logging.entries.filter { $0.level >= .warning }
        #expect(logged.count == 1)
        #expect(logged.first?.level == .error)
        #expect(logged.first?.message.description.contains("fail closed") == true)
        #expect(logged.first?.metadata["revocation.outcome"] == "unavailable")
        #expect(logged.first?.metadata["token.jti"] == "j-9")
        for entry in logging.entries {
            let text = "\(entry.message) \(entry.metadata)"
            #expect(!text.contains(token.prefix(20)) && !text.contains(secret), "no token or secret in logs")
        }
        #expect(try metrics.expectCounter("revocation_checks", [("outcome", "unavailable")]).totalValue == 1)
        #expect(try metrics.expectCounter("token_authentications", [("outcome", "revocationUnavailable")]).totalValue == 1)
        let span = try #require(tracer.finishedSpans.first { $0.operationName == "authenticate token" })
        #expect(span.status?.code == .error)
        #expect(span.attributes.get("auth.refusal_reason") == .string("revocationUnavailable"))
    }

    @Test("a store that hangs: counted as timed_out")
    func timeoutIsCounted() async throws {
        let clock = ManualCacheClock()
        let metrics = TestMetrics()
        let hanging = HangingStore()
        defer { hanging.release() }
        let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let auth = try JWTAuthentication(
            secret: secret, revocationStore: hanging, revocationTimeout: .milliseconds(50), logger: quiet, clock: clock
        )
        .observed(by: CacheObservability(metricsFactory: metrics))
        let token = try Token.create(sub: "9", jti: "j-9", clock: clock).encode(secret: secret)
        await #expect(throws: AuthenticationError.self) { _ = try await auth.authenticate(authorization: "Bearer " + token) }
        #expect(try metrics.expectCounter("revocation_checks", [("outcome", "timed_out")]).totalValue == 1)
        #expect(try metrics.expectCounter("revocation_checks", [("outcome", "unavailable")]).totalValue == 0)
    }
}
