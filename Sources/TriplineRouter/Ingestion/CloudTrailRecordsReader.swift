import TriplineJSON

/// Streams the elements of a CloudTrail log file's `Records` array, one record at a time, as raw bytes.
///
/// CloudTrail delivers `{"Records":[{...},{...}]}` files (usually gzip) that can hold thousands of
/// records; this reads them in chunks from ``CompressedFileReader`` and finds each element's extent with
/// a byte-level scanner that tracks strings, escapes and nesting, so memory stays bounded by one record
/// plus one chunk whatever the file size. Only structure is checked here: each record's bytes are
/// validated later when parsed, so one broken record costs only itself.
///
/// - Other top-level keys are skipped without being buffered. Several top-level objects in a row
///   (`zcat *.json.gz > all.json`) are read as one log, record indexes continuing.
/// - A record larger than `maxRecordBytes` comes back as `.failure(.eventTooLarge)` for its index and is
///   skipped while scanning, never held whole.
/// - A structural error (unbalanced brackets, junk between records, the file ending early) or an I/O or
///   gzip error is thrown by ``nextRecord()`` with the file and record index; the reader then ends.
///
/// Not thread-safe: use one reader from one thread.
public final class CloudTrailRecordsReader {
    /// One element of the `Records` array.
    public struct Record: Sendable, Equatable {
        /// 0-based position in the `Records` array (continuing across concatenated documents).
        public var index: Int
        /// The element's exact bytes, from its first to its last byte.
        public var bytes: [UInt8]

        public init(index: Int, bytes: [UInt8]) {
            self.index = index
            self.bytes = bytes
        }
    }

    /// What the start of a file looks like, as found by ``detectLayout()``.
    public enum Layout: Sendable, Equatable {
        /// A top-level object with a `Records` array: a CloudTrail log file.
        case recordsArray
        /// Exactly one top-level JSON object (no `Records`) and nothing after it but whitespace.
        case singleDocument
        /// Anything else (NDJSON, empty, or not JSON at all): read it line by line.
        case other
        /// The input ends inside its first top-level object, which runs over more than one line, before
        /// any `Records` key: a document still being written (or cut short). Nothing in it can be read
        /// yet. (A first line that ends with its newline is a complete NDJSON line, however invalid.)
        case unfinishedDocument
    }

    /// EventBridge's event size limit, the default cap on one record (256 KiB).
    public static let defaultMaxRecordBytes = 256 * 1024
    /// Nesting deeper than this is treated as a malformed file (the JSON parser's limit is far lower).
    public static let maxScanDepth = 1024

    /// The path being read.
    public var path: String { reader.path }
    /// Records larger than this many bytes are reported and skipped.
    public let maxRecordBytes: Int
    /// Whether the last error thrown came from the input ending inside a value (a structural error at
    /// the end of the input, or a gzip stream ending early): the file may still be being written.
    public private(set) var endedInsideValue = false

    private let reader: CompressedFileReader
    private var chunk: [UInt8] = []
    private var position = 0
    /// Decompressed offset of `chunk[0]` in the file.
    private var chunkOffset: Int64 = 0
    private var inputEnded = false
    private var phase = Phase.beforeDocument
    private var documents = 0
    private var sawRecordsInDocument = false
    private var sawRecordsAnywhere = false
    private var currentKeyIsRecords = false
    private var key = KeyCollector()
    private var value = ValueScanner(maxDepth: CloudTrailRecordsReader.maxScanDepth)
    /// The index the next record will have (how many records were read so far).
    public private(set) var nextIndex = 0
    private var record: [UInt8] = []
    private var recordTooLarge = false
    private var layout: Layout?
    private var ended = false
    /// Chunks read while detecting the layout, kept so another reader can start over without reopening
    /// (pipes cannot be reopened); nil once more than `replayLimit` bytes were read.
    private var recorded: [[UInt8]]? = []
    private var recordedBytes = 0
    private let replayLimit: Int
    /// The input cannot be read again (a pipe): detection keeps every byte it reads and stops at `replayLimit`.
    private let mustReplay: Bool
    /// Decompressed offset of the first top-level object's `{`, while detecting.
    private var firstDocumentStart: Int64 = 0
    /// The first top-level object closed without a line break inside it (so a line break after it means NDJSON).
    private var firstDocumentIsOneLine = false

