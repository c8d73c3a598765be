public import Hummingbird
import NIOCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// An error the API answers with: a status and a JSON body `{"error": code, "detail": message}`.
public struct APIError: Error, Sendable, HTTPResponseError {
    public var status: HTTPResponse.Status
    public var code: String
    public var detail: String
    public var extraHeaders: HTTPFields

    public init(_ status: HTTPResponse.Status, _ code: String, _ detail: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.detail = detail
        self.extraHeaders = headers
    }

    public var headers: HTTPFields { extraHeaders }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = JSONBody.response(status, ["error": code, "detail": detail])
        for field in extraHeaders { response.headers.append(field) }
        return response
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
            throw APIError(.contentTooLarge, "body_too_large", "The request body is larger than \(maxBodySize) bytes")
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
            throw APIError(.badRequest, "malformed_body", "The body is not valid JSON")
        }
    }
}

extension Data {
    init(buffer: ByteBuffer) {
        self = buffer.withUnsafeReadableBytes { Data($0) }
    }
}
