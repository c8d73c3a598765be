#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Monotonic time in nanoseconds.
public func monotonicNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

/// One measured case: a name and an async body that performs `operations` operations per call.
public struct BenchCase: Sendable {
    public var name: String
    /// How many operations (gets, keys, requests …) one call of `body` performs.
    public var operationsPerCall: Int
    public var body: @Sendable () async throws -> Void

    public init(_ name: String, operationsPerCall: Int = 1, body: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.operationsPerCall = operationsPerCall
        self.body = body
    }
}

/// The result of measuring one case: operations per second of each round, and the median.
public struct BenchResult: Sendable {
    public var name: String
    public var roundRates: [Double]
    public var median: Double {
        let sorted = roundRates.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}

/// Measures a baseline and a subject in interleaved rounds (baseline, subject, baseline, …),
/// so that a noisy, shared machine slows both alike, and returns both results.
///
/// - Parameters:
///   - baseline: The reference (raw C calls, a locked dictionary, raw file I/O).
///   - subject: The code under test.
///   - rounds: How many rounds of each.
///   - roundDuration: Seconds each round runs for (after one warm-up round).
public func compare(
    baseline: BenchCase, subject: BenchCase, rounds: Int = 5, roundDuration: Double = 0.4
) async throws -> (baseline: BenchResult, subject: BenchResult) {
    var baselineResult = BenchResult(name: baseline.name, roundRates: [])
    var subjectResult = BenchResult(name: subject.name, roundRates: [])
    _ = try await measureRound(baseline, seconds: roundDuration / 4)
    _ = try await measureRound(subject, seconds: roundDuration / 4)
    for _ in 0..<rounds {
        baselineResult.roundRates.append(try await measureRound(baseline, seconds: roundDuration))
        subjectResult.roundRates.append(try await measureRound(subject, seconds: roundDuration))
    }
    return (baselineResult, subjectResult)
}

/// Runs `benchCase` repeatedly for about `seconds` and returns operations per second.
public func measureRound(_ benchCase: BenchCase, seconds: Double) async throws -> Double {
    let budget = UInt64(seconds * 1e9)
    let start = monotonicNanoseconds()
    var calls = 0
    var now = start
    repeat {
        for _ in 0..<16 { try await benchCase.body() }
        calls += 16
        now = monotonicNanoseconds()
    } while now - start < budget
    return Double(calls * benchCase.operationsPerCall) / (Double(now - start) / 1e9)
}

/// Formats a rate: `156.2k`, `1.21M`.
public func formatRate(_ rate: Double) -> String {
    if rate >= 1_000_000 { return String(format2(rate / 1_000_000)) + "M" }
    if rate >= 1_000 { return String(format2(rate / 1_000)) + "k" }
    return format2(rate)
}

/// A number with two decimals (no Foundation needed).
public func format2(_ value: Double) -> String {
    let scaled = (value * 100).rounded()
    let whole = Int(scaled / 100)
    let fraction = Int(abs(scaled).truncatingRemainder(dividingBy: 100))
    return "\(whole).\(fraction < 10 ? "0" : "")\(fraction)"
}

/// Prints a Markdown table header for comparison rows.
public func printTableHeader(title: String) {
    print("\n### \(title)\n")
    print("| case | baseline | baseline ops/s | subject ops/s | ratio | target |")
    print("| --- | --- | --- | --- | --- | --- |")
}

/// Prints one comparison row: both medians and subject/baseline, with the target if any.
public func printRow(_ result: (baseline: BenchResult, subject: BenchResult), target: Double? = nil) {
    let ratio = result.baseline.median > 0 ? result.subject.median / result.baseline.median : 0
    let targetText = target.map { "≥ \(format2($0))× \(ratio >= $0 ? "met" : "NOT met")" } ?? "—"
    print(
        "| \(result.subject.name) | \(result.baseline.name) | \(formatRate(result.baseline.median)) | \(formatRate(result.subject.median)) | \(format2(ratio))× | \(targetText) |"
    )
}

/// An environment variable's value, or `nil` when it is not set.
public func environment(_ name: String) -> String? {
    getenv(name).map { String(cString: $0) }
}

/// CPU time this process has used (user and system), in microseconds.
public func processCPUMicroseconds() -> Double {
    var usage = rusage()
    #if canImport(Glibc)
        getrusage(RUSAGE_SELF.rawValue, &usage)
    #else
        getrusage(RUSAGE_SELF, &usage)
    #endif
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e6 + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
}

/// Wall and CPU time per call of `calls` sequential Swift calls, then of the same number of
/// calls made by `baseline` (a C loop, given how many to make), three rounds; prints one line
/// per round. For `perf record`, and for loaded machines, where CPU per call is steadier than
/// operations per second.
public func profilePerCall(
    calls: Int, what: String, swift: @escaping @Sendable () async throws -> Void, baseline: (_ calls: Int) -> Void
) async throws {
    for round in 0..<3 {
        // Off the main actor, as the benchmark cases run.
        let (swiftWall, swiftCPU) = try await Task.detached {
            let wall = monotonicNanoseconds()
            let cpu = processCPUMicroseconds()
            for _ in 0..<calls { try await swift() }
            return (Double(monotonicNanoseconds() - wall) / 1000 / Double(calls), (processCPUMicroseconds() - cpu) / Double(calls))
        }.value
        let wall = monotonicNanoseconds()
        let cpu = processCPUMicroseconds()
        baseline(calls)
        let cWall = Double(monotonicNanoseconds() - wall) / 1000 / Double(calls)
        let cCPU = (processCPUMicroseconds() - cpu) / Double(calls)
        print(
            "round \(round + 1): \(what) \(format2(swiftWall)) µs wall, \(format2(swiftCPU)) µs CPU; C \(format2(cWall)) µs wall, \(format2(cCPU)) µs CPU (per call, this process); ratio of CPU \(format2(cCPU / swiftCPU))×"
        )
    }
}
