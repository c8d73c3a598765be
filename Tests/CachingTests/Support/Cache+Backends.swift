import Caching

/// Test-only access to a cache's concrete backend (the `backend` property is `package`).
extension Cache {
    var fileBackend: FileBackend { backend as! FileBackend }
    var localMemoryBackend: LocalMemoryBackend { backend as! LocalMemoryBackend }

    var directory: String { fileBackend.directory }
    func filePath(forKey key: String) -> String { fileBackend.filePath(forKey: key) }
    func fileCount() async throws -> Int { try await fileBackend.fileCount() }
    var entryCount: Int { localMemoryBackend.entryCount }
}
