public import Caching
public import Configuration
public import Logging

extension CacheSettings {
    /// The aliases read when `caches.aliases` is not set.
    public static let defaultConfigAliases = [Caches.defaultAlias]

    /// Reads the settings of every alias from a `ConfigReader`, with the keys of Django's `CACHES`
    /// in the configuration key style: `caches.<alias>.backend`, `caches.<alias>.location`,
    /// `caches.<alias>.timeout`, `caches.<alias>.key_prefix`, `caches.<alias>.version`,
    /// `caches.<alias>.key_validation` and `caches.<alias>.options.<name in lower case>`
    /// (environment variables `CACHES_DEFAULT_BACKEND`, `CACHES_DEFAULT_OPTIONS_MAX_ENTRIES`…).
    ///
    /// A `ConfigReader` cannot list its keys, so the aliases are those the list `caches.aliases`
    /// names (`CACHES_ALIASES=default,sessions`), or ``defaultConfigAliases`` (`default`) when it
    /// is not set.
    ///
    /// The values found are put together as one alias's Django-shaped JSON and checked by
    /// `CacheSettings/init(_:alias:)`, so the rules and the errors are those of a JSON settings
    /// file: a malformed setting fails with `CacheError/Code/invalidSettings` naming the alias and
    /// the setting (`CACHES["default"]["TIMEOUT"] must be a number of seconds…`). A value of the
    /// wrong type is read again as what it is, so the error shows what was found — except a
    /// secret, which is never shown.
    ///
    /// Secrets (`LOCATION`, which may hold a Redis URL with a password, and the options
    /// ``CacheOptionKeys`` marks, such as Redis's `password` and the databases' `database`) are read
    /// with `isSecret: true`, so an access reporter shows them redacted.
    ///
    /// - Parameters:
    ///   - config: The reader (environment variables, files, in-memory values…).
    ///   - optionKeys: The options each backend reads.
    /// - Returns: The settings by alias.
    /// - Throws: `CacheError/Code/invalidSettings` naming the alias and the setting.
    public static func settings(
        from config: ConfigReader, optionKeys: CacheOptionKeys = .standard
    ) async throws(CacheError) -> [String: CacheSettings] {
        let aliasesValue = await ConfigValueReading.read(config, key: ["caches", "aliases"], as: .stringList, isSecret: false)
        let aliases: [String]
        switch aliasesValue {
        case nil: aliases = defaultConfigAliases
        case .array(let items)?:
            aliases = items.compactMap { if case .string(let text) = $0 { text } else { nil } }
        case .string(let text)?: aliases = [text]
        case let other?:
            throw CacheError(.invalidSettings, "The configuration key caches.aliases must be a list of alias names; found \(other)")
        }
        var result: [String: CacheSettings] = [:]
        for alias in aliases {
            guard !alias.isEmpty, !alias.contains("."), alias.first != " ", alias.last != " " else {
                throw CacheError(
                    .invalidSettings,
                    "The configuration key caches.aliases names \"\(alias)\"; an alias must be non-empty, without dots or spaces at either end"
                )
            }
            guard result[alias] == nil else {
                throw CacheError(.invalidSettings, "The configuration key caches.aliases names \"\(alias)\" twice")
            }
            result[alias] = try await CacheSettings(config: config, alias: alias, optionKeys: optionKeys)
        }
        return result
    }

