import EventPattern
import TriplineJSON

/// Translates a `MessageBody` filter policy into the EventBridge pattern that matches exactly the
/// same bodies, when there is one.
///
/// Exactness rests on three checks: every condition is one whose SNS and EventBridge meanings agree
/// (see ``FilterPolicy/eventPattern``); within each `$or` branch no two properties share a
/// top-level key segment, so EventBridge's rule that fields inside one array of objects come from
/// the same element can never bind (SNS judges each property alone); and EventBridge accepts the
/// result. The differential test in `FilterPolicyDifferentialTests` checks it on random input.
enum FilterPolicyTranslation {
    static func eventPattern(for policy: FilterPolicy) -> EventPattern? {
        guard policy.scope == .messageBody, !policy.root.isEmpty else { return nil }
        for branch in branches(policy.root, prefix: nil) {
            var heads: Set<Substring> = []
            for path in branch {
                let head = path.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
                if !heads.insert(head).inserted { return nil }
            }
        }
        guard let json = translate(policy.root) else { return nil }
        return try? EventPattern(json: json)
    }

    /// The leaf paths of each `$or` branch (at most 150 branches: the combination limit bounds them).
    static func branches(_ node: PolicyNode, prefix: String?) -> [[String]] {
        var result: [[String]] = [[]]
        for field in node.fields {
            let path = FilterPolicyEvaluator.join(prefix, field.key)
            switch field.content {
            case .conditions: for i in result.indices { result[i].append(path) }
            case .object(let nested):
                let inner = branches(nested, prefix: path)
                result = result.flatMap { l in inner.map { l + $0 } }
            }
        }
        for group in node.orGroups {
            let alternatives = group.flatMap { branches($0, prefix: prefix) }
            result = result.flatMap { l in alternatives.map { l + $0 } }
        }
        return result
    }

    static func translate(_ node: PolicyNode) -> JSONValue? {
        var object = JSONObject()
        for field in node.fields {
            switch field.content {
            case .object(let nested):
                guard let inner = translate(nested) else { return nil }
                object.members.append(JSONMember(key: field.key, value: inner))
            case .conditions(let conditions):
                var values: [JSONValue] = []
                for condition in conditions {
                    guard let value = translate(condition) else { return nil }
                    values.append(value)
                }
                object.members.append(JSONMember(key: field.key, value: .array(values)))
            }
        }
        for group in node.orGroups {
            var alternatives: [JSONValue] = []
            for alternative in group {
                guard let inner = translate(alternative) else { return nil }
                alternatives.append(inner)
            }
            object.members.append(JSONMember(key: "$or", value: .array(alternatives)))
        }
        return .object(object)
    }

    static func text(_ bytes: [UInt8]) -> JSONValue { .string(String(decoding: bytes, as: UTF8.self)) }

    static func translate(_ condition: FilterCondition) -> JSONValue? {
        switch condition {
        case .string(let s): return text(s)
        case .bool(let b): return .bool(b)
        case .null: return .null
        case .prefix(let p): return ["prefix": text(p)]
        case .suffix(let p): return ["suffix": text(p)]
        case .equalsIgnoreCase(let s): return ["equals-ignore-case": .string(s)]
        case .anythingBut(let strings, let numbers):
            guard numbers.isEmpty, !strings.isEmpty else { return nil }
            return ["anything-but": .array(strings.map(text))]
        case .anythingButPrefix(let p): return ["anything-but": ["prefix": text(p)]]
        case .cidr(let block): return ["cidr": .string(block.text)]
        case .number, .numeric, .exists: return nil
        }
    }
}
