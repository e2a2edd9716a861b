import TriplineJSON

/// Explains, field by field, why an event does or does not match a pattern.
///
/// "Why does my rule stay silent?" is the question EventBridge users ask most, and a bare
/// match/no-match verdict does not answer it. The explainer evaluates the pattern with a simple
/// recursive interpreter of the documented semantics (the same one `ReferenceMatcher` in the tests
/// spells out, and that ``PatternMachine`` is checked against): the event is flattened into leaf
/// values, each remembering which element of every enclosing array it came from, and every `$or`
/// branch is searched with backtracking so that values inside one array of objects come from the
/// same element. Its verdict therefore agrees with ``PatternMachine`` on every valid event; what it
/// adds is the account: which field was missing, which value failed which operator, which `$or`
/// alternative failed where, which fields could not be matched in the same array element, or, for
/// a match, the value each condition was satisfied with. Pure: no I/O; meant for one event at a
/// time (the compiled machine is the fast path).
public enum PatternExplainer {
    /// Explains how `pattern` judges `event` (an EventBridge event as a parsed JSON value).
    public static func explain(_ pattern: EventPattern, event: JSONValue) -> PatternExplanation {
        var evaluator = ExplainEvaluator(event: FlattenedEvent(event))
        let root = evaluator.explainGroup(pattern.root, prefix: nil)
        var chosen: [MatchedCondition] = []
        for branch in pattern.branches {
            if let found = evaluator.firstMatch(of: branch) {
                chosen = found
                break
            }
        }
        return PatternExplanation(matches: root.matches, root: root, matchedThrough: chosen)
    }

    /// Whether `pattern` matches `event`: the explanation's verdict alone.
    public static func matches(_ pattern: EventPattern, event: JSONValue) -> Bool {
        var evaluator = ExplainEvaluator(event: FlattenedEvent(event))
        return pattern.branches.contains { evaluator.firstMatch(of: $0) != nil }
    }
}

// MARK: - The explanation

/// The account of one pattern/event pair: the verdict, the pattern's conditions each judged, and
/// for a match the values that satisfied it.
public struct PatternExplanation: Sendable, Equatable {
    /// The verdict; the same as ``PatternMachine``'s for a valid event.
    public var matches: Bool
    /// The pattern's top level: every condition and `$or` group, judged.
    public var root: GroupExplanation
    /// When the pattern matches: one consistent choice of value per condition (in matching order,
    /// by path); empty otherwise.
    public var matchedThrough: [MatchedCondition]

    public init(matches: Bool, root: GroupExplanation, matchedThrough: [MatchedCondition]) {
        self.matches = matches
        self.root = root
        self.matchedThrough = matchedThrough
    }
}

/// Conditions that must all hold: a pattern's top level, or one `$or` alternative.
///
/// Nested pattern objects are flattened into their parent's list (their fields carry full dotted
/// paths), since nesting only spells paths.
public struct GroupExplanation: Sendable, Equatable {
    /// Leaf conditions and `$or` groups, in pattern order.
    public var items: [ConditionExplanation]
    /// Whether these conditions hold together (array consistency included).
    public var matches: Bool
    /// Set when every item holds on its own but not together: values that must come from the
    /// same array element come from different ones.
    public var conflict: ArrayConflict?

    public init(items: [ConditionExplanation], matches: Bool, conflict: ArrayConflict?) {
        self.items = items
        self.matches = matches
        self.conflict = conflict
    }
}

/// One item of a group: a leaf condition or a `$or` group.
public enum ConditionExplanation: Sendable, Equatable {
    case field(FieldExplanation)
    case anyOf(AnyOfExplanation)

    /// Whether the item holds on its own.
    public var matches: Bool {
        switch self {
        case .field(let field): return field.matches
        case .anyOf(let group): return group.matches
        }
    }
}

/// A `$or` group: holds when one of its alternatives does.
public struct AnyOfExplanation: Sendable, Equatable {
    public var alternatives: [GroupExplanation]
    public var matches: Bool { alternatives.contains(where: \.matches) }

    public init(alternatives: [GroupExplanation]) { self.alternatives = alternatives }
}

