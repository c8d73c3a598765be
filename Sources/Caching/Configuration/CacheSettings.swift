#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One alias's settings, in the shape of an entry of Django's `CACHES`.
///
/// Decodes from JSON with Django's key names, so a settings file written for Django loads:
///
/// ```json
/// {
///   "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "main"},
///   "shared":  {"BACKEND": "memcached", "LOCATION": ["127.0.0.1:11211", "127.0.0.1:11212"],
///               "TIMEOUT": 600, "KEY_PREFIX": "app", "VERSION": 2,
///               "OPTIONS": {"pool_size": 8}}
/// }
/// ```
///
/// | key | type | default | meaning |
/// | --- | --- | --- | --- |
/// | `BACKEND` | string | required | a registered backend name: `locmem`, `file`, `dummy`, `memcached` (once registered), or Django's dotted path for one of them |
/// | `LOCATION` | string or list of strings | `""` | the store: a local-memory name, a directory, memcached servers |
/// | `TIMEOUT` | number or `null` | 300 | default timeout in seconds; `null` never expires; 0 or less stores nothing |
/// | `KEY_PREFIX` | string | `""` | prepended to every key |
/// | `VERSION` | integer | 1 | the default key version |
/// | `KEY_VALIDATION` | `"strict"` or `"warn"` | `"strict"` | what an invalid key does (an extension of Django's settings) |
/// | `OPTIONS` | object | `{}` | backend options, such as `MAX_ENTRIES` and `CULL_FREQUENCY` for `locmem` and `file` |
///
/// A key function (Django's `KEY_FUNCTION`) is code, so it is set in Swift through ``keyFunction``.
/// Unknown top-level keys are an error, so a misspelt setting is not silently ignored.
public struct CacheSettings: Sendable, Codable {
    /// The backend name (`BACKEND`).
    public var backend: String
    /// The store's location (`LOCATION`): one string, or several (memcached servers).
    public var location: [String]
    /// The default timeout (`TIMEOUT`).
    public var timeout: CacheTimeout
    /// The key prefix (`KEY_PREFIX`).
    public var keyPrefix: String
    /// The default version (`VERSION`).
    public var version: Int
    /// What an invalid key does (`KEY_VALIDATION`).
    public var keyValidation: CacheKeyValidation
    /// Backend options (`OPTIONS`).
    public var options: [String: SettingsValue]
    /// A custom key function (Django's `KEY_FUNCTION`); not part of the JSON form.
    public var keyFunction: CacheKeyFunction?

    /// Creates settings in Swift.
    ///
    /// - Parameters:
    ///   - backend: A registered backend name.
    ///   - location: The store's location.
    ///   - timeout: The default timeout.
    ///   - keyPrefix: The key prefix.
    ///   - version: The default version.
    ///   - keyValidation: What an invalid key does.
    ///   - options: Backend options.
    ///   - keyFunction: A custom key function.
    public init(
        backend: String, location: [String] = [], timeout: CacheTimeout = .seconds(DjangoDefaults.timeoutSeconds), keyPrefix: String = "",
        version: Int = 1, keyValidation: CacheKeyValidation = .strict, options: [String: SettingsValue] = [:],
        keyFunction: CacheKeyFunction? = nil
    ) {
        self.backend = backend
        self.location = location
        self.timeout = timeout == .default ? .seconds(DjangoDefaults.timeoutSeconds) : timeout
        self.keyPrefix = keyPrefix
        self.version = version
        self.keyValidation = keyValidation
        self.options = options
        self.keyFunction = keyFunction
    }

    /// Creates settings with a single location string.
    public init(
        backend: String, location: String, timeout: CacheTimeout = .seconds(DjangoDefaults.timeoutSeconds), keyPrefix: String = "",
        version: Int = 1, options: [String: SettingsValue] = [:]
    ) {
        self.init(
            backend: backend, location: [location], timeout: timeout, keyPrefix: keyPrefix, version: version,
            options: options)
    }

    /// The first location, or `""` when none is set.
    public var primaryLocation: String { location.first ?? "" }

    static let knownKeys: Set<String> = [
        "BACKEND", "LOCATION", "TIMEOUT", "KEY_PREFIX", "VERSION", "KEY_VALIDATION", "OPTIONS",
    ]

