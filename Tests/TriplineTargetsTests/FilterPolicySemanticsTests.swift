import Testing
import TriplineJSON
@testable import TriplineTargets

private let S = MessageAttributeValue.string
private let N = MessageAttributeValue.number
private let SA = MessageAttributeValue.stringArray

/// Decisions where the SNS documentation is silent or differs from EventBridge (README, "SNS topics: filter policies and where they differ from EventBridge patterns").
@Suite("SNS filter policies: semantics Tripline decides")
struct FilterPolicySemanticsTests {
    static let attributeCases: [SNSDocCase] = [
        // Five decimal digits: values agreeing on floor(x × 10^5) are equal.
        .attrs(#"{"a": [{"numeric": ["=", 1.000001]}]}"#, ["a": N("1.000009")], true),
        .attrs(#"{"a": [{"numeric": ["=", 1.000001]}]}"#, ["a": N("1.00001")], false),
        .attrs(#"{"a": [0.1]}"#, ["a": N("1e-1")], true),
        .attrs(#"{"a": [300]}"#, ["a": N("3.0E2")], true),
        // Numbers outside ±10^9 are outside SNS's domain and match no value condition.
        .attrs(#"{"a": [{"numeric": [">", 0]}]}"#, ["a": N("5e9")], false),
        .attrs(#"{"a": [{"anything-but": [1]}]}"#, ["a": N("5e9")], false),
        .attrs(#"{"a": [{"anything-but": [1]}]}"#, ["a": N("not a number")], false),
        // Types: a string policy value never matches a Number attribute, nor a number a String.
        .attrs(#"{"a": ["100"]}"#, ["a": N("100")], false),
        .attrs(#"{"a": [100]}"#, ["a": S("100")], false),
        .attrs(#"{"a": [{"numeric": [">", 1]}]}"#, ["a": S("100")], false),
        .attrs(#"{"a": [{"prefix": "1"}]}"#, ["a": N("100")], false),
        // anything-but never excludes another type.
        .attrs(#"{"a": [{"anything-but": ["x"]}]}"#, ["a": N("5")], true),
        .attrs(#"{"a": [{"anything-but": [5]}]}"#, ["a": S("5")], true),
        // Custom type labels keep their base type.
        .attrs(#"{"a": [{"numeric": [">", 1]}]}"#, ["a": .init(dataType: "Number.float", stringValue: "1.5")], true),
        .attrs(#"{"a": ["x"]}"#, ["a": .init(dataType: "String.custom", stringValue: "x")], true),
        // String.Array elements may be strings, numbers, booleans and null; any element matching matches.
        .attrs(#"{"a": [{"numeric": [">", 10]}]}"#, ["a": SA(#"["x", 11]"#)], true),
        .attrs(#"{"a": [true]}"#, ["a": SA(#"[false, true]"#)], true),
        .attrs(#"{"a": [null]}"#, ["a": SA(#"[null]"#)], true),
        .attrs(#"{"a": [{"prefix": "ba"}]}"#, ["a": SA(#"["rugby", "baseball"]"#)], true),
        .attrs(#"{"a": ["x"]}"#, ["a": SA(#"not json"#)], false),
        .attrs(#"{"a": ["x"]}"#, ["a": SA(#"{"a": "x"}"#)], false),
        .attrs(#"{"a": [{"anything-but": ["x"]}]}"#, ["a": SA(#"[]"#)], false),
        .attrs(#"{"a": [{"anything-but": {"prefix": "x"}}]}"#, ["a": SA(#"["ya", "xb"]"#)], false),
        .attrs(#"{"a": [{"anything-but": {"prefix": "x"}}]}"#, ["a": SA(#"["ya", "yb"]"#)], true),
        // Strings compare byte for byte: no Unicode normalization (é precomposed vs combining).
        .attrs(#"{"a": ["\u00e9"]}"#, ["a": S("e\u{301}")], false),
        // The docs' "double-escape" note is not emulated: decoded strings are compared.
        .attrs(#"{"a": ["a\"b\\c"]}"#, ["a": S("a\"b\\c")], true),
        .attrs(#"{"a": [{"equals-ignore-case": "STRASSE"}]}"#, ["a": S("strasse")], true),
        .attrs(#"{"a": [{"cidr": "2001:db8::/32"}]}"#, ["a": S("2001:db8::1")], true),
        .attrs(#"{"a": [{"cidr": "10.0.0.0/8"}]}"#, ["a": S("::ffff:10.0.0.1")], false),
        // Binary attributes are invisible; a message with only Binary attributes matches nothing.
        .attrs(#"{"a": [{"anything-but": ["x"]}]}"#, ["a": .binary([1])], false),
    ]

    static let bodyCases: [SNSDocCase] = [
        .body(#"{"a": {"b": ["x"]}}"#, #"{"a": {"b": "x"}}"#, true),
        // Dotted keys reach nested objects and flat dotted keys alike.
        .body(#"{"a.b": ["x"]}"#, #"{"a": {"b": "x"}}"#, true),
        .body(#"{"a": {"b": ["x"]}}"#, #"{"a.b": "x"}"#, true),
        // Arrays anywhere on the path contribute every element.
        .body(#"{"a": {"b": ["x"]}}"#, #"{"a": [{"b": "y"}, {"b": ["z", "x"]}]}"#, true),
        // Each property is judged alone: values may come from different array elements.
        .body(#"{"a": {"b": ["1"], "c": ["2"]}}"#, #"{"a": [{"b": "1", "c": "0"}, {"b": "0", "c": "2"}]}"#, true),
        .body(#"{"a": [{"numeric": [">=", 2]}]}"#, #"{"a": [1, 2]}"#, true),
        .body(#"{"a": [null]}"#, #"{"a": null}"#, true),
        .body(#"{"a": [false]}"#, #"{"a": false}"#, true),
        .body(#"{"a": [false]}"#, #"{"a": "false"}"#, false),
        .body(#"{"a": ["x"]}"#, #"["x"]"#, false),
        .body(#"{"a": ["x"]}"#, #"{"a": "x""#, false),
        .body(#"{"a": ["x"]}"#, #"{"a": "x", "a": "y"}"#, false),
        .body(#"{"a": [{"exists": false}]}"#, #"{"a": null}"#, true),
        .body(#"{"a": [{"exists": false}]}"#, #"{"b": 1}"#, true),
        .body(#"{"a": [{"exists": true}]}"#, #"{"a": [null, ""]}"#, false),
        .body(#"{"a": [{"exists": true}]}"#, #"{"a": [null, 0]}"#, true),
        .body(#"{"$or": [{"a": ["1"]}, {"b": {"c": ["2"]}}]}"#, #"{"b": {"c": "2"}}"#, true),
        .body(#"{"$or": [{"a": ["1"]}, {"b": {"c": ["2"]}}]}"#, #"{"b": {"c": "1"}}"#, false),
    ]

    @Test("attribute matching decisions", arguments: attributeCases) func attributes(_ c: SNSDocCase) throws { try c.run() }
    @Test("body matching decisions", arguments: bodyCases) func bodies(_ c: SNSDocCase) throws { try c.run() }

    @Test func scopesDoNotCross() throws {
        let attributes = try FilterPolicy(#"{"a": ["x"]}"#)
        let body = try FilterPolicy(#"{"a": ["x"]}"#, scope: .messageBody)
        #expect(attributes.matches(attributes: ["a": S("x")]))
        #expect(!attributes.matches(bodyText: #"{"a": "x"}"#))
        #expect(body.matches(bodyText: #"{"a": "x"}"#))
        #expect(!body.matches(attributes: ["a": S("x")]))
    }

    @Test func snsNumbersAreExactDecimals() {
        #expect(SNSNumber.scaled("301.5") == 30_150_000)
        #expect(SNSNumber.scaled("3.015e2") == 30_150_000)
        #expect(SNSNumber.scaled("0.1") == 10_000)
        #expect(SNSNumber.scaled("-0.000001") == -1)
        #expect(SNSNumber.scaled("0.000009") == 0)
        #expect(SNSNumber.scaled("1000000000") == 100_000_000_000_000)
        #expect(SNSNumber.scaled("1000000000.000001") == nil)
        #expect(SNSNumber.scaled("-1e9") == -100_000_000_000_000)
        #expect(SNSNumber.scaled("1e-99999") == 0)
        #expect(SNSNumber.scaled("1e99999") == nil)
        #expect(SNSNumber.scaled("01") == nil)
        #expect(SNSNumber.scaled("1.") == nil)
        #expect(SNSNumber.scaled("+1") == nil)
        #expect(SNSNumber.scaled("") == nil)
        #expect(SNSNumber.text(30_150_000) == "301.5")
        #expect(SNSNumber.text(-1) == "-0.00001")
    }

    @Test func largeHostileBodiesDoNotCrash() throws {
        let policy = try FilterPolicy(#"{"a": ["x"]}"#, scope: .messageBody)
        #expect(!policy.matches(bodyText: String(repeating: "[", count: 200_000)))
        #expect(!policy.matches(bodyText: #"{"a": ""# + String(repeating: "x", count: 300_000) + #""}"#))
        var nested: JSONValue = "x"
        for _ in 0..<5_000 { nested = .array([nested]) }
        #expect(!policy.matches(body: .object(JSONObject(["a": nested]))))
    }
}
