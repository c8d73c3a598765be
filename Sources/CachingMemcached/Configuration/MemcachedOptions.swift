import CLibmemcached
public import Caching

/// The `OPTIONS` of a memcached alias: connections, timeouts, failure handling, item size and
/// raw libmemcached behaviours.
///
/// | option | type | default | meaning |
/// | --- | --- | --- | --- |
/// | `pool_size` | integer ≥ 1 | 2 | worker threads, each with its own connection to every server; concurrent gets are coalesced per worker, so a small pool batches better (see docs/PERFORMANCE.md); raise it when slow calls (large values, far servers) should not queue behind each other |
/// | `connect_timeout` | seconds | 1.0 | how long a connect may take |
/// | `send_timeout` | seconds | 1.0 | socket send timeout (`SO_SNDTIMEO`) |
/// | `receive_timeout` | seconds | 1.0 | socket receive timeout (`SO_RCVTIMEO`) |
/// | `poll_timeout` | seconds | 1.0 | how long to wait for a reply (libmemcached's default is 5) |
/// | `read_timeout` | seconds or `null` | `null` | the longest a read (`get`, `get_many`, `has_key`) may take from call to answer, queue wait and every server included; a watchdog thread fails a read still unanswered then with a timeout (checked every tenth of it, at most every 50 ms). `null`: reads are bounded only by the timeouts above, per server and round trip, not including the wait for a free worker |
/// | `tcp_nodelay` | bool | true | disable Nagle's algorithm |
/// | `binary` | bool | false | use the binary protocol instead of the text protocol |
/// | `failure_limit` | integer ≥ 1 | 2 | consecutive connection failures before a server is ejected |
/// | `retry_timeout` | seconds | 2 | how long an ejected or failed server is left alone before it is tried again |
/// | `remove_failed_servers` | bool | true | eject a failed server from the ketama ring, so its keys move to the others |
/// | `distribution` | `"ketama"`, `"consistent"`, `"modula"`, `"random"` | `"ketama"` | how keys are spread over servers |
/// | `max_value_size` | bytes | 1 048 576 | the server's item size limit (`memcached -I`); larger items are refused before sending |
/// | `behaviors` | object | `{}` | any libmemcached behaviour by name, such as `{"ketama_weighted": true, "hash": "md5"}`; applied last |
public struct MemcachedOptions: Sendable, Hashable {
    /// Connections per server, one per worker thread.
    public var poolSize: Int = 2
    /// Seconds a connect may take.
    public var connectTimeout: Double = 1
    /// Socket send timeout in seconds.
    public var sendTimeout: Double = 1
    /// Socket receive timeout in seconds.
    public var receiveTimeout: Double = 1
    /// Seconds to wait for a reply.
    public var pollTimeout: Double = 1
    /// The longest a read may take from call to answer, in seconds, enforced by a watchdog
    /// (`OPTIONS["read_timeout"]`); `nil` (the default) for no such bound. When set, the
    /// backend declares it as ``/Caching/CacheBackendCapabilities/readTimeLimit`` (plus the
    /// watchdog's period), so a revocation check within it needs no timeout task of its own.
    public var readTimeout: Double?
    /// Whether `TCP_NODELAY` is set.
    public var tcpNoDelay = true
    /// Whether the binary protocol is used.
    public var binaryProtocol = false
    /// Consecutive failures before a server is ejected.
    public var failureLimit = 2
    /// Seconds before a failed or ejected server is tried again.
    public var retryTimeout: Double = 2
    /// Whether failed servers are removed from the distribution.
    public var removeFailedServers = true
    /// How keys are spread over servers: `ketama` (the default), `consistent`, `modula` or `random`.
    public var distribution = "ketama"
    /// The server's item size limit in bytes (memcached's `-I`, 1 MiB by default).
    public var maxValueSize = 1_048_576
    /// Raw libmemcached behaviours by name, applied after everything else.
    public var behaviors: [String: SettingsValue] = [:]
    /// Declares that every server runs with `-M`, so a full server refuses a write instead of
    /// evicting a live item (`OPTIONS["servers_never_evict"]`). Nothing is sent to check it: it
    /// is what the operator promises, and what ``MemcachedBackend/capabilities`` reports.
    public var serversNeverEvict = false
    /// How many servers hold each key (`OPTIONS["replicas"]`, 1 by default: libmemcached's own
    /// distribution). 2 or more selects ``ReplicatedMemcachedBackend``.
    public var replicas = 1

