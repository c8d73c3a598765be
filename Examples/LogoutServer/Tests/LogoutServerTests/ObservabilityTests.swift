import CachingTesting
import Foundation
import InMemoryTracing
import LogoutServerApp
import Synchronization
import Testing
import Tracing

/// One sample of Prometheus' text format: `name{label="value",...} value`.
struct PrometheusSample: Equatable, CustomStringConvertible {
    var name: String
    var labels: [String: String]
    var value: Double
    var description: String { "\(name)\(labels.sorted { $0.key < $1.key }) \(value)" }
}

/// A strict reader of Prometheus' text exposition format (version 0.0.4), enough to check what
/// the server writes: every line is a `# TYPE`, a `# HELP` or a sample; names and label names
/// are valid; label values are quoted with only `\\`, `\"` and `\n` escaped; each sample's family
/// was declared by one `# TYPE` line before it.
struct PrometheusText {
    var samples: [PrometheusSample] = []
    var types: [String: String] = [:]

    struct Invalid: Error, CustomStringConvertible {
        var description: String
    }

    init(_ text: String) throws {
        guard text.hasSuffix("\n") else { throw Invalid(description: "the text does not end with a line feed") }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            try read(String(line))
        }
    }

    static func isMetricName(_ name: some StringProtocol) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCIILetter || first == "_" || first == ":" else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCIILetter || $0.isASCIIDigit || $0 == "_" || $0 == ":" }
    }

    static func isLabelName(_ name: some StringProtocol) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCIILetter || first == "_" else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCIILetter || $0.isASCIIDigit || $0 == "_" }
    }

    private mutating func read(_ line: String) throws {
        if line.hasPrefix("#") {
            let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
            guard parts.count >= 3, parts[0] == "#", parts[1] == "TYPE" || parts[1] == "HELP", Self.isMetricName(parts[2]) else {
                throw Invalid(description: "not a TYPE or HELP line: '\(line)'")
            }
            if parts[1] == "TYPE" {
                guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]) else {
                    throw Invalid(description: "bad TYPE line: '\(line)'")
                }
                guard types[String(parts[2])] == nil else { throw Invalid(description: "a second TYPE for \(parts[2])") }
                types[String(parts[2])] = String(parts[3])
            }
            return
        }
        var rest = Substring(line)
        let name = rest.prefix { $0 != "{" && $0 != " " }
        guard Self.isMetricName(name) else { throw Invalid(description: "bad metric name in '\(line)'") }
        rest = rest.dropFirst(name.count)
        var labels: [String: String] = [:]
        if rest.first == "{" {
            rest = rest.dropFirst()
            while rest.first != "}" {
                let labelName = rest.prefix { $0 != "=" }
                guard Self.isLabelName(labelName), labels[String(labelName)] == nil else {
                    throw Invalid(description: "bad or repeated label name '\(labelName)' in '\(line)'")
                }
                rest = rest.dropFirst(labelName.count)
                guard rest.hasPrefix("=\"") else { throw Invalid(description: "unquoted label value in '\(line)'") }
                rest = rest.dropFirst(2)
                var value = ""
                while true {
                    guard let character = rest.first else { throw Invalid(description: "unterminated label value in '\(line)'") }
                    rest = rest.dropFirst()
                    if character == "\"" { break }
                    if character == "\\" {
                        switch rest.first {
                        case "\\": value.append("\\")
                        case "\"": value.append("\"")
                        case "n": value.append("\n")
                        default: throw Invalid(description: "bad escape in '\(line)'")
                        }
                        rest = rest.dropFirst()
                    } else {
                        value.append(character)
                    }
                }
                labels[String(labelName)] = value
                if rest.first == "," {
                    rest = rest.dropFirst()
                } else if rest.first != "}" {
                    throw Invalid(description: "expected ',' or '}' in '\(line)'")
                }
            }
            rest = rest.dropFirst()
        }
        guard rest.first == " " else { throw Invalid(description: "no space before the value in '\(line)'") }
        let valueText = rest.dropFirst()
        let value: Double
        switch valueText {
        case "+Inf": value = .infinity
        case "-Inf": value = -.infinity
        case "NaN": value = .nan
        default:
            guard let number = Double(valueText), !valueText.contains(" ") else {
                throw Invalid(description: "bad value '\(valueText)' in '\(line)'")
            }
            value = number
        }
        let family = Self.family(of: String(name), types: types)
        guard let type = types[family] else { throw Invalid(description: "no TYPE line before '\(line)'") }
        if type == "histogram", name.hasSuffix("_bucket") {
            guard let bound = labels["le"], bound == "+Inf" || Double(bound) != nil else {
                throw Invalid(description: "a histogram bucket without a numeric 'le' in '\(line)'")
            }
        }
        samples.append(PrometheusSample(name: String(name), labels: labels, value: value))
    }

    /// The family a sample belongs to: a histogram's `_bucket`, `_sum` and `_count` belong to it.
    static func family(of name: String, types: [String: String]) -> String {
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if types[base] == "histogram" || types[base] == "summary" { return base }
        }
        return name
    }

    /// The value of the one sample with this name and exactly these labels, or `nil`.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        let found = samples.filter { $0.name == name && $0.labels == labels }
        return found.count == 1 ? found[0].value : nil
    }
}

