#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import EventPattern
import TriplineJSON
import TriplineRouter

/// `test-pattern --batch`: one `{"pattern": …, "event": …}` per input line, one result per output line.
///
/// Built for harnesses that push tens of thousands of pairs through: standard input is read in 1 MB
/// chunks, each line is scanned once to find the byte ranges of its pattern and event (no tree is
/// built for the event), the last 64 distinct pattern texts keep their compiled machines, and
/// results go through a buffered writer. A chunk of many lines is split between threads, one per
/// core up to eight (each with its own ``BatchEvaluator``), and the answers are written in input
/// order; what was read is answered and flushed before the next read, so a harness may also send
/// one line at a time.
struct BatchTester {
    /// Longest accepted input line; longer lines get an error result.
    static let maxLineLength = 1024 * 1024
    static let readSize = 1024 * 1024
    /// Lines read together from which the work is shared between threads.
    static let parallelThreshold = 256
    /// At most this many threads share a chunk (one per core up to it).
    static let maxThreads = 8

    let context: CommandContext
    private var evaluators: [BatchEvaluator]

    init(context: CommandContext) {
        self.context = context
        let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        // One evaluator each, built apart: copies of one would share its match scratch.
        evaluators = (0..<min(max(cores, 1), Self.maxThreads)).map { _ in BatchEvaluator() }
    }

    /// Processes all of standard input; returns the exit status.
    mutating func run() -> Int32 {
        var splitter = LineSplitter(path: "<stdin>", maxLineLength: Self.maxLineLength)
        var chunk = [UInt8](repeating: 0, count: Self.readSize)
        while true {
            let count = chunk.withUnsafeMutableBytes { raw in readRetryingInterrupts(context.inputDescriptor, raw.baseAddress!, raw.count) }
            if count < 0 {
                context.output.flush()
                context.errors.line("tripline test-pattern: cannot read standard input: \(String(cString: strerror(errno)))")
                return ExitStatus.invalidInput
            }
            if count == 0 {
                splitter.finish()
            } else {
                splitter.append(Array(chunk[0..<count]))
            }
            var lines: [Result<LineSplitter.Line, IngestionError>] = []
            while let line = splitter.nextLine() { lines.append(line) }
            answer(lines)
            if count == 0 { break }
            // The next read may block: a harness that writes a line and waits for its answer
            // must get it now, not when the buffer fills or the input ends.
            context.output.flush()
        }
        return ExitStatus.success
    }

    /// Writes the answers to `lines`, in order; many lines are shared between the threads, one
    /// contiguous slice each.
    private mutating func answer(_ lines: [Result<LineSplitter.Line, IngestionError>]) {
        let threads = evaluators.count
        guard threads > 1, lines.count >= Self.parallelThreshold else {
            var out: [UInt8] = []
            for line in lines { evaluators[0].answer(line, into: &out) }
            context.output.write(bytes: out)
            return
        }
        let slices = (0..<threads).map { k in lines[(lines.count * k / threads)..<(lines.count * (k + 1) / threads)] }
        var outputs = [[UInt8]](repeating: [], count: threads)
        evaluators.withUnsafeMutableBufferPointer { evaluators in
            outputs.withUnsafeMutableBufferPointer { outputs in
                let shared = PerThread(evaluators: evaluators, outputs: outputs)
                DispatchQueue.concurrentPerform(iterations: threads) { k in
                    for line in slices[k] { shared.evaluators[k].answer(line, into: &shared.outputs[k]) }
                }
            }
        }
        for output in outputs { context.output.write(bytes: output) }
    }

    /// Each thread's evaluator and output, slot `k` touched only by iteration `k`.
    private struct PerThread: @unchecked Sendable {
        let evaluators: UnsafeMutableBufferPointer<BatchEvaluator>
        let outputs: UnsafeMutableBufferPointer<[UInt8]>
    }
}

/// Answers batch lines on one thread: its own match scratch, decode buffer and compiled-pattern cache.
struct BatchEvaluator {
    private var scratch = MatchScratch()
    /// The last pattern text seen and what it compiled to.
    private var cachedPatternText: [UInt8]?
    private var cachedPattern: Result<PatternMachine, BatchLineError> = .failure(BatchLineError("no pattern"))
    /// Recently compiled pattern texts (at most ``recentLimit``, the oldest dropped first): a
    /// harness that interleaves a few patterns' lines compiles each once, not once per line.
    private var recent: [PatternText: Result<PatternMachine, BatchLineError>] = [:]
    private var recentOrder: [PatternText] = []
    private var recentOldest = 0
    static let recentLimit = 64
    private var decodeBuffer: [UInt8] = []

