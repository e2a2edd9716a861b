import EventPattern
import TriplineJSON

/// SNS's matching rules, evaluated directly on the policy tree.
///
/// Each policy property is judged on its own: it matches when at least one of its conditions
/// matches at least one value found at its path ("For each matching property name in the filter
/// policy, at least one property value matches", sns-subscription-filter-policies.html). Arrays, in
/// the body or as `String.Array` attributes, contribute each element as a value; the exception is
/// `anything-but` on a `String.Array` attribute, which matches only when no element is excluded
/// (string-value-matching.html: "For String.Array type attributes, it matches if none of the array
/// elements are listed in the policy property").
enum FilterPolicyEvaluator {
    /// One value a condition is tested against. `number(nil)` is a number outside SNS's domain
    /// (beyond ±10^9, or an unreadable Number attribute): it matches no value condition.
    enum Leaf: Equatable {
        case string([UInt8])
        case number(Int64?)
        case bool(Bool)
        case null
    }

    // MARK: - Attributes

    static func matches(_ root: PolicyNode, attributes: [String: MessageAttributeValue]) -> Bool {
        // Binary (and unknown) data types are invisible to filtering.
        var visible: [String: MessageAttributeValue] = [:]
        for (name, value) in attributes where value.kind != .ignored { visible[name] = value }
        if visible.isEmpty { return false }
        return evaluate(root, attributes: visible)
    }

    static func evaluate(_ node: PolicyNode, attributes: [String: MessageAttributeValue]) -> Bool {
        for field in node.fields {
            guard case .conditions(let conditions) = field.content else { return false }
            if !fieldMatches(conditions, attribute: attributes[field.key]) { return false }
        }
        for group in node.orGroups where !group.contains(where: { evaluate($0, attributes: attributes) }) { return false }
        return true
    }

    static func fieldMatches(_ conditions: [FilterCondition], attribute: MessageAttributeValue?) -> Bool {
        let values = attribute.map(leaves(of:)) ?? []
        for condition in conditions {
            switch condition {
            case .exists(let wanted):
                // "The key must have a non-null and non-empty value" (attribute-key-matching.html).
                let present = attribute.map { !($0.stringValue ?? "").isEmpty } ?? false
                if present == wanted { return true }
            case .anythingBut, .anythingButPrefix:
                guard let attribute, !values.isEmpty else { continue }
                if attribute.kind == .stringArray {
                    if values.allSatisfy({ leaf in matches(condition, leaf) }) { return true }
                } else if values.contains(where: { matches(condition, $0) }) {
                    return true
                }
            default:
                if values.contains(where: { matches(condition, $0) }) { return true }
            }
        }
        return false
    }

    /// The values filtering sees in an attribute.
    static func leaves(of attribute: MessageAttributeValue) -> [Leaf] {
        guard let text = attribute.stringValue else { return [] }
        switch attribute.kind {
        case .string: return [.string(Array(text.utf8))]
        case .number: return [.number(SNSNumber.scaled(text))]
        case .ignored: return []
        case .stringArray:
            guard let parsed = try? JSONParser.parse(Array(text.utf8), options: .init(maxDepth: FilterPolicyLimits.maxBodyDepth,
                                                                                     maxBytes: FilterPolicyLimits.maxBodyBytes,
                                                                                     duplicateKeys: .lastWins)),
                  case .array(let elements) = parsed else { return [] }
            return elements.compactMap(leaf(of:))
        }
    }

    static func leaf(of value: JSONValue) -> Leaf? {
        switch value {
        case .string(let s): return .string(Array(s.utf8))
        case .number(let n): return .number(SNSNumber.scaled(n.text))
        case .bool(let b): return .bool(b)
        case .null: return .null
        case .array, .object: return nil
        }
    }

    // MARK: - One condition, one value

