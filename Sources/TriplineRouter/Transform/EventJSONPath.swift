import TriplineJSON

/// A path into an event in the JSONPath subset EventBridge supports: `$`, `$.detail.x`,
/// `$.detail.list[0]`, `$.detail.*`, `$.resources[*]`.
///
/// Used by a target's `InputPath` and by the variables of an `InputTransformer`. EventBridge
/// documents the supported syntax as dot notation, array indices and `*` wildcards, with keys made
/// of letters, digits, `-`, `_` and `/`. Bracketed keys (`$['a.b']`) are accepted only where the
/// caller allows them (AWS allows bracket notation for `InputPath` but not for `InputPathsMap`).
/// A path is parsed once, at rule load time; evaluating it never fails, it only finds nothing.
public struct EventJSONPath: Sendable, Hashable, CustomStringConvertible {
    /// One step from a value to one of its children.
    public enum Step: Sendable, Hashable {
        /// The member with this key (objects only).
        case key(String)
        /// The element at this 0-based index (arrays only).
        case index(Int)
        /// Every member value of an object, or every element of an array.
        case wildcard
    }

    /// Why a path text was rejected, with the 0-based character position of the problem.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        /// The path as written.
        public var text: String
        /// 0-based byte offset of the problem in ``text``.
        public var position: Int
        /// What is wrong there.
        public var reason: String

        public init(text: String, position: Int, reason: String) {
            self.text = text
            self.position = position
            self.reason = reason
        }

