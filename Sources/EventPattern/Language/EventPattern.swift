import TriplineJSON

/// A validated EventBridge event pattern.
///
/// Construct one with ``EventPattern/parse(_:)`` (text) or ``EventPattern/init(json:locations:)``;
/// both reject everything EventBridge rejects, with errors that name the JSON path. A pattern is a
/// value: compile many of them into one ``PatternMachine`` to match events.
public struct EventPattern: Sendable, Equatable {
    /// The top-level object: every field must match (AND), plus every `$or` group.
    public let root: PatternObject

    public init(root: PatternObject) { self.root = root }

    /// The pattern as a disjunction of flat conjunctions (the `$or` groups multiplied out).
    ///
    /// Each branch lists every field condition with its full dotted path. Validation guarantees at
    /// most ``PatternLimits/maxCombinations`` branches.
    public var branches: [[FieldCondition]] { root.expand(prefix: nil) }
}

/// One level of a pattern: named fields and `$or` groups, all of which must match.
public struct PatternObject: Sendable, Equatable {
    public var fields: [PatternField]
    /// Each group is a list of alternative sub-objects; one alternative per group must match.
    public var orGroups: [[PatternObject]]

    public init(fields: [PatternField] = [], orGroups: [[PatternObject]] = []) {
        self.fields = fields
        self.orGroups = orGroups
    }

    /// `prefix` is the dotted path of this object, nil at the top level (an empty key is a real
    /// path segment: `{"": {"b": …}}` names `.b`, as event-ruler joins it).
    func expand(prefix: String?) -> [[FieldCondition]] {
        var result: [[FieldCondition]] = [[]]
        for field in fields {
            let path = prefix.map { $0 + "." + field.key } ?? field.key
            switch field.content {
            case .values(let matchers):
                for i in result.indices { result[i].append(FieldCondition(path: path, matchers: matchers)) }
            case .object(let object):
                let inner = object.expand(prefix: path)
                result = PatternObject.product(result, inner)
            }
        }
        for group in orGroups {
            var alternatives: [[FieldCondition]] = []
            for branch in group { alternatives.append(contentsOf: branch.expand(prefix: prefix)) }
            result = PatternObject.product(result, alternatives)
        }
        return result
    }

    /// How many flat branches ``expand`` would produce, without building them.
    func combinationCount() -> Int {
        var total = 1
        for field in fields {
            if case .object(let object) = field.content { total = PatternObject.saturatingMultiply(total, object.combinationCount()) }
        }
        for group in orGroups {
            var sum = 0
            for branch in group { sum = min(sum + branch.combinationCount(), Int.max / 2) }
            total = PatternObject.saturatingMultiply(total, sum)
        }
        return total
    }

    static func saturatingMultiply(_ a: Int, _ b: Int) -> Int {
        let (r, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? Int.max / 2 : min(r, Int.max / 2)
    }

    static func product(_ lhs: [[FieldCondition]], _ rhs: [[FieldCondition]]) -> [[FieldCondition]] {
        var out: [[FieldCondition]] = []
        out.reserveCapacity(lhs.count * rhs.count)
        for l in lhs { for r in rhs { out.append(l + r) } }
        return out
    }
}

/// A named member of a pattern object.
public struct PatternField: Sendable, Equatable {
    public enum Content: Sendable, Equatable {
        /// A leaf: the event value must match one of these.
        case values([ValueMatcher])
        /// A nested object pattern.
        case object(PatternObject)
    }

    public var key: String
    public var content: Content

    public init(key: String, content: Content) {
        self.key = key
        self.content = content
    }
}

/// A flattened leaf condition: the value at `path` (dot-joined keys) must match one of `matchers`.
public struct FieldCondition: Sendable, Hashable {
    public var path: String
    public var matchers: [ValueMatcher]

    public init(path: String, matchers: [ValueMatcher]) {
        self.path = path
        self.matchers = matchers
    }
}
