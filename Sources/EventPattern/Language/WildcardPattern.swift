/// A parsed `wildcard` operand: literal pieces separated by unescaped `*`.
///
/// `\*` is a literal star and `\\` a literal backslash; any other escape, and two `*` in a row, are
/// rejected at parse time, as EventBridge does.
public struct WildcardPattern: Sendable, Hashable, CustomStringConvertible {
    /// The operand as written.
    public let text: String
    /// Literal UTF-8 pieces; `*` sits between consecutive pieces (n stars give n + 1 pieces).
    public let pieces: [[UInt8]]

    public var starCount: Int { pieces.count - 1 }
    public var description: String { text }

    public static func == (a: WildcardPattern, b: WildcardPattern) -> Bool { a.pieces == b.pieces }
    public func hash(into hasher: inout Hasher) { hasher.combine(pieces) }

    /// Why a wildcard operand is invalid; `position` is the 0-based character offset.
    public enum Problem: Error, Sendable, Equatable {
        case consecutiveStars(position: Int)
        case invalidEscape(position: Int)
    }

    public static func parse(_ text: String) -> Result<WildcardPattern, Problem> {
        var pieces: [[UInt8]] = [[]]
        var escaping = false
        var previousWasStar = false
        for (position, scalar) in text.unicodeScalars.enumerated() {
            if escaping {
                guard scalar == "*" || scalar == "\\" else { return .failure(.invalidEscape(position: position)) }
                pieces[pieces.count - 1].append(UInt8(scalar.value))
                escaping = false
                previousWasStar = false
                continue
            }
            switch scalar {
            case "\\":
                escaping = true
            case "*":
                if previousWasStar { return .failure(.consecutiveStars(position: position)) }
                pieces.append([])
                previousWasStar = true
                continue
            default:
                pieces[pieces.count - 1].append(contentsOf: String(scalar).utf8)
            }
            previousWasStar = false
        }
        if escaping { return .failure(.invalidEscape(position: text.unicodeScalars.count)) }
        return .success(WildcardPattern(text: text, pieces: pieces))
    }

    /// Reference glob matching over UTF-8 bytes (used by tests and for explanations).
    public func matches<C: Collection>(_ value: C) -> Bool where C.Element == UInt8, C.Index == Int {
        let v = Array(value)
        guard pieces.count > 1 else { return v == pieces[0] }
        let first = pieces[0], last = pieces[pieces.count - 1]
        guard v.count >= first.count + last.count, v.starts(with: first), v.suffix(last.count).elementsEqual(last) else { return false }
        var i = first.count
        let end = v.count - last.count
        for piece in pieces.dropFirst().dropLast() {
            guard let found = WildcardPattern.find(piece, in: v, from: i, end: end) else { return false }
            i = found + piece.count
        }
        return i <= end
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int, end: Int) -> Int? {
        if needle.isEmpty { return from }
        var i = from
        while i + needle.count <= end {
            if haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
