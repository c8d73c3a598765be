import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// One lock shard of a ``FileCache`` directory: exclusive across the threads of this process
/// (a mutex) and across processes (`flock` on a lock file in the directory).
///
/// `flock` belongs to an open file description, so threads of one process sharing the
/// descriptor would not exclude each other; the mutex does that, and only the thread holding
/// it calls `flock`. The lock file may vanish with the directory (the directory may be deleted
/// at any time): after taking the lock, its path is checked to still name the locked file, and
/// if not the file is opened again, so two processes never hold "the" lock on different files
/// for long.
///
/// Held only inside one blocking job, never across an `await`.
final class FileCacheLock: Sendable {
    private struct State {
        var descriptor: Int32 = -1
        var device: UInt64 = 0
        var inode: UInt64 = 0
    }

    let path: String
    private let state = Mutex(State())

    init(path: String) {
        self.path = path
    }

    deinit {
        closeDescriptor()
    }

    /// Closes the lock file's descriptor if it is open; the next ``withLock(createDirectory:_:)``
    /// opens it again. Waits for a holder of the lock to finish.
    func closeDescriptor() {
        state.withLock { state in
            if state.descriptor >= 0 { close(state.descriptor) }
            state = State()
        }
    }

    /// Runs `body` holding the lock.
    ///
    /// - Parameters:
    ///   - createDirectory: Called when the lock file cannot be created because the directory is gone.
    ///   - body: The critical section.
    func withLock<T>(
        createDirectory: () throws(CacheError) -> Void, _ body: () throws(CacheError) -> T
    ) throws(CacheError) -> T {
        try state.withLock { (state: inout State) throws(CacheError) -> T in
            try acquire(&state, createDirectory: createDirectory)
            defer { _ = flock(state.descriptor, LOCK_UN) }
            return try body()
        }
    }

    private func acquire(_ state: inout State, createDirectory: () throws(CacheError) -> Void) throws(CacheError) {
        var attempts = 0
        while true {
            attempts += 1
            if state.descriptor < 0 {
                // Never through a planted symbolic link (O_NOFOLLOW), never blocking on a planted
                // FIFO (O_NONBLOCK); anything but a regular file of ours is removed and replaced.
                let flags = O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK
                var descriptor = open(path, flags, 0o600)
                if descriptor < 0, errno == ENOENT {
                    try createDirectory()
                    descriptor = open(path, flags, 0o600)
                }
                if descriptor < 0, errno == ELOOP || errno == ENXIO, attempts <= 3 {
                    unlink(path)  // a symbolic link or a socket sat at the lock's path
                    continue
                }
                guard descriptor >= 0 else { throw FileCacheStore.failure("open the lock file", path, errno) }
                var info = stat()
                guard fstat(descriptor, &info) == 0 else {
                    let code = errno
                    close(descriptor)
                    throw FileCacheStore.failure("stat the lock file", path, code)
                }
                guard (info.st_mode & S_IFMT) == S_IFREG, info.st_uid == geteuid() else {
                    close(descriptor)
                    if attempts <= 3 {
                        unlink(path)
                        continue
                    }
                    throw CacheError(
                        .storageFailure,
                        "FileCache's lock file '\(path)' is not a regular file of this user's and cannot be replaced; something keeps planting it"
                    )
                }
                state = State(descriptor: descriptor, device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
            }
            while flock(state.descriptor, LOCK_EX) != 0 {
                guard errno == EINTR else { throw FileCacheStore.failure("lock", path, errno) }
            }
            var current = stat()
            if stat(path, &current) == 0, UInt64(current.st_dev) == state.device, UInt64(current.st_ino) == state.inode {
                return
            }
            // The lock file was removed (with the directory) or replaced: lock the new one.
            _ = flock(state.descriptor, LOCK_UN)
            close(state.descriptor)
            state = State()
            if attempts > 100 {
                throw CacheError(
                    .storageFailure,
                    "FileCache could not hold the lock file '\(path)': it keeps being removed; check that nothing else deletes the cache directory in a loop"
                )
            }
        }
    }
}
