import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The blocking work behind ``FileCache``: one directory, its lock shards and an in-process
/// estimate of how many cache files it holds.
///
/// Every method blocks and is called from a ``BlockingThreadPool`` job, except
/// `entryWithoutWaiting(forKey:now:)` (see ``FileCacheNoWait``), which never waits for the
/// disk. Caches of this process that name the same directory share one store.
///
/// **Concurrency.** Readers take no lock: a file only ever appears whole (written to a
/// temporary file, then renamed), and the only in-place write is `touch`'s 16-byte expiry
/// field, which carries its own complement so a half-done one is detected and read again.
/// Every writer of a cache file (set, add, incr, touch, delete, and removing an expired or
/// corrupt file) holds the key's shard lock while it looks at and replaces the file, so add
/// and incr are atomic across threads and processes, and a reader removing an expired file
/// never removes a fresh one that replaced it (it checks again under the lock).
///
/// **Counting and culling.** Django lists the directory before every `set`. Here the store
/// keeps an estimate: one scan on first use, +1 when this process creates a file, −1 when it
/// removes one. A write looks at the directory only when the estimate says a cull may be due
/// (the estimate is at `MAX_ENTRIES`; then a `stat` of the target tells an existing key, which
/// never culls, from a new one, which scans) or when this process has created
/// `max(1, MAX_ENTRIES / 2)` files since its last scan. Other processes' files are not seen
/// between scans, so the periodic scan bounds how far the directory can overshoot:
/// each other writing process adds at most about `MAX_ENTRIES / 2` files before this one
/// looks again, and every process culls when its own scan finds the directory full.
/// A cull removes expired (and corrupt) files first; if the directory is then still full it
/// removes `count / CULL_FREQUENCY` of the rest, oldest modification time first (least
/// recently written; reads do not change a file), as Django's rule counts them.
final class FileCacheStore: Sendable {
    let directory: String
    private let directoryPrefix: String
    /// `directoryPrefix` as bytes, for paths built without a `String`.
    private let directoryPrefixBytes: [UInt8]
    private let locks: [FileCacheLock]
    private let census = Mutex(Census())
    private let tempCounter = Atomic<UInt64>(0)
    /// The largest value any backend on this directory stores; files larger than an entry with
    /// such a value (and a generous key) are not read.
    private let valueLimit = Atomic<Int>(0)
    /// Whether reads are tried on the calling thread first (off once this directory's file
    /// system refuses `RWF_NOWAIT`; see ``FileCacheNoWait``).
    let noWaitReads = Atomic<Bool>(true)