extension Unicode.Scalar {
    fileprivate var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

/// What the request flow of these tests does: log in, read the profile, log out, then find the
/// access token and the refresh token of that login refused.
func loginLogoutFlow(_ server: some APIClient) async throws {
    let (access, refresh) = try await server.login()
    #expect(try await server.request("GET", "/profile", token: access).status == 200)
    #expect(try await server.request("POST", "/auth/logout", token: access).status == 200)
    let profile = try await server.request("GET", "/profile", token: access)
    #expect(profile.status == 401)
    #expect(profile["error"] == "revoked")
    let refreshed = try await server.refresh(refresh)
    #expect(refreshed.status == 401)
    #expect(refreshed["error"] == "revoked")
}

@Suite("LogoutServer metrics and traces")
struct ObservabilityTests {
    /// The counters `GET /metrics` shows after one login, a profile, a logout and two refused
    /// tokens, with the embedded local-memory caches (`CacheRevocation` over alias `default`,
    /// login counters in alias `throttle`).
    @Test("GET /metrics counts the flow's authentications, revocation checks and cache calls exactly")
    func metricsAfterFlow() async throws {
        try await RouterClient.run { server in
            try await loginLogoutFlow(server)
            let reply = try await server.request("GET", "/metrics")
            #expect(reply.status == 200)
            #expect(reply.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
            let metrics = try PrometheusText(reply.text)

            // Two tokens accepted (the profile, the logout), two refused as revoked (the access
            // token after the logout, and its login's refresh token).
            #expect(metrics.types["token_authentications"] == "counter")
            #expect(metrics.value("token_authentications", ["outcome": "accepted"]) == 2)
            #expect(metrics.value("token_authentications", ["outcome": "revoked"]) == 2)
            #expect(metrics.samples.filter { $0.name == "token_authentications" }.count == 2)
            // Each of the four authentications asked the store once.
            for (outcome, count) in [("clear", 2.0), ("revoked", 2), ("unavailable", 0), ("timed_out", 0), ("failed_open", 0)] {
                #expect(metrics.value("revocation_checks", ["outcome": outcome]) == count, "\(outcome)")
            }
            #expect(metrics.types["revocation_check_duration"] == "histogram")
            #expect(metrics.value("revocation_check_duration_count") == 4)
            #expect(metrics.value("revocation_check_duration_bucket", ["le": "+Inf"]) == 4)

            // Alias `default` (CacheRevocation): the login starts its family (a compare-and-set);
            // each check is one multi-get of the jti, family and subject keys; the logout stores
            // the jti's and the family's revocation (a read, then a compare-and-set, each).
            func calls(_ alias: String, _ operation: String) -> Double? {
                metrics.value("cache_calls", ["alias": alias, "backend": "locmem", "operation": operation])
            }
            #expect(calls("default", "cas") == 3)
            #expect(calls("default", "get") == 2)
            #expect(calls("default", "get_many") == 4)
            #expect(calls("default", "set") == 0)
            let defaultLabels = ["alias": "default", "backend": "locmem", "operation": "get_many"]
            // Found: the jti and family after the logout (2), the family for the refresh token (1).
            #expect(metrics.value("cache_hits", defaultLabels) == 3)
            #expect(metrics.value("cache_misses", defaultLabels) == 9)
            #expect(metrics.value("cache_misses", defaultLabels.merging(["operation": "get"]) { $1 }) == 2)
            // Alias `throttle`: one login, counted per user and per client (add, then incr).
            #expect(calls("throttle", "add") == 2)
            #expect(calls("throttle", "incr") == 2)
            #expect(calls("throttle", "get") == 0)
            // Local memory is not timed and has no errors.
            #expect(metrics.types["cache_duration"] == nil)
            #expect(metrics.samples.filter { $0.name == "cache_errors" }.isEmpty)
        }
    }

