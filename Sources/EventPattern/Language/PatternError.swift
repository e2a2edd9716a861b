import TriplineJSON

/// Why a pattern was rejected, and where: JSON path, and file:line:column when known.
///
/// Printed as `file:line:column: path: problem`, e.g.
/// `Rules/x.json:7:18: detail.eventName[2]: "numeric" needs an array of operator/number pairs, got "x"`.
public struct PatternError: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: JSONPath
    public var problem: PatternProblem
    /// Where the offending value starts in the pattern text, when the pattern came from text.
    public var location: JSONLocation?
    /// The file the pattern came from, when it came from a file.
    public var file: String?

    public init(path: JSONPath, problem: PatternProblem, location: JSONLocation? = nil, file: String? = nil) {
        self.path = path
        self.problem = problem
        self.location = location
        self.file = file
    }

    public var description: String {
        let prefix = JSONLocation.prefix(file: file, location: location)
        if case .invalidJSON = problem { return prefix + (path.isRoot ? "" : "\(path): ") + problem.description }
        return prefix + "\(path): \(problem)"
    }
}

/// What is wrong with a pattern value. Each case carries the offending value, described for people.
public enum PatternProblem: Sendable, Equatable, CustomStringConvertible {
    case invalidJSON(JSONError)
    case rootNotObject(found: String)
    case emptyObject
    case emptyValueList
    case fieldNotArrayOrObject(found: String)
    case nestedArray
    case unknownOperator(String)
    /// `Ref` or `Fn::…` where a value or an operator belongs: a CloudFormation template's function,
    /// which nothing evaluates here.
    case cloudFormationFunction(String)
    case operatorObjectEmpty
    case multipleOperators([String])
    case operand(operator: String, expected: String, found: String)
    case unsupportedInside(outer: String, inner: String, allowed: String)
    /// An element of one kind in an `anything-but` list that started with the other.
    case anythingButMixedTypes(found: String, listKind: String)
    /// The same key twice in one operator object (`{"prefix": "x", "prefix": "y"}`).
    case duplicateOperatorKey(String)
    /// An operator name used as a field name inside an `$or` alternative.
    case reservedNameInOr(String)
    case numericMalformed(detail: String, found: String)
    case numericUnknownComparison(String)
    case numericEmptyRange(lower: String, upper: String)
    case numericOutOfRange(String)
    /// Four `numeric` elements with `=` among the comparisons: `=` takes one number and makes no range.
    case numericEqualsInRange(found: String)
    /// A nonzero number too close to zero for a double (`1e-400`), which would read as 0.
    case numberUnderflows(operator: String, String)
    /// `anything-but` with an empty `prefix` or `suffix`, which would exclude every string.
    case anythingButEmptyAffix(String)
    /// A number with more precision than a double keeps, where numbers are compared by value.
    case numberNotExact(operator: String, String)
    case wildcard(WildcardPattern.Problem, text: String)
    case wildcardTooComplex(text: String, stars: Int, limit: Int)
    case cidr(CIDRProblem, text: String)
    case orNeedsBranches(count: Int)
    case orBranchNotObject(found: String)
    case tooManyCombinations(count: Int, limit: Int)
    case patternTooLong(bytes: Int, limit: Int)
    case tooDeep(limit: Int)

