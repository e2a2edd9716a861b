import Testing
import TriplineJSON
@testable import TriplineTargets

/// One documented example: a policy, a message (attributes or body), and whether SNS delivers it.
struct SNSDocCase: CustomStringConvertible, Sendable {
    let policy: String
    let scope: FilterPolicyScope
    let attributes: [String: MessageAttributeValue]?
    let body: String?
    let matches: Bool
    let line: Int

    static func attrs(_ policy: String, _ attributes: [String: MessageAttributeValue], _ matches: Bool, line: Int = #line) -> SNSDocCase {
        SNSDocCase(policy: policy, scope: .messageAttributes, attributes: attributes, body: nil, matches: matches, line: line)
    }
    static func body(_ policy: String, _ body: String, _ matches: Bool, line: Int = #line) -> SNSDocCase {
        SNSDocCase(policy: policy, scope: .messageBody, attributes: nil, body: body, matches: matches, line: line)
    }

    var description: String { "line \(line): \(policy) vs \(body ?? String(describing: attributes ?? [:]))" }

    func run() throws {
        let policy = try FilterPolicy(self.policy, scope: scope)
        if let attributes {
            #expect(policy.matches(attributes: attributes) == matches, "\(self)")
        } else if let body {
            #expect(policy.matches(bodyText: body) == matches, "\(self)")
        }
    }
}

private let S = MessageAttributeValue.string
private let N = MessageAttributeValue.number
private let SA = MessageAttributeValue.stringArray

