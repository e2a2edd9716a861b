import Foundation
import Testing
import TriplineJSON

/// A rules folder whose handler, if it ever ran, would leave a file: `match` must never run it.
private func writeRules(in dir: URL) throws {
    let rules = dir.appendingPathComponent("rules")
    try FileManager.default.createDirectory(at: rules, withIntermediateDirectories: true)
    let handler = dir.appendingPathComponent("h.sh")
    try Data("#!/bin/sh\ntouch \"\(dir.path)/handler-ran\"\n".utf8).write(to: handler)
    chmod(handler.path, 0o755)
    func rule(_ name: String, _ state: String, _ pattern: String) throws {
        try Data(#"{"Name":"\#(name)","State":"\#(state)","EventPattern":\#(pattern),"Targets":[{"Id":"t","Function":{"Handler":"\#(handler.path)"}}]}"#.utf8)
            .write(to: rules.appendingPathComponent("\(name).json"))
    }
    try rule("deletes", "ENABLED", #"{"detail":{"eventName":[{"prefix":"Delete"}]}}"#)
    try rule("all-s3", "ENABLED", #"{"source":["aws.s3"]}"#)
    try rule("s3-reads", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS", #"{"source":["aws.s3"],"detail":{"readOnly":[true]}}"#)
    try rule("parked", "DISABLED", #"{"detail":{"eventName":["GetObject"]}}"#)
}

/// A CloudTrail record of `eventName` on S3 with `eventID` `id`.
private func s3Record(_ id: String, _ eventName: String, readOnly: Bool) -> String {
    #"{"eventVersion":"1.08","eventTime":"2024-03-01T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"\#(eventName)","awsRegion":"eu-west-1","readOnly":\#(readOnly),"eventID":"\#(id)","eventType":"AwsApiCall","recipientAccountId":"111122223333"}"#
}

@Suite("tripline match: the events the rules match, delivered nowhere (end to end)")
struct MatchCommandTests {
    @Test("one line per matched event in input order, with the rules that receive it as run judges them; no handler runs, no state is made")
    func linesPerMatchedEvent() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            try writeRules(in: dir)
            let log = #"{"Records":["# + [s3Record("r1", "DeleteBucket", readOnly: false), s3Record("r2", "GetObject", readOnly: true),
                                          #"{"eventVersion": 5}"#, s3Record("r3", "PutObject", readOnly: false)].joined(separator: ",") + "]}"
            try Data(log.utf8).write(to: dir.appendingPathComponent("log.json"))
            let result = try tripline.run(["match", "--rules", "rules", "log.json"], in: dir)
            #expect(result.status == 0, "\(result)")
            let lines = try result.stdoutLines.map { try JSONParser.parse(Array($0.utf8)) }
            #expect(lines.count == 3, "\(result.stdout)")
            let summary = lines.map { line -> String in
                let rules = (line["rules"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: "+")
                return "\(line["event"]?["detail"]?["eventID"]?.stringValue ?? "?"):\(rules)"
            }
            // r2 is a read-only management event: the ENABLED rules do not see it, the other one does;
            // the DISABLED rule sees nothing.
            #expect(summary == ["r1:all-s3+deletes", "r2:s3-reads", "r3:all-s3"])
            #expect(lines.first?["origin"]?.stringValue == "log.json Records[0]")
            #expect(lines.first?["event"]?["detail-type"]?.stringValue == "AWS API Call via CloudTrail")
            #expect(result.stderr.contains("log.json Records[2]"), "the bad record is reported: \(result.stderr)")
            #expect(result.stderr.contains("tripline match: 4 events read, 3 matched by 3 rules, 1 bad record skipped"), "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("handler-ran").path))
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent(".tripline").path), "no state directory")
        }
    }

    @Test("--count prints each rule's count; --rule keeps the named rules and judges a DISABLED one as ENABLED; no match exits 1")
    func countsAndSelection() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            try writeRules(in: dir)
            let events = [s3Record("r1", "DeleteBucket", readOnly: false), s3Record("r2", "GetObject", readOnly: false),
                          s3Record("r3", "GetObject", readOnly: true)].joined(separator: "\n") + "\n"
            let counted = try tripline.run(["match", "--rules", "rules", "--count"], stdin: events, in: dir)
            #expect(counted.status == 0, "\(counted)")
            #expect(counted.stdoutLines == ["2\tall-s3", "1\tdeletes", "1\ts3-reads"], "\(counted.stdout)")

            let parked = try tripline.run(["match", "--rules", "rules", "--rule", "parked", "--count", "-"], stdin: events, in: dir)
            #expect(parked.status == 0, "\(parked)")
            #expect(parked.stdoutLines == ["1\tparked"], "r3 is read-only: as ENABLED, the rule does not see it: \(parked.stdout)")

            let none = try tripline.run(["match", "--rules", "rules", "--rule", "deletes"], stdin: s3Record("r9", "PutObject", readOnly: false) + "\n", in: dir)
            #expect(none.status == 1, "\(none)")
            #expect(none.stdout.isEmpty)

            let unknown = try tripline.run(["match", "--rules", "rules", "--rule", "nope"], stdin: events, in: dir)
            #expect(unknown.status == 2, "\(unknown)")
            #expect(unknown.stderr.contains("no rule named 'nope'"), "\(unknown.stderr)")
        }
    }

    @Test("rule files with errors are all reported and nothing is read (exit 2)")
    func brokenRules() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            try writeRules(in: dir)
            try Data(#"{"Name":"broken","EventPattern":{"detail":{"eventName":[]}},"Targets":[]}"#.utf8)
                .write(to: dir.appendingPathComponent("rules/broken.json"))
            let result = try tripline.run(["match", "--rules", "rules"], stdin: s3Record("r1", "DeleteBucket", readOnly: false) + "\n", in: dir)
            #expect(result.status == 2, "\(result)")
            #expect(result.stderr.contains("rules/broken.json:1:"), "\(result.stderr)")
            #expect(result.stderr.contains("nothing was read"), "\(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
    }

    @Test("an input that cannot be read to its end is reported and makes the exit status 2, though other inputs matched")
    func unreadableInput() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            try writeRules(in: dir)
            try Data((s3Record("r1", "DeleteBucket", readOnly: false) + "\n").utf8).write(to: dir.appendingPathComponent("events.ndjson"))
            try Data([0x1F, 0x8B, 0x08, 0x00, 0x01, 0x02, 0x03]).write(to: dir.appendingPathComponent("broken.json.gz"))
            let result = try tripline.run(["match", "--rules", "rules", "events.ndjson", "broken.json.gz", "missing.json"], in: dir)
            #expect(result.status == 2, "\(result)")
            #expect(result.stdoutLines.count == 1, "the readable input's match is printed: \(result.stdout)")
            #expect(result.stderr.contains("broken.json.gz") && result.stderr.contains("missing.json"), "\(result.stderr)")
            #expect(result.stderr.contains("1 event read, 1 matched by 3 rules, 2 inputs not read to the end"), "\(result.stderr)")
        }
    }
}