/// A leaf condition: the values found at its path, and which matcher (if any) each satisfied.
public struct FieldExplanation: Sendable, Equatable {
    /// Dotted path of the field (`detail.userIdentity.type`).
    public var path: String
    /// The pattern's value list for the field.
    public var matchers: [ValueMatcher]
    /// Every leaf value at the path, in document order (several when arrays are involved).
    public var values: [ValueCheck]
    /// Whether the condition holds on its own.
    public var matches: Bool

    /// True when the event has no value at the path.
    public var isMissing: Bool { values.isEmpty }

    public init(path: String, matchers: [ValueMatcher], values: [ValueCheck], matches: Bool) {
        self.path = path
        self.matchers = matchers
        self.values = values
        self.matches = matches
    }
}

/// One event value at a condition's path.
public struct ValueCheck: Sendable, Equatable {
    public var value: JSONValue
    /// The first matcher of the condition this value satisfies; nil when it satisfies none.
    public var matchedBy: ValueMatcher?
    /// The innermost array element the value sits in (`detail.items[2]`), nil outside arrays.
    public var element: String?

    public init(value: JSONValue, matchedBy: ValueMatcher?, element: String?) {
        self.value = value
        self.matchedBy = matchedBy
        self.element = element
    }
}

/// Conditions that each hold, but only with values from different elements of an array.
public struct ArrayConflict: Sendable, Equatable {
    /// One side per condition involved (two when a pair suffices to show the conflict).
    public var sides: [Side]

    public struct Side: Sendable, Equatable {
        public var path: String
        /// The array elements where the condition is satisfied (for `exists: false`, where the
        /// field is present).
        public var elements: [String]

        public init(path: String, elements: [String]) {
            self.path = path
            self.elements = elements
        }
    }

    public init(sides: [Side]) { self.sides = sides }
}

/// How one condition of a matching branch was satisfied.
public struct MatchedCondition: Sendable, Equatable {
    public var path: String
    /// The value chosen; nil when the condition is `exists: false` and the field is absent.
    public var value: JSONValue?
    /// The matcher the value satisfied.
    public var matcher: ValueMatcher

    public init(path: String, value: JSONValue?, matcher: ValueMatcher) {
        self.path = path
        self.value = value
        self.matcher = matcher
    }
}

// MARK: - Rendering

extension PatternExplanation {
    /// The explanation as indented lines, without a verdict header.
    ///
    /// A match lists the value each condition matched through; a non-match lists every condition
    /// with ✓ or ✗ and, for ✗, why (each `$or` alternative explained in turn).
    public func lines(indent: String = "  ") -> [String] {
        if matches {
            return matchedThrough.map { indent + ExplainText.matchedLine($0) }
        }
        return ExplainText.groupLines(root, indent: indent)
    }

    /// One line saying why the event does not match (the first failing condition), or how it
    /// matches.
    public var summary: String {
        if matches {
            let shown = matchedThrough.prefix(3).map(ExplainText.matchedLine).joined(separator: "; ")
            return "matches: " + shown + (matchedThrough.count > 3 ? "; …" : "")
        }
        return ExplainText.firstFailure(root) ?? "no match"
    }
}

/// The wording of explanations, shared by the rendering methods.
enum ExplainText {
    static let pass = "✓"
    static let fail = "✗"
    /// Values listed per field before "…".
    static let maxValuesShown = 5

    static func matchedLine(_ matched: MatchedCondition) -> String {
        guard let value = matched.value else { return matched.path + ": absent, as exists: false requires" }
        return matched.path + ": " + valueText(value) + " matches " + describe(matched.matcher)
    }

    static func groupLines(_ group: GroupExplanation, indent: String) -> [String] {
        var out: [String] = []
        for item in group.items {
            switch item {
            case .field(let field):
                out.append(indent + (field.matches ? pass : fail) + " " + fieldText(field))
            case .anyOf(let anyOf):
                let count = anyOf.alternatives.count
                if anyOf.matches {
                    let which = anyOf.alternatives.indices.filter { anyOf.alternatives[$0].matches }.map { String($0 + 1) }
                    out.append(indent + pass + " $or: alternative \(which.joined(separator: ", ")) of \(count) matches")
                } else {
                    out.append(indent + fail + " $or: none of the \(count) alternatives matches")
                }
                for (i, alternative) in anyOf.alternatives.enumerated() {
                    out.append(indent + "    alternative \(i + 1):")
                    out.append(contentsOf: groupLines(alternative, indent: indent + "      "))
                }
            }
        }
        if !group.matches, group.items.allSatisfy(\.matches) {
            out.append(indent + fail + " " + (group.conflict.map(conflictText) ?? "the conditions above hold one by one but not together"))
        }
        return out
    }

