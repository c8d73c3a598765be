import Caching
import CachingTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import LogoutServerApp
import NIOCore
import Testing
import TokenAuth

/// What the request path reads and writes by hand: the `Authorization` header without
/// `HTTPFields`' joining subscript, and JSON bodies without `JSONEncoder`.
@Suite("LogoutServer request path")
struct ResponseBodyTests {
    /// Claims that need every kind of JSON escape come back, through `GET /profile`, as a JSON
    /// parser reads them: quotes, backslashes, control characters, non-ASCII text.
    @Test("profile bodies escape what JSON requires and keep the rest byte for byte")
    func escaping() async throws {
        let clock = ManualCacheClock(start: SystemCacheClock().now().rounded(.down))
        let subject = "quote\" back\\slash nl\n cr\r tab\t bs\u{08} ff\u{0C} nul\u{00} us\u{1F} é 🦆 del\u{7F} /"
        let permissions = ["plain", "a\"b", "c\\d", "\u{01}", ""]
        let token = try Token.create(
            sub: subject, isStaff: true, permissions: permissions, type: .access, clock: clock
        ).encode(secret: ServerConfiguration.developmentSecret)
        // No revocation store: a store refuses ids with spaces or control characters (they
        // cannot be cache keys), and this test is about the body, not the store.
        try await RouterClient.run(["--revocation", "none"], clock: clock) { server in
            let reply = try await server.request("GET", "/profile", token: token)
            #expect(reply.status == 200)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(reply.text.utf8)) as? [String: Any])
            #expect(object["user_id"] as? String == subject)
            #expect(object["permissions"] as? [String] == permissions)
            #expect((object["is_staff"] as? NSNumber)?.boolValue == true)
            #expect((object["is_admin"] as? NSNumber)?.boolValue == false)
            // Control characters are escaped, never sent raw.
            #expect(!reply.text.utf8.contains(where: { $0 < 0x20 }))
            #expect(reply.text.contains(#"nul\u0000 us\u001f"#))
            #expect(reply.text.contains(#"quote\" back\\slash nl\n cr\r tab\t bs\b ff\f"#))
        }
    }

    /// One `Authorization` header is read as it is; two are joined as `HTTPFields` joins them,
    /// which is no bearer token, so the request is refused as before.
    @Test("two Authorization headers are refused; one is read as sent")
    func authorizationHeaders() async throws {
        try await RouterClient.run { server in
            let (access, _) = try await server.login()
            var headers = HTTPFields()
            headers[.authorization] = "Bearer \(access)"
            var response = try await server.client.executeRequest(uri: "/profile", method: .get, headers: headers, body: nil)
            #expect(response.status == .ok)

            headers[values: .authorization] = ["Bearer \(access)", "Bearer \(access)"]
            response = try await server.client.executeRequest(uri: "/profile", method: .get, headers: headers, body: nil)
            #expect(response.status == .unauthorized)
            let body = String(buffer: response.body)
            #expect(body.contains(#""error":"malformed""#))

            // The scheme is case-insensitive and the token starts after exactly one space.
            headers = [.authorization: "bEaReR \(access)"]
            response = try await server.client.executeRequest(uri: "/profile", method: .get, headers: headers, body: nil)
            #expect(response.status == .ok)
            headers = [.authorization: "Bearer  \(access)"]
            response = try await server.client.executeRequest(uri: "/profile", method: .get, headers: headers, body: nil)
            #expect(response.status == .unauthorized)
        }
    }
}
