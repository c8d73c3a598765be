/// The on-disk format of one ``FileCache`` entry, and the names of the files in a cache directory.
///
/// One file holds one entry. All integers are little-endian.
///
/// | offset | size | field |
/// | --- | --- | --- |
/// | 0 | 4 | magic `"SWCF"` (`53 57 43 46`) |
/// | 4 | 2 | format version, `1` |
/// | 6 | 2 | reserved, `0` |
/// | 8 | 8 | expiry: the bits of a `Float64`, absolute Unix seconds; all ones (`0xFFFF_FFFF_FFFF_FFFF`) means never |
/// | 16 | 8 | the bitwise NOT of the expiry field |
/// | 24 | 4 | item flags (`UInt32`, as ``CacheEntry/flags``) |
/// | 28 | 4 | key length `K` in bytes (`UInt32`) |
/// | 32 | 8 | payload length `P` in bytes (`UInt64`) |
/// | 40 | 8 | checksum of bytes 24..<40, the key and the payload (see ``checksum(_:seed:)``) |
/// | 48 | K | the made key, UTF-8 |
/// | 48 + K | P | the payload (``CacheEntry/bytes``) |
///
/// The file is exactly `48 + K + P` bytes long; a shorter or longer file is corrupt.
///
/// The expiry sits at a fixed offset, outside the checksum, so `touch` rewrites just those
/// 16 bytes with one `pwrite`, in place. The expiry and its complement are written together;
/// a reader that finds them disagreeing has caught a `touch` half-way and reads again. The
/// rest of a file never changes after it is renamed into place (writers replace whole files),
/// so the checksum detects a file torn by something other than this library (a crash of a
/// writer that did not rename, a truncation, a disk error, a stray editor).
///
/// A file is named by ``fileName(forKey:)``: the FNV-1a 128-bit hash of the made key in hex plus
/// ``fileExtension``. The key inside the file is compared on every read, so two keys with the
/// same hash never see each other's values (a collision is a miss, and the other key's file is
/// left alone).
enum FileCacheFormat {
    static let magic: (UInt8, UInt8, UInt8, UInt8) = (0x53, 0x57, 0x43, 0x46)
    static let version: UInt16 = 1
    static let headerSize = 48
    /// Where the expiry and its complement start; `touch` rewrites 16 bytes here.
    static let expiryOffset = 8
    static let neverBits: UInt64 = .max

    /// The extension of cache files.
    ///
    /// Version 2 of the names (`.swcache2`): lock shards come from the hash's low bits. Version 1
    /// (`.swcache`, shards from the high bits) named its files and locks differently, so a
    /// process of either version never touches the other's files, and one key is never guarded
    /// by two different locks.
    static let fileExtension = ".swcache2"
    /// The prefix of temporary files: a dot file, never matched as a cache file.
    static let tempPrefix = ".swcache2-tmp-"
    /// The prefix of the lock files that serialize writers.
    static let lockPrefix = ".swcache2-lock-"
    /// The extension and temporary-file prefix of version 1 of the names, whose files
    /// `clear()` removes too.
    static let legacyFileExtension = ".swcache"
    static let legacyTempPrefix = ".swcache-tmp-"
    /// The number of lock files (writers of keys in different shards do not wait for each other).
    static let lockShards = 16

    // MARK: Names

    /// The file name for a made key: 32 hex digits and ``fileExtension``.
    static func fileName(forKey key: String) -> String {
        let (high, low) = fnv1a128(key.utf8)
        return fileName(high: high, low: low)
    }

    /// The file name for a hash: 32 lowercase hex digits, high half first, and ``fileExtension``.
    static func fileName(high: UInt64, low: UInt64) -> String {
        String(unsafeUninitializedCapacity: fileNameLength) { buffer in
            writeFileName(high: high, low: low, into: buffer.baseAddress!)
        }
    }

    /// The length of a cache file's name in bytes.
    static let fileNameLength = 32 + fileExtension.utf8.count

