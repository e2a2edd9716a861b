import TriplineJSON

extension EventPattern {
    /// Parses and validates pattern text; throws the first problem found.
    ///
    /// Duplicate keys follow EventBridge: the last one counts. `file` only decorates errors.
    public static func parse(_ text: String, file: String? = nil) throws(PatternError) -> EventPattern {
        let result = validate(text: Array(text.utf8), file: file)
        switch result {
        case .success(let pattern): return pattern
        case .failure(let errors): throw errors.errors[0]
        }
    }

    /// Parses and validates pattern text, reporting every problem found.
    ///
    /// `duplicateKeys` is `.keepAll` for EventBridge's "the last one counts" (see ``parse(_:file:)``);
    /// `.reject` makes a duplicate key an `invalidJSON` error, as a rule file wants it.
    public static func validate(text: [UInt8], file: String? = nil,
                                duplicateKeys: JSONParser.DuplicateKeys = .keepAll) -> Result<EventPattern, PatternErrors> {
        // Locations only matter for errors: a valid pattern is read without them, and an invalid
        // one is read again with them (recording a location per value is most of the reading).
        let valid = validate(text: text, file: file, duplicateKeys: duplicateKeys, recordLocations: false)
        if case .success = valid { return valid }
        return validate(text: text, file: file, duplicateKeys: duplicateKeys, recordLocations: true)
    }

    private static func validate(text: [UInt8], file: String?, duplicateKeys: JSONParser.DuplicateKeys,
                                 recordLocations: Bool) -> Result<EventPattern, PatternErrors> {
        let document: JSONParser.Document
        var errorPath = JSONPath.root
        do {
            document = try JSONParser.parseDocument(
                text, options: .init(maxDepth: PatternLimits.maxDepth * 2, maxBytes: 16 * 1024 * 1024,
                                     duplicateKeys: duplicateKeys, recordLocations: recordLocations),
                errorPath: &errorPath)
        } catch {
            // Where the syntax error is, as for every other pattern error (a duplicate key's message names its object).
            if case .duplicateKey = error { errorPath = .root }
            return .failure(PatternErrors([PatternError(path: errorPath, problem: .invalidJSON(error), location: error.location, file: file)]))
        }
        return validate(json: document.value, locations: recordLocations ? document.locations : nil, file: file)
    }

    /// Validates a pattern already parsed as JSON, reporting every problem found.
    ///
    /// `basePath` is where the pattern sits inside a larger document (a rule file), so paths and
    /// locations in errors point into that document.
    public static func validate(json: JSONValue, locations: JSONSourceMap? = nil, basePath: JSONPath = .root,
                                file: String? = nil) -> Result<EventPattern, PatternErrors> {
        var parser = PatternParser(locations: locations, file: file)
        let pattern = parser.parsePattern(json, at: basePath)
        if parser.errors.isEmpty, let pattern { return .success(pattern) }
        return .failure(PatternErrors(parser.errors))
    }

    /// Validates a pattern already parsed as JSON; throws the first problem found.
    public init(json: JSONValue) throws(PatternError) {
        switch EventPattern.validate(json: json) {
        case .success(let pattern): self = pattern
        case .failure(let errors): throw errors.errors[0]
        }
    }
}

/// Every problem found in one pattern, in document order.
public struct PatternErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [PatternError]
    public init(_ errors: [PatternError]) { self.errors = errors }
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// Turns pattern JSON into an ``EventPattern``, collecting every problem rather than stopping at the first.
struct PatternParser {
    /// `Ref` and `Fn::…`: CloudFormation's intrinsic functions. A field named `Fn::…` is refused as one; `Ref`
    /// only where it makes a pattern invalid (a field an event really has may be named `Ref`).
    static func isCloudFormationFunction(_ key: String) -> Bool { key == "Ref" || key.hasPrefix("Fn::") }

    static let operatorNames = ["prefix", "suffix", "equals-ignore-case", "wildcard", "anything-but", "numeric", "exists", "cidr"]

    let locations: JSONSourceMap?
    let file: String?
    var errors: [PatternError] = []

    init(locations: JSONSourceMap?, file: String?) {
        self.locations = locations
        self.file = file
    }

    mutating func fail(_ path: JSONPath, _ problem: PatternProblem) {
        errors.append(PatternError(path: path, problem: problem, location: locations?.location(of: path), file: file))
    }

