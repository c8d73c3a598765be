import Foundation
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A LogoutServer process started by a test on a free loopback port, and an HTTP client for it.
final class ServerProcess: APIClient, @unchecked Sendable {
    let process: Process
    let port: Int
    private let output: Pipe
    private let errors: Pipe
    private let logged = Mutex("")

    /// The server binary, built next to this test bundle by `swift test`.
    static var binary: String {
        let bundle = URL(fileURLWithPath: CommandLine.arguments.first ?? "").deletingLastPathComponent()
        let candidates = [
            bundle.appendingPathComponent("LogoutServer").path,
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent(".build/debug/LogoutServer").path,
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[1]
    }

    /// Starts a server and waits (at most 30 s) until it says which port it listens on.
    static func start(_ arguments: [String] = [], environment: [String: String] = [:]) async throws -> ServerProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--port", "0", "--host", "127.0.0.1"] + arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let line = try await readLine(from: output, containing: "listening on http://", process: process, errors: errors)
        guard let portText = line.split(separator: ":").last, let port = Int(portText.trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            process.terminate()
            throw ServerTestError("could not read the port from '\(line)'")
        }
        return ServerProcess(process: process, port: port, output: output, errors: errors)
    }

    /// Runs the server with arguments that should make it fail at start-up; returns its exit code and stderr.
    static func runExpectingFailure(_ arguments: [String], environment: [String: String] = [:]) async throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--port", "0"] + arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = Pipe()
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning, Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning {
            process.terminate()
            throw ServerTestError("the server kept running with \(arguments)")
        }
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.terminationStatus, text)
    }

    private init(process: Process, port: Int, output: Pipe, errors: Pipe) {
        self.process = process
        self.port = port
        self.output = output
        self.errors = errors
        // Drain both pipes for as long as the server runs: a full pipe would block its logging,
        // and a test reads what it logged (`log`).
        for pipe in [output, errors] {
            let handle = pipe.fileHandleForReading
            Thread.detachNewThread { [self] in
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty { return }
                    self.logged.withLock { $0 += String(decoding: chunk, as: UTF8.self) }
                }
            }
        }
    }

    /// What the server wrote to standard output and standard error since it started listening.
    var log: String { logged.withLock { $0 } }

    private static func readLine(from pipe: Pipe, containing marker: String, process: Process, errors: Pipe) async throws -> String {
        let handle = pipe.fileHandleForReading
        let deadline = Date().addingTimeInterval(30)
        var buffer = ""
        while Date() < deadline {
            // A blocking read, kept off Swift concurrency's threads.
            let chunk = await withCheckedContinuation { continuation in
                DispatchQueue.global().async { continuation.resume(returning: handle.availableData) }
            }
            if chunk.isEmpty {
                if !process.isRunning {
                    let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                    throw ServerTestError("the server exited with \(process.terminationStatus) before listening: \(text)")
                }
                continue
            }
            buffer += String(decoding: chunk, as: UTF8.self)
            if let line = buffer.split(separator: "\n").first(where: { $0.contains(marker) }) { return String(line) }
        }
        process.terminate()
        throw ServerTestError("the server did not start listening within 30 s; output: \(buffer)")
    }

    /// Stops the server with SIGTERM and waits for it to exit.
    func stop() async {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning, Date() < deadline { try? await Task.sleep(for: .milliseconds(10)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    var exitStatus: Int32? { process.isRunning ? nil : process.terminationStatus }

    // MARK: HTTP

    func request(
        _ method: String, _ path: String, token: String?, authorization: String?, body: String?, bodyData: Data?
    ) async throws -> Reply {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.timeoutInterval = 20
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let authorization { request.setValue(authorization, forHTTPHeaderField: "Authorization") }
        if let body { request.httpBody = Data(body.utf8) }
        if let bodyData { request.httpBody = bodyData }
        if request.httpBody != nil { request.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        var headers: [String: String] = [:]
        for (key, value) in http.allHeaderFields { headers["\(key)".lowercased()] = "\(value)" }
        return Reply(status: http.statusCode, headers: headers, body: data)
    }
}