    static func firstFailure(_ group: GroupExplanation) -> String? {
        for item in group.items where !item.matches {
            switch item {
            case .field(let field): return fieldText(field)
            case .anyOf(let anyOf):
                let reasons = anyOf.alternatives.compactMap(firstFailure)
                return "$or: none of the \(anyOf.alternatives.count) alternatives matches (" + reasons.joined(separator: " | ") + ")"
            }
        }
        if !group.matches { return group.conflict.map(conflictText) ?? "the conditions hold one by one but not together" }
        return nil
    }

    static func conflictText(_ conflict: ArrayConflict) -> String {
        let sides = conflict.sides.map { side in
            side.path + " matches only in " + (side.elements.isEmpty ? "(no element)" : side.elements.joined(separator: ", "))
        }
        return "array consistency: " + sides.joined(separator: "; ")
            + ", but fields inside one array of objects must match in the same element"
    }

    /// `path: why` for one leaf condition.
    static func fieldText(_ field: FieldExplanation) -> String {
        let positive = field.matchers.filter { $0 != .exists(false) }
        let allowsAbsent = field.matchers.contains(.exists(false))
        if field.isMissing {
            if allowsAbsent { return field.path + ": absent, as exists: false requires" }
            if positive == [.exists(true)] { return field.path + ": missing, but exists: true requires it" }
            return field.path + ": missing; the pattern needs " + list(positive)
        }
        if field.matches {
            if let hit = field.values.first(where: { $0.matchedBy != nil }), let matcher = hit.matchedBy {
                return field.path + ": " + valueText(hit.value) + " matches " + describe(matcher)
            }
            // exists: false satisfied through array consistency alone.
            return field.path + ": absent where it counts, as exists: false requires"
        }
        if positive.isEmpty {
            return field.path + ": present (" + valuesList(field.values.map(\.value)) + "), but exists: false requires it to be absent"
        }
        if field.values.count == 1 {
            return field.path + ": " + valueText(field.values[0].value) + " " + failurePhrase(field.values[0].value, positive)
        }
        let shown = field.values.prefix(maxValuesShown).map { valueText($0.value) + " " + failurePhrase($0.value, positive) }
        return field.path + ": none of its \(field.values.count) values matches: " + shown.joined(separator: "; ")
            + (field.values.count > maxValuesShown ? "; …" : "")
    }

    /// Why `value` satisfies none of `matchers` (none of them `exists: false`).
    static func failurePhrase(_ value: JSONValue, _ matchers: [ValueMatcher]) -> String {
        guard matchers.count == 1, let only = matchers.first else {
            return "matches none of " + matchers.map(describe).joined(separator: ", ")
        }
        let kind = value.kindDescription
        switch only {
        case .exactString(let s):
            return value.stringValue != nil ? "is not " + JSONWriter.quoted(s) : "is \(kind), not the string " + JSONWriter.quoted(s)
        case .exactNumber(let x):
            return value.numberValue != nil ? "is not " + number(x) : "is \(kind), not the number " + number(x)
        case .exactNumberText(let t):
            return value.numberValue != nil ? "is not written " + t + " (a number with more digits than a double keeps matches only its own text)"
                : "is \(kind), not the number " + t
        case .exactBool(let b):
            return "is not " + (b ? "true" : "false")
        case .exactNull:
            return "is not null"
        case .prefix(let p, let ignoreCase):
            guard value.stringValue != nil else { return "is \(kind); prefix matches only strings" }
            return "does not start with " + JSONWriter.quoted(p) + (ignoreCase ? " (ignoring case)" : "")
        case .suffix(let p, let ignoreCase):
            guard value.stringValue != nil else { return "is \(kind); suffix matches only strings" }
            return "does not end with " + JSONWriter.quoted(p) + (ignoreCase ? " (ignoring case)" : "")
        case .equalsIgnoreCase(let s):
            guard value.stringValue != nil else { return "is \(kind); equals-ignore-case matches only strings" }
            return "does not equal " + JSONWriter.quoted(s) + " ignoring case"
        case .wildcard(let w):
            guard value.stringValue != nil else { return "is \(kind); wildcard matches only strings" }
            return "does not match wildcard " + JSONWriter.quoted(w.text)
        case .anythingBut:
            return "is excluded by " + describe(only)
        case .numeric:
            guard value.numberValue != nil else { return "is \(kind); numeric matches only numbers" }
            return "is outside " + describe(only)
        case .exists(true):
            return "exists"
        case .exists(false):
            return "is present, but exists: false requires it to be absent"
        case .cidr(let block):
            guard let text = value.stringValue, IPAddress.parse(Array(text.utf8)) != nil else {
                return "is not an IP address (" + describe(only) + ")"
            }
            return block.isAddress ? "is another IP address than " + JSONWriter.quoted(block.text) : "is not in cidr " + JSONWriter.quoted(block.text)
        }
    }