    /// The option names `OPTIONS` may hold.
    public static let names: Set<String> = [
        "pool_size", "connect_timeout", "send_timeout", "receive_timeout", "poll_timeout", "read_timeout", "tcp_nodelay", "binary",
        "failure_limit", "retry_timeout", "remove_failed_servers", "distribution", "max_value_size", "behaviors",
        "servers_never_evict", "replicas",
    ]

    /// The bytes memcached needs for an item beyond its key and value (header, CAS, line ends);
    /// a value fits when `key + value + itemOverhead <= maxValueSize`.
    public static let itemOverhead = 64

    /// Default options.
    public init() {}

    /// Reads `OPTIONS` from an alias's settings.
    ///
    /// - Parameters:
    ///   - settings: The alias's settings.
    ///   - alias: The alias, named in errors.
    /// - Throws: ``/Caching/CacheError/Code/invalidSettings`` naming the alias and the option for an
    ///   unknown option, a wrong type or a value out of range.
    public init(settings: CacheSettings, alias: String) throws(CacheError) {
        try settings.rejectUnknownOptions(allowed: Self.names, alias: alias, backend: "memcached")
        poolSize = try settings.integerOption("pool_size", default: poolSize, alias: alias)
        connectTimeout = try settings.numberOption("connect_timeout", default: connectTimeout, alias: alias)
        sendTimeout = try settings.numberOption("send_timeout", default: sendTimeout, alias: alias)
        receiveTimeout = try settings.numberOption("receive_timeout", default: receiveTimeout, alias: alias)
        pollTimeout = try settings.numberOption("poll_timeout", default: pollTimeout, alias: alias)
        switch settings.options["read_timeout"] {
        case nil, .null?: readTimeout = nil
        default: readTimeout = try settings.numberOption("read_timeout", default: 1, alias: alias)
        }
        tcpNoDelay = try settings.boolOption("tcp_nodelay", default: tcpNoDelay, alias: alias)
        binaryProtocol = try settings.boolOption("binary", default: binaryProtocol, alias: alias)
        failureLimit = try settings.integerOption("failure_limit", default: failureLimit, alias: alias)
        retryTimeout = try settings.numberOption("retry_timeout", default: retryTimeout, alias: alias)
        removeFailedServers = try settings.boolOption("remove_failed_servers", default: removeFailedServers, alias: alias)
        distribution = try settings.stringOption("distribution", default: distribution, alias: alias) ?? distribution
        maxValueSize = try settings.integerOption("max_value_size", default: maxValueSize, alias: alias)
        serversNeverEvict = try settings.boolOption("servers_never_evict", default: serversNeverEvict, alias: alias)
        replicas = try settings.integerOption("replicas", default: replicas, alias: alias)
        switch settings.options["behaviors"] {
        case nil: break
        case .object(let members)?: behaviors = members
        case let other?: throw Self.invalid(alias, "behaviors", "must be an object of libmemcached behaviours; found \(other.kind)")
        }
        try validate(alias: alias)
    }