    public var description: String {
        switch self {
        case .invalidJSON(let error):
            return "pattern is not valid JSON: \(error)"
        case .rootNotObject(let found):
            return "a pattern must be a JSON object, got \(found)"
        case .emptyObject:
            return "empty objects are not allowed; name at least one field"
        case .emptyValueList:
            return "empty arrays are not allowed; list at least one value to match"
        case .fieldNotArrayOrObject(let found):
            return "expected an array of values to match (e.g. [\"x\"]) or a nested object, got \(found)"
        case .nestedArray:
            return "a value list cannot contain an array; expected a string, number, boolean, null or an operator object"
        case .unknownOperator(let name):
            return "unknown operator \"\(name)\"; expected one of " + PatternParser.operatorNames.map { "\"\($0)\"" }.joined(separator: ", ")
        case .cloudFormationFunction(let name):
            return "\"\(name)\" is a CloudFormation intrinsic function: patterns are read as written and nothing evaluates it; "
                + "write the value it stands for"
        case .operatorObjectEmpty:
            return "an operator object needs exactly one operator, e.g. {\"prefix\": \"x\"}, got {}"
        case .multipleOperators(let names):
            return "an operator object holds exactly one operator, got " + names.map { "\"\($0)\"" }.joined(separator: " and ") + "; put each in its own object"
        case .operand(let op, let expected, let found):
            return "\"\(op)\" needs \(expected), got \(found)"
        case .unsupportedInside(let outer, let inner, let allowed):
            return "\"\(inner)\" is not supported inside \"\(outer)\"; expected \(allowed)"
        case .anythingButMixedTypes(let found, let listKind):
            return "\"anything-but\" list must be all strings or all numbers, not a mix: got \(found) in a list of \(listKind)"
        case .duplicateOperatorKey(let name):
            return "duplicate key \"\(name)\" in an operator object; write the operator once"
        case .reservedNameInOr(let name):
            return "\"\(name)\" is an operator name and cannot be a field name inside \"$or\" (EventBridge's matcher refuses it); "
                + "to test a field, write {\"field\": [{\"\(name)\": …}]}"
        case .numericMalformed(let detail, let found):
            return "\"numeric\" needs an array of operator/number pairs (e.g. [\">\", 0, \"<=\", 5]): \(detail), got \(found)"
        case .numericUnknownComparison(let op):
            return "\"numeric\": unknown comparison \"\(op)\"; expected one of \"=\", \"<\", \"<=\", \">\", \">=\""
        case .numericEmptyRange(let lower, let upper):
            return "\"numeric\": the lower bound \(lower) must be less than the upper bound \(upper)"
        case .numericOutOfRange(let n):
            return "\"numeric\": \(n) is outside the supported range -5.0e9 to 5.0e9"
        case .numericEqualsInRange(let found):
            return "\"numeric\": \"=\" compares with one number ([\"=\", 5]) and cannot be part of a range, so \(found) has too many elements; "
                + "allowed are [op, number] with op one of \"=\", \"<\", \"<=\", \">\", \">=\", and the range [\">\" or \">=\", low, \"<\" or \"<=\", high]"
        case .numberUnderflows(let op, let n):
            return "\"\(op)\": \(n) is outside the range EventBridge accepts: it is nonzero but too close to 0 for a double, which would read it as 0"
        case .anythingButEmptyAffix(let op):
            let verb = op == "prefix" ? "starts" : "ends"
            return "\"anything-but\" \"\(op)\" cannot be empty: every string \(verb) with \"\", so nothing would match (EventBridge rejects it)"
        case .numberNotExact(let op, let n):
            return "\"\(op)\" compares numbers by value, and \(n) has more precision than that keeps (15 significant digits are always safe)"
        case .wildcard(let problem, let text):
            switch problem {
            case .consecutiveStars(let p):
                return "\"wildcard\" \(JSONWriter.quoted(text)): consecutive '*' at position \(p); use a single '*'"
            case .invalidEscape(let p):
                return "\"wildcard\" \(JSONWriter.quoted(text)): invalid escape at position \(p); only \\\\* and \\\\\\\\ are allowed"
            }
        case .wildcardTooComplex(let text, let stars, let limit):
            return "\"wildcard\" \(JSONWriter.quoted(text)) is too complex: \(stars) '*' (at most \(limit))"
        case .cidr(let problem, let text):
            return "\"cidr\" \(JSONWriter.quoted(text)): expected \(problem)"
        case .orNeedsBranches(let count):
            return "\"$or\" needs at least two alternative pattern objects, got \(count)"
        case .orBranchNotObject(let found):
            return "each \"$or\" alternative must be a non-empty pattern object, got \(found)"
        case .tooManyCombinations(let count, let limit):
            return "the \"$or\" alternatives multiply out to \(count) combinations; at most \(limit) are allowed"
        case .patternTooLong(let bytes, let limit):
            return "pattern is \(bytes) bytes; at most \(limit) are allowed"
        case .tooDeep(let limit):
            return "pattern nests deeper than \(limit) levels"
        }
    }
}

/// The limits EventBridge documents for patterns, applied at validation time.
public enum PatternLimits {
    /// Most `$or` combinations a pattern may expand to (EventBridge: 1000).
    public static let maxCombinations = 1000
    /// Longest pattern text, compact, in bytes.
    public static let maxPatternBytes = 4096
    /// Most unescaped `*` in one wildcard operand.
    public static let maxWildcardStars = 15
    /// Numeric operands must lie within ±5.0e9 (EventBridge's documented numeric domain).
    public static let numericMagnitude = 5.0e9
    /// Deepest nesting of pattern objects.
    public static let maxDepth = 64
}
