import TriplineJSON

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
