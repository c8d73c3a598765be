public import Logging
public import ServiceLifecycle

/// Deletes a ``DatabaseRevocation``'s expired rows on an interval, as a swift-service-lifecycle
/// `Service`, until graceful shutdown or cancellation.
///
/// ```swift
/// let group = ServiceGroup(
///     services: [server, revocation.cleanupService(interval: .seconds(300))], logger: logger)
/// try await group.run()
/// ```
///
/// Each round calls ``DatabaseRevocation/removeExpired(batchSize:)`` (batches of at most
/// `batchSize` rows), then sleeps for the interval. A failed round is retried on the next one:
/// a cleanup that cannot run only leaves expired rows, which no check counts. The first failed
/// round of an outage is logged as a warning (later ones at debug, with their count), and the
/// first round that works again as a notice. Graceful shutdown or cancellation ends the sleep, or the round between two batches,
/// and ``run()`` returns.
public struct DatabaseRevocationCleanup: Service {
    /// The store cleaned.
    public let store: DatabaseRevocation
    /// The pause between two rounds.
    public let interval: Duration
    /// The most rows one statement deletes.
    public let batchSize: Int
    private let logger: Logger

    /// Creates the service; it does nothing until ``run()``.
    ///
    /// - Parameters:
    ///   - store: The store to clean.
    ///   - interval: The pause between two rounds.
    ///   - batchSize: The most rows one statement deletes.
    ///   - logger: Where rounds and failures are logged.
    public init(
        store: DatabaseRevocation, interval: Duration, batchSize: Int = 1000,
        logger: Logger = Logger(label: "swift-caching.DatabaseRevocation")
    ) {
        self.store = store
        self.interval = interval
        self.batchSize = max(1, batchSize)
        self.logger = logger
    }

    /// Runs rounds until graceful shutdown or cancellation, then returns.
    public func run() async {
        let store = store
        let interval = interval
        let batchSize = batchSize
        let logger = logger
        await cancelWhenGracefulShutdown {
            var failedRounds = 0
            while !Task.isCancelled {
                do {
                    let removed = try await store.removeExpired(batchSize: batchSize)
                    if failedRounds > 0 {
                        logger.notice(
                            "Deleting expired revocations works again",
                            metadata: ["revocation.table": "\(store.table)", "revocation.failed_rounds": "\(failedRounds)"])
                        failedRounds = 0
                    }
                    if removed > 0 {
                        logger.debug("Deleted expired revocations", metadata: ["revocation.removed": "\(removed)"])
                    }
                } catch is CancellationError {
                    return
                } catch {
                    failedRounds += 1
                    // Once per outage: the first failed round says what failed, the next ones
                    // only count (a down database would otherwise log every interval).
                    logger.log(
                        level: failedRounds == 1 ? .warning : .debug,
                        "Could not delete expired revocations; later rounds try again (expired rows count for nothing meanwhile)",
                        metadata: [
                            "revocation.table": "\(store.table)", "revocation.failed_rounds": "\(failedRounds)", "error": "\(error)",
                        ])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}

extension DatabaseRevocation {
    /// A `Service` that deletes expired rows every `interval` (see ``DatabaseRevocationCleanup``).
    ///
    /// - Parameters:
    ///   - interval: The pause between two rounds.
    ///   - batchSize: The most rows one statement deletes.
    ///   - logger: Where rounds and failures are logged.
    /// - Returns: The service; add it to the application's `ServiceGroup`.
    public func cleanupService(
        interval: Duration, batchSize: Int = 1000, logger: Logger = Logger(label: "swift-caching.DatabaseRevocation")
    ) -> DatabaseRevocationCleanup {
        DatabaseRevocationCleanup(store: self, interval: interval, batchSize: batchSize, logger: logger)
    }
}
