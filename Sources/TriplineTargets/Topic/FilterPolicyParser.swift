import EventPattern
import TriplineJSON

/// Turns policy JSON into a validated ``PolicyNode`` tree, following SNS's rules; stops at the first problem.
///
/// Rules and their sources (all under https://docs.aws.amazon.com/sns/latest/dg/):
/// - `subscription-filter-policy-constraints.html`: 256 KB, five keys, 150 combinations,
///   numbers within ±10^9, no nesting in the `MessageAttributes` scope.
/// - `and-or-logic.html`: `"$or"` is an operator only when its value is an array of at least two
///   objects, none of which names a reserved keyword; otherwise it is an ordinary property name.
/// - `string-value-matching.html`, `numeric-value-matching.html`, `attribute-key-matching.html`:
///   the operators and their operands.
struct FilterPolicyParser {
    let scope: FilterPolicyScope
    let locations: JSONSourceMap?
    let source: String?

    func fail(_ path: JSONPath, _ problem: FilterPolicyProblem) -> FilterPolicyError {
        FilterPolicyError(path: path, problem: problem, location: locations?.location(of: path), source: source)
    }

    static func describe(_ value: JSONValue) -> String {
        switch value {
        case .object(let o) where o.isEmpty: return "{}"
        case .array(let a) where a.isEmpty: return "[]"
        case .object, .array:
            let text = JSONWriter.string(value)
            return text.utf8.count <= 60 ? text : value.kindDescription
        default:
            let text = JSONWriter.string(value)
            return text.utf8.count <= 80 ? text : String(decoding: Array(text.utf8.prefix(77)), as: UTF8.self) + "…"
        }
    }

    func parseRoot(_ json: JSONValue, at path: JSONPath) throws(FilterPolicyError) -> PolicyNode {
        guard case .object(let object) = json else { throw fail(path, .policyNotObject(found: Self.describe(json))) }
        if object.isEmpty { return PolicyNode() }
        return try parseObject(object, at: path, depth: 1)
    }

    /// Whether `"$or": value` is SNS's OR operator rather than a property named `$or`.
    static func isOrOperator(_ value: JSONValue) -> Bool {
        guard case .array(let elements) = value, elements.count >= 2 else { return false }
        for element in elements {
            guard case .object(let alternative) = element else { return false }
            if alternative.keys.contains(where: { FilterPolicyProblem.operatorNames.contains($0) }) { return false }
        }
        return true
    }

    /// Whether `"$or": value` is an `$or` written with a single alternative: an array holding one
    /// object that names no operator keyword. As a property named `$or` that could never be valid
    /// (its one "value" would be an operator object with no operator), so the writer meant an `$or`.
    static func isLoneOrAlternative(_ value: JSONValue) -> Bool {
        guard case .array(let elements) = value, elements.count == 1, case .object(let alternative) = elements[0] else { return false }
        return !alternative.keys.contains(where: { FilterPolicyProblem.operatorNames.contains($0) })
    }

    func parseObject(_ object: JSONObject, at path: JSONPath, depth: Int) throws(FilterPolicyError) -> PolicyNode {
        var node = PolicyNode()
        for member in object {
            let memberPath = path.appending(member.key)
            if member.key == "$or", FilterPolicyParser.isOrOperator(member.value), case .array(let elements) = member.value {
                var group: [PolicyNode] = []
                for (i, element) in elements.enumerated() {
                    let alternativePath = memberPath.appending(index: i)
                    guard case .object(let alternative) = element else { continue }
                    if alternative.isEmpty { throw fail(alternativePath, .emptyObject) }
                    group.append(try parseObject(alternative, at: alternativePath, depth: depth))
                }
                node.orGroups.append(group)
                continue
            }
            if member.key == "$or", FilterPolicyParser.isLoneOrAlternative(member.value) {
                // Read as a property named "$or" this fails with a misleading "unknown operator"; the intent is plain.
                throw fail(memberPath, .orNeedsTwoAlternatives)
            }
            switch member.value {
            case .object(let nested):
                guard scope == .messageBody else { throw fail(memberPath, .nestedInAttributeScope(found: Self.describe(member.value))) }
                if nested.isEmpty { throw fail(memberPath, .emptyObject) }
                node.fields.append(.init(key: member.key, content: .object(try parseObject(nested, at: memberPath, depth: depth + 1))))
            case .array(let values):
                if values.isEmpty { throw fail(memberPath, .emptyArray) }
                var conditions: [FilterCondition] = []
                for (i, value) in values.enumerated() {
                    conditions.append(try parseCondition(value, at: memberPath.appending(index: i)))
                }
                node.fields.append(.init(key: member.key, content: .conditions(conditions)))
            default:
                if scope == .messageAttributes { throw fail(memberPath, .fieldNotArray(found: Self.describe(member.value))) }
                throw fail(memberPath, .fieldNotArrayOrObject(found: Self.describe(member.value)))
            }
        }
        return node
    }

