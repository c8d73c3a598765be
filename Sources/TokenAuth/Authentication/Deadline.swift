import Synchronization

/// The revocation store did not answer within the timeout.
struct DeadlineExceeded: Error, Sendable {
    var timeout: Duration
}

/// Runs `operation` and returns its result, or throws ``DeadlineExceeded`` once `timeout`
/// has passed, whichever comes first.
///
/// A task group cannot do this: it waits for every child before returning, so a store that
/// ignores cancellation (a blocked socket, a continuation never resumed) would hold the
/// request forever. Here the operation runs in its own task (inheriting task-locals, so
/// `Caches.withOverride` still applies); on timeout the caller is resumed at once and the
/// operation is cancelled and left to finish on its own. Deadlines are kept by one shared
/// ``DeadlineWatchdog`` instead of a timer task per call, which halves the cost of a check.
func withDeadline<R: Sendable>(
    _ timeout: Duration, _ operation: @escaping @Sendable () async throws -> R
) async throws -> R {
    let gate = Gate<R>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<R, any Error>) in
            gate.install(continuation)
            let watch = DeadlineWatchdog.shared.schedule(after: timeout) {
                gate.finish(.failure(DeadlineExceeded(timeout: timeout)))
            }
            let work = Task {
                let result: Result<R, any Error>
                do {
                    result = .success(try await operation())
                } catch {
                    result = .failure(error)
                }
                DeadlineWatchdog.shared.cancel(watch)
                gate.finish(result)
            }
            gate.own(work)
        }
    } onCancel: {
        gate.finish(.failure(CancellationError()))
    }
}

/// Fires the callbacks of deadlines that have passed, for every ``withDeadline(_:_:)`` call.
///
/// One task, started when the first deadline is scheduled and ending when none is pending,
/// checks every 5 ms; a deadline fires within 5 ms after it passes, never before.
final class DeadlineWatchdog: Sendable {
    static let shared = DeadlineWatchdog()

    private struct Entry: Sendable {
        let deadline: ContinuousClock.Instant
        let fire: @Sendable () -> Void
    }

    private struct State: Sendable {
        var entries: [UInt64: Entry] = [:]
        var nextID: UInt64 = 0
        var running = false
    }

    private let state = Mutex(State())
    static let tick = Duration.milliseconds(5)

    /// Schedules `fire` to run once `timeout` from now has passed, unless cancelled first.
    func schedule(after timeout: Duration, fire: @escaping @Sendable () -> Void) -> UInt64 {
        let deadline = ContinuousClock.now + timeout
        let (id, start) = state.withLock { state -> (UInt64, Bool) in
            state.nextID &+= 1
            state.entries[state.nextID] = Entry(deadline: deadline, fire: fire)
            defer { state.running = true }
            return (state.nextID, !state.running)
        }
        if start { Task.detached { await self.run() } }
        return id
    }

    /// Forgets a scheduled deadline.
    func cancel(_ id: UInt64) {
        state.withLock { _ = $0.entries.removeValue(forKey: id) }
    }

    private func run() async {
        while true {
            try? await Task.sleep(for: Self.tick)
            let now = ContinuousClock.now
            let due = state.withLock { state -> [Entry]? in
                if state.entries.isEmpty {
                    state.running = false
                    return nil
                }
                var due: [Entry] = []
                for (id, entry) in state.entries where entry.deadline <= now {
                    due.append(entry)
                    state.entries[id] = nil
                }
                return due
            }
            guard let due else { return }
            for entry in due { entry.fire() }
        }
    }
}

/// Resumes a continuation once, with the first result, and cancels the racing tasks.
private final class Gate<R: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<R, any Error>?
        var result: Result<R, any Error>?
        var tasks: [Task<Void, Never>] = []
    }

    private let state = Mutex(State())

    func install(_ continuation: CheckedContinuation<R, any Error>) {
        let early = state.withLock { state -> Result<R, any Error>? in
            if let result = state.result { return result }
            state.continuation = continuation
            return nil
        }
        if let early { continuation.resume(with: early) }
    }

    func own(_ tasks: Task<Void, Never>...) {
        let finished = state.withLock { state -> Bool in
            if state.result != nil { return true }
            state.tasks = tasks
            return false
        }
        if finished { for task in tasks { task.cancel() } }
    }

    func finish(_ result: Result<R, any Error>) {
        let (continuation, tasks) = state.withLock { state -> (CheckedContinuation<R, any Error>?, [Task<Void, Never>]) in
            guard state.result == nil else { return (nil, []) }
            state.result = result
            defer {
                state.continuation = nil
                state.tasks = []
            }
            return (state.continuation, state.tasks)
        }
        for task in tasks { task.cancel() }
        continuation?.resume(with: result)
    }
}
