/// Turns byte offsets in a text into lines and columns: the one place that decides what a line and a
/// column are, for every `file:line:column` Tripline prints.
///
/// Lines end at LF, CRLF or a lone CR (old Mac files), so each editor's line numbers agree. Columns
/// count Unicode characters (scalars), not bytes: a value after six CJK characters is at column 7,
/// as an editor shows it. A UTF-8 byte-order mark at the start of the text takes no column.
///
/// The counter remembers how far it has counted, so asking for increasing offsets (a parser
/// recording where each value starts) costs one pass over the text in all; an earlier offset
/// starts the count again from the beginning.
public struct JSONLineCounter: Sendable {
    private var offset = 0
    private var line = 1
    private var column = 1

    public init() {}

    /// The location of `target` in `bytes` (offsets past the end are clamped for counting).
    public mutating func location(of target: Int, in bytes: UnsafeBufferPointer<UInt8>) -> JSONLocation {
        if target < offset { self = JSONLineCounter() }
        let end = min(target, bytes.count)
        var i = offset
        if i == 0, bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { i = min(3, end) }
        while i < end {
            let byte = bytes[i]
            if byte == 0x0A {
                // The CR of a CRLF already ended the line.
                if i == 0 || bytes[i - 1] != 0x0D { line += 1 }
                column = 1
            } else if byte == 0x0D {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                // Every byte but a UTF-8 continuation byte starts a character.
                column += 1
            }
            i += 1
        }
        offset = max(offset, end)
        return JSONLocation(offset: target, line: line, column: column)
    }
}
