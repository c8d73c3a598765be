// A SQLite VFS over the default one whose reads never wait for the disk: SQLite's cache reads
// can then run on a caller's thread (a Swift task) and give up instead of blocking it.
//
// Each file keeps the default VFS's own file object for everything; reads of the main database
// and its WAL go to that object's descriptor directly (see `borrowed_descriptor`). While waiting is not allowed on the
// calling thread (the default), a read is `preadv2(..., RWF_NOWAIT)`: only data already in the
// page cache is copied; anything else is SQLITE_IOERR_READ, the statement fails, and the caller
// runs it again on a thread that may wait. Sleeps (SQLite's retry back-off) return at once, and
// opening, deleting or probing paths is refused, so a statement on a caller's thread either
// answers from memory or fails fast. Threads that may wait (the backend's own) read through the
// default VFS as usual.
#define _GNU_SOURCE
#include "swift_caching_sqlite_nowait.h"

#include <sqlite3.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#if defined(__linux__) && defined(RWF_NOWAIT)
#define NOWAIT_SUPPORTED 1
#else
#define NOWAIT_SUPPORTED 0
#endif

static _Thread_local int waiting_allowed = 0;
static atomic_int available = NOWAIT_SUPPORTED;
static atomic_ullong refused_reads = 0;
static atomic_ullong strict_path_calls = 0;
static atomic_ullong strict_sleeps = 0;

void swift_caching_nowait_allow_waiting(int allowed) { waiting_allowed = allowed; }
int swift_caching_nowait_available(void) { return atomic_load(&available); }
unsigned long long swift_caching_nowait_refused_reads(void) { return atomic_load(&refused_reads); }
unsigned long long swift_caching_nowait_strict_path_calls(void) { return atomic_load(&strict_path_calls); }
unsigned long long swift_caching_nowait_strict_sleeps(void) { return atomic_load(&strict_sleeps); }

#if NOWAIT_SUPPORTED

static sqlite3_vfs *base_vfs;
static sqlite3_vfs nowait_vfs;
static int register_result = SQLITE_ERROR;
static pthread_once_t register_once = PTHREAD_ONCE_INIT;

typedef struct NoWaitFile {
    sqlite3_file base;  // base.pMethods = &nowait_methods
    sqlite3_file *real;  // the default VFS's file object, stored right after this header
    int fd;  // the real file's descriptor, borrowed (never closed here), or -1
} NoWaitFile;

// The first fields of the unix VFS's `unixFile`, unchanged since SQLite 3.7: its methods, its
// VFS, its inode record, then the descriptor.
typedef struct UnixFilePrefix {
    const sqlite3_io_methods *methods;
    sqlite3_vfs *vfs;
    void *inode;
    int descriptor;
} UnixFilePrefix;

// The descriptor the unix VFS opened for `name`, or -1. A descriptor of our own would be wrong:
// closing any descriptor of a file drops every POSIX lock this process holds on it, which
// SQLite's locking relies on. The borrowed one is checked against the path (same device and
// inode), so a different layout of the unix VFS's file object only turns the fast path off.
static int borrowed_descriptor(sqlite3_file *real, const char *name) {
    if (strcmp(base_vfs->zName, "unix") != 0) return -1;
    int candidate = ((const UnixFilePrefix *)real)->descriptor;
    struct stat by_name, by_descriptor;
    if (candidate < 0 || stat(name, &by_name) != 0 || fstat(candidate, &by_descriptor) != 0) return -1;
    if (by_name.st_dev != by_descriptor.st_dev || by_name.st_ino != by_descriptor.st_ino) return -1;
    return candidate;
}

#define HEADER_SIZE ((int)((sizeof(NoWaitFile) + 7) & ~(size_t)7))
#define REAL(file) (((NoWaitFile *)(file))->real)

static int refuse_read(void) {
    atomic_fetch_add(&refused_reads, 1);
    return SQLITE_IOERR_READ;
}

static int nowait_read(sqlite3_file *file, void *buffer, int amount, sqlite3_int64 offset) {
    NoWaitFile *self = (NoWaitFile *)file;
    if (waiting_allowed) return self->real->pMethods->xRead(self->real, buffer, amount, offset);
    if (self->fd < 0 || !atomic_load(&available)) return refuse_read();
    struct iovec vector = {.iov_base = buffer, .iov_len = (size_t)amount};
    ssize_t count = preadv2(self->fd, &vector, 1, offset, RWF_NOWAIT);
    if (count == amount) return SQLITE_OK;
    if (count < 0) {
        if (errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL) atomic_store(&available, 0);
        return refuse_read();
    }
    // Short: the end of the file (SQLite's rule: zero the rest and say so), or a partial read
    // that stopped at a page not in memory (refused).
    struct stat status;
    if (fstat(self->fd, &status) == 0 && offset + count >= status.st_size) {
        memset((char *)buffer + count, 0, (size_t)(amount - count));
        return SQLITE_IOERR_SHORT_READ;
    }
    return refuse_read();
}

