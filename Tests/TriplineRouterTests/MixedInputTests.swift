import Foundation
import Testing
import TriplineJSON
@testable import TriplineRouter

/// Inputs mixing CloudTrail log documents (`{"Records":[…]}`) with other top-level objects: each
/// object is read as what it is, whatever came first, and nothing is dropped without a word.
@Suite("Mixed inputs: log documents, records, envelopes and digests in one stream")
struct MixedInputTests {
    static let record = #"{"eventVersion":"1.08","eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","eventTime":"2024-01-01T00:00:05Z","eventID":"e2"}"#
    static let envelope = #"{"version":"0","id":"abc","detail-type":"AWS API Call via CloudTrail","source":"aws.cloudtrail","account":"111122223333","time":"2024-01-01T00:00:06Z","region":"us-east-1","resources":[],"detail":{"eventName":"StopLogging"}}"#
    static let digest = #"{"awsAccountId":"111122223333","digestStartTime":"2024-01-01T00:00:00Z","digestEndTime":"2024-01-01T01:00:00Z","logFiles":[]}"#
    static func log(_ names: [String]) -> String {
        #"{"Records":["# + names.map { #"{"eventSource":"s3.amazonaws.com","eventName":"\#($0)"}"# }.joined(separator: ",") + "]}"
    }

    /// Every item as `origin` (events, with the normalizer's verdict when it refuses one) or `!error`.
    func collect(_ path: String, maxEventBytes: Int = CloudTrailRecordsReader.defaultMaxRecordBytes, standardInput: Int32? = nil) -> [String] {
        let inputs = standardInput.map { EventInputs(arguments: ["-"], maxEventBytes: maxEventBytes, standardInput: $0) }
            ?? EventInputs(arguments: [path], maxEventBytes: maxEventBytes)
        return normalizedItems(inputs, maxEventBytes: maxEventBytes)
    }

