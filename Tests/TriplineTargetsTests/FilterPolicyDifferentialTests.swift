import EventPattern
import Testing
import TriplineJSON
@testable import TriplineTargets

/// SplitMix64, local to this file (the test target does not depend on SeededRandom).
private struct Seeded: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int.random(in: 0..<n, using: &self) }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
    mutating func pick<T>(_ options: [T]) -> T { options[below(options.count)] }
}

private let keys = ["a", "b", "c", "a.b", "b.c"]
private let words = ["x", "xy", "X", "Xy", "yx", "", "10.0.0.5", "10.1.0.1", "straße", "STRASSE", "é", "e\u{301}"]

private func policyValue(_ r: inout Seeded) -> JSONValue {
    switch r.below(12) {
    case 0: return .string(r.pick(words))
    case 1: return .bool(r.chance(50))
    case 2: return .null
    case 3: return ["prefix": .string(r.pick(["x", "X", "1", "str"]))]
    case 4: return ["suffix": .string(r.pick(["y", "x", "5", "SSE"]))]
    case 5: return ["equals-ignore-case": .string(r.pick(["xy", "STRASSE", "straße", "X"]))]
    case 6: return ["anything-but": .array((0...r.below(2)).map { _ in .string(r.pick(words)) })]
    case 7: return ["anything-but": ["prefix": .string(r.pick(["x", "1", "S"]))]]
    case 8: return ["cidr": .string(r.pick(["10.0.0.0/24", "10.0.0.0/8", "10.1.0.1/32"]))]
    case 9: return .string(r.pick(words))
    case 10: return r.chance(20) ? ["exists": .bool(r.chance(50))] : .string(r.pick(words))   // exists never translates
    default: return r.chance(20) ? .number(JSONNumber(r.below(3))) : .string(r.pick(words))   // nor do numbers
    }
}

private func policyObject(_ r: inout Seeded, depth: Int) -> JSONValue {
    var object = JSONObject()
    for key in keys.shuffled(using: &r).prefix(1 + r.below(2)) {
        if depth < 2 && r.chance(30) {
            object[key] = policyObject(&r, depth: depth + 1)
        } else {
            object[key] = .array((0...r.below(2)).map { _ in policyValue(&r) })
        }
    }
    if depth < 2 && r.chance(30) {
        object["$or"] = .array((0..<(2 + r.below(2))).map { _ in policyObject(&r, depth: depth + 1) })
    }
    return .object(object)
}

private func scalar(_ r: inout Seeded) -> JSONValue {
    switch r.below(6) {
    case 0: return .number(JSONNumber(r.below(3)))
    case 1: return .bool(r.chance(50))
    case 2: return .null
    default: return .string(r.pick(words))
    }
}

private func bodyObject(_ r: inout Seeded, depth: Int) -> JSONValue {
    var object = JSONObject()
    for key in keys.shuffled(using: &r).prefix(r.below(4)) {
        switch r.below(depth < 3 ? 5 : 2) {
        case 0: object[key] = scalar(&r)
        case 1: object[key] = .array((0..<r.below(3)).map { _ in scalar(&r) })
        case 2, 3: object[key] = bodyObject(&r, depth: depth + 1)
        default: object[key] = .array((0..<(1 + r.below(2))).map { _ in bodyObject(&r, depth: depth + 1) })
        }
    }
    return .object(object)
}

@Suite("SNS filter policies: EventBridge translation agrees with the SNS evaluator")
struct FilterPolicyDifferentialTests {
    @Test func translatedPoliciesMatchTheSameBodies() throws {
        var r = Seeded(state: 0x5EED_2026)
        var translated = 0, matched = 0, compared = 0
        for _ in 0..<1_500 {
            let json = policyObject(&r, depth: 0)
            guard let policy = try? FilterPolicy(json: json, scope: .messageBody), let pattern = policy.eventPattern else { continue }
            translated += 1
            let machine = PatternMachine([(id: 0, pattern: pattern)])
            for _ in 0..<40 {
                let body = bodyObject(&r, depth: 0)
                let sns = policy.matches(body: body)
                let eventBridge = try machine.matches(event: JSONWriter.string(body)) == [0]
                #expect(sns == eventBridge, "policy \(JSONWriter.string(json)) body \(JSONWriter.string(body))")
                if sns != eventBridge { return }
                compared += 1
                if sns { matched += 1 }
            }
        }
        // The comparison must exercise both outcomes on many policies to mean anything.
        #expect(translated >= 300)
        #expect(matched >= 500 && compared - matched >= 500)
    }

    @Test func onlyExactTranslationsAreOffered() throws {
        #expect(try FilterPolicy(#"{"a": ["x", {"prefix": "y"}], "b": {"c": [{"cidr": "10.0.0.0/8"}]}}"#, scope: .messageBody).eventPattern != nil)
        #expect(try FilterPolicy(#"{"a": [{"anything-but": {"prefix": "y"}}], "$or": [{"b": [true]}, {"c": [null]}]}"#, scope: .messageBody).eventPattern != nil)
        // SNS's number domain and exists rule differ from EventBridge's.
        #expect(try FilterPolicy(#"{"a": [1]}"#, scope: .messageBody).eventPattern == nil)
        #expect(try FilterPolicy(#"{"a": [{"numeric": [">", 1]}]}"#, scope: .messageBody).eventPattern == nil)
        #expect(try FilterPolicy(#"{"a": [{"exists": true}]}"#, scope: .messageBody).eventPattern == nil)
        #expect(try FilterPolicy(#"{"a": [{"anything-but": ["x", 1]}]}"#, scope: .messageBody).eventPattern == nil)
        // Two properties under one top-level key: EventBridge's array consistency could differ.
        #expect(try FilterPolicy(#"{"a": {"b": ["1"], "c": ["2"]}}"#, scope: .messageBody).eventPattern == nil)
        #expect(try FilterPolicy(#"{"a.b": ["1"], "a": {"c": ["2"]}}"#, scope: .messageBody).eventPattern == nil)
        #expect(try FilterPolicy(#"{"a": ["x"]}"#).eventPattern == nil)   // attribute scope
    }

    @Test func translationIsTheDocumentedShape() throws {
        let policy = try FilterPolicy(#"{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}]}"#,
                                      scope: .messageBody)
        let expected = try EventPattern.parse(#"{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}]}"#)
        #expect(policy.eventPattern == expected)
    }
}
