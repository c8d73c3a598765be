public import Caching
import CoreMetrics
import Synchronization
import Tracing

/// What a revocation check came to, as `revocation_checks{outcome}` counts it.
enum RevocationOutcome: Int, CaseIterable, Sendable {
    /// The store answered: not revoked.
    case clear
    /// The store answered: revoked (the `jti`, its family, or a logout-everywhere cut-off).
    case revoked
    /// The store failed; the token was refused (fail closed).
    case unavailable
    /// The store did not answer within `revocationTimeout`; the token was refused (fail closed).
    case timedOut
    /// The store failed or was late and `failOpen` accepted the token unchecked.
    case failedOpen

    var name: String {
        switch self {
        case .clear: "clear"
        case .revoked: "revoked"
        case .unavailable: "unavailable"
        case .timedOut: "timed_out"
        case .failedOpen: "failed_open"
        }
    }
}

/// The metrics and tracer of one ``JWTAuthentication``, made once by
/// ``JWTAuthentication/observed(by:)``.
final class AuthenticationInstruments: Sendable {
    let tracer: (any Tracer)?
    private let factory: (any MetricsFactory)?
    private let accepted: Counter?
    private let refusals = Mutex<[String: Counter]>([:])
    private let revocationChecks: [Counter]?
    let storeDuration: Timer?

    init(observability: CacheObservability) {
        tracer = observability.tracer
        factory = observability.metricsFactory
        accepted = factory.map {
            Counter(label: "token_authentications", dimensions: [("outcome", "accepted")], factory: $0)
        }
        revocationChecks = factory.map { factory in
            RevocationOutcome.allCases.map {
                Counter(label: "revocation_checks", dimensions: [("outcome", $0.name)], factory: factory)
            }
        }
        storeDuration = factory.map { Timer(label: "revocation_check_duration", dimensions: [], factory: $0) }
    }

    func recordStoreCheck(since started: ContinuousClock.Instant) {
        guard let storeDuration else { return }
        let elapsed = started.duration(to: .now).components
        storeDuration.recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
    }

    func count(_ outcome: RevocationOutcome) {
        revocationChecks?[outcome.rawValue].increment()
    }

    /// Runs one authentication in a span named `authenticate token`, parented to the caller's
    /// context; a refusal sets `auth.refusal_reason` (the ``AuthenticationError/Code``) and is
    /// counted under it. The token and its claims are never recorded.
    func authenticate(
        _ body: () async throws(AuthenticationError) -> AuthenticatedUser
    ) async throws(AuthenticationError) -> AuthenticatedUser {
        let span = tracer?.startSpan("authenticate token", ofKind: .internal)
        defer { span?.end() }
        // The span is current while the token is checked, so what the revocation store does
        // (a cache span per round trip) is its child.
        let outcome: Result<AuthenticatedUser, AuthenticationError>
        if let span {
            outcome = await ServiceContext.withValue(span.context) { await Self.capture(body) }
        } else {
            outcome = await Self.capture(body)
        }
        do {
            let user = try outcome.get()
            accepted?.increment()
            span?.attributes["auth.outcome"] = "accepted"
            return user
        } catch {
            let reason = error.code.description
            if let factory {
                let counter = refusals.withLock { counters in
                    if let counter = counters[reason] { return counter }
                    let counter = Counter(label: "token_authentications", dimensions: [("outcome", reason)], factory: factory)
                    counters[reason] = counter
                    return counter
                }
                counter.increment()
            }
            if let span {
                span.attributes["auth.outcome"] = "refused"
                span.attributes["auth.refusal_reason"] = reason
                span.attributes["error.type"] = reason
                // A refused token is the authenticator doing its job; only a store that could
                // not answer is a failure of the service.
                if error.code == .revocationUnavailable {
                    span.setStatus(SpanStatus(code: .error, message: "revocation store unavailable"))
                }
            }
            throw error
        }
    }

    private static func capture(
        _ body: () async throws(AuthenticationError) -> AuthenticatedUser
    ) async -> Result<AuthenticatedUser, AuthenticationError> {
        do {
            return .success(try await body())
        } catch {
            return .failure(error)
        }
    }
}

extension JWTAuthentication {
    /// This authenticator, reporting to metrics and traces.
    ///
    /// Every authentication becomes a span `authenticate token` (with `auth.outcome` and, when
    /// refused, `auth.refusal_reason`), counted in `token_authentications{outcome}`; every
    /// revocation check is counted in `revocation_checks{outcome}` (`clear`, `revoked`,
    /// `unavailable`, `timed_out`, `failed_open`) and timed in `revocation_check_duration`.
    /// The observability's `alias` and `recordsKeys` are not used: no token, claim or key is
    /// ever recorded.
    ///
    /// - Parameter observability: Where metrics and spans go.
    /// - Returns: The authenticator, or this one unchanged when `observability` is off.
    public func observed(by observability: CacheObservability) -> JWTAuthentication {
        var copy = self
        copy.instruments = observability.isEnabled ? AuthenticationInstruments(observability: observability) : nil
        return copy
    }
}