    mutating func parsePattern(_ json: JSONValue, at path: JSONPath) -> EventPattern? {
        guard case .object(let object) = json else {
            fail(path, .rootNotObject(found: PatternParser.describe(json)))
            return nil
        }
        let compactSize = JSONWriter.byteCount(json)
        if compactSize > PatternLimits.maxPatternBytes {
            fail(path, .patternTooLong(bytes: compactSize, limit: PatternLimits.maxPatternBytes))
            return nil
        }
        guard let root = parseObject(object, at: path, depth: 0) else { return nil }
        let combinations = root.combinationCount()
        if combinations > PatternLimits.maxCombinations {
            fail(path, .tooManyCombinations(count: combinations, limit: PatternLimits.maxCombinations))
            return nil
        }
        return EventPattern(root: root)
    }

    /// Operator and keyword names event-ruler reserves inside `$or` alternatives: a field with one of
    /// these names there makes the pattern invalid (``PatternProblem/reservedNameInOr(_:)``).
    static let reservedNamesInOr: Set<String> = [
        "exactly", "equals-ignore-case", "prefix", "suffix", "anything-but", "exists", "wildcard", "numeric", "cidr",
        "=", "<", "<=", ">", ">=", "regex", "not-wildcard", "not-equals-ignore-case",
        "date-after", "date-on-or-after", "date-before", "date-on-or-before", "in-date-range",
        "ip-address-in-range", "ip-address-not-in-range",
    ]

    /// `insideOr`: the object is (or is nested in) an `$or` alternative, where operator names
    /// cannot be field names.
    mutating func parseObject(_ object: JSONObject, at path: JSONPath, depth: Int, insideOr: Bool = false) -> PatternObject? {
        guard depth < PatternLimits.maxDepth else {
            fail(path, .tooDeep(limit: PatternLimits.maxDepth))
            return nil
        }
        guard !object.isEmpty else {
            fail(path, .emptyObject)
            return nil
        }
        let errorCount = errors.count
        var result = PatternObject(members: [])
        for member in object.members {
            let memberPath = path.appending(member.key)
            // `{"Fn::GetAtt": [...]}` reads as a field with values, so it would load and never match.
            if member.key.hasPrefix("Fn::") {
                fail(memberPath, .cloudFormationFunction(member.key))
                continue
            }
            if insideOr && PatternParser.reservedNamesInOr.contains(member.key) {
                // A misplaced operator (`{"$or": [{"prefix": ["a"]}, …]}`) more often than a field:
                // event-ruler refuses the pattern rather than guess.
                fail(memberPath, .reservedNameInOr(member.key))
                continue
            }
            switch member.value {
            case .array(let elements):
                if member.key == "$or", !elements.isEmpty, elements.allSatisfy({ $0.objectValue != nil }) || elements.contains(where: { $0.objectValue != nil }) {
                    if let group = parseOr(elements, at: memberPath, depth: depth) { result.members.append(.anyOf(group)) }
                    continue
                }
                if let matchers = parseValueList(elements, at: memberPath) {
                    result.members.append(.field(PatternField(key: member.key, content: .values(matchers))))
                }
            case .object(let nested):
                if let inner = parseObject(nested, at: memberPath, depth: depth + 1, insideOr: insideOr) {
                    result.members.append(.field(PatternField(key: member.key, content: .object(inner))))
                }
            default:
                fail(memberPath, PatternParser.isCloudFormationFunction(member.key) ? .cloudFormationFunction(member.key)
                                 : .fieldNotArrayOrObject(found: PatternParser.describe(member.value)))
            }
        }
        return errors.count == errorCount ? result : nil
    }

    mutating func parseOr(_ elements: [JSONValue], at path: JSONPath, depth: Int) -> [PatternObject]? {
        let errorCount = errors.count
        if elements.count < 2 {
            fail(path, .orNeedsBranches(count: elements.count))
        }
        var branches: [PatternObject] = []
        for (i, element) in elements.enumerated() {
            let branchPath = path.appending(index: i)
            guard case .object(let object) = element, !object.isEmpty else {
                fail(branchPath, .orBranchNotObject(found: PatternParser.describe(element)))
                continue
            }
            if let branch = parseObject(object, at: branchPath, depth: depth + 1, insideOr: true) { branches.append(branch) }
        }
        return errors.count == errorCount ? branches : nil
    }

