import Crypto

/// JWS compact serialization with HMAC (RFC 7515), written for one job: tokens this
/// library or a Django-Bolt/PyJWT peer signed with a shared secret.
///
/// Verification order, each step refusing with its own reason:
/// 1. length within the limit, exactly three segments, each strict base64url;
/// 2. the header is a strict JSON object whose `alg` is a string in the allowed list
///    (`none` and anything else refused), with no `crit` and no `b64`; `kid` is ignored —
///    the key is the configured secret, never one chosen by the token;
/// 3. the signature has the algorithm's length and matches in constant time;
/// 4. only then is the payload parsed, as a strict JSON object.
enum CompactJWS {
    static func sign(payload: [UInt8], algorithm: JWTAlgorithm, key: SymmetricKey) -> String {
        var header = JSONWriter()
        header.writeObject([("alg", .string(algorithm.name)), ("typ", "JWT")])
        let signingInput = Base64URL.encode(header.bytes) + "." + Base64URL.encode(payload)
        let signature = algorithm.sign(Array(signingInput.utf8), key: key)
        return signingInput + "." + Base64URL.encode(signature)
    }

    static func verify(
        _ token: String, key: PreparedHMACKey, algorithms: [JWTAlgorithm], maxLength: Int
    ) throws(AuthenticationError) -> [String: ClaimValue] {
        var token = token
        var result: Result<[String: ClaimValue], AuthenticationError> = .failure(malformed("the token is empty"))
        token.withUTF8 { utf8 in
            result = Result { () throws(AuthenticationError) in
                try verify(utf8, key: key, algorithms: algorithms, maxLength: maxLength)
            }
        }
        return try result.get()
    }

    static func verify(
        _ bytes: UnsafeBufferPointer<UInt8>, key: PreparedHMACKey, algorithms: [JWTAlgorithm], maxLength: Int
    ) throws(AuthenticationError) -> [String: ClaimValue] {
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
        let headerText = bytes[..<firstDot]
        let payloadText = bytes[(firstDot + 1)..<secondDot]
        let signatureText = bytes[(secondDot + 1)...]
        guard !headerText.isEmpty, !payloadText.isEmpty, !signatureText.isEmpty else {
            throw malformed("a JWT segment is empty")
        }
        guard let headerBytes = Base64URL.decode(headerText) else { throw malformed("the header is not strict base64url") }
        guard let payloadBytes = Base64URL.decode(payloadText) else { throw malformed("the payload is not strict base64url") }
        guard let signature = Base64URL.decode(signatureText) else { throw malformed("the signature is not strict base64url") }

        let header: ClaimValue
        do {
            header = try JSONParser.parse(headerBytes)
        } catch {
            throw malformed("the header is not valid JSON: \(error.reason) at byte \(error.offset)")
        }
        guard case .object(let headerFields) = header else { throw malformed("the header is not a JSON object") }
        guard let algValue = headerFields["alg"] else { throw malformed("the header has no 'alg'") }
        guard case .string(let algName) = algValue else { throw malformed("the header's 'alg' is not a string") }
        guard let algorithm = JWTAlgorithm(name: algName), algorithms.contains(algorithm) else {
            throw AuthenticationError(
                .algorithmNotAllowed,
                "the header's alg '\(algName.prefix(32))' is not one of the allowed algorithms (\(algorithms.map(\.name).joined(separator: ", ")))"
            )
        }
        if headerFields["crit"] != nil { throw malformed("the header has 'crit'; no critical extensions are supported") }
        if headerFields["b64"] != nil { throw malformed("the header has 'b64'; unencoded payloads are not supported") }
        if let typ = headerFields["typ"], typ.stringValue == nil { throw malformed("the header's 'typ' is not a string") }

        let signingInput = bytes[..<secondDot]
        guard algorithm.verify(signature, message: signingInput, key: key) else {
            throw AuthenticationError(.badSignature, "the \(algorithm.name) signature does not match")
        }

        let payload: ClaimValue
        do {
            payload = try JSONParser.parse(payloadBytes)
        } catch {
            throw malformed("the payload is not valid JSON: \(error.reason) at byte \(error.offset)")
        }
        guard case .object(let claims) = payload else { throw malformed("the payload is not a JSON object") }
        return claims
    }

    static func malformed(_ message: String) -> AuthenticationError {
        AuthenticationError(.malformed, "Malformed token: \(message)")
    }
}
