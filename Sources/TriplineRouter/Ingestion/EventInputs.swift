#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import TriplineJSON

/// One event's bytes as read, not yet parsed, and where it came from.
public struct RawEvent: Sendable, Equatable {
    /// The JSON text of one record, line or document, exactly as in the input.
    public var bytes: [UInt8]
    public var origin: EventOrigin
    /// The event is the whole input (a file holding one JSON document), not one item among others.
    public var isWholeInput: Bool

    public init(bytes: [UInt8], origin: EventOrigin, isWholeInput: Bool = false) {
        self.bytes = bytes
        self.origin = origin
        self.isWholeInput = isWholeInput
    }
}

/// Yields the raw events of a sequence of input sources, in order, one at a time, in bounded memory.
///
/// How a file is read is decided by its content, never its name: gzip is inflated; a top-level object
/// holding a `Records` array is a CloudTrail log file (read with ``CloudTrailRecordsReader``); a file
/// that is exactly one JSON object is one event; input whose first line is only `{` (pretty-printed
/// objects, `jq` without `-c`), or whose first objects are back to back on one line, is a stream of
/// documents (see ``CloudTrailRecordsReader``); anything else is NDJSON, one event per line (blank
/// lines are skipped). Standard input and pipes are read the same way, as they arrive: what detection
/// read is replayed rather than read again, and a one-line first object followed by a newline is
/// NDJSON at once, a pretty-printed first object a stream of documents once it closes, so a stream
/// of events is not held back. An event over `maxEventBytes` is reported
/// and skipped; a file that cannot be read or is malformed is reported and the next source starts.
///
/// An input that ends inside an item (a last line without a newline that is not JSON yet, a file
/// ending inside its `Records` array or inside its first object past its first line, a gzip stream
/// ending early) gives an ``InputError/incomplete(origin:reason:)`` item that is not counted among
/// the source's items: the file is checkpointed before it, so it is read again from there once it
/// grew. Not thread-safe.
public final class EventInputs {
    /// A pretty-printed single-document file, or a record or object in a stream of documents, may be
    /// this many times `maxEventBytes` as written, before compaction.
    public static let singleDocumentSlack = 4

    /// The most bytes one record or document is held as written (whitespace included): a bound on
    /// memory, larger than the event limit so that indentation does not count against an event.
    var rawLimit: Int { maxEventBytes * Self.singleDocumentSlack }

    public let maxEventBytes: Int
    /// Distinct sources started so far (files and standard input; a file read again as it grows,
    /// in `--follow`, counts once).
    public var sourcesStarted: Int { startedSources.count }
    private var startedSources: Set<String> = []
    /// The source being read, if any.
    public private(set) var currentSource: InputSource?
    /// The file (or standard input) being read, held open: what its checkpoint describes.
    public private(set) var currentFile: SourceFile?

    /// Consulted when a file is opened, before it is read: read it, skip it, or skip its first items (checkpoints).
    public var resumption: ((_ file: SourceFile) -> SourceResumption)?
    /// Called when a file was read as far as it goes, with how many items (events and per-event errors) it gave.
    public var onSourceEnd: ((_ file: SourceFile, _ items: Int, _ end: SourceEnd) -> Void)?
    /// Called before anything that may wait for input (standard input with no data ready, the next
    /// source): the moment to commit what was read so far.
    public var onIdle: (() -> Void)?
    /// Called by a source that waits a long time (a watched folder), about once a second while it waits.
    public var onWaiting: (() -> Void)?
    /// Asked by a source that waits a long time, after ``onWaiting``: true ends it (the run cannot go on).
    public var shouldStopWaiting: (() -> Bool)?
    /// Told by a watched folder that a file or directory was renamed within it, before the file is
    /// handed out under its new name: the moment to give its checkpoint the new name.
    public var onMoved: ((_ from: String, _ to: String, _ isDirectory: Bool) -> Void)?
    /// Items (events and per-event errors) given so far by the current source, skipped ones included.
    public private(set) var itemsFromCurrentSource = 0
    /// Distinct files skipped whole by ``resumption`` that this run had not read: already read before.
    public var sourcesSkipped: Int { skippedSources.subtracting(startedSources).count }
    /// Distinct files ``resumption`` had read from part-way that this run had not read from their
    /// start: their first items were handled by an earlier run.
    public var sourcesResumed: Int { resumedSources.count }
    private var skippedSources: Set<String> = []
    private var resumedSources: Set<String> = []

    private let nextSource: () -> Result<InputSource, InputError>?
    private let standardInput: Int32
    private var current: Reader?
    private var itemsToSkip = 0
    /// The current source stopped on an error that ends it, before its end.
    private var stoppedByError = false
    /// The current source ended inside an item (reported as `incomplete`, not counted).
    private var endedIncomplete = false

