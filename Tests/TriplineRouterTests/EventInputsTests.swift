import Foundation
import Testing
import TriplineJSON
@testable import TriplineRouter

@Suite("Event inputs: files, directories, NDJSON, standard input")
struct EventInputsTests {
    /// Every item of `inputs` as `origin` for events and `!description` for errors.
    func collect(_ inputs: EventInputs) -> [String] {
        var out: [String] = []
        while let item = inputs.next() {
            switch item {
            case .success(let event): out.append(event.origin.description)
            case .failure(let error): out.append("!" + error.description)
            }
        }
        return out
    }

    @Test func directoriesAreWalkedInNameOrderWithFilters() throws {
        try withRouterTempDirectory { dir in
            let day = "AWSLogs/111/CloudTrail/us-east-1/2024/01"
            try writeFile(#"{"Records":[{"a":2}]}"#, "\(day)/02/111_CloudTrail_us-east-1_20240102T0000Z_b.json", in: dir)
            try writeFile(#"{"Records":[{"a":1},{"a":1.5}]}"#, "\(day)/01/111_CloudTrail_us-east-1_20240101T0005Z_a.json", in: dir)
            _ = try gzipFile(try writeFile(#"{"Records":[{"a":0}]}"#, "\(day)/01/111_CloudTrail_us-east-1_20240101T0000Z_z.json", in: dir))
            try writeFile(#"{"Records":[{"digest":1}]}"#, "\(day)/01/111_CloudTrail-Digest_us-east-1_20240101T0000Z.json", in: dir)
            try writeFile(#"{"Records":[{"hidden":1}]}"#, "\(day)/01/.hidden.json", in: dir)
            try writeFile(#"{"Records":[{"hidden":1}]}"#, ".git/objects.json", in: dir)
            try writeFile("not an input", "\(day)/01/README.txt", in: dir)
            try writeFile("{\"n\":1}\n{\"n\":2}\n", "extra.ndjson", in: dir)
            try writeFile("{\"n\":3}\n", "extra.jsonl", in: dir)

            let root = dir.path
            let d = root + "/" + day
            #expect(collect(EventInputs(arguments: [root])) == [
                "\(d)/01/111_CloudTrail_us-east-1_20240101T0000Z_z.json.gz Records[0]",
                "\(d)/01/111_CloudTrail_us-east-1_20240101T0005Z_a.json Records[0]",
                "\(d)/01/111_CloudTrail_us-east-1_20240101T0005Z_a.json Records[1]",
                "\(d)/02/111_CloudTrail_us-east-1_20240102T0000Z_b.json Records[0]",
                "\(root)/extra.jsonl:1",
                "\(root)/extra.ndjson:1",
                "\(root)/extra.ndjson:2",
            ])
        }
    }

    @Test("a dangling symbolic link with an input's name in a tree is reported; links to files are read")
    func danglingLinksInATreeAreReported() throws {
        try withRouterTempDirectory { dir in
            let target = try writeFile(#"{"Records":[{"a":1}]}"#, "elsewhere/real.json", in: dir)
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("tree"), withIntermediateDirectories: true)
            let tree = dir.path + "/tree"
            #expect(symlink(target, tree + "/a.json") == 0)
            #expect(symlink(dir.path + "/elsewhere/gone.json.gz", tree + "/b.json.gz") == 0)
            #expect(symlink(dir.path + "/elsewhere/gone.txt", tree + "/notes.txt") == 0)
            #expect(collect(EventInputs(arguments: [tree])) == [
                "\(tree)/a.json Records[0]",
                "!\(tree)/b.json.gz: dangling symbolic link to '\(dir.path)/elsewhere/gone.json.gz' (No such file or directory); skipped",
            ])
        }
    }

    @Test func explicitFilesAreReadWhateverTheirNameAndMissingOnesAreReported() throws {
        try withRouterTempDirectory { dir in
            let txt = try writeFile("{\"n\":1}\n", "events.txt", in: dir)
            let missing = dir.path + "/missing.json"
            let single = try writeFile("{\n  \"eventName\": \"A\"\n}\n", "one.json", in: dir)
            let items = collect(EventInputs(arguments: [txt, missing, single]))
            #expect(items.count == 3)
            #expect(items[0] == "\(txt):1")
            #expect(items[1].hasPrefix("!\(missing): "))
            #expect(items[2] == single)
        }
    }

    @Test func ndjsonSkipsBlankLinesAndReportsOverLongOnes() throws {
        try withRouterTempDirectory { dir in
            let long = "{\"p\":\"" + String(repeating: "x", count: 300) + "\"}"
            let path = try writeFile("{\"n\":1}\n\n  \r\n\(long)\n{\"n\":2}", "e.ndjson", in: dir)
            let items = collect(EventInputs(arguments: [path], maxEventBytes: 100))
            #expect(items == ["\(path):1", "!\(path):4: event is larger than 100 bytes; skipped", "\(path):5"])
        }
    }

    @Test("standard input is read like a file: a CloudTrail log on it is a log, NDJSON is lines")
    func standardInputIsDetectedLikeAFile() throws {
        try withRouterTempDirectory { dir in
            for (text, expected) in [("{\"Records\":[{\"a\":1},{\"a\":2}]}\n", ["stdin Records[0]", "stdin Records[1]"]),
                                     ("{\"n\":1}\n{\"n\":2}\n", ["stdin:1", "stdin:2"])] {
                let path = try writeFile(text, "stdin.txt", in: dir)
                let fd = open(path, O_RDONLY)
                defer { close(fd) }
                #expect(collect(EventInputs(arguments: ["-"], standardInput: fd)) == expected)
                #expect(fcntl(fd, F_GETFD) >= 0, "standard input is borrowed, not closed")
            }
        }
    }

    /// Items of `inputs` reading standard input from a pipe that `bytes` are written into by another thread.
    private func collectPiped(_ bytes: [UInt8], maxEventBytes: Int = CloudTrailRecordsReader.defaultMaxRecordBytes) -> [String] {
        let readEnd = pipeFeeding(bytes)
        defer { close(readEnd) }
        return collect(EventInputs(arguments: ["-"], maxEventBytes: maxEventBytes, standardInput: readEnd))
    }

    @Test("piped standard input goes through content detection: gzip, a CloudTrail log, one document, NDJSON")
    func pipedStandardInputIsDetected() throws {
        try withRouterTempDirectory { dir in
            let log = #"{"Records":[{"eventName":"A"},{"eventName":"B"}]}"#
            let gz = try Array(Data(contentsOf: URL(fileURLWithPath: try gzipFile(try writeFile(log, "log.json", in: dir)))))
            #expect(collectPiped(gz) == ["stdin Records[0]", "stdin Records[1]"], "zcat-less: gzip data piped in")
            #expect(collectPiped(Array(log.utf8)) == ["stdin Records[0]", "stdin Records[1]"], "zcat x.json.gz | tripline")
            // Pretty-printed on a pipe: read as the first of a stream of objects as soon as it closes,
            // so it is named by its line (a file holding only it is named as a whole: a single document).
            #expect(collectPiped(Array("{\n  \"eventName\": \"A\"\n}\n".utf8)) == ["stdin:1"])
            #expect(collectPiped(Array("{\"n\":1}\n\n{\"n\":2}".utf8)) == ["stdin:1", "stdin:3"])
        }
    }

    @Test("piped NDJSON whose first line is too long to hold for detection is still read line by line after it")
    func pipedHugeFirstLine() {
        let long = "{\"p\":\"" + String(repeating: "x", count: CompressedFileReader.defaultChunkSize + 1_000) + "\"}"
        #expect(collectPiped(Array((long + "\n{\"n\":2}\n").utf8), maxEventBytes: 100)
                == ["!stdin:1: event is larger than 100 bytes; skipped", "stdin:2"])
    }

    @Test("a stream of lines on standard input: each event is handed out before the next line is written")
    func standardInputStreams() throws {
        var fds: [Int32] = [-1, -1]
        #expect(pipe(&fds) == 0)
        let (readEnd, writeEnd) = (fds[0], fds[1])
        defer { close(readEnd) }
        let firstRead = DispatchSemaphore(value: 0)
        let writer = Thread {
            _ = Array("{\"n\":1}\n".utf8).withUnsafeBytes { write(writeEnd, $0.baseAddress!, $0.count) }
            // The next line is written only once the first event was read: a reader that waits for it deadlocks.
            _ = firstRead.wait(timeout: .now() + 10)
            _ = Array("{\"n\":2}\n".utf8).withUnsafeBytes { write(writeEnd, $0.baseAddress!, $0.count) }
            close(writeEnd)
        }
        writer.start()
        let inputs = EventInputs(arguments: ["-"], standardInput: readEnd)
        var idled = 0
        inputs.onIdle = { idled += 1 }
        let first = inputs.next()
        firstRead.signal()
        #expect(try first?.get().origin.description == "stdin:1")
        #expect(idled > 0, "told before it waited for input")
        #expect(try inputs.next()?.get().origin.description == "stdin:2")
        #expect(inputs.next() == nil)
    }

    @Test("a pipe (not re-openable) is sniffed and then read from what was already read", arguments: [
        ("{\"n\":1}\n{\"n\":2}\n", ["FIFO:1", "FIFO:2"]),
        ("{\n  \"eventName\": \"A\"\n}\n", ["FIFO:1"]),
        ("{\"Records\":[{\"a\":1},{\"a\":2}]}", ["FIFO Records[0]", "FIFO Records[1]"]),
    ])
    func namedPipe(text: String, expected: [String]) throws {
        try withRouterTempDirectory { dir in
            let path = dir.appendingPathComponent("events.fifo").path
            #expect(mkfifo(path, 0o600) == 0)
            let writer = Thread {
                let fd = open(path, O_WRONLY)
                _ = Array(text.utf8).withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
                close(fd)
            }
            writer.start()
            #expect(collect(EventInputs(arguments: [path])) == expected.map { $0.replacingOccurrences(of: "FIFO", with: path) })
        }
    }

    @Test func malformedLogIsReportedAndTheNextFileStillRuns() throws {
        try withRouterTempDirectory { dir in
            let bad = try writeFile(#"{"Records":[{"a":1},{"b":2}}"#, "a.json", in: dir)
            let good = try writeFile(#"{"Records":[{"c":3}]}"#, "b.json", in: dir)
            let items = collect(EventInputs(arguments: [dir.path]))
            #expect(items.count == 4)
            #expect(items[0] == "\(bad) Records[0]")
            #expect(items[1] == "\(bad) Records[1]")
            #expect(items[2].hasPrefix("!\(bad): malformed CloudTrail log at byte"))
            #expect(items[3] == "\(good) Records[0]")
        }
    }

    @Test("sources are counted once each: a file read again as it grows is one source, not one resumed by a checkpoint")
    func sourcesAreCountedOnceEach() throws {
        try withRouterTempDirectory { dir in
            let grown = try writeFile("{\"n\":1}\n{\"n\":2}\n", "grown.ndjson", in: dir)
            let old = try writeFile("{\"n\":3}\n{\"n\":4}\n", "old.ndjson", in: dir)
            let read = try writeFile("{\"n\":5}\n", "read.ndjson", in: dir)
            // As a watched folder hands them out: grown.ndjson twice (it grew), then a file an earlier
            // run read half of, then one it read whole, twice.
            var queue = [grown, grown, old, read, read]
            let inputs = EventInputs(sources: { queue.isEmpty ? nil : .success(.file(queue.removeFirst())) })
            var seen: Set<String> = []
            inputs.resumption = { file in
                if file.path == read { return .skip }
                if file.path == old { return .resume(afterItems: 1) }
                return seen.insert(file.path).inserted ? .read : .resume(afterItems: 2)
            }
            #expect(collect(inputs) == ["\(grown):1", "\(grown):2", "\(old):2"])
            #expect(inputs.sourcesStarted == 2)
            #expect(inputs.sourcesResumed == 1, "only the file an earlier run had read part of")
            #expect(inputs.sourcesSkipped == 1)
        }
    }

    @Test func normalizerReportsWhyAnEventWasSkipped() {
        let normalizer = EventNormalizer()
        let origin = EventOrigin(source: "f.json.gz", position: .record(7))
        func detail(_ text: String) -> String? {
            if case .failure(let error) = normalizer.normalize(RawEvent(bytes: Array(text.utf8), origin: origin), ingestionTime: "2024-01-01T00:00:00Z") {
                return error.description
            }
            return nil
        }
        #expect(detail(#"{"eventName":"A","eventSource":"s3.amazonaws.com"}"#) == nil)
        #expect(detail(#"{"eventName":tru}"#)?.hasPrefix("f.json.gz Records[7]: invalid JSON: 1:14:") == true)
        #expect(detail(#"{"a":1,"a":2}"#)?.contains("duplicate key") == true)
        #expect(detail("[1]")?.contains("not a CloudTrail record or EventBridge event (an array") == true)
        #expect(detail(#"{"hello":"world"}"#)?.contains(#"an object with keys "hello""#) == true)
        // An id reaches handler environments and idempotency keys: no control characters.
        let envelope = #"{"id":"a\nb","source":"s","detail-type":"t","detail":{}}"#
        #expect(detail(envelope)?.contains(#"its "id" holds a control character (U+000A)"#) == true, "\(detail(envelope) ?? "accepted")")
        #expect(detail(#"{"id":"a-b","source":"s","detail-type":"t","detail":{}}"#) == nil)
    }

    @Test("a CloudTrail digest file is recognised by its content and skipped as holding no events, not as a bad record")
    func digestFileIsSkippedNotBad() throws {
        let digest = #"{"awsAccountId":"111122223333","digestStartTime":"2024-05-01T10:00:00Z","digestEndTime":"2024-05-01T11:00:00Z","# +
            #""digestS3Bucket":"b","digestS3Object":"o","previousDigestSignature":null,"logFiles":[{"s3Bucket":"b","s3Object":"x.json.gz"}]}"#
        let origin = EventOrigin(source: "renamed.json", position: .document)
        let result = EventNormalizer().normalize(RawEvent(bytes: Array(digest.utf8), origin: origin), ingestionTime: "2024-01-01T00:00:00Z")
        guard case .failure(let error) = result else { Issue.record("a digest was normalized: \(result)"); return }
        #expect(error == .cloudTrailDigest(origin: origin))
        #expect(error.description == "renamed.json is a CloudTrail digest file (no events); skipped")
        #expect(!error.isError && !error.endsFile)
        #expect(CloudTrailNormalizer.isDigest(try JSONParser.parse(#"{"digestStartTime":"a","digestEndTime":"b","logFiles":[]}"#)))
        #expect(!CloudTrailNormalizer.isDigest(try JSONParser.parse(#"{"digestStartTime":"a","logFiles":[]}"#)), "all three kinds of key are needed")
        #expect(!CloudTrailNormalizer.isDigest(try JSONParser.parse(#"{"awsAccountId":"1","logFiles":[]}"#)))
        guard case .failure(let other) = EventNormalizer().normalize(RawEvent(bytes: Array(#"{"awsAccountId":"1"}"#.utf8), origin: origin),
                                                                     ingestionTime: "2024-01-01T00:00:00Z") else { return }
        #expect(other.isError, "anything else that is not an event is still a bad record")
    }

    @Test("a byte-order mark before a record or an envelope never ends up inside the event")
    func byteOrderMarkStaysOutOfTheEnvelope() throws {
        let mark: [UInt8] = [0xEF, 0xBB, 0xBF]
        for text in [#"{"eventName":"StopLogging","eventSource":"cloudtrail.amazonaws.com","eventTime":"2024-01-01T00:00:00Z"}"#,
                     #"{"id":"e1","source":"s","detail-type":"t","detail":{}}"#] {
            let event = try EventNormalizer().normalize(RawEvent(bytes: mark + Array(text.utf8), origin: EventOrigin(source: "x", position: .line(1))),
                                                        ingestionTime: "2024-02-02T00:00:00Z").get()
            #expect(!event.bytes.starts(with: mark) && event.bytes.firstRange(of: mark) == nil, "\(String(decoding: event.bytes, as: UTF8.self))")
            #expect(try JSONParser.parse(event.bytes) == event.envelope, "the bytes are the envelope, as valid JSON")
        }
    }

    @Test func normalizedEventCarriesTheEnvelopeAndItsId() throws {
        let record = #"{"eventName":"StopLogging","eventSource":"cloudtrail.amazonaws.com","eventTime":"2024-01-01T00:00:00Z"}"#
        let event = try EventNormalizer().normalize(RawEvent(bytes: Array(record.utf8), origin: EventOrigin(source: "x", position: .line(1))),
                                                    ingestionTime: "2024-02-02T00:00:00Z").get()
        #expect(event.envelope["source"] == "aws.cloudtrail")
        #expect(event.envelope["id"]?.stringValue == event.id)
        #expect(try JSONParser.parse(event.bytes) == event.envelope)
    }

    @Test func ingestionClockFormatsUTC() {
        #expect(IngestionClock.format(epochSeconds: 0) == "1970-01-01T00:00:00Z")
        #expect(IngestionClock.format(epochSeconds: 1_700_000_000) == "2023-11-14T22:13:20Z")
    }
}
