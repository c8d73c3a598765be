#ifndef SWIFT_CACHING_SQLITE_NOWAIT_H
#define SWIFT_CACHING_SQLITE_NOWAIT_H

/// The name the no-wait VFS is registered under (never the default VFS).
#define SWIFT_CACHING_NOWAIT_VFS "swift-caching-nowait"

/// Registers the no-wait VFS over SQLite's default VFS, once per process. Returns SQLITE_OK,
/// or SQLITE_NOTFOUND where the platform cannot read without waiting (anything but Linux).
int swift_caching_nowait_register(void);

/// Whether SQLite calls on this thread may wait (read from the disk, sleep, open files): 1 on
/// the backend's own threads while they open or warm a connection, 0 (the default) elsewhere.
void swift_caching_nowait_allow_waiting(int allowed);

/// Whether reads can still be served without waiting: 0 once the kernel or file system has
/// refused RWF_NOWAIT itself (EOPNOTSUPP, ENOSYS, EINVAL), so callers stop trying.
int swift_caching_nowait_available(void);

/// Counters since the process started, for tests: reads refused because the data was not in
/// memory (or the read would otherwise wait), and calls that would have had to wait or touch
/// a path (open, access, delete, sleep) made while waiting was not allowed.
unsigned long long swift_caching_nowait_refused_reads(void);
unsigned long long swift_caching_nowait_strict_path_calls(void);
unsigned long long swift_caching_nowait_strict_sleeps(void);

#endif
