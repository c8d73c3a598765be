import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reading a small cache file on the calling thread, only when nothing in the read can wait for
/// the disk (Linux); everything else goes to the thread pool as before.
///
/// A get of a small file through the pool pays two thread wake-ups (the pool thread, then a
/// cooperative thread to resume the task): 12–25 µs here, against 1.3–5 µs for the read itself.
/// Reading on the calling task is only allowed when it cannot block, so every step is one the
/// kernel refuses (with `EAGAIN`) instead of waiting:
///
/// - `openat2(…, RESOLVE_CACHED)` resolves the path from the dentry cache only: a directory
///   entry or inode that would have to be read from the disk is `EAGAIN`, not a disk read
///   (measured cold, `drop_caches` 3: a plain `open`+`read`+`close` took 71 µs median, 4 ms at
///   the 99th percentile, up to 10.6 ms, and slept 2,008 times in 2,000 reads; the refusal
///   took 0.96 µs median, 170 µs worst, and never slept).
///   A concurrent rename in the directory can also make it `EAGAIN`: then the pool reads.
///   A cached negative entry is an authoritative `ENOENT`, a miss without the pool.
/// - The flags are the pool path's (`O_NOFOLLOW | O_NONBLOCK`: never a symbolic link, never a
///   FIFO's wait) plus `O_NOATIME`, so a read never dirties the inode (an atime update would
///   start a journal transaction, which can wait).
/// - `fstat` of an open descriptor reads nothing from the disk; the file must be a regular
///   file of this user no larger than ``onTaskFileLimit`` (and the store's limit).
/// - `preadv2(…, RWF_NOWAIT)` copies from the page cache only: pages not there are `EAGAIN`
///   (and the kernel starts reading them ahead for the pool's read). A short read, or a file
///   that grew since `fstat`, goes to the pool too.
/// - `close` of a descriptor opened for reading writes nothing; the last close of a file a
///   writer unlinked in between frees it (measured: 5 µs median, at most 111 µs of CPU time in
///   2,000, never slept).
///
/// Anything unexpected (a planted symbolic link, FIFO or socket, a foreign or oversized file,
/// a corrupt, torn or expired file, any error) is not handled here: the caller asks the pool,
/// whose path classifies and removes it exactly as before. A kernel without `openat2` or
/// `RESOLVE_CACHED`, or a file system without `RWF_NOWAIT`, turns the fast path off after the
/// first refusal. Elsewhere than Linux the pool does every read.
enum FileCacheNoWait {
    /// The largest file read on the calling thread: larger ones (whose copy and checksum take
    /// longer) are read on the pool, as before.
    static let onTaskFileLimit = 65_536

    /// What a read on the calling thread found.
    enum Read {
        /// The whole file, read from memory.
        case bytes([UInt8])
        /// Nothing at the path (the kernel knew without reading the disk).
        case missing
        /// The read could wait, or something is not as expected: read it on the pool.
        case usePool
        /// The kernel or the file system cannot read without waiting: stop trying.
        case unsupported
    }

    /// Reads a whole file on the calling thread, if that cannot wait for the disk.
    ///
    /// - Parameters:
    ///   - path: The file's absolute path, NUL-terminated.
    ///   - sizeLimit: The largest file read here; a larger one is ``Read/usePool``.
    /// - Returns: What was found.
    static func read(_ path: UnsafePointer<CChar>, sizeLimit: Int) -> Read {
        #if os(Linux) && canImport(Glibc) && (arch(x86_64) || arch(arm64))
            guard let calls = NoWaitCalls.shared, kernelSupports.load(ordering: .relaxed) else { return .usePool }
            let descriptor = calls.openCached(path)
            guard descriptor >= 0 else {
                let code = errno
                switch code {
                case ENOENT:
                    return .missing
                case ENOSYS, EINVAL:
                    // No openat2 (before Linux 5.6, or a seccomp filter), or no RESOLVE_CACHED (before 5.12).
                    kernelSupports.store(false, ordering: .relaxed)
                    return .usePool
                default:
                    return .usePool  // EAGAIN (not cached), ELOOP, ENXIO, EPERM …: the pool decides
                }
            }
            defer { close(descriptor) }
            var info = stat()
            guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_uid == geteuid(),
                info.st_size >= 0, Int(info.st_size) <= sizeLimit
            else { return .usePool }
            let size = Int(info.st_size)
            var got = -1
            var code: Int32 = 0
            // One byte more than the size: a file that grew since fstat is not taken as whole.
            let bytes = [UInt8](unsafeUninitializedCapacity: size + 1) { buffer, count in
                got = calls.readNoWait(descriptor, UnsafeMutableRawPointer(buffer.baseAddress!), size + 1)
                if got < 0 { code = errno }
                count = max(0, got)
            }
            if got == size { return .bytes(bytes) }
            if got < 0, code == EOPNOTSUPP || code == EINVAL { return .unsupported }
            return .usePool  // EAGAIN (pages not in memory), EINTR, a short or long read
        #else
            return .usePool
        #endif
    }

