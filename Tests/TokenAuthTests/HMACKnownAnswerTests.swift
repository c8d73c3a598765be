import Testing

@testable import TokenAuth

/// RFC 4231's HMAC-SHA-256/384/512 test vectors through the library's own HMAC, both the
/// one-shot path (`JWTAlgorithm.sign`) and the prepared key that verification uses, so a wrong
/// binding to the platform's crypto library (wrong digest, key or length) fails here.
@Suite struct HMACKnownAnswerTests {
    struct Vector: Sendable, CustomTestStringConvertible {
        var testCase: Int
        var key: [UInt8]
        var data: [UInt8]
        var sha256: String
        var sha384: String
        var sha512: String
        var testDescription: String { "RFC 4231 test case \(testCase)" }

        /// The expected code, in hex, for one algorithm.
        func expected(_ algorithm: JWTAlgorithm) -> String {
            switch algorithm {
            case .hs256: sha256
            case .hs384: sha384
            case .hs512: sha512
            default: "not an RFC 4231 algorithm"
            }
        }
    }

    /// RFC 4231 §4.2–4.5, 4.7 and 4.8 (case 5 tests truncated output, which JWS never uses).
    static let vectors: [Vector] = [
        Vector(
            testCase: 1, key: [UInt8](repeating: 0x0b, count: 20), data: Array("Hi There".utf8),
            sha256: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            sha384: "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
            sha512: "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
                + "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"),
        Vector(
            testCase: 2, key: Array("Jefe".utf8), data: Array("what do ya want for nothing?".utf8),
            sha256: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            sha384: "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
            sha512: "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
                + "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"),
        Vector(
            testCase: 3, key: [UInt8](repeating: 0xaa, count: 20), data: [UInt8](repeating: 0xdd, count: 50),
            sha256: "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            sha384: "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b2a5ab39dc13814b94e3ab6e101a34f27",
            sha512: "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39"
                + "bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb"),
        Vector(
            testCase: 4, key: Array(1...25), data: [UInt8](repeating: 0xcd, count: 50),
            sha256: "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            sha384: "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e6801dd23c4a7d679ccf8a386c674cffb",
            sha512: "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3db"
                + "a91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd"),
        Vector(
            testCase: 6, key: [UInt8](repeating: 0xaa, count: 131),
            data: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
            sha256: "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            sha384: "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952",
            sha512: "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
                + "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"),
        Vector(
            testCase: 7, key: [UInt8](repeating: 0xaa, count: 131),
            data: Array(
                ("This is a test using a larger than block-size key and a larger than block-size data. "
                    + "The key needs to be hashed before being used by the HMAC algorithm.").utf8),
            sha256: "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            sha384: "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5a678cc31e799176d3860e6110c46523e",
            sha512: "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944"
                + "b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58"),
    ]

    static let algorithms: [JWTAlgorithm] = [.hs256, .hs384, .hs512]

    @Test(arguments: vectors)
    func oneShotMatchesRFC4231(_ vector: Vector) {
        for algorithm in Self.algorithms {
            #expect(hex(algorithm.sign(vector.data, key: vector.key)) == vector.expected(algorithm), "\(algorithm)")
        }
    }

    @Test(arguments: vectors)
    func preparedKeyMatchesRFC4231(_ vector: Vector) {
        let key = PreparedHMACKey(vector.key, algorithms: [.hs256, .hs384, .hs512])
        for algorithm in Self.algorithms {
            let code = vector.data.withUnsafeBytes { key.authenticationCode(algorithm.hash, message: $0) }
            #expect(code.map(hex) == vector.expected(algorithm), "\(algorithm)")
        }
    }

    @Test(arguments: vectors)
    func verifyAcceptsTheVectorAndRefusesAnyFlippedBit(_ vector: Vector) {
        let key = PreparedHMACKey(vector.key, algorithms: [.hs256, .hs384, .hs512])
        for algorithm in Self.algorithms {
            let signature = bytes(vector.expected(algorithm))
            vector.data.withUnsafeBufferPointer { message in
                #expect(algorithm.verify(signature, message: message, key: key), "\(algorithm)")
                for index in [0, signature.count / 2, signature.count - 1] {
                    var tampered = signature
                    tampered[index] ^= 0x01
                    #expect(!algorithm.verify(tampered, message: message, key: key), "\(algorithm) byte \(index)")
                }
                #expect(!algorithm.verify(Array(signature.dropLast()), message: message, key: key))
            }
        }
    }

    /// A key prepared for HS256 only has nothing to check HS512 with: it refuses.
    @Test func keyPreparedForOtherAlgorithmsRefuses() {
        let vector = Self.vectors[0]
        let key = PreparedHMACKey(vector.key, algorithms: [.hs256])
        vector.data.withUnsafeBufferPointer { message in
            #expect(JWTAlgorithm.hs256.verify(bytes(vector.sha256), message: message, key: key))
            #expect(!JWTAlgorithm.hs512.verify(bytes(vector.sha512), message: message, key: key))
        }
    }

    /// Empty key and message: the C calls get a valid pointer for zero bytes.
    @Test func emptyKeyAndMessage() {
        let expected = "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"
        #expect(hex(JWTAlgorithm.hs256.sign([], key: [])) == expected)
        let key = PreparedHMACKey([], algorithms: [.hs256])
        #expect([UInt8]().withUnsafeBytes { key.authenticationCode(.sha256, message: $0) }.map(hex) == expected)
    }

    /// FIPS 180-2's "abc" example, for the SHA-256 that keys the short-secret warnings.
    @Test func sha256OfABC() {
        #expect(
            hex(PlatformHMAC.sha256(Array("abc".utf8)))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    /// One prepared key shared by many concurrent verifications (each copies the keyed state).
    @Test func sharedPreparedKeyUnderConcurrency() async {
        let vector = Self.vectors[1]
        let key = PreparedHMACKey(vector.key, algorithms: [.hs256, .hs512])
        let results = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<64 {
                group.addTask {
                    let algorithm: JWTAlgorithm = index.isMultiple(of: 2) ? .hs256 : .hs512
                    let signature = bytes(index.isMultiple(of: 2) ? vector.sha256 : vector.sha512)
                    return (0..<200).allSatisfy { _ in
                        vector.data.withUnsafeBufferPointer { algorithm.verify(signature, message: $0, key: key) }
                    }
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.count == 64 && results.allSatisfy { $0 })
    }
}

private func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0F)]] })
}

private func bytes(_ hex: String) -> [UInt8] {
    let digits = Array(hex.utf8)
    return stride(from: 0, to: digits.count, by: 2).map {
        UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)!
    }
}