    /// Checks ranges and names.
    ///
    /// - Parameter alias: The alias, named in errors.
    /// - Throws: ``/Caching/CacheError/Code/invalidSettings``.
    public func validate(alias: String) throws(CacheError) {
        guard (1...256).contains(poolSize) else { throw Self.invalid(alias, "pool_size", "must be between 1 and 256; found \(poolSize)") }
        for (name, value) in [
            ("connect_timeout", connectTimeout), ("send_timeout", sendTimeout), ("receive_timeout", receiveTimeout),
            ("poll_timeout", pollTimeout),
        ] where !(value > 0 && value <= 3600) {
            throw Self.invalid(alias, name, "must be a number of seconds above 0 and at most 3600; found \(value)")
        }
        if let readTimeout, !(readTimeout > 0 && readTimeout <= 3600) {
            throw Self.invalid(alias, "read_timeout", "must be null or a number of seconds above 0 and at most 3600; found \(readTimeout)")
        }
        guard retryTimeout >= 0, retryTimeout <= 86400 else {
            throw Self.invalid(alias, "retry_timeout", "must be between 0 and 86400 seconds; found \(retryTimeout)")
        }
        guard replicas >= 1 else { throw Self.invalid(alias, "replicas", "must be 1 or more; found \(replicas)") }
        guard failureLimit >= 1 else { throw Self.invalid(alias, "failure_limit", "must be 1 or more; found \(failureLimit)") }
        guard maxValueSize > Self.itemOverhead + CacheKeyRules.maxLength else {
            throw Self.invalid(
                alias, "max_value_size", "must be more than \(Self.itemOverhead + CacheKeyRules.maxLength) bytes; found \(maxValueSize)")
        }
        guard MemcachedBehaviors.distributions[distribution] != nil else {
            throw Self.invalid(
                alias, "distribution",
                "must be one of \(MemcachedBehaviors.distributions.keys.sorted().joined(separator: ", ")); found \"\(distribution)\"")
        }
        for (name, value) in behaviors {
            _ = try MemcachedBehaviors.resolve(name: name, value: value, alias: alias)
        }
    }

    static func invalid(_ alias: String, _ option: String, _ problem: String) -> CacheError {
        invalid(alias, [option], problem)
    }

    static func invalid(_ alias: String, _ path: [String], _ problem: String) -> CacheError {
        CacheSettings.invalid(alias, ["OPTIONS"] + path, problem)
    }
}

/// libmemcached behaviours by name, as pylibmc's `behaviors` takes them.
enum MemcachedBehaviors {
    static let distributions: [String: UInt64] = [
        "modula": UInt64(MEMCACHED_DISTRIBUTION_MODULA.rawValue),
        "consistent": UInt64(MEMCACHED_DISTRIBUTION_CONSISTENT.rawValue),
        "ketama": UInt64(MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA.rawValue),
        "random": UInt64(MEMCACHED_DISTRIBUTION_RANDOM.rawValue),
        "ketama_spy": UInt64(MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA_SPY.rawValue),
    ]

    static let hashes: [String: UInt64] = [
        "default": UInt64(MEMCACHED_HASH_DEFAULT.rawValue), "md5": UInt64(MEMCACHED_HASH_MD5.rawValue),
        "crc": UInt64(MEMCACHED_HASH_CRC.rawValue), "fnv1_64": UInt64(MEMCACHED_HASH_FNV1_64.rawValue),
        "fnv1a_64": UInt64(MEMCACHED_HASH_FNV1A_64.rawValue), "fnv1_32": UInt64(MEMCACHED_HASH_FNV1_32.rawValue),
        "fnv1a_32": UInt64(MEMCACHED_HASH_FNV1A_32.rawValue), "hsieh": UInt64(MEMCACHED_HASH_HSIEH.rawValue),
        "murmur": UInt64(MEMCACHED_HASH_MURMUR.rawValue), "jenkins": UInt64(MEMCACHED_HASH_JENKINS.rawValue),
        "murmur3": UInt64(MEMCACHED_HASH_MURMUR3.rawValue),
    ]