    private enum Phase {
        case beforeDocument, beforeFirstKey, beforeKey, inKey, afterKey, beforeMemberValue, inMemberValue,
             afterMemberValue, beforeFirstRecord, beforeRecord, inRecord, afterRecord, afterDocument
    }

    /// Opens `path` (plain or gzip).
    public convenience init(path: String, maxRecordBytes: Int = CloudTrailRecordsReader.defaultMaxRecordBytes,
                            chunkSize: Int = CompressedFileReader.defaultChunkSize) throws(InputError) {
        let reader: CompressedFileReader
        do {
            reader = try CompressedFileReader(path: path, chunkSize: chunkSize)
        } catch {
            throw .file(error)
        }
        self.init(reader: reader, maxRecordBytes: maxRecordBytes)
    }

    /// Reads what `reader` yields (it is closed with this reader). With `mustReplay` (the input is a
    /// pipe that cannot be opened again), ``detectLayout()`` reads at most four times `maxRecordBytes`
    /// plus a chunk and keeps it all for ``takeInput()``: if it cannot decide by then, it says `.other`.
    public init(reader: CompressedFileReader, maxRecordBytes: Int = CloudTrailRecordsReader.defaultMaxRecordBytes,
                mustReplay: Bool = false) {
        precondition(maxRecordBytes > 0, "maxRecordBytes must be positive")
        self.reader = reader
        self.maxRecordBytes = maxRecordBytes
        self.mustReplay = mustReplay
        replayLimit = maxRecordBytes * 4 + reader.chunkSize
    }

    /// After ``detectLayout()`` returned `.singleDocument` or `.other`: the chunks it read and the
    /// reader positioned just after them, so the file can be read again from its start in another
    /// way without reopening it. Nil when detection read too much to keep (more than four times
    /// `maxRecordBytes` plus a chunk); reopen the file instead (impossible for a pipe).
    public func takeInput() -> (consumed: [[UInt8]], rest: CompressedFileReader)? {
        guard layout != nil, layout != .recordsArray, let recorded else { return nil }
        self.recorded = nil
        return (recorded, reader)
    }

    /// Reads just far enough to tell whether this is a CloudTrail log file.
    ///
    /// Stops at the top-level `Records` key (`.recordsArray`, reading can go on with ``nextRecord()``),
    /// after a one-line first object and the line break behind it (`.other`: NDJSON, decided without
    /// waiting for more of a stream), or after the first top-level value and the whitespace behind it
    /// (`.singleDocument` or `.other`).
    /// A structural error before that point (a line break inside a string included: JSON text has
    /// none, so the value cannot be one document) means `.other`; the input ending inside a first
    /// object already past its first line means `.unfinishedDocument`; I/O and gzip errors are
    /// thrown. Call at most once, before ``nextRecord()``; for the other layouts re-read the file
    /// another way.
    public func detectLayout() throws(InputError) -> Layout {
        if let layout { return layout }
        let decided: Layout
        do {
            decided = try run(detecting: true).layout ?? .other
        } catch {
            if case .file = error { throw error }
            endedInsideValue = false
            decided = .other
        }
        layout = decided
        if decided == .recordsArray { recorded = nil } else { ended = true }
        return decided
    }

    /// The next record (or the report of an over-large one), or nil at the end of the file.
    ///
    /// Throws `.malformedLog` for structural damage and `.file` for I/O or gzip errors; records before
    /// the damage have been returned, and every later call returns nil. A file without a top-level
    /// `Records` array is reported as `.malformedLog` too.
    public func nextRecord() throws(InputError) -> Result<Record, InputError>? {
        if layout == nil {
            let found = try detectLayout()
            if found != .recordsArray {
                throw .malformedLog(path: path, offset: 0, record: nil, detail: "no top-level \"Records\" array")
            }
        }
        if ended { return nil }
        return try run(detecting: false).record
    }

