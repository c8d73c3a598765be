public import Caching

extension PostgresBackend {
    /// `db.system.name` postgresql, with `host` and `port` read from a key/value connection
    /// string (`host=127.0.0.1 port=5432 dbname=app`); nothing else of it (never a password).
    public var telemetry: CacheBackendTelemetry {
        var telemetry = CacheBackendTelemetry(system: "postgresql")
        for pair in options.database.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }) {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            switch parts[0] {
            case "host": telemetry.serverAddress = String(parts[1])
            case "port": telemetry.serverPort = Int(parts[1])
            default: continue
            }
        }
        return telemetry
    }
}
