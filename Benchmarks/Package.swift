// swift-tools-version:6.1
import PackageDescription

// Benchmarks live apart from the library so its own build stays lean.
// Run from this folder: `swift run -c release <BenchmarkName>` (see docs/PERFORMANCE.md).
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "swift-caching-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "swift-caching", path: ".."),
        // CachingBenchmarks' observability case: a metrics back end of its own (AtomicMetrics).
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
    ],
    targets: [
        .target(name: "BenchmarkSupport", swiftSettings: swiftSettings),
        .executableTarget(
            name: "CachingBenchmarks",
            dependencies: [
                "BenchmarkSupport", .product(name: "Caching", package: "swift-caching"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(name: "CMemcachedBaseline", linkerSettings: [.linkedLibrary("memcached")]),
        .executableTarget(
            name: "MemcachedBenchmarks",
            dependencies: [
                "BenchmarkSupport", "CMemcachedBaseline",
                .product(name: "Caching", package: "swift-caching"),
                .product(name: "CachingMemcached", package: "swift-caching"),
                .product(name: "CachingTesting", package: "swift-caching"),
                .product(name: "TokenRevocation", package: "swift-caching"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(name: "CRedisBaseline", linkerSettings: [.linkedLibrary("hiredis")]),
        .executableTarget(
            name: "RedisBenchmarks",
            dependencies: [
                "BenchmarkSupport", "CRedisBaseline",
                .product(name: "Caching", package: "swift-caching"),
                .product(name: "CachingRedis", package: "swift-caching"),
                .product(name: "CachingTesting", package: "swift-caching"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(name: "CSQLiteBaseline", linkerSettings: [.linkedLibrary("sqlite3")]),
        .executableTarget(
            name: "SQLiteBenchmarks",
            dependencies: [
                "BenchmarkSupport", "CSQLiteBaseline",
                .product(name: "Caching", package: "swift-caching"),
                .product(name: "CachingSQLite", package: "swift-caching"),
                .product(name: "TokenRevocation", package: "swift-caching"),
            ],
            swiftSettings: swiftSettings
        ),
        // PostgresBenchmarks' baseline: the revocation lookup through libpq, blocking, from C.
        .target(
            name: "CPostgresBaseline",
            cSettings: [.unsafeFlags(["-I/usr/include/postgresql"])],
            linkerSettings: [.linkedLibrary("pq")]
        ),
        .executableTarget(
            name: "PostgresBenchmarks",
            dependencies: [
                "BenchmarkSupport", "CPostgresBaseline",
                .product(name: "Caching", package: "swift-caching"),
                .product(name: "CachingPostgres", package: "swift-caching"),
                .product(name: "CachingSQLite", package: "swift-caching"),
                .product(name: "CachingTesting", package: "swift-caching"),
                .product(name: "TokenRevocation", package: "swift-caching"),
            ],
            swiftSettings: swiftSettings
        ),
        // TokenBenchmarks' baselines: HMAC-SHA256 from libcrypto, as TokenAuth computes it on Linux.
        .target(name: "CHMACBaseline", linkerSettings: [.linkedLibrary("crypto")]),
        .executableTarget(
            name: "TokenBenchmarks",
            dependencies: [
                "BenchmarkSupport", "CHMACBaseline",
                .product(name: "Caching", package: "swift-caching"),
                .product(name: "TokenRevocation", package: "swift-caching"),
                .product(name: "TokenAuth", package: "swift-caching"),
                .product(name: "CachingMemcached", package: "swift-caching"),
                .product(name: "CachingTesting", package: "swift-caching"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
