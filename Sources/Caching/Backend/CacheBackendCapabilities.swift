/// What a backend promises about the entries it stores, declared by the backend so that
/// code above it (token revocation) can decide whether a store is fit for its purpose
/// without knowing the concrete type.
///
/// Each property answers a question about the *worst case* with the backend's settings as
/// given: `mayEvictLiveEntries` is `true` for a local-memory cache with `MAX_ENTRIES`, even if
/// it never fills up.
public struct CacheBackendCapabilities: Sendable, Hashable, CustomStringConvertible {
    /// A short name for logs, errors and metrics (`locmem`, `file`, `memcached`).
    public var name: String
    /// Whether a live (unexpired) entry may disappear before its expiry because the store is
    /// full: culling (`MAX_ENTRIES`), LRU eviction under memory pressure.
    public var mayEvictLiveEntries: Bool
    /// Whether a key may move to another server when one fails, so a read can reach a server
    /// that never held the entry (memcached with `remove_failed_servers`).
    public var mayMoveKeysOnFailure: Bool
    /// Whether every call is answered in this process from memory, without I/O, so it cannot
    /// hang (local memory, dummy).
    public var answersInProcess: Bool
    /// Whether stored entries survive a restart of the process or server that holds them
    /// (files, SQL; not memcached, not local memory).
    public var survivesRestart: Bool
    /// Whether the backend cannot store a key that breaks ``CacheKeyRules`` at all; then an
    /// invalid key throws even in ``CacheKeyValidation/warn`` mode.
    public var requiresValidKeys: Bool
    /// Whether several processes can share the stored entries (files, memcached).
    public var sharedAcrossProcesses: Bool
    /// The longest a read (``CacheBackend/entry(forKey:)``, ``CacheBackend/entries(forKeys:)``,
    /// ``CacheBackend/containsEntry(forKey:)``) can take before it answers or throws, whatever
    /// the servers do, queue waits included, when the backend enforces such a bound itself
    /// (memcached with `OPTIONS["read_timeout"]`); `nil` when it promises none.
    ///
    /// Code that would otherwise race a read against a timeout task of its own (token
    /// revocation checks) can skip the race when this bound is within its own timeout.
    public var readTimeLimit: Duration?

    /// Declares a backend's capabilities.
    ///
    /// - Parameters:
    ///   - name: A short name for logs and errors.
    ///   - mayEvictLiveEntries: A live entry may vanish when the store is full.
    ///   - mayMoveKeysOnFailure: Keys may move to another server on a failure.
    ///   - answersInProcess: Calls are answered from this process's memory, without I/O.
    ///   - survivesRestart: Entries survive a restart.
    ///   - requiresValidKeys: An invalid key can never be stored.
    ///   - sharedAcrossProcesses: Several processes share the entries.
    ///   - readTimeLimit: The longest any read can take, enforced by the backend; `nil` for no promise.
    public init(
        name: String, mayEvictLiveEntries: Bool, mayMoveKeysOnFailure: Bool = false, answersInProcess: Bool = false,
        survivesRestart: Bool = false, requiresValidKeys: Bool = false, sharedAcrossProcesses: Bool = false,
        readTimeLimit: Duration? = nil
    ) {
        self.name = name
        self.mayEvictLiveEntries = mayEvictLiveEntries
        self.mayMoveKeysOnFailure = mayMoveKeysOnFailure
        self.answersInProcess = answersInProcess
        self.survivesRestart = survivesRestart
        self.requiresValidKeys = requiresValidKeys
        self.sharedAcrossProcesses = sharedAcrossProcesses
        self.readTimeLimit = readTimeLimit
    }

    public var description: String {
        var flags: [String] = []
        if mayEvictLiveEntries { flags.append("may evict live entries") }
        if mayMoveKeysOnFailure { flags.append("may move keys on failure") }
        if answersInProcess { flags.append("answers in process") }
        if survivesRestart { flags.append("survives restart") }
        if requiresValidKeys { flags.append("requires valid keys") }
        if sharedAcrossProcesses { flags.append("shared across processes") }
        if let readTimeLimit { flags.append("reads answer within \(readTimeLimit)") }
        return "\(name) (\(flags.isEmpty ? "no guarantees" : flags.joined(separator: ", ")))"
    }
}