    func number(_ n: JSONNumber, at path: JSONPath) throws(FilterPolicyError) -> Int64 {
        guard let scaled = SNSNumber.scaled(n.text) else { throw fail(path, .numberOutOfRange(n.text)) }
        return scaled
    }

    func parseCondition(_ value: JSONValue, at path: JSONPath) throws(FilterPolicyError) -> FilterCondition {
        switch value {
        case .string(let s): return .string(Array(s.utf8))
        case .number(let n): return .number(try number(n, at: path))
        case .bool(let b): return .bool(b)
        case .null: return .null
        case .array: throw fail(path, .invalidMatchValue(found: Self.describe(value)))
        case .object(let object):
            guard object.count == 1, let member = object.members.first else { throw fail(path, .operatorKeyCount(count: object.count)) }
            let op = member.key
            let operandPath = path.appending(op)
            let operand = member.value
            func stringOperand() throws(FilterPolicyError) -> String {
                guard case .string(let s) = operand else { throw fail(operandPath, .operand(operator: op, expected: "a string", found: Self.describe(operand))) }
                return s
            }
            switch op {
            case "prefix": return .prefix(Array(try stringOperand().utf8))
            case "suffix": return .suffix(Array(try stringOperand().utf8))
            case "equals-ignore-case": return .equalsIgnoreCase(try stringOperand())
            case "exists":
                guard case .bool(let b) = operand else { throw fail(operandPath, .operand(operator: op, expected: "true or false", found: Self.describe(operand))) }
                return .exists(b)
            case "cidr":
                let text = try stringOperand()
                switch CIDRBlock.parse(text) {
                case .success(let block): return .cidr(block)
                case .failure(let problem): throw fail(operandPath, .cidr(problem, text: text))
                }
            case "anything-but": return try parseAnythingBut(operand, at: operandPath)
            case "numeric": return try parseNumeric(operand, at: operandPath)
            default: throw fail(path, .unknownOperator(op))
            }
        }
    }

    func parseAnythingBut(_ operand: JSONValue, at path: JSONPath) throws(FilterPolicyError) -> FilterCondition {
        let expected = "a string, a number, a non-empty list of strings and numbers, or {\"prefix\": \"…\"}"
        switch operand {
        case .string(let s): return .anythingBut(strings: [Array(s.utf8)], numbers: [])
        case .number(let n): return .anythingBut(strings: [], numbers: [try number(n, at: path)])
        case .array(let values):
            if values.isEmpty { throw fail(path, .emptyArray) }
            var strings: [[UInt8]] = [], numbers: [Int64] = []
            for (i, v) in values.enumerated() {
                switch v {
                case .string(let s): strings.append(Array(s.utf8))
                case .number(let n): numbers.append(try number(n, at: path.appending(index: i)))
                default: throw fail(path.appending(index: i), .operand(operator: "anything-but", expected: "strings or numbers in its list", found: Self.describe(v)))
                }
            }
            return .anythingBut(strings: strings, numbers: numbers)
        case .object(let object):
            guard object.count == 1, let member = object.members.first else { throw fail(path, .operatorKeyCount(count: object.count)) }
            guard member.key == "prefix" else { throw fail(path, .unsupportedAnythingBut(inner: member.key)) }
            guard case .string(let s) = member.value else {
                throw fail(path.appending("prefix"), .operand(operator: "prefix", expected: "a string", found: Self.describe(member.value)))
            }
            // Every string starts with "": the condition could match nothing (EventBridge patterns reject it too).
            if s.isEmpty { throw fail(path.appending("prefix"), .anythingButEmptyPrefix) }
            return .anythingButPrefix(Array(s.utf8))
        default:
            throw fail(path, .operand(operator: "anything-but", expected: expected, found: Self.describe(operand)))
        }
    }

