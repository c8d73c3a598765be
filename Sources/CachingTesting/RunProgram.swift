import Foundation
import Testing

/// Runs a program on a thread of its own (never blocking a cooperative thread) and returns
/// its standard output without the final newline.
///
/// Tests use it to drive a raw client beside a cache (the `sqlite3` shell, `psql`, a Python
/// peer). Unless `allowFailure` is set, an exit status other than 0 is recorded as a test
/// issue naming the program, its arguments and what it printed.
///
/// - Parameters:
///   - path: The executable's path.
///   - arguments: Its arguments.
///   - environment: Its environment, or `nil` for this process's.
///   - allowFailure: Whether a non-zero exit status is expected.
/// - Returns: The standard output, less one trailing newline.
/// - Throws: What `Process.run()` throws when the program cannot be started.
public func runProgram(
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

/// The path of an executable of this package built beside the running test bundle, such as a
/// probe a test runs as a child process.
///
/// - Parameter name: The executable product's name.
/// - Returns: Its path.
/// - Throws: `CocoaError.fileNoSuchFile` saying to run `swift build --build-tests` when it is
///   not there.
public func builtExecutable(_ name: String) throws -> String {
    let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    var directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = directory.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        directory.deleteLastPathComponent()
    }
    throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "\(name) not built; run `swift build --build-tests`"])
}
