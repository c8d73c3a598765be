import Caching
import CachingSQLite
import CachingTesting
import Foundation
import Testing

/// The SQLite suites: one at a time with each other (the lifecycle probe counts the process's
/// threads), in parallel with the other targets.
@Suite("SQLite", .serialized)
struct SQLiteTests {}

/// A fresh SQLite file in a temporary directory for one test.
struct SQLiteFixture: Sendable {
    let directory: TemporaryDirectory
    var path: String { directory.path + "/cache.sqlite3" }

    init() {
        directory = TemporaryDirectory("swcache-sqlite")
        try! FileManager.default.createDirectory(atPath: directory.path, withIntermediateDirectories: true)
    }

    func options(_ change: (inout SQLiteOptions) -> Void = { _ in }) -> SQLiteOptions {
        var options = SQLiteOptions(database: path)
        change(&options)
        return options
    }

    /// Runs the `sqlite3` shell on the file (a raw client, to see and plant rows underneath
    /// the cache) and returns its output without the final newline.
    func sqlite3(_ sql: String) async throws -> String {
        try await runProgram("/usr/bin/sqlite3", [path, sql])
    }
}
