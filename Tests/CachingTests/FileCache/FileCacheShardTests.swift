import Caching
import Foundation
import Testing

/// Writers to different keys must not queue on one lock: keys spread over the lock shards.
@Suite("FileCache lock shards")
struct FileCacheShardTests {
    @Test(
        "1,000 sequential keys spread over the shards, none above twice its fair share",
        arguments: ["app:1:session:%08d", ":1:revoked:%d", ":1:user-%d-profile", "%d"])
    func spread(pattern: String) {
        var counts = [Int](repeating: 0, count: FileBackend.lockShardCount)
        for index in 0..<1000 {
            let key = pattern.replacingOccurrences(of: "%08d", with: zeroPadded(index)).replacingOccurrences(of: "%d", with: "\(index)")
            counts[FileBackend.lockShard(forKey: key)] += 1
        }
        let fair = 1000 / FileBackend.lockShardCount
        #expect(counts.max()! <= 2 * fair, "shard counts: \(counts)")
        #expect(counts.min()! > 0, "shard counts: \(counts)")
    }

    private func zeroPadded(_ value: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }
}
