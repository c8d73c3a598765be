// swift-tools-version:6.1
import PackageDescription

/// Strictness is policy: set once here, so every file is held to it.
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .unsafeFlags(["-Xfrontend", "-require-explicit-sendable"]),
]

let package = Package(
    name: "swift-caching",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Caching", targets: ["Caching"]),
        .library(name: "CachingTesting", targets: ["CachingTesting"]),
        .library(name: "CachingMemcached", targets: ["CachingMemcached"]),
        .library(name: "CachingRedis", targets: ["CachingRedis"]),
        .library(name: "CachingSQLite", targets: ["CachingSQLite"]),
        .library(name: "CachingPostgres", targets: ["CachingPostgres"]),
        .library(name: "CachingConfiguration", targets: ["CachingConfiguration"]),
        .library(name: "TokenRevocation", targets: ["TokenRevocation"]),
        .library(name: "TokenAuth", targets: ["TokenAuth"]),
        .executable(name: "CacheTour", targets: ["CacheTour"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        // Caching: `Caches` runs as a Service in a ServiceGroup and shuts its aliases down.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // Caching: metrics and traces per alias, off unless configured (docs/PERFORMANCE.md has
        // their build cost).
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        // CachingConfiguration only: `Caches` from a ConfigReader. No traits: the core providers
        // (environment, in-memory, directory of files) need none, and Hummingbird asks for none
        // either, so the example builds the same module it already builds (docs/PERFORMANCE.md
        // has the cost). An application that wants JSON or YAML files enables the trait in its own
        // dependency on swift-configuration.
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: []),
        // Tests only: FilePath for swift-configuration's DirectoryFilesProvider (already built with it).
        .package(url: "https://github.com/apple/swift-system", from: "1.5.0"),
        // scripts/docs.sh only: `swift package generate-documentation` (a plugin, never linked).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .target(
            name: "Caching",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        .systemLibrary(
            name: "CLibmemcached",
            pkgConfig: "libmemcached",
            providers: [.apt(["libmemcached-dev"])]
        ),
        .target(
            name: "CachingMemcached",
            dependencies: [
                "Caching", "CLibmemcached", .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .systemLibrary(
            name: "CHiredis",
            // No pkgConfig: hiredis.pc adds -D_FILE_OFFSET_BITS=64, which SwiftPM warns about
            // and drops; the header is found as <hiredis/hiredis.h> and the module map links it.
            providers: [.apt(["libhiredis-dev"])]
        ),
        .target(
            name: "CachingRedis",
            dependencies: [
                "Caching", "CHiredis", .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // Django's DatabaseCache on SQLite: the system's libsqlite3, as libmemcached and hiredis
        // (a clean build adds ~4 CPU-s; sqlite-nio or GRDB cost far more, see docs/PERFORMANCE.md).
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]
        ),
        // A SQLite VFS whose reads never wait for the disk, so cached reads can run on the
        // caller's task (one C file; Linux only, elsewhere every read uses the backend's threads).
        .target(
            name: "CSQLiteNoWait",
            dependencies: ["CSQLite"],
            path: "Sources/CSQLiteNoWait"
        ),
        .target(
            name: "CachingSQLite",
            dependencies: [
                "Caching", "CSQLite", "CSQLiteNoWait",
                // DatabaseRevocation: a RevocationStore in SQL, and its cleanup Service.
                "TokenRevocation",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // Django's DatabaseCache on PostgreSQL: the system's libpq (~5 CPU-s to build, where
        // postgres-nio costs ~580, see docs/PERFORMANCE.md).
        .systemLibrary(
            name: "CLibpq",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"]), .brew(["libpq"])]
        ),
        .target(
            name: "CachingPostgres",
            dependencies: [
                "Caching", "CachingSQLite", "CLibpq", "TokenRevocation", .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "CachingTesting",
            dependencies: [
                "Caching",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Caches from apple/swift-configuration's ConfigReader, apart so that users of Caching
        // alone never build swift-configuration.
        .target(
            name: "CachingConfiguration",
            dependencies: [
                "Caching",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TokenRevocation",
            dependencies: ["Caching"],
            swiftSettings: swiftSettings
        ),
        // TokenAuth's HMAC-SHA2 on Linux: the system's OpenSSL libcrypto (3.0 or later). Apple
        // platforms use CommonCrypto instead (see Sources/TokenAuth/JWS/PlatformHMAC.swift).
        .systemLibrary(
            name: "CLibcrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"]), .brew(["openssl"])]
        ),
        .target(
            name: "TokenAuth",
            dependencies: [
                "TokenRevocation", "Caching",
                .target(name: "CLibcrypto", condition: .when(platforms: [.linux])),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "CacheTour",
            dependencies: ["Caching"],
            path: "Examples/CacheTour",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "FileCacheProcessHelper",
            dependencies: ["Caching", "CachingTesting"],
            path: "Tests/FileCacheProcessHelper",
            swiftSettings: swiftSettings
        ),
        // The core's tests: no libmemcached, no Python.
        .testTarget(
            name: "CachingTests",
            dependencies: [
                "Caching", "CachingTesting", "FileCacheProcessHelper",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CachingMemcachedTests",
            dependencies: [
                "Caching", "CachingTesting", "CachingMemcached", "LifecycleProbe",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            ],
            exclude: ["Interop/django_memcached_interop.py"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CachingRedisTests",
            dependencies: [
                "Caching", "CachingTesting", "CachingRedis", "LifecycleProbe",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            ],
            exclude: ["Interop/django_pickle_interop.py"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CachingSQLiteTests",
            dependencies: [
                // CachingPostgres: the suite of values both ways with Django runs on both databases.
                "Caching", "CachingTesting", "CachingSQLite", "CachingPostgres", "CSQLite", "CSQLiteNoWait", "LifecycleProbe",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            exclude: ["Interop/django_db_interop.py"],
            swiftSettings: swiftSettings
        ),
        // The ConfigReader path against the JSON path, with every backend's options.
        .testTarget(
            name: "CachingConfigurationTests",
            dependencies: [
                "Caching", "CachingConfiguration", "CachingMemcached", "CachingRedis", "CachingSQLite", "CachingPostgres", "CachingTesting",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CachingPostgresTests",
            dependencies: [
                "Caching", "CachingTesting", "CachingPostgres", .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // The child process of the lifecycle tests (threads and descriptors given back), for
        // memcached, Redis and SQLite, and of the SQLite read-only and disk-full fault tests.
        .executableTarget(
            name: "LifecycleProbe",
            dependencies: [
                "Caching", "CachingMemcached", "CachingRedis", "CachingSQLite", "CachingTesting", "TokenRevocation",
            ],
            path: "Tests/LifecycleProbe",
            swiftSettings: swiftSettings
        ),
        // The memcached and Redis servers the revocation and authentication suites run each
        // check against, from one body.
        .target(
            name: "RemoteCacheFixtures",
            dependencies: ["Caching", "CachingMemcached", "CachingRedis", "CachingTesting"],
            path: "Tests/RemoteCacheFixtures",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TokenRevocationTests",
            dependencies: [
                "TokenRevocation", "Caching", "CachingMemcached", "CachingRedis", "CachingTesting", "RemoteCacheFixtures",
                "CachingSQLite", "CachingPostgres",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["Interop/bolt_revocation_interop.py"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TokenAuthTests",
            dependencies: [
                "TokenAuth", "TokenRevocation", "Caching", "CachingMemcached", "CachingRedis", "CachingTesting",
                "RemoteCacheFixtures",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
