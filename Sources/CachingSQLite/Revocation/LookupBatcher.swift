import Caching
import Synchronization

/// Coalesces concurrent lookups: at most `concurrency` statements run at once; every lookup
/// that arrives while they all run waits, and the next statement answers all the waiting
/// lookups together (one `IN (…)` / `= ANY($1)` statement for up to 128 callers).
///
/// A lookup that finds a free slot runs at once, alone; so one caller at a time pays no wait,
/// and a crowd pays one statement per batch. A failed statement fails every lookup in its batch.
final class LookupBatcher: Sendable {
    typealias Run = @Sendable (RevocationLookup) async throws -> [RevocationRow]

    private struct Waiter: Sendable {
        var lookup: RevocationLookup
        var continuation: CheckedContinuation<Outcome, any Error>
    }

    private enum Outcome: Sendable {
        case found([RevocationRow])
        /// The caller runs the next statement, for its own names and these waiters'.
        case lead([Waiter])
    }

    private struct State: Sendable {
        var running = 0
        var waiting: [Waiter] = []
    }

    /// The most callers answered by one statement.
    static let largestBatch = 128

    private let concurrency: Int
    private let state = Mutex(State())
    private let statements = Atomic<Int>(0)

    init(concurrency: Int) {
        self.concurrency = max(1, concurrency)
    }

    /// How many batches (each one statement) have run.
    var batchCount: Int { statements.load(ordering: .relaxed) }

    /// The live rows for `lookup`'s ids, found by a statement this call runs or shares.
    func lookup(_ lookup: RevocationLookup, run: Run) async throws -> [RevocationRow] {
        // A free slot: lead at once, without making a continuation (the common case when the
        // checks do not overlap).
        let leadsNow = state.withLock { state -> Bool in
            guard state.running < concurrency else { return false }
            state.running += 1
            return true
        }
        let outcome: Outcome =
            leadsNow
            ? .lead([])
            : try await withCheckedThrowingContinuation { continuation in
                let leads = state.withLock { state -> Bool in
                    if state.running < concurrency {
                        state.running += 1
                        return true
                    }
                    state.waiting.append(Waiter(lookup: lookup, continuation: continuation))
                    return false
                }
                if leads { continuation.resume(returning: .lead([])) }
            }
        switch outcome {
        case .found(let rows): return rows
        case .lead(let others):
            var all = lookup
            for other in others { all.formUnion(other.lookup) }
            statements.add(1, ordering: .relaxed)
            let result: Result<[RevocationRow], any Error>
            do {
                result = .success(try await run(all))
            } catch {
                result = .failure(error)
            }
            for other in others { other.continuation.resume(with: result.map { .found($0) }) }
            let next = state.withLock { state -> [Waiter] in
                guard !state.waiting.isEmpty else {
                    state.running -= 1
                    return []
                }
                let batch = Array(state.waiting.prefix(Self.largestBatch))
                state.waiting.removeFirst(batch.count)
                return batch
            }
            // The slot passes to the first waiter, which runs the next statement in its own task.
            if let first = next.first { first.continuation.resume(returning: .lead(Array(next.dropFirst()))) }
            return try result.get()
        }
    }
}