    /// Appends exactly one result line for `line` to `out`.
    mutating func answer(_ line: Result<LineSplitter.Line, IngestionError>, into out: inout [UInt8]) {
        let result: Result<Bool, BatchLineError>
        switch line {
        case .success(let line): result = line.bytes.withUnsafeBufferPointer { evaluate(line: $0) }
        case .failure: result = .failure(BatchLineError("line is longer than \(BatchTester.maxLineLength) bytes"))
        }
        switch result {
        case .success(true): out.append(contentsOf: #"{"matches":true}"#.utf8 + [0x0A])
        case .success(false): out.append(contentsOf: #"{"matches":false}"#.utf8 + [0x0A])
        case .failure(let error):
            out.append(contentsOf: #"{"error":"#.utf8)
            JSONWriter.writeString(error.message, into: &out)
            out.append(contentsOf: "}\n".utf8)
        }
    }

    private mutating func evaluate(line: UnsafeBufferPointer<UInt8>) -> Result<Bool, BatchLineError> {
        let pair: BatchPair
        do {
            pair = try BatchPair(line: line)
        } catch {
            return .failure(error)
        }
        // Move the reusable buffers out of `self` (not copy: a shared copy would be copied on write).
        var buffer: [UInt8] = []
        swap(&buffer, &decodeBuffer)
        // A copy of a scratch shares its memory: nothing is allocated per line.
        var scratch = self.scratch
        defer { swap(&buffer, &decodeBuffer) }
        let compiled = pair.pattern.withBytes(in: line, decodeBuffer: &buffer) { compiledPattern($0) }
        guard case .success(let machine) = compiled else { return compiled.map { _ in false } }
        return pair.event.withBytes(in: line, decodeBuffer: &buffer) { event in
            do throws(JSONError) {
                return .success(!(try machine.matches(event: event, scratch: &scratch)).isEmpty)
            } catch {
                return .failure(BatchLineError(Diagnostics.describe(error, file: nil, label: "invalid event")))
            }
        }
    }

    /// The machine for this pattern text: the last line's, a recent one's, or compiled now.
    private mutating func compiledPattern(_ text: UnsafeBufferPointer<UInt8>) -> Result<PatternMachine, BatchLineError> {
        if let cachedPatternText, cachedPatternText.elementsEqual(text) { return cachedPattern }
        let key = PatternText(bytes: Array(text))
        cachedPatternText = key.bytes
        if let found = recent[key] {
            cachedPattern = found
            return found
        }
        switch EventPattern.validate(text: key.bytes) {
        case .success(let pattern):
            var machine = PatternMachine()
            machine.add(pattern, id: 0)
            cachedPattern = .success(machine)
        case .failure(let errors):
            let message = errors.errors.map { "invalid pattern: " + Diagnostics.describe($0) }.joined(separator: "; ")
            cachedPattern = .failure(BatchLineError(message))
        }
        if recentOrder.count < Self.recentLimit {
            recentOrder.append(key)
        } else {
            recent[recentOrder[recentOldest]] = nil
            recentOrder[recentOldest] = key
            recentOldest = (recentOldest + 1) % Self.recentLimit
        }
        recent[key] = cachedPattern
        return cachedPattern
    }
}

/// A pattern's text as a dictionary key, hashed in one pass over its bytes (an array of bytes
/// feeds the hasher one element at a time).
private struct PatternText: Hashable {
    let bytes: [UInt8]

    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

/// Why one batch line produced an error result.
struct BatchLineError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// Where a line's pattern and event are: raw JSON byte ranges, or string tokens holding JSON text.
struct BatchPair {
    enum Part {
        /// A JSON value written directly in the line.
        case raw(Range<Int>)
        /// A JSON string whose content is the text.
        case text(JSONStringToken)

        /// Calls `body` with the text's bytes: a slice of the line, or the decoded string.
        func withBytes<R>(in line: UnsafeBufferPointer<UInt8>, decodeBuffer: inout [UInt8],
                          _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
            switch self {
            case .raw(let range):
                return body(UnsafeBufferPointer(rebasing: line[range]))
            case .text(let token):
                decodeBuffer.removeAll(keepingCapacity: true)
                JSONCursor(bytes: line).decode(token, into: &decodeBuffer)
                return decodeBuffer.withUnsafeBufferPointer(body)
            }
        }
    }

    var pattern: Part
    var event: Part

    /// Scans a line's top-level object (strictly: valid JSON, no duplicate keys) for its two members.
    init(line: UnsafeBufferPointer<UInt8>) throws(BatchLineError) {
        var cursor = JSONCursor(bytes: line, maxDepth: JSONLimits.defaultMaxDepth + 2)
        if cursor.peekToken() == nil { throw BatchLineError("empty line; expected {\"pattern\": …, \"event\": …}") }
        var pattern: Part?
        var event: Part?
        do throws(JSONError) {
            try cursor.expect(UInt8(ascii: "{"), "'{' starting a {\"pattern\": …, \"event\": …} object")
            if cursor.peekToken() == UInt8(ascii: "}") {
                cursor.index += 1
            } else {
                let mark = cursor.keyMark
                defer { cursor.releaseKeys(to: mark) }
                repeat {
                    cursor.skipWhitespace()
                    let key = try cursor.scanString()
                    try cursor.checkDuplicate(key, since: mark)
                    try cursor.expect(UInt8(ascii: ":"), "':' after an object key")
                    cursor.skipWhitespace()
                    let start = cursor.index
                    let part: Part
                    let isPattern = BatchPair.equals(cursor, key, "pattern")
                    if start < line.count, line[start] == UInt8(ascii: "\"") {
                        part = .text(try cursor.scanString())
                    } else if isPattern, start < line.count, line[start] == UInt8(ascii: "{") || line[start] == UInt8(ascii: "[") {
                        // A pattern may repeat a key (it has a meaning there), so the line's reader only
                        // finds where it ends; the pattern parser reads it strictly.
                        guard let end = BatchPair.endOfContainer(in: line, from: start) else {
                            cursor.index = line.count
                            throw cursor.unexpected(expected: "the end of the pattern (or it nests too deeply)")
                        }
                        cursor.index = end
                        part = .raw(start..<end)
                    } else {
                        try cursor.skipValue(depth: 1)
                        part = .raw(start..<cursor.index)
                    }
                    if isPattern {
                        pattern = part
                    } else if BatchPair.equals(cursor, key, "event") {
                        event = part
                    }
                } while try cursor.nextMember(close: UInt8(ascii: "}"))
            }
            try cursor.expectEnd()
        } catch {
            throw BatchLineError(Diagnostics.describe(error, file: nil, label: "invalid line"))
        }
        guard let pattern else { throw BatchLineError("the line has no \"pattern\" member") }
        guard let event else { throw BatchLineError("the line has no \"event\" member") }
        self.pattern = pattern
        self.event = event
    }
}

extension BatchPair {
    /// The index after the object or array starting at `start`, found by matching brackets outside
    /// strings (nothing else is checked), or nil when it does not end within the line or nests deeper
    /// than the JSON limit.
    static func endOfContainer(in line: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        var depth = 0
        var i = start
        var inString = false
        while i < line.count {
            let c = line[i]
            if inString {
                if c == UInt8(ascii: "\\") { i += 1 } else if c == UInt8(ascii: "\"") { inString = false }
            } else if c == UInt8(ascii: "\"") {
                inString = true
            } else if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
                depth += 1
                if depth > JSONLimits.defaultMaxDepth { return nil }
            } else if c == UInt8(ascii: "}") || c == UInt8(ascii: "]") {
                depth -= 1
                if depth == 0 { return i + 1 }
            }
            i += 1
        }
        return nil
    }

    /// Whether a scanned key spells `name` (keys without escapes are compared in place).
    static func equals(_ cursor: JSONCursor, _ key: JSONStringToken, _ name: StaticString) -> Bool {
        if key.hasEscapes { return cursor.string(key) == name.description }
        let count = key.end - key.start
        guard count == name.utf8CodeUnitCount else { return false }
        return UnsafeBufferPointer(rebasing: cursor.bytes[key.start..<key.end]).elementsEqual(
            UnsafeBufferPointer(start: name.utf8Start, count: count))
    }
}

private func readRetryingInterrupts(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    while true {
        let n = read(fd, buffer, count)
        if n < 0 && errno == EINTR { continue }
        return n
    }
}