    static func matches(_ condition: FilterCondition, _ leaf: Leaf) -> Bool {
        switch (condition, leaf) {
        case (.string(let s), .string(let v)): return s == v
        case (.number(let x), .number(let v?)): return x == v
        case (.bool(let b), .bool(let v)): return b == v
        case (.null, .null): return true
        case (.prefix(let p), .string(let v)): return v.starts(with: p)
        case (.suffix(let p), .string(let v)): return v.count >= p.count && v[(v.count - p.count)...].elementsEqual(p)
        case (.equalsIgnoreCase(let text), .string(let v)): return CaseFolding.equals(v, text)
        case (.anythingBut(let strings, _), .string(let v)): return !strings.contains(v)
        case (.anythingBut(_, let numbers), .number(let v?)): return !numbers.contains(v)
        case (.anythingButPrefix(let p), .string(let v)): return !v.starts(with: p)
        case (.anythingBut, .number(nil)), (.anythingButPrefix, .number(nil)): return false
        // Values of another type than the exclusions are never excluded (as in EventBridge).
        case (.anythingBut, _), (.anythingButPrefix, _): return true
        case (.numeric(let lower, let lowerInclusive, let upper, let upperInclusive), .number(let v?)):
            if let lower { if lowerInclusive ? v < lower : v <= lower { return false } }
            if let upper { if upperInclusive ? v > upper : v >= upper { return false } }
            return true
        case (.cidr(let block), .string(let v)):
            guard let address = IPAddress.parse(v) else { return false }
            return block.contains(address)
        default:
            return false
        }
    }

    // MARK: - Body

    /// The dotted paths a body policy reads, and every dotted prefix of them (computed once per policy).
    struct BodyPaths: Sendable, Hashable {
        var paths: Set<String> = []
        var prefixes: Set<String> = []

        init(_ root: PolicyNode) {
            collectPaths(root, prefix: nil, into: &paths)
            for path in paths {
                prefixes.insert(path)
                var index = path.utf8.startIndex
                while let dot = path.utf8[index...].firstIndex(of: UInt8(ascii: ".")) {
                    prefixes.insert(String(path[..<dot]))
                    index = path.utf8.index(after: dot)
                }
            }
        }
    }

    static func matches(_ root: PolicyNode, body: JSONValue, paths: BodyPaths) -> Bool {
        var found: [String: [Leaf]] = [:]
        collectLeaves(body, path: nil, depth: 0, paths: paths.paths, prefixes: paths.prefixes, into: &found)
        return evaluate(root, prefix: nil, found: found)
    }

    static func join(_ prefix: String?, _ key: String) -> String { prefix.map { $0 + "." + key } ?? key }

    static func collectPaths(_ node: PolicyNode, prefix: String?, into paths: inout Set<String>) {
        for field in node.fields {
            let path = join(prefix, field.key)
            switch field.content {
            case .conditions: paths.insert(path)
            case .object(let nested): collectPaths(nested, prefix: path, into: &paths)
            }
        }
        for group in node.orGroups { for alternative in group { collectPaths(alternative, prefix: prefix, into: &paths) } }
    }

    /// Gathers the leaf values at every policy path. Keys join with "." so a policy key `a.b`
    /// reaches both `{"a.b": …}` and `{"a": {"b": …}}`; arrays contribute each element.
    static func collectLeaves(_ value: JSONValue, path: String?, depth: Int, paths: Set<String>, prefixes: Set<String>,
                              into found: inout [String: [Leaf]]) {
        guard depth <= FilterPolicyLimits.maxBodyDepth else { return }
        switch value {
        case .object(let object):
            for member in object {
                let p = join(path, member.key)
                if prefixes.contains(p) { collectLeaves(member.value, path: p, depth: depth + 1, paths: paths, prefixes: prefixes, into: &found) }
            }
        case .array(let elements):
            for element in elements { collectLeaves(element, path: path, depth: depth + 1, paths: paths, prefixes: prefixes, into: &found) }
        default:
            if let path, paths.contains(path), let leaf = leaf(of: value) { found[path, default: []].append(leaf) }
        }
    }

    static func evaluate(_ node: PolicyNode, prefix: String?, found: [String: [Leaf]]) -> Bool {
        for field in node.fields {
            let path = join(prefix, field.key)
            switch field.content {
            case .object(let nested):
                if !evaluate(nested, prefix: path, found: found) { return false }
            case .conditions(let conditions):
                let values = found[path] ?? []
                let matched = conditions.contains { condition in
                    if case .exists(let wanted) = condition {
                        // Non-null and non-empty, on leaves only (attribute-key-matching.html).
                        let present = values.contains { $0 != .null && $0 != .string([]) }
                        return present == wanted
                    }
                    return values.contains { matches(condition, $0) }
                }
                if !matched { return false }
            }
        }
        for group in node.orGroups where !group.contains(where: { evaluate($0, prefix: prefix, found: found) }) { return false }
        return true
    }
}