    mutating func parseValueList(_ elements: [JSONValue], at path: JSONPath) -> [ValueMatcher]? {
        guard !elements.isEmpty else {
            fail(path, .emptyValueList)
            return nil
        }
        let errorCount = errors.count
        var matchers: [ValueMatcher] = []
        for (i, element) in elements.enumerated() {
            let elementPath = path.appending(index: i)
            switch element {
            case .string(let s):
                // An IP address matches every spelling of itself, as event-ruler compiles it.
                if let address = CIDRBlock.address(s) { matchers.append(.cidr(address)) } else { matchers.append(.exactString(s)) }
            case .number(let n):
                // A number compares by value when its text is what its double holds; otherwise
                // (more digits than a double keeps, or beyond its range) by its text, as event-ruler does.
                matchers.append(n.isExact ? .exactNumber(n.value) : .exactNumberText(n.text))
            case .bool(let b): matchers.append(.exactBool(b))
            case .null: matchers.append(.exactNull)
            case .array: fail(elementPath, .nestedArray)
            case .object(let object):
                if let matcher = parseOperator(object, at: elementPath) {
                    matchers.append(matcher)
                    if let companion = PatternParser.quotedStringCompanion(of: matcher) { matchers.append(companion) }
                }
            }
        }
        return errors.count == errorCount ? matchers : nil
    }

    /// What a `prefix` ending in `"` (a `suffix` starting with one) also matches on EventBridge.
    ///
    /// event-ruler, the matcher behind EventBridge, holds a string value with its quotes (`"abc"`)
    /// and matches a prefix as `"` + prefix, a suffix as suffix + `"`. So `{"prefix": "abc\""}`
    /// matches `abc`, whose quoted form `"abc"` starts with `"abc"`: the string without that quote,
    /// exactly (ignoring case for the equals-ignore-case forms). Nil for every other matcher.
    static func quotedStringCompanion(of matcher: ValueMatcher) -> ValueMatcher? {
        switch matcher {
        case .prefix(let text, let ignoreCase) where text.utf8.last == UInt8(ascii: "\""):
            let rest = String(decoding: text.utf8.dropLast(), as: UTF8.self)
            return ignoreCase ? .equalsIgnoreCase(rest) : .exactString(rest)
        case .suffix(let text, let ignoreCase) where text.utf8.first == UInt8(ascii: "\""):
            let rest = String(decoding: text.utf8.dropFirst(), as: UTF8.self)
            return ignoreCase ? .equalsIgnoreCase(rest) : .exactString(rest)
        default:
            return nil
        }
    }

    /// `anything-but` prefixes or suffixes with event-ruler's quoted-string reading (see
    /// ``quotedStringCompanion(of:)``): when one ends (starts) with `"`, the string without it is
    /// excluded too, which only wildcard exclusions can say beside the others.
    static func quotedStringExclusions(_ affixes: [String], prefix: Bool) -> AnythingBut {
        let quote = UInt8(ascii: "\"")
        guard affixes.contains(where: { (prefix ? $0.utf8.last : $0.utf8.first) == quote }) else {
            return prefix ? .prefixes(affixes) : .suffixes(affixes)
        }
        func literal(_ bytes: some Sequence<UInt8>) -> String {
            var escaped: [UInt8] = []
            for byte in bytes {
                if byte == UInt8(ascii: "*") || byte == UInt8(ascii: "\\") { escaped.append(UInt8(ascii: "\\")) }
                escaped.append(byte)
            }
            return String(decoding: escaped, as: UTF8.self)
        }
        var patterns: [String] = []
        for affix in affixes {
            patterns.append(prefix ? literal(affix.utf8) + "*" : "*" + literal(affix.utf8))
            if prefix, affix.utf8.last == quote { patterns.append(literal(affix.utf8.dropLast())) }
            if !prefix, affix.utf8.first == quote { patterns.append(literal(affix.utf8.dropFirst())) }
        }
        // Escaped literals around one star always parse; the plain exclusions stay the fallback.
        let parsed = patterns.compactMap { try? WildcardPattern.parse($0).get() }
        return parsed.count == patterns.count ? .wildcards(parsed) : (prefix ? .prefixes(affixes) : .suffixes(affixes))
    }

