import Foundation
import Testing
import TriplineJSON
@testable import TriplineRouter

/// A fresh directory per test, removed when `body` returns.
func withRouterTempDirectory<T>(_ body: (URL) throws -> T) throws -> T {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("tripline-router-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    return try body(dir)
}

/// Writes `text` to `name` in `dir`; returns the path.
@discardableResult
/// Every item of `inputs` through the normalizer, as `origin eventName`, or `!description` for an
/// item refused by the reader or the normalizer.
func normalizedItems(_ inputs: EventInputs, maxEventBytes: Int = CloudTrailRecordsReader.defaultMaxRecordBytes) -> [String] {
    let normalizer = EventNormalizer(maxEventBytes: maxEventBytes)
    var out: [String] = []
    while let item = inputs.next() {
        switch item {
        case .success(let raw):
            switch normalizer.normalize(raw, ingestionTime: "2024-01-01T00:00:00Z") {
            case .success(let event): out.append(event.origin.description + " " + (event.envelope["detail"]?["eventName"]?.stringValue ?? "?"))
            case .failure(let error): out.append("!" + error.description)
            }
        case .failure(let error): out.append("!" + error.description)
        }
    }
    return out
}

/// The read end of a pipe that another thread writes `bytes` into, then closes: standard input
/// as a producer feeds it. The caller closes the read end.
func pipeFeeding(_ bytes: [UInt8]) -> Int32 {
    var fds: [Int32] = [-1, -1]
    #expect(pipe(&fds) == 0)
    let (readEnd, writeEnd) = (fds[0], fds[1])
    let writer = Thread {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(writeEnd, $0.baseAddress!, $0.count) }
            if n <= 0 { break }
            offset += n
        }
        close(writeEnd)
    }
    writer.start()
    return readEnd
}

func writeFile(_ text: String, _ name: String, in dir: URL) throws -> String {
    try writeFile(Array(text.utf8), name, in: dir)
}

@discardableResult
func writeFile(_ bytes: [UInt8], _ name: String, in dir: URL) throws -> String {
    let url = dir.appendingPathComponent(name)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(bytes).write(to: url)
    return url.path
}

/// Gzips a file in place with the system gzip (`x` becomes `x.gz`); returns the new path.
func gzipFile(_ path: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: FileManager.default.isExecutableFile(atPath: "/usr/bin/gzip") ? "/usr/bin/gzip" : "/bin/gzip")
    process.arguments = ["-f", path]
    try process.run()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    return path + ".gz"
}

@Suite("CloudTrail log files: streaming the Records array")
struct CloudTrailRecordsReaderTests {
    @Test("a file that cannot be opened is not said to have its rest skipped; one that failed part-way is")
    func openFailuresSayNothingOfARest() {
        let open = InputError.file(.cannotOpen(path: "m/x.json", reason: "No such file or directory"))
        #expect(open.description == "m/x.json: cannot open: No such file or directory", "\(open)")
        let read = InputError.file(.truncated(path: "m/x.json.gz"))
        #expect(read.description.hasSuffix("; the rest of the file is skipped"), "\(read)")
    }

    /// Records with the things a byte scanner can trip on: escaped quotes, brackets and braces
    /// inside strings, backslashes before quotes, nested arrays, non-ASCII text.
    static let tricky = [
        #"{"eventName":"PutObject","requestParameters":{"key":"a]b}c\"d{e[f"},"tags":[[1,2],[3,[4]]]}"#,
        #"{"eventName":"x\\","path":"C:\\dir\\","note":"\"quoted\" \\\" \u005d"}"#,
        #"{"eventName":"Ünïcødé ✓","empty":{},"list":[],"n":-1.5e3,"t":true,"f":false,"z":null}"#,
    ]

    static func logFile(_ records: [String], before: String = "", after: String = "") -> String {
        "{" + before + #""Records":["# + records.joined(separator: ",") + "]" + after + "}"
    }

    /// Reads every record, failing the test on a thrown error.
    func readAll(_ path: String, limit: Int = CloudTrailRecordsReader.defaultMaxRecordBytes, chunkSize: Int = 256 * 1024) throws
        -> [Result<CloudTrailRecordsReader.Record, InputError>] {
        let reader = try CloudTrailRecordsReader(path: path, maxRecordBytes: limit, chunkSize: chunkSize)
        defer { reader.close() }
        var out: [Result<CloudTrailRecordsReader.Record, InputError>] = []
        while let item = try reader.nextRecord() { out.append(item) }
        return out
    }

