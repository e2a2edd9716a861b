/// Serialises ``JSONValue`` trees as compact JSON, members in stored order.
///
/// Output is valid UTF-8 JSON whatever the strings contain: quotes, backslashes and control
/// characters are escaped, so untrusted values never break the document they are written into.
public enum JSONWriter {
    public static func string(_ value: JSONValue) -> String {
        var out: [UInt8] = []
        write(value, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    public static func bytes(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        write(value, into: &out)
        return out
    }

    public static func write(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n): out.append(contentsOf: n.text.utf8)
        case .string(let s): writeString(s, into: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(element, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            out.append(UInt8(ascii: "{"))
            for (i, member) in object.members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                writeString(member.key, into: &out)
                out.append(UInt8(ascii: ":"))
                write(member.value, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// How many bytes ``write(_:into:)`` would write for `value`, without writing them: a size
    /// limit is checked without building the text.
    public static func byteCount(_ value: JSONValue) -> Int {
        switch value {
        case .null: return 4
        case .bool(let b): return b ? 4 : 5
        case .number(let n): return n.text.utf8.count
        case .string(let s): return stringByteCount(s)
        case .array(let elements):
            var count = 2 + max(elements.count - 1, 0)
            for element in elements { count += byteCount(element) }
            return count
        case .object(let object):
            var count = 2 + max(object.members.count - 1, 0)
            for member in object.members { count += stringByteCount(member.key) + 1 + byteCount(member.value) }
            return count
        }
    }

    /// The bytes of `s` as a JSON string literal, quotes included (see ``appendEscape(for:into:)``).
    static func stringByteCount(_ s: String) -> Int {
        func escapedCount<C: Sequence>(_ bytes: C) -> Int where C.Element == UInt8 {
            var count = 0
            for c in bytes where c < 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") {
                switch c {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), 0x0A, 0x0D, 0x09: count += 1
                default: count += 5
                }
            }
            return count
        }
        let extra = s.utf8.withContiguousStorageIfAvailable { escapedCount($0) } ?? escapedCount(s.utf8)
        return 2 + s.utf8.count + extra
    }

    /// A JSON string literal (with quotes) for `s`.
    public static func quoted(_ s: String) -> String {
        var out: [UInt8] = []
        writeString(s, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    public static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        appendEscaped(s.utf8, into: &out)
        out.append(UInt8(ascii: "\""))
    }

    /// Appends the escaped body of a string (no quotes).
    ///
    /// Runs of bytes that need no escaping are copied in one go; most strings are one such run.
    public static func appendEscaped<C: Sequence>(_ utf8: C, into out: inout [UInt8]) where C.Element == UInt8 {
        let done: Void? = utf8.withContiguousStorageIfAvailable { bytes in
            var runStart = 0
            for i in 0..<bytes.count {
                let c = bytes[i]
                if c >= 0x20 && c != UInt8(ascii: "\"") && c != UInt8(ascii: "\\") { continue }
                if runStart < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i])) }
                appendEscape(for: c, into: &out)
                runStart = i + 1
            }
            if runStart < bytes.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart...])) }
        }
        if done != nil { return }
        for c in utf8 {
            if c >= 0x20 && c != UInt8(ascii: "\"") && c != UInt8(ascii: "\\") { out.append(c) } else { appendEscape(for: c, into: &out) }
        }
    }

    private static func appendEscape(for c: UInt8, into out: inout [UInt8]) {
        let hex: StaticString = "0123456789abcdef"
        switch c {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(c)
        case 0x0A: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
        case 0x0D: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
        case 0x09: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
        default:
            out.append(contentsOf: "\\u00".utf8)
            out.append(hex.utf8Start[Int(c >> 4)])
            out.append(hex.utf8Start[Int(c & 0xF)])
        }
    }
}