    /// Closes the file; safe to call more than once.
    public func close() {
        reader.close()
        ended = true
    }

    // MARK: - The scanner

    private struct Step {
        var layout: Layout?
        var record: Result<Record, InputError>?
    }

    /// Runs the state machine until a record is complete, the layout is decided (when `detecting`),
    /// or the input ends.
    private func run(detecting: Bool) throws(InputError) -> Step {
        do throws(InputError) {
            while true {
                if position >= chunk.count {
                    if try !refill() { return try endOfInput(detecting: detecting) }
                    // A pipe keeps what detection read; past the limit, it is read line by line.
                    if detecting, mustReplay, recordedBytes > replayLimit { return Step(layout: .other) }
                }
                let step = try chunk.withUnsafeBufferPointer { (buffer) throws(InputError) -> Step? in
                    try scan(buffer, detecting: detecting)
                }
                if let step { return step }
            }
        } catch {
            ended = true
            record = []
            throw error
        }
    }

    /// Loads the next chunk; false at end of input.
    private func refill() throws(InputError) -> Bool {
        if inputEnded { return false }
        chunkOffset += Int64(chunk.count)
        let next: [UInt8]?
        do {
            next = try reader.nextChunk()
        } catch {
            if case .truncated = error { endedInsideValue = true }
            throw .file(error)
        }
        guard let next else {
            inputEnded = true
            chunk = []
            position = 0
            return false
        }
        if layout == nil, recorded != nil {
            recordedBytes += next.count
            if recordedBytes > replayLimit && !mustReplay { recorded = nil } else { recorded?.append(next) }
        }
        // A UTF-8 byte-order mark at the very start is skipped, as the JSON parser does.
        let skip = chunkOffset == 0 && next.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        chunk = next
        position = skip
        return true
    }

    private func endOfInput(detecting: Bool) throws(InputError) -> Step {
        switch phase {
        case .beforeDocument where documents == 0:
            if detecting { return Step(layout: .other) }
            throw malformed("the file is empty")
        case .afterDocument, .beforeDocument:
            ended = true
            if detecting { return Step(layout: sawRecordsAnywhere ? .recordsArray : (documents == 1 ? .singleDocument : .other)) }
            return Step()
        case .inRecord, .beforeRecord, .beforeFirstRecord, .afterRecord:
            endedInsideValue = true
            throw malformed("the file ends inside the Records array", record: nextIndex)
        default:
            if detecting { return Step(layout: firstDocumentHasSecondLine() ? .unfinishedDocument : .other) }
            endedInsideValue = true
            throw malformed("the file ends inside the top-level object")
        }
    }

