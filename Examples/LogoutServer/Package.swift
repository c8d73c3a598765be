// swift-tools-version:6.1
import PackageDescription

// The logout server example lives in a package of its own, so the library's users never
// resolve Hummingbird. Run it from the repository root:
//   swift run --package-path Examples/LogoutServer LogoutServer
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "LogoutServer",
    platforms: [.macOS(.v15)],
    // `swift build --package-path Examples/LogoutServer --traits OTLP` adds the OTLP trace exporter
    // (swift-otel). Off by default: swift-otel and its graph take minutes to compile, and the
    // default build (what CI builds) never compiles them.
    traits: [
        .trait(name: "OTLP", description: "Export traces over OTLP/HTTP with swift-otel (--otlp-endpoint)")
    ],
    dependencies: [
        .package(name: "swift-caching", path: "../.."),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        // Already built for Hummingbird (its default trait ConfigurationSupport, with no traits of
        // swift-configuration's own): the server reads its settings through a ConfigReader.
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: []),
        // Tests only: InMemoryLogging, to read what the server logs with a request id.
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        // GET /metrics in Prometheus' text format.
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // The Tracer protocol (the app's request spans), and InMemoryTracing for the tests.
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.3.0"),
        // Only with the OTLP trait, and then only its OTLP/HTTP exporter (not gRPC's graph).
        .package(url: "https://github.com/swift-otel/swift-otel", from: "1.6.0", traits: ["OTLPHTTP"]),
    ],
    targets: [
        .target(
            name: "LogoutServerApp",
            dependencies: [
                .product(name: "Caching", package: "swift-caching"),
                .product(name: "CachingMemcached", package: "swift-caching"),
                .product(name: "CachingRedis", package: "swift-caching"),
                // Small system-library modules (libsqlite3, libpq): `--revocation database:<alias>`.
                .product(name: "CachingSQLite", package: "swift-caching"),
                .product(name: "CachingPostgres", package: "swift-caching"),
                .product(name: "TokenAuth", package: "swift-caching"),
                .product(name: "TokenRevocation", package: "swift-caching"),
                .product(name: "CachingConfiguration", package: "swift-caching"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "LogoutServer",
            dependencies: [
                "LogoutServerApp",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "OTel", package: "swift-otel", condition: .when(traits: ["OTLP"])),
            ],
            swiftSettings: swiftSettings
        ),
        // The floor for the load test (scripts/load-test.sh): Hummingbird answering a fixed body.
        .executableTarget(
            name: "BareServer",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "LogoutServerTests",
            dependencies: [
                "LogoutServer", "LogoutServerApp",
                .product(name: "Caching", package: "swift-caching"),
                .product(name: "CachingTesting", package: "swift-caching"),
                .product(name: "TokenAuth", package: "swift-caching"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
