import Caching
import CachingMemcached

/// Test-only access to a cache's memcached backend (the `backend` property is `package`).
extension Cache {
    var memcachedBackend: MemcachedBackend { backend as! MemcachedBackend }
    var options: MemcachedOptions { memcachedBackend.options }
    var servers: [MemcachedServerAddress] { memcachedBackend.servers }
}