    /// `{"operator": operand}`: exactly one operator per object.
    mutating func parseOperator(_ object: JSONObject, at path: JSONPath) -> ValueMatcher? {
        // One operator per object; a repeated key is two operators, as event-ruler reads it.
        let members = object.members
        guard let member = members.first else {
            fail(path, .operatorObjectEmpty)
            return nil
        }
        guard members.count == 1 else {
            failSeveralOperators(members.map(\.key), at: path)
            return nil
        }
        let operandPath = path.appending(member.key)
        let operand = member.value
        switch member.key {
        case "prefix", "suffix":
            let isPrefix = member.key == "prefix"
            if case .string(let s) = operand { return isPrefix ? .prefix(s, ignoreCase: false) : .suffix(s, ignoreCase: false) }
            if case .object(let inner) = operand {
                let innerMembers = inner.members
                guard innerMembers.count == 1, let only = innerMembers.first else {
                    if innerMembers.isEmpty { fail(operandPath, .operatorObjectEmpty) } else { failSeveralOperators(innerMembers.map(\.key), at: operandPath) }
                    return nil
                }
                guard only.key == "equals-ignore-case" else {
                    fail(operandPath.appending(only.key), .unsupportedInside(outer: member.key, inner: only.key, allowed: "\"equals-ignore-case\""))
                    return nil
                }
                guard case .string(let s) = only.value else {
                    fail(operandPath.appending(only.key), .operand(operator: "equals-ignore-case", expected: "a string", found: PatternParser.describe(only.value)))
                    return nil
                }
                return isPrefix ? .prefix(s, ignoreCase: true) : .suffix(s, ignoreCase: true)
            }
            fail(operandPath, .operand(operator: member.key, expected: "a string or {\"equals-ignore-case\": string}", found: PatternParser.describe(operand)))
            return nil
        case "equals-ignore-case":
            guard case .string(let s) = operand else {
                fail(operandPath, .operand(operator: member.key, expected: "a string", found: PatternParser.describe(operand)))
                return nil
            }
            return .equalsIgnoreCase(s)
        case "wildcard":
            guard case .string(let s) = operand else {
                fail(operandPath, .operand(operator: member.key, expected: "a string", found: PatternParser.describe(operand)))
                return nil
            }
            guard let pattern = parseWildcard(s, at: operandPath) else { return nil }
            return .wildcard(pattern)
        case "anything-but":
            guard let exclusion = parseAnythingBut(operand, at: operandPath) else { return nil }
            return .anythingBut(exclusion)
        case "numeric":
            guard let range = parseNumeric(operand, at: operandPath) else { return nil }
            return .numeric(range)
        case "exists":
            guard case .bool(let b) = operand else {
                fail(operandPath, .operand(operator: member.key, expected: "true or false", found: PatternParser.describe(operand)))
                return nil
            }
            return .exists(b)
        case "cidr":
            guard case .string(let s) = operand else {
                fail(operandPath, .operand(operator: member.key, expected: "a string such as \"10.0.0.0/24\"", found: PatternParser.describe(operand)))
                return nil
            }
            switch CIDRBlock.parse(s) {
            case .success(let block): return .cidr(block)
            case .failure(let problem):
                fail(operandPath, .cidr(problem, text: s))
                return nil
            }
        default:
            fail(path.appending(member.key), PatternParser.isCloudFormationFunction(member.key) ? .cloudFormationFunction(member.key)
                                                                                             : .unknownOperator(member.key))
            return nil
        }
    }

    /// An operator object with several keys: a key written twice is a duplicate, a key that is no
    /// operator is unknown (each said at its own path); otherwise it is two operators in one object.
    mutating func failSeveralOperators(_ keys: [String], at path: JSONPath) {
        var seen = Set<String>()
        if let repeated = keys.first(where: { !seen.insert($0).inserted }) {
            fail(path.appending(repeated), .duplicateOperatorKey(repeated))
            return
        }
        let unknown = keys.filter { !PatternParser.operatorNames.contains($0) }
        if !unknown.isEmpty {
            for key in unknown {
                fail(path.appending(key), PatternParser.isCloudFormationFunction(key) ? .cloudFormationFunction(key) : .unknownOperator(key))
            }
            return
        }
        fail(path, .multipleOperators(keys))
    }

    mutating func parseWildcard(_ text: String, at path: JSONPath) -> WildcardPattern? {
        switch WildcardPattern.parse(text) {
        case .failure(let problem):
            fail(path, .wildcard(problem, text: text))
            return nil
        case .success(let pattern):
            if pattern.starCount > PatternLimits.maxWildcardStars {
                fail(path, .wildcardTooComplex(text: text, stars: pattern.starCount, limit: PatternLimits.maxWildcardStars))
                return nil
            }
            return pattern
        }
    }