@Suite("SNS filter policies: documented examples")
struct FilterPolicyConformanceTests {
    // https://docs.aws.amazon.com/sns/latest/dg/string-value-matching.html (exact matching,
    // anything-but, anything-but with prefix, prefix, IP address matching).
    static let stringMatching: [SNSDocCase] = [
        .attrs(#"{"customer_interests": ["rugby", "tennis"]}"#, ["customer_interests": S("rugby")], true),
        .attrs(#"{"customer_interests": ["rugby", "tennis"]}"#, ["customer_interests": S("tennis")], true),
        .attrs(#"{"customer_interests": ["rugby", "tennis"]}"#, ["customer_interests": SA(#"["rugby", "tennis"]"#)], true),
        .attrs(#"{"customer_interests": ["rugby", "tennis"]}"#, ["customer_interests": S("baseball")], false),
        .attrs(#"{"customer_interests": ["rugby", "tennis"]}"#, ["customer_interests": SA(#"["baseball"]"#)], false),
        .body(#"{"customer_interests": ["rugby", "tennis"]}"#, #"{"customer_interests": "rugby"}"#, true),
        .body(#"{"customer_interests": ["rugby", "tennis"]}"#, #"{"customer_interests": "tennis"}"#, true),
        .body(#"{"customer_interests": ["rugby", "tennis"]}"#, #"{"customer_interests": "baseball"}"#, false),

        .attrs(#"{"customer_interests": [{"anything-but": ["rugby", "tennis"]}]}"#, ["customer_interests": S("baseball")], true),
        .attrs(#"{"customer_interests": [{"anything-but": ["rugby", "tennis"]}]}"#, ["customer_interests": S("football")], true),
        .attrs(#"{"customer_interests": [{"anything-but": ["rugby", "tennis"]}]}"#, ["customer_interests": S("rugby")], false),
        // The current page: "For String.Array type attributes, it matches if none of the array
        // elements are listed in the policy property". (An older revision said this array matched
        // because it holds a value that isn't listed; Tripline follows the current text.)
        .attrs(#"{"customer_interests": [{"anything-but": ["rugby", "tennis"]}]}"#, ["customer_interests": SA(#"["rugby", "baseball"]"#)], false),
        .attrs(#"{"customer_interests": [{"anything-but": ["rugby", "tennis"]}]}"#, ["customer_interests": SA(#"["football", "baseball"]"#)], true),
        .body(#"{"customer_interests": [{"anything-but": ["rugby", "tennis"]}]}"#, #"{"customer_interests": "baseball"}"#, true),
        .body(#"{"customer_interests": [{"anything-but": ["rugby", "tennis"]}]}"#, #"{"customer_interests": "football"}"#, true),
        // "And it also matches the following message body (because it contains a value that isn't rugby or tennis)".
        .body(#"{"customer_interests": [{"anything-but": ["rugby", "tennis"]}]}"#, #"{"customer_interests": ["rugby", "baseball"]}"#, true),
        .body(#"{"customer_interests": [{"anything-but": ["rugby", "tennis"]}]}"#, #"{"customer_interests": "rugby"}"#, false),

        .attrs(#"{"event": [{"anything-but": {"prefix": "order-"}}]}"#, ["event": S("data-entry")], true),
        .attrs(#"{"event": [{"anything-but": {"prefix": "order-"}}]}"#, ["event": S("order_number")], true),
        .attrs(#"{"event": [{"anything-but": {"prefix": "order-"}}]}"#, ["event": S("order-cancelled")], false),
        .body(#"{"event": [{"anything-but": {"prefix": "order-"}}]}"#, #"{"event": "order_number"}"#, true),
        .body(#"{"event": [{"anything-but": {"prefix": "order-"}}]}"#, #"{"event": "order-cancelled"}"#, false),

        .attrs(#"{"customer_interests": [{"prefix": "bas"}]}"#, ["customer_interests": S("baseball")], true),
        .attrs(#"{"customer_interests": [{"prefix": "bas"}]}"#, ["customer_interests": S("basketball")], true),
        .attrs(#"{"customer_interests": [{"prefix": "bas"}]}"#, ["customer_interests": S("rugby")], false),
        .body(#"{"customer_interests": [{"prefix": "bas"}]}"#, #"{"customer_interests": "basketball"}"#, true),

        .attrs(#"{"source_ip": [{"cidr": "10.0.0.0/24"}]}"#, ["source_ip": S("10.0.0.0")], true),
        .attrs(#"{"source_ip": [{"cidr": "10.0.0.0/24"}]}"#, ["source_ip": S("10.0.0.255")], true),
        .attrs(#"{"source_ip": [{"cidr": "10.0.0.0/24"}]}"#, ["source_ip": S("10.1.1.0")], false),
        .body(#"{"source_ip": [{"cidr": "10.0.0.0/24"}]}"#, #"{"source_ip": "10.0.0.255"}"#, true),
        .body(#"{"source_ip": [{"cidr": "10.0.0.0/24"}]}"#, #"{"source_ip": "10.1.1.0"}"#, false),
    ]

    // Same page, the suffix and equals-ignore-case sections (listed as filter operators on
    // https://docs.aws.amazon.com/sns/latest/dg/sns-subscription-filter-policies.html); the cases
    // follow the stated rule: the value ends with the characters / equals them ignoring case.
    static let suffixAndCase: [SNSDocCase] = [
        .attrs(#"{"customer_interests": [{"suffix": "ball"}]}"#, ["customer_interests": S("baseball")], true),
        .attrs(#"{"customer_interests": [{"suffix": "ball"}]}"#, ["customer_interests": S("basketball")], true),
        .attrs(#"{"customer_interests": [{"suffix": "ball"}]}"#, ["customer_interests": S("rugby")], false),
        .attrs(#"{"customer_interests": [{"equals-ignore-case": "tennis"}]}"#, ["customer_interests": S("TENNIS")], true),
        .attrs(#"{"customer_interests": [{"equals-ignore-case": "tennis"}]}"#, ["customer_interests": S("Tennis")], true),
        .attrs(#"{"customer_interests": [{"equals-ignore-case": "tennis"}]}"#, ["customer_interests": S("baseball")], false),
        .body(#"{"customer_interests": [{"equals-ignore-case": "tennis"}]}"#, #"{"customer_interests": "TeNnIs"}"#, true),
        .body(#"{"customer_interests": [{"suffix": "ball"}]}"#, #"{"customer_interests": ["rugby", "football"]}"#, true),
    ]

    // https://docs.aws.amazon.com/sns/latest/dg/numeric-value-matching.html
    static let numericMatching: [SNSDocCase] = [
        .attrs(#"{"price_usd": [{"numeric": ["=", 301.5]}]}"#, ["price_usd": N("301.5")], true),
        .attrs(#"{"price_usd": [{"numeric": ["=", 301.5]}]}"#, ["price_usd": N("3.015e2")], true),
        .body(#"{"price_usd": [{"numeric": ["=", 301.5]}]}"#, #"{"price_usd": 301.5}"#, true),
        .body(#"{"price_usd": [{"numeric": ["=", 301.5]}]}"#, #"{"price_usd": 3.015e2}"#, true),
        .attrs(#"{"price": [{"anything-but": [100, 500]}]}"#, ["price": N("101")], true),
        .attrs(#"{"price": [{"anything-but": [100, 500]}]}"#, ["price": N("100.1")], true),
        .body(#"{"price": [{"anything-but": [100, 500]}]}"#, #"{"price": 101}"#, true),
        .body(#"{"price": [{"anything-but": [100, 500]}]}"#, #"{"price": 100.1}"#, true),
        // The page's Number.Array attribute example is omitted: SNS has no Number.Array data type
        // ("Number.Array" is a Number with a custom label, and "[100, 50]" is not a number).
        .body(#"{"price": [{"anything-but": [100, 500]}]}"#, #"{"price": [100, 50]}"#, true),
        .attrs(#"{"price": [{"anything-but": [100, 500]}]}"#, ["price": N("100")], false),
        .body(#"{"price": [{"anything-but": [100, 500]}]}"#, #"{"price": 100}"#, false),
        // "It matches any message attribute or message body property with negative numeric values."
        .attrs(#"{"price_usd": [{"numeric": ["<", 0]}]}"#, ["price_usd": N("-0.5")], true),
        .attrs(#"{"price_usd": [{"numeric": ["<", 0]}]}"#, ["price_usd": N("0")], false),
        .body(#"{"price_usd": [{"numeric": ["<", 0]}]}"#, #"{"price_usd": -7}"#, true),
        // "… with positive numbers up to and including 150."
        .attrs(#"{"price_usd": [{"numeric": [">", 0, "<=", 150]}]}"#, ["price_usd": N("150")], true),
        .attrs(#"{"price_usd": [{"numeric": [">", 0, "<=", 150]}]}"#, ["price_usd": N("0.00001")], true),
        .attrs(#"{"price_usd": [{"numeric": [">", 0, "<=", 150]}]}"#, ["price_usd": N("0")], false),
        .attrs(#"{"price_usd": [{"numeric": [">", 0, "<=", 150]}]}"#, ["price_usd": N("150.00001")], false),
        .body(#"{"price_usd": [{"numeric": [">", 0, "<=", 150]}]}"#, #"{"price_usd": 151}"#, false),
    ]

    // https://docs.aws.amazon.com/sns/latest/dg/attribute-key-matching.html
    static let keyMatching: [SNSDocCase] = [
        .attrs(#"{"store": [{"exists": true}]}"#, ["store": S("fans"), "customer_interests": SA(#"["baseball", "basketball"]"#)], true),
        .attrs(#"{"store": [{"exists": true}]}"#, ["customer_interests": SA(#"["baseball", "basketball"]"#)], false),
        .body(#"{"store": [{"exists": true}]}"#, #"{"store": "fans", "customer_interests": ["baseball", "basketball"]}"#, true),
        .body(#"{"store": [{"exists": true}]}"#, #"{"customer_interests": ["baseball", "basketball"]}"#, false),
        // "The key must have a non-null and non-empty value."
        .body(#"{"store": [{"exists": true}]}"#, #"{"store": null}"#, false),
        .body(#"{"store": [{"exists": true}]}"#, #"{"store": ""}"#, false),
        .attrs(#"{"store": [{"exists": true}]}"#, ["store": S("")], false),
        // "exists matching only works on leaf nodes."
        .body(#"{"store": [{"exists": true}]}"#, #"{"store": {"name": "fans"}}"#, false),
        .attrs(#"{"store": [{"exists": false}]}"#, ["store": S("fans"), "customer_interests": SA(#"["baseball", "basketball"]"#)], false),
        .attrs(#"{"store": [{"exists": false}]}"#, ["customer_interests": SA(#"["baseball", "basketball"]"#)], true),
        .body(#"{"store": [{"exists": false}]}"#, #"{"store": "fans", "customer_interests": ["baseball", "basketball"]}"#, false),
        .body(#"{"store": [{"exists": false}]}"#, #"{"customer_interests": ["baseball", "basketball"]}"#, true),
        // "exists: false only matches if at least one attribute is present."
        .attrs(#"{"store": [{"exists": false}]}"#, [:], false),
        // SNS ignores Binary attributes: they neither exist nor count as "an attribute present".
        .attrs(#"{"store": [{"exists": false}]}"#, ["store": .binary([1, 2])], false),
        .attrs(#"{"store": [{"exists": true}]}"#, ["store": .binary([1, 2]), "x": S("y")], false),
        .attrs(#"{"store": [{"exists": false}]}"#, ["store": .binary([1, 2]), "x": S("y")], true),
    ]

    // https://docs.aws.amazon.com/sns/latest/dg/and-or-logic.html
    static let andOr: [SNSDocCase] = [
        .attrs(#"{"customer_interests": ["rugby"], "price_usd": [{"numeric": [">", 100]}]}"#, ["customer_interests": S("rugby"), "price_usd": N("101")], true),
        .attrs(#"{"customer_interests": ["rugby"], "price_usd": [{"numeric": [">", 100]}]}"#, ["customer_interests": S("rugby"), "price_usd": N("100")], false),
        .attrs(#"{"customer_interests": ["rugby"], "price_usd": [{"numeric": [">", 100]}]}"#, ["customer_interests": S("rugby")], false),
        .body(#"{"customer_interests": ["rugby"], "price_usd": [{"numeric": [">", 100]}]}"#, #"{"customer_interests": "rugby", "price_usd": 100.5}"#, true),
        .attrs(#"{"customer_interests": ["rugby", "football", "baseball"]}"#, ["customer_interests": S("football")], true),
        .attrs(#"{"customer_interests": ["rugby", "football", "baseball"]}"#, ["customer_interests": S("hockey")], false),
        // Standard OR: "source" && ("metricName" || "namespace").
        .attrs(#"{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}]}"#,
               ["source": S("aws.cloudwatch"), "metricName": S("CPUUtilization")], true),
        .attrs(#"{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}]}"#,
               ["source": S("aws.cloudwatch"), "namespace": S("AWS/EC2")], true),
        .attrs(#"{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}]}"#,
               ["source": S("aws.cloudwatch"), "namespace": S("AWS/S3")], false),
        .attrs(#"{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}]}"#,
               ["namespace": S("AWS/EC2")], false),
        .body(#"{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}]}"#,
              #"{"source": "aws.cloudwatch", "namespace": "AWS/EC2"}"#, true),
        .body(#"{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}]}"#,
              #"{"source": "aws.cloudwatch"}"#, false),
        // "$or" that is not an array of at least two objects is an ordinary property name.
        .attrs(#"{"$or": ["a", "b"]}"#, ["$or": S("b")], true),
        .attrs(#"{"$or": ["a", "b"]}"#, ["a": S("a")], false),
    ]

    // https://docs.aws.amazon.com/sns/latest/dg/example-filter-policies.html
    static let exampleMessageAttributes: [String: MessageAttributeValue] = [
        "customer_interests": SA(#"["soccer", "rugby", "hockey"]"#),
        "store": S("example_corp"),
        "event": S("order_placed"),
        "price_usd": N("210.75"),
    ]
    static let exampleBody = #"{"customer_interests": ["soccer", "rugby", "hockey"], "store": "example_corp", "event":"order_placed", "price_usd":210.75}"#
    static let acceptingPolicy = #"""
        {"store": ["example_corp"], "event": [{"anything-but": "order_cancelled"}],
         "customer_interests": ["rugby", "football", "baseball"], "price_usd": [{"numeric": [">=", 100]}]}
        """#
    static let rejectingPolicy = #"""
        {"store": ["example_corp"], "event": ["order_cancelled"], "encrypted": [false],
         "customer_interests": ["basketball", "baseball"]}
        """#
    static let examplePolicies: [SNSDocCase] = [
        .attrs(acceptingPolicy, exampleMessageAttributes, true),
        .attrs(rejectingPolicy, exampleMessageAttributes, false),
        .body(acceptingPolicy, exampleBody, true),
        .body(rejectingPolicy, exampleBody, false),
    ]

    @Test("string value matching", arguments: stringMatching) func strings(_ c: SNSDocCase) throws { try c.run() }
    @Test("suffix and equals-ignore-case", arguments: suffixAndCase) func suffixes(_ c: SNSDocCase) throws { try c.run() }
    @Test("numeric value matching", arguments: numericMatching) func numbers(_ c: SNSDocCase) throws { try c.run() }
    @Test("key matching (exists)", arguments: keyMatching) func keys(_ c: SNSDocCase) throws { try c.run() }
    @Test("AND/OR logic and $or", arguments: andOr) func logic(_ c: SNSDocCase) throws { try c.run() }
    @Test("example filter policies", arguments: examplePolicies) func examples(_ c: SNSDocCase) throws { try c.run() }
}
