#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns a stream of byte chunks into lines, with a hard cap on line length.
///
/// Lines end at `\n`; a `\r` just before it is dropped. A line longer than `maxLineLength` bytes is
/// reported as `.failure(.lineTooLong)` with its 1-based number and its bytes are discarded as they
/// arrive, never buffered, so memory stays bounded by `maxLineLength` plus the current chunk.
/// Empty lines are reported (so line numbers stay exact); a final line without `\n` is reported too.
/// A UTF-8 byte-order mark at the start of the first line (Windows editors and PowerShell write
/// one) is dropped, as the JSON parser drops it at the start of a document.
///
/// Usage: `append` a chunk, call `nextLine()` until it returns nil, repeat; at end of input call
/// `finish()` and drain `nextLine()` once more.
public struct LineSplitter: Sendable {
    /// One complete line, without its line terminator.
    public struct Line: Sendable, Equatable {
        /// 1-based line number in the input.
        public let number: Int
        /// The line's bytes, without `\n` or `\r\n`.
        public let bytes: [UInt8]

        public init(number: Int, bytes: [UInt8]) {
            self.number = number
            self.bytes = bytes
        }
    }

    /// Named in `lineTooLong` errors.
    public let path: String
    /// Longest accepted line, in bytes, excluding the terminator.
    public let maxLineLength: Int
    /// Whether the line last returned ended at the end of the input instead of at a `\n` (the input's
    /// last line had no newline: complete, or still being written).
    public private(set) var lastLineUnterminated = false
    /// The 1-based number the next line will have.
    public var nextLineNumber: Int { lineNumber }

    private var chunk: [UInt8] = []
    private var cursor = 0
    /// Start of the current line carried over from earlier chunks (at most `maxLineLength + 1` bytes).
    private var partial: [UInt8] = []
    /// The current line has already exceeded the limit; its bytes are being dropped.
    private var skipping = false
    /// Number of the line that starts at `cursor` (or continues `partial`).
    private var lineNumber = 1
    private var inputFinished = false
    private var finalLineDone = false

    /// Creates a splitter; `path` only labels errors.
    public init(path: String, maxLineLength: Int) {
        precondition(maxLineLength >= 0, "maxLineLength must not be negative")
        self.path = path
        self.maxLineLength = maxLineLength
    }

    /// Supplies the next chunk of input.
    ///
    /// Precondition: `nextLine()` has returned nil since the previous `append` and `finish()` has
    /// not been called.
    public mutating func append(_ chunk: [UInt8]) {
        precondition(cursor >= self.chunk.count, "append called before the previous chunk was drained")
        precondition(!inputFinished, "append called after finish")
        self.chunk = chunk
        cursor = 0
    }

    /// Marks the end of input, so a final line without a trailing newline is reported.
    public mutating func finish() {
        inputFinished = true
    }

    /// The next complete line (or over-long line error), or nil when more input is needed
    /// (or, after `finish()`, when the input is exhausted).
    public mutating func nextLine() -> Result<Line, IngestionError>? {
        if cursor < chunk.count {
            let start = cursor
            if let newline = indexOfNewline(from: start) {
                cursor = newline + 1
                return completeLine(currentChunkPart: start..<newline)
            }
            carryOver(start..<chunk.count)
            cursor = chunk.count
        }
        guard inputFinished, !finalLineDone else { return nil }
        finalLineDone = true
        guard skipping || !partial.isEmpty else { return nil }
        lastLineUnterminated = true
        return completeLine(currentChunkPart: chunk.count..<chunk.count)
    }

    /// Whether the line about to be read begins a CloudTrail log document: `{`, then the key
    /// `"Records"` and `[` (whitespace allowed between them). False while too little of it is there
    /// to tell; ask again after more input arrived.
    public func nextLineStartsLogDocument() -> Bool {
        guard !skipping, partial.count < Self.logDocumentWindow else { return false }
        // The line's first bytes only (what the pattern can span with modest blanks), up to its
        // newline; read in place, since this runs before every line (most fail at their second byte).
        let start = min(cursor, chunk.count)
        let fromChunk = min(chunk.count, start + Self.logDocumentWindow - partial.count) - start
        let count = partial.count + fromChunk
        func byte(_ i: Int) -> UInt8 { i < partial.count ? partial[i] : chunk[start + i - partial.count] }
        var i = 0
        for token in Self.logDocumentStart {
            while i < count, byte(i) == 0x20 || byte(i) == 0x09 || byte(i) == 0x0D { i += 1 }
            guard count - i >= token.count else { return false }
            for expected in token {
                let actual = byte(i)
                if actual != expected { return false }  // A newline ends the line: it is never expected.
                i += 1
            }
        }
        return true
    }