    mutating func parseAnythingBut(_ operand: JSONValue, at path: JSONPath) -> AnythingBut? {
        switch operand {
        case .string(let s):
            return .strings([s])
        case .number(let n):
            guard n.value.isFinite else {
                fail(path, .operand(operator: "anything-but", expected: "a finite number", found: n.text))
                return nil
            }
            guard !n.underflows else {
                fail(path, .numberUnderflows(operator: "anything-but", n.text))
                return nil
            }
            guard n.isExact else {
                fail(path, .numberNotExact(operator: "anything-but", n.text))
                return nil
            }
            return .numbers([n.value])
        case .array(let elements):
            guard !elements.isEmpty else {
                fail(path, .operand(operator: "anything-but", expected: "a non-empty list of strings or of numbers", found: "[]"))
                return nil
            }
            var strings: [String] = [], numbers: [Double] = []
            let errorCount = errors.count
            // The kind the list starts with; an element of the other kind is reported where it is.
            let startsWithStrings = elements.first(where: { $0.stringValue != nil || $0.numberValue != nil })?.stringValue != nil
            var mixed = false
            for (i, element) in elements.enumerated() {
                switch element {
                case .string(let s):
                    if !startsWithStrings && !mixed {
                        mixed = true
                        fail(path.appending(index: i), .anythingButMixedTypes(found: PatternParser.describe(element), listKind: "numbers"))
                    }
                    strings.append(s)
                case .number where startsWithStrings:
                    if !mixed {
                        mixed = true
                        fail(path.appending(index: i), .anythingButMixedTypes(found: PatternParser.describe(element), listKind: "strings"))
                    }
                case .number(let n) where n.value.isFinite:
                    if n.underflows {
                        fail(path.appending(index: i), .numberUnderflows(operator: "anything-but", n.text))
                    } else if n.isExact {
                        numbers.append(n.value)
                    } else {
                        fail(path.appending(index: i), .numberNotExact(operator: "anything-but", n.text))
                    }
                default:
                    fail(path.appending(index: i), .operand(operator: "anything-but", expected: "a string or a number in its list", found: PatternParser.describe(element)))
                }
            }
            guard errors.count == errorCount else { return nil }
            return strings.isEmpty ? .numbers(numbers) : .strings(strings)
        case .object(let object):
            let members = object.members
            guard let member = members.first else {
                fail(path, .operatorObjectEmpty)
                return nil
            }
            guard members.count == 1 else {
                failSeveralOperators(members.map(\.key), at: path)
                return nil
            }
            let innerPath = path.appending(member.key)
            let allowed = "\"prefix\", \"suffix\", \"equals-ignore-case\" or \"wildcard\""
            guard ["prefix", "suffix", "equals-ignore-case", "wildcard"].contains(member.key) else {
                fail(innerPath, .unsupportedInside(outer: "anything-but", inner: member.key, allowed: allowed))
                return nil
            }
            guard let strings = stringOrStringList(member.value, operatorName: "anything-but \(member.key)", at: innerPath) else { return nil }
            if member.key == "prefix" || member.key == "suffix" {
                // event-ruler refuses these ("Null prefix/suffix not allowed"): every string would be excluded.
                let empty = strings.indices.filter { strings[$0].isEmpty }
                for i in empty {
                    fail(member.value.arrayValue == nil ? innerPath : innerPath.appending(index: i), .anythingButEmptyAffix(member.key))
                }
                if !empty.isEmpty { return nil }
            }
            switch member.key {
            case "prefix": return PatternParser.quotedStringExclusions(strings, prefix: true)
            case "suffix": return PatternParser.quotedStringExclusions(strings, prefix: false)
            case "equals-ignore-case": return .equalsIgnoreCase(strings)
            default:
                var patterns: [WildcardPattern] = []
                for (i, s) in strings.enumerated() {
                    let p = member.value.arrayValue == nil ? innerPath : innerPath.appending(index: i)
                    if let pattern = parseWildcard(s, at: p) { patterns.append(pattern) }
                }
                return patterns.count == strings.count ? .wildcards(patterns) : nil
            }
        default:
            fail(path, .operand(operator: "anything-but", expected: "a string, a number, a list of strings or numbers, or an operator object", found: PatternParser.describe(operand)))
            return nil
        }
    }

