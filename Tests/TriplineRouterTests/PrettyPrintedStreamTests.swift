import Foundation
import Testing
import TriplineJSON
@testable import TriplineRouter

/// Pretty-printed objects one after another, as `jq '.Records[]'` writes them without `-c`: read as a
/// stream of documents (not as NDJSON, where each of their lines was a bad record), each object at the
/// line it starts on, a broken one reported once and skipped up to the next line that starts with `{`.
@Suite("Pretty-printed objects one after another (jq without -c)")
struct PrettyPrintedStreamTests {
    /// Three pretty-printed events with what a byte scanner can trip on (brackets, braces, escaped
    /// quotes and `\n{` inside strings, nested objects on lines of their own), and the lines they start on.
    static let events: [(line: Int, text: String)] = [
        (1, #"""
        {
          "eventSource": "s3.amazonaws.com",
          "eventName": "A",
          "requestParameters": {
            "key": "a]b}c\"d{e[f\n{",
            "list": [
              {
                "x": 1
              },
              []
            ]
          }
        }
        """#),
        (14, #"""
        {
          "eventSource": "iam.amazonaws.com",
          "eventName": "B"
        }
        """#),
        (18, #"""
        {
          "eventSource": "sts.amazonaws.com",
          "eventName": "Ünïcødé ✓",
          "empty": {}
        }
        """#),
    ]
    static let stream = events.map(\.text).joined(separator: "\n") + "\n"

    /// Every item the documents reader gives for `text` fed in chunks of `chunkSize`: `LINE eventName`
    /// for an object, `R<index> eventName` for a record, `!description` for a reported one.
    func readDocuments(_ text: String, chunkSize: Int, maxRecordBytes: Int = 4096) -> [String] {
        let bytes = Array(text.utf8)
        var offset = 0
        let reader = CloudTrailRecordsReader(documentsFrom: "F", startLine: 1, maxRecordBytes: maxRecordBytes,
                                             next: { () throws(IngestionError) -> [UInt8]? in
                                                 guard offset < bytes.count else { return nil }
                                                 defer { offset += chunkSize }
                                                 return Array(bytes[offset..<min(bytes.count, offset + chunkSize)])
                                             }, close: {})
        func name(_ bytes: [UInt8]) -> String {
            (try? JSONParser.parse(bytes))?["eventName"]?.stringValue ?? "unparsable " + String(decoding: bytes, as: UTF8.self)
        }
        var out: [String] = []
        do {
            while let item = try reader.nextItem() {
                switch item {
                case .success(.object(let line, let bytes)): out.append("\(line) " + name(bytes))
                case .success(.record(let record)): out.append("R\(record.index) " + name(record.bytes))
                case .failure(let error): out.append("!" + error.description)
                }
            }
        } catch {
            out.append("!!" + error.description)
        }
        return out
    }

    /// Every item of `inputs` through the normalizer: `origin eventName`, or `!description`.
    func collect(_ inputs: EventInputs, maxEventBytes: Int = CloudTrailRecordsReader.defaultMaxRecordBytes) -> [String] {
        normalizedItems(inputs, maxEventBytes: maxEventBytes)
    }

    @Test("each object's exact bytes and the line it starts on, whatever the chunk size", arguments: [1, 2, 3, 7, 64, 4096])
    func objectsAndLines(chunkSize: Int) throws {
        let bytes = Array(Self.stream.utf8)
        var offset = 0
        let reader = CloudTrailRecordsReader(documentsFrom: "F", startLine: 1, maxRecordBytes: 4096,
                                             next: { () throws(IngestionError) -> [UInt8]? in
                                                 guard offset < bytes.count else { return nil }
                                                 defer { offset += chunkSize }
                                                 return Array(bytes[offset..<min(bytes.count, offset + chunkSize)])
                                             }, close: {})
        var items: [CloudTrailRecordsReader.Item] = []
        while let item = try reader.nextItem() { items.append(try item.get()) }
        #expect(items == Self.events.map { .object(line: $0.line, bytes: Array($0.text.utf8)) })
    }

    @Test("a file, standard input and a pipe of pretty-printed events give every event at its line")
    func eventsAtTheirLines() throws {
        try withRouterTempDirectory { dir in
            let path = try writeFile(Self.stream, "pretty.json", in: dir)
            #expect(collect(EventInputs(arguments: [path])) == ["\(path):1 A", "\(path):14 B", "\(path):18 Ünïcødé ✓"])
            let fd = open(path, O_RDONLY)
            defer { close(fd) }
            #expect(collect(EventInputs(arguments: ["-"], standardInput: fd)) == ["stdin:1 A", "stdin:14 B", "stdin:18 Ünïcødé ✓"])
            #expect(collectPiped(Array(Self.stream.utf8)) == ["stdin:1 A", "stdin:14 B", "stdin:18 Ünïcødé ✓"])
            // Gzipped, blank lines and a byte-order mark before the first object: the same.
            let gz = try gzipFile(try writeFile([0xEF, 0xBB, 0xBF] + Array(("\n \n" + Self.stream).utf8), "pretty2.json", in: dir))
            #expect(collect(EventInputs(arguments: [gz])) == ["\(gz):3 A", "\(gz):16 B", "\(gz):20 Ünïcødé ✓"])
        }
    }

    /// Items of standard input read from a pipe that `bytes` are written into by another thread.
    private func collectPiped(_ bytes: [UInt8]) -> [String] {
        let readEnd = pipeFeeding(bytes)
        defer { close(readEnd) }
        return collect(EventInputs(arguments: ["-"], standardInput: readEnd))
    }

    @Test("on a pipe, each pretty-printed event is handed out as soon as it closes, the first one included")
    func pipedEventsStream() throws {
        var fds: [Int32] = [-1, -1]
        #expect(pipe(&fds) == 0)
        let (readEnd, writeEnd) = (fds[0], fds[1])
        defer { close(readEnd) }
        let firstRead = DispatchSemaphore(value: 0)
        let secondRead = DispatchSemaphore(value: 0)
        let writer = Thread {
            _ = Array((Self.events[0].text + "\n").utf8).withUnsafeBytes { write(writeEnd, $0.baseAddress!, $0.count) }
            // The next event is written only once the one before was read: a reader that waits for it deadlocks.
            _ = firstRead.wait(timeout: .now() + 10)
            _ = Array((Self.events[1].text + "\n").utf8).withUnsafeBytes { write(writeEnd, $0.baseAddress!, $0.count) }
            _ = secondRead.wait(timeout: .now() + 10)
            close(writeEnd)
        }
        writer.start()
        let inputs = EventInputs(arguments: ["-"], standardInput: readEnd)
        let started = Date()
        let first = inputs.next()
        firstRead.signal()
        #expect(Date().timeIntervalSince(started) < 5, "the first event waited for the second")
        #expect(try first?.get().origin.description == "stdin:1")
        let second = inputs.next()
        secondRead.signal()
        #expect(try second?.get().origin.description == "stdin:14")
        #expect(inputs.next() == nil)
    }

    /// A stream with every kind of damage, one after another, and what is read of it.
    static let damaged = #"""
    {
      "eventName": "A"
    }
    {
      "eventName": "B",
      "p": {
        "q": [1, 2}
      }
    }
    {
      "eventName": "C,
      "x": 1
    }
    {
      "eventName": "D"
    ,
    {
      "eventName": "E"
    }
    ]
    {"eventName": "F"}
    {
      "eventName": "G"
    }
    {
      "eventName": "H"
    {
      "eventName": "I"
    }
    {
      "eventName": "J",
      "p": [}
    }
    {
      "Records": [
        {"eventName": "K"}
      ]
    }
    """# + "\n"

    static func skipped(_ origin: String, _ detail: String) -> String {
        "!\(origin): invalid JSON\(detail) (reading goes on at the next line that starts with '{'); skipped"
    }

    static let damagedItems = [
        "1 A",
        skipped("F:4", " at line 7: unbalanced brackets: found '}' where ']' was expected"),
        skipped("F:10", " at line 11: a line break inside a string"),
        skipped("F:14", " at line 17: expected a key in the top-level object, found '{'"),
        "17 E",
        skipped("F:20", ": unexpected ']' after the top-level object"),
        "21 F",
        "22 G",
        skipped("F:25", " at line 27: expected ',' or '}' in the top-level object, found '{'"),
        "27 I",
        skipped("F:30", " at line 32: unbalanced brackets: found '}' where ']' was expected"),
        "R0 K",
    ]

    @Test("a broken object is reported once at its line and reading goes on at the next line that starts with '{'",
          arguments: [1, 2, 3, 7, 64, 4096])
    func brokenObjectsAreSkipped(chunkSize: Int) {
        #expect(readDocuments(Self.damaged, chunkSize: chunkSize) == Self.damagedItems)
    }

    @Test("the same through EventInputs: one bad record per broken object, the file read to its end")
    func brokenObjectsInAFile() throws {
        try withRouterTempDirectory { dir in
            let path = try writeFile(Self.damaged, "damaged.json", in: dir)
            var counted = -1
            var end: SourceEnd?
            let inputs = EventInputs(arguments: [path])
            inputs.onSourceEnd = { _, items, ended in
                counted = items
                end = ended
            }
            let items = collect(inputs)
            #expect(items.filter { !$0.hasPrefix("!") } == ["\(path):1 A", "\(path):17 E", "\(path):21 F", "\(path):22 G", "\(path):27 I", "\(path) Records[0] K"])
            #expect(items.filter { $0.hasPrefix("!") }.count == 6)
            #expect(items.contains(Self.skipped(path + ":4", " at line 7: unbalanced brackets: found '}' where ']' was expected")))
            #expect(counted == 12 && end == .endOfInput)
        }
    }

    @Test("an object that parses badly is reported at the line it starts on, the error at its line and column in the input")
    func parseErrorsNameTheirLine() throws {
        try withRouterTempDirectory { dir in
            let text = Self.events[1].text + "\n{\n  \"eventName\": \"X\",\n  \"b\": tru\n}\n" + Self.events[2].text + "\n"
            let path = try writeFile(text, "e.json", in: dir)
            let items = collect(EventInputs(arguments: [path]))
            #expect(items.count == 3 && items[0] == "\(path):1 B" && items[2] == "\(path):9 Ünïcødé ✓", "\(items)")
            #expect(items[1].hasPrefix("!\(path):5: invalid JSON at line 7, column 8: unexpected 't', expected a JSON value"), "\(items)")
        }
    }

    @Test("an object too large to hold is reported at its line and skipped, the next one read")
    func tooLargeObject() throws {
        try withRouterTempDirectory { dir in
            // Held as written up to 4 × the event limit (indentation is not counted against an event).
            let big = "{\n  \"eventName\": \"Big\",\n  \"pad\": \"" + String(repeating: "x", count: 2_000) + "\"\n}"
            let path = try writeFile(Self.events[1].text + "\n" + big + "\n" + Self.events[1].text + "\n", "big.json", in: dir)
            #expect(collect(EventInputs(arguments: [path], maxEventBytes: 400), maxEventBytes: 400)
                    == ["\(path):1 B", "!\(path):5: event is larger than 1600 bytes; skipped", "\(path):9 B"])
        }
    }

    /// One pass over `path` as a run makes it: items, the count its checkpoint gets, and how it ended.
    private func pass(_ path: String, resumeAfter items: Int = 0) -> (items: [String], counted: Int, end: SourceEnd?) {
        var counted = -1
        var end: SourceEnd?
        let inputs = EventInputs(arguments: [path])
        inputs.resumption = { _ in items > 0 ? .resume(afterItems: items) : .read }
        inputs.onSourceEnd = { _, items, ended in
            counted = items
            end = ended
        }
        return (collect(inputs), counted, end)
    }

    @Test("a file still being written: the object cut at its end is incomplete at its line, read once the file grows")
    func cutObjectIsIncomplete() throws {
        try withRouterTempDirectory { dir in
            let cut = Self.stream.prefix(Self.stream.count - 20)
            let path = try writeFile(String(cut), "growing.json", in: dir)
            let first = pass(path)
            #expect(first.items == ["\(path):1 A", "\(path):14 B",
                                    "!\(path):18: incomplete at end of file (the file ends inside the top-level object); it is read again from here if the file grows"],
                    "\(first.items)")
            #expect(first.counted == 2 && first.end == .incomplete)
            try writeFile(Self.stream, "growing.json", in: dir)
            let second = pass(path, resumeAfter: first.counted)
            #expect(second.items == ["\(path):18 Ünïcødé ✓"] && second.counted == 3 && second.end == .endOfInput)
        }
    }

    @Test("a file that held one pretty-printed event (one document) and then grows is read on from the next event")
    func singleDocumentThatGrows() throws {
        try withRouterTempDirectory { dir in
            let path = try writeFile(Self.events[0].text + "\n", "one.json", in: dir)
            let first = pass(path)
            #expect(first.items == ["\(path) A"] && first.counted == 1 && first.end == .endOfInput)
            try writeFile(Self.stream, "one.json", in: dir)
            let second = pass(path, resumeAfter: first.counted)
            #expect(second.items == ["\(path):14 B", "\(path):18 Ünïcødé ✓"] && second.counted == 3)
        }
    }

    @Test("NDJSON is read as before: a pretty-printed object after a one-line first event is still one bad record a line")
    func ndjsonFirstLineKeepsLines() throws {
        try withRouterTempDirectory { dir in
            let path = try writeFile(#"{"eventName":"N"}"# + "\n" + Self.events[1].text + "\n", "n.json", in: dir)
            let items = collect(EventInputs(arguments: [path]))
            #expect(items.count == 5 && items[0] == "\(path):1 N", "\(items)")
            #expect(items[1].hasPrefix("!\(path):2: invalid JSON: ") && items[1].contains("(jq -c)"), "\(items)")
            #expect(items[2...].allSatisfy { $0.hasPrefix("!") })
        }
    }
}