    /// Scans `buffer` from `position`. Returns a step when there is something to report.
    private func scan(_ buffer: UnsafeBufferPointer<UInt8>, detecting: Bool) throws(InputError) -> Step? {
        let count = buffer.count
        value.rejectsLineBreaksInStrings = detecting
        while position < count {
            switch phase {
            case .beforeDocument, .afterDocument:
                if detecting, phase == .afterDocument, firstDocumentIsOneLine, lineBreakBeforeContent(buffer) {
                    return Step(layout: .other)
                }
                guard let i = skipWhitespace(buffer) else { return nil }
                guard buffer[i] == UInt8(ascii: "{") else {
                    if detecting { return Step(layout: .other) }
                    throw malformed(documents == 0 ? "expected '{' at the start of the file, found \(describe(buffer[i]))"
                                                   : "unexpected \(describe(buffer[i])) after the top-level object",
                                    at: i)
                }
                if phase == .afterDocument, detecting, !sawRecordsAnywhere { return Step(layout: .other) }
                if documents == 0 { firstDocumentStart = chunkOffset + Int64(i) }
                documents += 1
                sawRecordsInDocument = false
                position = i + 1
                phase = .beforeFirstKey

            case .beforeFirstKey, .beforeKey:
                guard let i = skipWhitespace(buffer) else { return nil }
                if phase == .beforeFirstKey, buffer[i] == UInt8(ascii: "}") {
                    position = i + 1
                    phase = .afterDocument
                    if let step = documentEnded(detecting: detecting) { return step }
                    continue
                }
                guard buffer[i] == UInt8(ascii: "\"") else {
                    throw malformed("expected a key in the top-level object, found \(describe(buffer[i]))", at: i)
                }
                key.reset()
                position = i + 1
                phase = .inKey

            case .inKey:
                if let end = key.scan(buffer, from: position) {
                    position = end
                    phase = .afterKey
                } else {
                    position = count
                }
                if detecting, key.sawLineBreak { throw malformed("a line break inside a key") }

            case .afterKey:
                guard let i = skipWhitespace(buffer) else { return nil }
                guard buffer[i] == UInt8(ascii: ":") else {
                    throw malformed("expected ':' after a key in the top-level object, found \(describe(buffer[i]))", at: i)
                }
                currentKeyIsRecords = key.isRecords
                position = i + 1
                phase = .beforeMemberValue

            case .beforeMemberValue:
                guard let i = skipWhitespace(buffer) else { return nil }
                if currentKeyIsRecords {
                    guard !sawRecordsInDocument else { throw malformed("the top-level object has two \"Records\" keys", at: i) }
                    guard buffer[i] == UInt8(ascii: "[") else {
                        throw malformed("\"Records\" is not an array (found \(describe(buffer[i])))", at: i)
                    }
                    sawRecordsInDocument = true
                    sawRecordsAnywhere = true
                    position = i + 1
                    phase = .beforeFirstRecord
                    if detecting { return Step(layout: .recordsArray) }
                    continue
                }
                guard isValueStart(buffer[i]) else {
                    throw malformed("expected a value in the top-level object, found \(describe(buffer[i]))", at: i)
                }
                value.reset()
                position = i
                phase = .inMemberValue

            case .inMemberValue:
                let end = try scanValue(buffer)
                guard let end else { position = count; return nil }
                position = end
                phase = .afterMemberValue

            case .afterMemberValue:
                guard let i = skipWhitespace(buffer) else { return nil }
                switch buffer[i] {
                case UInt8(ascii: ","):
                    phase = .beforeKey
                case UInt8(ascii: "}"):
                    phase = .afterDocument
                    position = i + 1
                    if let step = documentEnded(detecting: detecting) { return step }
                    continue
                default:
                    throw malformed("expected ',' or '}' in the top-level object, found \(describe(buffer[i]))", at: i)
                }
                position = i + 1

            case .beforeFirstRecord, .beforeRecord:
                guard let i = skipWhitespace(buffer) else { return nil }
                if phase == .beforeFirstRecord, buffer[i] == UInt8(ascii: "]") {
                    position = i + 1
                    phase = .afterMemberValue
                    continue
                }
                guard isValueStart(buffer[i]) else {
                    throw malformed("expected a record, found \(describe(buffer[i]))", at: i, record: nextIndex)
                }
                value.reset()
                record.removeAll(keepingCapacity: true)
                recordTooLarge = false
                position = i
                phase = .inRecord

            case .inRecord:
                let start = position
                let end = try scanValue(buffer)
                keep(buffer, start..<(end ?? count))
                guard let end else { position = count; return nil }
                position = end
                phase = .afterRecord
                return Step(record: completeRecord())

            case .afterRecord:
                guard let i = skipWhitespace(buffer) else { return nil }
                switch buffer[i] {
                case UInt8(ascii: ","): phase = .beforeRecord
                case UInt8(ascii: "]"): phase = .afterMemberValue
                default:
                    throw malformed("expected ',' or ']' after a record, found \(describe(buffer[i]))", at: i, record: nextIndex)
                }
                position = i + 1
            }
        }
        return nil
    }

    /// After a top-level object closes: while detecting, a document without `Records` may be the whole file.
    private func documentEnded(detecting: Bool) -> Step? {
        guard detecting, !sawRecordsAnywhere else { return nil }
        if documents == 1 {
            let end = chunkOffset + Int64(position)
            firstDocumentIsOneLine = recordedBytes(from: firstDocumentStart, to: end).map { !$0.contains(0x0A) } ?? false
        }
        guard documents > 1 else { return nil }
        return Step(layout: .other)
    }