    mutating func stringOrStringList(_ value: JSONValue, operatorName: String, at path: JSONPath) -> [String]? {
        if case .string(let s) = value { return [s] }
        if case .array(let elements) = value, !elements.isEmpty {
            var out: [String] = []
            for (i, element) in elements.enumerated() {
                guard case .string(let s) = element else {
                    fail(path.appending(index: i), .operand(operator: operatorName, expected: "strings in its list", found: PatternParser.describe(element)))
                    return nil
                }
                out.append(s)
            }
            return out
        }
        fail(path, .operand(operator: operatorName, expected: "a string or a non-empty list of strings", found: PatternParser.describe(value)))
        return nil
    }

    mutating func parseNumeric(_ operand: JSONValue, at path: JSONPath) -> NumericRange? {
        guard case .array(let terms) = operand else {
            fail(path, .numericMalformed(detail: "the operand must be an array", found: PatternParser.describe(operand)))
            return nil
        }
        guard !terms.isEmpty else {
            fail(path, .numericMalformed(detail: "the array is empty", found: "[]"))
            return nil
        }
        guard terms.count == 2 || terms.count == 4 else {
            fail(path, .numericMalformed(detail: "expected 2 or 4 elements, not \(terms.count)", found: PatternParser.describe(operand)))
            return nil
        }
        var pairs: [(op: String, value: Double, text: String)] = []
        for k in stride(from: 0, to: terms.count, by: 2) {
            guard case .string(let op) = terms[k] else {
                fail(path.appending(index: k), .numericMalformed(detail: "element \(k) must be a comparison operator string", found: PatternParser.describe(terms[k])))
                return nil
            }
            guard ["=", "<", "<=", ">", ">="].contains(op) else {
                fail(path.appending(index: k), .numericUnknownComparison(op))
                return nil
            }
            guard case .number(let n) = terms[k + 1] else {
                fail(path.appending(index: k + 1), .numericMalformed(detail: "\"\(op)\" must be followed by a number", found: PatternParser.describe(terms[k + 1])))
                return nil
            }
            guard n.value.isFinite, abs(n.value) <= PatternLimits.numericMagnitude else {
                fail(path.appending(index: k + 1), .numericOutOfRange(n.text))
                return nil
            }
            guard !n.underflows else {
                fail(path.appending(index: k + 1), .numberUnderflows(operator: "numeric", n.text))
                return nil
            }
            guard n.isExact else {
                fail(path.appending(index: k + 1), .numberNotExact(operator: "numeric", n.text))
                return nil
            }
            pairs.append((op, n.value, n.text))
        }
        if pairs.count == 1 {
            let (op, v, _) = pairs[0]
            switch op {
            case "=": return NumericRange(lower: v, lowerInclusive: true, upper: v, upperInclusive: true)
            case "<": return NumericRange(lower: nil, lowerInclusive: false, upper: v, upperInclusive: false)
            case "<=": return NumericRange(lower: nil, lowerInclusive: false, upper: v, upperInclusive: true)
            case ">": return NumericRange(lower: v, lowerInclusive: false, upper: nil, upperInclusive: false)
            default: return NumericRange(lower: v, lowerInclusive: true, upper: nil, upperInclusive: false)
            }
        }
        let (lowOp, low, lowText) = pairs[0]
        let (highOp, high, highText) = pairs[1]
        if lowOp == "=" || highOp == "=" {
            fail(path, .numericEqualsInRange(found: PatternParser.describe(operand)))
            return nil
        }
        guard lowOp == ">" || lowOp == ">=" else {
            fail(path.appending(index: 0), .numericMalformed(detail: "a range starts with \">\" or \">=\"", found: "\"\(lowOp)\""))
            return nil
        }
        guard highOp == "<" || highOp == "<=" else {
            fail(path.appending(index: 2), .numericMalformed(detail: "a range ends with \"<\" or \"<=\"", found: "\"\(highOp)\""))
            return nil
        }
        guard low < high else {
            fail(path, .numericEmptyRange(lower: lowText, upper: highText))
            return nil
        }
        return NumericRange(lower: low, lowerInclusive: lowOp == ">=", upper: high, upperInclusive: highOp == "<=")
    }

    /// A short description of a JSON value for error messages: its text when short, else its kind.
    static func describe(_ value: JSONValue) -> String {
        let text = JSONWriter.string(value)
        if text.utf8.count <= 60 { return text }
        return value.kindDescription
    }
}