    /// Reads until the reader throws; returns the records before and the error.
    func readUntilError(_ path: String, chunkSize: Int = 256 * 1024) -> (records: [String], error: InputError?) {
        var records: [String] = []
        do {
            let reader = try CloudTrailRecordsReader(path: path, chunkSize: chunkSize)
            while let item = try reader.nextRecord() {
                if case .success(let record) = item { records.append(String(decoding: record.bytes, as: UTF8.self)) }
            }
            #expect(try reader.nextRecord() == nil)
            return (records, nil)
        } catch {
            return (records, error)
        }
    }

    @Test("every record's exact bytes, whatever the chunk size", arguments: [2, 3, 7, 64, 256 * 1024])
    func exactBytesAcrossChunkBoundaries(chunkSize: Int) throws {
        try withRouterTempDirectory { dir in
            let text = "\n  " + Self.logFile(Self.tricky.map { " \n" + $0 + "\t" }) + "\n"
            let path = try writeFile(text, "log.json", in: dir)
            let records = try readAll(path, chunkSize: chunkSize).map { try $0.get() }
            #expect(records.map(\.index) == [0, 1, 2])
            #expect(records.map { String(decoding: $0.bytes, as: UTF8.self) } == Self.tricky)
            for record in records { _ = try JSONParser.parse(record.bytes) }
        }
    }

