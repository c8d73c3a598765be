/// JWS compact serialization with HMAC (RFC 7515), written for one job: tokens this
/// library or a Django-Bolt/PyJWT peer signed with a shared secret.
///
/// Verification order, each step refusing with its own reason:
/// 1. length within the limit, exactly three segments, each strict base64url;
/// 2. the header is a strict JSON object whose `alg` is a string in the allowed list
///    (`none` and anything else refused), with no `crit` and no `b64`; `kid` is ignored —
///    the key is the configured secret, never one chosen by the token;
/// 3. the signature has the algorithm's length and matches in constant time;
/// 4. only then is the payload handed on (``VerifiedPayload``), for ``Token`` to parse
///    as a strict JSON object.
enum CompactJWS {
    static func sign(payload: [UInt8], algorithm: JWTAlgorithm, key: [UInt8]) -> String {
        var header = JSONWriter()
        header.writeObject([("alg", .string(algorithm.name)), ("typ", "JWT")])
        let signingInput = Base64URL.encode(header.bytes) + "." + Base64URL.encode(payload)
        let signature = algorithm.sign(Array(signingInput.utf8), key: key)
        return signingInput + "." + Base64URL.encode(signature)
    }

    static func verify(
        _ token: String, key: PreparedHMACKey, algorithms: [JWTAlgorithm], maxLength: Int
    ) throws(AuthenticationError) -> VerifiedPayload {
        var token = token
        return try token.withUTF8 { utf8 in
            Result { () throws(AuthenticationError) in
                try verify(utf8, key: key, algorithms: algorithms, maxLength: maxLength)
            }
        }.get()
    }

    static func verify(
        _ bytes: UnsafeBufferPointer<UInt8>, key: PreparedHMACKey, algorithms: [JWTAlgorithm], maxLength: Int
    ) throws(AuthenticationError) -> VerifiedPayload {
        guard !bytes.isEmpty else { throw malformed("the token is empty") }
        guard bytes.count <= maxLength else {
            throw malformed("the token is \(bytes.count) bytes long; at most \(maxLength) are accepted")
        }
        guard let firstDot = bytes.firstIndex(of: UInt8(ascii: ".")) else {
            throw malformed("a JWT has three dot-separated segments; found 1")
        }
        let rest = bytes[(firstDot + 1)...]
        guard let secondDot = rest.firstIndex(of: UInt8(ascii: ".")) else {
            throw malformed("a JWT has three dot-separated segments; found 2")
        }
        if bytes[(secondDot + 1)...].contains(UInt8(ascii: ".")) {
            throw malformed("a JWT has three dot-separated segments; found more")
        }
        let headerText = UnsafeBufferPointer(rebasing: bytes[..<firstDot])
        let payloadText = UnsafeBufferPointer(rebasing: bytes[(firstDot + 1)..<secondDot])
        let signatureText = UnsafeBufferPointer(rebasing: bytes[(secondDot + 1)...])
        guard !headerText.isEmpty, !payloadText.isEmpty, !signatureText.isEmpty else {
            throw malformed("a JWT segment is empty")
        }
        guard let headerBytes = Base64URL.decode(headerText) else { throw malformed("the header is not strict base64url") }
        guard let payloadBytes = Base64URL.decode(payloadText) else { throw malformed("the payload is not strict base64url") }
        guard let signature = Base64URL.decode(signatureText) else { throw malformed("the signature is not strict base64url") }

        let header: Header
        do {
            header = try Header(headerBytes)
        } catch {
            throw malformed("the header is not valid JSON: \(error.reason) at byte \(error.offset)")
        }
        guard header.isObject else { throw malformed("the header is not a JSON object") }
        guard let algName = header.alg else {
            throw malformed(header.hasAlg ? "the header's 'alg' is not a string" : "the header has no 'alg'")
        }
        guard let algorithm = JWTAlgorithm(name: algName), algorithms.contains(algorithm) else {
            throw AuthenticationError(
                .algorithmNotAllowed,
                "the header's alg '\(algName.prefix(32))' is not one of the allowed algorithms (\(algorithms.map(\.name).joined(separator: ", ")))"
            )
        }
        if header.hasCrit { throw malformed("the header has 'crit'; no critical extensions are supported") }
        if header.hasB64 { throw malformed("the header has 'b64'; unencoded payloads are not supported") }
        if header.typIsNotString { throw malformed("the header's 'typ' is not a string") }

        let signingInput = UnsafeBufferPointer(rebasing: bytes[..<secondDot])
        guard algorithm.verify(signature, message: signingInput, key: key) else {
            throw AuthenticationError(.badSignature, "the \(algorithm.name) signature does not match")
        }
        return VerifiedPayload(bytes: payloadBytes)
    }

    /// The fields of a JOSE header that verification reads, in one pass over its JSON with no
    /// dictionary; the JSON rules are ``JSONParser``'s, duplicate names included.
    struct Header {
        /// Whether the header is a JSON object (the other fields are unset when not).
        var isObject = false
        /// Whether it has `alg`, and its value when that is a string.
        var hasAlg = false
        var alg: String?
        var hasCrit = false
        var hasB64 = false
        var typIsNotString = false

        init(_ bytes: [UInt8]) throws(JSONParser.Failure) {
            let result = bytes.withUnsafeBufferPointer { buffer in
                Result { () throws(JSONParser.Failure) -> Header in
                    var parser = JSONParser(buffer)
                    return try Header(&parser)
                }
            }
            self = try result.get()
        }

        private init(_ parser: inout JSONParser) throws(JSONParser.Failure) {
            parser.skipWhitespace()
            guard parser.current == UInt8(ascii: "{") else {
                // Valid JSON of another kind is "not an object"; anything else, invalid JSON.
                _ = try parser.parseValue(depth: 0)
                try parser.expectEnd()
                return
            }
            isObject = true
            var hasTyp = false
            var otherNames: Set<String> = []
            var header = self
            try parser.parseMembers(depth: 1) { (parser: inout JSONParser, name: JSONParser.RawString) throws(JSONParser.Failure) in
                func once(_ seen: inout Bool) throws(JSONParser.Failure) {
                    guard !seen else { throw parser.fail("duplicate key '\(parser.string(name))'") }
                    seen = true
                }
                if parser.matches(name, "alg") {
                    try once(&header.hasAlg)
                    if parser.current == UInt8(ascii: "\"") {
                        header.alg = try parser.parseString()
                        return
                    }
                } else if parser.matches(name, "typ") {
                    try once(&hasTyp)
                    header.typIsNotString = parser.current != UInt8(ascii: "\"")
                } else if parser.matches(name, "crit") {
                    try once(&header.hasCrit)
                } else if parser.matches(name, "b64") {
                    try once(&header.hasB64)
                } else {
                    // Other names (`kid`...) are rare: compared as Strings, as any JSON object's keys.
                    let other = parser.string(name)
                    guard otherNames.insert(other).inserted else { throw parser.fail("duplicate key '\(other)'") }
                }
                _ = try parser.parseValue(depth: 1)
            }
            try parser.expectEnd()
            self = header
        }
    }

    static func malformed(_ message: String) -> AuthenticationError {
        AuthenticationError(.malformed, "Malformed token: \(message)")
    }
}

/// A payload whose signature has been verified: the claims' JSON, not yet parsed.
/// ``Token/init(verifiedClaims:)`` reads it in one pass.
struct VerifiedPayload {
    /// The payload's JSON bytes.
    let bytes: [UInt8]
}