    /// Every line of `/metrics` is valid exposition format, for a server whose revocation store
    /// does I/O (SQLite): its timers are histograms with buckets, `backend` holds a space and
    /// parentheses, and the pools report gauges.
    @Test("/metrics is valid Prometheus text format, histograms included")
    func exposition() async throws {
        let (settings, cleanUp) = try writeSQLiteSettings()
        do {
            try await RouterClient.run(["--caches", settings, "--revocation", "database:shared"]) { server in
                try await loginLogoutFlow(server)
                let text = try await server.request("GET", "/metrics").text
                let metrics = try PrometheusText(text)
                #expect(!metrics.samples.isEmpty)
                // Every family has samples, and every histogram its +Inf bucket, sum and count.
                for (family, type) in metrics.types {
                    #expect(metrics.samples.contains { PrometheusText.family(of: $0.name, types: metrics.types) == family }, "\(family)")
                    guard type == "histogram" else { continue }
                    let series = Set(
                        metrics.samples.filter { $0.name == family + "_count" }.map { $0.labels })
                    #expect(!series.isEmpty, "\(family)")
                    for labels in series {
                        let count = try #require(metrics.value(family + "_count", labels))
                        #expect(metrics.value(family + "_bucket", labels.merging(["le": "+Inf"]) { $1 }) == count)
                        #expect(metrics.value(family + "_sum", labels) != nil)
                    }
                }
                #expect(metrics.value("revocation_check_duration_count") == 4)
                #expect(metrics.value("revocation_checks", ["outcome": "revoked"]) == 2)
                // The SQLite revocation store has tables of its own, not cache entries: the cache
                // alias exists, with no calls made through it.
                #expect(metrics.value("cache_calls", ["alias": "shared", "backend": "db (sqlite)", "operation": "get"]) == 0)
            }
        } catch {
            await cleanUp()
            throw error
        }
        await cleanUp()
    }

    @Test("--metrics and --otlp-endpoint: options, environment variables and bad values")
    func settings() throws {
        #expect(try ServerConfiguration(arguments: [], environment: [:]).metrics)
        #expect(try ServerConfiguration(arguments: [], environment: [:]).otlpEndpoint == nil)
        #expect(try !ServerConfiguration(arguments: ["--metrics", "off"], environment: [:]).metrics)
        #expect(try !ServerConfiguration(arguments: [], environment: ["METRICS": "off"]).metrics)
        #expect(try ServerConfiguration(arguments: ["--metrics=on"], environment: ["METRICS": "off"]).metrics)
        #expect(throws: ServerConfigurationError("--metrics must be 'on' or 'off'; found 'no'")) {
            try ServerConfiguration(arguments: ["--metrics", "no"], environment: [:])
        }
        let endpoint = "http://127.0.0.1:4318"
        #expect(try ServerConfiguration(arguments: [], environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": endpoint]).otlpEndpoint == endpoint)
        #expect(try ServerConfiguration(arguments: ["--otlp-endpoint", endpoint], environment: [:]).otlpEndpoint == endpoint)
    }

    #if !OTLP
        /// Without the trait there is no exporter: an endpoint stops the server at start-up
        /// (saying how to build one), rather than being ignored.
        @Test("an OTLP endpoint in a build without the OTLP trait stops the server at start-up")
        func otlpWithoutTrait() async throws {
            let (status, error) = try await ServerProcess.runExpectingFailure(["--otlp-endpoint", "http://127.0.0.1:4318"])
            #expect(status == 1)
            #expect(error.contains("needs a build with the OTLP trait"), "\(error)")
        }
    #endif

    @Test("--metrics off: no /metrics route")
    func metricsOff() async throws {
        try await RouterClient.run(["--metrics", "off"]) { server in
            _ = try await server.login()
            #expect(try await server.request("GET", "/metrics").status == 404)
        }
    }

