import Foundation
import Testing
import TriplineJSON

@Suite("tripline init (end to end)")
struct InitCommandTests {
    @Test("a pasted CloudTrail record becomes a rule whose tests pass, a handler and a test event; nothing is overwritten")
    func scaffoldsATestedRule() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let record = #"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice"},"eventTime":"2024-01-01T00:00:00Z","eventSource":"kms.amazonaws.com","eventName":"ScheduleKeyDeletion","awsRegion":"eu-west-1","readOnly":false,"eventType":"AwsApiCall","recipientAccountId":"111122223333","eventID":"k-1"}"#
            try Data(record.utf8).write(to: dir.appendingPathComponent("record.json"))
            let result = try tripline.run(["init", "--from-event", "record.json"], in: dir)
            #expect(result.status == 0, "\(result)")
            let rule = try JSONParser.parse([UInt8](try Data(contentsOf: dir.appendingPathComponent("Rules/schedule-key-deletion.json"))))
            #expect(rule["EventPattern"] == ["source": ["aws.kms"], "detail-type": ["AWS API Call via CloudTrail"],
                                             "detail": ["eventSource": ["kms.amazonaws.com"], "eventName": ["ScheduleKeyDeletion"]]])
            #expect(FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("Handlers/schedule-key-deletion.sh").path))
            let test = try tripline.run(["test", "Rules"], in: dir)
            #expect(test.status == 0 && test.stdoutLines.last == "2 passed, 0 failed", "\(test)")
            let again = try tripline.run(["init", "--from-event", "record.json"], in: dir)
            #expect(again.status == 2 && again.stderr.contains("exists"), "\(again)")
        }
    }

    @Test("the record may be given alone, as init FILE; two of them, or none, is a command-line error naming what was given")
    func takesTheRecordAsAnArgument() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            try Data(Self.record.utf8).write(to: dir.appendingPathComponent("rec.json"))
            let positional = try tripline.run(["init", "rec.json", "--name", "by-argument"], in: dir)
            #expect(positional.status == 0 && positional.stdoutLines.first?.hasPrefix("wrote Rules/by-argument.json") == true, "\(positional)")
            let both = try tripline.run(["init", "rec.json", "--from-event", "other.json"], in: dir)
            #expect(both.status == 64 && both.stderr.hasPrefix("tripline init: init takes one event to start from; got 2: rec.json, other.json\n"), "\(both)")
            let none = try tripline.run(["init"], in: dir)
            #expect(none.status == 64 && none.stderr.contains("tripline init FILE (or --from-event FILE)"), "\(none)")
        }
    }

    @Test("a CloudTrail log file: its one record is used; with several, init says how many and --record N picks one")
    func scaffoldsFromALogFile() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let other = Self.record.replacingOccurrences(of: "DisableKey", with: "EnableKeyRotation")
            try Data((#"{"Records":["# + Self.record + "]}").utf8).write(to: dir.appendingPathComponent("one.json"))
            try systemGzip(dir.appendingPathComponent("one.json").path)
            try Data((#"{"Records":["# + Self.record + "," + other + "]}").utf8).write(to: dir.appendingPathComponent("two.json"))

            let one = try tripline.run(["init", "--from-event", "one.json.gz"], in: dir)
            #expect(one.status == 0 && one.stdoutLines.first == "wrote Rules/disable-key.json (pattern on source, detail-type, eventSource, eventName)", "\(one)")
            let written = try JSONParser.parse([UInt8](try Data(contentsOf: dir.appendingPathComponent("Examples/events/disable-key.json"))))
            #expect(written["eventName"] == "DisableKey" && written["Records"] == nil, "the test event is the record, not the log file")

            let two = try tripline.run(["init", "--from-event", "two.json"], in: dir)
            #expect(two.status == 2, "\(two)")
            #expect(two.stderr == "tripline init: two.json is a CloudTrail log file with 2 records; pick one with --record N (0 to 1)\n", "\(two)")
            let picked = try tripline.run(["init", "--from-event", "two.json", "--record", "1"], in: dir)
            #expect(picked.status == 0 && picked.stdoutLines.first?.hasPrefix("wrote Rules/enable-key-rotation.json") == true, "\(picked)")
            let test = try tripline.run(["test", "Rules"], in: dir)
            #expect(test.status == 0 && test.stdoutLines.last == "4 passed, 0 failed", "\(test)")

            let outOfRange = try tripline.run(["init", "--from-event", "two.json", "--record", "2"], in: dir)
            #expect(outOfRange.status == 2 && outOfRange.stderr.hasPrefix("tripline init: --record 2: two.json has 2 records (Records[0] to Records[1])\n"), "\(outOfRange)")
            try Data(Self.record.utf8).write(to: dir.appendingPathComponent("rec.json"))
            let notALog = try tripline.run(["init", "--from-event", "rec.json", "--record", "0"], in: dir)
            #expect(notALog.status == 2 && notALog.stderr.contains("rec.json is not one"), "\(notALog)")
            #expect(!outOfRange.stderr.contains("usage:") && !notALog.stderr.contains("usage:"), "a value judged against the file is not a command-line error")
            try Data((Self.record + "\n" + Self.record + "\n").utf8).write(to: dir.appendingPathComponent("two.ndjson"))
            let ndjson = try tripline.run(["init", "--from-event", "two.ndjson"], in: dir)
            #expect(ndjson.status == 2 && ndjson.stderr.hasPrefix("tripline init: two.ndjson holds more than one JSON value (NDJSON?); init takes one event"), "\(ndjson)")
        }
    }

    @Test("--events inside the rules folder is a usage error saying why and where to put them; nothing is written", arguments: [
        (["--rules", "detections", "--handlers", "detections/handlers", "--events", "detections/events"], "detections/events", "detections", "events"),
        (["--rules", "detections/", "--events", "./detections/x/../events"], "./detections/x/../events", "detections/", "events"),
        (["--rules", "proj/Rules", "--events", "proj/Rules"], "proj/Rules", "proj/Rules", "proj/events"),
        (["--events", "Rules/events"], "Rules/events", "Rules", "events"),
    ])
    func eventsInsideRules(_ options: [String], _ events: String, _ rules: String, _ suggested: String) throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            try Data(Self.record.utf8).write(to: dir.appendingPathComponent("rec.json"))
            let result = try tripline.run(["init", "--from-event", "rec.json"] + options, in: dir)
            #expect(result.status == 64, "\(result)")
            #expect(result.stderr.hasPrefix("tripline init: --events \(events) is inside the rules folder \(rules): every *.json file there is read "
                                            + "as a rule file by validate, test and run, so the test event would be reported as a broken rule; "
                                            + "put events in a folder beside it, such as --events \(suggested)\n"), "\(result)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["rec.json"], "nothing is written")
        }
    }

    @Test("--events beside the rules folder, or one whose name only starts like it, is fine")
    func eventsBesideRules() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            try Data(Self.record.utf8).write(to: dir.appendingPathComponent("rec.json"))
            let result = try tripline.run(["init", "--from-event", "rec.json", "--rules", "detections", "--events", "detections-events"], in: dir)
            #expect(result.status == 0, "\(result)")
            let test = try tripline.run(["test", "detections"], in: dir)
            #expect(test.status == 0, "\(test)")
        }
    }

    /// A record, an envelope, or either without `eventName`, for the scaffolding cases.
    static let record = #"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser"},"eventTime":"2024-01-01T00:00:00Z","eventSource":"kms.amazonaws.com","eventName":"DisableKey","awsRegion":"eu-west-1","readOnly":false,"eventType":"AwsApiCall","recipientAccountId":"111122223333"}"#
    static let withoutEventName = #"{"eventSource":"s3.amazonaws.com","eventType":"AwsApiCall"}"#
    static let envelopeWithoutEventName = #"{"version":"0","id":"1","detail-type":"Object Created","source":"aws.s3","account":"1","time":"2024-01-01T00:00:00Z","region":"us-east-1","resources":[],"detail":{"bucket":{"name":"b"}}}"#

    @Test("the rule init writes resolves its handler and test event, and the 'next' command it prints passes", arguments: [
        (record, "rec.json", ["--rules", "myrules"], "source, detail-type, eventSource, eventName"),
        (record, "rec.json", ["--rules", "conf/rules", "--handlers", "hooks", "--events", "conf/events"], "source, detail-type, eventSource, eventName"),
        (record, "rec.json.gz", ["--rules", "Rules/kms"], "source, detail-type, eventSource, eventName"),
        (withoutEventName, "rec.json", [], "source, detail-type, eventSource"),
        (envelopeWithoutEventName, "rec.json", ["--name", "object-created"], "source, detail-type"),
    ] as [(String, String, [String], String)])
    func scaffoldsWhereverAsked(_ event: String, _ file: String, _ options: [String], _ patterned: String) throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            try Data(event.utf8).write(to: dir.appendingPathComponent("rec.json"))
            if file.hasSuffix(".gz") {
                let gzip = Process()
                gzip.executableURL = URL(fileURLWithPath: FileManager.default.isExecutableFile(atPath: "/usr/bin/gzip") ? "/usr/bin/gzip" : "/bin/gzip")
                gzip.arguments = [dir.appendingPathComponent("rec.json").path]
                try gzip.run()
                gzip.waitUntilExit()
            }
            let result = try tripline.run(["init", "--from-event", file] + options, in: dir)
            #expect(result.status == 0, "\(result)")
            #expect(result.stdoutLines.first?.hasSuffix("(pattern on \(patterned))") == true, "\(result)")
            let next = try #require(result.stdoutLines.last.flatMap { $0.hasPrefix("next: tripline ") ? $0.dropFirst("next: tripline ".count) : nil })
            let test = try tripline.run(next.split(separator: " ").map(String.init), in: dir)
            #expect(test.status == 0 && test.stdoutLines.last == "2 passed, 0 failed", "\(test)")
            let rules = options.firstIndex(of: "--rules").map { options[$0 + 1] } ?? "Rules"
            let validate = try tripline.run(["validate", rules], in: dir)
            #expect(validate.status == 0, "the handler resolves: \(validate)")
        }
    }
}
