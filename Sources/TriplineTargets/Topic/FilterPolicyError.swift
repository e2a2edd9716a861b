import EventPattern
import TriplineJSON

/// Why an SNS filter policy was rejected, and where: JSON path, and source:line:column when known.
///
/// Printed as `source:line:column: path: problem`, e.g.
/// `subs/orders.json:3:31: price_usd[0].numeric: "numeric": 5000000000 is outside the range SNS
/// allows, -1000000000 to 1000000000`.
public struct FilterPolicyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Where in the policy the offending value sits.
    public var path: JSONPath
    /// What is wrong, with the offending value and what was expected.
    public var problem: FilterPolicyProblem
    /// Where the offending value starts in the policy text, when the policy came from text.
    public var location: JSONLocation?
    /// The file or other source the policy came from, when known.
    public var source: String?

    public init(path: JSONPath, problem: FilterPolicyProblem, location: JSONLocation? = nil, source: String? = nil) {
        self.path = path
        self.problem = problem
        self.location = location
        self.source = source
    }

    public var description: String {
        let prefix = JSONLocation.prefix(file: source, location: location)
        if case .invalidJSON = problem { return prefix + problem.description }
        return prefix + "\(path): \(problem)"
    }
}

/// What is wrong with a filter policy value. Each case carries the offending value, described for people.
///
/// The rules are SNS's (https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html
/// and the operator pages linked from https://docs.aws.amazon.com/sns/latest/dg/sns-subscription-filter-policies.html).
public enum FilterPolicyProblem: Sendable, Equatable, CustomStringConvertible {
    case invalidJSON(JSONError)
    case policyNotObject(found: String)
    case policyTooLarge(bytes: Int, limit: Int)
    case tooManyKeys(count: Int, limit: Int)
    case tooComplex(combinations: Int, limit: Int)
    case nestedInAttributeScope(found: String)
    case fieldNotArrayOrObject(found: String)
    case fieldNotArray(found: String)
    case emptyArray
    case emptyObject
    case invalidMatchValue(found: String)
    case operatorKeyCount(count: Int)
    case unknownOperator(String)
    /// `"$or"` with a single alternative object: SNS's OR needs at least two.
    case orNeedsTwoAlternatives
    case operand(operator: String, expected: String, found: String)
    case unsupportedAnythingBut(inner: String)
    /// `{"anything-but": {"prefix": ""}}`, which excludes every string.
    case anythingButEmptyPrefix
    case numericMalformed(detail: String, found: String)
    case numericUnknownOperator(String)
    case numericBottomNotBelowTop(bottom: String, top: String)
    case numberOutOfRange(String)
    case cidr(CIDRProblem, text: String)

    /// The operators SNS recognizes; an `$or` alternative naming one of them disqualifies the `$or`.
    public static let operatorNames = ["prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists", "cidr"]

    public var description: String {
        switch self {
        case .invalidJSON(let error):
            return "filter policy is not valid JSON: \(error.message)"
        case .policyNotObject(let found):
            return "a filter policy must be a JSON object, got \(found)"
        case .policyTooLarge(let bytes, let limit):
            return "filter policy is \(bytes) bytes; SNS allows at most \(limit) (256 KB)"
        case .tooManyKeys(let count, let limit):
            return "filter policy has \(count) keys; SNS allows at most \(limit)"
        case .tooComplex(let combinations, let limit):
            return "filter policy is too complex: its values multiply out to \(combinations) combinations; SNS allows at most \(limit)"
        case .nestedInAttributeScope(let found):
            return "filter policy scope MessageAttributes does not support nested policies; expected an array of values, got \(found)"
        case .fieldNotArrayOrObject(let found):
            return "expected an array of values to match (e.g. [\"x\"]) or a nested object, got \(found)"
        case .fieldNotArray(let found):
            return "expected an array of values to match (e.g. [\"x\"]), got \(found)"
        case .emptyArray:
            return "empty arrays are not allowed; list at least one value"
        case .emptyObject:
            return "empty objects are not allowed; name at least one property"
        case .invalidMatchValue(let found):
            return "expected a string, number, true, false, null or an operator object, got \(found)"
        case .operatorKeyCount(let count):
            return "an operator object holds exactly one operator, e.g. {\"prefix\": \"x\"}, got \(count) keys"
        case .unknownOperator(let name):
            return "unknown operator \(JSONWriter.quoted(name)); expected one of " + FilterPolicyProblem.operatorNames.map { "\"\($0)\"" }.joined(separator: ", ")
        case .orNeedsTwoAlternatives:
            return "\"$or\" needs at least two alternatives (an array of two or more objects such as [{\"a\": [\"x\"]}, {\"b\": [\"y\"]}]), got one; "
                + "with a single alternative, write its properties without \"$or\""
        case .operand(let op, let expected, let found):
            return "\"\(op)\" needs \(expected), got \(found)"
        case .unsupportedAnythingBut(let inner):
            return "SNS supports only \"prefix\" inside \"anything-but\" (a string, a number, a list, or {\"prefix\": …}), got \(JSONWriter.quoted(inner))"
        case .anythingButEmptyPrefix:
            return "\"anything-but\" \"prefix\" cannot be empty: every string starts with \"\", so nothing would match (EventBridge rejects it in patterns too)"
        case .numericMalformed(let detail, let found):
            return "\"numeric\" needs an operator/number list such as [\">\", 0, \"<=\", 150]: \(detail), got \(found)"
        case .numericUnknownOperator(let op):
            return "\"numeric\": unknown operator \(JSONWriter.quoted(op)); expected one of \"=\", \"<\", \"<=\", \">\", \">=\""
        case .numericBottomNotBelowTop(let bottom, let top):
            return "\"numeric\": the lower bound \(bottom) must be less than the upper bound \(top)"
        case .numberOutOfRange(let text):
            return "\(text) is outside the range SNS allows for numbers, -1000000000 to 1000000000"
        case .cidr(let problem, let text):
            return "\"cidr\" \(JSONWriter.quoted(text)): expected \(problem)"
        }
    }
}