    private enum Reader {
        case records(CloudTrailRecordsReader)
        case lines(ChunkLineReader)
        case single(RawEvent?)
    }

    /// Events from the sources `nextSource` hands out until it returns nil (it may block, as when
    /// following a directory).
    public init(maxEventBytes: Int = CloudTrailRecordsReader.defaultMaxRecordBytes,
                standardInput: Int32 = STDIN_FILENO,
                sources nextSource: @escaping () -> Result<InputSource, InputError>?) {
        self.maxEventBytes = maxEventBytes
        self.standardInput = standardInput
        self.nextSource = nextSource
    }

    /// Events from the command line's INPUT arguments (see ``SourceList``).
    public convenience init(arguments: [String], maxEventBytes: Int = CloudTrailRecordsReader.defaultMaxRecordBytes,
                            standardInput: Int32 = STDIN_FILENO) {
        let list = SourceList(arguments: arguments)
        self.init(maxEventBytes: maxEventBytes, standardInput: standardInput, sources: list.next)
    }

    /// The next event, or the error for an event or file that was skipped, or nil when every source is done.
    public func next() -> Result<RawEvent, InputError>? {
        while true {
            if current == nil {
                onIdle?()
                guard let source = nextSource() else { return nil }
                switch source {
                case .failure(let error):
                    return .failure(error)
                case .success(let source):
                    itemsFromCurrentSource = 0
                    itemsToSkip = 0
                    stoppedByError = false
                    endedIncomplete = false
                    currentFile = nil
                    let file: SourceFile
                    do {
                        file = try SourceFile(source, standardInput: standardInput)
                    } catch {
                        startedSources.insert(source.description)
                        currentSource = source
                        return .failure(.file(error))
                    }
                    if file.isCheckpointable, let decision = resumption?(file) {
                        switch decision {
                        case .read, .replaced: break
                        case .skip:
                            skippedSources.insert(source.description)
                            continue
                        case .resume(let items):
                            if !startedSources.contains(source.description) { resumedSources.insert(source.description) }
                            itemsToSkip = items
                        }
                    }
                    startedSources.insert(source.description)
                    currentSource = source
                    currentFile = file
                    switch open(file) {
                    case .success(let reader): current = reader
                    case .failure(let error): return .failure(error)
                    }
                }
            }
            if let item = readFromCurrent() {
                if case .failure(let error) = item, error.isIncomplete {
                    // Not counted, and reported even while skipping: the file is read again from here when it grows.
                    endedIncomplete = true
                    return item
                }
                itemsFromCurrentSource += 1
                if case .failure(let error) = item, error.endsFile { stoppedByError = true }
                if itemsToSkip > 0 {
                    itemsToSkip -= 1
                    continue
                }
                return item
            }
            if let file = currentFile {
                onSourceEnd?(file, itemsFromCurrentSource, endedIncomplete ? .incomplete : stoppedByError ? .stopped : .endOfInput)
            }
            close()
        }
    }

    /// Stops reading the current source (the next call starts the next one).
    public func close() {
        switch current {
        case .records(let reader): reader.close()
        case .lines(let reader): reader.close()
        case .single, nil: break
        }
        current = nil
        currentSource = nil
        currentFile = nil
    }

    // MARK: - Private

    private func open(_ file: SourceFile) -> Result<Reader, InputError> {
        let path = file.path
        do throws(InputError) {
            let first: CompressedFileReader
            // Before waiting on a pipe or terminal: the moment to commit what was read (onIdle).
            do { first = try file.reader { [weak self] in self?.onIdle?() } } catch { throw .file(error) }
            // Records are held as written, whitespace included, up to the slack a pretty-printed
            // event gets; the event size limit applies to the compact event (EventNormalizer).
            let records = CloudTrailRecordsReader(reader: first, maxRecordBytes: rawLimit, mustReplay: !file.isRegularFile)
            let layout: CloudTrailRecordsReader.Layout
            do {
                layout = try records.detectLayout()
            } catch {
                throw Self.incompleteIfCut(error, origin: EventOrigin(source: path, position: .document))
            }
            if layout == .recordsArray { return .success(.records(records)) }
            if layout == .unfinishedDocument {
                records.close()
                throw .incomplete(origin: EventOrigin(source: path, position: .document), reason: "the file ends inside its first JSON object")
            }
            // Start over: from what detection read (works for pipes too), else by reopening the file.
            var chunks: [[UInt8]]
            let rest: () throws(IngestionError) -> [UInt8]?
            let closeRest: () -> Void
            if let input = records.takeInput() {
                (chunks, rest) = input
                closeRest = records.close
            } else {
                records.close()
                guard file.isRegularFile else {
                    throw .eventTooLarge(origin: EventOrigin(source: path, position: .line(1)), limit: maxEventBytes)
                }
                let reader: CompressedFileReader
                do { reader = try file.reader(rewind: true) } catch { throw .file(error) }
                rest = { () throws(IngestionError) -> [UInt8]? in try reader.nextChunk() }
                closeRest = reader.close
                chunks = []
            }
            let next: () throws(IngestionError) -> [UInt8]? = {
                if !chunks.isEmpty { return chunks.removeFirst() }
                return try rest()
            }
            switch layout {
            case .singleDocument:
                defer { closeRest() }
                return .success(.single(try readSingleDocument(path, next: next)))
            case .concatenatedObjects:
                return .success(.records(CloudTrailRecordsReader(documentsFrom: path, startLine: 1, maxRecordBytes: rawLimit,
                                                                 next: next, close: closeRest)))
            default:
                return .success(.lines(ChunkLineReader(name: path, maxLineLength: maxEventBytes, next: next, close: closeRest)))
            }
        } catch {
            return .failure(error)
        }
    }

