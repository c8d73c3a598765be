#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A Swift type whose values map to plain Python values, and are therefore written as pickle
/// data that Python reads natively.
///
/// The conformances are conditional, so a dynamic cast (`value as? any PickleRepresentable`)
/// tells `[String: [Double?]]` (pickled) apart from `[String: MyStruct]` (not).
package protocol PickleRepresentable {
    /// The Python value.
    var pickleValue: PickleValue { get }
}

/// A Swift type whose values map to Python dict keys.
package protocol PickleKeyRepresentable: Hashable, PickleRepresentable {}

extension PickleValue: PickleRepresentable {
    package var pickleValue: PickleValue { self }
}

extension Bool: PickleRepresentable {
    package var pickleValue: PickleValue { .bool(self) }
}

extension String: PickleKeyRepresentable {
    package var pickleValue: PickleValue { .string(self) }
}

extension Int: PickleKeyRepresentable {
    package var pickleValue: PickleValue { .int(Int64(self)) }
}

extension Int64: PickleKeyRepresentable {
    package var pickleValue: PickleValue { .int(self) }
}

extension Int32: PickleKeyRepresentable {
    package var pickleValue: PickleValue { .int(Int64(self)) }
}

extension Int16: PickleKeyRepresentable {
    package var pickleValue: PickleValue { .int(Int64(self)) }
}

extension Int8: PickleKeyRepresentable {
    package var pickleValue: PickleValue { .int(Int64(self)) }
}

extension UInt32: PickleKeyRepresentable {
    package var pickleValue: PickleValue { .int(Int64(self)) }
}

extension UInt16: PickleKeyRepresentable {
    package var pickleValue: PickleValue { .int(Int64(self)) }
}

extension UInt8: PickleKeyRepresentable {
    package var pickleValue: PickleValue { .int(Int64(self)) }
}

extension Double: PickleRepresentable {
    package var pickleValue: PickleValue { .float(self) }
}

extension Float: PickleRepresentable {
    package var pickleValue: PickleValue { .float(Double(self)) }
}

extension Data: PickleRepresentable {
    package var pickleValue: PickleValue { .bytes(Array(self)) }
}

extension Array: PickleRepresentable where Element: PickleRepresentable {
    /// A `list`; `[UInt8]` is `bytes`, as at the top level.
    package var pickleValue: PickleValue {
        if Element.self == UInt8.self { return .bytes(unsafeBitCast(self, to: [UInt8].self)) }
        return .list(map(\.pickleValue))
    }
}

extension Optional: PickleRepresentable where Wrapped: PickleRepresentable {
    package var pickleValue: PickleValue {
        switch self {
        case .none: .none
        case .some(let wrapped): wrapped.pickleValue
        }
    }
}

extension Dictionary: PickleRepresentable where Key: PickleKeyRepresentable, Value: PickleRepresentable {
    /// A `dict`, its items in the order of the keys' Python values when those are all `str` or
    /// all `int` (so the same dictionary always gives the same bytes).
    package var pickleValue: PickleValue {
        var items = map { PickleValue.DictItem(key: $0.key.pickleValue, value: $0.value.pickleValue) }
        items.sort { left, right in
            switch (left.key, right.key) {
            case (.string(let a), .string(let b)): a < b
            case (.int(let a), .int(let b)): a < b
            default: false
            }
        }
        return .dict(items)
    }
}
