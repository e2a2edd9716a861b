/// One member of a pattern's value list: a literal or a comparison operator.
public enum ValueMatcher: Sendable, Hashable {
    case exactString(String)
    /// Numbers compare by value: `300`, `300.0` and `3e2` are equal.
    case exactNumber(Double)
    case exactBool(Bool)
    case exactNull
    case prefix(String, ignoreCase: Bool)
    case suffix(String, ignoreCase: Bool)
    case equalsIgnoreCase(String)
    case wildcard(WildcardPattern)
    case anythingBut(AnythingBut)
    case numeric(NumericRange)
    /// `exists: true` matches any leaf value (null included); `false` matches an absent field.
    case exists(Bool)
    case cidr(CIDRBlock)

    /// True for matchers that can only ever match string values.
    public var isStringOnly: Bool {
        switch self {
        case .exactString, .prefix, .suffix, .equalsIgnoreCase, .wildcard, .cidr: return true
        default: return false
        }
    }
}

/// The exclusions of an `anything-but` matcher; a value matches when it is not excluded.
///
/// Values of another type than the exclusions (and `null`) are never excluded.
public enum AnythingBut: Sendable, Hashable {
    case strings([String])
    case numbers([Double])
    case prefixes([String])
    case suffixes([String])
    case equalsIgnoreCase([String])
    case wildcards([WildcardPattern])
}

/// A numeric interval with optional bounds; `=` is the closed interval [x, x].
public struct NumericRange: Sendable, Hashable, CustomStringConvertible {
    public var lower: Double?
    public var lowerInclusive: Bool
    public var upper: Double?
    public var upperInclusive: Bool

    public init(lower: Double?, lowerInclusive: Bool, upper: Double?, upperInclusive: Bool) {
        self.lower = lower
        self.lowerInclusive = lowerInclusive
        self.upper = upper
        self.upperInclusive = upperInclusive
    }

    public func contains(_ x: Double) -> Bool {
        if x.isNaN { return false }
        if let lower {
            if lowerInclusive ? x < lower : x <= lower { return false }
        }
        if let upper {
            if upperInclusive ? x > upper : x >= upper { return false }
        }
        return true
    }

    public var description: String {
        var parts: [String] = []
        if let lower, let upper, lower == upper, lowerInclusive, upperInclusive { return "= \(lower)" }
        if let lower { parts.append("\(lowerInclusive ? ">=" : ">") \(lower)") }
        if let upper { parts.append("\(upperInclusive ? "<=" : "<") \(upper)") }
        return parts.joined(separator: ", ")
    }
}
