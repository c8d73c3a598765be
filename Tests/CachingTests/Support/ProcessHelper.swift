import Foundation
import Testing

/// The `FileCacheProcessHelper` executable, built next to the test bundle by `swift test`.
func helperPath() throws -> String {
    let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    var directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
    // The test bundle may sit inside a `.xctest` directory (on Darwin); walk up to the build folder.
    for _ in 0..<4 {
        let candidate = directory.appendingPathComponent("FileCacheProcessHelper").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        directory.deleteLastPathComponent()
    }
    throw HelperError(message: "FileCacheProcessHelper was not found near \(executable); run `swift build --build-tests` first")
}

struct HelperError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// A started child process running the helper.
final class HelperProcess: Sendable {
    private let process: Process
    private let output: Pipe

    init(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try helperPath())
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        self.process = process
        self.output = output
    }

    /// A child still running when its test ends (a failed expectation threw) is stopped, so
    /// it does not go on writing into a removed directory.
    deinit {
        if process.isRunning { process.terminate() }
    }

    /// Waits for the child to exit (on a thread of its own, not the cooperative pool) and
    /// returns its standard output, trimmed.
    func finish() async throws -> String {
        let (process, output) = (self.process, self.output)
        let text: String = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let data = output.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(returning: String(decoding: data, as: UTF8.self))
            }
        }
        guard process.terminationStatus == 0 else {
            throw HelperError(message: "FileCacheProcessHelper exited with status \(process.terminationStatus): \(text)")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Runs the helper to completion and returns its output.
func runHelper(_ arguments: [String]) async throws -> String {
    try await HelperProcess(arguments).finish()
}