static int nowait_close(sqlite3_file *file) {
    NoWaitFile *self = (NoWaitFile *)file;
    self->fd = -1;
    return self->real->pMethods->xClose(self->real);
}

static int nowait_write(sqlite3_file *file, const void *data, int amount, sqlite3_int64 offset) {
    return REAL(file)->pMethods->xWrite(REAL(file), data, amount, offset);
}
static int nowait_truncate(sqlite3_file *file, sqlite3_int64 size) {
    return REAL(file)->pMethods->xTruncate(REAL(file), size);
}
static int nowait_sync(sqlite3_file *file, int flags) { return REAL(file)->pMethods->xSync(REAL(file), flags); }
static int nowait_file_size(sqlite3_file *file, sqlite3_int64 *size) {
    return REAL(file)->pMethods->xFileSize(REAL(file), size);
}
static int nowait_lock(sqlite3_file *file, int level) { return REAL(file)->pMethods->xLock(REAL(file), level); }
static int nowait_unlock(sqlite3_file *file, int level) { return REAL(file)->pMethods->xUnlock(REAL(file), level); }
static int nowait_check_reserved_lock(sqlite3_file *file, int *result) {
    return REAL(file)->pMethods->xCheckReservedLock(REAL(file), result);
}
static int nowait_file_control(sqlite3_file *file, int op, void *argument) {
    return REAL(file)->pMethods->xFileControl(REAL(file), op, argument);
}
static int nowait_sector_size(sqlite3_file *file) { return REAL(file)->pMethods->xSectorSize(REAL(file)); }
static int nowait_device_characteristics(sqlite3_file *file) {
    return REAL(file)->pMethods->xDeviceCharacteristics(REAL(file));
}
static int nowait_shm_map(sqlite3_file *file, int page, int size, int extend, void volatile **mapped) {
    if (REAL(file)->pMethods->iVersion < 2) return SQLITE_IOERR_SHMMAP;
    return REAL(file)->pMethods->xShmMap(REAL(file), page, size, extend, mapped);
}
static int nowait_shm_lock(sqlite3_file *file, int offset, int count, int flags) {
    if (REAL(file)->pMethods->iVersion < 2) return SQLITE_IOERR_SHMLOCK;
    return REAL(file)->pMethods->xShmLock(REAL(file), offset, count, flags);
}
static void nowait_shm_barrier(sqlite3_file *file) {
    if (REAL(file)->pMethods->iVersion >= 2) REAL(file)->pMethods->xShmBarrier(REAL(file));
}
static int nowait_shm_unmap(sqlite3_file *file, int delete_flag) {
    if (REAL(file)->pMethods->iVersion < 2) return SQLITE_OK;
    return REAL(file)->pMethods->xShmUnmap(REAL(file), delete_flag);
}
// No memory-mapped pages: every page comes through nowait_read.
static int nowait_fetch(sqlite3_file *file, sqlite3_int64 offset, int amount, void **pages) {
    (void)file;
    (void)offset;
    (void)amount;
    *pages = 0;
    return SQLITE_OK;
}
static int nowait_unfetch(sqlite3_file *file, sqlite3_int64 offset, void *pages) {
    (void)file;
    (void)offset;
    (void)pages;
    return SQLITE_OK;
}

static const sqlite3_io_methods nowait_methods = {
    3,
    nowait_close,
    nowait_read,
    nowait_write,
    nowait_truncate,
    nowait_sync,
    nowait_file_size,
    nowait_lock,
    nowait_unlock,
    nowait_check_reserved_lock,
    nowait_file_control,
    nowait_sector_size,
    nowait_device_characteristics,
    nowait_shm_map,
    nowait_shm_lock,
    nowait_shm_barrier,
    nowait_shm_unmap,
    nowait_fetch,
    nowait_unfetch,
};

static int strict_refusal(void) {
    atomic_fetch_add(&strict_path_calls, 1);
    return SQLITE_IOERR_ACCESS;
}