    /// A matcher as written in a pattern, shortened: `prefix "AccessDenied"`, `anything-but ["a", "b"]`.
    static func describe(_ matcher: ValueMatcher) -> String {
        switch matcher {
        case .exactString(let s): return JSONWriter.quoted(s)
        case .exactNumber(let x): return number(x)
        case .exactNumberText(let t): return t
        case .exactBool(let b): return b ? "true" : "false"
        case .exactNull: return "null"
        case .prefix(let p, let ignoreCase): return (ignoreCase ? "prefix (ignoring case) " : "prefix ") + JSONWriter.quoted(p)
        case .suffix(let p, let ignoreCase): return (ignoreCase ? "suffix (ignoring case) " : "suffix ") + JSONWriter.quoted(p)
        case .equalsIgnoreCase(let s): return "equals-ignore-case " + JSONWriter.quoted(s)
        case .wildcard(let w): return "wildcard " + JSONWriter.quoted(w.text)
        case .numeric(let range): return "numeric " + rangeText(range)
        case .exists(let present): return "exists: " + (present ? "true" : "false")
        case .cidr(let block): return block.isAddress ? JSONWriter.quoted(block.text) + " (as an IP address)" : "cidr " + JSONWriter.quoted(block.text)
        case .anythingBut(let exclusion):
            switch exclusion {
            case .strings(let list): return "anything-but " + quotedList(list)
            case .numbers(let list): return "anything-but " + (list.count == 1 ? number(list[0]) : "[" + list.map(number).joined(separator: ", ") + "]")
            case .prefixes(let list): return "anything-but prefix " + quotedList(list)
            case .suffixes(let list): return "anything-but suffix " + quotedList(list)
            case .equalsIgnoreCase(let list): return "anything-but equals-ignore-case " + quotedList(list)
            case .wildcards(let list): return "anything-but wildcard " + quotedList(list.map(\.text))
            }
        }
    }

    /// `"a"`, `"a" or "b"`, `"a", "b" or prefix "c"`.
    static func list(_ matchers: [ValueMatcher]) -> String {
        let texts = matchers.map(describe)
        guard texts.count > 1 else { return texts.first ?? "nothing" }
        return texts.dropLast().joined(separator: ", ") + " or " + texts[texts.count - 1]
    }

    static func quotedList(_ list: [String]) -> String {
        list.count == 1 ? JSONWriter.quoted(list[0]) : "[" + list.map(JSONWriter.quoted).joined(separator: ", ") + "]"
    }

    static func valuesList(_ values: [JSONValue]) -> String {
        values.prefix(maxValuesShown).map(valueText).joined(separator: ", ") + (values.count > maxValuesShown ? ", …" : "")
    }

    /// Compact JSON, cut after 80 characters.
    static func valueText(_ value: JSONValue) -> String {
        let text = JSONWriter.string(value)
        return text.count <= 80 ? text : String(text.prefix(77)) + "…"
    }

    /// Whole numbers without a fraction (`5`, not `5.0`).
    static func number(_ x: Double) -> String {
        if x.isFinite, x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
        return String(x)
    }

