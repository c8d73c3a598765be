/// An error thrown by a ``RevocationStore``: what went wrong, for which id, and what to do.
///
/// Switch on ``code``; read ``message`` for the details.
public struct RevocationError: Error, Sendable, CustomStringConvertible {
    /// The kind of a ``RevocationError``.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case invalidIdentifier
            case capacityExceeded
            case unsupported
            case storeFailure
            case unsafeStore
            case invalidArgument
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The `jti`, family or subject is empty, or cannot be stored as a key (too long,
        /// spaces or control characters for a cache key).
        public static let invalidIdentifier = Code(.invalidIdentifier)
        /// ``InMemoryRevocation`` is full of live entries; the revocation was not stored.
        public static let capacityExceeded = Code(.capacityExceeded)
        /// The store cannot do this (a ``HandlerRevocation`` cannot store revocations).
        public static let unsupported = Code(.unsupported)
        /// The backend failed to read or write; nothing is known about the token.
        public static let storeFailure = Code(.storeFailure)
        /// The cache a store was asked to use may forget a live revocation (it evicts live
        /// entries when full, or moves keys to another server on a failure) and the risk was
        /// not accepted by name.
        public static let unsafeStore = Code(.unsafeStore)
        /// A ttl or a time is out of range: not finite, negative where a time is meant, or a
        /// lifetime longer than ``RevocationLimits/maximumLifetime``. Nothing was stored.
        public static let invalidArgument = Code(.invalidArgument)

        public var description: String { base.rawValue }
    }

    /// The kind of error.
    public let code: Code
    /// What happened, naming the id and store, and what to do.
    public let message: String
    /// The error that caused this one (a `CacheError`, for example).
    public let underlying: (any Error & Sendable)?

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: The kind of error.
    ///   - message: A sentence saying what and why.
    ///   - underlying: The cause, if any.
    public init(_ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String {
        var text = "RevocationError.\(code): \(message)"
        if let underlying { text += " (underlying: \(underlying))" }
        return text
    }
}
