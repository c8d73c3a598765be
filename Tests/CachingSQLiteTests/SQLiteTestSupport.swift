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
        try await runProcess("/usr/bin/sqlite3", [path, sql])
    }
}

/// Runs a program on a thread of its own (never blocking a cooperative thread) and returns
/// its standard output; the exit status must be 0 unless `allowFailure`.
func runProcess(
    _ path: String, _ arguments: [String], environment: [String: String]? = nil, allowFailure: Bool = false
) async throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let output = Pipe()
    process.standardOutput = output
    let errors = Pipe()
    process.standardError = errors
    try process.run()
    let (text, errorText): (String, String) = await withCheckedContinuation { continuation in
        Thread.detachNewThread {
            let group = DispatchGroup()
            nonisolated(unsafe) var errorData = Data()
            group.enter()
            Thread.detachNewThread {
                errorData = errors.fileHandleForReading.readDataToEndOfFile()
                group.leave()
            }
            let data = output.fileHandleForReading.readDataToEndOfFile()
            group.wait()
            process.waitUntilExit()
            continuation.resume(returning: (String(decoding: data, as: UTF8.self), String(decoding: errorData, as: UTF8.self)))
        }
    }
    if !allowFailure {
        #expect(process.terminationStatus == 0, "\(path) \(arguments): \(text) \(errorText)")
    }
    return text.hasSuffix("\n") ? String(text.dropLast()) : text
}

/// The path of a helper executable built next to the test bundle.
func builtExecutable(_ name: String) throws -> String {
    let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    var directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = directory.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        directory.deleteLastPathComponent()
    }
    throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "\(name) not built; run `swift build --build-tests`"])
}
