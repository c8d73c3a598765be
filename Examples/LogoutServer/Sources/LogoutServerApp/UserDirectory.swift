public import Caching
import HummingbirdBcrypt

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A user the server can log in.
public struct DemoUser: Sendable, Codable, Equatable {
    public var userID: String
    public var passwordHash: String
    public var isStaff: Bool
    public var isAdmin: Bool
    public var permissions: [String]

    /// Creates a user.
    ///
    /// - Parameters:
    ///   - userID: The id tokens carry (`sub`).
    ///   - passwordHash: A bcrypt hash (`$2b$<cost>$…`).
    ///   - isStaff: The `is_staff` claim.
    ///   - isAdmin: The `is_admin` claim.
    ///   - permissions: The `permissions` claim.
    public init(userID: String, passwordHash: String, isStaff: Bool, isAdmin: Bool, permissions: [String]) {
        self.userID = userID
        self.passwordHash = passwordHash
        self.isStaff = isStaff
        self.isAdmin = isAdmin
        self.permissions = permissions
    }

    enum CodingKeys: String, CodingKey {
        case userID = "user_id"
        case passwordHash = "password_hash"
        case isStaff = "is_staff"
        case isAdmin = "is_admin"
        case permissions
    }
}

/// The users the server knows, by username, with bcrypt-hashed passwords.
///
/// Password checks run on ``hashingPool``, threads of their own: bcrypt is deliberately slow,
/// must not hold a cooperative thread, and must never queue in front of the cache's file I/O
/// (which runs on `BlockingThreadPool.shared`). Its queue is bounded: a flood of logins beyond
/// it is refused at once (the login answers 503 with `Retry-After`) instead of waiting.
///
/// An unknown username is checked against a dummy hash made at start-up with the highest cost
/// among the users' hashes, so that it takes as long as a known user's wrong password and the
/// answer's timing does not tell which usernames exist.
public struct UserDirectory: Sendable {
    public let users: [String: DemoUser]
    /// The bcrypt cost of the dummy hash: the highest cost among the users' hashes.
    public let dummyCost: Int
    /// A hash of a random password at ``dummyCost``, checked for unknown usernames.
    private let dummyHash: String

    /// The cost used when no user has a readable bcrypt hash (bcrypt's usual default).
    static let defaultCost = 12

    /// The threads password hashing runs on: two, with at most 32 checks waiting; this
    /// directory's own, released by ``shutdown()``.
    public let hashingPool: BlockingThreadPool

    /// Prepares a directory: finds the highest cost among the users' hashes and makes the
    /// dummy hash at that cost, on the blocking pool.
    ///
    /// - Parameter users: The users, by username.
    public static func make(users: [String: DemoUser]) async -> UserDirectory {
        await make(users: users, pool: BlockingThreadPool(threadCount: 2, maxQueuedJobs: 32))
    }

    static func make(users: [String: DemoUser], pool: BlockingThreadPool) async -> UserDirectory {
        let cost = users.values.compactMap { Self.cost(ofHash: $0.passwordHash) }.max() ?? defaultCost
        let random = (0..<32).map { _ in "0123456789abcdef".randomElement()! }
        let dummy = await pool.run { Bcrypt.hash(String(random), cost: UInt8(cost)) }
        return UserDirectory(users: users, dummyCost: cost, dummyHash: dummy, hashingPool: pool)
    }

    /// The cost of a bcrypt hash (`$2b$12$…` → 12), or `nil` when it is not one.
    static func cost(ofHash hash: String) -> Int? {
        let parts = hash.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0].isEmpty, ["2a", "2b", "2y"].contains(parts[1]), parts[2].count == 2,
            let cost = Int(parts[2]), (4...31).contains(cost)
        else { return nil }
        return cost
    }

    /// The demo users: `alice` / `wonderland` (admin, staff) and `bob` / `builder`.
    ///
    /// Their passwords are published, so production mode refuses to start with them.
    public static func demo() async -> UserDirectory {
        let pool = BlockingThreadPool(threadCount: 2, maxQueuedJobs: 32)
        let (alice, bob) = await pool.run { (Bcrypt.hash("wonderland", cost: 8), Bcrypt.hash("builder", cost: 8)) }
        return await make(
            users: [
                "alice": DemoUser(
                    userID: "1", passwordHash: alice, isStaff: true, isAdmin: true, permissions: ["profile:read", "users:manage"]),
                "bob": DemoUser(userID: "2", passwordHash: bob, isStaff: false, isAdmin: false, permissions: ["profile:read"]),
            ], pool: pool)
    }

    /// Loads users from a JSON object `{"username": {"user_id", "password_hash", "is_staff", "is_admin", "permissions"}}`.
    ///
    /// - Throws: ``ServerConfigurationError`` when the file cannot be read, is not such an
    ///   object, or holds a password hash that is not bcrypt (`$2a$`, `$2b$` or `$2y$`).
    public static func load(path: String) async throws -> UserDirectory {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ServerConfigurationError("the users file '\(path)' could not be read")
        }
        let users: [String: DemoUser]
        do {
            users = try JSONDecoder().decode([String: DemoUser].self, from: Data(text.utf8))
        } catch {
            throw ServerConfigurationError("the users file '\(path)' is not a JSON object of users: \(error)")
        }
        if let name = users.keys.sorted().first(where: { Self.cost(ofHash: users[$0]!.passwordHash) == nil }) {
            throw ServerConfigurationError(
                "the users file '\(path)': the password_hash of '\(name)' is not a bcrypt hash ($2b$<cost>$…, cost 4 to 31)")
        }
        return await make(users: users)
    }

    /// The user with these credentials, or `nil`.
    ///
    /// A password with a NUL character never matches: bcrypt stops at the first NUL, so
    /// `wonderland\0anything` would otherwise pass for `wonderland`. (The login route refuses
    /// it before it gets here; this is the second line.)
    ///
    /// - Throws: `CacheError.overloaded` when ``hashingPool`` already has a full queue.
    public func verify(username: String, password: String) async throws -> DemoUser? {
        guard !password.utf8.contains(0) else { return nil }
        let user = users[username]
        // Check a hash even for unknown users, so timing does not reveal which usernames exist.
        let hash = user?.passwordHash ?? dummyHash
        let matches = try await hashingPool.runIfRoom { Bcrypt.verify(password, hash: hash) }
        return matches ? user : nil
    }

    /// Stops the password-hashing threads (at server shutdown).
    public func shutdown() async {
        await hashingPool.shutdown()
    }
}