    /// Writes a hash's file name (``fileNameLength`` bytes, no terminating NUL) at `start`.
    ///
    /// - Returns: The number of bytes written.
    @discardableResult
    static func writeFileName(high: UInt64, low: UInt64, into start: UnsafeMutablePointer<UInt8>) -> Int {
        let digits: StaticString = "0123456789abcdef"
        digits.withUTF8Buffer { digits in
            for index in 0..<16 {
                start[index] = digits[Int((high >> (60 - 4 * UInt64(index))) & 0xF)]
                start[16 + index] = digits[Int((low >> (60 - 4 * UInt64(index))) & 0xF)]
            }
        }
        var offset = 32
        for byte in fileExtension.utf8 {
            start[offset] = byte
            offset += 1
        }
        return offset
    }

    /// The lock shard of a hash: its lowest bits. (FNV-1a's highest bits barely depend on a
    /// key's last bytes, so keys that differ only at the end, such as `session:00000001` and
    /// `session:00000002`, would share one shard.)
    static func shard(low: UInt64) -> Int {
        Int(low % UInt64(lockShards))
    }

    /// The lock shard of a cache file name (from its last hex digit, the hash's lowest bits).
    static func shard(ofFileName name: String) -> Int {
        let utf8 = name.utf8
        guard utf8.count >= 32, let last = hexValue(utf8[utf8.index(utf8.startIndex, offsetBy: 31)]) else { return 0 }
        return Int(last) % lockShards
    }

