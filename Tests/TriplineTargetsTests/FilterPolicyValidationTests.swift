import Testing
import TriplineJSON
@testable import TriplineTargets

/// A policy SNS rejects, and the exact message Tripline prints for it.
struct RejectedPolicy: CustomStringConvertible, Sendable {
    let policy: String
    let scope: FilterPolicyScope
    let message: String
    var description: String { policy.count > 80 ? String(policy.prefix(77)) + "…" : policy }
}

private func attrs(_ policy: String, _ message: String) -> RejectedPolicy { .init(policy: policy, scope: .messageAttributes, message: message) }
private func body(_ policy: String, _ message: String) -> RejectedPolicy { .init(policy: policy, scope: .messageBody, message: message) }

@Suite("SNS filter policies: validation errors")
struct FilterPolicyValidationTests {
    // Rules: https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html,
    // https://docs.aws.amazon.com/sns/latest/dg/and-or-logic.html and the operator pages.
    static let rejected: [RejectedPolicy] = [
        attrs(#"{"a": ["x"], "b": ["x"], "c": ["x"], "d": ["x"], "e": ["x"], "f": ["x"]}"#,
              "p.json:1:1: (top level): filter policy has 6 keys; SNS allows at most 5"),
        attrs(#"{"a":["1"],"b":["1"],"c":["1"],"g":["1"],"$or":[{"d":["1"],"e":["1"]},{"f":["1"]}]}"#,
              "p.json:1:1: (top level): filter policy has 6 keys; SNS allows at most 5"),
        // The filter-policy-constraints page's own example: state, severity, message and the three
        // leaves under finding count (finding itself does not): 6 keys.
        body(#"{"state": ["SUCCESS"], "severity": [{"exists": true}], "message": [{"exists": true}], "finding": {"standard_control": [{"exists": true}], "region": [{"exists": true}], "account": [{"exists": true}]}}"#,
             "p.json:1:1: (top level): filter policy has 6 keys; SNS allows at most 5"),
        body(#"{"detail": {"a": ["1"], "b": ["1"], "c": ["1"], "d": ["1"], "e": ["1"], "f": ["1"]}}"#,
             "p.json:1:1: (top level): filter policy has 6 keys; SNS allows at most 5"),
        body(#"{"a": ["1"], "$or": [{"b": {"c": ["1"], "d": ["1"]}}, {"e": ["1"]}], "f": {"g": {"h": ["1"], "i": ["1"], "j": ["1"]}}}"#,
             "p.json:1:1: (top level): filter policy has 6 keys; SNS allows at most 5"),
        attrs(#"{"a": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16], "b": [1,2,3,4,5,6,7,8,9,10]}"#,
              "p.json:1:1: (top level): filter policy is too complex: its values multiply out to 160 combinations; SNS allows at most 150"),
        // Body policies multiply by nesting depth: one value 151 levels down is already too complex.
        body(String(repeating: #"{"k":"#, count: 151) + #"["v"]"# + String(repeating: "}", count: 151),
             "p.json:1:1: (top level): filter policy is too complex: its values multiply out to 151 combinations; SNS allows at most 150"),
        attrs(#"{"store": {"name": ["x"]}}"#,
              #"p.json:1:11: store: filter policy scope MessageAttributes does not support nested policies; expected an array of values, got {"name":["x"]}"#),
        attrs(#"{"a": "x"}"#, #"p.json:1:7: a: expected an array of values to match (e.g. ["x"]), got "x""#),
        body(#"{"a": "x"}"#, #"p.json:1:7: a: expected an array of values to match (e.g. ["x"]) or a nested object, got "x""#),
        attrs(#"{"a": []}"#, "p.json:1:7: a: empty arrays are not allowed; list at least one value"),
        body(#"{"a": {}}"#, "p.json:1:7: a: empty objects are not allowed; name at least one property"),
        attrs(#"{"price": [{"numeric": [">", 5000000000]}]}"#,
              "p.json:1:30: price[0].numeric[1]: 5000000000 is outside the range SNS allows for numbers, -1000000000 to 1000000000"),
        attrs(#"{"price": [-1000000000.00001]}"#,
              "p.json:1:12: price[0]: -1000000000.00001 is outside the range SNS allows for numbers, -1000000000 to 1000000000"),
        attrs(#"{"a": [{"wildcard": "x*"}]}"#,
              #"p.json:1:8: a[0]: unknown operator "wildcard"; expected one of "prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists", "cidr""#),
        attrs(#"{"a": [{"anything-but": {"suffix": "x"}}]}"#,
              #"p.json:1:25: a[0].anything-but: SNS supports only "prefix" inside "anything-but" (a string, a number, a list, or {"prefix": …}), got "suffix""#),
        // Every string starts with "", so this would match nothing; EventBridge patterns reject it alike.
        attrs(#"{"a": [{"anything-but": {"prefix": ""}}]}"#,
              #"p.json:1:36: a[0].anything-but.prefix: "anything-but" "prefix" cannot be empty: every string starts with "", so nothing would match (EventBridge rejects it in patterns too)"#),
        body(#"{"a": [{"anything-but": {"suffix": ""}}]}"#,
             #"p.json:1:25: a[0].anything-but: SNS supports only "prefix" inside "anything-but" (a string, a number, a list, or {"prefix": …}), got "suffix""#),
        attrs(#"{"a": [{"anything-but": []}]}"#, "p.json:1:25: a[0].anything-but: empty arrays are not allowed; list at least one value"),
        attrs(#"{"a": [{"anything-but": [true]}]}"#,
              #"p.json:1:26: a[0].anything-but[0]: "anything-but" needs strings or numbers in its list, got true"#),
        attrs(#"{"a": [{"exists": "yes"}]}"#, #"p.json:1:19: a[0].exists: "exists" needs true or false, got "yes""#),
        attrs(#"{"a": [{"prefix": 5}]}"#, #"p.json:1:19: a[0].prefix: "prefix" needs a string, got 5"#),
        attrs(#"{"a": [{"numeric": [">", 10, "<", 5]}]}"#,
              #"p.json:1:20: a[0].numeric: "numeric": the lower bound 10 must be less than the upper bound 5"#),
        attrs(#"{"a": [{"numeric": ["<", 10, ">", 5]}]}"#,
              #"p.json:1:21: a[0].numeric[0]: "numeric" needs an operator/number list such as [">", 0, "<=", 150]: a range starts with ">" or ">=", got "<""#),
        attrs(#"{"a": [{"numeric": ["!=", 1]}]}"#,
              #"p.json:1:21: a[0].numeric[0]: "numeric": unknown operator "!="; expected one of "=", "<", "<=", ">", ">=""#),
        attrs(#"{"a": [{"numeric": [">", 1, "<"]}]}"#,
              #"p.json:1:20: a[0].numeric: "numeric" needs an operator/number list such as [">", 0, "<=", 150]: expected 2 or 4 elements, got 3 elements"#),
        attrs(#"{"a": [{"numeric": [">", "1"]}]}"#,
              #"p.json:1:26: a[0].numeric[1]: "numeric" needs an operator/number list such as [">", 0, "<=", 150]: element 1 must be a number, got "1""#),
        // and-or-logic.html: "isn't parsed as an OR relationship because numeric and prefix are
        // reserved keywords" — so "$or" is a property whose first value is a malformed operator.
        attrs(#"{"$or": [{"numeric": 123}, {"prefix": "abc"}]}"#,
              #"p.json:1:22: $or[0].numeric: "numeric" needs an operator/number list such as [">", 0, "<=", 150]: the operand must be an array, got 123"#),
        attrs(#"{"$or": [{"a": ["x"]}, {}]}"#, "p.json:1:24: $or[1]: empty objects are not allowed; name at least one property"),
        // One alternative: not an OR by and-or-logic.html's rule, but as a property it could never be valid; say what is missing.
        attrs(#"{"$or": [{"a": ["x"]}]}"#,
              #"p.json:1:9: $or: "$or" needs at least two alternatives (an array of two or more objects such as [{"a": ["x"]}, {"b": ["y"]}]), got one; with a single alternative, write its properties without "$or""#),
        body(#"{"x": {"$or": [{"a": ["x"], "b": ["y"]}]}}"#,
             #"p.json:1:15: x.$or: "$or" needs at least two alternatives (an array of two or more objects such as [{"a": ["x"]}, {"b": ["y"]}]), got one; with a single alternative, write its properties without "$or""#),
        attrs(#"{"$or": [{"a": {"b": ["x"]}}, {"c": ["y"]}]}"#,
              #"p.json:1:16: $or[0].a: filter policy scope MessageAttributes does not support nested policies; expected an array of values, got {"b":["x"]}"#),
        attrs(#"{"ip": [{"cidr": "10.0.0.0"}]}"#, #"p.json:1:18: ip[0].cidr: "cidr" "10.0.0.0": expected one '/' separating address and prefix length"#),
        attrs(#"{"ip": [{"cidr": "10.0.0.300/8"}]}"#, #"p.json:1:18: ip[0].cidr: "cidr" "10.0.0.300/8": expected a valid IPv4 or IPv6 address before '/', not "10.0.0.300""#),
        attrs(#"{"a": [["x"]]}"#, #"p.json:1:8: a[0]: expected a string, number, true, false, null or an operator object, got ["x"]"#),
        attrs(#"{"a": [{"prefix": "x", "suffix": "y"}]}"#,
              #"p.json:1:8: a[0]: an operator object holds exactly one operator, e.g. {"prefix": "x"}, got 2 keys"#),
        attrs(#"["a"]"#, #"p.json:1:1: (top level): a filter policy must be a JSON object, got ["a"]"#),
        attrs(#"{"a": ["#, "p.json:1:8: filter policy is not valid JSON: unexpected end of input, expected a JSON value"),
        attrs(#"{"a": ["x"], "a": ["y"]}"#, #"p.json:1:14: filter policy is not valid JSON: duplicate key "a""#),
    ]

    @Test("each rejected policy names path, value and expectation", arguments: rejected)
    func rejectedPolicy(_ c: RejectedPolicy) {
        #expect(throws: FilterPolicyError.self) { try FilterPolicy(c.policy, scope: c.scope, source: "p.json") }
        do {
            _ = try FilterPolicy(c.policy, scope: c.scope, source: "p.json")
        } catch {
            #expect(error.description == c.message)
        }
    }

    @Test func policyOver256KBIsRejectedBeforeParsing() {
        let big = #"{"a": [""# + String(repeating: "x", count: 300_000) + #""]}"#
        #expect(throws: FilterPolicyError.self) { try FilterPolicy(big, source: "p.json") }
        do { _ = try FilterPolicy(big, source: "p.json") } catch {
            #expect(error.description == "p.json: (top level): filter policy is 300011 bytes; SNS allows at most 262144 (256 KB)")
        }
        let value = JSONValue.object(JSONObject(["a": .array([.string(String(repeating: "x", count: 300_000))])]))
        #expect(throws: FilterPolicyError.self) { try FilterPolicy(json: value) }
    }

    @Test func documentedCombinationCounts() throws {
        // subscription-filter-policy-constraints.html: 3 × 1 × 2 = 6.
        let attributes = try FilterPolicy(#"{"key_a": ["value_one", "value_two", "value_three"], "key_b": ["value_one"], "key_c": ["value_one", "value_two"]}"#)
        #expect(attributes.combinations == 6)
        // Same page, nested body policy: four values at depth 3, three at depth 2: 3 × 4 × 2 × 3 = 72.
        let nested = try FilterPolicy(#"""
            {"key_a": {"key_b": {"key_c": ["value_one", "value_two", "value_three", "value_four"]}},
             "key_d": {"key_e": ["value_one", "value_two", "value_three"]}}
            """#, scope: .messageBody)
        #expect(nested.combinations == 72)
        #expect(nested.keyCount == 2)
        // An $or group adds its alternatives: ("a" 2 values) × (1 + 3) = 8.
        let or = try FilterPolicy(#"{"a": ["1", "2"], "$or": [{"b": ["1"]}, {"c": ["1", "2", "3"]}]}"#)
        #expect(or.combinations == 8)
        #expect(or.keyCount == 2)
        let five = try FilterPolicy(#"{"a":["1"],"b":["1"],"c":["1"],"$or":[{"d":["1"],"e":["1"]},{"f":["1"]}]}"#)
        #expect(five.keyCount == 5)
        // Same page, key counting: "only the keys key_d and key_f are counted".
        let deep = try FilterPolicy(#"{"key_a": {"key_b": {"key_c": {"key_d": ["x"]}}, "key_e": {"key_f": ["x"]}}}"#, scope: .messageBody)
        #expect(deep.keyCount == 2)
        // Five leaves under one parent are at the limit, not over it.
        let fiveLeaves = try FilterPolicy(#"{"detail": {"a": ["1"], "b": ["1"], "c": ["1"], "d": ["1"], "e": ["1"]}}"#, scope: .messageBody)
        #expect(fiveLeaves.keyCount == 5)
    }

    @Test func boundaryValuesAreAccepted() throws {
        _ = try FilterPolicy(#"{"a": [1000000000, -1000000000, {"numeric": [">=", -1000000000, "<=", 1000000000]}]}"#)
        _ = try FilterPolicy(#"{"a": [{"anything-but": ["x", 5]}]}"#)   // SNS does not require one type
        // "$or" holding one operator object stays a property named "$or" (and-or-logic.html).
        _ = try FilterPolicy(#"{"$or": [{"prefix": "x"}]}"#)
        // Excluding the empty string itself is a real condition; so is a plain empty prefix (matches every string).
        _ = try FilterPolicy(#"{"a": [{"anything-but": [""]}, {"anything-but": ""}, {"prefix": ""}]}"#)
        _ = try FilterPolicy(#"{"a": [{"cidr": "2001:db8::/32"}, {"cidr": "10.0.0.1/32"}]}"#)
        let empty = try FilterPolicy("{}")
        #expect(empty.matches(attributes: [:]))
    }

    @Test func hostileInputIsRejectedNotCrashed() {
        let deep = String(repeating: "[", count: 100_000)
        #expect(throws: FilterPolicyError.self) { try FilterPolicy(deep, scope: .messageBody) }
        let deepObject = String(repeating: #"{"k":"#, count: 10_000)
        #expect(throws: FilterPolicyError.self) { try FilterPolicy(deepObject, scope: .messageBody) }
        #expect(throws: FilterPolicyError.self) { try FilterPolicy(json: Array([0xFF, 0xFE])) }
    }
}