    /// libmemcached's behaviour names (without `MEMCACHED_BEHAVIOR_`, lower case) and pylibmc's aliases.
    static let byName: [String: memcached_behavior_t] = [
        "no_block": MEMCACHED_BEHAVIOR_NO_BLOCK, "tcp_nodelay": MEMCACHED_BEHAVIOR_TCP_NODELAY,
        "hash": MEMCACHED_BEHAVIOR_HASH, "ketama": MEMCACHED_BEHAVIOR_KETAMA,
        "socket_send_size": MEMCACHED_BEHAVIOR_SOCKET_SEND_SIZE, "socket_recv_size": MEMCACHED_BEHAVIOR_SOCKET_RECV_SIZE,
        "cache_lookups": MEMCACHED_BEHAVIOR_CACHE_LOOKUPS, "support_cas": MEMCACHED_BEHAVIOR_SUPPORT_CAS,
        "cas": MEMCACHED_BEHAVIOR_SUPPORT_CAS, "poll_timeout": MEMCACHED_BEHAVIOR_POLL_TIMEOUT,
        "distribution": MEMCACHED_BEHAVIOR_DISTRIBUTION, "sort_hosts": MEMCACHED_BEHAVIOR_SORT_HOSTS,
        "verify_key": MEMCACHED_BEHAVIOR_VERIFY_KEY, "connect_timeout": MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT,
        "retry_timeout": MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, "ketama_weighted": MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED,
        "ketama_hash": MEMCACHED_BEHAVIOR_KETAMA_HASH, "binary_protocol": MEMCACHED_BEHAVIOR_BINARY_PROTOCOL,
        "snd_timeout": MEMCACHED_BEHAVIOR_SND_TIMEOUT, "send_timeout": MEMCACHED_BEHAVIOR_SND_TIMEOUT,
        "rcv_timeout": MEMCACHED_BEHAVIOR_RCV_TIMEOUT, "receive_timeout": MEMCACHED_BEHAVIOR_RCV_TIMEOUT,
        "server_failure_limit": MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT, "failure_limit": MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT,
        "io_msg_watermark": MEMCACHED_BEHAVIOR_IO_MSG_WATERMARK, "io_bytes_watermark": MEMCACHED_BEHAVIOR_IO_BYTES_WATERMARK,
        "io_key_prefetch": MEMCACHED_BEHAVIOR_IO_KEY_PREFETCH, "hash_with_prefix_key": MEMCACHED_BEHAVIOR_HASH_WITH_PREFIX_KEY,
        "auto_eject_hosts": MEMCACHED_BEHAVIOR_AUTO_EJECT_HOSTS, "number_of_replicas": MEMCACHED_BEHAVIOR_NUMBER_OF_REPLICAS,
        "num_replicas": MEMCACHED_BEHAVIOR_NUMBER_OF_REPLICAS, "randomize_replica_read": MEMCACHED_BEHAVIOR_RANDOMIZE_REPLICA_READ,
        "remove_failed_servers": MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS, "remove_failed": MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS,
        "dead_timeout": MEMCACHED_BEHAVIOR_DEAD_TIMEOUT, "server_timeout_limit": MEMCACHED_BEHAVIOR_SERVER_TIMEOUT_LIMIT,
        "tcp_keepalive": MEMCACHED_BEHAVIOR_TCP_KEEPALIVE, "tcp_keepidle": MEMCACHED_BEHAVIOR_TCP_KEEPIDLE,
    ]

    /// Behaviours that would break the backend's semantics (replies it relies on, or TCP).
    static let refused: [String: String] = [
        "noreply": "without replies the backend cannot report stored, missing or failed",
        "buffer_requests": "buffered writes are not confirmed, so a failed write would go unreported",
        "use_udp": "the backend speaks TCP (or unix sockets) only",
        "user_data": "it is not a setting",
        "load_from_file": "give the servers in LOCATION",
        "cork": "it has no effect on this client",
    ]

    /// The behaviour and value a `behaviors` entry sets.
    static func resolve(name: String, value: SettingsValue, alias: String) throws(CacheError) -> (memcached_behavior_t, UInt64) {
        var key = name.lowercased()
        if key.hasPrefix("memcached_behavior_") { key.removeFirst("memcached_behavior_".count) }
        if let reason = refused[key] {
            throw MemcachedOptions.invalid(alias, ["behaviors", name], "cannot be set: \(reason)")
        }
        guard let behavior = byName[key] else {
            throw MemcachedOptions.invalid(
                alias, ["behaviors", name],
                "is not a libmemcached behaviour; known: \(byName.keys.sorted().joined(separator: ", "))")
        }
        switch value {
        case .bool(let flag): return (behavior, flag ? 1 : 0)
        case .int(let number) where number >= 0: return (behavior, UInt64(number))
        case .string(let text) where key == "distribution":
            guard let number = distributions[text.lowercased()] else { break }
            return (behavior, number)
        case .string(let text) where key == "hash" || key == "ketama_hash":
            guard let number = hashes[text.lowercased()] else { break }
            return (behavior, number)
        default: break
        }
        throw MemcachedOptions.invalid(
            alias, ["behaviors", name],
            "must be true, false or a non-negative integer (or a name for distribution and hash); found \(value)")
    }
}
