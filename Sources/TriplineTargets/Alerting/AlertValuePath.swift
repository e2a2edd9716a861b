import TriplineJSON

/// A path to one value in an event, for alert keys: `$`, `$.detail.userIdentity.arn`,
/// `$.detail.resources[0].ARN`, `$['detail']['odd.key']`.
///
/// The same dot-and-index notation as an input transformer's `InputPathsMap`, without wildcards
/// (a key names one value). Keys after a dot may hold anything but `.`, `[`, `]`, `<`, `>` and
/// whitespace; a quoted bracket key may hold anything but its quote. Parsed once; evaluating
/// never fails, it only finds nothing.
public struct AlertValuePath: Sendable, Hashable, CustomStringConvertible {
    /// One step from a value to a child.
    public enum Step: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    /// Why a path text was rejected.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        /// The path as written.
        public var text: String
        /// What is wrong with it.
        public var reason: String

        public var description: String { "invalid path \(JSONWriter.quoted(text)): \(reason)" }
    }

    /// Longest path accepted, in bytes.
    public static let maxLength = 256

    /// The steps from the event root; empty for `$`.
    public let steps: [Step]
    /// The path as written.
    public let text: String

    public var description: String { text }

    /// Parses `text`, which must start with `$`.
    public init(parsing text: String) throws(ParseError) {
        self.text = text
        self.steps = try AlertValuePath.parse(Array(text.utf8), text: text)
    }

    /// The value at this path in `value`, or nil when the path leads nowhere.
    public func evaluate(in value: JSONValue) -> JSONValue? {
        var current = value
        for step in steps {
            switch step {
            case .key(let key):
                guard let next = current.objectValue?[key] else { return nil }
                current = next
            case .index(let index):
                guard let elements = current.arrayValue, index >= 0, index < elements.count else { return nil }
                current = elements[index]
            }
        }
        return current
    }

    /// The value at this path as key text: a string as it is, anything else as compact JSON; nil when absent.
    public func text(in value: JSONValue) -> String? {
        guard let found = evaluate(in: value) else { return nil }
        if case .string(let s) = found { return s }
        return JSONWriter.string(found)
    }

    static func isKeyByte(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "."), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "<"), UInt8(ascii: ">"),
             UInt8(ascii: " "), 0x09, 0x0A, 0x0D:
            return false
        default:
            return c >= 0x20
        }
    }

    private static func parse(_ b: [UInt8], text: String) throws(ParseError) -> [Step] {
        func fail(_ reason: String) -> ParseError { ParseError(text: text, reason: reason) }
        guard !b.isEmpty else { throw fail("the path is empty; use \"$\" for the whole event") }
        guard b.count <= maxLength else { throw fail("the path is longer than \(maxLength) bytes") }
        guard b[0] == UInt8(ascii: "$") else { throw fail("a path must start with \"$\" (e.g. \"$.detail.userIdentity.arn\")") }
        var steps: [Step] = []
        var i = 1
        while i < b.count {
            switch b[i] {
            case UInt8(ascii: "."):
                i += 1
                let start = i
                while i < b.count, isKeyByte(b[i]) { i += 1 }
                guard i > start else { throw fail("expected a key after \".\" at character \(start + 1)") }
                if b[start..<i].contains(UInt8(ascii: "*")) && i - start == 1 {
                    throw fail("wildcards are not supported in alert keys: a key names one value")
                }
                steps.append(.key(String(decoding: b[start..<i], as: UTF8.self)))
            case UInt8(ascii: "["):
                let open = i
                i += 1
                guard i < b.count else { throw fail("unclosed \"[\" at character \(open + 1)") }
                if b[i] == UInt8(ascii: "'") || b[i] == UInt8(ascii: "\"") {
                    let quote = b[i]
                    i += 1
                    let start = i
                    while i < b.count, b[i] != quote { i += 1 }
                    guard i < b.count else { throw fail("unclosed quoted key at character \(open + 1)") }
                    let key = String(decoding: b[start..<i], as: UTF8.self)
                    i += 1
                    guard i < b.count, b[i] == UInt8(ascii: "]") else { throw fail("expected \"]\" after a quoted key") }
                    i += 1
                    steps.append(.key(key))
                } else {
                    let start = i
                    while i < b.count, b[i] >= UInt8(ascii: "0"), b[i] <= UInt8(ascii: "9") { i += 1 }
                    guard i > start, i < b.count, b[i] == UInt8(ascii: "]") else {
                        throw fail("expected an array index such as [0] at character \(open + 1)")
                    }
                    guard i - start <= 9, let index = Int(String(decoding: b[start..<i], as: UTF8.self)) else {
                        throw fail("array index too large at character \(open + 1)")
                    }
                    steps.append(.index(index))
                    i += 1
                }
            default:
                throw fail("expected \".\" or \"[\" at character \(i + 1)")
            }
        }
        return steps
    }
}
