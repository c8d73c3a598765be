extension Token {
    /// Reads the claims of a verified payload straight into a token, in one pass over the
    /// JSON, checking each known claim's type.
    ///
    /// The JSON rules are ``JSONParser``'s (a duplicate claim, invalid UTF-8, a lone
    /// surrogate, trailing data... are refused); the known claims are read into their fields
    /// as they come, and only the other claims (``extras``) are kept as ``ClaimValue``s.
    init(verifiedClaims payload: VerifiedPayload) throws(AuthenticationError) {
        let result = payload.bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(JSONParser.Failure) -> Token in
                var parser = JSONParser(buffer)
                return try Token(reading: &parser)
            }
        }
        switch result {
        case .success(let token): self = token
        case .failure(let failure) where failure.isClaimError: throw CompactJWS.malformed(failure.reason)
        case .failure(let failure):
            throw CompactJWS.malformed("the payload is not valid JSON: \(failure.reason) at byte \(failure.offset)")
        }
    }

    /// The claims ``Token`` has fields for, each with its bit in the set of those seen.
    private enum Claim: UInt16 {
        case sub = 1
        case exp = 2
        case iat = 4
        case nbf = 8
        case jti = 16
        case typ = 32
        case fam = 64
        case isStaff = 128
        case isAdmin = 256
        case permissions = 512

        /// The claim named `name`, compared byte for byte (after unescaping), or `nil`.
        init?(_ name: JSONParser.RawString, in parser: JSONParser) {
            if parser.matches(name, "sub") {
                self = .sub
            } else if parser.matches(name, "exp") {
                self = .exp
            } else if parser.matches(name, "iat") {
                self = .iat
            } else if parser.matches(name, "nbf") {
                self = .nbf
            } else if parser.matches(name, "jti") {
                self = .jti
            } else if parser.matches(name, "typ") {
                self = .typ
            } else if parser.matches(name, "fam") {
                self = .fam
            } else if parser.matches(name, "is_staff") {
                self = .isStaff
            } else if parser.matches(name, "is_admin") {
                self = .isAdmin
            } else if parser.matches(name, "permissions") {
                self = .permissions
            } else {
                return nil
            }
        }
    }

    private init(reading parser: inout JSONParser) throws(JSONParser.Failure) {
        parser.skipWhitespace()
        guard parser.current == UInt8(ascii: "{") else {
            // Valid JSON of another kind is "not an object"; anything else, invalid JSON.
            _ = try parser.parseValue(depth: 0)
            try parser.expectEnd()
            throw Self.claimError("the payload is not a JSON object")
        }
        var sub: String?
        var exp: Double?
        var iat: Double?
        var nbf: Double?
        var jti: String?
        var typ: String?
        var family: String?
        var isStaff: Bool?
        var isAdmin: Bool?
        var permissions: [String]?
        var extras: [String: ClaimValue] = [:]
        var seen: UInt16 = 0
        try parser.parseMembers(depth: 1) { (parser: inout JSONParser, name: JSONParser.RawString) throws(JSONParser.Failure) in
            guard let claim = Claim(name, in: parser) else {
                let key = parser.string(name)
                let value = try parser.parseValue(depth: 1)
                guard extras.updateValue(value, forKey: key) == nil else { throw parser.fail("duplicate key '\(key)'") }
                return
            }
            guard seen & claim.rawValue == 0 else { throw parser.fail("duplicate key '\(parser.string(name))'") }
            seen |= claim.rawValue
            switch claim {
            case .sub: sub = try Self.string(&parser, "sub")
            case .exp: exp = try Self.number(&parser, "exp")
            case .iat: iat = try Self.number(&parser, "iat")
            case .nbf: nbf = try Self.number(&parser, "nbf")
            case .jti: jti = try Self.string(&parser, "jti")
            case .typ: typ = try Self.string(&parser, "typ")
            case .fam: family = try Self.string(&parser, "fam")
            case .isStaff: isStaff = try Self.bool(&parser, "is_staff")
            case .isAdmin: isAdmin = try Self.bool(&parser, "is_admin")
            case .permissions:
                guard parser.current == UInt8(ascii: "[") else { throw Self.claimError("'permissions' is not an array") }
                var names: [String] = []
                try parser.parseElements(depth: 2) { (parser: inout JSONParser) throws(JSONParser.Failure) in
                    guard parser.current == UInt8(ascii: "\"") else {
                        throw Self.claimError("'permissions' holds a value that is not a string")
                    }
                    names.append(try parser.parseString())
                }
                permissions = names
            }
        }
        try parser.expectEnd()
        guard let sub, !sub.isEmpty else { throw Self.claimError("no 'sub' (user id)") }
        guard let exp else { throw Self.claimError("no 'exp'; every token must expire") }
        self.init(
            sub: sub, exp: exp, iat: iat, nbf: nbf, jti: jti, type: typ.map(TokenType.init), family: family,
            isStaff: isStaff, isAdmin: isAdmin, permissions: permissions, extras: extras)
    }

    private static func claimError(_ reason: String) -> JSONParser.Failure {
        JSONParser.Failure(reason: reason, offset: 0, isClaimError: true)
    }

    private static func string(_ parser: inout JSONParser, _ name: String) throws(JSONParser.Failure) -> String {
        guard parser.current == UInt8(ascii: "\"") else { throw claimError("'\(name)' is not a string") }
        return try parser.parseString()
    }

    private static func number(_ parser: inout JSONParser, _ name: String) throws(JSONParser.Failure) -> Double {
        switch parser.current ?? 0 {
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            switch try parser.parseNumber() {
            case .integer(let integer): return Double(integer)
            case .number(let number): return number
            default: throw claimError("'\(name)' is not a number")
            }
        default: throw claimError("'\(name)' is not a number")
        }
    }

    private static func bool(_ parser: inout JSONParser, _ name: String) throws(JSONParser.Failure) -> Bool {
        switch parser.current ?? 0 {
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return try parser.parseBool()
        default: throw claimError("'\(name)' is not a boolean")
        }
    }
}