    /// Whether a line break comes before the next non-whitespace byte in `buffer` (from `position`).
    private func lineBreakBeforeContent(_ buffer: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = position
        while i < buffer.count {
            switch buffer[i] {
            case 0x0A: return true
            case 0x20, 0x09, 0x0D: i += 1
            default: return false
            }
        }
        return false
    }

    /// The decompressed bytes `start..<end` that detection kept, or nil when they were not kept.
    private func recordedBytes(from start: Int64, to end: Int64) -> [UInt8]? {
        guard let recorded else { return nil }
        var bytes: [UInt8] = []
        var offset: Int64 = 0
        for piece in recorded {
            let pieceEnd = offset + Int64(piece.count)
            if pieceEnd > start && offset < end {
                let lower = Int(max(start, offset) - offset), upper = Int(min(end, pieceEnd) - offset)
                bytes.append(contentsOf: piece[lower..<upper])
            }
            offset = pieceEnd
        }
        return offset >= end ? bytes : nil
    }

    /// Whether the first top-level object, as far as it was read, goes on past a line break (true when
    /// the bytes were too many to keep: no single line is that long).
    private func firstDocumentHasSecondLine() -> Bool {
        guard let recorded else { return true }
        var offset: Int64 = 0
        var afterLineBreak = false
        for piece in recorded {
            for (i, byte) in piece.enumerated() where offset + Int64(i) >= firstDocumentStart {
                if afterLineBreak, byte != 0x20, byte != 0x09, byte != 0x0A, byte != 0x0D { return true }
                if byte == 0x0A { afterLineBreak = true }
            }
            offset += Int64(piece.count)
        }
        return false
    }

    /// Runs the value scanner over the rest of the chunk; the value's end index, or nil if it goes on.
    private func scanValue(_ buffer: UnsafeBufferPointer<UInt8>) throws(InputError) -> Int? {
        do {
            return try value.scan(buffer, from: position)
        } catch {
            let record = phase == .inRecord ? nextIndex : nil
            throw malformed(error.message, offsetInFile: chunkOffset + Int64(error.index), record: record)
        }
    }

    /// Appends part of the current record, or drops it once the record is over the limit.
    private func keep(_ buffer: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) {
        guard !recordTooLarge else { return }
        if record.count + range.count > maxRecordBytes {
            recordTooLarge = true
            record.removeAll(keepingCapacity: record.capacity <= maxRecordBytes)
            return
        }
        record.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[range]))
    }

    private func completeRecord() -> Result<Record, InputError> {
        let index = nextIndex
        nextIndex += 1
        if recordTooLarge {
            recordTooLarge = false
            return .failure(.eventTooLarge(origin: EventOrigin(source: path, position: .record(index)), limit: maxRecordBytes))
        }
        let bytes = record
        record.removeAll(keepingCapacity: true)
        return .success(Record(index: index, bytes: bytes))
    }

    /// Index of the next non-whitespace byte from `position`, or nil (position moved to the end).
    private func skipWhitespace(_ buffer: UnsafeBufferPointer<UInt8>) -> Int? {
        var i = position
        while i < buffer.count {
            switch buffer[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: position = i; return i
            }
        }
        position = buffer.count
        return nil
    }

    private func isValueStart(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}"), UInt8(ascii: ":"): return false
        default: return true
        }
    }

    private func describe(_ byte: UInt8) -> String {
        if byte >= 0x21 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x" + String(byte, radix: 16, uppercase: true)
    }

    private func malformed(_ detail: String, at index: Int? = nil, record: Int? = nil) -> InputError {
        let offset = chunkOffset + Int64(index ?? position)
        return .malformedLog(path: path, offset: offset, record: record, detail: detail)
    }

    private func malformed(_ detail: String, offsetInFile: Int64, record: Int?) -> InputError {
        .malformedLog(path: path, offset: offsetInFile, record: record, detail: detail)
    }
}