    /// Raises the largest value this directory's files may hold (backends on one directory may
    /// differ; the largest wins, so none of them finds another's entries unreadable).
    func allowValues(upTo bytes: Int) {
        var current = valueLimit.load(ordering: .relaxed)
        while bytes > current {
            let (exchanged, original) = valueLimit.compareExchange(expected: current, desired: bytes, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }

    /// The largest cache file worth reading: the header, a key of up to 64 KiB, and the largest value.
    var maxFileSize: Int { FileCacheFormat.headerSize + 65_536 + valueLimit.load(ordering: .relaxed) }

    private struct Census {
        var count: Int?
        var createsSinceScan = 0
        /// With ``CacheFullPolicy/refuse``: when the directory was last found full of live files,
        /// none of them expires before this time.
        var noExpiryBefore = -Double.infinity
    }

    /// A registry entry: the store while some backend holds it, so the registry never keeps
    /// a store (and its lock files' descriptors) alive by itself.
    private struct WeakStore: @unchecked Sendable {
        weak var store: FileCacheStore?
    }

    private static let registry = Mutex<[String: WeakStore]>([:])

    /// The store for a directory, shared by every backend of this process that names it while
    /// one of them is alive.
    static func shared(directory: String) -> FileCacheStore {
        registry.withLock { stores in
            if let store = stores[directory]?.store { return store }
            // Drop entries whose stores are gone, so the registry stays as small as the live set.
            stores = stores.filter { $0.value.store != nil }
            let store = FileCacheStore(directory: directory)
            stores[directory] = WeakStore(store: store)
            return store
        }
    }

    /// The number of directories with a live store in this process (for tests).
    static var liveStoreCount: Int {
        registry.withLock { stores in stores.values.count(where: { $0.store != nil }) }
    }

    /// Closes every lock file's descriptor; the next locked operation opens it again.
    func closeLocks() {
        for lock in locks { lock.closeDescriptor() }
    }

    private init(directory: String) {
        self.directory = directory
        self.directoryPrefix = directory + "/"
        self.directoryPrefixBytes = Array((directory + "/").utf8)
        self.locks = (0..<FileCacheFormat.lockShards).map { shard in
            FileCacheLock(path: directory + "/" + FileCacheFormat.lockPrefix + String(shard, radix: 16))
        }
    }

    // MARK: Errors

    static func failure(_ operation: String, _ path: String, _ code: Int32, key: String? = nil) -> CacheError {
        CacheError(
            .storageFailure,
            "FileCache could not \(operation) '\(path)': \(String(cString: strerror(code))) (errno \(code)); check that the cache directory (LOCATION) is a directory this process can write",
            key: key, underlying: FileIOError(operation: operation, path: path, errno: code))
    }

    // MARK: Paths

    func path(ofFile name: String) -> String { directory + "/" + name }

    /// A cache file: its name in the directory, its path and its lock shard.
    struct CacheFile {
        var name: String
        var path: String
        var shard: Int
    }

    /// The file for a made key, its name and path built in one pass each (this runs on every operation).
    func file(forKey key: String) -> CacheFile {
        let (high, low) = FileCacheFormat.fnv1a128(key.utf8)
        let name = FileCacheFormat.fileName(high: high, low: low)
        return CacheFile(name: name, path: directoryPrefix + name, shard: FileCacheFormat.shard(low: low))
    }

    /// Calls `body` with the NUL-terminated path of a made key's file, built on the stack.
    func withFilePath<T>(forKey key: String, _ body: (UnsafePointer<CChar>) -> T) -> T {
        let (high, low) = FileCacheFormat.fnv1a128(key.utf8)
        let prefixCount = directoryPrefixBytes.count
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: prefixCount + FileCacheFormat.fileNameLength + 1) {
            buffer in
            let start = buffer.baseAddress!
            directoryPrefixBytes.withUnsafeBufferPointer { start.update(from: $0.baseAddress!, count: prefixCount) }
            let nameCount = FileCacheFormat.writeFileName(high: high, low: low, into: start + prefixCount)
            start[prefixCount + nameCount] = 0
            return UnsafeRawPointer(start).withMemoryRebound(to: CChar.self, capacity: buffer.count) { body($0) }
        }
    }

    /// The file for a name found in the directory.
    func file(named name: String) -> CacheFile {
        CacheFile(name: name, path: directoryPrefix + name, shard: FileCacheFormat.shard(ofFileName: name))
    }

    private func locked<T>(_ file: CacheFile, _ body: () throws(CacheError) -> T) throws(CacheError) -> T {
        try locks[file.shard].withLock(createDirectory: createDirectory, body)
    }

    /// Creates the directory and any missing parents, mode 0700.
    func createDirectory() throws(CacheError) {
        try Self.makeDirectories(directory)
    }

    /// Refuses a cache directory another user could tamper with: a symbolic link, a directory
    /// this process's user does not own, or one writable by others (or by its group, unless the
    /// group is trusted). Whoever can write to the directory can delete or plant entries — such
    /// as the revocations that keep a logged-out token out.
    static func checkDirectory(_ path: String, trustGroup: Bool, alias: String) throws(CacheError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw failure("stat the cache directory", path, errno) }
        let place = "CACHES[\"\(alias)\"][\"LOCATION\"] '\(path)'"
        if (info.st_mode & S_IFMT) == S_IFLNK {
            throw CacheError(
                .invalidSettings, "\(place) is a symbolic link; give the directory's real path, so nobody can point it elsewhere")
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR else { throw failure("create the cache directory", path, ENOTDIR) }
        guard info.st_uid == geteuid() else {
            throw CacheError(
                .invalidSettings,
                "\(place) belongs to uid \(info.st_uid), not to this process's user (uid \(geteuid())); another user could remove or plant entries. Use a directory of this user's"
            )
        }
        let mode = info.st_mode & 0o777
        let forbidden: mode_t = trustGroup ? 0o002 : 0o022
        guard mode & forbidden == 0 else {
            let who = mode & 0o002 != 0 ? "every user" : "its group"
            throw CacheError(
                .invalidSettings,
                "\(place) is writable by \(who) (mode \(String(mode, radix: 8))), who could remove or plant entries; chmod it to 0700\(trustGroup ? "" : ", or set OPTIONS[\"SHARED_GROUP\"] to true to trust its group")"
            )
        }
    }

    static func makeDirectories(_ path: String) throws(CacheError) {
        if mkdir(path, 0o700) == 0 { return }
        var code = errno
        if code == EEXIST {
            var info = stat()
            if stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR { return }
            throw failure("create the cache directory", path, ENOTDIR)
        }
        if code == ENOENT {
            var parent = path
            while parent.count > 1, parent.hasSuffix("/") { parent.removeLast() }
            if let slash = parent.lastIndex(of: "/"), slash != parent.startIndex {
                try makeDirectories(String(parent[..<slash]))
                if mkdir(path, 0o700) == 0 { return }
                code = errno
                if code == EEXIST { return try makeDirectories(path) }
            }
        }
        throw failure("create the cache directory", path, code)
    }

    // MARK: Reading

    /// What is stored under a key's file.
    enum Lookup {
        case missing
        case live(CacheEntry, CacheExpiry)
        case expired
        case otherKey
        case corrupt
    }

    /// Looks a key up.
    ///
    /// A torn expiry (a `touch` caught half-way) is read again, up to three times; a file that
    /// looks corrupt is read again once with a strict read, to be sure before it is removed.
    func lookup(_ key: String, file: CacheFile, now: Double) throws(CacheError) -> Lookup {
        let path = file.path
        var attempt = 0
        while true {
            attempt += 1
            let bytes: [UInt8]
            switch try Self.readFile(path, key: key, strict: attempt > 1, maxFileSize: maxFileSize) {
            case .missing: return .missing
            case .hostile: return .corrupt  // a miss, removed by the caller where it can be
            case .bytes(let read): bytes = read
            }
            let decoded = bytes.withUnsafeBytes { FileCacheFormat.decode($0, key: key) }
            switch decoded {
            case .entry(let entry, let expiry):
                return expiry.isExpired(at: now) ? .expired : .live(entry, expiry)
            case .otherKey:
                return .otherKey
            case .tornExpiry:
                if attempt >= 3 { return .corrupt }
            case .corrupt:
                if attempt >= 2 { return .corrupt }
            }
        }
    }

    /// What reading a cache file's path found.
    enum FileRead {
        /// The file's bytes.
        case bytes([UInt8])
        /// Nothing at the path.
        case missing
        /// Something that is not a cache file: a symbolic link, a FIFO, a device, a socket, a
        /// directory, a file of another user, or a file larger than any entry can be. Never read.
        case hostile(String)
    }

    /// Opens and reads a cache file without trusting what sits at its path: never through a
    /// symbolic link, never blocking (a FIFO), only a regular file of this user's no larger than
    /// `maxFileSize`, read with a bounded buffer.
    ///
    /// A non-strict read takes the first short `read` as the end of the file (true of regular
    /// files on local file systems) to save a system call; a strict one reads until `read` returns 0.
    static func readFile(_ path: String, key: String?, strict: Bool, maxFileSize: Int) throws(CacheError) -> FileRead {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard descriptor >= 0 else {
            let code = errno
            switch code {
            case ENOENT: return .missing
            case ELOOP: return .hostile("a symbolic link")
            case ENXIO: return .hostile("a socket or device")
            default: throw failure("open", path, code, key: key)
            }
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw failure("stat", path, errno, key: key) }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: return .hostile("a directory")
        case S_IFIFO: return .hostile("a FIFO")
        default: return .hostile("not a regular file")
        }
        guard info.st_uid == geteuid() else { return .hostile("a file of another user (uid \(info.st_uid))") }
        guard Int(info.st_size) <= maxFileSize else {
            return .hostile("\(info.st_size) bytes, larger than any entry (\(maxFileSize))")
        }
        var capacity = min(16384, maxFileSize + 1)
        while true {
            var readError: Int32 = 0
            var complete = false
            let bytes = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
                var filled = 0
                while filled < capacity {
                    let wanted = capacity - filled
                    let got = read(descriptor, buffer.baseAddress! + filled, wanted)
                    if got < 0 {
                        if errno == EINTR { continue }
                        readError = errno
                        break
                    }
                    filled += got
                    if got == 0 || (!strict && got < wanted) {
                        complete = true
                        break
                    }
                }
                count = filled
            }
            if readError != 0 { throw Self.failure("read", path, readError, key: key) }
            if complete { return .bytes(bytes) }
            // Larger than the buffer: read it again from the start with room for all of it, but
            // never more than an entry can be (a file that grows while read is not ours).
            guard capacity <= maxFileSize else { return .hostile("larger than any entry (\(maxFileSize) bytes)") }
            var info = stat()
            let size = fstat(descriptor, &info) == 0 ? Int(info.st_size) : 0
            capacity = min(max(capacity * 4, size + 1), maxFileSize + 1)
            guard lseek(descriptor, 0, SEEK_SET) == 0 else { throw Self.failure("seek", path, errno, key: key) }
        }
    }

    /// Removes a key's file if, looked at again under the lock, it is still expired or corrupt.
    ///
    /// - Returns: Whether a file was removed.
    private func reap(_ key: String, file: CacheFile, now: Double) throws(CacheError) -> Bool {
        try locked(file) { () throws(CacheError) -> Bool in
            switch try lookup(key, file: file, now: now) {
            case .expired, .corrupt: return unlinkFile(file)
            case .missing, .live, .otherKey: return false
            }
        }
    }

    private func unlinkFile(_ file: CacheFile) -> Bool {
        unlink(file.path) == 0
    }

    func entry(forKey key: String, now: Double) throws(CacheError) -> CacheEntry? {
        let file = file(forKey: key)
        switch try lookup(key, file: file, now: now) {
        case .live(let entry, _):
            return entry
        case .expired, .corrupt:
            if try reap(key, file: file, now: now) { adjustCount(by: -1) }
            return nil
        case .missing, .otherKey:
            return nil
        }
    }

    // MARK: Writing

    /// Writes bytes to a new temporary file in the directory (created if missing) and returns its path.
    func writeTemporaryFile(_ bytes: [UInt8], key: String) throws(CacheError) -> String {
        var createdDirectory = false
        while true {
            let serial = tempCounter.add(1, ordering: .relaxed).newValue
            let path =
                directory + "/" + FileCacheFormat.tempPrefix
                + "\(getpid())-\(serial)-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
            let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if descriptor < 0 {
                let code = errno
                if code == EEXIST { continue }
                if code == ENOENT, !createdDirectory {
                    try createDirectory()
                    createdDirectory = true
                    continue
                }
                throw Self.failure("create a temporary file in", directory, code, key: key)
            }
            var written = 0
            while written < bytes.count {
                let count = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + written, $0.count - written) }
                if count < 0 {
                    let code = errno
                    if code == EINTR { continue }
                    close(descriptor)
                    unlink(path)
                    throw Self.failure("write", path, code, key: key)
                }
                written += count
            }
            if close(descriptor) != 0 {
                let code = errno
                unlink(path)
                throw Self.failure("close", path, code, key: key)
            }
            return path
        }
    }

    /// How ``install(_:as:key:)`` put a file in place.
    enum Installed {
        /// The key had no file before.
        case created
        /// The key's file was replaced; the old file now has the temporary name (remove it,
        /// preferably after the lock is released).
        case replaced(old: String?)
        /// The temporary file had vanished (a concurrent `clear`, or the directory was deleted).
        case vanished
    }

    /// Puts a temporary file in place of a cache file, atomically.
    ///
    /// On Linux the temporary file and the cache file are swapped with
    /// `renameat2(RENAME_EXCHANGE)` and the old one is removed afterwards: a plain `rename` over
    /// an existing file makes ext4 start writing the new file's data at once
    /// (`auto_da_alloc`), which measured 0.9–1.7 ms per write here against ~50 µs for the swap.
    /// Readers see the old file or the new one either way. Where the swap is not available,
    /// a plain `rename`.
    ///
    /// A temporary file that vanished is not an error: as far as any reader can tell, the
    /// write happened just before the clear.
    private func install(_ temporary: String, as file: CacheFile, key: String) throws(CacheError) -> Installed {
        let destination = file.path
        if let exchange = Self.renameExchange.function {
            // The flag 2 is RENAME_EXCHANGE.
            if exchange(AT_FDCWD, temporary, AT_FDCWD, destination, 2) == 0 {
                // Something that is not a file (a directory) sat at the key's path: put it back
                // and fail as a plain rename would, rather than hide it under a temporary name.
                var displaced = stat()
                if lstat(temporary, &displaced) == 0, (displaced.st_mode & S_IFMT) == S_IFDIR {
                    _ = exchange(AT_FDCWD, temporary, AT_FDCWD, destination, 2)
                    unlink(temporary)
                    throw Self.failure("replace", destination, EISDIR, key: key)
                }
                if lstat(temporary, &displaced) == 0, (displaced.st_mode & S_IFMT) != S_IFREG {
                    // A planted symbolic link, FIFO or socket: now under the temporary name; remove it.
                    unlink(temporary)
                    return .replaced(old: nil)
                }
                return .replaced(old: temporary)
            }
            let code = errno
            if code != ENOENT, code != EINVAL, code != ENOSYS, code != EOPNOTSUPP {
                unlink(temporary)
                throw Self.failure("swap a temporary file with", destination, code, key: key)
            }
            if code == ENOENT, rename(temporary, destination) == 0 { return .created }
            if code == ENOENT, errno == ENOENT { return .vanished }
        }
        let existed = exists(file)
        if rename(temporary, destination) != 0 {
            let code = errno
            if code == ENOENT { return .vanished }
            unlink(temporary)
            throw Self.failure("rename a temporary file to", destination, code, key: key)
        }
        return existed ? .replaced(old: nil) : .created
    }

    private struct RenameExchange: @unchecked Sendable {
        typealias Function = @convention(c) (Int32, UnsafePointer<CChar>?, Int32, UnsafePointer<CChar>?, UInt32) -> Int32
        let function: Function?
    }

    /// `renameat2`, looked up at run time (Swift's Glibc module does not declare it).
    private static let renameExchange: RenameExchange = {
        #if os(Linux)
            guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "renameat2") else {
                return RenameExchange(function: nil)
            }
            return RenameExchange(function: unsafeBitCast(symbol, to: RenameExchange.Function.self))
        #else
            return RenameExchange(function: nil)
        #endif
    }()

    /// Removes the file an install displaced, and counts a created file.
    private func finish(_ installed: Installed) {
        switch installed {
        case .created: noteCreated()
        case .replaced(let old?): unlink(old)
        case .replaced(nil), .vanished: break
        }
    }

    private func exists(_ file: CacheFile) -> Bool {
        var info = stat()
        return lstat(file.path, &info) == 0
    }

    func store(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry, limits: CullLimits, now: Double) throws(CacheError) {
        let file = file(forKey: key)
        try cullIfDue(beforeWriting: file, key: key, limits: limits, now: now)
        let temporary = try writeTemporaryFile(FileCacheFormat.encode(key: key, entry: entry, expiry: expiry), key: key)
        finish(try locked(file) { () throws(CacheError) -> Installed in try install(temporary, as: file, key: key) })
    }

    func storeIfAbsent(_ entry: CacheEntry, forKey key: String, expiry: CacheExpiry, limits: CullLimits, now: Double) throws(CacheError)
        -> Bool
    {
        let file = file(forKey: key)
        // A live entry seen without the lock is a linearizable "no": skip writing a file.
        if case .live = try lookup(key, file: file, now: now) { return false }
        try cullIfDue(beforeWriting: file, key: key, limits: limits, now: now)
        let temporary = try writeTemporaryFile(FileCacheFormat.encode(key: key, entry: entry, expiry: expiry), key: key)
        let outcome: Installed?
        do {
            outcome = try locked(file) { () throws(CacheError) -> Installed? in
                if case .live = try lookup(key, file: file, now: now) { return nil }
                return try install(temporary, as: file, key: key)
            }
        } catch {
            unlink(temporary)
            throw error
        }
        guard let outcome else {
            unlink(temporary)
            return false
        }
        finish(outcome)
        return true
    }

    func compareAndStore(
        _ entry: CacheEntry, forKey key: String, expiry: CacheExpiry, expected: CacheEntry?, limits: CullLimits, now: Double
    ) throws(CacheError) -> Bool {
        let file = file(forKey: key)
        if expected == nil { try cullIfDue(beforeWriting: file, key: key, limits: limits, now: now) }
        let temporary = try writeTemporaryFile(FileCacheFormat.encode(key: key, entry: entry, expiry: expiry), key: key)
        var removed = false
        let outcome: Installed?
        do {
            outcome = try locked(file) { () throws(CacheError) -> Installed? in
                let current: CacheEntry?
                switch try lookup(key, file: file, now: now) {
                case .live(let entry, _): current = entry
                case .missing, .otherKey: current = nil
                case .expired, .corrupt:
                    removed = unlinkFile(file)
                    current = nil
                }
                guard current == expected else { return nil }
                return try install(temporary, as: file, key: key)
            }
        } catch {
            unlink(temporary)
            if removed { adjustCount(by: -1) }
            throw error
        }
        if removed { adjustCount(by: -1) }
        guard let outcome else {
            unlink(temporary)
            return false
        }
        finish(outcome)
        return true
    }

    func increment(_ key: String, by delta: Int, now: Double) throws(CacheError) -> Int {
        let file = file(forKey: key)
        var removed = false
        var installed: Installed?
        defer {
            if removed { adjustCount(by: -1) }
            if let installed { finish(installed) }
        }
        return try locked(file) { () throws(CacheError) -> Int in
            switch try lookup(key, file: file, now: now) {
            case .missing, .otherKey:
                throw CacheError.keyNotFound(key)
            case .expired, .corrupt:
                removed = unlinkFile(file)
                throw CacheError.keyNotFound(key)
            case .live(let entry, let expiry):
                guard let value = entry.integerValue else { throw CacheError.notAnInteger(key, flags: entry.flags) }
                let result = try DjangoDefaults.increment(value, by: delta, key: key)
                let temporary = try writeTemporaryFile(
                    FileCacheFormat.encode(key: key, entry: .integer(result), expiry: expiry), key: key)
                installed = try install(temporary, as: file, key: key)
                return result
            }
        }
    }

    func updateExpiry(forKey key: String, to expiry: CacheExpiry, now: Double) throws(CacheError) -> Bool {
        let file = file(forKey: key)
        var removed = false
        defer { if removed { adjustCount(by: -1) } }
        return try locked(file) { () throws(CacheError) -> Bool in
            switch try lookup(key, file: file, now: now) {
            case .missing, .otherKey:
                return false
            case .expired, .corrupt:
                removed = unlinkFile(file)
                return false
            case .live:
                let path = file.path
                let descriptor = open(path, O_WRONLY | O_CLOEXEC)
                guard descriptor >= 0 else { throw Self.failure("open", path, errno, key: key) }
                defer { close(descriptor) }
                let field = FileCacheFormat.expiryField(expiry)
                let written = field.withUnsafeBytes {
                    pwrite(descriptor, $0.baseAddress!, $0.count, off_t(FileCacheFormat.expiryOffset))
                }
                guard written == field.count else { throw Self.failure("write the expiry of", path, errno, key: key) }
                return true
            }
        }
    }

    func removeEntry(forKey key: String, now: Double) throws(CacheError) -> Bool {
        let file = file(forKey: key)
        var removed = false
        defer { if removed { adjustCount(by: -1) } }
        return try locked(file) { () throws(CacheError) -> Bool in
            switch try lookup(key, file: file, now: now) {
            case .missing, .otherKey:
                return false
            case .expired, .corrupt:
                removed = unlinkFile(file)
                return false
            case .live:
                removed = unlinkFile(file)
                return removed
            }
        }
    }

    /// Removes every cache file and every temporary file; other files and the directory stay.
    func clear() throws(CacheError) {
        try census.withLock { (census: inout Census) throws(CacheError) in
            for name in try listDirectory()
            where FileCacheFormat.isCacheFileName(name) || FileCacheFormat.isTempFileName(name)
                || FileCacheFormat.isLegacyFileName(name)
            {
                unlink(path(ofFile: name))
            }
            census = Census(count: 0, createsSinceScan: 0)
        }
    }

    // MARK: Counting and culling

    /// The names in the directory (empty when it does not exist).
    func listDirectory() throws(CacheError) -> [String] {
        guard let stream = opendir(directory) else {
            let code = errno
            if code == ENOENT { return [] }
            throw Self.failure("list", directory, code)
        }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: entry.pointee.d_name)) {
                    String(cString: $0)
                }
            }
            names.append(name)
        }
        return names
    }

    /// The number of cache files in the directory now (a scan), expired ones included.
    func countFiles() throws(CacheError) -> Int {
        try listDirectory().count(where: FileCacheFormat.isCacheFileName)
    }

    private func noteCreated() {
        census.withLock { census in
            if let count = census.count { census.count = count + 1 }
            census.createsSinceScan += 1
        }
    }

    private func adjustCount(by delta: Int) {
        census.withLock { census in
            if let count = census.count { census.count = max(0, count + delta) }
        }
    }

    /// Django's cull, run before a write: when the directory holds `MAX_ENTRIES` files or more
    /// and `name` is a new key, removes files (see the type's discussion).
    private func cullIfDue(beforeWriting file: CacheFile, key: String, limits: CullLimits, now: Double) throws(CacheError) {
        try census.withLock { (census: inout Census) throws(CacheError) in
            let resyncDue = census.createsSinceScan >= max(1, limits.maxEntries / 2)
            if let count = census.count, !resyncDue {
                if count < limits.maxEntries { return }
                // At capacity: an existing key never culls, and costs one stat to tell.
                if exists(file) { return }
            }
            if limits.whenFull == .refuse, let count = census.count, count >= limits.maxEntries, now < census.noExpiryBefore {
                // Full of live files a moment ago, none of which can have expired since.
                throw limits.fullError(key, store: "file cache '\(directory)'")
            }
            let files = try listDirectory().filter(FileCacheFormat.isCacheFileName)
            census.createsSinceScan = 0
            guard files.count >= limits.maxEntries, !files.contains(file.name) else {
                census.count = files.count
                return
            }
            switch limits.whenFull {
            case .cull:
                census.count = try cull(files, limits: limits, now: now)
            case .refuse:
                let (left, earliest) = try reclaim(files, now: now)
                census.count = left
                guard left >= limits.maxEntries else { return }
                // Another process may remove files at any time: look again within a second.
                census.noExpiryBefore = min(earliest, now + 1)
                throw limits.fullError(key, store: "file cache '\(directory)'")
            }
        }
    }

    /// Removes expired and corrupt files, and nothing else.
    ///
    /// - Returns: The number of cache files left and the earliest expiry among them.
    private func reclaim(_ files: [String], now: Double) throws(CacheError) -> (left: Int, earliestExpiry: Double) {
        var left = files.count
        var earliest = Double.infinity
        for name in files {
            switch inspect(name, now: now) {
            case .gone:
                left -= 1
            case .live(_, let expiry):
                if let expiry, expiry < earliest { earliest = expiry }
            case .removable:
                if try reapIfStillRemovable(name, now: now) { left -= 1 }
            }
        }
        return (left, earliest)
    }

    /// Removes expired and corrupt files, then, if still full, `count / cullFrequency` files
    /// with the oldest modification times (`cullFrequency` 0: every file).
    ///
    /// - Returns: The number of cache files left.
    private func cull(_ files: [String], limits: CullLimits, now: Double) throws(CacheError) -> Int {
        if limits.cullFrequency == 0 {
            var left = files.count
            for name in files where unlinkFile(file(named: name)) { left -= 1 }
            return left
        }
        var left = files.count
        var live: [(name: String, modified: Double)] = []
        live.reserveCapacity(files.count)
        for name in files {
            switch inspect(name, now: now) {
            case .gone:
                left -= 1
            case .live(let modified, _):
                live.append((name, modified))
            case .removable:
                if try reapIfStillRemovable(name, now: now) { left -= 1 } else { live.append((name, 0)) }
            }
        }
        guard left >= limits.maxEntries else { return left }
        live.sort { $0.modified != $1.modified ? $0.modified < $1.modified : $0.name < $1.name }
        for victim in live.prefix(left / limits.cullFrequency) where unlinkFile(file(named: victim.name)) {
            left -= 1
        }
        return left
    }

    private enum Inspection {
        case gone
        /// Live, with its modification time and its deadline (`nil`: never expires, or unknown).
        case live(modified: Double, expiry: Double?)
        case removable
    }

    /// Reads only a file's header: expired or not ours (removable), live (with its mtime), or gone.
    private func inspect(_ name: String, now: Double) -> Inspection {
        let path = path(ofFile: name)
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard descriptor >= 0 else {
            switch errno {
            case ENOENT: return .gone
            case ELOOP, ENXIO: return .removable  // a symbolic link or a socket under a cache file's name
            default: return .live(modified: 0, expiry: nil)
            }
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return .live(modified: 0, expiry: nil) }
        guard (info.st_mode & S_IFMT) == S_IFREG, info.st_uid == geteuid(), Int(info.st_size) <= maxFileSize else {
            return (info.st_mode & S_IFMT) == S_IFDIR ? .live(modified: 0, expiry: nil) : .removable
        }
        var header = [UInt8](repeating: 0, count: FileCacheFormat.headerSize)
        let count = header.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress!, $0.count, 0) }
        guard count == FileCacheFormat.headerSize,
            let parsed = header.withUnsafeBytes({ FileCacheFormat.header($0) }),
            Int(info.st_size) == parsed.totalLength
        else { return .removable }
        if let expiry = parsed.expiry, expiry.isExpired(at: now) { return .removable }
        #if canImport(Darwin)
            let modified = Double(info.st_mtimespec.tv_sec) + Double(info.st_mtimespec.tv_nsec) / 1e9
        #else
            let modified = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
        #endif
        var deadline: Double?
        if case .at(let at)? = parsed.expiry { deadline = at }
        return .live(modified: modified, expiry: deadline)
    }

    private func reapIfStillRemovable(_ name: String, now: Double) throws(CacheError) -> Bool {
        let file = file(named: name)
        return try locked(file) { () -> Bool in
            if case .removable = inspect(name, now: now) { return unlinkFile(file) }
            return false
        }
    }
}
