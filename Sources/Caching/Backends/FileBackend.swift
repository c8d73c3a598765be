#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Storage in a directory of files, one file per key: the backend of Django's `FileBasedCache`,
/// made safe for several processes. Use it through a ``Cache``: `try Cache.file(directory:)`.
///
/// Settings: `BACKEND` `file`, `filebased` or `django.core.cache.backends.filebased.FileBasedCache`;
/// `LOCATION` the directory; `OPTIONS` `MAX_ENTRIES` (300) and `CULL_FREQUENCY` (3).
///
/// What it does, and where it differs from Django's:
/// - The directory is created with its missing parents, mode 0700; files are created 0600
///   (less if the process's umask removes more). The directory may be deleted at any time:
///   the next write creates it again.
/// - A file is named by a 128-bit FNV-1a hash of the made key with the extension `.swcache2`, and
///   holds the key, so a hash collision is a miss, never another key's value. The format is
///   this library's own (see `FileCacheFormat`): nothing in a file is ever executed or
///   unpickled. A truncated, corrupt, empty or foreign file reads as a miss and is removed.
/// - Writes are atomic: a temporary file (`.swcache2-tmp-…`) in the same directory, renamed over
///   the entry. Readers see the old file or the new one, never a part. The data is not
///   `fsync`ed: after a power loss (not a process crash) an entry may be missing or, on some
///   file systems, empty or zeroed, which the checksum turns into a miss. A cache may lose data;
///   it must not return wrong data. Temporary files left by a crashed writer are ignored, and
///   removed by `clear()`.
/// - `add` and `incr` are atomic across threads and processes sharing the directory (Django's
///   are not): writers hold a per-shard `flock` on a lock file in the directory (`.swcache2-lock-…`)
///   while they look at and replace a file. `incr` keeps the expiry; `touch` rewrites only the
///   expiry field in place.
/// - An entry expires at its deadline (`deadline <= now`, as local memory; Django's file cache
///   keeps it for that one instant). An expired file is never returned, counted as present,
///   touched or reported as deleted, and is removed when noticed.
/// - Culling follows Django's rule (before writing a new key into a directory of `MAX_ENTRIES`
///   files or more, remove `count / CULL_FREQUENCY` files; 0 removes all) without listing the
///   directory on every write, preferring expired files, then the oldest written. With
///   ``CacheFullPolicy/refuse`` only expired and corrupt files are removed, and a new key that
///   still does not fit is refused with ``CacheError/Code/full``.
/// - `clear()` removes only cache and temporary files: other files and the directory stay.
///
/// All file I/O runs on a ``BlockingThreadPool`` (``BlockingThreadPool/shared`` unless one is
/// given), one hop per operation (a many-operation does all its keys in one hop); nothing
/// blocks Swift concurrency's threads. One exception, on Linux: a single-key read of a file of
/// up to 64 KiB runs on the calling task when the kernel can serve it without waiting for the
/// disk (the path from the dentry cache, `openat2` with `RESOLVE_CACHED`; the bytes from the
/// page cache, `preadv2` with `RWF_NOWAIT`); a read that would wait, and every file that needs
/// removing or a closer look, goes to the pool as before. This saves the hop's two thread
/// wake-ups, several times the cost of reading a small cached file. When the pool's queue is full, a call fails at once with
/// ``CacheError/Code/overloaded`` instead of waiting behind the backlog. The initializer creates the directory synchronously,
/// once. ``shutdown()`` closes the directory's lock files; a later call opens them again.
public struct FileBackend: CacheBackend {
    /// The cache directory, as an absolute path.
    public let directory: String
    /// Django's `MAX_ENTRIES`.
    public let maxEntries: Int
    /// Django's `CULL_FREQUENCY`.
    public let cullFrequency: Int
    /// The clock expiry is measured by.
    public let clock: any CacheClock
    /// The threads the file I/O runs on.
    public let threadPool: BlockingThreadPool
    /// The largest encoded value stored, in bytes (`OPTIONS["MAX_VALUE_SIZE"]`, 1 MiB like
    /// memcached's default); a file larger than an entry with such a value is never read.
    public let maxValueSize: Int
    private let fileStore: FileCacheStore
    private let limits: CullLimits

