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
        var response = JSONBody.response(status) { object in
            object.member("detail", detail)
            object.member("error", code)
            object.member("request_id", requestID)
        }
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

/// A response body the API writes as one JSON object, with ``JSONObjectWriter``.
protocol JSONResponse: Sendable {
    /// Writes the object's members, keys in sorted order.
    func write(to object: inout JSONObjectWriter)
}

/// Writes one flat JSON object: string, boolean, integer and string-array members, strings
/// escaped as RFC 8259 requires. What the API answers is small and fixed in shape, so
/// Foundation's `JSONEncoder` (reflection over `Encodable`, a dictionary per container, an
/// encoder per response) was a tenth of the server's time for `GET /profile`; this writes the
/// bytes directly.
///
/// The bytes go to an array and into a `ByteBuffer` once, at ``finish()``: each write into a
/// `ByteBuffer` checks its capacity, its storage's uniqueness and (from this module) exclusive
/// access to that storage, which for the dozen small writes of a body cost more than the one
/// copy.
struct JSONObjectWriter {
    private var bytes: [UInt8] = []
    private var isEmpty = true

    /// Starts an object in a buffer of about `capacity` bytes.
    init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
        bytes.append(UInt8(ascii: "{"))
    }

    /// Writes `"key":"value"`.
    mutating func member(_ key: StaticString, _ value: String) {
        writeKey(key)
        writeString(value)
    }

    /// Writes `"key":true` or `"key":false`.
    mutating func member(_ key: StaticString, _ value: Bool) {
        writeKey(key)
        write(value ? "true" : "false")
    }

    /// Writes `"key":123`.
    mutating func member(_ key: StaticString, _ value: Int) {
        writeKey(key)
        bytes.append(contentsOf: String(value).utf8)
    }

    /// Writes `"key":["a","b"]`.
    mutating func member(_ key: StaticString, _ values: [String]) {
        writeKey(key)
        bytes.append(UInt8(ascii: "["))
        for (offset, value) in values.enumerated() {
            if offset > 0 { bytes.append(UInt8(ascii: ",")) }
            writeString(value)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// Closes the object and returns its bytes.
    consuming func finish() -> ByteBuffer {
        bytes.append(UInt8(ascii: "}"))
        return JSONBody.allocator.buffer(bytes: bytes)
    }

    private mutating func write(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Keys are the API's own literals: plain ASCII, nothing to escape.
    private mutating func writeKey(_ key: StaticString) {
        if !isEmpty { bytes.append(UInt8(ascii: ",")) }
        isEmpty = false
        bytes.append(UInt8(ascii: "\""))
        write(key)
        write("\":")
    }

    private mutating func writeString(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            if utf8.allSatisfy({ $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
                bytes.append(contentsOf: utf8)
            } else {
                for byte in utf8 { writeEscaped(byte) }
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func writeEscaped(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""): write("\\\"")
        case UInt8(ascii: "\\"): write("\\\\")
        case 0x0A: write("\\n")
        case 0x0D: write("\\r")
        case 0x09: write("\\t")
        case 0x08: write("\\b")
        case 0x0C: write("\\f")
        case 0x00..<0x20:
            write("\\u00")
            bytes.append(byte >> 4 + UInt8(ascii: "0"))
            let low = byte & 0x0F
            bytes.append(low < 10 ? low + UInt8(ascii: "0") : low - 10 + UInt8(ascii: "a"))
        default: bytes.append(byte)
        }
    }
}

/// JSON encoding and decoding for the API.
enum JSONBody {
    /// The largest request body accepted (16 KiB); larger ones get 413.
    static let maxBodySize = 16 * 1024

    /// Where response buffers come from.
    static let allocator = ByteBufferAllocator()

    /// The headers of every JSON answer, made once.
    static let headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]

    /// A response whose body is `value` as a JSON object.
    static func response(_ status: HTTPResponse.Status, _ value: some JSONResponse) -> Response {
        var object = JSONObjectWriter()
        value.write(to: &object)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: object.finish()))
    }

    /// A response whose body is the JSON object `write` writes.
    static func response(_ status: HTTPResponse.Status, _ write: (inout JSONObjectWriter) -> Void) -> Response {
        var object = JSONObjectWriter()
        write(&object)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: object.finish()))
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
