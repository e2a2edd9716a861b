import Foundation
import Testing
import TriplineJSON

/// The ingestion findings' reproductions, run through the real binary: objects after a log document,
/// log documents after a digest or NDJSON, indentation in a Records file, a 7-digit eventTime fraction.
@Suite("Mixed inputs are read object by object, nothing dropped in silence (end to end)")
struct MixedInputEndToEndTests {
    static let digest = #"{"awsAccountId":"111122223333","digestStartTime":"2024-03-01T10:00:00Z","digestEndTime":"2024-03-01T11:00:00Z","logFiles":[]}"#

    @Test("a record, an envelope and junk after a log document: routed, routed, reported (exit 1)")
    func objectsAfterALogDocument() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let envelope = #"{"version":"0","id":"abc","detail-type":"AWS API Call via CloudTrail","source":"aws.cloudtrail","account":"111122223333","time":"2024-01-01T00:00:06Z","region":"us-east-1","resources":[],"detail":{"eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","eventID":"env-1"}}"#
            let text = cloudTrailLog(["log-1"]) + "\n" + cloudTrailRecord("bare-2") + "\n" + envelope + "\n"
            try Data(text.utf8).write(to: dir.appendingPathComponent("log.json"))
            for result in [try tripline.run(["normalize", "log.json"], in: dir), try tripline.runPiped(["normalize"], stdin: Array(text.utf8), in: dir)] {
                #expect(result.status == 0 && result.stderr.isEmpty, "\(result)")
                #expect(try result.stdoutLines.map { try JSONParser.parse($0)["detail"]?["eventID"]?.stringValue } == ["log-1", "bare-2", "env-1"])
            }
            try Data((text + "{}\n").utf8).write(to: dir.appendingPathComponent("junk.json"))
            let junk = try tripline.run(["normalize", "junk.json"], in: dir)
            #expect(junk.status == 1 && junk.stdoutLines.count == 3, "\(junk)")
            #expect(junk.stderr.contains("junk.json:4: not a CloudTrail record or EventBridge event (an empty object"), "\(junk.stderr)")

            let project = try CatchAllProject(root: dir)
            try project.write(text, "in/log.json")
            let run = try tripline.run(["run", "--rules", "rules", "--state-dir", "s", "in/log.json"], in: dir)
            #expect(run.status == 0, "\(run)")
            #expect(run.stdout.contains("normalized: 3, bad records: 0"), "\(run.stdout)")
            #expect(project.delivered() == ["bare-2", "env-1", "log-1"])
        }
    }

    @Test("zcat of an AWSLogs copy in C order (digest first, gzip members back to back) routes every record")
    func digestsBeforeLogs() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let stream = try systemGzipped(Self.digest, in: dir) + systemGzipped(cloudTrailLog(["a-1", "a-2"]), in: dir)
                + systemGzipped(Self.digest + "\n", in: dir) + systemGzipped(cloudTrailLog(["b-1"]) + "\n", in: dir)
            let result = try tripline.runPiped(["normalize"], stdin: stream, in: dir)
            #expect(result.status == 0, "\(result)")
            #expect(try result.stdoutLines.map { try JSONParser.parse($0)["detail"]?["eventID"]?.stringValue } == ["a-1", "a-2", "b-1"])
            #expect(result.stderr == "stdin:1 is a CloudTrail digest (no events); skipped\nstdin:1 is a CloudTrail digest (no events); skipped\n",
                    "\(result.stderr)")
            // NDJSON events first, then a log document on its own line.
            let ndjson = cloudTrailRecord("n-1") + "\n" + cloudTrailLog(["n-2", "n-3"]) + "\n" + cloudTrailRecord("n-4") + "\n"
            let lines = try tripline.runPiped(["normalize"], stdin: Array(ndjson.utf8), in: dir)
            #expect(lines.status == 0 && lines.stderr.isEmpty, "\(lines)")
            #expect(try lines.stdoutLines.map { try JSONParser.parse($0)["detail"]?["eventID"]?.stringValue } == ["n-1", "n-2", "n-3", "n-4"])
        }
    }

    @Test("a 125 KB record in a pretty-printed Records file (jq . output) is within the 256 KB event limit")
    func prettyRecordsFile() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            // 1,300 instance items of ~100 bytes: ~125 KB compact, far more indented.
            let items = (0..<1_300).map { #"{"instanceId":"i-\#(String(format: "%08d", $0))","imageId":"ami-0123456789abcdef0","state":{"code":0,"name":"pending"}}"# }
            let compact = String(cloudTrailRecord("big-1").dropLast()) + #","responseElements":{"instancesSet":{"items":["# + items.joined(separator: ",") + "]}}}"
            #expect(compact.utf8.count > 120_000 && compact.utf8.count < 200_000)
            let record = try JSONParser.parse(compact)
            let pretty = "{\n  \"Records\": [\n" + Self.indent(record, level: 2) + "\n  ]\n}\n"
            #expect(pretty.utf8.count > 262_144, "the indentation alone takes it over the limit")
            try Data(pretty.utf8).write(to: dir.appendingPathComponent("pretty.json"))
            let result = try tripline.run(["normalize", "pretty.json"], in: dir)
            #expect(result.status == 0 && result.stderr.isEmpty, "\(result.stderr)")
            #expect(result.stdoutLines.count == 1)
        }
    }

    @Test("an eventTime with 7 fraction digits keeps its second, day and year")
    func sevenDigitFraction() throws {
        let tripline = try TriplineBinary.locate()
        let result = try tripline.run(["normalize"], stdin: #"{"eventSource":"s3.amazonaws.com","eventName":"X","eventTime":"2024-12-31T23:59:59.9999999Z"}"# + "\n")
        #expect(result.status == 0, "\(result)")
        #expect(try JSONParser.parse(result.stdout)["time"] == "2024-12-31T23:59:59Z")
    }

    @Test("a FIFO named like an input in a walked folder gets a note, not silence, and is no error")
    func fifoInAFolder() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try CatchAllProject(root: dir)
            try project.write(cloudTrailLog(["f-1"]), "in/a.json")
            #expect(mkfifo(project.path("in/b.json"), 0o600) == 0)
            let run = try tripline.run(["run", "--rules", "rules", "--state-dir", "s", "in"], in: dir)
            #expect(run.status == 0, "\(run)")
            #expect(run.stderr.contains("in/b.json: a FIFO, not a regular file; skipped"), "\(run.stderr)")
            #expect(run.stdout.contains("files with errors: 0"), "\(run.stdout)")
            #expect(project.delivered() == ["f-1"])
        }
    }

    /// `value` as `json.dumps(indent=2)` writes it, starting `level` levels in.
    static func indent(_ value: JSONValue, level: Int) -> String {
        let pad = String(repeating: "  ", count: level)
        switch value {
        case .object(let object):
            if object.members.isEmpty { return pad + "{}" }
            let inner = object.members.map { member in
                let text = indent(member.value, level: level + 1)
                return pad + "  " + JSONWriter.quoted(member.key) + ": " + text.drop { $0 == " " }
            }
            return pad + "{\n" + inner.joined(separator: ",\n") + "\n" + pad + "}"
        case .array(let elements):
            if elements.isEmpty { return pad + "[]" }
            return pad + "[\n" + elements.map { indent($0, level: level + 1) }.joined(separator: ",\n") + "\n" + pad + "]"
        default:
            return pad + String(decoding: JSONWriter.bytes(value), as: UTF8.self)
        }
    }
}
