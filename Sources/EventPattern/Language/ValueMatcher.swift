/// One member of a pattern's value list: a literal or a comparison operator.
///
/// Equality and hashing compare strings byte for byte (their UTF-8), as matching does: Swift's
/// `String` equality treats canonically equivalent text as equal (`"K"` and the Kelvin sign
/// `"\u{212A}"`, `"é"` and `"e\u{301}"`), which would merge conditions that match different events.
public enum ValueMatcher: Sendable, Hashable {
    case exactString(String)
    /// Numbers compare by value: `300`, `300.0` and `3e2` are equal.
    case exactNumber(Double)
    /// A number whose text says more than its double holds (`9007199254740993`, `1e400`): matches
    /// event numbers written with exactly this text, as event-ruler compares numbers it cannot
    /// compare by value.
    case exactNumberText(String)
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

    public static func == (a: ValueMatcher, b: ValueMatcher) -> Bool {
        switch (a, b) {
        case (.exactString(let x), .exactString(let y)): return sameBytes(x, y)
        case (.exactNumber(let x), .exactNumber(let y)): return x == y
        case (.exactNumberText(let x), .exactNumberText(let y)): return sameBytes(x, y)
        case (.exactBool(let x), .exactBool(let y)): return x == y
        case (.exactNull, .exactNull): return true
        case (.prefix(let x, let i), .prefix(let y, let j)), (.suffix(let x, let i), .suffix(let y, let j)): return i == j && sameBytes(x, y)
        case (.equalsIgnoreCase(let x), .equalsIgnoreCase(let y)): return sameBytes(x, y)
        case (.wildcard(let x), .wildcard(let y)): return x == y
        case (.anythingBut(let x), .anythingBut(let y)): return x == y
        case (.numeric(let x), .numeric(let y)): return x == y
        case (.exists(let x), .exists(let y)): return x == y
        case (.cidr(let x), .cidr(let y)): return x == y
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .exactString(let s): hasher.combine(0); hashBytes(s, &hasher)
        case .exactNumber(let x): hasher.combine(1); hasher.combine(x)
        case .exactBool(let b): hasher.combine(2); hasher.combine(b)
        case .exactNull: hasher.combine(3)
        case .prefix(let s, let i): hasher.combine(4); hasher.combine(i); hashBytes(s, &hasher)
        case .suffix(let s, let i): hasher.combine(5); hasher.combine(i); hashBytes(s, &hasher)
        case .equalsIgnoreCase(let s): hasher.combine(6); hashBytes(s, &hasher)
        case .wildcard(let w): hasher.combine(7); hasher.combine(w)
        case .anythingBut(let a): hasher.combine(8); hasher.combine(a)
        case .numeric(let r): hasher.combine(9); hasher.combine(r)
        case .exists(let b): hasher.combine(10); hasher.combine(b)
        case .cidr(let c): hasher.combine(11); hasher.combine(c)
        case .exactNumberText(let s): hasher.combine(12); hashBytes(s, &hasher)
        }
    }

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

    /// Strings compare byte for byte, as in ``ValueMatcher``.
    public static func == (a: AnythingBut, b: AnythingBut) -> Bool {
        func same(_ x: [String], _ y: [String]) -> Bool { x.count == y.count && zip(x, y).allSatisfy { sameBytes($0, $1) } }
        switch (a, b) {
        case (.strings(let x), .strings(let y)), (.prefixes(let x), .prefixes(let y)),
             (.suffixes(let x), .suffixes(let y)), (.equalsIgnoreCase(let x), .equalsIgnoreCase(let y)): return same(x, y)
        case (.numbers(let x), .numbers(let y)): return x == y
        case (.wildcards(let x), .wildcards(let y)): return x == y
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .strings(let l): hasher.combine(0); l.forEach { hashBytes($0, &hasher) }
        case .numbers(let l): hasher.combine(1); hasher.combine(l)
        case .prefixes(let l): hasher.combine(2); l.forEach { hashBytes($0, &hasher) }
        case .suffixes(let l): hasher.combine(3); l.forEach { hashBytes($0, &hasher) }
        case .equalsIgnoreCase(let l): hasher.combine(4); l.forEach { hashBytes($0, &hasher) }
        case .wildcards(let l): hasher.combine(5); hasher.combine(l)
        }
    }
}

/// Whether two strings have the same UTF-8 bytes (not Swift's canonical equivalence).
@inline(__always)
func sameBytes(_ a: String, _ b: String) -> Bool { a.utf8.elementsEqual(b.utf8) }

/// Hashes a string's UTF-8 bytes and length.
@inline(__always)
func hashBytes(_ s: String, _ hasher: inout Hasher) {
    hasher.combine(s.utf8.count)
    for byte in s.utf8 { hasher.combine(byte) }
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
