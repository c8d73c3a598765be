public import Caching
public import TokenRevocation

/// A revocation store in a SQL table with Django-Bolt's `RevokedToken` layout, on SQLite
/// (``init(sqlite:table:clock:)``), PostgreSQL (`init(postgres:table:clock:)` in
/// `CachingPostgres`) or the database of a database-cache alias (``init(caches:alias:table:)``): durable, shared by every process using the database, and readable and
/// writable by a Python (Django-Bolt) service on the same table.
///
/// ```swift
/// let revocation = try DatabaseRevocation(sqlite: SQLiteOptions(database: "/var/lib/app/auth.sqlite3"))
/// try await revocation.revoke(claims.jti, expiresAt: claims.exp)
/// ```
///
/// **Tables.** Token ids live in ``table`` (``defaultTable`` unless given), the table Django
/// makes for Django-Bolt's `RevokedToken` model: `id` (auto primary key), `jti varchar(255)`
/// unique, `revoked_at` and `expires_at` (datetimes, `expires_at` indexed). Django names a
/// model's table `<app label>_revokedtoken` (`myapp_revokedtoken` in Bolt's guide): pass that
/// name to share the table with such an app. Families, logout-everywhere cut-offs and rotation
/// state live in ``stateTable`` (`<table>_state`, ours alone): `kind` (`f` a revoked family, `s`
/// a subject's cut-off, `g` a family's generation), `name`, `value` (the cut-off or the
/// generation, a double) and `expires_at`, with (`kind`, `name`) its primary key. Missing tables
/// are created on first use (unless the options' `create_table` is off); a table of another
/// shape is an error naming it, and is left as it is. A table that vanishes after the store
/// found or made it (dropped, renamed, the database replaced) is never made again behind the
/// application's back: its revocations went with it, so every check and revoke fails closed
/// until it is restored or ``createTables()`` starts an empty one on purpose.
///
/// **Time** comes from ``clock`` and is sent as a parameter: a row counts while its
/// `expires_at` is later than the clock's now. SQLite keeps times as Django does there, UTC
/// text `YYYY-MM-DD HH:MM:SS[.ffffff]`; PostgreSQL as `timestamp with time zone`.
///
/// **Statements.** ``revoke(_:ttl:)`` is one upsert that keeps the later `expires_at` (a revoke
/// never shortens a revocation). ``consume(_:ttl:)`` is one `INSERT … ON CONFLICT DO UPDATE …
/// WHERE` the existing row has expired: exactly one caller inserts. Rotation is one conditional
/// `UPDATE`. Checks are indexed lookups, one statement per batch: concurrent ``check(_:)``
/// calls are answered together by one statement whose ids are one parameter per kind, `jti IN
/// (SELECT value FROM json_each(?2))` on SQLite, `jti = ANY($1)` on PostgreSQL (each id one
/// index probe, in its own table and kind).
///
/// **Cleanup.** Expired rows stay until ``removeExpired(batchSize:)`` deletes them, in batches
/// of at most `batchSize` rows each in its own statement, so the table is never locked for
/// long; ``cleanupService(interval:batchSize:logger:)`` runs it on an interval as a
/// swift-service-lifecycle `Service`. SQL never evicts: a revocation stays until it expires.
///
/// **Failures.** Any database error (unreachable server, locked file, full disk, wrong table)
/// throws ``/TokenRevocation/RevocationError/Code/storeFailure``, with the database's error as
/// the underlying one; a check never answers "not revoked" without an answer from the database.
/// A PostgreSQL server that comes back is used again without a new store.
///
/// Identifiers (`jti`, family, subject) are non-empty, at most ``maxIdentifierLength`` bytes of
/// UTF-8 (the column is `varchar(255)`) and hold no NUL character.
public final class DatabaseRevocation: RevocationStore {
    /// The table Django-Bolt's `RevokedToken` rows live in unless another is given.
    public static let defaultTable = "revoked_tokens"
    /// The longest identifier accepted, in UTF-8 bytes: the `jti` column is `varchar(255)`.
    public static let maxIdentifierLength = 255

