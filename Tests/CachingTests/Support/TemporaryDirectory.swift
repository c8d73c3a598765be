import Foundation

/// A directory path under `/tmp` unique to one test; not created (the cache creates it).
struct TemporaryDirectory: Sendable {
    let path: String

    init(_ label: String = "swcache-test") {
        path = "/tmp/\(label)-\(getpid())-\(UUID().uuidString.prefix(13))"
    }

    /// Removes the directory and everything in it.
    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
