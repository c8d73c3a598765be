#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A POSIX error with the call and path that failed.
public struct FileIOError: Error, Sendable, CustomStringConvertible {
    /// The failing call, such as `open`.
    public var operation: String
    /// The path it was given.
    public var path: String
    /// `errno`.
    public var errno: Int32

    public var description: String {
        "\(operation) '\(path)' failed: \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// Small blocking POSIX helpers. Callers run them off the cooperative threads.
enum FileIO {
    static func readWholeFile(_ path: String) throws(FileIOError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileIOError(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw FileIOError(operation: "read", path: path, errno: errno)
            }
            if count == 0 { return result }
            result.append(contentsOf: buffer[0..<count])
        }
    }
}
