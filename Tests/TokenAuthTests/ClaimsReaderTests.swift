import Caching
import CachingTesting
import Testing

@testable import TokenAuth

/// The one-pass claims reader (`Token(verifiedClaims:)` over the payload's bytes) and the
/// one-pass header reader must accept and refuse exactly what parsing into a `ClaimValue`
/// object first and reading that would: these compare the two on tricky payloads.
@Suite("Token: claims read in one pass")
struct ClaimsReaderTests {
    /// The reference: the whole payload parsed by `JSONParser.parse`, then read field by field.
    func reference(_ payload: String) -> Token? {
        guard case .object(let claims)? = try? JSONParser.parse(Array(payload.utf8)) else { return nil }
        // nil: the wrong type; .some(nil): absent.
        func string(_ name: String) -> String?? {
            guard let value = claims[name] else { return .some(nil) }
            guard let typed = value.stringValue else { return nil }
            return .some(typed)
        }
        // nil: the wrong type; .some(nil): absent.
        func number(_ name: String) -> Double?? {
            guard let value = claims[name] else { return .some(nil) }
            guard let typed = value.doubleValue else { return nil }
            return .some(typed)
        }
        // nil: the wrong type; .some(nil): absent.
        func bool(_ name: String) -> Bool?? {
            guard let value = claims[name] else { return .some(nil) }
            guard let typed = value.boolValue else { return nil }
            return .some(typed)
        }
        guard let sub = string("sub"), let sub, !sub.isEmpty, let exp = number("exp"), let exp else { return nil }
        guard let iat = number("iat"), let nbf = number("nbf"), let jti = string("jti"), let typ = string("typ"),
            let fam = string("fam"), let isStaff = bool("is_staff"), let isAdmin = bool("is_admin")
        else { return nil }
        var permissions: [String]?
        if let value = claims["permissions"] {
            guard let elements = value.arrayValue else { return nil }
            let names = elements.compactMap(\.stringValue)
            guard names.count == elements.count else { return nil }
            permissions = names
        }
        var extras = claims
        for name in Token.reservedClaims { extras[name] = nil }
        return Token(
            sub: sub, exp: exp, iat: iat, nbf: nbf, jti: jti, type: typ.map(TokenType.init), family: fam,
            isStaff: isStaff, isAdmin: isAdmin, permissions: permissions, extras: extras)
    }

    func onePass(_ payload: String) -> Token? {
        try? Token(verifiedClaims: VerifiedPayload(bytes: Array(payload.utf8)))
    }

