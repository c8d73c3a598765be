/// A cache with Django's cache API, async and `Sendable`: the type an application holds.
///
/// A `Cache` is a configuration (key prefix, version, key function, default timeout, key
/// validation, clock, logger) over a ``CacheBackend`` that stores the entries. Every
/// operation — ``get(_:as:version:)``, ``set(_:_:timeout:version:)``,
/// ``add(_:_:timeout:version:)``, ``incr(_:by:version:)``,
/// ``getOrSet(_:timeout:version:compute:)`` and the rest of Django's API — is implemented
/// here, once, so every backend makes keys, validates them, applies timeouts and encodes
/// values the same way. The backend's own primitives are not reachable through a `Cache`.
///
/// ```swift
/// let cache = Cache.localMemory()                            // or: try caches["default"]
/// try await cache.set("greeting", "hello", timeout: 60)
/// let greeting = try await cache.get("greeting", as: String.self)
/// ```
///
/// A `Cache` is a small value: copies share the same backend.
public struct Cache: Sendable {
    /// Key making, versions, the default timeout, validation, clock and logger.
    public let configuration: CacheConfiguration
    /// The storage. Reachable from this package's modules, never from users, so no caller
    /// can skip key making and validation.
    @usableFromInline
    package let backend: any CacheBackend
    /// The backend again when it is local memory, which ``Cache`` calls synchronously on its
    /// hot paths (no async protocol call, no existential copy for an operation that is a lock
    /// and a dictionary lookup).
    @usableFromInline
    let localMemory: LocalMemoryBackend?
    /// The metrics and tracer, made once here; `nil` when observability is off, so the hot
    /// paths pay one `nil` check. When set, ``backend`` is wrapped so that every call is counted.
    @usableFromInline
    let instruments: CacheInstruments?

    /// Wraps a backend with a configuration.
    ///
    /// Give the backend the configuration's clock (backends measure expiry with their own
    /// clock; the ``CacheConfiguration`` turns timeouts into deadlines with its clock), as
    /// ``Caches`` and the factory methods such as ``localMemory(location:maxEntries:cullFrequency:whenFull:configuration:)`` do.
    ///
    /// - Parameters:
    ///   - backend: The storage.
    ///   - configuration: Key prefix, version, key function, default timeout, validation, clock, logger.
    public init(_ backend: any CacheBackend, configuration: CacheConfiguration = CacheConfiguration()) {
        let instruments = CacheInstruments(observability: configuration.observability, backend: backend)
        self.backend = instruments.map { InstrumentedBackend(inner: backend, instruments: $0) } ?? backend
        self.instruments = instruments
        self.localMemory = backend as? LocalMemoryBackend
        self.configuration = configuration
    }

    /// The backend itself, without the instrumentation ``backend`` wraps it in when
    /// observability is on: for modules of this package that need the backend's own type
    /// (`DatabaseRevocation` shares a database cache's database).
    package var unwrappedBackend: any CacheBackend {
        (backend as? InstrumentedBackend)?.inner ?? backend
    }

    /// What the backend promises about stored entries (eviction, failover, durability).
    public var capabilities: CacheBackendCapabilities { backend.capabilities }

    /// Removes every entry in the storage, whatever its prefix or version (Django's `clear`).
    ///
    /// - Throws: ``CacheError`` when the backend fails.
    public func clear() async throws {
        try await backend.clear()
    }

    /// Releases connections; the cache stays usable and reconnects on the next call (Django's `close`).
    ///
    /// - Throws: ``CacheError`` when the backend fails.
    public func close() async throws {
        try await backend.close()
    }

    /// Releases everything the backend holds (threads, connections, descriptors) for good.
    ///
    /// ``Caches/shutdown()`` calls it for every alias. Calls made afterwards fail with
    /// ``CacheError/Code/closed`` on backends that own threads or connections.
    ///
    /// - Throws: ``CacheError`` when the backend fails to release something.
    public func shutdown() async throws {
        try await backend.shutdown()
    }
}

extension Cache {
    /// A cache in this process's memory (Django's `LocMemCache`); see ``LocalMemoryBackend``.
    ///
    /// - Parameters:
    ///   - location: Caches with the same location share storage; `nil` gives this cache its own.
    ///   - maxEntries: Django's `MAX_ENTRIES`.
    ///   - cullFrequency: Django's `CULL_FREQUENCY` (0 empties the store when full).
    ///   - whenFull: Cull (Django) or refuse new keys when full of live entries.
    ///   - configuration: Key settings, clock and logger.
    /// - Returns: The cache.
    public static func localMemory(
        location: String? = nil, maxEntries: Int = DjangoDefaults.maxEntries,
        cullFrequency: Int = DjangoDefaults.cullFrequency, whenFull: CacheFullPolicy = .cull,
        configuration: CacheConfiguration = CacheConfiguration()
    ) -> Cache {
        Cache(
            LocalMemoryBackend(
                location: location, maxEntries: maxEntries, cullFrequency: cullFrequency, whenFull: whenFull,
                clock: configuration.clock),
            configuration: configuration)
    }

    /// A cache in a directory of files (Django's `FileBasedCache`); see ``FileBackend``.
    ///
    /// - Parameters:
    ///   - directory: The directory (Django's `LOCATION`).
    ///   - maxEntries: Django's `MAX_ENTRIES`.
    ///   - cullFrequency: Django's `CULL_FREQUENCY`.
    ///   - whenFull: Cull (Django) or refuse new keys when full of live entries.
    ///   - maxValueSize: The largest encoded value stored, in bytes (1 MiB by default).
    ///   - configuration: Key settings, clock and logger.
    /// - Returns: The cache.
    /// - Throws: ``CacheError`` when the directory cannot be created or another user could
    ///   tamper with it.
    public static func file(
        directory: String, maxEntries: Int = DjangoDefaults.maxEntries, cullFrequency: Int = DjangoDefaults.cullFrequency,
        whenFull: CacheFullPolicy = .cull, maxValueSize: Int = 1_048_576, configuration: CacheConfiguration = CacheConfiguration()
    ) throws -> Cache {
        Cache(
            try FileBackend(
                directory: directory, maxEntries: maxEntries, cullFrequency: cullFrequency, whenFull: whenFull,
                maxValueSize: maxValueSize, clock: configuration.clock),
            configuration: configuration)
    }

    /// A cache that stores nothing (Django's `DummyCache`); see ``DummyBackend``.
    ///
    /// - Parameter configuration: Key settings, applied and validated as on any backend.
    /// - Returns: The cache.
    public static func dummy(configuration: CacheConfiguration = CacheConfiguration()) -> Cache {
        Cache(DummyBackend(), configuration: configuration)
    }
}