    static func rangeText(_ range: NumericRange) -> String {
        if let lower = range.lower, let upper = range.upper, lower == upper, range.lowerInclusive, range.upperInclusive {
            return "= " + number(lower)
        }
        var parts: [String] = []
        if let lower = range.lower { parts.append((range.lowerInclusive ? ">= " : "> ") + number(lower)) }
        if let upper = range.upper { parts.append((range.upperInclusive ? "<= " : "< ") + number(upper)) }
        return parts.joined(separator: ", ")
    }
}

// MARK: - Evaluation

/// An event flattened into leaf values by dotted path, each with its array membership.
struct FlattenedEvent {
    /// Element `index` of the array numbered `array` (arrays are numbered in document order).
    struct ArrayPosition: Hashable {
        var array: Int
        var index: Int
    }

    struct Leaf {
        /// Object keys from the root joined with "." (array levels add nothing).
        var path: String
        var value: JSONValue
        /// One position per enclosing array, outermost first.
        var membership: [ArrayPosition]
    }

    /// Leaves grouped by path, each group in document order.
    /// Keyed by the path's bytes: String equality would merge canonically equivalent keys.
    var byPath: [[UInt8]: [Leaf]] = [:]
    /// Each array's location as a reader writes it (`detail.items`, `detail.items[0].tags`), by number.
    var arrayNames: [String] = []

    init(_ event: JSONValue) {
        flatten(event, path: nil, display: "", membership: [])
    }

    /// `path` is nil at the root, so an empty key still adds a segment (`{"": {"b": 1}}` is `.b`).
    private mutating func flatten(_ value: JSONValue, path: String?, display: String, membership: [ArrayPosition]) {
        switch value {
        case .object(let object):
            for member in object.members {
                let childPath = path.map { $0 + "." + member.key } ?? member.key
                let childDisplay = display.isEmpty ? member.key : display + "." + member.key
                flatten(member.value, path: childPath, display: childDisplay, membership: membership)
            }
        case .array(let elements):
            let id = arrayNames.count
            arrayNames.append(display)
            for (index, element) in elements.enumerated() {
                flatten(element, path: path, display: display + "[\(index)]",
                        membership: membership + [ArrayPosition(array: id, index: index)])
            }
        case .string, .number, .bool, .null:
            // A leaf at the root is not a field: events are objects.
            if let path { byPath[Array(path.utf8), default: []].append(Leaf(path: path, value: value, membership: membership)) }
        }
    }

    /// The innermost array element a leaf sits in, as `detail.items[2]`.
    func elementName(_ leaf: Leaf) -> String? {
        guard let innermost = leaf.membership.last else { return nil }
        return arrayNames[innermost.array] + "[\(innermost.index)]"
    }
}

/// The backtracking search over branches, with the per-value checks, and the explanation builder.
struct ExplainEvaluator {
    let event: FlattenedEvent
    /// (branch key, condition index, chosen positions) states known to fail, so searches that
    /// revisit a state do not explode on events with large arrays.
    private var failed: Set<SearchState> = []
    private var branchKeys: [[FieldCondition]: Int] = [:]

    struct SearchState: Hashable {
        var branch: Int
        var index: Int
        var accumulated: [FlattenedEvent.ArrayPosition]
    }

    init(event: FlattenedEvent) { self.event = event }

    /// One consistent way `branch` matches, or nil.
    mutating func firstMatch(of branch: [FieldCondition]) -> [MatchedCondition]? {
        let sorted = Self.sortedByPath(branch)
        let key: Int
        if let known = branchKeys[sorted] { key = known } else {
            key = branchKeys.count
            branchKeys[sorted] = key
        }
        var chosen: [MatchedCondition] = []
        return search(sorted, branch: key, from: 0, accumulated: [], chosen: &chosen) ? chosen : nil
    }