    /// Creates file storage, creating its directory if needed.
    ///
    /// Backends of this process that name the same directory share one count of its files and
    /// one set of locks, for as long as one of them is alive.
    ///
    /// - Parameters:
    ///   - directory: The directory (Django's `LOCATION`); a relative path is taken from the
    ///     current directory.
    ///   - maxEntries: Django's `MAX_ENTRIES`.
    ///   - cullFrequency: Django's `CULL_FREQUENCY` (0 empties the directory when full).
    ///   - whenFull: Cull (Django) or refuse new keys when full of live entries.
    ///   - maxValueSize: The largest encoded value stored, in bytes.
    ///   - trustGroup: Accept a directory its group may write to (a group of trusted users).
    ///   - clock: The clock expiry is measured by; give the ``Cache`` over it the same one.
    ///   - threadPool: The threads the file I/O runs on.
    ///   - alias: The alias, named in errors.
    /// - Throws: ``CacheError/Code/invalidSettings`` for an empty directory path;
    ///   ``CacheError/Code/storageFailure`` naming the path and the system's reason when the
    ///   directory cannot be created (a parent is a file, no permission, a read-only file system).
    public init(
        directory: String, maxEntries: Int = DjangoDefaults.maxEntries, cullFrequency: Int = DjangoDefaults.cullFrequency,
        whenFull: CacheFullPolicy = .cull, maxValueSize: Int = 1_048_576, trustGroup: Bool = false,
        clock: any CacheClock = SystemCacheClock(), threadPool: BlockingThreadPool = .shared, alias: String = "file"
    ) throws {
        guard !directory.isEmpty else {
            throw CacheError(.invalidSettings, "FileBackend needs a directory (LOCATION); the path given is empty")
        }
        var absolute = directory
        if !absolute.hasPrefix("/") {
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            if getcwd(&buffer, buffer.count) != nil {
                let cwd = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
                absolute = (cwd == "/" ? "" : cwd) + "/" + absolute
            }
        }
        while absolute.count > 1, absolute.hasSuffix("/") { absolute.removeLast() }
        guard maxValueSize >= 1 else {
            throw CacheSettings.invalid(alias, ["OPTIONS", "MAX_VALUE_SIZE"], "must be 1 or more bytes; found \(maxValueSize)")
        }
        try FileCacheStore.makeDirectories(absolute)
        try FileCacheStore.checkDirectory(absolute, trustGroup: trustGroup, alias: alias)
        self.directory = absolute
        self.maxValueSize = maxValueSize
        self.maxEntries = maxEntries
        self.cullFrequency = max(0, cullFrequency)
        self.limits = CullLimits(maxEntries: maxEntries, cullFrequency: max(0, cullFrequency), whenFull: whenFull)
        self.fileStore = FileCacheStore.shared(directory: absolute)
        fileStore.allowValues(upTo: maxValueSize)
        self.clock = clock
        self.threadPool = threadPool
    }

    /// What happens when a new key arrives at a directory full of live entries.
    public var whenFull: CacheFullPolicy { limits.whenFull }

    public var capabilities: CacheBackendCapabilities {
        CacheBackendCapabilities(
            name: "file", mayEvictLiveEntries: limits.whenFull == .cull, survivesRestart: true, sharedAcrossProcesses: true)
    }

    /// The path of the file that holds a made key (whether or not it exists).
    ///
    /// - Parameter key: A made key, as ``Cache/makeKey(_:version:)`` returns it.
    /// - Returns: An absolute path inside ``directory``.
    public func filePath(forKey key: String) -> String {
        fileStore.path(ofFile: FileCacheFormat.fileName(forKey: key))
    }

    /// The calling-task half of ``entry(forKey:)``, for benchmarks and tests: the answer when
    /// the file could be read without waiting for the disk, or `nil` when the read would go to
    /// the thread pool. Never removes, writes or locks anything.
    ///
    /// - Parameter key: A made key, as ``Cache/makeKey(_:version:)`` returns it.
    /// - Returns: `.some(entry)` or `.some(nil)` (a miss) when answered here; `nil` otherwise.
    @_spi(Benchmarks)
    public func entryWithoutWaiting(forKey key: String) -> CacheEntry?? {
        switch fileStore.entryWithoutWaiting(forKey: key, now: now) {
        case .found(let entry): entry
        case .usePool: nil
        }
    }

    /// The lock shard that guards a made key (for tests of the spread).
    package static func lockShard(forKey key: String) -> Int {
        let (_, low) = FileCacheFormat.fnv1a128(key.utf8)
        return FileCacheFormat.shard(low: low)
    }

    /// The number of lock shards per directory.
    package static var lockShardCount: Int { FileCacheFormat.lockShards }

    /// Counts the cache files in the directory now, expired ones included (a directory scan).
    ///
    /// - Returns: The number of cache files.
    /// - Throws: ``CacheError/Code/storageFailure`` when the directory cannot be read.
    public func fileCount() async throws -> Int {
        let store = fileStore
        return try await threadPool.runIfRoom { () throws(CacheError) -> Int in try store.countFiles() }
    }

    private var now: Double { clock.now() }

    public func entry(forKey key: String) async throws -> CacheEntry? {
        if case .found(let entry) = fileStore.entryWithoutWaiting(forKey: key, now: now) { return entry }
        return try await entryThroughPool(forKey: key)
    }

    /// ``entry(forKey:)`` without the attempt on the calling task: the read on the thread
    /// pool, which also removes an expired, corrupt or planted file (for tests comparing the two).
    package func entryThroughPool(forKey key: String) async throws(CacheError) -> CacheEntry? {
        let (store, now) = (fileStore, now)
        return try await threadPool.runIfRoom { () throws(CacheError) -> CacheEntry? in
            try store.entry(forKey: key, now: now)
        }
    }

