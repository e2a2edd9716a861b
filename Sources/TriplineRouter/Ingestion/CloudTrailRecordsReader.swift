#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import TriplineJSON

/// Streams the elements of a CloudTrail log file's `Records` array, one record at a time, as raw bytes.
///
/// CloudTrail delivers `{"Records":[{...},{...}]}` files (usually gzip) that can hold thousands of
/// records; this reads them in chunks from ``CompressedFileReader`` and finds each element's extent with
/// a byte-level scanner that tracks strings, escapes and nesting, so memory stays bounded by one record
/// plus one chunk whatever the file size. Only structure is checked here: each record's bytes are
/// validated later when parsed, so one broken record costs only itself.
///
/// - Other top-level keys of a log document are skipped. Several top-level objects in a row
///   (`zcat *.json.gz > all.json`) are read as one input, record indexes continuing; each one is
///   decided on its own: a log document (one with a `Records` array) gives its records, and any
///   other object (a bare record, an EventBridge envelope, a digest, `{}`) comes back whole as an
///   ``Item/object(line:bytes:)`` for the normalizer to read or reject, never dropped.
/// - A record or object larger than `maxRecordBytes` as written comes back as `.failure(.eventTooLarge)`
///   for its position and is skipped while scanning, never held whole. This is a bound on memory,
///   whitespace included; the event size limit proper is applied to the compact event later.
/// - A structural error inside a log document (unbalanced brackets, junk between records, the file
///   ending early) or an I/O or gzip error is thrown by ``nextRecord()`` with the file and record
///   index; the reader then ends. A structural error in any other top-level object, or junk between
///   objects, comes back once as `.failure(.invalidEvent)` at the object's line, and reading goes on
///   at the next line that starts with `{` (see `skipBrokenObject(after:)`).
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

    /// What ``nextItem()`` hands out.
    public enum Item: Sendable, Equatable {
        /// An element of a log document's `Records` array.
        case record(Record)
        /// A whole top-level object that is not a log document (it has no `Records` key), starting
        /// on 1-based line `line` of the input: its exact bytes.
        case object(line: Int, bytes: [UInt8])
    }

    /// What the start of a file looks like, as found by ``detectLayout()``.
    public enum Layout: Sendable, Equatable {
        /// A top-level object with a `Records` array: a CloudTrail log file.
        case recordsArray
        /// Exactly one top-level JSON object (no `Records`) and nothing after it but whitespace.
        case singleDocument
        /// A one-line first object (no `Records`) followed on the same line by another object:
        /// concatenated JSON (`cat` of files without a final newline, such as a CloudTrail digest
        /// and log files). Or a first object whose first line holds only its `{` (pretty-printed, as
        /// `jq` writes objects without `-c`) that is broken, or is followed by anything but the end
        /// of the input; on a pipe, decided as soon as that object closes (the next event may be
        /// long in coming). Read it from the start as a stream of documents.
        case concatenatedObjects
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
    public var path: String { sourcePath }
    /// Records and objects larger than this many bytes, as written, are reported and skipped.
    public let maxRecordBytes: Int
    /// Whether the last error thrown came from the input ending inside a value (a structural error at
    /// the end of the input, or a gzip stream ending early): the file may still be being written.
    public private(set) var endedInsideValue = false

    private let sourcePath: String
    private let nextChunk: () throws(IngestionError) -> [UInt8]?
    private let closeSource: () -> Void
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
    /// Line number (1-based) at `countedUpTo` in the current chunk: line breaks are counted once, as
    /// the scan passes them, so an object can be reported by the line it starts on.
    private var lineAtCounted: Int
    private var countedUpTo = 0
    /// The current top-level object is being kept (it has shown no `Records` key yet, and this is
    /// not detection): from `objectSegmentStart` in the current chunk on.
    private var keepingObject = false
    private var objectSegmentStart = 0
    private var object: [UInt8] = []
    private var objectTooLarge = false
    private var objectLine = 1
    /// While detecting: whether the first top-level object's first line holds nothing but its `{`
    /// (pretty-printed JSON); nil until that line was seen to its end.
    private var firstLineOnlyOpens: Bool?
    /// While skipping past a broken object: the scan is at the start of a line.
    private var skipAtLineStart = false
    /// The last byte of the chunk before the current one (nil before the second chunk).
    private var byteBeforeChunk: UInt8?
    /// After the input ended inside a top-level object that is not a log document: the line that
    /// object starts on (for reporting it as unfinished at its place).
    public private(set) var unfinishedObjectLine: Int?
    private enum Phase {
        case beforeDocument, beforeFirstKey, beforeKey, inKey, afterKey, beforeMemberValue, inMemberValue,
             afterMemberValue, beforeFirstRecord, beforeRecord, inRecord, afterRecord, afterDocument,
             /// After a broken object: passing over bytes up to the next line that starts with `{`.
             skippingToNextObject
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
    /// pipe that cannot be opened again), ``detectLayout()`` reads at most `maxRecordBytes` plus a
    /// chunk and keeps it all for ``takeInput()``: if it cannot decide by then, it says `.other`.
    public init(reader: CompressedFileReader, maxRecordBytes: Int = CloudTrailRecordsReader.defaultMaxRecordBytes,
                mustReplay: Bool = false) {
        precondition(maxRecordBytes > 0, "maxRecordBytes must be positive")
        sourcePath = reader.path
        nextChunk = { () throws(IngestionError) -> [UInt8]? in try reader.nextChunk() }
        closeSource = reader.close
        self.maxRecordBytes = maxRecordBytes
        self.mustReplay = mustReplay
        replayLimit = maxRecordBytes + reader.chunkSize
        lineAtCounted = 1
        startsAfterOffsetZero = false
    }

    /// Reads a stream of top-level objects from its start (no layout detection): log documents give
    /// their records, other objects come back whole (``Item/object(line:bytes:)``). For input whose
    /// layout is ``Layout/concatenatedObjects``, and for the rest of NDJSON input from a line that
    /// starts a log document (`startLine` is that line's number). `next` yields the input's chunks
    /// (nil at its end); `close` releases it.
    init(documentsFrom path: String, startLine: Int, maxRecordBytes: Int,
         next: @escaping () throws(IngestionError) -> [UInt8]?, close: @escaping () -> Void) {
        precondition(maxRecordBytes > 0, "maxRecordBytes must be positive")
        sourcePath = path
        nextChunk = next
        closeSource = close
        self.maxRecordBytes = maxRecordBytes
        mustReplay = false
        replayLimit = 0
        recorded = nil
        layout = .recordsArray
        lineAtCounted = startLine
        // Only a file's very first bytes may hold a byte-order mark.
        startsAfterOffsetZero = startLine > 1
    }
    /// Reading starts part-way through the input (after NDJSON lines): no byte-order mark is skipped,
    /// and byte offsets count from there.
    private let startsAfterOffsetZero: Bool

    /// After ``detectLayout()`` returned `.singleDocument` or `.other`: the chunks it read and the
    /// reader positioned just after them, so the file can be read again from its start in another
    /// way without reopening it. Nil when detection read too much to keep (more than `maxRecordBytes`
    /// plus a chunk); reopen the file instead (impossible for a pipe).
    public func takeInput() -> (consumed: [[UInt8]], rest: () throws(IngestionError) -> [UInt8]?)? {
        guard layout != nil, layout != .recordsArray, let recorded else { return nil }
        self.recorded = nil
        return (recorded, nextChunk)
    }

    /// Reads just far enough to tell whether this is a CloudTrail log file.
    ///
    /// Stops at the top-level `Records` key (`.recordsArray`, reading can go on with ``nextRecord()``),
    /// after a one-line first object and the line break behind it (`.other`: NDJSON, decided without
    /// waiting for more of a stream), or after the first top-level value and the whitespace behind it
    /// (`.singleDocument`, `.concatenatedObjects` or `.other`). A first object whose first line is
    /// only `{` is the start of a stream of documents (`.concatenatedObjects`) unless it is all there
    /// is (`.singleDocument`); on a pipe that is decided when the object closes, not later.
    /// A structural error before that point (a line break inside a string included: JSON text has
    /// none, so the value cannot be one document) means `.other` (`.concatenatedObjects` after a
    /// first line that is only `{`); the input ending inside a first
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
            // Pretty-printed objects: the broken one is reported and skipped when read as a stream.
            decided = firstLineOnlyOpens == true ? .concatenatedObjects : .other
        }
        layout = decided
        if decided == .recordsArray { recorded = nil } else { ended = true }
        return decided
    }

    /// The next record or other top-level object (or the report of an over-large one), or nil at the
    /// end of the file.
    ///
    /// Throws `.malformedLog` for structural damage and `.file` for I/O or gzip errors; items before
    /// the damage have been returned, and every later call returns nil. A file whose first object has
    /// no top-level `Records` array is reported as `.malformedLog` too (read it another way).
    public func nextItem() throws(InputError) -> Result<Item, InputError>? {
        if layout == nil {
            let found = try detectLayout()
            if found != .recordsArray {
                throw .malformedLog(path: path, offset: 0, record: nil, detail: "no top-level \"Records\" array")
            }
        }
        if ended { return nil }
        return try run(detecting: false).item
    }

    /// The next record (or the report of an over-large one), or nil at the end of the file: like
    /// ``nextItem()``, with a later top-level object that is not a log document reported as an
    /// `invalidEvent` at its line rather than handed out.
    public func nextRecord() throws(InputError) -> Result<Record, InputError>? {
        switch try nextItem() {
        case nil: return nil
        case .success(.record(let record)): return .success(record)
        case .success(.object(let line, _)):
            return .failure(.invalidEvent(origin: EventOrigin(source: path, position: .line(line)),
                                          detail: "a top-level object that is not a CloudTrail log document"))
        case .failure(let error): return .failure(error)
        }
    }

    /// Closes the file; safe to call more than once.
    public func close() {
        closeSource()
        ended = true
    }

    // MARK: - The scanner

    private struct Step {
        var layout: Layout?
        var item: Result<Item, InputError>?
    }

    /// Runs the state machine until a record is complete, the layout is decided (when `detecting`),
    /// or the input ends.
    private func run(detecting: Bool) throws(InputError) -> Step {
        do throws(InputError) {
            while true {
                if position >= chunk.count {
                    if try !refill() { return try endOfInput(detecting: detecting) }
                    // A pipe keeps what detection read; past the limit, it is read line by line (or,
                    // pretty-printed, as documents: the first one is then too large).
                    if detecting, mustReplay, recordedBytes > replayLimit {
                        return Step(layout: firstLineOnlyOpens == true ? .concatenatedObjects : .other)
                    }
                }
                let step: Step?
                do throws(InputError) {
                    step = try chunk.withUnsafeBufferPointer { (buffer) throws(InputError) -> Step? in
                        try scan(buffer, detecting: detecting)
                    }
                } catch {
                    guard !detecting, let skipped = skipBrokenObject(after: error) else { throw error }
                    step = skipped
                }
                if let step { return step }
            }
        } catch {
            ended = true
            record = []
            object = []
            throw error
        }
    }

    /// After structural damage found while reading (not detecting), in a top-level object that is
    /// not a log document or between top-level objects: the report of that object (or of the stray
    /// bytes) at its line, the reader set to go on at the next line that starts with `{`. Nil for
    /// damage inside a log document, which ends the input as before.
    ///
    /// Resuming at a line that starts with `{` (not at any `{`) is what finds the next object of
    /// pretty-printed JSON, whose nested objects are indented, and of NDJSON; an object that
    /// starts later on the line of the damage is skipped with it. Strings and keys of such objects
    /// may not hold a raw line break (JSON has none), so an unclosed string is damage on its own
    /// line rather than a quote that swallows the objects after it.
    private func skipBrokenObject(after error: InputError) -> Step? {
        guard case .malformedLog(_, let offset, _, let detail) = error,
              keepingObject || phase == .beforeDocument || phase == .afterDocument else { return nil }
        let index = Int(offset - chunkOffset)
        guard index >= 0, index <= chunk.count else { return nil }
        countLines(upTo: index)
        let damageLine = lineAtCounted
        let line = keepingObject ? objectLine : damageLine
        keepingObject = false
        objectTooLarge = false
        object.removeAll(keepingCapacity: object.capacity <= maxRecordBytes)
        skipAtLineStart = index > 0 ? chunk[index - 1] == 0x0A : (byteBeforeChunk.map { $0 == 0x0A } ?? true)
        position = index
        phase = .skippingToNextObject
        let at = line == damageLine ? "" : " at line \(damageLine)"
        return Step(item: .failure(.invalidEvent(origin: EventOrigin(source: path, position: .line(line)),
                                                 detail: "invalid JSON\(at): \(detail) (reading goes on at the next line that starts with '{')")))
    }

    /// Loads the next chunk; false at end of input.
    private func refill() throws(InputError) -> Bool {
        if inputEnded { return false }
        countLines(upTo: chunk.count)
        if let last = chunk.last { byteBeforeChunk = last }
        chunkOffset += Int64(chunk.count)
        countedUpTo = 0
        let next: [UInt8]?
        do {
            next = try nextChunk()
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
        let skip = chunkOffset == 0 && !startsAfterOffsetZero && next.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        chunk = next
        position = skip
        return true
    }

    /// Counts the line breaks of the current chunk up to `end` not counted yet.
    private func countLines(upTo end: Int) {
        guard end > countedUpTo else { return }
        var lines = 0
        chunk.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            var i = countedUpTo
            while i < end, let hit = memchr(base + i, 0x0A, end - i) {
                lines += 1
                i = base.distance(to: hit.assumingMemoryBound(to: UInt8.self)) + 1
            }
        }
        lineAtCounted += lines
        countedUpTo = end
    }

    /// Appends the bytes of the object being kept, from `objectSegmentStart` to `end` of `buffer`.
    private func keepObject(_ buffer: UnsafeBufferPointer<UInt8>, upTo end: Int) {
        guard keepingObject, end > objectSegmentStart else { return }
        defer { objectSegmentStart = end }
        guard !objectTooLarge else { return }
        if object.count + (end - objectSegmentStart) > maxRecordBytes {
            objectTooLarge = true
            object.removeAll(keepingCapacity: object.capacity <= maxRecordBytes)
            return
        }
        object.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[objectSegmentStart..<end]))
    }

    private func endOfInput(detecting: Bool) throws(InputError) -> Step {
        switch phase {
        case .beforeDocument where documents == 0:
            if detecting { return Step(layout: .other) }
            throw malformed("the file is empty")
        case .afterDocument, .beforeDocument, .skippingToNextObject:
            ended = true
            if detecting { return Step(layout: sawRecordsAnywhere ? .recordsArray : (documents == 1 ? .singleDocument : .other)) }
            return Step()
        case .inRecord, .beforeRecord, .beforeFirstRecord, .afterRecord:
            endedInsideValue = true
            throw malformed("the file ends inside the Records array", record: nextIndex)
        default:
            if detecting { return Step(layout: firstDocumentHasSecondLine() ? .unfinishedDocument : .other) }
            endedInsideValue = true
            unfinishedObjectLine = keepingObject ? objectLine : nil
            throw malformed("the file ends inside the top-level object")
        }
    }

    /// Scans `buffer` from `position`. Returns a step when there is something to report.
    private func scan(_ buffer: UnsafeBufferPointer<UInt8>, detecting: Bool) throws(InputError) -> Step? {
        let count = buffer.count
        if keepingObject { objectSegmentStart = min(position, count) }
        defer { keepObject(buffer, upTo: min(position, count)) }
        while position < count {
            switch phase {
            case .beforeDocument, .afterDocument:
                if detecting, phase == .afterDocument, firstDocumentIsOneLine, lineBreakBeforeContent(buffer) {
                    return Step(layout: .other)
                }
                guard let i = skipWhitespace(buffer) else { return nil }
                guard buffer[i] == UInt8(ascii: "{") else {
                    if detecting {
                        // After a first object whose first line is only `{`: a stream of documents, this the first stray byte.
                        return Step(layout: phase == .afterDocument && firstLineOnlyOpens == true ? .concatenatedObjects : .other)
                    }
                    throw malformed(documents == 0 ? "expected '{' at the start of the file, found \(describe(buffer[i]))"
                                                   : "unexpected \(describe(buffer[i])) after the top-level object",
                                    at: i)
                }
                if phase == .afterDocument, detecting, !sawRecordsAnywhere {
                    // Reached only without a line break after a one-line first object, or after a
                    // pretty-printed one: concatenated JSON.
                    let concatenated = (firstDocumentIsOneLine && documents == 1) || firstLineOnlyOpens == true
                    return Step(layout: concatenated ? .concatenatedObjects : .other)
                }
                if documents == 0 { firstDocumentStart = chunkOffset + Int64(i) }
                documents += 1
                sawRecordsInDocument = false
                position = i + 1
                phase = .beforeFirstKey
                if !detecting {
                    countLines(upTo: i)
                    objectLine = lineAtCounted
                    keepingObject = true
                    objectTooLarge = false
                    object.removeAll(keepingCapacity: true)
                    objectSegmentStart = i
                }

            case .beforeFirstKey, .beforeKey:
                if detecting, phase == .beforeFirstKey, documents == 1, firstLineOnlyOpens == nil {
                    // Whether the first line ends right after the first object's `{` (pretty-printed).
                    var i = position
                    while i < count, buffer[i] == 0x20 || buffer[i] == 0x09 || buffer[i] == 0x0D { i += 1 }
                    if i < count { firstLineOnlyOpens = buffer[i] == 0x0A }
                }
                guard let i = skipWhitespace(buffer) else { return nil }
                if phase == .beforeFirstKey, buffer[i] == UInt8(ascii: "}") {
                    position = i + 1
                    phase = .afterDocument
                    keepObject(buffer, upTo: position)
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
                let end = key.scan(buffer, from: position)
                if detecting || keepingObject, let lineBreak = key.lineBreakIndex {
                    throw malformed("a line break inside a key", at: lineBreak)
                }
                if let end {
                    position = end
                    phase = .afterKey
                } else {
                    position = count
                }

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
                    // A log document: its records are handed out, not the object.
                    keepingObject = false
                    object.removeAll(keepingCapacity: object.capacity <= maxRecordBytes)
                    position = i + 1
                    phase = .beforeFirstRecord
                    if detecting { return Step(layout: .recordsArray) }
                    continue
                }
                guard isValueStart(buffer[i]) else {
                    throw malformed("expected a value in the top-level object, found \(describe(buffer[i]))", at: i)
                }
                value.reset()
                // A raw line break in a string is damage where it is (JSON has none), found on its line.
                value.rejectsLineBreaksInStrings = detecting || keepingObject
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
                    keepObject(buffer, upTo: position)
                    if let step = documentEnded(detecting: detecting) { return step }
                    continue
                default:
                    throw malformed("expected ',' or '}' in the top-level object, found \(describe(buffer[i]))", at: i)
                }
                position = i + 1

            case .skippingToNextObject:
                guard let base = buffer.baseAddress else { return nil }
                var i = position
                while true {
                    if !skipAtLineStart {
                        guard let hit = memchr(base + i, 0x0A, count - i) else { position = count; return nil }
                        i = base.distance(to: hit.assumingMemoryBound(to: UInt8.self)) + 1
                        skipAtLineStart = true
                    }
                    guard i < count else { position = count; return nil }
                    if buffer[i] == UInt8(ascii: "{") { break }
                    skipAtLineStart = false
                }
                position = i
                phase = .beforeDocument

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
                value.rejectsLineBreaksInStrings = false
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
                return Step(item: completeRecord())

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

    /// After a top-level object closes: while detecting, a document without `Records` may be the whole
    /// file; while reading, such an object is handed out whole.
    private func documentEnded(detecting: Bool) -> Step? {
        if !detecting {
            guard keepingObject else { return nil }
            // The object's last bytes are in this chunk, up to `position`.
            return Step(item: completeObject())
        }
        guard !sawRecordsAnywhere else { return nil }
        if documents == 1 {
            let end = chunkOffset + Int64(position)
            firstDocumentIsOneLine = recordedBytes(from: firstDocumentStart, to: end).map { !$0.contains(0x0A) } ?? false
            // Pretty-printed objects on a pipe: hand this one out now, not when the next one starts.
            if mustReplay, firstLineOnlyOpens == true { return Step(layout: .concatenatedObjects) }
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

    private func completeRecord() -> Result<Item, InputError> {
        let index = nextIndex
        nextIndex += 1
        if recordTooLarge {
            recordTooLarge = false
            return .failure(.eventTooLarge(origin: EventOrigin(source: path, position: .record(index)), limit: maxRecordBytes))
        }
        let bytes = record
        record.removeAll(keepingCapacity: true)
        return .success(.record(Record(index: index, bytes: bytes)))
    }

    /// The top-level object just closed (kept since its `{`, its last byte included), or the report
    /// that it was too large.
    private func completeObject() -> Result<Item, InputError> {
        keepingObject = false
        if objectTooLarge {
            objectTooLarge = false
            object.removeAll(keepingCapacity: object.capacity <= maxRecordBytes)
            return .failure(.eventTooLarge(origin: EventOrigin(source: path, position: .line(objectLine)), limit: maxRecordBytes))
        }
        let bytes = object
        object.removeAll(keepingCapacity: true)
        return .success(.object(line: objectLine, bytes: bytes))
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
    /// Where the key's first raw line break is (JSON text never has one there), when the last
    /// ``scan(_:from:)`` found it: an index in that buffer.
    private(set) var lineBreakIndex: Int?
    private var sawLineBreak = false
    private static let records = Array("Records".utf8)

    mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        escaped = false
        hasEscapes = false
        overflow = false
        sawLineBreak = false
        lineBreakIndex = nil
    }

    /// Consumes key bytes; returns the index after the closing quote, or nil if the key goes on.
    mutating func scan(_ buffer: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        var i = start
        lineBreakIndex = nil
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
            } else if byte == 0x0A, !sawLineBreak {
                sawLineBreak = true
                lineBreakIndex = i - 1
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