    /// Depth-first search over the choice of event value for each remaining condition.
    private mutating func search(_ conditions: [FieldCondition], branch: Int, from index: Int,
                                 accumulated: [FlattenedEvent.ArrayPosition], chosen: inout [MatchedCondition]) -> Bool {
        guard index < conditions.count else { return true }
        let state = SearchState(branch: branch, index: index, accumulated: accumulated)
        if failed.contains(state) { return false }
        let condition = conditions[index]
        let candidates = (event.byPath[Array(condition.path.utf8)] ?? []).filter { Self.consistent($0.membership, accumulated) }
        if condition.matchers.contains(.exists(false)), candidates.isEmpty {
            chosen.append(MatchedCondition(path: condition.path, value: nil, matcher: .exists(false)))
            if search(conditions, branch: branch, from: index + 1, accumulated: accumulated, chosen: &chosen) { return true }
            chosen.removeLast()
        }
        for leaf in candidates {
            guard let matcher = Self.firstMatcher(condition.matchers, leaf.value) else { continue }
            chosen.append(MatchedCondition(path: condition.path, value: leaf.value, matcher: matcher))
            if search(conditions, branch: branch, from: index + 1, accumulated: Self.union(accumulated, leaf.membership), chosen: &chosen) {
                return true
            }
            chosen.removeLast()
        }
        failed.insert(state)
        return false
    }

    /// Explains a pattern object (the top level or one `$or` alternative) at `prefix`.
    mutating func explainGroup(_ object: PatternObject, prefix: String?) -> GroupExplanation {
        var items: [ConditionExplanation] = []
        collect(object, prefix: prefix, into: &items)
        let branches = object.expand(prefix: prefix)
        var matches = false
        for branch in branches where firstMatch(of: branch) != nil {
            matches = true
            break
        }
        var conflict: ArrayConflict?
        if !matches, items.allSatisfy(\.matches) { conflict = findConflict(in: branches) }
        return GroupExplanation(items: items, matches: matches, conflict: conflict)
    }

    /// Adds `object`'s conditions to `items`: leaves with full paths, nested objects flattened in
    /// place, `$or` groups with each alternative explained.
    private mutating func collect(_ object: PatternObject, prefix: String?, into items: inout [ConditionExplanation]) {
        for field in object.fields {
            let path = prefix.map { $0 + "." + field.key } ?? field.key
            switch field.content {
            case .values(let matchers):
                items.append(.field(explainField(FieldCondition(path: path, matchers: matchers))))
            case .object(let inner):
                collect(inner, prefix: path, into: &items)
            }
        }
        for group in object.orGroups {
            var alternatives: [GroupExplanation] = []
            for alternative in group { alternatives.append(explainGroup(alternative, prefix: prefix)) }
            items.append(.anyOf(AnyOfExplanation(alternatives: alternatives)))
        }
    }

    private mutating func explainField(_ condition: FieldCondition) -> FieldExplanation {
        let leaves = event.byPath[Array(condition.path.utf8)] ?? []
        let values = leaves.map { leaf in
            ValueCheck(value: leaf.value, matchedBy: Self.firstMatcher(condition.matchers, leaf.value), element: event.elementName(leaf))
        }
        return FieldExplanation(path: condition.path, matchers: condition.matchers, values: values,
                                matches: firstMatch(of: [condition]) != nil)
    }

    /// For a group whose items each hold but not together: the smallest set of conditions (a
    /// pair when one suffices) of a branch whose conditions each hold alone.
    private mutating func findConflict(in branches: [[FieldCondition]]) -> ArrayConflict? {
        for branch in branches {
            var eachHolds = true
            for condition in branch where firstMatch(of: [condition]) == nil {
                eachHolds = false
                break
            }
            guard eachHolds else { continue }
            for i in branch.indices {
                for j in branch.indices where j > i && firstMatch(of: [branch[i], branch[j]]) == nil {
                    return ArrayConflict(sides: [side(for: branch[i]), side(for: branch[j])])
                }
            }
            return ArrayConflict(sides: branch.map(side(for:)))
        }
        return nil
    }

    private func side(for condition: FieldCondition) -> ArrayConflict.Side {
        let leaves = event.byPath[Array(condition.path.utf8)] ?? []
        let positive = condition.matchers.filter { $0 != .exists(false) }
        var elements: [String] = []
        for leaf in leaves where positive.isEmpty || Self.firstMatcher(positive, leaf.value) != nil {
            if let name = event.elementName(leaf), !elements.contains(name) { elements.append(name) }
        }
        return ArrayConflict.Side(path: condition.path, elements: elements)
    }

    // MARK: Semantics

