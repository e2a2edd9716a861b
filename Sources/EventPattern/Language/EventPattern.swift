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
///
/// Members keep their document order, duplicates included, because order decides what a pattern
/// means when it names one field twice: as in event-ruler (EventBridge's matcher), each leaf writes
/// its condition to its dotted path, a later write to the same path replaces the earlier one, and an
/// `$or` copies what was written before it into each alternative. So `{"a": ["x"], "$or": [{"a":
/// ["y"]}, {"b": ["z"]}]}` means `a = y` or (`a = x` and `b = z`), and duplicate keys holding objects
/// merge (`{"a": {"b": …}, "a": {"c": …}}` tests both `a.b` and `a.c`).
public struct PatternObject: Sendable, Equatable {
    public var members: [PatternMember]

    public init(members: [PatternMember]) { self.members = members }

    /// Fields first, then `$or` groups.
    public init(fields: [PatternField] = [], orGroups: [[PatternObject]] = []) {
        members = fields.map(PatternMember.field) + orGroups.map(PatternMember.anyOf)
    }

    /// The named fields, in document order.
    public var fields: [PatternField] {
        members.compactMap { if case .field(let field) = $0 { field } else { nil } }
    }

    /// Each group is a list of alternative sub-objects; one alternative per group must match.
    public var orGroups: [[PatternObject]] {
        members.compactMap { if case .anyOf(let alternatives) = $0 { alternatives } else { nil } }
    }

    /// `prefix` is the dotted path of this object, nil at the top level (an empty key is a real
    /// path segment: `{"": {"b": …}}` names `.b`, as event-ruler joins it).
    func expand(prefix: String?) -> [[FieldCondition]] {
        var branches: [[FieldCondition]] = [[]]
        write(into: &branches, prefix: prefix)
        return branches
    }

    /// Writes this object's members, in order, into every branch built so far.
    private func write(into branches: inout [[FieldCondition]], prefix: String?) {
        for member in members {
            switch member {
            case .field(let field):
                let path = prefix.map { $0 + "." + field.key } ?? field.key
                switch field.content {
                case .values(let matchers):
                    let condition = FieldCondition(path: path, matchers: matchers)
                    for i in branches.indices {
                        if let j = branches[i].firstIndex(where: { sameBytes($0.path, path) }) {
                            branches[i][j] = condition
                        } else {
                            branches[i].append(condition)
                        }
                    }
                case .object(let object):
                    object.write(into: &branches, prefix: path)
                }
            case .anyOf(let alternatives):
                let before = branches
                branches = []
                for alternative in alternatives {
                    var copy = before
                    alternative.write(into: &copy, prefix: prefix)
                    branches.append(contentsOf: copy)
                }
            }
        }
    }

    /// How many flat branches ``expand`` would produce, without building them.
    func combinationCount() -> Int {
        var total = 1
        for member in members {
            switch member {
            case .field(let field):
                if case .object(let object) = field.content { total = PatternObject.saturatingMultiply(total, object.combinationCount()) }
            case .anyOf(let alternatives):
                var sum = 0
                for branch in alternatives { sum = min(sum + branch.combinationCount(), Int.max / 2) }
                total = PatternObject.saturatingMultiply(total, sum)
            }
        }
        return total
    }

    static func saturatingMultiply(_ a: Int, _ b: Int) -> Int {
        let (r, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? Int.max / 2 : min(r, Int.max / 2)
    }
}

/// One member of a pattern object, in document order.
public enum PatternMember: Sendable, Equatable {
    /// A named field: a leaf or a nested object.
    case field(PatternField)
    /// An `$or` group: one of these alternatives must match.
    case anyOf([PatternObject])
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

    /// Paths compare byte for byte, as event keys are matched (see ``ValueMatcher``).
    public static func == (a: FieldCondition, b: FieldCondition) -> Bool {
        sameBytes(a.path, b.path) && a.matchers == b.matchers
    }

    public func hash(into hasher: inout Hasher) {
        hashBytes(path, &hasher)
        hasher.combine(matchers)
    }

    public init(path: String, matchers: [ValueMatcher]) {
        self.path = path
        self.matchers = matchers
    }
}