    /// Reads one alias's settings from a `ConfigReader` (keys under `caches.<alias>`); see
    /// ``settings(from:optionKeys:)``.
    ///
    /// - Parameters:
    ///   - config: The reader.
    ///   - alias: The alias.
    ///   - optionKeys: The options each backend reads.
    /// - Throws: `CacheError/Code/invalidSettings` naming the alias and the setting.
    public init(config: ConfigReader, alias: String, optionKeys: CacheOptionKeys = .standard) async throws(CacheError) {
        let scope = config.scoped(to: ConfigKey(["caches", alias]))
        var members: [String: SettingsValue] = [:]
        let topLevel: [(name: String, kind: ConfigValueReading.Kind, isSecret: Bool)] = [
            ("BACKEND", .string, false), ("LOCATION", .stringList, true), ("TIMEOUT", .numberOrNull, false),
            ("KEY_PREFIX", .string, false), ("VERSION", .integer, false), ("KEY_VALIDATION", .string, false),
        ]
        for (name, kind, isSecret) in topLevel {
            members[name] = try await ConfigValueReading.readChecked(
                scope, key: ConfigKey([name.lowercased()]), as: kind, isSecret: isSecret, alias: alias, setting: [name])
        }
        var options: [String: SettingsValue] = [:]
        if case .string(let backend)? = members["BACKEND"] {
            let own = optionKeys.options(forBackend: backend)
            let ownKeys = Set(own.map(\.configKey))
            // The backend's own options, then every other registered one: an option of another
            // backend reaches this one, which refuses it as it would in a JSON file.
            let others = optionKeys.allOptions.filter { !ownKeys.contains($0.configKey) }
            let optionScope = scope.scoped(to: "options")
            for option in own + others {
                options[option.name] = try await ConfigValueReading.readChecked(
                    optionScope, key: ConfigKey([option.configKey]), as: ConfigValueReading.Kind(option.kind),
                    isSecret: option.isSecret, alias: alias, setting: ["OPTIONS", option.name])
            }
        }
        if !options.isEmpty { members["OPTIONS"] = .object(options) }
        try self.init(.object(members), alias: alias)
    }

    /// The settings as Django-shaped JSON with every secret replaced by `"***"`: the options
    /// ``CacheOptionKeys`` marks secret, and a `LOCATION` that holds credentials (`user:password@`
    /// or `password=`). Fit for a log.
    ///
    /// - Parameter optionKeys: Which options are secrets.
    /// - Returns: The JSON value, for a log line.
    public func redactedJSONValue(optionKeys: CacheOptionKeys = .standard) -> SettingsValue {
        guard case .object(var members) = jsonValue else { return jsonValue }
        if case .object(var options)? = members["OPTIONS"] {
            for name in options.keys where optionKeys.isSecret(name) { options[name] = "***" }
            members["OPTIONS"] = .object(options)
        }
        let redactedLocation = location.map { $0.contains("@") || $0.lowercased().contains("password") ? "***" : $0 }
        switch redactedLocation.count {
        case 0: break
        case 1: members["LOCATION"] = .string(redactedLocation[0])
        default: members["LOCATION"] = .array(redactedLocation.map(SettingsValue.string))
        }
        return .object(members)
    }
}

extension Caches {
    /// Builds every alias from a `ConfigReader`: the settings of
    /// `CacheSettings/settings(from:optionKeys:)`, then `Caches/init(_:backends:clock:logger:observability:)`.
    ///
    /// ```swift
    /// let config = ConfigReader(providers: [EnvironmentVariablesProvider(), InMemoryProvider(values: defaults)])
    /// let caches = try await Caches(config: config, backends: CacheBackends.standard.withRedis())
    /// ```
    ///
    /// Each alias's settings are logged once at `info`, with every secret replaced by `***`.
    ///
    /// - Parameters:
    ///   - config: The reader.
    ///   - backends: The backends settings may name.
    ///   - optionKeys: The options each backend reads.
    ///   - clock: The clock every alias measures expiry by.
    ///   - logger: The logger every alias logs to.
    ///   - observability: Where every alias reports metrics and spans; off by default.
    /// - Throws: `CacheError/Code/invalidSettings` or `CacheError/Code/unknownBackend`
    ///   naming the alias and the setting, as for a JSON settings file.
    public convenience init(
        config: ConfigReader, backends: CacheBackends = .standard, optionKeys: CacheOptionKeys = .standard,
        clock: any CacheClock = SystemCacheClock(), logger: Logger = CacheConfiguration.silentLogger,
        observability: CacheObservability = .off
    ) async throws {
        let settings = try await CacheSettings.settings(from: config, optionKeys: optionKeys)
        for (alias, aliasSettings) in settings.sorted(by: { $0.key < $1.key }) {
            logger.info(
                "Cache alias configured",
                metadata: ["cache.alias": "\(alias)", "cache.settings": "\(aliasSettings.redactedJSONValue(optionKeys: optionKeys))"])
        }
        try self.init(settings, backends: backends, clock: clock, logger: logger, observability: observability)
    }
}

/// Reads one value of an expected type from a `ConfigReader` as a `SettingsValue`.
enum ConfigValueReading {
    enum Kind {
        case integer, number, numberOrNull, boolean, string, stringList

