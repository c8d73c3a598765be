/// What a bounded store (local memory, files) does when a new key arrives and it already
/// holds `MAX_ENTRIES` entries that have not expired. Settings: `OPTIONS["WHEN_FULL"]`.
///
/// Expired entries are always reclaimed first; the policy decides only about live ones.
public enum CacheFullPolicy: String, Sendable, Hashable, CaseIterable {
    /// Django's culling: remove `count / CULL_FREQUENCY` entries (least recently used in
    /// memory, oldest written on disk), then store. A live entry may vanish before its expiry.
    case cull
    /// Never evict a live entry: the new key is refused with ``CacheError/Code/full`` and
    /// everything stored stays. Use it where losing an entry is worse than refusing a write,
    /// such as token revocation.
    case refuse
}
