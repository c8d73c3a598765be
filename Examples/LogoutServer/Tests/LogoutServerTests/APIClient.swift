import Foundation

/// What a test sends the server through: a router in this process (``RouterClient``) or a
/// server process over HTTP (``ServerProcess``).
protocol APIClient: Sendable {
    /// Sends a request; `token` becomes `Authorization: Bearer <token>`, `authorization` is sent as is.
    func request(
        _ method: String, _ path: String, token: String?, authorization: String?, body: String?, bodyData: Data?
    ) async throws -> Reply
}

extension APIClient {
    func request(
        _ method: String, _ path: String, token: String? = nil, authorization: String? = nil, body: String? = nil,
        bodyData: Data? = nil
    ) async throws -> Reply {
        try await request(method, path, token: token, authorization: authorization, body: body, bodyData: bodyData)
    }

    /// Logs in and returns (access, refresh).
    func login(_ username: String = "alice", _ password: String = "wonderland") async throws -> (String, String) {
        let reply = try await request("POST", "/auth/login", body: #"{"username": "\#(username)", "password": "\#(password)"}"#)
        guard reply.status == 200, let access = reply["access_token"], let refresh = reply["refresh_token"] else {
            throw ServerTestError("login failed: \(reply.status) \(reply.text)")
        }
        return (access, refresh)
    }

    /// `POST /auth/refresh` with a refresh token.
    func refresh(_ token: String) async throws -> Reply {
        try await request("POST", "/auth/refresh", body: #"{"refresh_token": "\#(token)"}"#)
    }
}

/// An HTTP answer: status, headers (lower-cased names), the body as text and as a JSON object.
struct Reply: Sendable {
    var status: Int
    var json: [String: any Sendable]
    var headers: [String: String]
    var text: String
    subscript(_ key: String) -> String? { json[key] as? String }

    init(status: Int, headers: [String: String], body: Data) {
        self.status = status
        self.headers = headers
        let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
        json = object.mapValues { SendableValue.wrap($0) }
        text = String(decoding: body, as: UTF8.self)
    }
}

/// JSON values as Sendable.
enum SendableValue {
    static func wrap(_ value: Any) -> any Sendable {
        switch value {
        case let string as String: return string
        case let number as NSNumber: return number.doubleValue
        case let array as [Any]: return array.map { "\($0)" }
        default: return "\(value)"
        }
    }
}

struct ServerTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