/// Collects a top-level key just far enough to tell whether it is `Records`.
private struct KeyCollector {
    private var bytes: [UInt8] = []
    private var escaped = false
    private var hasEscapes = false
    private var overflow = false
    /// A raw line break was part of the key (JSON text never has one there).
    private(set) var sawLineBreak = false
    private static let records = Array("Records".utf8)

    mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        escaped = false
        hasEscapes = false
        overflow = false
        sawLineBreak = false
    }

    /// Consumes key bytes; returns the index after the closing quote, or nil if the key goes on.
    mutating func scan(_ buffer: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        var i = start
        while i < buffer.count {
            let byte = buffer[i]
            i += 1
            if escaped {
                escaped = false
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
                hasEscapes = true
            } else if byte == UInt8(ascii: "\"") {
                return i
            } else if byte == 0x0A {
                sawLineBreak = true
            }
            if bytes.count < 64 { bytes.append(byte) } else { overflow = true }
        }
        return nil
    }

    /// Whether the collected key, once unescaped, spells `Records`.
    var isRecords: Bool {
        guard !overflow else { return false }
        if !hasEscapes { return bytes == Self.records }
        guard let decoded = try? JSONParser.parse([UInt8(ascii: "\"")] + bytes + [UInt8(ascii: "\"")]) else { return false }
        return decoded.stringValue == "Records"
    }
}

/// Finds where one JSON value ends, across chunks, by tracking strings, escapes and bracket nesting.
///
/// Checks only that brackets balance and match; everything else (literals, numbers, UTF-8, control
/// characters) is left to the parser that later reads the value's bytes.
struct ValueScanner {
    struct Problem: Error {
        var message: String
        /// Index in the buffer being scanned.
        var index: Int
    }

    let maxDepth: Int
    /// A raw line break inside a string is an error (JSON text has none): set while telling one
    /// document from NDJSON, where a string running on past its line means the line was cut.
    var rejectsLineBreaksInStrings = false
    private var closers: [UInt8] = []
    private var started = false
    private var inString = false
    private var escaped = false
    private var scalar = false

    init(maxDepth: Int) {
        self.maxDepth = maxDepth
    }

    mutating func reset() {
        closers.removeAll(keepingCapacity: true)
        started = false
        inString = false
        escaped = false
        scalar = false
    }

    /// Scans from `start`; returns the index just past the value, or nil when it continues past the buffer.
    mutating func scan(_ buffer: UnsafeBufferPointer<UInt8>, from start: Int) throws(Problem) -> Int? {
        var i = start
        let count = buffer.count
        while i < count {
            if inString {
                // Fast path through plain string bytes.
                while i < count {
                    let byte = buffer[i]
                    if escaped {
                        escaped = false
                    } else if byte == UInt8(ascii: "\\") {
                        escaped = true
                    } else if byte == UInt8(ascii: "\"") {
                        break
                    } else if byte == 0x0A, rejectsLineBreaksInStrings {
                        throw Problem(message: "a line break inside a string", index: i)
                    }
                    i += 1
                }
                guard i < count else { return nil }
                inString = false
                i += 1
                if closers.isEmpty { return i }
                continue
            }
            let byte = buffer[i]
            if scalar {
                switch byte {
                case 0x20, 0x09, 0x0A, 0x0D, UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}"):
                    return i
                default:
                    i += 1
                    continue
                }
            }
            switch byte {
            case UInt8(ascii: "\""):
                inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                guard closers.count < maxDepth else {
                    throw Problem(message: "nesting deeper than \(maxDepth) levels", index: i)
                }
                closers.append(byte == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]"))
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                guard let expected = closers.last, expected == byte else {
                    let found = Character(Unicode.Scalar(byte))
                    let wanted = closers.last.map { "'\(Character(Unicode.Scalar($0)))'" } ?? "a value"
                    throw Problem(message: "unbalanced brackets: found '\(found)' where \(wanted) was expected", index: i)
                }
                closers.removeLast()
                if closers.isEmpty { return i + 1 }
            default:
                if !started || closers.isEmpty { scalar = true }
            }
            started = true
            i += 1
        }
        return nil
    }
}
