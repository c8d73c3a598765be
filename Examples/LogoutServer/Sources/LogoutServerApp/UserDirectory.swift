import Caching
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
/// Password checks run on `BlockingThreadPool.shared`: bcrypt is deliberately slow and must
/// not hold a cooperative thread.
public struct UserDirectory: Sendable {
    public let users: [String: DemoUser]

    public init(users: [String: DemoUser]) { self.users = users }

    /// The demo users: `alice` / `wonderland` (admin, staff) and `bob` / `builder`.
    public static func demo() async -> UserDirectory {
        let (alice, bob) = await BlockingThreadPool.shared.run {
            (Bcrypt.hash("wonderland", cost: 8), Bcrypt.hash("builder", cost: 8))
        }
        return UserDirectory(users: [
            "alice": DemoUser(
                userID: "1", passwordHash: alice, isStaff: true, isAdmin: true, permissions: ["profile:read", "users:manage"]),
            "bob": DemoUser(userID: "2", passwordHash: bob, isStaff: false, isAdmin: false, permissions: ["profile:read"]),
        ])
    }

    /// Loads users from a JSON object `{"username": {"user_id", "password_hash", "is_staff", "is_admin", "permissions"}}`.
    public static func load(path: String) throws -> UserDirectory {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ServerConfigurationError("the users file '\(path)' could not be read")
        }
        do {
            return UserDirectory(users: try JSONDecoder().decode([String: DemoUser].self, from: Data(text.utf8)))
        } catch {
            throw ServerConfigurationError("the users file '\(path)' is not a JSON object of users: \(error)")
        }
    }

    /// The user with these credentials, or `nil`.
    public func verify(username: String, password: String) async -> DemoUser? {
        let user = users[username]
        // Check a hash even for unknown users, so timing does not reveal which usernames exist.
        let hash = user?.passwordHash ?? Self.dummyHash
        let matches = await BlockingThreadPool.shared.run { Bcrypt.verify(password, hash: hash) }
        return matches ? user : nil
    }

    private static let dummyHash = "$2b$08$C6UzMDM.H6dfI/f/IKcEeO5o6K4eXq3WVXlEWbq9WQ4v1bF7q2m9y"
}
