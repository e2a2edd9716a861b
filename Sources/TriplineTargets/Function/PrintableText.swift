/// Text from handlers and events made safe to print on a terminal.
///
/// A handler's output, or an event value it echoes, may hold escape sequences (ESC, CSI, OSC) that
/// would clear the screen, retitle the terminal or hide lines of the log, and bidirectional
/// embedding, override and isolate characters (U+202A–U+202E, U+2066–U+2069) that reorder what
/// follows them on the line, so a reason or a name reads as something else; each is shown as a
/// visible escape instead (`\x1b`, `\u009b`, `\u202e`). Tabs stay.
public enum PrintableText {
    /// `text` with every C0 control except tab, DEL, every C1 control and every bidi embedding, override
    /// or isolate character written as an escape.
    public static func escapingControls(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            guard isControl(scalar) else { out.append(scalar); continue }
            let hex = String(scalar.value, radix: 16)
            let escape = scalar.value < 0x80 ? "\\x" + (hex.count == 1 ? "0" : "") + hex
                                             : "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
            out.append(contentsOf: escape.unicodeScalars)
        }
        return String(out)
    }

    /// A handler's output as lines to print: split at LF, a CR ending a line dropped (CRLF output),
    /// decoded leniently, not escaped; a last line without its LF is a line, an empty output none.
    public static func lines(of bytes: [UInt8]) -> [String] {
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        return lines.map { line in String(decoding: line.last == 0x0D ? line.dropLast() : line, as: UTF8.self) }
    }

    /// ``lines(of:)`` with controls escaped (``escapingControls(_:)``): how `run` and `invoke` print
    /// what a handler wrote, so it cannot drive the terminal or forge a line.
    public static func printableLines(of bytes: [UInt8]) -> [String] {
        lines(of: bytes).map(escapingControls)
    }

    /// The last non-empty line of `bytes` (decoded leniently, controls escaped), cut to `limit`
    /// characters; nil when there is none.
    public static func lastLine(of bytes: [UInt8], limit: Int = 200) -> String? {
        let lines = bytes.split(separator: 0x0A).map { String(decoding: $0, as: UTF8.self).trimmingWhitespace() }
        guard let line = lines.last(where: { !$0.isEmpty }) else { return nil }
        let printable = escapingControls(line)
        return printable.count > limit ? String(printable.prefix(limit)) + "…" : printable
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        (scalar.value < 0x20 && scalar.value != 0x09) || (0x7F...0x9F).contains(scalar.value)
            || (0x202A...0x202E).contains(scalar.value) || (0x2066...0x2069).contains(scalar.value)
    }
}

private extension String {
    func trimmingWhitespace() -> String {
        var scalars = Substring(self).unicodeScalars
        while let first = scalars.first, first == " " || first == "\t" || first == "\r" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" || last == "\r" { scalars.removeLast() }
        return String(scalars)
    }
}