        public var description: String {
            "invalid JSON path \(JSONWriter.quoted(text)): \(reason) at character \(position + 1)"
        }
    }

    /// Longest path accepted, in bytes (the EventBridge API limit for `InputPath` and map values).
    public static let maxLength = 256

    /// The steps from the event root, in order; empty for `$`.
    public let steps: [Step]
    /// The path as written.
    public let text: String

    /// The whole event.
    public static let root = EventJSONPath(steps: [], text: "$")

    /// Builds a path from steps; `text` is what `description` prints.
    public init(steps: [Step], text: String) {
        self.steps = steps
        self.text = text
    }

    /// Parses `text`; `allowsBracketKeys` additionally accepts `['key']` and `["key"]` steps.
    public init(parsing text: String, allowsBracketKeys: Bool = false) throws(ParseError) {
        self.text = text
        self.steps = try EventJSONPath.parseSteps(Array(text.utf8), text: text, allowsBracketKeys: allowsBracketKeys)
    }

    public var description: String { text }

    /// True when the path has a wildcard step, so it evaluates to an array of every match.
    public var hasWildcard: Bool { steps.contains(.wildcard) }

    /// The value at this path in `value`, or nil when the path leads nowhere.
    ///
    /// A path with a wildcard yields an array of every value it reaches (possibly empty), in
    /// document order, as JSONPath implementations do.
    public func evaluate(in value: JSONValue) -> JSONValue? {
        if !hasWildcard {
            var current = value
            for step in steps {
                guard let next = EventJSONPath.child(of: current, step: step) else { return nil }
                current = next
            }
            return current
        }
        var frontier = [value]
        for step in steps {
            var next: [JSONValue] = []
            for node in frontier {
                if step == .wildcard {
                    switch node {
                    case .object(let object): next.append(contentsOf: object.members.map(\.value))
                    case .array(let elements): next.append(contentsOf: elements)
                    default: break
                    }
                } else if let child = EventJSONPath.child(of: node, step: step) {
                    next.append(child)
                }
            }
            frontier = next
        }
        return .array(frontier)
    }

    static func child(of value: JSONValue, step: Step) -> JSONValue? {
        switch step {
        case .key(let key):
            return value.objectValue?[key]
        case .index(let index):
            guard let elements = value.arrayValue, index < elements.count else { return nil }
            return elements[index]
        case .wildcard:
            return nil
        }
    }

    /// Letters, digits, `-`, `_` and `/`: the key characters EventBridge documents.
    static func isKeyByte(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "/"):
            return true
        default:
            return false
        }
    }

    private static func parseSteps(_ b: [UInt8], text: String, allowsBracketKeys: Bool) throws(ParseError) -> [Step] {
        func fail(_ position: Int, _ reason: String) -> ParseError {
            ParseError(text: text, position: position, reason: reason)
        }
        guard !b.isEmpty else { throw fail(0, "the path is empty; use \"$\" for the whole event") }
        guard b.count <= maxLength else { throw fail(maxLength, "the path is longer than \(maxLength) bytes") }
        guard b[0] == UInt8(ascii: "$") else { throw fail(0, "a path must start with \"$\" (e.g. \"$.detail.eventName\")") }
        var steps: [Step] = []
        var i = 1
        while i < b.count {
            switch b[i] {
            case UInt8(ascii: "."):
                i += 1
                guard i < b.count else { throw fail(i, "expected a key after \".\"") }
                if b[i] == UInt8(ascii: "*") {
                    steps.append(.wildcard)
                    i += 1
                    continue
                }
                let start = i
                while i < b.count, isKeyByte(b[i]) { i += 1 }
                guard i > start else {
                    throw fail(i, b[i] == UInt8(ascii: ".") ? "empty key (\"..\")" : "unsupported character \(describeByte(at: i, in: b)) in a key; keys may hold letters, digits, '-', '_' and '/'")
                }
                steps.append(.key(String(decoding: b[start..<i], as: UTF8.self)))
            case UInt8(ascii: "["):
                let open = i
                i += 1
                guard i < b.count else { throw fail(open, "unclosed \"[\"") }
                if b[i] == UInt8(ascii: "*") {
                    i += 1
                    guard i < b.count, b[i] == UInt8(ascii: "]") else { throw fail(i, "expected \"]\" after \"[*\"") }
                    steps.append(.wildcard)
                    i += 1
                } else if b[i] == UInt8(ascii: "'") || b[i] == UInt8(ascii: "\"") {
                    guard allowsBracketKeys else {
                        throw fail(open, "bracket notation for keys is not allowed here; use dot notation (e.g. \"$.detail.key\")")
                    }
                    let quote = b[i]
                    i += 1
                    let start = i
                    while i < b.count, b[i] != quote { i += 1 }
                    guard i < b.count else { throw fail(open, "unclosed quoted key") }
                    guard i > start else { throw fail(start, "empty key") }
                    let key = String(decoding: b[start..<i], as: UTF8.self)
                    i += 1
                    guard i < b.count, b[i] == UInt8(ascii: "]") else { throw fail(i, "expected \"]\" after a quoted key") }
                    i += 1
                    steps.append(.key(key))
                } else {
                    let start = i
                    while i < b.count, b[i] >= UInt8(ascii: "0"), b[i] <= UInt8(ascii: "9") { i += 1 }
                    guard i > start else {
                        throw fail(start, b[start] == UInt8(ascii: "-") ? "negative indices are not supported" : "expected an array index (e.g. [0]) or [*]")
                    }
                    guard i < b.count, b[i] == UInt8(ascii: "]") else { throw fail(i, "expected \"]\" after an array index") }
                    let digits = String(decoding: b[start..<i], as: UTF8.self)
                    guard digits.count <= 9, let index = Int(digits) else { throw fail(start, "array index \(digits) is too large") }
                    if digits.count > 1 && digits.hasPrefix("0") { throw fail(start, "array index \(digits) has a leading zero") }
                    steps.append(.index(index))
                    i += 1
                }
            default:
                throw fail(i, "expected \".\" or \"[\" but found \(describeByte(at: i, in: b))")
            }
        }
        return steps
    }

    private static func describeByte(at i: Int, in b: [UInt8]) -> String {
        let c = b[i]
        if c >= 0x21 && c < 0x7F { return "'\(Character(Unicode.Scalar(c)))'" }
        if c == 0x20 { return "a space" }
        let hex = Array("0123456789ABCDEF")
        return "byte 0x" + String(hex[Int(c >> 4)]) + String(hex[Int(c & 0xF)])
    }
}