    /// The token-id table (Django-Bolt's layout).
    public let table: String
    /// The table of families, cut-offs and rotation state: ``table`` + `_state`.
    public var stateTable: String { Self.stateTable(for: table) }
    /// The wall clock expiry is measured by.
    public let clock: any CacheClock
    package let database: any RevocationDatabase
    private let batcher: LookupBatcher

    package static func stateTable(for table: String) -> String { table + "_state" }

    package init(database: any RevocationDatabase, table: String, clock: any CacheClock) {
        self.database = database
        self.table = table
        self.clock = clock
        batcher = LookupBatcher(concurrency: database.concurrentLookups)
    }

    /// Creates a store on a SQLite file. Nothing is opened until the first call.
    ///
    /// - Parameters:
    ///   - options: The file, reader threads, busy timeout and `create_table` (culling options
    ///     do not apply: revocations are never culled).
    ///   - table: The token-id table; the state table is its name + `_state`.
    ///   - clock: The wall clock expiry is measured by.
    /// - Throws: ``/TokenRevocation/RevocationError/Code/invalidArgument`` for an empty table name
    ///   or an option out of range.
    public convenience init(
        sqlite options: SQLiteOptions, table: String = DatabaseRevocation.defaultTable, clock: any CacheClock = SystemCacheClock()
    ) throws(RevocationError) {
        try Self.checkTable(table)
        do throws(CacheError) {
            try options.validate(alias: "revocation")
        } catch {
            throw RevocationError(.invalidArgument, "DatabaseRevocation's SQLite options are invalid: \(error.message)", underlying: error)
        }
        self.init(database: SQLiteRevocationDatabase(options: options, table: table), table: table, clock: clock)
    }

    /// Creates a store on the database of a cache alias whose backend is the database cache
    /// (`db` on SQLite, or `postgres` once `CachingPostgres` registered it): the same file or
    /// server, its `OPTIONS` (`pool_size`, `busy_timeout` or `timeout`, `create_table`) and
    /// clock, but tables and connections of the store's own. The cache's table is not touched.
    ///
    /// ```json
    /// {"auth": {"BACKEND": "db", "LOCATION": "auth_cache", "OPTIONS": {"database": "/var/lib/app/auth.sqlite3"}}}
    /// ```
    /// ```swift
    /// let revocation = try DatabaseRevocation(caches: caches, alias: "auth")
    /// ```
    ///
    /// - Parameters:
    ///   - caches: The alias registry.
    ///   - alias: The alias.
    ///   - table: The token-id table; the state table is its name + `_state`.
    /// - Throws: ``/TokenRevocation/RevocationError/Code/storeFailure`` for an unknown alias;
    ///   ``/TokenRevocation/RevocationError/Code/invalidArgument`` for an alias on another backend
    ///   or an invalid table name.
    public convenience init(caches: Caches, alias: String, table: String = DatabaseRevocation.defaultTable) throws(RevocationError) {
        try Self.checkTable(table)
        let cache: Cache
        do {
            cache = try caches[alias]
        } catch {
            throw RevocationError(.storeFailure, "DatabaseRevocation could not resolve cache alias '\(alias)': \(error)", underlying: error)
        }
        guard let source = cache.unwrappedBackend as? any RevocationDatabaseSource else {
            throw RevocationError(
                .invalidArgument,
                "CACHES[\"\(alias)\"] uses the \(cache.capabilities.name) backend; DatabaseRevocation needs a database-cache alias (db on SQLite, or postgres), whose database it shares with tables of its own"
            )
        }
        self.init(database: source.revocationDatabase(table: table), table: table, clock: cache.configuration.clock)
    }

    deinit {
        database.shutdownInBackground()
    }

    package static func checkTable(_ table: String) throws(RevocationError) {
        guard !table.isEmpty, !table.utf8.contains(0), table.utf8.count <= 55 else {
            throw RevocationError(
                .invalidArgument,
                "DatabaseRevocation's table must be a name of 1 to 55 bytes without NUL (PostgreSQL's names end at 63, and \"_state\" is added), such as \"\(defaultTable)\"; found \"\(table)\""
            )
        }
    }

