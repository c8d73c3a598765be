/// Reads Python pickle data (protocols 0 to 5) holding plain values, without executing anything.
///
/// Python's unpickler is a small stack machine whose opcodes may import and call any Python
/// function; this reader runs only the opcodes that build plain values, and refuses the rest:
///
/// | read | opcodes |
/// | --- | --- |
/// | framing, stack | `PROTO` (≤ 5), `FRAME`, `STOP`, `MARK`, `POP`, `POP_MARK`, `DUP` |
/// | scalars | `NONE`, `NEWTRUE`, `NEWFALSE`, `INT` (with protocol 0's `01`/`00` for `True`/`False`), `LONG`, `BININT`, `BININT1`, `BININT2`, `LONG1`, `LONG4`, `FLOAT`, `BINFLOAT` |
/// | text, bytes | `UNICODE`, `BINUNICODE`, `SHORT_BINUNICODE`, `BINUNICODE8`, `BINSTRING` and `SHORT_BINSTRING` (ASCII, as Python 3 reads them), `BINBYTES`, `SHORT_BINBYTES`, `BINBYTES8`, `BYTEARRAY8` |
/// | containers | `EMPTY_LIST`, `LIST`, `APPEND`, `APPENDS`, `EMPTY_DICT`, `DICT`, `SETITEM`, `SETITEMS`, `EMPTY_TUPLE`, `TUPLE`, `TUPLE1`-`3` |
/// | memo | `PUT`, `BINPUT`, `LONG_BINPUT`, `MEMOIZE`, `GET`, `BINGET`, `LONG_BINGET` |
///
/// Anything else (`GLOBAL`, `STACK_GLOBAL`, `REDUCE`, `BUILD`, `INST`, `OBJ`, `NEWOBJ`,
/// `NEWOBJ_EX`, `EXT1/2/4`, `PERSID`, `BINPERSID`, sets, out-of-band buffers, protocol 0's
/// quoted `STRING`), truncated data, a length past the end of the data, an integer outside the
/// 64-bit range, nesting deeper than `maxDepth`, more than `maxNodes` values once shared
/// references are expanded, or a container that contains itself, is a
/// ``CacheError/Code/foreignValue`` error whose message names the reason. Work and memory are
/// linear in the input's length (the expansion of shared references is bounded by `maxNodes`).
package struct PickleReader {
    /// The deepest nesting of lists and dicts read by default.
    package static let defaultMaxDepth = 100
    /// The most values (after expanding shared references) read by default.
    package static let defaultMaxNodes = 1_000_000

    /// Reads the value a pickle holds.
    ///
    /// Bytes after the `STOP` opcode are ignored, as Python's `pickle.loads` ignores them.
    ///
    /// - Parameters:
    ///   - bytes: The pickle data.
    ///   - maxDepth: The deepest nesting of containers accepted.
    ///   - maxNodes: The most values accepted, counting a shared value at every place it appears.
    /// - Returns: The value.
    /// - Throws: ``CacheError/Code/foreignValue`` with the reason.
    package static func read(
        _ bytes: [UInt8], maxDepth: Int = defaultMaxDepth, maxNodes: Int = defaultMaxNodes
    ) throws -> PickleValue {
        var reader = PickleReader(bytes: bytes)
        let root = try reader.run()
        var budget = maxNodes
        var active = [Bool](repeating: false, count: reader.nodes.count)
        return try reader.materialize(root, depth: 0, maxDepth: maxDepth, budget: &budget, active: &active, asKey: false)
    }

    /// What a pickle holding a single `str`, `bytes` or `bool` holds, found without running the
    /// machine; for anything else, nil (read it with `read(_:maxDepth:maxNodes:)`).
    package enum Scalar: Equatable {
        /// A `str`: its UTF-8 bytes are at this range of the data (not checked).
        case string(Range<Int>)
        /// A `bytes`: at this range of the data.
        case bytes(Range<Int>)
        /// A `bool`.
        case bool(Bool)
    }

    /// Recognizes the pickles Python writes for one `str`, `bytes` or `bool`: `PROTO`, an
    /// optional `FRAME`, the value, an optional `MEMOIZE` or `BINPUT`, then `STOP` as the
    /// last byte. A fast path for readers of single values; nil sends the data to `read(_:maxDepth:maxNodes:)`.
    ///
    /// - Parameter data: The pickle data.
    /// - Returns: The scalar, or nil for any other shape.
    package static func scalar(in data: UnsafeRawBufferPointer) -> Scalar? {
        let count = data.count
        guard count >= 4, data[0] == 0x80, data[1] <= 5, data[count - 1] == 0x2E else { return nil }
        func little(_ at: Int, _ width: Int) -> Int? {
            guard at + width <= count else { return nil }
            var value: UInt64 = 0
            for offset in 0..<width { value |= UInt64(data[at + offset]) << (8 * UInt64(offset)) }
            return value <= UInt64(count) ? Int(value) : nil
        }
        var index = 2
        if data[index] == 0x95 {
            guard let frame = little(3, 8), frame <= count - 11 else { return nil }
            index += 9
            guard index < count else { return nil }
        }
        let opcode = data[index]
        let result: Scalar
        switch opcode {
        case 0x88, 0x89:
            result = .bool(opcode == 0x88)
            index += 1
        case 0x8C, 0x58, 0x8D, 0x43, 0x42, 0x8E:
            let width = opcode == 0x8C || opcode == 0x43 ? 1 : opcode == 0x58 || opcode == 0x42 ? 4 : 8
            guard let length = little(index + 1, width) else { return nil }
            let start = index + 1 + width
            guard length <= count - start else { return nil }
            index = start + length
            result = opcode == 0x8C || opcode == 0x58 || opcode == 0x8D ? .string(start..<index) : .bytes(start..<index)
        default:
            return nil
        }
        if index < count - 1, data[index] == 0x94 {
            index += 1
        } else if index < count - 2, data[index] == 0x71 {
            index += 2
        }
        return index == count - 1 ? result : nil
    }

    // MARK: - The machine

    /// A value under construction. Lists, tuples and dicts are indices into their own storage so
    /// that appending to one the memo also holds is seen through the memo, as in Python.
    private enum Node {
        case scalar(PickleValue)
        case list(Int)
        case tuple(Int)
        case dict(Int)
    }

    private let bytes: [UInt8]
    private var position = 0
    private var nodes: [Node] = []
    private var lists: [[Int]] = []
    private var dicts: [[(key: Int, value: Int)]] = []
    private var stack: [Int] = []
    private var marks: [Int] = []
    private var memo: [Int: Int] = [:]

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private static func refuse(_ reason: String) -> CacheError {
        CacheError(
            .foreignValue, "Pickle data \(reason); only plain values (None, bool, int, float, str, bytes, list, tuple, dict) are read")
    }

    private mutating func run() throws -> Int {
        while true {
            let opcodeAt = position
            let opcode = try readByte()
            switch opcode {
            case 0x80:  // PROTO
                let version = try readByte()
                guard version <= 5 else { throw Self.refuse("declares protocol \(version), newer than 5") }
            case 0x95:  // FRAME: the frame's bytes follow in line; only its length is checked.
                let length = try readLength(8)
                guard length <= bytes.count - position else { throw Self.truncated(at: opcodeAt, "FRAME") }
            case 0x2E:  // STOP
                return try top()
            case 0x28:  // MARK
                marks.append(stack.count)
            case 0x30:  // POP
                // An empty frame (nothing pushed since the last MARK) pops the mark, as in Python.
                if stack.count <= (marks.last ?? 0) { _ = try popMark() } else { stack.removeLast() }
            case 0x31:  // POP_MARK
                _ = try popMark()
            case 0x32:  // DUP
                stack.append(try top())
            case 0x4E: push(.none)  // NONE
            case 0x88: push(.bool(true))  // NEWTRUE
            case 0x89: push(.bool(false))  // NEWFALSE
            case 0x49:  // INT
                let line = try readLine()
                if line == [0x30, 0x31] {
                    push(.bool(true))
                } else if line == [0x30, 0x30] {
                    push(.bool(false))
                } else {
                    push(.int(try Self.decimal(line)))
                }
            case 0x4C:  // LONG
                var line = try readLine()
                if line.last == UInt8(ascii: "L") { line.removeLast() }
                push(.int(try Self.decimal(line)))
            case 0x4A:  // BININT
                push(.int(Int64(Int32(bitPattern: UInt32(try readLength(4))))))
            case 0x4B:  // BININT1
                push(.int(Int64(try readByte())))
            case 0x4D:  // BININT2
                push(.int(Int64(try readLength(2))))
            case 0x8A:  // LONG1
                push(.int(try readLong(count: try readLength(1))))
            case 0x8B:  // LONG4
                let count = try readLength(4)
                guard count <= 0x7FFF_FFFF else { throw Self.refuse("has a LONG4 with a negative length") }
                push(.int(try readLong(count: count)))
            case 0x46:  // FLOAT
                let line = try readLine()
                guard let number = Double(String(decoding: line, as: UTF8.self)) else {
                    throw Self.refuse("has a FLOAT that is not a number")
                }
                push(.float(number))
            case 0x47:  // BINFLOAT
                push(.float(Double(bitPattern: try readBigEndian64())))
            case 0x56:  // UNICODE
                push(.string(try Self.rawUnicodeEscape(try readLine())))
            case 0x58:  // BINUNICODE
                push(.string(try utf8(count: try readLength(4))))
            case 0x8C:  // SHORT_BINUNICODE
                push(.string(try utf8(count: try readLength(1))))
            case 0x8D:  // BINUNICODE8
                push(.string(try utf8(count: try readLength(8))))
            case 0x54:  // BINSTRING
                let count = try readLength(4)
                guard count <= 0x7FFF_FFFF else { throw Self.refuse("has a BINSTRING with a negative length") }
                push(.string(try ascii(count: count)))
            case 0x55:  // SHORT_BINSTRING
                push(.string(try ascii(count: try readLength(1))))
            case 0x42:  // BINBYTES
                push(.bytes(try take(try readLength(4))))
            case 0x43:  // SHORT_BINBYTES
                push(.bytes(try take(try readLength(1))))
            case 0x8E, 0x96:  // BINBYTES8, BYTEARRAY8
                push(.bytes(try take(try readLength(8))))
            case 0x5D:  // EMPTY_LIST
                pushList([])
            case 0x6C:  // LIST
                pushList(try popMark())
            case 0x61:  // APPEND
                let item = try pop()
                try append(to: try top(), [item])
            case 0x65:  // APPENDS
                let items = try popMark()
                try append(to: try top(), items)
            case 0x7D:  // EMPTY_DICT
                pushDict([])
            case 0x64:  // DICT
                let items = try popMark()
                pushDict(try Self.pairs(items))
            case 0x73:  // SETITEM
                let value = try pop()
                let key = try pop()
                try setItems(in: try top(), [(key, value)])
            case 0x75:  // SETITEMS
                let items = try popMark()
                try setItems(in: try top(), try Self.pairs(items))
            case 0x29:  // EMPTY_TUPLE
                pushTuple([])
            case 0x74:  // TUPLE
                pushTuple(try popMark())
            case 0x85, 0x86, 0x87:  // TUPLE1, TUPLE2, TUPLE3
                let count = Int(opcode - 0x84)
                guard stack.count - (marks.last ?? 0) >= count else {
                    throw Self.refuse("builds a tuple from fewer than \(count) values")
                }
                let items = Array(stack.suffix(count))
                stack.removeLast(count)
                pushTuple(items)
            case 0x70:  // PUT
                memo[try Self.memoIndex(try readLine())] = try top()
            case 0x71:  // BINPUT
                memo[Int(try readByte())] = try top()
            case 0x72:  // LONG_BINPUT
                memo[try readLength(4)] = try top()
            case 0x94:  // MEMOIZE
                memo[memo.count] = try top()
            case 0x67:  // GET
                try get(try Self.memoIndex(try readLine()))
            case 0x68:  // BINGET
                try get(Int(try readByte()))
            case 0x6A:  // LONG_BINGET
                try get(try readLength(4))
            default:
                throw Self.refuse(Self.describeForbidden(opcode, at: opcodeAt))
            }
        }
    }

    private static func describeForbidden(_ opcode: UInt8, at offset: Int) -> String {
        let name: String
        switch opcode {
        case 0x63: name = "GLOBAL, which names a Python class or function"
        case 0x93: name = "STACK_GLOBAL, which names a Python class or function"
        case 0x52: name = "REDUCE, which calls a function"
        case 0x62: name = "BUILD, which sets an object's state"
        case 0x69: name = "INST, which creates an object of a class"
        case 0x6F: name = "OBJ, which creates an object of a class"
        case 0x81: name = "NEWOBJ, which creates an object of a class"
        case 0x92: name = "NEWOBJ_EX, which creates an object of a class"
        case 0x82, 0x83, 0x84: name = "EXT\(opcode == 0x82 ? 1 : opcode == 0x83 ? 2 : 4), which names a registered class"
        case 0x50: name = "PERSID, a persistent reference"
        case 0x51: name = "BINPERSID, a persistent reference"
        case 0x8F: name = "EMPTY_SET (a set is not read)"
        case 0x90: name = "ADDITEMS (a set is not read)"
        case 0x91: name = "FROZENSET (a frozenset is not read)"
        case 0x97: name = "NEXT_BUFFER, an out-of-band buffer"
        case 0x98: name = "READONLY_BUFFER, an out-of-band buffer"
        case 0x53: name = "STRING, protocol 0's quoted string"
        default: name = "0x\(String(opcode, radix: 16)), which is not a pickle opcode"
        }
        return "uses opcode \(name) at offset \(offset)"
    }

    // MARK: - Input

    private static func truncated(at offset: Int, _ what: String) -> CacheError {
        refuse("is truncated: \(what) at offset \(offset) runs past the end of the data")
    }

    private mutating func readByte() throws -> UInt8 {
        guard position < bytes.count else { throw Self.refuse("is truncated: it ends at offset \(position) before STOP") }
        defer { position += 1 }
        return bytes[position]
    }

    /// An unsigned little-endian length of `width` bytes (1, 2, 4 or 8).
    private mutating func readLength(_ width: Int) throws -> Int {
        guard bytes.count - position >= width else { throw Self.truncated(at: position, "a \(width)-byte field") }
        var value: UInt64 = 0
        for index in 0..<width { value |= UInt64(bytes[position + index]) << (8 * UInt64(index)) }
        position += width
        guard value <= UInt64(Int.max) else { throw Self.refuse("has a length of \(value) bytes, more than the data holds") }
        return Int(value)
    }

    private mutating func readBigEndian64() throws -> UInt64 {
        guard bytes.count - position >= 8 else { throw Self.truncated(at: position, "an 8-byte float") }
        var value: UInt64 = 0
        for index in 0..<8 { value = value << 8 | UInt64(bytes[position + index]) }
        position += 8
        return value
    }

    private mutating func take(_ count: Int) throws -> [UInt8] {
        guard count <= bytes.count - position else {
            throw Self.refuse("declares \(count) bytes at offset \(position) but only \(bytes.count - position) remain")
        }
        defer { position += count }
        return Array(bytes[position..<position + count])
    }

    private mutating func readLine() throws -> [UInt8] {
        guard let end = bytes[position...].firstIndex(of: 0x0A) else { throw Self.truncated(at: position, "a line without its newline") }
        defer { position = end + 1 }
        return Array(bytes[position..<end])
    }

    private mutating func utf8(count: Int) throws -> String {
        let raw = try take(count)
        guard let text = CacheValueCodec.validUTF8(raw) else { throw Self.refuse("has a str that is not valid UTF-8 (a lone surrogate?)") }
        return text
    }

    private mutating func ascii(count: Int) throws -> String {
        let raw = try take(count)
        guard raw.allSatisfy({ $0 < 0x80 }) else { throw Self.refuse("has a Python 2 str that is not ASCII") }
        return String(decoding: raw, as: UTF8.self)
    }

    /// A little-endian two's-complement integer of `count` bytes, as LONG1 and LONG4 hold.
    private mutating func readLong(count: Int) throws -> Int64 {
        let raw = try take(count)
        guard let last = raw.last else { return 0 }
        let negative = last & 0x80 != 0
        if raw.count > 8 {
            let fill: UInt8 = negative ? 0xFF : 0x00
            guard raw[8...].allSatisfy({ $0 == fill }), (raw[7] & 0x80 != 0) == negative else {
                throw Self.refuse("has an int outside the 64-bit range")
            }
        }
        var value: UInt64 = negative ? ~0 : 0
        for (index, byte) in raw.prefix(8).enumerated() {
            value &= ~(UInt64(0xFF) << (8 * UInt64(index)))
            value |= UInt64(byte) << (8 * UInt64(index))
        }
        return Int64(bitPattern: value)
    }

    private static func decimal(_ line: [UInt8]) throws -> Int64 {
        var digits = line[...]
        if digits.first == UInt8(ascii: "-") || digits.first == UInt8(ascii: "+") { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            throw refuse("has an INT or LONG that is not a decimal number")
        }
        guard let number = Int64(String(decoding: line, as: UTF8.self)) else { throw refuse("has an int outside the 64-bit range") }
        return number
    }

    private static func memoIndex(_ line: [UInt8]) throws -> Int {
        guard !line.isEmpty, line.count <= 18, line.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let index = Int(String(decoding: line, as: UTF8.self))
        else { throw refuse("has a memo index that is not a number") }
        return index
    }

    /// Python's `raw-unicode-escape`: Latin-1 bytes, with `\uXXXX` and `\UXXXXXXXX` escapes.
    private static func rawUnicodeEscape(_ line: [UInt8]) throws -> String {
        var scalars = String.UnicodeScalarView()
        var index = 0
        while index < line.count {
            let byte = line[index]
            if byte == UInt8(ascii: "\\"), index + 1 < line.count,
                line[index + 1] == UInt8(ascii: "u") || line[index + 1] == UInt8(ascii: "U")
            {
                let width = line[index + 1] == UInt8(ascii: "u") ? 4 : 8
                guard index + 2 + width <= line.count,
                    let code = UInt32(String(decoding: line[index + 2..<index + 2 + width], as: UTF8.self), radix: 16),
                    let scalar = Unicode.Scalar(code)
                else { throw refuse("has a UNICODE string with a bad escape") }
                scalars.append(scalar)
                index += 2 + width
            } else {
                scalars.append(Unicode.Scalar(byte))
                index += 1
            }
        }
        return String(scalars)
    }

    // MARK: - Stack

    private mutating func push(_ value: PickleValue) {
        nodes.append(.scalar(value))
        stack.append(nodes.count - 1)
    }

    private mutating func pushList(_ items: [Int]) {
        lists.append(items)
        nodes.append(.list(lists.count - 1))
        stack.append(nodes.count - 1)
    }

    private mutating func pushTuple(_ items: [Int]) {
        lists.append(items)
        nodes.append(.tuple(lists.count - 1))
        stack.append(nodes.count - 1)
    }

    private mutating func pushDict(_ items: [(key: Int, value: Int)]) {
        dicts.append(items)
        nodes.append(.dict(dicts.count - 1))
        stack.append(nodes.count - 1)
    }

    private mutating func pop() throws -> Int {
        guard stack.count > (marks.last ?? 0) else { throw Self.refuse("pops from an empty stack") }
        return stack.removeLast()
    }

    private func top() throws -> Int {
        guard stack.count > (marks.last ?? 0), let top = stack.last else { throw Self.refuse("reads the top of an empty stack") }
        return top
    }

    private mutating func popMark() throws -> [Int] {
        guard let mark = marks.popLast() else { throw Self.refuse("closes a MARK it never opened") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private mutating func get(_ index: Int) throws {
        guard let node = memo[index] else { throw Self.refuse("reads memo entry \(index), which was never stored") }
        stack.append(node)
    }

    private static func pairs(_ items: [Int]) throws -> [(key: Int, value: Int)] {
        guard items.count % 2 == 0 else { throw refuse("sets a dict item without a value") }
        return stride(from: 0, to: items.count, by: 2).map { (key: items[$0], value: items[$0 + 1]) }
    }

    private mutating func append(to target: Int, _ items: [Int]) throws {
        guard case .list(let list) = nodes[target] else { throw Self.refuse("appends to a value that is not a list") }
        lists[list].append(contentsOf: items)
    }

    private mutating func setItems(in target: Int, _ items: [(key: Int, value: Int)]) throws {
        guard case .dict(let dict) = nodes[target] else { throw Self.refuse("sets an item in a value that is not a dict") }
        dicts[dict].append(contentsOf: items)
    }

    // MARK: - Output

    private func materialize(
        _ node: Int, depth: Int, maxDepth: Int, budget: inout Int, active: inout [Bool], asKey: Bool
    ) throws -> PickleValue {
        budget -= 1
        guard budget >= 0 else { throw Self.refuse("holds more values than the limit, counting shared ones at each place") }
        switch nodes[node] {
        case .scalar(let value):
            if asKey, case .float(let number) = value, number.isNaN { throw Self.refuse("uses NaN as a dict key") }
            return value
        case .list where asKey, .dict where asKey:
            throw Self.refuse("uses a list or dict as a dict key, which Python cannot hash")
        case .list(let list), .tuple(let list):
            guard depth < maxDepth else { throw Self.refuse("nests containers deeper than \(maxDepth)") }
            guard !active[node] else { throw Self.refuse("has a container that contains itself") }
            active[node] = true
            defer { active[node] = false }
            var items: [PickleValue] = []
            items.reserveCapacity(Swift.min(lists[list].count, budget))
            for item in lists[list] {
                items.append(try materialize(item, depth: depth + 1, maxDepth: maxDepth, budget: &budget, active: &active, asKey: asKey))
            }
            return .list(items)
        case .dict(let dict):
            guard depth < maxDepth else { throw Self.refuse("nests containers deeper than \(maxDepth)") }
            guard !active[node] else { throw Self.refuse("has a container that contains itself") }
            active[node] = true
            defer { active[node] = false }
            var items: [PickleValue.DictItem] = []
            var positions: [PickleValue: Int] = [:]
            for (keyNode, valueNode) in dicts[dict] {
                let key = try materialize(keyNode, depth: depth + 1, maxDepth: maxDepth, budget: &budget, active: &active, asKey: true)
                let value = try materialize(valueNode, depth: depth + 1, maxDepth: maxDepth, budget: &budget, active: &active, asKey: false)
                // As in Python, a repeated key keeps its first place and takes the last value.
                if let existing = positions[key] {
                    items[existing].value = value
                } else {
                    positions[key] = items.count
                    items.append(PickleValue.DictItem(key: key, value: value))
                }
            }
            return .dict(items)
        }
    }
}