    /// The spans of the flow with a revocation store on memcached: one server span per request,
    /// the token authentications with their outcome and refusal reason, and the memcached
    /// calls with OpenTelemetry's database attributes, all in the request's trace.
    @Test("every request is a span; token checks and memcached calls are in its trace")
    func spans() async throws {
        let memcached = try await MemcachedServer.start(arguments: ["-M"])
        let port = memcached.port
        let tracer = InMemoryTracer()
        let recorded = Mutex<[FinishedInMemorySpan]>([])
        do {
            let settings = try writeMemcachedSettings(memcached)
            defer { try? FileManager.default.removeItem(atPath: settings) }
            try await RouterClient.run(
                ["--caches", settings, "--revocation", "shared"], observability: ServerObservability(metrics: true, tracer: tracer)
            ) { server in
                try await loginLogoutFlow(server)
                // Before the test kit clears the caches (spans outside any request).
                recorded.withLock { $0 = tracer.finishedSpans }
            }
        } catch {
            await memcached.stop()
            throw error
        }
        await memcached.stop()

        let spans = recorded.withLock { $0 }
        let requests = spans.filter { $0.kind == .server }
        #expect(
            requests.map(\.operationName) == [
                "POST /auth/login", "GET /profile", "POST /auth/logout", "GET /profile", "POST /auth/refresh",
            ])
        #expect(
            requests.map { $0.attributes["http.response.status_code"]?.toSpanAttribute() } == [200, 200, 200, 401, 401].map { .int64($0) })
        #expect(requests.allSatisfy { $0.parentSpanID == nil })
        #expect(Set(requests.map(\.traceID)).count == 5)
        let byID = Dictionary(uniqueKeysWithValues: spans.map { ($0.spanID, $0) })
        /// The request span a span descends from.
        func request(of span: FinishedInMemorySpan) -> FinishedInMemorySpan? {
            var current = span
            while let parent = current.parentSpanID {
                guard let next = byID[parent] else { return nil }
                current = next
            }
            return current.kind == .server ? current : nil
        }

        let authentications = spans.filter { $0.operationName == "authenticate token" }
        #expect(
            authentications.map { request(of: $0)?.operationName } == [
                "GET /profile", "POST /auth/logout", "GET /profile", "POST /auth/refresh",
            ])
        #expect(
            authentications.map { $0.attributes["auth.outcome"]?.toSpanAttribute() }
                == ["accepted", "accepted", "refused", "refused"].map { .string($0) })
        #expect(
            authentications.map { $0.attributes["auth.refusal_reason"]?.toSpanAttribute() } == [
                nil, nil, .string("revoked"), .string("revoked"),
            ])
        // A refused token is no failure of the service: no error status.
        #expect(authentications.allSatisfy { $0.status == nil })

        // The memcached calls: the login starts its family (cas); each of the four checks is a
        // multi-get of three keys; the logout reads and compare-and-sets the jti's and the
        // family's revocation.
        let cacheSpans = spans.filter { $0.attributes["db.system.name"]?.toSpanAttribute() == .string("memcached") }
        #expect(cacheSpans.allSatisfy { $0.kind == .client })
        #expect(cacheSpans.allSatisfy { $0.attributes["server.address"]?.toSpanAttribute() == .string("127.0.0.1") })
        #expect(cacheSpans.allSatisfy { $0.attributes["server.port"]?.toSpanAttribute() == .int64(Int64(port)) })
        #expect(cacheSpans.allSatisfy { $0.attributes["cache.alias"]?.toSpanAttribute() == .string("shared") })
        #expect(cacheSpans.allSatisfy { $0.attributes["cache.key"] == nil })
        #expect(cacheSpans.allSatisfy { $0.attributes["db.operation.name"]?.toSpanAttribute() == .string($0.operationName) })
        let perRequest = cacheSpans.map { "\(request(of: $0)?.operationName ?? "none"): \($0.operationName)" }
        #expect(
            perRequest == [
                "POST /auth/login: cas", "GET /profile: get_many", "POST /auth/logout: get_many", "POST /auth/logout: get",
                "POST /auth/logout: cas", "POST /auth/logout: get", "POST /auth/logout: cas", "GET /profile: get_many",
                "POST /auth/refresh: get_many",
            ])
        #expect(
            cacheSpans.filter { $0.operationName == "get_many" }.allSatisfy {
                $0.attributes["db.operation.batch.size"]?.toSpanAttribute() == .int64(3)
            })
        // Each check's multi-get is a child of its token's authentication span.
        let authenticationIDs = Set(authentications.map(\.spanID))
        #expect(
            cacheSpans.filter { $0.operationName == "get_many" }.map { $0.parentSpanID.map(authenticationIDs.contains) }
                == [true, true, true, true])
    }
}