    /// How many lookup statements (batches) checks have run: fewer than the checks when
    /// concurrent checks were coalesced.
    package var lookupBatchCount: Int { batcher.batchCount }

    // MARK: Tables and cleanup

    /// Creates the token-id table and the state table (and their indexes) if missing, and checks
    /// their shape; what the first call does anyway unless `create_table` is off. After a table
    /// vanished under a running store, this is how to start again with an empty one.
    ///
    /// - Throws: ``/TokenRevocation/RevocationError/Code/storeFailure`` naming the table when it
    ///   cannot be created or has another shape.
    public func createTables() async throws {
        try await run("creating its tables") { try await database.createTables() }
    }

    /// Deletes every expired row of both tables, in batches of at most `batchSize` rows, each its
    /// own statement (so a large cleanup never holds the table's lock for long).
    ///
    /// - Parameter batchSize: The most rows one statement deletes (at least 1).
    /// - Returns: How many rows were deleted.
    /// - Throws: ``/TokenRevocation/RevocationError/Code/storeFailure`` when the database fails;
    ///   the rows deleted by earlier batches stay deleted.
    @discardableResult
    public func removeExpired(batchSize: Int = 1000) async throws -> Int {
        let limit = max(1, batchSize)
        var total = 0
        for state in [false, true] {
            while true {
                try Task.checkCancellation()
                let removed = try await removeExpiredBatch(fromStateTable: state, limit: limit)
                total += removed
                if removed < limit { break }
            }
        }
        return total
    }

    /// One cleanup statement: deletes at most `limit` expired rows of one table.
    package func removeExpiredBatch(fromStateTable state: Bool, limit: Int) async throws -> Int {
        let now = clock.now()
        return try await run("deleting expired rows") {
            try await database.removeExpired(fromStateTable: state, now: now, limit: limit)
        }
    }

    /// Closes the connections and joins the threads; later calls throw.
    public func shutdown() async {
        await database.shutdown()
    }

    // MARK: RevocationStore

    public func revoke(_ jti: String, ttl: Duration) async throws {
        try Self.validate(jti, kind: "jti")
        let seconds = try RevocationLimits.seconds(ttl, what: "the ttl of the revocation of jti '\(jti)'")
        guard seconds > 0 else { return }
        let now = clock.now()
        try await run("storing the revocation of jti '\(jti)'") {
            try await database.revokeToken(jti, now: now, expiresAt: now + seconds)
        }
    }

    public func isRevoked(_ jti: String) async throws -> Bool {
        try await check(RevocationQuery(jti: jti)).isRevoked
    }

    public func consume(_ jti: String, ttl: Duration) async throws -> Bool {
        try Self.validate(jti, kind: "jti")
        let seconds = try RevocationLimits.seconds(ttl, what: "the ttl of the use of jti '\(jti)'")
        guard seconds > 0 else { return false }
        let now = clock.now()
        return try await run("recording the use of jti '\(jti)'") {
            try await database.consumeToken(jti, now: now, expiresAt: now + seconds)
        }
    }

    public func revokeAll(subject: String, issuedBefore: Double, ttl: Duration) async throws {
        try Self.validate(subject, kind: "subject")
        let what = "the logout-everywhere cut-off of subject '\(subject)'"
        let seconds = try RevocationLimits.seconds(ttl, what: "the ttl of \(what)")
        try RevocationLimits.checkTime(issuedBefore, what: what)
        guard seconds > 0 else { return }
        let now = clock.now()
        try await run("storing \(what)") {
            try await database.storeState(.subject, subject, value: issuedBefore, now: now, expiresAt: now + seconds)
        }
    }

    public func revokedBefore(subject: String) async throws -> Double? {
        try await check(RevocationQuery(subject: subject)).subjectCutoff
    }

    public func revokeFamily(_ family: String, ttl: Duration) async throws {
        try Self.validate(family, kind: "family")
        let what = "the revocation of token family '\(family)'"
        let seconds = try RevocationLimits.seconds(ttl, what: "the ttl of \(what)")
        guard seconds > 0 else { return }
        let now = clock.now()
        try await run("storing \(what)") {
            try await database.storeState(.family, family, value: 0, now: now, expiresAt: now + seconds)
        }
    }