        init(_ kind: CacheOptionKey.Kind) {
            switch kind {
            case .integer: self = .integer
            case .number: self = .number
            case .numberOrNull: self = .numberOrNull
            case .boolean: self = .boolean
            case .string: self = .string
            }
        }
    }

    /// The value as the expected type, or nil when absent or of another type.
    static func read(_ config: ConfigReader, key: ConfigKey, as kind: Kind, isSecret: Bool) async -> SettingsValue? {
        switch kind {
        case .integer:
            return (try? await config.fetchInt(forKey: key, isSecret: isSecret)).map(SettingsValue.int)
        case .number, .numberOrNull:
            if let int = try? await config.fetchInt(forKey: key, isSecret: isSecret) { return .int(int) }
            if let double = try? await config.fetchDouble(forKey: key, isSecret: isSecret) { return .double(double) }
            // An environment variable or a file says "null" for none.
            if kind == .numberOrNull, let text = try? await config.fetchString(forKey: key, isSecret: isSecret),
                text.lowercased() == "null"
            {
                return .null
            }
            return nil
        case .boolean:
            return (try? await config.fetchBool(forKey: key, isSecret: isSecret)).map(SettingsValue.bool)
        case .string:
            return (try? await config.fetchString(forKey: key, isSecret: isSecret)).map(SettingsValue.string)
        case .stringList:
            if let list = try? await config.fetchStringArray(forKey: key, isSecret: isSecret) {
                return list.count == 1 ? .string(list[0]) : .array(list.map(SettingsValue.string))
            }
            return (try? await config.fetchString(forKey: key, isSecret: isSecret)).map(SettingsValue.string)
        }
    }

    /// Whether the key holds a value of any type.
    static func isPresent(_ config: ConfigReader, key: ConfigKey, isSecret: Bool) async -> Bool {
        for kind in [Kind.string, .integer, .number, .boolean, .stringList]
        where await read(config, key: key, as: kind, isSecret: isSecret) != nil {
            return true
        }
        return await isPresentAsOtherArray(config, key: key, isSecret: isSecret)
    }

    private static func isPresentAsOtherArray(_ config: ConfigReader, key: ConfigKey, isSecret: Bool) async -> Bool {
        if (try? await config.fetchIntArray(forKey: key, isSecret: isSecret)) != nil { return true }
        if (try? await config.fetchDoubleArray(forKey: key, isSecret: isSecret)) != nil { return true }
        if (try? await config.fetchBoolArray(forKey: key, isSecret: isSecret)) != nil { return true }
        return (try? await config.fetchBytes(forKey: key, isSecret: isSecret)) != nil
    }

    /// The value as the expected type; a value of another type is read as what it is so that
    /// `CacheSettings` reports it as it would from JSON; a secret of another type fails here
    /// without being shown.
    static func readChecked(
        _ config: ConfigReader, key: ConfigKey, as kind: Kind, isSecret: Bool, alias: String, setting: [String]
    ) async throws(CacheError) -> SettingsValue? {
        if let value = await read(config, key: key, as: kind, isSecret: isSecret) { return value }
        guard await isPresent(config, key: key, isSecret: isSecret) else { return nil }
        if isSecret {
            throw CacheSettings.invalid(
                alias, setting, "must be \(kind.expectation); found a value of another type (not shown: the setting is a secret)")
        }
        for other in [Kind.integer, .number, .boolean, .string, .stringList] {
            if let value = await read(config, key: key, as: other, isSecret: false) { return value }
        }
        if let ints = try? await config.fetchIntArray(forKey: key) { return .array(ints.map(SettingsValue.int)) }
        if let doubles = try? await config.fetchDoubleArray(forKey: key) { return .array(doubles.map(SettingsValue.double)) }
        if let bools = try? await config.fetchBoolArray(forKey: key) { return .array(bools.map(SettingsValue.bool)) }
        throw CacheSettings.invalid(alias, setting, "must be \(kind.expectation); found bytes")
    }
}

extension ConfigValueReading.Kind {
    var expectation: String {
        switch self {
        case .integer: "an integer"
        case .number: "a number"
        case .numberOrNull: "a number or null"
        case .boolean: "true or false"
        case .string: "a string"
        case .stringList: "a string or a list of strings"
        }
    }
}
