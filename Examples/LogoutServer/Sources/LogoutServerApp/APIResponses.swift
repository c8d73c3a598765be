public import Hummingbird
import Logging
import NIOCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// An error the API answers with: a status and a JSON body
/// `{"error": code, "detail": message, "request_id": id}`.
///
/// The body says only what a client may know: a stable snake_case code, a generic sentence and
/// the request id. What happened inside (the underlying error: a memcached address, a key
/// layout, a file path) goes to the server's log, in the request's logger whose metadata
/// carries the same id (`hb.request.id`), so an operator finds the cause from the id a user
/// reports. Server errors (5xx) are logged as errors; client errors that carry a cause, at
/// info level.
public struct APIError: Error, Sendable, HTTPResponseError {
    public var status: HTTPResponse.Status
    /// A stable snake_case code a client can switch on.
    public var code: String
    /// A generic sentence for the client; never internal details.
    public var detail: String
    public var extraHeaders: HTTPFields
    /// The cause, for the log only.
    public var underlying: (any Error)?

    /// Creates an error answer.
    ///
    /// - Parameters:
    ///   - status: The HTTP status.
    ///   - code: The stable code of the body's `error`.
    ///   - detail: The generic message of the body's `detail`.
    ///   - headers: Headers to add (`Retry-After`, `WWW-Authenticate`).
    ///   - underlying: The cause, logged with the request id and never sent.
    public init(
        _ status: HTTPResponse.Status, _ code: String, _ detail: String, headers: HTTPFields = [:], underlying: (any Error)? = nil
    ) {
        self.status = status
        self.code = code
        self.detail = detail
        self.extraHeaders = headers
        self.underlying = underlying
    }

    public var headers: HTTPFields { extraHeaders }

    /// The key of the request id in a request logger's metadata, set by Hummingbird.
    static let requestIDKey = "hb.request.id"

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let requestID = context.logger[metadataKey: Self.requestIDKey]?.description ?? "unknown"
        var metadata: Logger.Metadata = [
            "http.status": "\(status.code)", "error.code": "\(code)", "http.method": "\(request.method)",
            "http.path": "\(request.uri.path)",
        ]
        if let underlying { metadata["error.underlying"] = "\(underlying)" }
        if status.code >= 500 {
            context.logger.error("Request failed: \(code)", metadata: metadata)
        } else if underlying != nil {
            context.logger.info("Request refused: \(code)", metadata: metadata)
        }
        var response = JSONBody.response(status, ["error": code, "detail": detail, "request_id": requestID])
        for field in extraHeaders { response.headers.append(field) }
        return response
    }
}

/// Turns every error a route or a middleware throws into an ``APIError``, so that every error
/// body has a code, a generic message and the request id, and the cause is logged: Hummingbird's
/// own errors (404 for an unknown route, 405) keep their status with a generic message; any
/// other error is a 500 `internal_error`.
///
/// Add it to the router before anything else, so that it wraps every route.
public struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as any HTTPResponseError {
            let (code, detail) = Self.generic(error.status)
            throw APIError(error.status, code, detail, underlying: error)
        } catch {
            throw APIError(
                .internalServerError, "internal_error", "The server could not answer this request; try again later",
                underlying: error)
        }
    }

    /// A code and a message for a status, saying nothing of the cause.
    static func generic(_ status: HTTPResponse.Status) -> (String, String) {
        switch status {
        case .notFound: ("not_found", "No such resource")
        case .methodNotAllowed: ("method_not_allowed", "This method is not allowed here")
        case .contentTooLarge: ("body_too_large", "The request body is too large")
        case .unauthorized: ("unauthorized", "Authentication is required")
        case .badRequest: ("bad_request", "The request is malformed")
        default:
            status.code >= 500
                ? ("internal_error", "The server could not answer this request; try again later")
                : ("http_\(status.code)", status.reasonPhrase)
        }
    }
}

/// JSON encoding and decoding for the API.
enum JSONBody {
    /// The largest request body accepted (16 KiB); larger ones get 413.
    static let maxBodySize = 16 * 1024

    static func response(_ status: HTTPResponse.Status, _ value: some Encodable) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data(#"{"error":"internal","detail":"response encoding failed"}"#.utf8)
        return Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Decodes a JSON request body, answering 413 for an enormous body and 400 for anything
    /// that is not the expected JSON object.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxBodySize)
        } catch {
            throw APIError(
                .contentTooLarge, "body_too_large", "The request body is larger than \(maxBodySize) bytes", underlying: error)
        }
        guard buffer.readableBytes > 0 else {
            throw APIError(.badRequest, "malformed_body", "The request needs a JSON body")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer: buffer))
        } catch DecodingError.keyNotFound(let key, _) {
            throw APIError(.badRequest, "malformed_body", "The JSON body lacks the field '\(key.stringValue)'")
        } catch DecodingError.typeMismatch(_, let context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw APIError(.badRequest, "malformed_body", "The field '\(field)' has the wrong type")
        } catch DecodingError.valueNotFound(_, let context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw APIError(.badRequest, "malformed_body", "The field '\(field)' must not be null")
        } catch {
            throw APIError(.badRequest, "malformed_body", "The body is not valid JSON", underlying: error)
        }
    }
}

extension Data {
    init(buffer: ByteBuffer) {
        self = buffer.withUnsafeReadableBytes { Data($0) }
    }
}
