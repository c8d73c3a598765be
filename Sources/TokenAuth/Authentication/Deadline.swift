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
/// operation is cancelled and left to finish on its own.
func withDeadline<R: Sendable>(
    _ timeout: Duration, _ operation: @escaping @Sendable () async throws -> R
) async throws -> R {
    let gate = Gate<R>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<R, any Error>) in
            gate.install(continuation)
            let work = Task {
                do {
                    gate.finish(.success(try await operation()))
                } catch {
                    gate.finish(.failure(error))
                }
            }
            let timer = Task {
                do {
                    try await Task.sleep(for: timeout)
                } catch {
                    return  // cancelled: the operation finished first
                }
                gate.finish(.failure(DeadlineExceeded(timeout: timeout)))
            }
            gate.own(work, timer)
        }
    } onCancel: {
        gate.finish(.failure(CancellationError()))
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
        if finished { tasks.forEach { $0.cancel() } }
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
        tasks.forEach { $0.cancel() }
        continuation?.resume(with: result)
    }
}