    /// How many bytes at the start of a line ``nextLineStartsLogDocument()`` looks at.
    private static let logDocumentWindow = 64
    private static let logDocumentStart: [[UInt8]] = [[UInt8(ascii: "{")], Array("\"Records\"".utf8), [UInt8(ascii: ":")], [UInt8(ascii: "[")]]

    /// Everything not yet returned as a line (the start of the current line included), handing the
    /// rest of the input over to another reader; the splitter then holds nothing.
    public mutating func takeRest() -> [UInt8] {
        let rest = partial + chunk[min(cursor, chunk.count)...]
        partial.removeAll()
        cursor = chunk.count
        return rest
    }

    // MARK: - Private

    private func indexOfNewline(from start: Int) -> Int? {
        chunk.withUnsafeBufferPointer { buffer -> Int? in
            guard let base = buffer.baseAddress,
                  let hit = memchr(base + start, 0x0A, buffer.count - start) else { return nil }
            return UnsafeRawPointer(base).distance(to: UnsafeRawPointer(hit))
        }
    }

    /// Ends the current line with `partial` followed by `chunk[range]`.
    private mutating func completeLine(currentChunkPart range: Range<Int>) -> Result<Line, IngestionError> {
        let number = lineNumber
        lineNumber += 1
        if skipping {
            skipping = false
            return .failure(.lineTooLong(path: path, line: number, limit: maxLineLength))
        }
        var end = range.upperBound
        if range.isEmpty {
            if partial.last == 0x0D { partial.removeLast() }
        } else if chunk[end - 1] == 0x0D {
            end -= 1
        }
        let part = chunk[range.lowerBound..<end]
        guard partial.count + part.count <= maxLineLength else {
            partial.removeAll(keepingCapacity: true)
            return .failure(.lineTooLong(path: path, line: number, limit: maxLineLength))
        }
        var bytes = partial.isEmpty ? Array(part) : partial + part
        partial.removeAll(keepingCapacity: true)
        if number == 1 && bytes.starts(with: Self.byteOrderMark) { bytes.removeFirst(Self.byteOrderMark.count) }
        return .success(Line(number: number, bytes: bytes))
    }

    private static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    /// Keeps the unterminated tail of a chunk, or starts skipping once it cannot fit.
    private mutating func carryOver(_ range: Range<Int>) {
        guard !skipping else { return }
        // One extra byte is allowed: it may be the `\r` of a `\r\n` split across chunks.
        if partial.count + range.count > maxLineLength + 1 {
            skipping = true
            partial.removeAll(keepingCapacity: true)
        } else {
            partial.append(contentsOf: chunk[range])
        }
    }
}

/// Reads a (possibly gzipped) file line by line with bounded memory.
///
/// Combines `CompressedFileReader` and `LineSplitter`: I/O and decompression failures are thrown,
/// while over-long lines come back as `.failure` values so reading can continue past them.
public final class FileLineReader {
    private let reader: CompressedFileReader
    private var splitter: LineSplitter
    private var inputEnded = false

    /// The path being read.
    public var path: String { reader.path }
    /// Whether the file is gzip-compressed.
    public var isCompressed: Bool { reader.isCompressed }

    /// Opens `path`; lines longer than `maxLineLength` bytes are reported and skipped.
    public init(path: String, maxLineLength: Int,
                chunkSize: Int = CompressedFileReader.defaultChunkSize) throws(IngestionError) {
        reader = try CompressedFileReader(path: path, chunkSize: chunkSize)
        splitter = LineSplitter(path: path, maxLineLength: maxLineLength)
    }

    /// Next line or over-long-line error, or nil at end of file.
    public func nextLine() throws(IngestionError) -> Result<LineSplitter.Line, IngestionError>? {
        while true {
            if let line = splitter.nextLine() { return line }
            if inputEnded { return nil }
            if let chunk = try reader.nextChunk() {
                splitter.append(chunk)
            } else {
                splitter.finish()
                inputEnded = true
            }
        }
    }

    /// Closes the underlying file; safe to call more than once.
    public func close() {
        reader.close()
    }
}
