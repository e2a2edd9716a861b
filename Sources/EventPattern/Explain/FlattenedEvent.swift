import TriplineJSON

/// An event flattened into leaf values by dotted path, each with its array membership.
struct FlattenedEvent {
    /// Element `index` of the array numbered `array` (arrays are numbered in document order).
    struct ArrayPosition: Hashable {
        var array: Int
        var index: Int
    }

    struct Leaf {
        /// Object keys from the root joined with "." (array levels add nothing).
        var path: String
        var value: JSONValue
        /// One position per enclosing array, outermost first.
        var membership: [ArrayPosition]
    }

    /// Leaves grouped by path, each group in document order.
    /// Keyed by the path's bytes: String equality would merge canonically equivalent keys.
    var byPath: [[UInt8]: [Leaf]] = [:]
    /// Each array's location as a reader writes it (`detail.items`, `detail.items[0].tags`), by number.
    var arrayNames: [String] = []

    init(_ event: JSONValue) {
        flatten(event, path: nil, display: "", membership: [])
    }

    /// `path` is nil at the root, so an empty key still adds a segment (`{"": {"b": 1}}` is `.b`).
    private mutating func flatten(_ value: JSONValue, path: String?, display: String, membership: [ArrayPosition]) {
        switch value {
        case .object(let object):
            for member in object.members {
                let childPath = path.map { $0 + "." + member.key } ?? member.key
                let childDisplay = display.isEmpty ? member.key : display + "." + member.key
                flatten(member.value, path: childPath, display: childDisplay, membership: membership)
            }
        case .array(let elements):
            let id = arrayNames.count
            arrayNames.append(display)
            for (index, element) in elements.enumerated() {
                flatten(element, path: path, display: display + "[\(index)]",
                        membership: membership + [ArrayPosition(array: id, index: index)])
            }
        case .string, .number, .bool, .null:
            // A leaf at the root is not a field: events are objects.
            if let path { byPath[Array(path.utf8), default: []].append(Leaf(path: path, value: value, membership: membership)) }
        }
    }

    /// The innermost array element a leaf sits in, as `detail.items[2]`.
    func elementName(_ leaf: Leaf) -> String? {
        guard let innermost = leaf.membership.last else { return nil }
        return arrayNames[innermost.array] + "[\(innermost.index)]"
    }
}