    private func readSingleDocument(_ path: String, next: () throws(IngestionError) -> [UInt8]?) throws(InputError) -> RawEvent {
        let origin = EventOrigin(source: path, position: .document)
        let limit = maxEventBytes * Self.singleDocumentSlack
        var bytes: [UInt8] = []
        while true {
            let chunk: [UInt8]?
            do { chunk = try next() } catch { throw Self.incompleteIfCut(.file(error), origin: origin) }
            guard let chunk else { break }
            guard chunk.count <= limit - bytes.count else { throw .eventTooLarge(origin: origin, limit: limit) }
            bytes.append(contentsOf: chunk)
        }
        // A one-line file is also a one-line NDJSON file: report it by line, as NDJSON is.
        let content = bytes.lastIndex { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }.map { bytes[...$0] } ?? []
        if !content.contains(0x0A) {
            return RawEvent(bytes: Array(content), origin: EventOrigin(source: path, position: .line(1)), isWholeInput: true)
        }
        return RawEvent(bytes: bytes, origin: origin, isWholeInput: true)
    }

    /// The next item of the current reader, or nil when it is exhausted (or stopped on an error reported earlier).
    private func readFromCurrent() -> Result<RawEvent, InputError>? {
        switch current {
        case .records(let reader):
            do {
                guard let item = try reader.nextItem() else { return nil }
                return item.map { item in
                    switch item {
                    case .record(let record):
                        return RawEvent(bytes: record.bytes, origin: EventOrigin(source: reader.path, position: .record(record.index)))
                    case .object(let line, let bytes):
                        return RawEvent(bytes: bytes, origin: EventOrigin(source: reader.path, position: .line(line)))
                    }
                }
            } catch {
                reader.close()
                current = .single(nil)
                guard reader.endedInsideValue else { return .failure(error) }
                var reason = "the gzip stream ends early"
                var position = EventOrigin.Position.record(reader.nextIndex)
                if case .malformedLog(_, _, let record, let detail) = error {
                    reason = detail
                    // A record by its index; an object (pretty-printed, in a stream of them) by its line.
                    position = record.map(EventOrigin.Position.record) ?? reader.unfinishedObjectLine.map(EventOrigin.Position.line) ?? .document
                }
                return .failure(.incomplete(origin: EventOrigin(source: reader.path, position: position), reason: reason))
            }
        case .lines(let reader):
            while true {
                let line: Result<LineSplitter.Line, IngestionError>?
                do {
                    switch try reader.nextLine() {
                    case nil:
                        line = nil
                    case .line(let next):
                        line = next
                    case .logDocument(let rest, let number):
                        // A CloudTrail log document on a line of its own: the rest of the input is read as
                        // a stream of documents (log documents give their records, other objects are events).
                        var pending: [UInt8]? = rest
                        let documents = CloudTrailRecordsReader(
                            documentsFrom: reader.name, startLine: number, maxRecordBytes: rawLimit,
                            next: { () throws(IngestionError) -> [UInt8]? in
                                if let first = pending { pending = nil; return first }
                                return try reader.nextChunk()
                            },
                            close: reader.close)
                        current = .records(documents)
                        return readFromCurrent()
                    }
                } catch {
                    reader.close()
                    current = .single(nil)
                    return .failure(Self.incompleteIfCut(.file(error), origin: EventOrigin(source: reader.name, position: .line(reader.nextLineNumber))))
                }
                guard let line else { return nil }
                if reader.lastLineUnterminated, case .success(let last) = line, let reason = Self.unfinishedJSON(last.bytes) {
                    return .failure(.incomplete(origin: EventOrigin(source: reader.name, position: .line(last.number)), reason: reason))
                }
                if let event = lineEvent(line, source: reader.name) { return event }
            }
        case .single(let event):
            current = .single(nil)
            return event.map { .success($0) }
        case nil:
            return nil
        }
    }

