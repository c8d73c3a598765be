import Caching
import CachingTesting
import Testing

/// The local backends the conformance suite runs against here (memcached's run is in
/// CachingMemcachedTests).
enum LocalSubjects {
    static let localMemory = CacheConformanceSubject(name: "locmem", usesConfiguredClock: true) {
        let location = "conformance-\(UniqueName.next())"
        return CacheConformanceSubject.Storage(makeCache: { configuration in
            Cache.localMemory(location: location, maxEntries: 10_000, configuration: configuration)
        })
    }

    static let file = CacheConformanceSubject(name: "file", usesConfiguredClock: true) {
        let directory = TemporaryDirectory()
        return CacheConformanceSubject.Storage(
            makeCache: { configuration in
                try Cache.file(directory: directory.path, maxEntries: 10_000, configuration: configuration)
            },
            close: { directory.remove() })
    }

    static let all = [localMemory, file]
}

@Suite("Conformance: local memory and files")
struct ConformanceTests {
    @Test(arguments: LocalSubjects.all, CacheConformance.checks)
    func conformance(_ subject: CacheConformanceSubject, _ check: CacheConformanceCheck) async throws {
        try await check.run(on: subject)
    }
}