    #if os(Linux) && canImport(Glibc) && (arch(x86_64) || arch(arm64))
        /// Set off when the kernel lacks `openat2` or `RESOLVE_CACHED`.
        private static let kernelSupports = Atomic<Bool>(true)

        /// `openat2` and `preadv2`, which Swift's Glibc module does not declare.
        private struct NoWaitCalls: @unchecked Sendable {
            /// glibc's `syscall`, called with openat2's four arguments. `syscall` is declared
            /// variadic; on x86-64 and arm64 Linux it is a register shuffle written in assembly,
            /// and both pass these integer and pointer arguments in the same registers either way.
            typealias Syscall = @convention(c) (Int, Int32, UnsafePointer<CChar>?, UnsafeRawPointer?, Int) -> Int
            typealias ReadVector = @convention(c) (Int32, UnsafePointer<iovec>?, Int32, off_t, Int32) -> Int

            let syscall: Syscall
            let preadv2: ReadVector

            /// `SYS_openat2`: the same number on x86-64 and arm64 (the shared syscall table).
            static let openat2Number = 437
            /// `RESOLVE_CACHED` (linux/openat2.h).
            static let resolveCached: UInt64 = 0x20
            /// `O_NOATIME` on x86-64 and arm64 (asm-generic/fcntl.h).
            static let noAccessTime: Int32 = 0o1_000_000
            /// `RWF_NOWAIT` (linux/fs.h).
            static let noWait: Int32 = 0x8

            /// `struct open_how`.
            struct OpenHow {
                var flags: UInt64
                var mode: UInt64
                var resolve: UInt64
            }

            static let shared: NoWaitCalls? = {
                guard let handle = dlopen(nil, RTLD_NOW), let syscall = dlsym(handle, "syscall"),
                    let preadv2 = dlsym(handle, "preadv2")
                else { return nil }
                return NoWaitCalls(
                    syscall: unsafeBitCast(syscall, to: Syscall.self), preadv2: unsafeBitCast(preadv2, to: ReadVector.self))
            }()

            /// Opens a file for reading only if its path resolves from the dentry cache.
            func openCached(_ path: UnsafePointer<CChar>) -> Int32 {
                let flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | Self.noAccessTime
                var how = OpenHow(flags: UInt64(UInt32(bitPattern: flags)), mode: 0, resolve: Self.resolveCached)
                let result = withUnsafeBytes(of: &how) {
                    syscall(Self.openat2Number, AT_FDCWD, path, $0.baseAddress, $0.count)
                }
                return result < 0 ? -1 : Int32(truncatingIfNeeded: result)
            }

            /// Reads from offset 0 only what the page cache holds.
            func readNoWait(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
                var vector = iovec(iov_base: buffer, iov_len: count)
                return preadv2(descriptor, &vector, 1, 0, Self.noWait)
            }
        }
    #endif
}

extension FileCacheStore {
    /// What a lookup on the calling thread found.
    enum QuickLookup {
        /// The answer: the live entry, or `nil` for no file or another key's file.
        case found(CacheEntry?)
        /// Ask the pool: the read could wait, or the file needs the pool path's care (expired,
        /// corrupt, torn, planted, too large) or its errors.
        case usePool
    }

    /// Looks a key up on the calling thread when that cannot wait for the disk (see
    /// ``FileCacheNoWait``); never removes, locks or writes anything.
    func entryWithoutWaiting(forKey key: String, now: Double) -> QuickLookup {
        guard noWaitReads.load(ordering: .relaxed) else { return .usePool }
        let sizeLimit = min(maxFileSize, FileCacheNoWait.onTaskFileLimit)
        switch withFilePath(forKey: key, { FileCacheNoWait.read($0, sizeLimit: sizeLimit) }) {
        case .missing:
            return .found(nil)
        case .usePool:
            return .usePool
        case .unsupported:
            noWaitReads.store(false, ordering: .relaxed)
            return .usePool
        case .bytes(let bytes):
            switch FileCacheFormat.decode(taking: bytes, key: key) {
            case .entry(let entry, let expiry):
                return expiry.isExpired(at: now) ? .usePool : .found(entry)
            case .otherKey:
                return .found(nil)
            case .tornExpiry, .corrupt:
                return .usePool
            }
        }
    }
}
