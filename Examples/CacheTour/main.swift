// CacheTour: a walk through Django's cache API on the default alias.
//
//   swift run CacheTour                 # local memory (no server needed)
//   swift run CacheTour caches.json     # the "default" alias of a Django-shaped CACHES file
import Caching

struct Article: Codable, Sendable {
    var title: String
    var words: Int
}

func show(_ call: String, _ result: Any) {
    let padded = call.count < 52 ? call + String(repeating: " ", count: 52 - call.count) : call
    print("\(padded) -> \(result)")
}

let arguments = CommandLine.arguments.dropFirst()
let caches: Caches
if let path = arguments.first {
    caches = try Caches(contentsOf: path)
    print("CacheTour on the 'default' alias of \(path)\n")
} else {
    caches = try Caches(["default": CacheSettings(backend: "locmem", location: "tour")])
    print("CacheTour on the embedded default: local memory (pass a CACHES JSON file to use another backend)\n")
}
let cache = try caches.default
try await cache.clear()

print("-- keys")
show(#"makeKey("greeting")"#, cache.makeKey("greeting"))
show(#"makeKey("greeting", version: 2)"#, cache.makeKey("greeting", version: 2))

print("\n-- get, set, add")
show(#"get("greeting", as: String.self)"#, String(describing: try await cache.get("greeting", as: String.self)))
try await cache.set("greeting", "hello", timeout: 60)
show(#"set("greeting", "hello", timeout: 60)"#, "()")
show(#"get("greeting", as: String.self)"#, String(describing: try await cache.get("greeting", as: String.self)))
show(#"get("missing", default: "fallback")"#, try await cache.get("missing", default: "fallback"))
show(#"add("greeting", "bonjour")"#, try await cache.add("greeting", "bonjour"))
show(#"add("farewell", "goodbye")"#, try await cache.add("farewell", "goodbye"))
try await cache.set("article", Article(title: "Caching in Swift", words: 1200))
show(#"get("article", as: Article.self)"#, String(describing: try await cache.get("article", as: Article.self)))
try await cache.set("nothing", String?.none)
show(#"get("nothing", as: String?.self) (a stored nil)"#, String(describing: try await cache.get("nothing", as: String?.self)))
show(#"hasKey("nothing")"#, try await cache.hasKey("nothing"))

print("\n-- getOrSet")
show(#"getOrSet("expensive") { compute }"#, try await cache.getOrSet("expensive") { 6 * 7 })
show(#"getOrSet("expensive") { never runs }"#, try await cache.getOrSet("expensive") { -1 })

print("\n-- counters")
try await cache.set("hits", 0)
show(#"incr("hits")"#, try await cache.incr("hits"))
show(#"incr("hits", by: 10)"#, try await cache.incr("hits", by: 10))
show(#"decr("hits", by: 3)"#, try await cache.decr("hits", by: 3))
do {
    _ = try await cache.incr("no-such-counter")
} catch let error as CacheError {
    show(#"incr("no-such-counter")"#, "throws \(error.code): \(error.message)")
}

print("\n-- many keys")
show(#"setMany(["a": 1, "b": 2, "c": 3])"#, try await cache.setMany(["a": 1, "b": 2, "c": 3]))
show(#"getMany(["a", "b", "zzz"], as: Int.self)"#, try await cache.getMany(["a", "b", "zzz"], as: Int.self).sorted { $0.key < $1.key })
try await cache.deleteMany(["a", "b"])
show(#"deleteMany(["a", "b"]); getMany(["a", "b", "c"])"#, try await cache.getMany(["a", "b", "c"], as: Int.self))

print("\n-- expiry")
show(#"touch("greeting", timeout: .never)"#, try await cache.touch("greeting", timeout: .never))
try await cache.set("gone", 1, timeout: 0)
show(#"set("gone", 1, timeout: 0); hasKey("gone")"#, try await cache.hasKey("gone"))
show(#"delete("farewell")"#, try await cache.delete("farewell"))
show(#"delete("farewell") again"#, try await cache.delete("farewell"))

print("\n-- versions")
try await cache.set("config", "v1 settings")
show(#"incrVersion("config")"#, try await cache.incrVersion("config"))
show(#"get("config", as: String.self)"#, String(describing: try await cache.get("config", as: String.self)))
show(#"get("config", as: String.self, version: 2)"#, String(describing: try await cache.get("config", as: String.self, version: 2)))

print("\n-- bad input")
do {
    try await cache.set("key with spaces", 1)
} catch let error as CacheError {
    show(#"set("key with spaces", 1)"#, "throws \(error.code)")
}
do {
    _ = try caches["nonexistent"]
} catch let error as CacheError {
    show(#"caches["nonexistent"]"#, "throws \(error.code): \(error.message)")
}

try await cache.clear()
show("\nclear(); hasKey(\"greeting\")", try await cache.hasKey("greeting"))
try await caches.closeAll()
