// `LifecycleProbe sqlite-disk-full DIRECTORY`: the SQLite disk-full fault test's child.
//
// DIRECTORY is a small tmpfs that the test mounted in a mount namespace of this process's own
// (so the kernel itself answers ENOSPC, and the mount is gone when the process exits). The
// probe writes a cache entry and a revocation, fills the file system, tries to write more
// through both, checks that nothing written before is lost, frees the space and checks that
// both write again without being reopened. It prints one `name=value` line per step.
import Caching
import CachingSQLite
import CachingTesting
import TokenRevocation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes `path` until the file system refuses; returns the bytes written, or the errno text
/// of a refusal other than ENOSPC.
func fillFileSystem(_ path: String) -> Result<Int, ProbeFailure> {
    let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard descriptor >= 0 else { return .failure(ProbeFailure("open \(path): \(String(cString: strerror(errno)))")) }
    defer { close(descriptor) }
    let chunk = [UInt8](repeating: 0x5A, count: 16 * 1024)
    var total = 0
    while true {
        let written = chunk.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        if written > 0 {
            total += written
            continue
        }
        if written < 0 && errno == EINTR { continue }
        if written < 0 && errno == ENOSPC { return .success(total) }
        return .failure(ProbeFailure("write \(path) after \(total) bytes: \(String(cString: strerror(errno)))"))
    }
}

struct ProbeFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func describe(_ error: any Error) -> String {
    if let error = error as? CacheError { return "\(error.code): \(error.message)" }
    if let error = error as? RevocationError { return "\(error.code): \(error.message)" }
    return "\(error)"
}

func sqliteDiskFull(directory: String) async throws -> [String] {
    var report: [String] = []
    let cachePath = directory + "/cache.sqlite3"
    let revocationPath = directory + "/revocations.sqlite3"
    let cache = try Cache.sqlite(table: "t", options: SQLiteOptions(database: cachePath))
    let revocation = try DatabaseRevocation(sqlite: SQLiteOptions(database: revocationPath))
    try await cache.set("kept", "value")
    try await revocation.revoke("revoked-before", ttl: .seconds(3600))

    switch fillFileSystem(directory + "/filler") {
    case .success(let bytes): report.append("filled=\(bytes > 0)")
    case .failure(let failure): report.append("filled=\(failure)")
    }

    // A value larger than anything the write-ahead log holds so far: it must grow a file.
    let big = String(repeating: "x", count: 256 * 1024)
    do {
        try await cache.set("big", big)
        report.append("set-big=ok")
    } catch {
        report.append("set-big=\(describe(error))")
    }
    report.append("get-kept=\(try await cache.get("kept", as: String.self) ?? "nil")")
    report.append("get-big=\(try await cache.get("big", as: String.self).map { "\($0.count)" } ?? "nil")")

    // Logouts until one is refused: each one that returned must be durable, the refused one
    // must have said so.
    var accepted: [String] = []
    var refused: String?
    for index in 0..<5_000 {
        let jti = "logout-\(index)-" + String(repeating: "j", count: 120)
        do {
            try await revocation.revoke(jti, ttl: .seconds(3600))
            accepted.append(jti)
        } catch {
            report.append("revoke=\(describe(error))")
            refused = jti
            break
        }
    }
    if refused == nil { report.append("revoke=never refused") }
    report.append("accepted-lost=\(try await lost(accepted, revocation))")
    report.append("revoked-before=\(try await revocation.isRevoked("revoked-before"))")
    if let refused { report.append("refused-revoked=\(try await revocation.isRevoked(refused))") }
    report.append("unknown-revoked=\(try await revocation.isRevoked("never-revoked"))")

    // Space again: both write without being reopened.
    unlink(directory + "/filler")
    do {
        try await cache.set("big", big)
        report.append("after-set-big=\(try await cache.get("big", as: String.self)?.count ?? -1)")
    } catch {
        report.append("after-set-big=\(describe(error))")
    }
    if let refused {
        do {
            try await revocation.revoke(refused, ttl: .seconds(3600))
            report.append("after-revoke=\(try await revocation.isRevoked(refused))")
        } catch {
            report.append("after-revoke=\(describe(error))")
        }
    }
    try await cache.shutdown()
    await revocation.shutdown()
    for (name, path) in [("cache", cachePath), ("revocations", revocationPath)] {
        let check = try await runProgram("/usr/bin/sqlite3", [path, "PRAGMA integrity_check"], allowFailure: true)
        report.append("integrity-\(name)=\(check)")
    }
    return report
}

/// How many of `jtis` the store no longer reports revoked.
func lost(_ jtis: [String], _ revocation: DatabaseRevocation) async throws -> Int {
    var count = 0
    for jti in jtis where !(try await revocation.isRevoked(jti)) { count += 1 }
    return count
}
