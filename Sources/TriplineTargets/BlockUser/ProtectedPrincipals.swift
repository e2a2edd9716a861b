/// Principals that are never blocked: ARN patterns with `*` wildcards (break-glass roles, the
/// enforcement role itself, …).
///
/// `*` matches any run of characters, `:` and `/` included, so `arn:aws:iam::*:role/BreakGlass*`
/// covers every account. Matching ignores ASCII letter case (IAM names are unique regardless of
/// case, so a protection must not be dodged by spelling). A principal is protected when any of its
/// ``BlockPrincipal/protectableARNs`` matches: for an assumed role both the session ARN and the role
/// ARN, and for a role or user with a path also its ARN without the path.
public struct ProtectedPrincipals: Sendable, Equatable {
    /// Why a pattern was rejected.
    public struct PatternError: Error, Sendable, Equatable, CustomStringConvertible {
        public var pattern: String
        public var reason: String
        public var description: String { "protected principal pattern \"\(pattern)\": \(reason)" }
    }

    /// The patterns as written.
    public let patterns: [String]
    private let compiled: [[UInt8]]

    /// Longest pattern accepted.
    public static let maxPatternLength = 2048

    /// A list of patterns; each must be non-empty, at most ``maxPatternLength`` bytes, free of control
    /// characters, and able to match an ARN: starting with `arn:` or `*` (a file name or a typo given
    /// to `--protect` would otherwise protect nobody, silently).
    public init(patterns: [String]) throws(PatternError) {
        for pattern in patterns {
            if pattern.isEmpty { throw PatternError(pattern: pattern, reason: "is empty") }
            if pattern.utf8.count > ProtectedPrincipals.maxPatternLength {
                throw PatternError(pattern: String(pattern.prefix(60)) + "…", reason: "is longer than \(ProtectedPrincipals.maxPatternLength) bytes")
            }
            if pattern.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                throw PatternError(pattern: pattern, reason: "contains control characters")
            }
            if !pattern.hasPrefix("*") && !pattern.lowercased().hasPrefix("arn:") {
                throw PatternError(pattern: pattern, reason: "is not an ARN pattern (it starts with 'arn:' or '*', e.g. arn:aws:iam::*:role/BreakGlass*), so it would protect nobody")
            }
        }
        self.patterns = patterns
        self.compiled = patterns.map { ProtectedPrincipals.folded($0) }
    }

    /// No protected principals.
    public static let none = ProtectedPrincipals(validated: [])

    private init(validated patterns: [String]) {
        self.patterns = patterns
        self.compiled = patterns.map { ProtectedPrincipals.folded($0) }
    }

    /// The first pattern protecting `principal`, or nil.
    public func protectingPattern(for principal: BlockPrincipal) -> String? {
        for arn in principal.protectableARNs {
            if let pattern = protectingPattern(forARN: arn) { return pattern }
        }
        return nil
    }

    /// The first pattern matching `arn`, or nil.
    public func protectingPattern(forARN arn: String) -> String? {
        let text = ProtectedPrincipals.folded(arn)
        for (i, pattern) in compiled.enumerated() where ProtectedPrincipals.matches(text, pattern) {
            return patterns[i]
        }
        return nil
    }

    /// `.protected` when a pattern covers `principal`, else nil.
    public func refusal(for principal: BlockPrincipal) -> BlockRefusal? {
        for arn in principal.protectableARNs {
            if let pattern = protectingPattern(forARN: arn) { return .protected(arn: arn, pattern: pattern) }
        }
        return nil
    }

    static func folded(_ s: String) -> [UInt8] {
        s.utf8.map { ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z")) ? $0 | 0x20 : $0 }
    }

    /// Glob match with `*` only, in linear time per star (the classic backtrack-to-last-star scan).
    static func matches(_ text: [UInt8], _ pattern: [UInt8]) -> Bool {
        var t = 0, p = 0
        var star = -1, mark = 0
        while t < text.count {
            if p < pattern.count, pattern[p] == UInt8(ascii: "*") {
                star = p
                mark = t
                p += 1
            } else if p < pattern.count, pattern[p] == text[t] {
                p += 1
                t += 1
            } else if star >= 0 {
                p = star + 1
                mark += 1
                t = mark
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }
}
