/// An error thrown by a cache: what went wrong, for which key or alias, and what to do.
///
/// Switch on ``code`` to tell the kinds apart; read ``message`` for the details a
/// person needs. New codes may be added in later versions without breaking callers
/// that handle unknown codes with a `default` branch.
///
/// ```swift
/// do {
///     _ = try await cache.incr("hits")
/// } catch let error as CacheError where error.code == .keyNotFound {
///     try await cache.set("hits", 1)
/// }
/// ```
public struct CacheError: Error, Sendable, CustomStringConvertible {
    /// The kind of a ``CacheError``.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case invalidKey
            case keyNotFound
            case notAnInteger
            case integerOverflow
            case valueTooLarge
            case encodingFailed
            case decodingFailed
            case foreignValue
            case unknownAlias
            case unknownBackend
            case invalidSettings
            case storageFailure
            case unavailable
            case timeout
            case protocolError
            case closed
            case full
            case overloaded
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The key breaks the key rules (length, forbidden characters).
        public static let invalidKey = Code(.invalidKey)
        /// `incr`, `decr`, `incrVersion` or `decrVersion` named a key that is not in the cache.
        public static let keyNotFound = Code(.keyNotFound)
        /// `incr` or `decr` found a value that is not an integer.
        public static let notAnInteger = Code(.notAnInteger)
        /// `incr` or `decr` would leave the range of `Int`.
        public static let integerOverflow = Code(.integerOverflow)
        /// The encoded value is larger than the backend accepts.
        public static let valueTooLarge = Code(.valueTooLarge)
        /// The value could not be encoded.
        public static let encodingFailed = Code(.encodingFailed)
        /// The stored value could not be decoded as the requested type.
        public static let decodingFailed = Code(.decodingFailed)
        /// The stored value was written by another client in a form this library does not read
        /// (a Python pickle, for example).
        public static let foreignValue = Code(.foreignValue)
        /// No cache is configured under the alias.
        public static let unknownAlias = Code(.unknownAlias)
        /// The settings name a backend that is not registered.
        public static let unknownBackend = Code(.unknownBackend)
        /// A setting is missing, has the wrong type, or has a value out of range.
        public static let invalidSettings = Code(.invalidSettings)
        /// The storage (a file system, a server) failed to read or write.
        public static let storageFailure = Code(.storageFailure)
        /// The server or store could not be reached.
        public static let unavailable = Code(.unavailable)
        /// The operation did not finish within the configured time.
        public static let timeout = Code(.timeout)
        /// The server answered something this client did not expect.
        public static let protocolError = Code(.protocolError)
        /// The cache was closed and cannot be used any more.
        public static let closed = Code(.closed)
        /// The store holds `MAX_ENTRIES` live entries and is set never to evict one
        /// (``CacheFullPolicy/refuse``): a new key was not stored, and nothing was lost.
        public static let full = Code(.full)
        /// Too much work is already queued for the threads that would do this (a bounded
        /// ``BlockingThreadPool``): the call was refused at once, nothing was done. Retry later.
        public static let overloaded = Code(.overloaded)

        public var description: String { base.rawValue }
    }

    /// The kind of error.
    public let code: Code
    /// What happened, naming the key, alias or setting, and what to do about it.
    public let message: String
    /// The key (as made, with prefix and version) the operation was working on, if any.
    public let key: String?
    /// The underlying error, if this one wraps another.
    public let underlying: (any Error & Sendable)?

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: The kind of error.
    ///   - message: A sentence saying what and why.
    ///   - key: The made key involved, if any.
    ///   - underlying: The error that caused this one, if any.
    public init(_ code: Code, _ message: String, key: String? = nil, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.key = key
        self.underlying = underlying
    }

    public var description: String {
        var text = "CacheError.\(code): \(message)"
        if let underlying { text += " (underlying: \(underlying))" }
        return text
    }
}

extension CacheError {
    static func keyNotFound(_ key: String) -> CacheError {
        CacheError(.keyNotFound, "Key '\(key)' not found", key: key)
    }

    static func notAnInteger(_ key: String, flags: UInt32) -> CacheError {
        CacheError(
            .notAnInteger,
            "Key '\(key)' holds a value that is not an integer (item flags \(flags)); incr and decr need an integer value",
            key: key
        )
    }

    static func overflow(_ key: String, value: Int, delta: Int) -> CacheError {
        CacheError(.integerOverflow, "Adding \(delta) to \(value) under key '\(key)' overflows Int", key: key)
    }
}
