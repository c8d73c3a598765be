public import Caching

extension SQLiteBackend {
    /// `db.system.name` sqlite; an embedded database has no server address.
    public var telemetry: CacheBackendTelemetry { CacheBackendTelemetry(system: "sqlite") }
}