    public func entries(forKeys keys: [String]) async throws -> [CacheEntry?] {
        let (store, now) = (fileStore, now)
        // Each key is tried on the calling task first, as `entry(forKey:)` does; only the keys
        // that need the disk (or a removal) go to the pool, in one job.
        var found = [CacheEntry?](repeating: nil, count: keys.count)
        var pending: [Int] = []
        for (index, key) in keys.enumerated() {
            switch store.entryWithoutWaiting(forKey: key, now: now) {
            case .found(let entry): found[index] = entry
            case .usePool: pending.append(index)
            }
        }
        if pending.isEmpty { return found }
        let pendingKeys = pending.map { keys[$0] }
        let read = try await threadPool.runIfRoom { () throws(CacheError) -> [CacheEntry?] in
            var read: [CacheEntry?] = []
            read.reserveCapacity(pendingKeys.count)
            for key in pendingKeys { read.append(try store.entry(forKey: key, now: now)) }
            return read
        }
        for (slot, index) in pending.enumerated() { found[index] = read[slot] }
        return found
    }

    /// Refuses a value over ``maxValueSize`` before anything is written, so the old value stays.
    private func checkSize(_ entry: CacheEntry, key: String) throws(CacheError) {
        guard entry.bytes.count > maxValueSize else { return }
        throw CacheError(
            .valueTooLarge,
            "The value for key '\(key)' is \(entry.bytes.count) bytes, over the file cache's limit of \(maxValueSize) (OPTIONS MAX_VALUE_SIZE); nothing was written and the old value is kept",
            key: key)
    }

    public func store(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws {
        try checkSize(entry, key: key)
        let (store, now, limits) = (fileStore, now, limits)
        try await threadPool.runIfRoom { () throws(CacheError) in
            try store.store(entry, forKey: key, expiry: expiry, limits: limits, now: now)
        }
    }

    public func storeIfAbsent(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry) async throws -> Bool {
        try checkSize(entry, key: key)
        let (store, now, limits) = (fileStore, now, limits)
        return try await threadPool.runIfRoom { () throws(CacheError) -> Bool in
            try store.storeIfAbsent(entry, forKey: key, expiry: expiry, limits: limits, now: now)
        }
    }

    public func compareAndStore(
        _ entry: CacheEntry, forKey key: String, expiry: CacheExpiry, expected: CacheEntry?
    ) async throws -> Bool {
        try checkSize(entry, key: key)
        let (store, now, limits) = (fileStore, now, limits)
        return try await threadPool.runIfRoom { () throws(CacheError) -> Bool in
            try store.compareAndStore(entry, forKey: key, expiry: expiry, expected: expected, limits: limits, now: now)
        }
    }

    public func store(_ entries: [(key: String, entry: CacheEntry)], expiry: CacheExpiry) async throws -> [String] {
        for (key, entry) in entries { try checkSize(entry, key: key) }
        let (store, now, limits) = (fileStore, now, limits)
        let pairs = entries.map { KeyedEntry(key: $0.key, entry: $0.entry) }
        try await threadPool.runIfRoom { () throws(CacheError) in
            for pair in pairs {
                try store.store(pair.entry, forKey: pair.key, expiry: expiry, limits: limits, now: now)
            }
        }
        return []
    }

    public func removeEntry(forKey key: String) async throws -> Bool {
        let (store, now) = (fileStore, now)
        return try await threadPool.runIfRoom { () throws(CacheError) -> Bool in
            try store.removeEntry(forKey: key, now: now)
        }
    }

    public func removeEntries(forKeys keys: [String]) async throws {
        let (store, now) = (fileStore, now)
        try await threadPool.runIfRoom { () throws(CacheError) in
            for key in keys { _ = try store.removeEntry(forKey: key, now: now) }
        }
    }

    public func updateExpiry(forKey key: String, to expiry: CacheExpiry) async throws -> Bool {
        let (store, now) = (fileStore, now)
        return try await threadPool.runIfRoom { () throws(CacheError) -> Bool in
            try store.updateExpiry(forKey: key, to: expiry, now: now)
        }
    }

    public func increment(entryForKey key: String, by delta: Int) async throws -> Int {
        let (store, now) = (fileStore, now)
        return try await threadPool.runIfRoom { () throws(CacheError) -> Int in
            try store.increment(key, by: delta, now: now)
        }
    }

    public func clear() async throws {
        let store = fileStore
        try await threadPool.runIfRoom { () throws(CacheError) in try store.clear() }
    }

    /// Closes the directory's lock files (every backend of this process on the directory
    /// shares them); the next write opens them again.
    public func shutdown() async throws {
        let store = fileStore
        await threadPool.run { store.closeLocks() }
    }
}

/// A key and an entry, `Sendable` as one value for a many-operation's single hop.
private struct KeyedEntry: Sendable {
    var key: String
    var entry: CacheEntry
}