    /// `error` as ``InputError/incomplete(origin:reason:)`` at `origin` when it is a gzip stream ending early.
    private static func incompleteIfCut(_ error: InputError, origin: EventOrigin) -> InputError {
        guard case .file(.truncated) = error else { return error }
        return .incomplete(origin: origin, reason: "the gzip stream ends early")
    }

    /// Why a last line without a newline is JSON cut short, or nil when it is not: it does not parse,
    /// and the parser ran out of input or its first value is still open at the end (a string, object or
    /// array not closed, a word like `tru`). A line whose value closed yet is invalid cannot become
    /// valid by growing: it is an ordinary bad record.
    static func unfinishedJSON(_ bytes: [UInt8]) -> String? {
        guard let start = bytes.firstIndex(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) else { return nil }
        let error: JSONError
        do {
            _ = try JSONParser.parse(bytes, options: JSONParser.Options(maxBytes: Int.max))
            return nil
        } catch let found {
            error = found
        }
        var open = false
        if case .unexpectedEnd = error {
            open = true
        } else {
            var scanner = ValueScanner(maxDepth: CloudTrailRecordsReader.maxScanDepth)
            open = bytes.withUnsafeBufferPointer { buffer in
                do { return try scanner.scan(buffer, from: start) == nil } catch { return false }
            }
        }
        return open ? "the last line has no newline and is not complete JSON yet: \(error)" : nil
    }

    /// An event for a non-blank line, or the over-long-line error; nil for a blank line.
    private func lineEvent(_ line: Result<LineSplitter.Line, IngestionError>, source: String) -> Result<RawEvent, InputError>? {
        switch line {
        case .success(let line):
            if line.bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return nil }
            return .success(RawEvent(bytes: line.bytes, origin: EventOrigin(source: source, position: .line(line.number))))
        case .failure(.lineTooLong(_, let number, let limit)):
            return .failure(.eventTooLarge(origin: EventOrigin(source: source, position: .line(number)), limit: limit))
        case .failure(let error):
            return .failure(.file(error))
        }
    }
}

/// Splits a stream of chunks into lines with ``LineSplitter``'s length cap.
///
/// The chunks come from a closure: a file's (or standard input's) reader, after replaying what
/// layout detection read.
final class ChunkLineReader {
    let name: String
    private var splitter: LineSplitter
    private var inputEnded = false
    private let next: () throws(IngestionError) -> [UInt8]?
    private let onClose: () -> Void

    init(name: String, maxLineLength: Int, next: @escaping () throws(IngestionError) -> [UInt8]?, close: @escaping () -> Void = {}) {
        self.name = name
        splitter = LineSplitter(path: name, maxLineLength: maxLineLength)
        self.next = next
        onClose = close
    }

    /// Whether the line last returned was the input's last and had no newline.
    var lastLineUnterminated: Bool { splitter.lastLineUnterminated }
    /// The number the next line will have.
    var nextLineNumber: Int { splitter.nextLineNumber }

    /// What ``nextLine()`` found.
    enum Next {
        /// A line, or an over-long line's error.
        case line(Result<LineSplitter.Line, IngestionError>)
        /// Line `number` starts a CloudTrail log document (`{"Records": [`): `rest` is the input from
        /// its start up to what was read, and ``nextChunk()`` goes on from there.
        case logDocument(rest: [UInt8], number: Int)
    }

    /// The next line or over-long-line error, the start of a log document, or nil at end of input.
    func nextLine() throws(IngestionError) -> Next? {
        while true {
            if splitter.nextLineStartsLogDocument() {
                let number = splitter.nextLineNumber
                return .logDocument(rest: splitter.takeRest(), number: number)
            }
            if let line = splitter.nextLine() { return .line(line) }
            if inputEnded { return nil }
            if let chunk = try next() {
                splitter.append(chunk)
            } else {
                splitter.finish()
                inputEnded = true
            }
        }
    }

    /// The input's next chunk after what the splitter holds (after ``Next/logDocument(rest:number:)``).
    func nextChunk() throws(IngestionError) -> [UInt8]? {
        if inputEnded { return nil }
        guard let chunk = try next() else {
            inputEnded = true
            return nil
        }
        return chunk
    }

    /// Releases the source (a file reader); safe to call more than once.
    func close() {
        inputEnded = true
        onClose()
    }
}