    @Test(
        "accepted and refused alike, with the same fields",
        arguments: [
            #"{"sub":"1","exp":1700000000}"#,
            #" { "sub" : "1" , "exp" : 1700000000.5 , "iat" : -0 , "nbf" : 1e3 } "#,
            #"{"sub":"1","exp":1700000000,"jti":"j","typ":"refresh","fam":"f","is_staff":true,"is_admin":false}"#,
            #"{"sub":"1","exp":1700000000,"permissions":[],"tenant":{"a":[1,2.5,null,"x"]},"level":3}"#,
            #"{"sub":"1","exp":1700000000,"permissions":["a","b\u00e9"]}"#,
            // An escaped name is the claim it spells: a duplicate, a type check, not an extra.
            #"{"sub":"1","s\u0075b":"2","exp":1700000000}"#,
            #"{"s\u0075b":"1","exp":1700000000}"#,
            #"{"sub":"1","exp":1700000000,"is_st\u0061ff":"yes"}"#,
            #"{"sub":"1","exp":1700000000,"x":1,"\u0078":2}"#,
            // Canonically equivalent extra names are one key, as in any Swift dictionary.
            #"{"sub":"1","exp":1700000000,"\u00e9":1,"e\u0301":2}"#,
            #"{"sub":"1","exp":1700000000,"exp":1700000001}"#,
            #"{"sub":"","exp":1700000000}"#,
            #"{"sub":"1"}"#,
            #"{"exp":1700000000}"#,
            #"{"sub":1,"exp":1700000000}"#,
            #"{"sub":"1","exp":"1700000000"}"#,
            #"{"sub":"1","exp":1700000000,"iat":true}"#,
            #"{"sub":"1","exp":1700000000,"is_admin":1}"#,
            #"{"sub":"1","exp":1700000000,"permissions":"a"}"#,
            #"{"sub":"1","exp":1700000000,"permissions":["a",1]}"#,
            #"{"sub":"1","exp":1700000000,"permissions":[["a"]]}"#,
            #"{"sub":"1","exp":123456789012345678901234567890}"#,
            #"{"sub":"1","exp":-9223372036854775808,"iat":9223372036854775807}"#,
            #"{"sub":"1","exp":1e999}"#,
            #"{"sub":"1","exp":01}"#,
            #"{"sub":"1","exp":1700000000,}"#,
            #"{"sub":"1","exp":1700000000} x"#,
            #"{"sub":"1\ud800","exp":1700000000}"#,
            #"{"sub":"a\u0000b","exp":1700000000}"#,
            "{\"sub\":\"a\u{0}b\",\"exp\":1700000000}",
            #"["sub","exp"]"#, #""sub""#, "", " ", "{", #"{"sub""#, #"{"sub":"1","exp":1700000000"#,
        ])
    func sameAsReference(_ payload: String) {
        #expect(onePass(payload) == reference(payload), "\(payload)")
    }

    @Test("deep nesting in an extra is refused at the same depth")
    func depth() {
        for levels in [30, 31, 32, 40] {
            let payload =
                #"{"sub":"1","exp":1700000000,"x":"# + String(repeating: "[", count: levels)
                + String(repeating: "]", count: levels) + "}"
            #expect(onePass(payload) == reference(payload), "\(levels)")
        }
    }

    @Test("invalid UTF-8 in a name or a value is refused")
    func utf8() {
        for bad: [UInt8] in [[0xC3, 0x28], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xF5, 0x80, 0x80, 0x80]] {
            let asName = Array(#"{"sub":"1","exp":1700000000,""#.utf8) + bad + Array(#"":1}"#.utf8)
            let asValue = Array(#"{"exp":1700000000,"sub":""#.utf8) + bad + Array(#""}"#.utf8)
            #expect((try? Token(verifiedClaims: VerifiedPayload(bytes: asName))) == nil)
            #expect((try? Token(verifiedClaims: VerifiedPayload(bytes: asValue))) == nil)
        }
    }

    @Test("the header reader refuses duplicates of any name, escaped or canonically equal")
    func header() throws {
        for (text, isObject) in [
            (#"{"alg":"HS256","kid":"a","k\u0069d":"b"}"#, true), (#"{"alg":"HS256","\u00e9":1,"e\u0301":2}"#, true),
            (#"{"alg":"HS256","typ":"JWT","t\u0079p":"JWT"}"#, true), (#"{"alg":"HS256","b64":true,"b64":true}"#, true),
        ] {
            #expect(throws: JSONParser.Failure.self, "\(text) \(isObject)") { try CompactJWS.Header(Array(text.utf8)) }
        }
        let plain = try CompactJWS.Header(Array(#"{"typ":"JWT","alg":"HS384","kid":"k"}"#.utf8))
        #expect(plain.isObject && plain.alg == "HS384" && !plain.typIsNotString && !plain.hasCrit && !plain.hasB64)
        let odd = try CompactJWS.Header(Array(#"{"a\u006cg":256,"typ":1,"crit":[],"b64":false}"#.utf8))
        #expect(odd.isObject && odd.hasAlg && odd.alg == nil && odd.typIsNotString && odd.hasCrit && odd.hasB64)
        #expect(try CompactJWS.Header(Array("[1]".utf8)).isObject == false)
    }
}