    /// `[op, n]` with op one of `=`, `<`, `<=`, `>`, `>=`, or `[">"|">=", lo, "<"|"<=", hi]` with lo < hi.
    func parseNumeric(_ operand: JSONValue, at path: JSONPath) throws(FilterPolicyError) -> FilterCondition {
        guard case .array(let items) = operand else {
            throw fail(path, .numericMalformed(detail: "the operand must be an array", found: Self.describe(operand)))
        }
        if items.isEmpty { throw fail(path, .numericMalformed(detail: "the list is empty", found: "[]")) }
        if items.count != 2 && items.count != 4 {
            throw fail(path, .numericMalformed(detail: "expected 2 or 4 elements", found: "\(items.count) elements"))
        }
        func op(_ i: Int) throws(FilterPolicyError) -> String {
            guard case .string(let s) = items[i] else {
                throw fail(path.appending(index: i), .numericMalformed(detail: "element \(i) must be an operator string", found: Self.describe(items[i])))
            }
            guard ["=", "<", "<=", ">", ">="].contains(s) else { throw fail(path.appending(index: i), .numericUnknownOperator(s)) }
            return s
        }
        func value(_ i: Int) throws(FilterPolicyError) -> (Int64, String) {
            guard case .number(let n) = items[i] else {
                throw fail(path.appending(index: i), .numericMalformed(detail: "element \(i) must be a number", found: Self.describe(items[i])))
            }
            return (try number(n, at: path.appending(index: i)), n.text)
        }
        let first = try op(0)
        let (x, _) = try value(1)
        if items.count == 2 {
            switch first {
            case "=": return .numeric(lower: x, lowerInclusive: true, upper: x, upperInclusive: true)
            case "<": return .numeric(lower: nil, lowerInclusive: false, upper: x, upperInclusive: false)
            case "<=": return .numeric(lower: nil, lowerInclusive: false, upper: x, upperInclusive: true)
            case ">": return .numeric(lower: x, lowerInclusive: false, upper: nil, upperInclusive: false)
            default: return .numeric(lower: x, lowerInclusive: true, upper: nil, upperInclusive: false)
            }
        }
        guard first == ">" || first == ">=" else {
            throw fail(path.appending(index: 0), .numericMalformed(detail: "a range starts with \">\" or \">=\"", found: JSONWriter.quoted(first)))
        }
        let second = try op(2)
        guard second == "<" || second == "<=" else {
            throw fail(path.appending(index: 2), .numericMalformed(detail: "a range ends with \"<\" or \"<=\"", found: JSONWriter.quoted(second)))
        }
        let (y, _) = try value(3)
        guard x < y else { throw fail(path, .numericBottomNotBelowTop(bottom: SNSNumber.text(x), top: SNSNumber.text(y))) }
        return .numeric(lower: x, lowerInclusive: first == ">=", upper: y, upperInclusive: second == "<=")
    }

    // MARK: - Limits over the whole policy

    /// SNS's key count of the largest branch: leaf keys (those holding a value array), counted
    /// through nested objects, whose own keys do not count; plus, per `$or` group, its largest
    /// alternative. The filter-policy-constraints page: in `{"state", "severity", "message",
    /// "finding": {"standard_control", "region", "account"}}` six keys count, `finding` not.
    static func keyCount(_ node: PolicyNode) -> Int {
        var count = 0
        for field in node.fields {
            switch field.content {
            case .conditions: count += 1
            case .object(let nested): count += keyCount(nested)
            }
        }
        for group in node.orGroups { count += group.map(keyCount).max() ?? 0 }
        return count
    }

    /// SNS's complexity measure: the product of every value array's length, times its nesting
    /// depth for body policies (the documented example: 4 values at depth 3 and 3 values at depth 2
    /// give 4 × 3 × 3 × 2 = 72); an `$or` group contributes the sum of its alternatives. Saturates.
    static func combinations(_ node: PolicyNode, depth: Int, scope: FilterPolicyScope) -> Int {
        var total = 1
        for field in node.fields {
            switch field.content {
            case .conditions(let conditions):
                total = saturatingMultiply(total, conditions.count * (scope == .messageBody ? depth : 1))
            case .object(let nested):
                total = saturatingMultiply(total, combinations(nested, depth: depth + 1, scope: scope))
            }
        }
        for group in node.orGroups {
            var sum = 0
            for alternative in group { sum = min(sum + combinations(alternative, depth: depth, scope: scope), Int.max / 4) }
            total = saturatingMultiply(total, sum)
        }
        return total
    }

    static func saturatingMultiply(_ a: Int, _ b: Int) -> Int {
        let (r, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? Int.max / 4 : min(r, Int.max / 4)
    }
}
