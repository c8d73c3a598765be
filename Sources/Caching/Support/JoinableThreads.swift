import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The threads a pool started, and the tasks waiting for all of them to end: what a pool's
/// `shutdown()` needs, written once for ``BlockingThreadPool`` and memcached's worker pool.
///
/// Each thread counts as live until the closure it was started with returns. ``waitForAll()``
/// suspends the calling task (no thread blocks) until none is live, then joins them, which
/// waits only for their last instructions. Threads never joined are detached in `deinit`, so
/// the system reclaims them when they end.
package final class JoinableThreads: Sendable {
    private struct State {
        var threads: [pthread_t] = []
        var live = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private final class Start {
        let owner: JoinableThreads
        let body: () -> Void
        init(owner: JoinableThreads, body: @escaping () -> Void) {
            self.owner = owner
            self.body = body
        }
    }

    private let state = Mutex(State())
    private let name: String

    /// Creates an empty set of threads.
    ///
    /// - Parameter name: Named in the message if a thread cannot be started.
    package init(name: String) {
        self.name = name
    }

    deinit {
        state.withLock { state in
            for thread in state.threads { pthread_detach(thread) }
        }
    }

    /// Starts a thread running `body`.
    ///
    /// - Parameter body: The thread's work; the thread ends when it returns.
    package func start(_ body: @escaping () -> Void) {
        let context = Unmanaged.passRetained(Start(owner: self, body: body)).toOpaque()
        state.withLock { state in
            var thread = pthread_t()
            let created = pthread_create(
                &thread, nil,
                { raw in
                    let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
                    start.body()
                    start.owner.ended()
                    return nil
                }, context)
            precondition(created == 0, "\(name) could not start a thread: error \(created)")
            state.threads.append(thread)
            state.live += 1
        }
    }

    private func ended() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.live -= 1
            guard state.live == 0 else { return [] }
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns when every thread started so far has ended and been joined. The caller must
    /// have told the threads to stop first.
    package func waitForAll() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state in
                if state.live == 0 { return true }
                state.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
        let ended = state.withLock { state in
            defer { state.threads = [] }
            return state.threads
        }
        for thread in ended { pthread_join(thread, nil) }
    }
}