    /// Reads one alias's settings from a JSON value, with an error naming the alias and the
    /// setting when something is wrong.
    ///
    /// - Parameters:
    ///   - value: The alias's JSON object.
    ///   - alias: The alias, named in errors.
    /// - Throws: ``CacheError/Code/invalidSettings``.
    public init(_ value: SettingsValue, alias: String) throws(CacheError) {
        guard case .object(let members) = value else {
            throw Self.invalid(alias, nil, "must be an object with BACKEND, LOCATION, …; found \(value.kind)")
        }
        if let unknown = members.keys.filter({ !Self.knownKeys.contains($0) }).sorted().first {
            let hint =
                unknown == "KEY_FUNCTION"
                ? "a key function is code: set CacheSettings.keyFunction in Swift"
                : "known settings are \(Self.knownKeys.sorted().joined(separator: ", "))"
            throw Self.invalid(alias, unknown, "is not a setting this library reads (\(hint))")
        }
        guard let backendValue = members["BACKEND"] else {
            throw Self.invalid(alias, "BACKEND", "is missing; name a backend such as \"locmem\"")
        }
        guard case .string(let backend) = backendValue, !backend.isEmpty else {
            throw Self.invalid(alias, "BACKEND", "must be a non-empty string; found \(backendValue)")
        }
        self.backend = backend

        switch members["LOCATION"] ?? .null {
        case .null: location = []
        case .string(let string): location = [string]
        case .array(let items):
            location = try items.map { item throws(CacheError) in
                guard case .string(let string) = item else {
                    throw Self.invalid(alias, "LOCATION", "must be a string or a list of strings; found \(item.kind) in the list")
                }
                return string
            }
        case let other:
            throw Self.invalid(alias, "LOCATION", "must be a string or a list of strings; found \(other.kind)")
        }

        switch members["TIMEOUT"] {
        case nil: timeout = .seconds(DjangoDefaults.timeoutSeconds)
        case .null?: timeout = .never
        case .int(let seconds)?: timeout = .seconds(Double(seconds))
        case .double(let seconds)? where seconds.isFinite: timeout = .seconds(seconds)
        case let other?:
            throw Self.invalid(alias, "TIMEOUT", "must be a number of seconds or null (never expire); found \(other)")
        }

        switch members["KEY_PREFIX"] ?? .string("") {
        case .string(let prefix): keyPrefix = prefix
        case let other: throw Self.invalid(alias, "KEY_PREFIX", "must be a string; found \(other.kind)")
        }

        switch members["VERSION"] ?? .int(1) {
        case .int(let version): self.version = version
        case let other: throw Self.invalid(alias, "VERSION", "must be an integer; found \(other)")
        }

        switch members["KEY_VALIDATION"] ?? .string("strict") {
        case .string("strict"): keyValidation = .strict
        case .string("warn"): keyValidation = .warn
        case let other: throw Self.invalid(alias, "KEY_VALIDATION", "must be \"strict\" or \"warn\"; found \(other)")
        }

        switch members["OPTIONS"] ?? .object([:]) {
        case .object(let options): self.options = options
        case let other: throw Self.invalid(alias, "OPTIONS", "must be an object; found \(other.kind)")
        }
        keyFunction = nil
    }

    public init(from decoder: any Decoder) throws {
        let value = try SettingsValue(from: decoder)
        let alias = decoder.codingPath.last?.stringValue ?? "(unnamed)"
        try self.init(value, alias: alias)
    }

    /// The settings as Django-shaped JSON.
    public var jsonValue: SettingsValue {
        var members: [String: SettingsValue] = [
            "BACKEND": .string(backend),
            "KEY_PREFIX": .string(keyPrefix),
            "VERSION": .int(version),
            "OPTIONS": .object(options),
            "KEY_VALIDATION": .string(keyValidation == .strict ? "strict" : "warn"),
        ]
        switch location.count {
        case 0: break
        case 1: members["LOCATION"] = .string(location[0])
        default: members["LOCATION"] = .array(location.map(SettingsValue.string))
        }
        switch timeout {
        case .never: members["TIMEOUT"] = .null
        case .seconds(let seconds):
            members["TIMEOUT"] = seconds == seconds.rounded() && abs(seconds) < 1e15 ? .int(Int(seconds)) : .double(seconds)
        case .default: members["TIMEOUT"] = .int(Int(DjangoDefaults.timeoutSeconds))
        }
        return .object(members)
    }

