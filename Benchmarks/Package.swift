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

/// The root package's identity is its directory's name (a path dependency), whatever the
/// clone or worktree is called.
let rootPackage: String = {
    let parts = Context.packageDirectory.split(separator: "/")
    return parts.count >= 2 ? String(parts[parts.count - 2]) : "swift-caching"
}()

let package = Package(
    name: "swift-caching-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
    ],
    targets: [
        .target(name: "BenchmarkSupport", swiftSettings: swiftSettings),
        .executableTarget(
            name: "TokenBenchmarks",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Caching", package: rootPackage),
                .product(name: "TokenRevocation", package: rootPackage),
                .product(name: "TokenAuth", package: rootPackage),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