    @Test("objects after a log document are read as records, envelopes or bad records, never dropped",
          arguments: [2, 3, 5, 4096])
    func objectsAfterALogDocument(chunkSize: Int) throws {
        try withRouterTempDirectory { dir in
            let pretty = "{\n  \"eventSource\": \"sts.amazonaws.com\",\n  \"eventName\": \"GetCallerIdentity\"\n}"
            let text = Self.log(["DeleteBucket"]) + "\n" + Self.record + "\n" + Self.envelope + "\n" + pretty + "\n{}\n"
                + #"{"records":[{"eventName":"X"}]}"# + "\n" + Self.digest + Self.log(["PutObject"])
            let path = try writeFile(text, "log.json", in: dir)
            let items = collect(path)
            #expect(items == [
                "\(path) Records[0] DeleteBucket", "\(path):2 CreateAccessKey", "\(path):3 StopLogging", "\(path):4 GetCallerIdentity",
                "!\(path):8: not a CloudTrail record or EventBridge event (an empty object; expected eventSource or eventName, or detail-type, source and detail); skipped",
                #"!\#(path):9: not a CloudTrail record or EventBridge event (an object with keys "records"; expected eventSource or eventName, or detail-type, source and detail); skipped"#,
                "!\(path):10 is a CloudTrail digest (no events); skipped",
                "\(path) Records[1] PutObject",
            ])
            // The reader alone, in small chunks: the same objects with the same lines.
            let reader = try CloudTrailRecordsReader(path: path, maxRecordBytes: 4096, chunkSize: chunkSize)
            var lines: [Int] = []
            while let item = try reader.nextItem() {
                if case .success(.object(let line, let bytes)) = item {
                    lines.append(line)
                    #expect(bytes.first == UInt8(ascii: "{") && bytes.last == UInt8(ascii: "}"))
                }
            }
            #expect(lines == [2, 3, 4, 8, 9, 10])
        }
    }

    @Test("a log document after a digest or NDJSON events is read, with or without a line break before it")
    func logDocumentsAfterOtherObjects() throws {
        try withRouterTempDirectory { dir in
            let cases: [(String, [String])] = [
                // cat digest.json log.json, neither ending in a newline (CloudTrail writes none).
                (Self.digest + Self.log(["A", "B"]) + Self.digest + Self.log(["C"]),
                 ["!F:1 is a CloudTrail digest (no events); skipped", "F Records[0] A", "F Records[1] B",
                  "!F:1 is a CloudTrail digest (no events); skipped", "F Records[2] C"]),
                (Self.digest + "\n" + Self.log(["A"]) + "\n" + Self.digest + "\n" + Self.log(["C"]) + "\n",
                 ["!F:1 is a CloudTrail digest (no events); skipped", "F Records[0] A", "!F:3 is a CloudTrail digest (no events); skipped",
                  "F Records[1] C"]),
                // NDJSON events, then a log document on a line of its own (pretty-printed even), then events again.
                (Self.record + "\n\n" + "{ \"Records\" : [\n  " + #"{"eventSource":"s3.amazonaws.com","eventName":"A"}"# + "\n]}\n" + Self.envelope + "\n",
                 ["F:1 CreateAccessKey", "F Records[0] A", "F:6 StopLogging"]),
            ]
            for (text, expected) in cases {
                let path = try writeFile(text, "in.json", in: dir)
                #expect(collect(path).map { $0.replacingOccurrences(of: path, with: "F") } == expected, "\(text)")
                // The same on standard input.
                let fd = open(path, O_RDONLY)
                defer { close(fd) }
                #expect(collect(path, standardInput: fd).map { $0.replacingOccurrences(of: "stdin", with: "F") } == expected)
            }
        }
    }

    @Test("a broken object after a log document is one bad record at its line; the objects after it are still read")
    func brokenObjectAfterALogDocument() throws {
        try withRouterTempDirectory { dir in
            let text = Self.log(["A"]) + "\n" + #"{"eventName":"B","x":[1}"# + "\n" + Self.record + "\n" + #"{"eventName":"C"# + "\n"
                + Self.envelope + "\n" + #"{"eventName":"D"}]"# + "\n" + Self.log(["E"]) + "\n"
            let path = try writeFile(text, "log.json", in: dir)
            let goesOn = " (reading goes on at the next line that starts with '{'); skipped"
            #expect(collect(path) == [
                "\(path) Records[0] A",
                "!\(path):2: invalid JSON: unbalanced brackets: found '}' where ']' was expected" + goesOn,
                "\(path):3 CreateAccessKey",
                "!\(path):4: invalid JSON: a line break inside a string" + goesOn,
                "\(path):5 StopLogging",
                "\(path):6 D",
                "!\(path):6: invalid JSON: unexpected ']' after the top-level object" + goesOn,
                "\(path) Records[1] E",
            ])
        }
    }

    @Test("a digest file given by name is still named as a file")
    func digestFileIsNamedAsAFile() throws {
        try withRouterTempDirectory { dir in
            let path = try writeFile(Self.digest, "d.json", in: dir)
            #expect(collect(path) == ["!\(path) is a CloudTrail digest file (no events); skipped"])
        }
    }

    @Test("the event size limit applies to the compact event, not to the indentation of the file it came from")
    func sizeLimitIgnoresIndentation() throws {
        try withRouterTempDirectory { dir in
            // A record of 180 compact bytes, about 300 pretty-printed, under a 256-byte limit.
            let fields = (0..<8).map { "\"k\($0)\": \"value-\($0)\"" }.joined(separator: ",\n        ")
            let pretty = "{\n  \"Records\": [\n    {\n        \"eventSource\": \"s3.amazonaws.com\",\n        \"eventName\": \"Big\",\n        \(fields)\n    }\n  ]\n}\n"
            let path = try writeFile(pretty, "pretty.json", in: dir)
            #expect(collect(path, maxEventBytes: 400) == ["\(path) Records[0] Big"])
            // One line with ", " and ": " separators, as Python's json.dumps writes.
            let spaced = try writeFile(pretty.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "  ", with: ""), "spaced.json", in: dir)
            #expect(collect(spaced, maxEventBytes: 400) == ["\(spaced) Records[0] Big"])
            // Too large compact is still too large.
            #expect(collect(path, maxEventBytes: 250) == ["!\(path) Records[0]: event is larger than 250 bytes; skipped"])
            // Beyond the slack, the record is not even held.
            #expect(collect(path, maxEventBytes: 60) == ["!\(path) Records[0]: event is larger than 240 bytes; skipped"])
        }
    }

    @Test("a line that only opens pretty-printed JSON gets a hint to write one event per line")
    func prettyJSONLinesGetAHint() throws {
        try withRouterTempDirectory { dir in
            let path = try writeFile("{\"eventName\":\"A\"}\n{\n  \"eventName\": \"B\"\n}\n", "e.json", in: dir)
            let items = collect(path)
            #expect(items.first == "\(path):1 A")
            #expect(items[1].hasPrefix("!\(path):2: invalid JSON: ") && items[1].contains("(jq -c)"), "\(items)")
            #expect(!items[2].contains("jq -c"))
        }
    }

    @Test("a FIFO or socket with an input's name in a walked folder is noted, not read and not passed over in silence")
    func specialFilesInAFolderAreNoted() throws {
        try withRouterTempDirectory { dir in
            try writeFile(#"{"Records":[{"eventName":"A"}]}"#, "a.json", in: dir)
            #expect(mkfifo(dir.path + "/b.json", 0o600) == 0)
            #expect(mkfifo(dir.path + "/c.txt", 0o600) == 0)
            let inputs = EventInputs(arguments: [dir.path])
            var notes: [InputError] = []
            var events = 0
            while let item = inputs.next() {
                switch item {
                case .success: events += 1
                case .failure(let error): notes.append(error)
                }
            }
            #expect(events == 1)
            #expect(notes == [.notARegularFile(path: dir.path + "/b.json", kind: "a FIFO")])
            #expect(notes.allSatisfy { !$0.isError })
            #expect(notes.first?.description == "\(dir.path)/b.json: a FIFO, not a regular file; skipped (name it on the command line to read it)")
        }
    }

    @Test("the start of a log document on an NDJSON line is recognised however the line arrives in chunks")
    func logDocumentStartAcrossChunks() {
        let text = Array("{\"a\":1}\n { \"Records\" : [{\"b\":2}]}\n".utf8)
        for size in 1...8 {
            var splitter = LineSplitter(path: "x", maxLineLength: 100)
            var lines: [Int] = []
            var found: (line: Int, rest: [UInt8])?
            var offset = 0
            outer: while true {
                while true {
                    if splitter.nextLineStartsLogDocument() {
                        found = (splitter.nextLineNumber, splitter.takeRest())
                        break outer
                    }
                    guard let line = splitter.nextLine() else { break }
                    if case .success(let complete) = line { lines.append(complete.number) }
                }
                guard offset < text.count else { break }
                splitter.append(Array(text[offset..<min(text.count, offset + size)]))
                offset += size
            }
            #expect(lines == [1], "chunks of \(size)")
            #expect(found?.line == 2, "chunks of \(size)")
            #expect(found.map { String(decoding: $0.rest + text[offset...], as: UTF8.self) } == #" { "Records" : [{"b":2}]}"# + "\n")
        }
        var splitter = LineSplitter(path: "x", maxLineLength: 100)
        splitter.append(Array("{\"Records\":5}\n".utf8))
        #expect(!splitter.nextLineStartsLogDocument(), "Records that is not an array stays an NDJSON line (a bad record)")
    }
}
