import Caching
import CachingTesting
import Foundation
import Logging
import Testing
import TokenRevocation

@testable import TokenAuth

/// Runs the interop peer: the Python of the test environment, with PyJWT.
///
/// Found from `SWIFT_CACHING_PYTHON`, else `<repo>/.venv/bin/python3` (made by
/// `scripts/setup-test-env.sh`, which the README's test command runs).
enum PythonPeer {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static var path: String { InteropPython.path(repositoryRoot: repositoryRoot) }

    /// Runs a Python script with arguments and returns its standard output, or records why it could not.
    ///
    /// The process is waited for on a thread of its own, never on the cooperative pool, so the
    /// timing-sensitive tests running in parallel are not held up.
    static func run(_ script: String, _ arguments: [String]) async throws -> String {
        let result: Result<String, PeerFailure> = await withCheckedContinuation { continuation in
            let thread = Thread {
                continuation.resume(returning: Result { () throws(PeerFailure) in try runBlocking(script, arguments) })
            }
            thread.start()
        }
        switch result {
        case .success(let output): return output
        case .failure(let failure):
            Issue.record(Comment(rawValue: failure.message))
            throw failure
        }
    }

    struct PeerFailure: Error {
        var message: String
    }

    private static func runBlocking(_ script: String, _ arguments: [String]) throws(PeerFailure) -> String {
        let python = path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw PeerFailure(
                message: "No Python at \(python): run scripts/setup-test-env.sh (or set SWIFT_CACHING_PYTHON) for the PyJWT interop tests")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do {
            try process.run()
        } catch {
            throw PeerFailure(message: "Could not start \(python): \(error)")
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw PeerFailure(
                message: "Python failed (\(process.terminationStatus)): \(String(decoding: errorData, as: UTF8.self))")
        }
        return String(decoding: data, as: UTF8.self)
    }
}

@Suite(
    "PyJWT interop (Django-Bolt's claim layout)",
    .enabled(if: InteropPython.shouldRun(repositoryRoot: PythonPeer.repositoryRoot), Comment(rawValue: InteropPython.howToCreate)))
struct PyJWTInteropTests {
    static let algorithms: [JWTAlgorithm] = [.hs256, .hs384, .hs512]

    @Test("a token encoded here verifies in PyJWT with the same claims", arguments: algorithms)
    func swiftToPython(algorithm: JWTAlgorithm) async throws {
        let token = try Token.create(
            sub: "42", expiresIn: .seconds(600), isStaff: true, isAdmin: true, permissions: ["users.view", "posts.create"],
            extras: ["tenant": "acme", "roles": ["a", "b"], "note": "é ☃ \"quoted\"\n"], type: .access)
        let jwt = try token.encode(secret: secret, algorithm: algorithm)
        let script = """
            import sys, json, jwt
            token, secret, alg = sys.argv[1], sys.argv[2], sys.argv[3]
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, secret, algorithms=[alg], leeway=0)
            print(json.dumps({"header": header, "claims": claims}, sort_keys=True))
            """
        let output = try await PythonPeer.run(script, [jwt, secret, algorithm.name])
        let parsed = try JSONParser.parse(Array(output.trimmingCharacters(in: .whitespacesAndNewlines).utf8))
        guard case .object(let result) = parsed else {
            Issue.record("unexpected output \(output)")
            return
        }
        #expect(result["header"] == ["alg": .string(algorithm.name), "typ": "JWT"])
        #expect(result["claims"] == .object(token.claims))
        // PyJWT refuses it with another secret, so the check above is a real verification.
        let wrong = """
            import sys, jwt
            try:
                jwt.decode(sys.argv[1], "not-the-secret-not-the-secret-not-the-secret-not-the-secret-xxxx", algorithms=[sys.argv[2]])
                print("accepted")
            except jwt.InvalidSignatureError:
                print("refused")
            """
        #expect(try await PythonPeer.run(wrong, [jwt, algorithm.name]).contains("refused"))
    }

