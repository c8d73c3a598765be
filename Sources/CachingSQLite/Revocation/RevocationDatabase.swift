package import Caching
package import TokenRevocation

/// What a ``DatabaseRevocation`` keeps in its state table besides the token ids.
package enum RevocationStateKind: String, Sendable {
    /// A revoked token family (`value` unused).
    case family = "f"
    /// A subject's logout-everywhere cut-off (`value` is the cut-off, Unix seconds).
    case subject = "s"
    /// A family's rotation state (`value` is the current generation).
    case generation = "g"
}

/// One live row a lookup found: `kind` is `"j"` for a token id, else a ``RevocationStateKind``.
package struct RevocationRow: Sendable, Hashable {
    package var kind: String
    package var name: String
    package var value: Double

    package init(kind: String, name: String, value: Double) {
        self.kind = kind
        self.name = name
        self.value = value
    }
}

/// The ids one lookup statement asks about, each only in its own place: token ids in the
/// token table, families and subjects under their kinds in the state table.
package struct RevocationLookup: Sendable, Hashable {
    package var jtis: Set<String> = []
    package var families: Set<String> = []
    package var subjects: Set<String> = []

    package init() {}

    package var isEmpty: Bool { jtis.isEmpty && families.isEmpty && subjects.isEmpty }

    package mutating func formUnion(_ other: RevocationLookup) {
        jtis.formUnion(other.jtis)
        families.formUnion(other.families)
        subjects.formUnion(other.subjects)
    }
}

/// The statements one SQL database runs for a ``DatabaseRevocation``: every one prepared and
/// parameterized, every time a parameter taken from the store's clock, every call on the
/// database's own threads (never on Swift concurrency's).
///
/// Implemented for SQLite here and for PostgreSQL in `CachingPostgres`.
package protocol RevocationDatabase: Sendable {
    /// The database and tables, for messages (no password).
    var describe: String { get }
    /// How many lookups may run at once (the threads that read).
    var concurrentLookups: Int { get }
    /// The live rows for a lookup's ids, in one statement.
    func lookup(_ lookup: RevocationLookup, now: Double) async throws(CacheError) -> [RevocationRow]
    /// Upserts a token id's row, keeping the later `expires_at`.
    func revokeToken(_ jti: String, now: Double, expiresAt: Double) async throws(CacheError)
    /// Inserts a token id's row unless a live one exists; `true` when this call inserted it.
    func consumeToken(_ jti: String, now: Double, expiresAt: Double) async throws(CacheError) -> Bool
    /// Upserts a state row, keeping the larger value and the later expiry of a live one.
    func storeState(_ kind: RevocationStateKind, _ name: String, value: Double, now: Double, expiresAt: Double)
        async throws(CacheError)
    /// Inserts generation 0 unless a live rotation state exists; `true` when this call did.
    func startFamily(_ family: String, now: Double, expiresAt: Double) async throws(CacheError) -> Bool
    /// Moves a live rotation state from `generation` to the next, atomically.
    func rotateFamily(_ family: String, from generation: Int, now: Double, expiresAt: Double) async throws(CacheError)
        -> FamilyRotation
    /// Deletes at most `limit` expired rows of one table (`state` false: token ids); the count.
    func removeExpired(fromStateTable state: Bool, now: Double, limit: Int) async throws(CacheError) -> Int
    /// Creates both tables if missing and checks their shape.
    func createTables() async throws(CacheError)
    /// Closes the connections and joins the threads.
    func shutdown() async
    /// Shuts down without waiting (from a `deinit`).
    func shutdownInBackground()
}

/// A cache backend on a SQL database that can give a ``DatabaseRevocation`` the same database
/// (with connections and tables of its own): ``SQLiteBackend``, and `PostgresBackend`.
package protocol RevocationDatabaseSource: Sendable {
    /// A revocation database on this backend's database, in `table` and its state table.
    func revocationDatabase(table: String) -> any RevocationDatabase
}

extension SQLiteBackend: RevocationDatabaseSource {
    package func revocationDatabase(table: String) -> any RevocationDatabase {
        SQLiteRevocationDatabase(options: options, table: table)
    }
}
