extension JSONWriter {
    /// Whether `bytes` is a document ``JSONParser/parse(_:options:)`` reads (default options) and
    /// ``write(_:into:)`` writes back byte for byte: valid, compact (no whitespace between tokens,
    /// no byte order mark), every string escaped exactly as the writer escapes (`\"`, `\\`, `\n`,
    /// `\r`, `\t`, other control characters as lowercase `\u00xx`, nothing else). Then
    /// `JSONWriter.bytes(JSONParser.parse(bytes))` is `bytes` itself, and whoever would re-encode
    /// a document to compact it can copy it instead, without building its tree.
    ///
    /// Validation is the cursor's validating skip (UTF-8, escapes, numbers, depth, duplicate keys),
    /// the checks the parser's tree builder makes. False whenever in doubt.
    public static func isCompactCanonical(_ bytes: [UInt8]) -> Bool {
        guard !bytes.isEmpty, bytes.count <= JSONParser.Options().maxBytes else { return false }
        return bytes.withUnsafeBufferPointer { buffer -> Bool in
            // First the form, which is cheap: most documents that are not canonical fail here.
            guard hasCompactCanonicalForm(buffer) else { return false }
            // Then validity, as the parser judges it (a byte order mark fails here: `0xEF` is not a value).
            var cursor = JSONCursor(bytes: buffer, maxDepth: JSONParser.Options().maxDepth)
            do {
                try cursor.skipValue(depth: 0)
                try cursor.expectEnd()
            } catch {
                return false
            }
            return true
        }
    }

    /// Whether `text`, taken to be valid JSON, is in the form ``write(_:into:)`` writes: no whitespace
    /// between tokens, every string escaped exactly as the writer escapes (see ``isCompactCanonical(_:)``).
    /// Checks the form only; for valid JSON text that is all that can differ from the writer's output.
    public static func hasCompactCanonicalForm(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = text.baseAddress else { return false }
        let count = text.count
        var inString = false
        var i = 0
        let raw = UnsafeRawPointer(base)
        while i < count {
            if inString {
                // Most of a document is string bodies: eight bytes at a time up to a quote or backslash.
                while i &+ 8 <= count {
                    let word = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                    if hasByte(word, UInt8(ascii: "\"")) || hasByte(word, UInt8(ascii: "\\")) { break }
                    i &+= 8
                }
                guard i < count else { break }
            }
            let c = base[i]
            if inString {
                if c == UInt8(ascii: "\"") {
                    inString = false
                } else if c == UInt8(ascii: "\\") {
                    guard i + 1 < count else { return false }
                    switch base[i + 1] {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        i += 1
                    case UInt8(ascii: "u"):
                        // Only `\u00xx` (lowercase) for a control character the writer has no short escape for.
                        guard i + 5 < count, base[i + 2] == UInt8(ascii: "0"), base[i + 3] == UInt8(ascii: "0"),
                              let high = lowerHex(base[i + 4]), let low = lowerHex(base[i + 5]), high <= 1 else { return false }
                        let code = high << 4 | low
                        guard code != 0x09 && code != 0x0A && code != 0x0D else { return false }
                        i += 5
                    default:
                        return false
                    }
                }
            } else {
                switch c {
                case UInt8(ascii: "\""): inString = true
                case 0x20, 0x09, 0x0A, 0x0D: return false
                default: break
                }
            }
            i += 1
        }
        return !inString
    }

    /// Whether one of the eight bytes of `word` is `byte`.
    @inline(__always)
    private static func hasByte(_ word: UInt64, _ byte: UInt8) -> Bool {
        let x = word ^ (0x0101_0101_0101_0101 &* UInt64(byte))
        return (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080 != 0
    }

    private static func lowerHex(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        default: return nil
        }
    }
}