    @Test("a PyJWT token with Django-Bolt's layout authenticates here", arguments: algorithms)
    func pythonToSwift(algorithm: JWTAlgorithm) async throws {
        let script = """
            import sys, time, uuid, jwt
            secret, alg = sys.argv[1], sys.argv[2]
            now = int(time.time())
            base = {"sub": "42", "iat": now, "exp": now + 600, "jti": str(uuid.uuid4()), "is_staff": True,
                    "is_admin": True, "permissions": ["users.view"], "tenant": "acme"}
            print(jwt.encode({**base, "typ": "access"}, secret, algorithm=alg))
            print(jwt.encode({**base, "typ": "refresh", "fam": str(uuid.uuid4())}, secret, algorithm=alg))
            print(jwt.encode({**base, "is_admin": False, "is_superuser": True}, secret, algorithm=alg))
            print(jwt.encode(base, secret + "x", algorithm=alg))
            print(jwt.encode(base, None, algorithm="none"))
            """
        let lines = try await PythonPeer.run(script, [secret, algorithm.name]).split(separator: "\n").map(String.init)
        try #require(lines.count == 5)
        let store = InMemoryRevocation()
        let auth = try JWTAuthentication(secret: secret, algorithms: [algorithm], revocationStore: store)
        let user = try await auth.authenticate(authorization: "Bearer " + lines[0])
        #expect(user.userID == "42")
        #expect(user.isStaff && user.isAdmin)
        #expect(user.permissions == ["users.view"])
        #expect(user.type == .access)
        #expect(user.claims["tenant"] == "acme")
        #expect(user.jti?.count == 36)

        let refresh = await #expect(throws: AuthenticationError.self) {
            try await auth.authenticate(authorization: "Bearer " + lines[1])
        }
        #expect(refresh?.code == .wrongTokenType)
        let superuser = try await auth.authenticate(authorization: "Bearer " + lines[2])
        #expect(superuser.isAdmin, "create_jwt_for_user's is_superuser counts as admin")
        let wrongSecret = await #expect(throws: AuthenticationError.self) {
            try await auth.authenticate(authorization: "Bearer " + lines[3])
        }
        #expect(wrongSecret?.code == .badSignature)
        let none = await #expect(throws: AuthenticationError.self) {
            try await auth.authenticate(authorization: "Bearer " + lines[4])
        }
        #expect(none?.code == .malformed || none?.code == .algorithmNotAllowed)

        // Revoked here after a PyJWT login: refused.
        try await auth.logout(user)
        let revoked = await #expect(throws: AuthenticationError.self) {
            try await auth.authenticate(authorization: "Bearer " + lines[0])
        }
        #expect(revoked?.code == .revoked)
    }

    @Test("a PyJWT service's short secret: refused by default, accepted with allowingShortKeys (interop)")
    func shortSecretInterop() async throws {
        // PyJWT signs with a 20-byte secret (it only warns); here the operator must opt in by name.
        let short = "twenty-byte-secret!!"
        let script = """
            import sys, time, warnings, jwt
            warnings.simplefilter("ignore")
            now = int(time.time())
            print(jwt.encode({"sub": "42", "iat": now, "exp": now + 600, "typ": "access"}, sys.argv[1], algorithm="HS256"))
            """
        let jwt = try await PythonPeer.run(script, [short]).trimmingCharacters(in: .whitespacesAndNewlines)
        let refused = #expect(throws: TokenError.self) { try JWTAuthentication(secret: short) }
        #expect(refused?.code == .secretTooShort)
        let quiet = Logger(label: "interop", factory: { _ in SwiftLogNoOpLogHandler() })
        let auth = try JWTAuthentication(secret: short, allowingShortKeys: true, logger: quiet)
        #expect(try await auth.authenticate(token: jwt).userID == "42")
        // And the other way: a token signed here with that secret verifies in PyJWT.
        let back = try Token.create(sub: "7").encode(secret: short, allowingShortKeys: true, logger: quiet)
        let verify = """
            import sys, warnings, jwt
            warnings.simplefilter("ignore")
            print(jwt.decode(sys.argv[1], sys.argv[2], algorithms=["HS256"])["sub"])
            """
        #expect(try await PythonPeer.run(verify, [back, short]).trimmingCharacters(in: .whitespacesAndNewlines) == "7")
    }
}
