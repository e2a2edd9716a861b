/// Why a JSON text was rejected, with the byte offset and line:column where reading stopped.
///
/// Every case carries a ``JSONLocation`` so a caller can prefix its own file name and report
/// `file:line:column: message` without re-reading the input.
public enum JSONError: Error, Sendable, Equatable, CustomStringConvertible {
    case unexpectedEnd(expected: String, at: JSONLocation)
    case unexpectedByte(found: String, expected: String, at: JSONLocation)
    case invalidUTF8(at: JSONLocation)
    case controlCharacterInString(at: JSONLocation)
    case invalidEscape(found: String, at: JSONLocation)
    case loneSurrogate(at: JSONLocation)
    case invalidNumber(text: String, reason: String, at: JSONLocation)
    case duplicateKey(key: String, path: String, at: JSONLocation)
    case tooDeep(limit: Int, at: JSONLocation)
    case tooLarge(size: Int, limit: Int)
    case trailingContent(at: JSONLocation)
    /// Valid JSON whose matching would take more work than the matcher's limit, said in `limit`
    /// (`2147483648 steps`): a hostile shape (values that must be checked one against another inside
    /// arrays of objects, a long value a pattern's automaton cannot cache, a flood of values each
    /// satisfying many conditions) that would otherwise hold a run for minutes or take gigabytes.
    case matchingWorkLimit(limit: String)

    /// Where reading stopped; `nil` for `tooLarge`, decided before reading, and `matchingWorkLimit`, after it.
    public var location: JSONLocation? {
        switch self {
        case .unexpectedEnd(_, let at), .unexpectedByte(_, _, let at), .invalidUTF8(let at),
             .controlCharacterInString(let at), .invalidEscape(_, let at), .loneSurrogate(let at),
             .invalidNumber(_, _, let at), .duplicateKey(_, _, let at), .tooDeep(_, let at),
             .trailingContent(let at):
            return at
        case .tooLarge, .matchingWorkLimit:
            return nil
        }
    }

    /// The message without the location prefix.
    public var message: String {
        switch self {
        case .unexpectedEnd(let expected, _):
            return "unexpected end of input, expected \(expected)"
        case .unexpectedByte(let found, let expected, _):
            return "unexpected \(found), expected \(expected)"
        case .invalidUTF8:
            return "invalid UTF-8 byte sequence"
        case .controlCharacterInString:
            return "unescaped control character in string"
        case .invalidEscape(let found, _):
            return "invalid escape sequence \(found) in string"
        case .loneSurrogate:
            return "\\u escape is an unpaired UTF-16 surrogate"
        case .invalidNumber(let text, let reason, _):
            return "invalid number \(text): \(reason)"
        case .duplicateKey(let key, let path, _):
            return path.isEmpty ? "duplicate key \"\(key)\"" : "duplicate key \"\(key)\" in object at \(path)"
        case .tooDeep(let limit, _):
            return "nesting deeper than \(limit) levels"
        case .tooLarge(let size, let limit):
            return "\(size) bytes exceeds the limit of \(limit) bytes"
        case .trailingContent:
            return "unexpected content after the JSON value"
        case .matchingWorkLimit(let limit):
            return "matching this event would take more than \(limit) (values checked one against another inside arrays of "
                + "objects, long values a pattern's automaton cannot cache, or many values each satisfying many conditions): "
                + "the event is refused so the run goes on"
        }
    }

    public var description: String {
        if let location { return "\(location): \(message)" }
        return message
    }
}

/// A position in a JSON text: 0-based byte offset, 1-based line and column.
///
/// Lines and columns are as ``JSONLineCounter`` counts them: lines end at LF, CRLF or CR, and
/// columns count characters, not bytes.
public struct JSONLocation: Sendable, Hashable, CustomStringConvertible {
    public var offset: Int
    public var line: Int
    public var column: Int

    public init(offset: Int, line: Int, column: Int) {
        self.offset = offset
        self.line = line
        self.column = column
    }

    /// Computes line and column by counting `bytes` up to `offset`; used only when reporting.
    public init(offset: Int, in bytes: UnsafeBufferPointer<UInt8>) {
        var counter = JSONLineCounter()
        self = counter.location(of: offset, in: bytes)
    }

    public var description: String { "\(line):\(column)" }

    /// `file:line:column: `, or as much of it as is known (`file: `, `line:column: `, or nothing):
    /// the one prefix every message about a place in a file starts with.
    public static func prefix(file: String?, location: JSONLocation?) -> String {
        var prefix = file.map { $0 + ":" } ?? ""
        if let location { prefix += "\(location):" }
        return prefix.isEmpty ? "" : prefix + " "
    }
}