    public func isFamilyRevoked(_ family: String) async throws -> Bool {
        try await check(RevocationQuery(family: family)).isFamilyRevoked
    }

    public func startFamily(_ family: String, ttl: Duration) async throws {
        try Self.validate(family, kind: "family")
        let what = "the rotation state of token family '\(family)'"
        let seconds = try RevocationLimits.seconds(ttl, what: "the ttl of \(what)")
        guard seconds > 0 else { return }
        let now = clock.now()
        let started = try await run("starting \(what)") {
            try await database.startFamily(family, now: now, expiresAt: now + seconds)
        }
        guard started else {
            throw RevocationError(.invalidIdentifier, "Token family '\(family)' was started already; a new login needs a new family id")
        }
    }

    public func rotateFamily(_ family: String, from generation: Int, ttl: Duration) async throws -> FamilyRotation {
        try Self.validate(family, kind: "family")
        let what = "the rotation state of token family '\(family)'"
        let seconds = try RevocationLimits.seconds(ttl, what: "the ttl of \(what)")
        let now = clock.now()
        // A generation a double cannot hold exactly was never issued by this store.
        let representable = generation >= 0 && generation < (1 << 53)
        return try await run("rotating \(what)") {
            try await database.rotateFamily(
                family, from: representable ? generation : -1, now: now, expiresAt: now + max(seconds, 0))
        }
    }

    /// Looks up the `jti`, family and subject in one statement, shared with every check running
    /// at the same time (see the type's documentation).
    public func check(_ query: RevocationQuery) async throws -> RevocationStatus {
        if let jti = query.jti { try Self.validate(jti, kind: "jti") }
        if let family = query.family { try Self.validate(family, kind: "family") }
        if let subject = query.subject { try Self.validate(subject, kind: "subject") }
        var lookup = RevocationLookup()
        if let jti = query.jti { lookup.jtis.insert(jti) }
        if let family = query.family { lookup.families.insert(family) }
        if let subject = query.subject { lookup.subjects.insert(subject) }
        guard !lookup.isEmpty else { return RevocationStatus() }
        let now = clock.now()
        let database = database
        let rows = try await run("checking revocation") {
            try await batcher.lookup(lookup) { batch in try await database.lookup(batch, now: now) }
        }
        var status = RevocationStatus()
        for row in rows {
            switch row.kind {
            case "j" where row.name == query.jti: status.isRevoked = true
            case RevocationStateKind.family.rawValue where row.name == query.family: status.isFamilyRevoked = true
            case RevocationStateKind.subject.rawValue where row.name == query.subject:
                status.subjectCutoff = max(status.subjectCutoff ?? -.infinity, row.value)
            default: break
            }
        }
        return status
    }

    // MARK: Internals

    static func validate(_ identifier: String, kind: String) throws(RevocationError) {
        if identifier.isEmpty {
            throw RevocationError(.invalidIdentifier, "The \(kind) is empty; a token without one cannot be revoked")
        }
        if identifier.utf8.count > maxIdentifierLength {
            throw RevocationError(
                .invalidIdentifier,
                "The \(kind) is \(identifier.utf8.count) bytes long; DatabaseRevocation accepts at most \(maxIdentifierLength) (a varchar(255) column)"
            )
        }
        if identifier.utf8.contains(0) {
            throw RevocationError(.invalidIdentifier, "The \(kind) holds a NUL character, which SQL text cannot hold")
        }
    }

    private func run<R: Sendable>(_ what: String, _ body: () async throws -> R) async throws -> R {
        do {
            return try await body()
        } catch let error as RevocationError {
            throw error
        } catch let error as CancellationError {
            throw error
        } catch {
            throw RevocationError(
                .storeFailure,
                "DatabaseRevocation failed \(what) in \(database.describe): \(error); the token's state is unknown, so it must not be accepted",
                underlying: error)
        }
    }
}