    /// Whether a directory entry is a file of version 1 of the names (`.swcache`, or its
    /// temporary files), which this version never reads.
    static func isLegacyFileName(_ name: String) -> Bool {
        if name.hasPrefix(legacyTempPrefix) { return true }
        let utf8 = name.utf8
        guard utf8.count == 32 + legacyFileExtension.utf8.count, name.hasSuffix(legacyFileExtension) else { return false }
        return utf8.prefix(32).allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    /// Whether a directory entry is a cache file this library wrote (32 lowercase hex digits + extension).
    static func isCacheFileName(_ name: String) -> Bool {
        let utf8 = name.utf8
        guard utf8.count == 32 + fileExtension.utf8.count, name.hasSuffix(fileExtension) else { return false }
        return utf8.prefix(32).allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    /// Whether a directory entry is a temporary file (possibly left by a crashed writer).
    static func isTempFileName(_ name: String) -> Bool {
        name.hasPrefix(tempPrefix)
    }

    // MARK: Encoding

    static func expiryBits(_ expiry: CacheExpiry) -> UInt64 {
        switch expiry {
        case .never: neverBits
        case .at(let deadline): deadline.bitPattern
        }
    }

    /// The expiry for stored bits, or `nil` when they cannot be an expiry we wrote (NaN other than never).
    static func expiry(fromBits bits: UInt64) -> CacheExpiry? {
        if bits == neverBits { return .never }
        let deadline = Double(bitPattern: bits)
        return deadline.isNaN ? nil : .at(deadline)
    }

    /// The bytes of a file holding `entry` under `key`.
    static func encode(key: String, entry: CacheEntry, expiry: CacheExpiry) -> [UInt8] {
        let keyBytes = Array(key.utf8)
        let total = headerSize + keyBytes.count + entry.bytes.count
        return [UInt8](unsafeUninitializedCapacity: total) { buffer, count in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            raw.storeBytes(of: magic.0, toByteOffset: 0, as: UInt8.self)
            raw.storeBytes(of: magic.1, toByteOffset: 1, as: UInt8.self)
            raw.storeBytes(of: magic.2, toByteOffset: 2, as: UInt8.self)
            raw.storeBytes(of: magic.3, toByteOffset: 3, as: UInt8.self)
            raw.storeBytes(of: version.littleEndian, toByteOffset: 4, as: UInt16.self)
            raw.storeBytes(of: UInt16(0), toByteOffset: 6, as: UInt16.self)
            let bits = expiryBits(expiry)
            raw.storeBytes(of: bits.littleEndian, toByteOffset: 8, as: UInt64.self)
            raw.storeBytes(of: (~bits).littleEndian, toByteOffset: 16, as: UInt64.self)
            raw.storeBytes(of: entry.flags.littleEndian, toByteOffset: 24, as: UInt32.self)
            raw.storeBytes(of: UInt32(keyBytes.count).littleEndian, toByteOffset: 28, as: UInt32.self)
            raw.storeBytes(of: UInt64(entry.bytes.count).littleEndian, toByteOffset: 32, as: UInt64.self)
            keyBytes.withUnsafeBytes { raw.baseAddress!.advanced(by: headerSize).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            entry.bytes.withUnsafeBytes { source in
                if source.count > 0 {
                    raw.baseAddress!.advanced(by: headerSize + keyBytes.count)
                        .copyMemory(from: source.baseAddress!, byteCount: source.count)
                }
            }
            let sum = checksum(UnsafeRawBufferPointer(rebasing: raw[24..<40]), seed: checksumSeed)
            let full = checksum(UnsafeRawBufferPointer(rebasing: raw[headerSize..<total]), seed: sum)
            raw.storeBytes(of: full.littleEndian, toByteOffset: 40, as: UInt64.self)
            count = total
        }
    }

    /// The 16 bytes `touch` writes at ``expiryOffset``.
    static func expiryField(_ expiry: CacheExpiry) -> [UInt8] {
        let bits = expiryBits(expiry)
        var field = [UInt8](repeating: 0, count: 16)
        field.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: bits.littleEndian, toByteOffset: 0, as: UInt64.self)
            raw.storeBytes(of: (~bits).littleEndian, toByteOffset: 8, as: UInt64.self)
        }
        return field
    }

    // MARK: Decoding

    /// What a file's bytes turned out to hold.
    enum Decoded {
        /// A valid entry for the key asked for.
        case entry(CacheEntry, CacheExpiry)
        /// A valid file of another key (a hash collision): a miss, and the file stays.
        case otherKey
        /// The expiry and its complement disagree: a `touch` was caught half-way; read again.
        case tornExpiry
        /// Not a valid file of this format: a miss, and the file is removed.
        case corrupt(String)
    }

    /// The fixed header fields, or why the header is not ours.
    struct Header {
        var expiry: CacheExpiry?
        var flags: UInt32
        var keyLength: Int
        var payloadLength: Int
        var checksum: UInt64
        var totalLength: Int { FileCacheFormat.headerSize + keyLength + payloadLength }
    }

    /// Parses the first ``headerSize`` bytes; `nil` when they are not this format.
    /// `expiry` is `nil` when the expiry field and its complement disagree.
    static func header(_ raw: UnsafeRawBufferPointer) -> Header? {
        guard raw.count >= headerSize,
            raw[0] == magic.0, raw[1] == magic.1, raw[2] == magic.2, raw[3] == magic.3,
            UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 4, as: UInt16.self)) == version
        else { return nil }
        let bits = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        let complement = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        let keyLength = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 28, as: UInt32.self))
        let payloadLength = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 32, as: UInt64.self))
        guard payloadLength < UInt64(Int.max / 2) else { return nil }
        return Header(
            expiry: bits == ~complement ? expiry(fromBits: bits) : nil,
            flags: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 24, as: UInt32.self)),
            keyLength: Int(keyLength), payloadLength: Int(payloadLength),
            checksum: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 40, as: UInt64.self)))
    }

    /// Decodes a whole file read for `key`.
    static func decode(_ raw: UnsafeRawBufferPointer, key: String) -> Decoded {
        switch check(raw, key: key) {
        case .valid(let flags, let expiry, let payloadStart):
            let payload = Array(UnsafeRawBufferPointer(rebasing: raw[payloadStart..<raw.count]))
            return .entry(CacheEntry(flags: flags, bytes: payload), expiry)
        case .invalid(let decoded):
            return decoded
        }
    }

    /// Decodes a whole file read for `key`, keeping the value in the file's own buffer (the
    /// header and key are moved out of the way, nothing is allocated).
    static func decode(taking bytes: consuming [UInt8], key: String) -> Decoded {
        var bytes = consume bytes
        switch bytes.withUnsafeBytes({ check($0, key: key) }) {
        case .valid(let flags, let expiry, let payloadStart):
            bytes.removeSubrange(0..<payloadStart)
            return .entry(CacheEntry(flags: flags, bytes: bytes), expiry)
        case .invalid(let decoded):
            return decoded
        }
    }

    /// A checked file: valid (with where its value starts), or what else it is.
    private enum Checked {
        case valid(flags: UInt32, expiry: CacheExpiry, payloadStart: Int)
        case invalid(Decoded)
    }

    /// Checks a whole file read for `key`: header, length, checksum, key, expiry.
    private static func check(_ raw: UnsafeRawBufferPointer, key: String) -> Checked {
        guard raw.count > 0 else { return .invalid(.corrupt("the file is empty")) }
        guard let header = header(raw) else {
            return .invalid(.corrupt("the file does not start with a swift-caching header"))
        }
        guard raw.count == header.totalLength else {
            return .invalid(.corrupt("the file is \(raw.count) bytes long; its header says \(header.totalLength)"))
        }
        let sum = checksum(UnsafeRawBufferPointer(rebasing: raw[24..<40]), seed: checksumSeed)
        let full = checksum(UnsafeRawBufferPointer(rebasing: raw[headerSize..<raw.count]), seed: sum)
        guard full == header.checksum else { return .invalid(.corrupt("the checksum does not match")) }
        guard header.keyLength == key.utf8.count,
            key.utf8.elementsEqual(UnsafeRawBufferPointer(rebasing: raw[headerSize..<headerSize + header.keyLength]))
        else { return .invalid(.otherKey) }
        let bits = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        let complement = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        guard bits == ~complement else { return .invalid(.tornExpiry) }
        guard let expiry = header.expiry else { return .invalid(.corrupt("the expiry is not a number")) }
        return .valid(flags: header.flags, expiry: expiry, payloadStart: headerSize + header.keyLength)
    }

    // MARK: Hashes

    static let checksumSeed: UInt64 = 0x5357_4346_0000_0001

    /// A 64-bit checksum, eight bytes at a time.
    ///
    /// Each step is `h = rotl((h ^ word) * K, 29)`: for a fixed word it is a bijection of `h`, so
    /// changing any one word (any flipped byte) always changes the result; the length is mixed
    /// in last, so a truncation is caught too (the file length is also checked separately).
    static func checksum(_ raw: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
        let multiplier: UInt64 = 0x9E37_79B9_7F4A_7C15
        var hash = seed
        var offset = 0
        let count = raw.count
        while offset + 8 <= count {
            let word = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            hash = ((hash ^ word) &* multiplier).rotatedLeft(by: 29)
            offset += 8
        }
        if offset < count {
            var word: UInt64 = 0
            var shift: UInt64 = 0
            while offset < count {
                word |= UInt64(raw[offset]) << shift
                shift += 8
                offset += 1
            }
            hash = ((hash ^ word) &* multiplier).rotatedLeft(by: 29)
        }
        hash = ((hash ^ UInt64(count)) &* multiplier).rotatedLeft(by: 29)
        return hash ^ (hash >> 32)
    }

    /// FNV-1a with a 128-bit state: offset basis `0x6c62272e07bb014262b821756295c58d`,
    /// prime `2^88 + 0x13b`.
    static func fnv1a128(_ bytes: some Sequence<UInt8>) -> (high: UInt64, low: UInt64) {
        var high: UInt64 = 0x6c62_272e_07bb_0142
        var low: UInt64 = 0x62b8_2175_6295_c58d
        for byte in bytes {
            low ^= UInt64(byte)
            // (high·2^64 + low) · (2^88 + 0x13b) mod 2^128
            let product = low.multipliedFullWidth(by: 0x13b)
            high = high &* 0x13b &+ product.high &+ (low << 24)
            low = product.low
        }
        return (high, low)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
}

extension UInt64 {
    fileprivate func rotatedLeft(by count: UInt64) -> UInt64 {
        (self << count) | (self >> (64 - count))
    }
}