    /// Java `String.compareTo` order (UTF-16 code units), stable for equal paths: event-ruler's
    /// order, which `exists: false` inside arrays depends on.
    static func sortedByPath(_ branch: [FieldCondition]) -> [FieldCondition] {
        branch.enumerated().sorted { lhs, rhs in
            if lhs.element.path != rhs.element.path { return lhs.element.path.utf16.lexicographicallyPrecedes(rhs.element.path.utf16) }
            return lhs.offset < rhs.offset
        }.map(\.element)
    }

    /// Two memberships are consistent when every array present in both is at the same index.
    static func consistent(_ a: [FlattenedEvent.ArrayPosition], _ b: [FlattenedEvent.ArrayPosition]) -> Bool {
        for x in a {
            for y in b where x.array == y.array && x.index != y.index { return false }
        }
        return true
    }

    static func union(_ a: [FlattenedEvent.ArrayPosition], _ b: [FlattenedEvent.ArrayPosition]) -> [FlattenedEvent.ArrayPosition] {
        var out = a
        for y in b where !out.contains(where: { $0.array == y.array }) { out.append(y) }
        return out
    }

    /// The first matcher other than `exists: false` that `value` satisfies.
    static func firstMatcher(_ matchers: [ValueMatcher], _ value: JSONValue) -> ValueMatcher? {
        matchers.first { $0 != .exists(false) && valueMatches($0, value) }
    }

    /// Whether one leaf value satisfies one matcher.
    static func valueMatches(_ matcher: ValueMatcher, _ value: JSONValue) -> Bool {
        switch matcher {
        case .exactString(let s):
            guard case .string(let v) = value else { return false }
            return Array(v.utf8) == Array(s.utf8)
        case .exactNumber(let x):
            guard case .number(let n) = value else { return false }
            return n.comparableValue == x
        case .exactNumberText(let t):
            guard case .number(let n) = value else { return false }
            return Array(n.text.utf8) == Array(t.utf8)
        case .exactBool(let b):
            return value == .bool(b)
        case .exactNull:
            return value == .null
        case .prefix(let p, let ignoreCase):
            guard case .string(let v) = value else { return false }
            return ignoreCase ? CaseFolding.hasPrefix(Array(v.utf8), p) : Array(v.utf8).starts(with: Array(p.utf8))
        case .suffix(let p, let ignoreCase):
            guard case .string(let v) = value else { return false }
            return ignoreCase ? CaseFolding.hasSuffix(Array(v.utf8), p) : Array(v.utf8).reversed().starts(with: Array(p.utf8).reversed())
        case .equalsIgnoreCase(let s):
            guard case .string(let v) = value else { return false }
            return CaseFolding.equals(Array(v.utf8), s)
        case .wildcard(let w):
            guard case .string(let v) = value else { return false }
            return w.matches(Array(v.utf8))
        case .numeric(let range):
            guard case .number(let n) = value else { return false }
            return range.contains(n.comparableValue)
        case .exists(let present):
            // A leaf exists; `exists: false` is judged by the search, not per value.
            return present
        case .cidr(let block):
            guard case .string(let v) = value, let address = IPAddress.parse(Array(v.utf8)) else { return false }
            return block.contains(address)
        case .anythingBut(let exclusion):
            return !isExcluded(value, by: exclusion)
        }
    }

    /// Values of another type than the exclusion list (and null) are never excluded.
    static func isExcluded(_ value: JSONValue, by exclusion: AnythingBut) -> Bool {
        if case .number(let n) = value {
            if case .numbers(let list) = exclusion { return list.contains(n.comparableValue) }
            return false
        }
        guard case .string(let v) = value else { return false }
        let bytes = Array(v.utf8)
        switch exclusion {
        case .strings(let list): return list.contains { Array($0.utf8) == bytes }
        case .numbers: return false
        case .prefixes(let list): return list.contains { bytes.starts(with: Array($0.utf8)) }
        case .suffixes(let list): return list.contains { bytes.reversed().starts(with: Array($0.utf8).reversed()) }
        case .equalsIgnoreCase(let list): return list.contains { CaseFolding.equals(bytes, $0) }
        case .wildcards(let list): return list.contains { $0.matches(bytes) }
        }
    }
}