    public func encode(to encoder: any Encoder) throws {
        try jsonValue.encode(to: encoder)
    }

    /// An ``CacheError/Code/invalidSettings`` error naming the alias and the setting.
    public static func invalid(_ alias: String, _ setting: String?, _ problem: String) -> CacheError {
        invalid(alias, setting.map { [$0] } ?? [], problem)
    }

    /// An ``CacheError/Code/invalidSettings`` error naming a nested setting by its path of
    /// names: `CACHES["alias"]["OPTIONS"]["MAX_ENTRIES"] must be…`.
    ///
    /// - Parameters:
    ///   - alias: The alias.
    ///   - path: The setting's names from the alias's object down (`["OPTIONS", "MAX_ENTRIES"]`).
    ///   - problem: What is wrong, and what to do.
    /// - Returns: The error.
    public static func invalid(_ alias: String, _ path: [String], _ problem: String) -> CacheError {
        let place = ([alias] + path).map { "[\"\($0)\"]" }.joined()
        return CacheError(.invalidSettings, "CACHES\(place) \(problem)")
    }

    /// Parses a whole Django-shaped `CACHES` JSON document (an object of aliases).
    ///
    /// - Parameter json: The UTF-8 JSON text.
    /// - Returns: Settings by alias.
    /// - Throws: ``CacheError/Code/invalidSettings`` for malformed JSON or settings.
    public static func parse(json: some Collection<UInt8>) throws(CacheError) -> [String: CacheSettings] {
        let document: SettingsValue
        do {
            document = try JSONDecoder().decode(SettingsValue.self, from: Data(json))
        } catch {
            throw CacheError(.invalidSettings, "The cache settings are not valid JSON: \(error)", underlying: error)
        }
        guard case .object(let aliases) = document else {
            throw CacheError(
                .invalidSettings, "The cache settings must be a JSON object of aliases, like Django's CACHES; found \(document.kind)")
        }
        var result: [String: CacheSettings] = [:]
        for (alias, value) in aliases {
            result[alias] = try CacheSettings(value, alias: alias)
        }
        return result
    }
}

extension CacheSettings {
    /// Reads an integer option, with a default when it is absent.
    ///
    /// - Throws: ``CacheError/Code/invalidSettings`` naming the alias and option when it is not an integer.
    public func integerOption(_ name: String, default defaultValue: Int, alias: String) throws(CacheError) -> Int {
        switch options[name] {
        case nil: return defaultValue
        case .int(let value)?: return value
        case .double(let value)? where value == value.rounded() && abs(value) < 1e15: return Int(value)
        case let other?: throw Self.invalid(alias, ["OPTIONS", name], "must be an integer; found \(other)")
        }
    }

    /// Reads a string option, with a default when it is absent.
    public func stringOption(_ name: String, default defaultValue: String?, alias: String) throws(CacheError) -> String? {
        switch options[name] {
        case nil: return defaultValue
        case .string(let value)?: return value
        case let other?: throw Self.invalid(alias, ["OPTIONS", name], "must be a string; found \(other)")
        }
    }

    /// Reads a boolean option, with a default when it is absent.
    public func boolOption(_ name: String, default defaultValue: Bool, alias: String) throws(CacheError) -> Bool {
        switch options[name] {
        case nil: return defaultValue
        case .bool(let value)?: return value
        case let other?: throw Self.invalid(alias, ["OPTIONS", name], "must be true or false; found \(other)")
        }
    }

    /// Reads a number option (seconds, for example), with a default when it is absent.
    public func numberOption(_ name: String, default defaultValue: Double, alias: String) throws(CacheError) -> Double {
        switch options[name] {
        case nil: return defaultValue
        case .int(let value)?: return Double(value)
        case .double(let value)? where value.isFinite: return value
        case let other?: throw Self.invalid(alias, ["OPTIONS", name], "must be a number; found \(other)")
        }
    }

    /// Fails when `OPTIONS` holds a name the backend does not read, so a misspelt option is not ignored.
    public func rejectUnknownOptions(allowed: Set<String>, alias: String, backend: String) throws(CacheError) {
        if let unknown = options.keys.filter({ !allowed.contains($0) }).sorted().first {
            throw Self.invalid(
                alias, ["OPTIONS", unknown],
                "is not an option of the \(backend) backend; it reads \(allowed.sorted().joined(separator: ", "))")
        }
    }
}
