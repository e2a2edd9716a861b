/// Text with the escapes a server may apply to an echoed value undone, each decoded byte mapped back to
/// the span of the original text it came from: what ``Redactor`` matches secrets against.
///
/// Undone, in any mixture: percent escapes (`%2F`, `%2f`), JSON string escapes (`\/`, `\"`, `\\`, `\n`…,
/// `\u00XX` including surrogate pairs) and HTML character references (`&#47;`, `&#x2F;`, `&amp;`,
/// `&quot;`, `&lt;`, `&gt;`, `&apos;`). Anything else, malformed escapes included, stands for itself.
/// Decoding is one level deep: `%252F` decodes to `%2F`.
struct EscapedText {
    /// The decoded bytes (UTF-8 for `\u` escapes and numeric references).
    private(set) var bytes: [UInt8] = []
    /// For each decoded byte, the range of original bytes of the escape (or plain byte) it came from.
    private(set) var sources: [Range<Int>] = []

    init(_ original: [UInt8]) {
        bytes.reserveCapacity(original.count)
        sources.reserveCapacity(original.count)
        var i = 0
        while i < original.count {
            if let (decoded, length) = EscapedText.escape(in: original, at: i) {
                for byte in decoded {
                    bytes.append(byte)
                    sources.append(i..<(i + length))
                }
                i += length
            } else {
                bytes.append(original[i])
                sources.append(i..<(i + 1))
                i += 1
            }
        }
    }

    /// The decoded bytes of the escape starting at `i`, and its length; nil when none starts there.
    static func escape(in text: [UInt8], at i: Int) -> ([UInt8], Int)? {
        switch text[i] {
        case UInt8(ascii: "%"):
            guard i + 2 < text.count, let high = hexValue(text[i + 1]), let low = hexValue(text[i + 2]) else { return nil }
            return ([high << 4 | low], 3)
        case UInt8(ascii: "\\"):
            guard i + 1 < text.count else { return nil }
            switch text[i + 1] {
            case UInt8(ascii: "/"), UInt8(ascii: "\\"), UInt8(ascii: "\""): return ([text[i + 1]], 2)
            case UInt8(ascii: "n"): return ([10], 2)
            case UInt8(ascii: "r"): return ([13], 2)
            case UInt8(ascii: "t"): return ([9], 2)
            case UInt8(ascii: "b"): return ([8], 2)
            case UInt8(ascii: "f"): return ([12], 2)
            case UInt8(ascii: "u"):
                guard let unit = hexNumber(text, from: i + 2, count: 4) else { return nil }
                if (0xD800...0xDBFF).contains(unit), text.count >= i + 12,
                   text[i + 6] == UInt8(ascii: "\\"), text[i + 7] == UInt8(ascii: "u"),
                   let low = hexNumber(text, from: i + 8, count: 4), (0xDC00...0xDFFF).contains(low) {
                    return (utf8(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)), 12)
                }
                return (utf8(unit), 6)
            default: return nil
            }
        case UInt8(ascii: "&"):
            var end = i + 1
            while end < text.count, end - i <= 10, text[end] != UInt8(ascii: ";") { end += 1 }
            guard end < text.count, text[end] == UInt8(ascii: ";"), end > i + 1 else { return nil }
            let name = String(decoding: text[(i + 1)..<end], as: UTF8.self)
            let length = end + 1 - i
            switch name {
            case "amp": return ([UInt8(ascii: "&")], length)
            case "quot": return ([UInt8(ascii: "\"")], length)
            case "apos": return ([UInt8(ascii: "'")], length)
            case "lt": return ([UInt8(ascii: "<")], length)
            case "gt": return ([UInt8(ascii: ">")], length)
            default:
                guard name.hasPrefix("#") else { return nil }
                let digits = name.dropFirst()
                let value = digits.first == "x" || digits.first == "X" ? UInt32(digits.dropFirst(), radix: 16) : UInt32(digits, radix: 10)
                guard let value, !digits.isEmpty else { return nil }
                return (utf8(value), length)
            }
        default:
            return nil
        }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    private static func hexNumber(_ text: [UInt8], from start: Int, count: Int) -> UInt32? {
        guard start + count <= text.count else { return nil }
        var value: UInt32 = 0
        for k in start..<(start + count) {
            guard let digit = hexValue(text[k]) else { return nil }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// UTF-8 of `value`; a lone surrogate or an out-of-range value decodes as U+FFFD.
    private static func utf8(_ value: UInt32) -> [UInt8] {
        Array(String(Unicode.Scalar(value) ?? "\u{FFFD}").utf8)
    }
}