static int nowait_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags, int *out_flags) {
    (void)vfs;
    NoWaitFile *self = (NoWaitFile *)file;
    self->base.pMethods = 0;
    self->real = (sqlite3_file *)((char *)file + HEADER_SIZE);
    self->fd = -1;
    if (!waiting_allowed) {
        atomic_fetch_add(&strict_path_calls, 1);
        return SQLITE_CANTOPEN;
    }
    int result = base_vfs->xOpen(base_vfs, name, self->real, flags, out_flags);
    if (result != SQLITE_OK) {
        if (self->real->pMethods) self->real->pMethods->xClose(self->real);
        return result;
    }
    if (name && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL))) self->fd = borrowed_descriptor(self->real, name);
    self->base.pMethods = &nowait_methods;
    return SQLITE_OK;
}

static int nowait_delete(sqlite3_vfs *vfs, const char *name, int sync_directory) {
    (void)vfs;
    if (!waiting_allowed) return strict_refusal();
    return base_vfs->xDelete(base_vfs, name, sync_directory);
}
static int nowait_access(sqlite3_vfs *vfs, const char *name, int flags, int *result) {
    (void)vfs;
    if (!waiting_allowed) return strict_refusal();
    return base_vfs->xAccess(base_vfs, name, flags, result);
}
static int nowait_full_pathname(sqlite3_vfs *vfs, const char *name, int size, char *out) {
    (void)vfs;
    return base_vfs->xFullPathname(base_vfs, name, size, out);
}
static void *nowait_dl_open(sqlite3_vfs *vfs, const char *name) {
    (void)vfs;
    return base_vfs->xDlOpen(base_vfs, name);
}
static void nowait_dl_error(sqlite3_vfs *vfs, int size, char *message) {
    (void)vfs;
    base_vfs->xDlError(base_vfs, size, message);
}
static void (*nowait_dl_sym(sqlite3_vfs *vfs, void *library, const char *symbol))(void) {
    (void)vfs;
    return base_vfs->xDlSym(base_vfs, library, symbol);
}
static void nowait_dl_close(sqlite3_vfs *vfs, void *library) {
    (void)vfs;
    base_vfs->xDlClose(base_vfs, library);
}
static int nowait_randomness(sqlite3_vfs *vfs, int size, char *out) {
    (void)vfs;
    return base_vfs->xRandomness(base_vfs, size, out);
}
static int nowait_sleep(sqlite3_vfs *vfs, int microseconds) {
    (void)vfs;
    if (!waiting_allowed) {
        atomic_fetch_add(&strict_sleeps, 1);
        return 0;
    }
    return base_vfs->xSleep(base_vfs, microseconds);
}
static int nowait_current_time(sqlite3_vfs *vfs, double *now) {
    (void)vfs;
    return base_vfs->xCurrentTime(base_vfs, now);
}
static int nowait_last_error(sqlite3_vfs *vfs, int size, char *message) {
    (void)vfs;
    return base_vfs->xGetLastError ? base_vfs->xGetLastError(base_vfs, size, message) : 0;
}
static int nowait_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *now) {
    (void)vfs;
    return base_vfs->xCurrentTimeInt64(base_vfs, now);
}

static void register_vfs(void) {
    base_vfs = sqlite3_vfs_find(0);
    if (!base_vfs || base_vfs->iVersion < 2 || !base_vfs->xCurrentTimeInt64) {
        register_result = SQLITE_NOTFOUND;
        return;
    }
    memset(&nowait_vfs, 0, sizeof nowait_vfs);
    nowait_vfs.iVersion = 2;
    nowait_vfs.szOsFile = HEADER_SIZE + base_vfs->szOsFile;
    nowait_vfs.mxPathname = base_vfs->mxPathname;
    nowait_vfs.zName = SWIFT_CACHING_NOWAIT_VFS;
    nowait_vfs.xOpen = nowait_open;
    nowait_vfs.xDelete = nowait_delete;
    nowait_vfs.xAccess = nowait_access;
    nowait_vfs.xFullPathname = nowait_full_pathname;
    nowait_vfs.xDlOpen = nowait_dl_open;
    nowait_vfs.xDlError = nowait_dl_error;
    nowait_vfs.xDlSym = nowait_dl_sym;
    nowait_vfs.xDlClose = nowait_dl_close;
    nowait_vfs.xRandomness = nowait_randomness;
    nowait_vfs.xSleep = nowait_sleep;
    nowait_vfs.xCurrentTime = nowait_current_time;
    nowait_vfs.xGetLastError = nowait_last_error;
    nowait_vfs.xCurrentTimeInt64 = nowait_current_time_int64;
    register_result = sqlite3_vfs_register(&nowait_vfs, 0);
}

int swift_caching_nowait_register(void) {
    pthread_once(&register_once, register_vfs);
    return register_result;
}

#else

int swift_caching_nowait_register(void) { return SQLITE_NOTFOUND; }

#endif