    @Test func gzipFilesAreStreamed() throws {
        try withRouterTempDirectory { dir in
            let records = (0..<500).map { #"{"eventName":"E\#($0)","eventSource":"s3.amazonaws.com","pad":"\#(String(repeating: "x", count: $0))"}"# }
            let path = try gzipFile(try writeFile(Self.logFile(records), "big.json", in: dir))
            let read = try readAll(path, chunkSize: 1000).map { try $0.get() }
            #expect(read.count == 500)
            #expect(read.map { String(decoding: $0.bytes, as: UTF8.self) } == records)
        }
    }

    @Test func otherTopLevelKeysAreIgnored() throws {
        try withRouterTempDirectory { dir in
            let before = #""meta":{"Records":[{"not":"this"}],"s":"\"Records\":["},"n":1,"#
            let after = #","trailer":[{"Records":[1]}],"x":"y""#
            let path = try writeFile(Self.logFile([#"{"a":1}"#, #"{"b":2}"#], before: before, after: after), "log.json", in: dir)
            let records = try readAll(path, chunkSize: 5).map { String(decoding: try $0.get().bytes, as: UTF8.self) }
            #expect(records == [#"{"a":1}"#, #"{"b":2}"#])
        }
    }

    @Test func escapedRecordsKeyIsRecognised() throws {
        try withRouterTempDirectory { dir in
            let path = try writeFile(#"{"Rec\u006frds":[{"a":1}]}"#, "log.json", in: dir)
            #expect(try readAll(path).count == 1)
        }
    }

    @Test func emptyRecordsArray() throws {
        try withRouterTempDirectory { dir in
            let path = try writeFile(#"{"Records":[ ]}"#, "log.json", in: dir)
            #expect(try readAll(path).isEmpty)
        }
    }

    @Test func byteOrderMarkIsSkipped() throws {
        try withRouterTempDirectory { dir in
            let path = try writeFile([0xEF, 0xBB, 0xBF] + Array(#"{"Records":[{"a":1}]}"#.utf8), "log.json", in: dir)
            #expect(try readAll(path).count == 1)
        }
    }

    @Test func concatenatedLogsContinueTheIndex() throws {
        try withRouterTempDirectory { dir in
            let text = Self.logFile([#"{"a":1}"#, #"{"a":2}"#]) + "\n" + Self.logFile([#"{"a":3}"#]) + "\n"
            let path = try writeFile(text, "all.json", in: dir)
            let records = try readAll(path).map { try $0.get() }
            #expect(records.map(\.index) == [0, 1, 2])
        }
    }

    @Test func nonObjectElementsAreHandedOnForTheParserToReject() throws {
        try withRouterTempDirectory { dir in
            let path = try writeFile(#"{"Records":[1 , "x]" ,null,[{}],{"a":1}]}"#, "log.json", in: dir)
            let records = try readAll(path, chunkSize: 2).map { String(decoding: try $0.get().bytes, as: UTF8.self) }
            #expect(records == ["1", #""x]""#, "null", "[{}]", #"{"a":1}"#])
        }
    }

    @Test("an over-large record is reported with its index and skipped", arguments: [3, 100, 4096])
    func overLargeRecordIsSkipped(chunkSize: Int) throws {
        try withRouterTempDirectory { dir in
            let big = #"{"eventName":"Big","blob":""# + String(repeating: "é\\\"]}", count: 2000) + #""}"#
            let path = try writeFile(Self.logFile([#"{"a":1}"#, big, #"{"b":2}"#]), "log.json", in: dir)
            let items = try readAll(path, limit: 1000, chunkSize: chunkSize)
            #expect(items.count == 3)
            #expect(String(decoding: try items[0].get().bytes, as: UTF8.self) == #"{"a":1}"#)
            #expect(throws: InputError.eventTooLarge(origin: EventOrigin(source: path, position: .record(1)), limit: 1000)) { try items[1].get() }
            let third = try items[2].get()
            #expect(third.index == 2 && String(decoding: third.bytes, as: UTF8.self) == #"{"b":2}"#)
        }
    }

    @Test func recordAtExactlyTheLimitIsKept() throws {
        try withRouterTempDirectory { dir in
            let record = #"{"p":""# + String(repeating: "x", count: 92) + #""}"#
            #expect(record.utf8.count == 100)
            let path = try writeFile(Self.logFile([record]), "log.json", in: dir)
            #expect(try readAll(path, limit: 100, chunkSize: 7).map { try $0.get().bytes.count } == [100])
        }
    }

    @Test("structural damage stops the file with its offset and record index", arguments: [
        (#"{"Records":[{"a":1} {"b":2}]}"#, 1, 1, "expected ',' or ']' after a record"),
        (#"{"Records":[{"a":1},{"b":[2}]}"#, 1, 1, "unbalanced brackets"),
        (#"{"Records":[{"a":1},{"b":"#, 1, 1, "ends inside the Records array"),
        (#"{"Records":[{"a":1},,{"b":2}]}"#, 1, 1, "expected a record"),
        (#"{"Records":[{"a":1}]"#, 1, nil, "ends inside the top-level object"),
        (#"{"Records":[{"a":1}],"Records":[]}"#, 1, nil, "two \"Records\" keys"),
    ] as [(String, Int, Int?, String)])
    func malformedFile(text: String, recordsBefore: Int, record: Int?, detail: String) throws {
        try withRouterTempDirectory { dir in
            let path = try writeFile(text, "bad.json", in: dir)
            for chunkSize in [2, 1024] {
                let (records, error) = readUntilError(path, chunkSize: chunkSize)
                #expect(records.count == recordsBefore)
                guard case .malformedLog(let errorPath, let offset, let errorRecord, let message)? = error else {
                    Issue.record("expected malformedLog, got \(String(describing: error))")
                    continue
                }
                #expect(errorPath == path)
                #expect(errorRecord == record)
                #expect(message.contains(detail), "\(message)")
                #expect(offset >= 0 && offset <= Int64(text.utf8.count))
                #expect(error!.description.hasPrefix(path + ": malformed CloudTrail log at byte"))
                #expect(error!.endsFile)
            }
        }
    }

    @Test("junk after a log document is reported once at its line and skipped; the documents after it are read")
    func junkAfterALogDocumentIsSkipped() throws {
        try withRouterTempDirectory { dir in
            let text = #"{"Records":[{"a":1}]} trailing"# + "\n" + #"{"Records":[{"b":2}]}"#
            let path = try writeFile(text, "bad.json", in: dir)
            for chunkSize in [2, 1024] {
                let reader = try CloudTrailRecordsReader(path: path, chunkSize: chunkSize)
                var items: [String] = []
                while let item = try reader.nextRecord() {
                    switch item {
                    case .success(let record): items.append("\(record.index) " + String(decoding: record.bytes, as: UTF8.self))
                    case .failure(let error): items.append("!" + error.description)
                    }
                }
                #expect(items == ["0 {\"a\":1}",
                                  "!\(path):1: invalid JSON: unexpected 't' after the top-level object (reading goes on at the next line that starts with '{'); skipped",
                                  "1 {\"b\":2}"])
            }
        }
    }

    @Test func tooDeepNestingIsMalformedNotACrash() throws {
        try withRouterTempDirectory { dir in
            let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
            let path = try writeFile(Self.logFile([deep]), "deep.json", in: dir)
            let (records, error) = readUntilError(path)
            #expect(records.isEmpty)
            guard case .malformedLog(_, _, let record, let detail)? = error else {
                Issue.record("expected malformedLog, got \(String(describing: error))")
                return
            }
            #expect(record == 0)
            #expect(detail.contains("nesting deeper than"))
        }
    }

    @Test func corruptGzipIsReportedAfterTheRecordsBeforeIt() throws {
        try withRouterTempDirectory { dir in
            let records = (0..<2000).map { #"{"eventName":"E\#($0)","r":"\#(UInt64($0) &* 0x9E3779B97F4A7C15)"}"# }
            let path = try gzipFile(try writeFile(Self.logFile(records), "log.json", in: dir))
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            bytes.removeLast(bytes.count / 2)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let (read, error) = readUntilError(path, chunkSize: 4096)
            #expect(read.count > 0 && read.count < 2000)
            guard case .file(let ingestion)? = error else {
                Issue.record("expected a file error, got \(String(describing: error))")
                return
            }
            #expect(ingestion == .truncated(path: path))
        }
    }

    @Test("layout detection", arguments: [
        (#"{"Records":[]}"#, CloudTrailRecordsReader.Layout.recordsArray),
        (#"{"x":{"y":[1,2]},"Records":[{"a":1}]}"#, .recordsArray),
        ("{\"eventName\":\"A\"}\n{\"eventName\":\"B\"}\n", .other),
        ("{\n  \"eventName\": \"A\",\n  \"detail\": {\"k\": [1]}\n}\n\n", .singleDocument),
        (#"{"eventName":"A"}"#, .singleDocument),
        ("", .other),
        ("  \n", .other),
        ("[1,2]", .other),
        ("not json at all\n{\"a\":1}", .other),
        ("{\"a\":\n", .other),
        ("{\"a\":1} {\"Records\":[]}", .concatenatedObjects),
        ("{\"a\":1}\n{\"Records\":[]}", .other),
        (#"{"Records":"nope"}"#, .other),
        // Pretty-printed objects one after another (jq without -c): a stream of documents, not NDJSON.
        ("\n{\n  \"a\": 1\n}\n{\n  \"b\": 2\n}\n", .concatenatedObjects),
        ("{ \r\n  \"a\": [1,\n 2]\n}{\"b\":2}", .concatenatedObjects),
        ("{\n  \"a\": 1\n}\njunk\n", .concatenatedObjects),
        ("{\n  \"a\": \"cut\n}\n{\n  \"b\": 2\n}\n", .concatenatedObjects),
        ("{\n  \"a\": 1\n}\n  \n", .singleDocument),
        ("{\n  \"Records\": [\n  ]\n}\n{\n}\n", .recordsArray),
        ("{\"a\":\n 1\n}\n{\"b\":2}\n", .other),
    ] as [(String, CloudTrailRecordsReader.Layout)])
    func detectsLayout(text: String, layout: CloudTrailRecordsReader.Layout) throws {
        try withRouterTempDirectory { dir in
            let path = try writeFile(text, "f.json", in: dir)
            for chunkSize in [2, 4096] {
                let reader = try CloudTrailRecordsReader(path: path, chunkSize: chunkSize)
                #expect(try reader.detectLayout() == layout, "\(text)")
            }
        }
    }

    @Test func fileWithoutRecordsCannotBeReadAsALog() throws {
        try withRouterTempDirectory { dir in
            let path = try writeFile(#"{"eventName":"A"}"#, "f.json", in: dir)
            let reader = try CloudTrailRecordsReader(path: path)
            #expect(throws: InputError.self) { try reader.nextRecord() }
        }
    }

    @Test func missingFileIsAnOpenError() {
        #expect(throws: InputError.file(.cannotOpen(path: "/nonexistent/x.json", reason: "No such file or directory"))) {
            try CloudTrailRecordsReader(path: "/nonexistent/x.json")
        }
    }
}
