#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TriplineJSON

/// A project blocking whoever calls `StopLogging`, with an enforcement handler that takes a second
/// (so the rest of the input is routed before any block lands), and a rule recording every event
/// marked `tripline.blocked` to `activity.ndjson`.
private struct MarkingProject {
    let dir: URL
    let tripline: TriplineBinary

    init(dir: URL, dryRun: Bool = false) throws {
        self.dir = dir
        tripline = try TriplineBinary.locate()
        try write("""
            #!/bin/sh
            case "$(cat)" in *'"action":"unblock"'*) echo unblock >> "\(dir.path)/handler.log"; exit 0;; esac
            echo started >> "\(dir.path)/started.log"
            sleep 1
            echo block >> "\(dir.path)/handler.log"
            """, "enforce.sh")
        chmod(dir.appendingPathComponent("enforce.sh").path, 0o755)
        try write("#!/bin/sh\ncat >> \"\(dir.path)/activity.ndjson\"\necho >> \"\(dir.path)/activity.ndjson\"\n", "record.sh")
        chmod(dir.appendingPathComponent("record.sh").path, 0o755)
        try write("""
            [{"Name": "tamper", "EventPattern": {"source": ["aws.cloudtrail"], "detail": {"eventName": ["StopLogging"]}},
              "Targets": [{"Id": "block", "BlockUser": {"Reason": "tampering", "DurationSeconds": 3600, "Enforce": "\(dir.path)/enforce.sh",
                           "DryRun": \(dryRun)}}]},
             {"Name": "activity", "EventPattern": {"tripline": {"blocked": [true]}},
              "Targets": [{"Id": "rec", "Function": {"Handler": "\(dir.path)/record.sh", "MaxConcurrency": 1}}]}]
            """, "Rules/rules.json")
    }

    func write(_ text: String, _ relative: String) throws {
        let url = dir.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    /// Runs `events` (name, id, identity), one NDJSON file, through `tripline run`.
    func run(_ events: [(String, String, String)], arguments: [String] = [], name: String = "events") throws -> TriplineBinary.Result {
        let lines = events.map { BlockUserTargetTests.record($0.0, id: $0.1, identity: $0.2) }
        try write(lines.joined(separator: "\n") + "\n", name + ".ndjson")
        return try tripline.run(["run", "--rules", "Rules"] + arguments + [name + ".ndjson"], in: dir)
    }

    /// The marks of the recorded events, by event id.
    var marks: [String: JSONValue] {
        let lines = ((try? String(contentsOf: dir.appendingPathComponent("activity.ndjson"), encoding: .utf8)) ?? "").split(separator: "\n")
        var marks: [String: JSONValue] = [:]
        for line in lines {
            guard let event = try? JSONParser.parse(String(line)), let id = event["detail"]?["eventID"]?.stringValue else { continue }
            marks[id] = event["tripline"]
        }
        return marks
    }
}

private func user(_ name: String, accessKey: String? = nil) -> String {
    let key = accessKey.map { #","accessKeyId":"\#($0)""# } ?? ""
    return #"{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/\#(name)","accountId":"111122223333","userName":"\#(name)"\#(key)}"#
}

private let root = #"{"type":"Root","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333","accessKeyId":"ASIAROOTROOTROOT0001"}"#

@Suite("Marking tripline.blocked in input order: the events after a block in the same input (end to end)", .serialized)
struct BlockMarkingTests {
    @Test("after a StopLogging, the caller's later events in the same file are marked pending, by ARN or access key; others', root's and protected ones' are not")
    func laterEventsOfTheSameFileAreMarked() throws {
        try withTemporaryDirectory { dir in
            let project = try MarkingProject(dir: dir)
            let u0 = user("u0", accessKey: "AKIAU0U0U0U0U0U0U0U0")
            // The same access key, in an identity that names nothing else.
            let keyOnly = #"{"type":"IAMUser","accountId":"111122223333","accessKeyId":"AKIAU0U0U0U0U0U0U0U0"}"#
            let boss = user("boss")
            let result = try project.run([
                ("DescribeTrails", "before", u0),
                ("StopLogging", "stop-u0", u0),
                ("StopLogging", "stop-root", root),
                ("StopLogging", "stop-boss", boss),
                ("DescribeTrails", "u0-1", u0),
                ("DescribeTrails", "u1-1", user("u1")),
                ("GetTrailStatus", "u0-2", u0),
                ("DescribeTrails", "root-1", root),
                ("DescribeTrails", "boss-1", boss),
                ("ListTrails", "u0-key", keyOnly),
                ("DescribeTrails", "u1-2", user("u1")),
                ("StopLogging", "u0-3", u0),
                ("DeleteTrail", "u0-4", u0),
            ], arguments: ["--protect", "arn:aws:iam::*:user/boss"])
            #expect(result.status == 0, "\(result)")
            // Every later event of u0, and only those, with the block still being applied (the handler takes a second).
            let marks = project.marks
            #expect(marks.keys.sorted() == ["u0-1", "u0-2", "u0-3", "u0-4", "u0-key"], "\(marks)")
            #expect(marks.values.allSatisfy { $0 == ["blocked": true, "pending": true] }, "\(marks)")
            // One real block, and only one: the second StopLogging found it pending, then on the list.
            #expect(((try? String(contentsOf: dir.appendingPathComponent("handler.log"), encoding: .utf8)) ?? "") == "block\n")

            // Once it landed, the blocklist marks u0: no longer pending.
            #expect(try project.run([("DescribeTrails", "next-run", u0)], name: "next").status == 0)
            #expect(project.marks["next-run"] == ["blocked": true], "\(project.marks)")
        }
    }

    @Test("a block a killed run queued and did not carry out marks the principal's events of the next run as pending until it lands")
    func blocksQueuedByAnEarlierRunAreMarked() throws {
        try withTemporaryDirectory { dir in
            let project = try MarkingProject(dir: dir)
            try project.write([BlockUserTargetTests.record("StopLogging", id: "stop-u0", identity: user("u0")),
                               BlockUserTargetTests.record("StopLogging", id: "stop-u1", identity: user("u1"))].joined(separator: "\n") + "\n",
                              "first.ndjson")
            // Killed while u0's block runs (blocks run one at a time): u1's stays queued, unattempted, not on the blocklist.
            let killed = try BackgroundRun(project.tripline, ["run", "--rules", "Rules", "first.ndjson"], in: dir)
            let started = dir.appendingPathComponent("started.log")
            let deadline = Date().addingTimeInterval(20)
            while !FileManager.default.fileExists(atPath: started.path) && Date() < deadline { usleep(10_000) }
            killed.signal(SIGKILL)
            _ = killed.wait()
            // The next run carries both blocks out (a second each); the events are read before they land.
            let second = try project.run([("DescribeTrails", "u1-next", user("u1")), ("DescribeTrails", "u2", user("u2"))], name: "second")
            #expect(second.status == 0, "\(second)")
            #expect(project.marks["u1-next"] == ["blocked": true, "pending": true], "\(project.marks)")
            #expect(project.marks["u2"] == nil, "\(project.marks)")
        }
    }

    @Test("dry-run blocks are marked pending and dryRun; past --max-blocks a principal the breaker will refuse is not marked")
    func dryRunAndBreaker() throws {
        try withTemporaryDirectory { dir in
            let project = try MarkingProject(dir: dir, dryRun: true)
            let dry = try project.run([("StopLogging", "stop", user("u0")), ("DescribeTrails", "u0-1", user("u0"))], name: "dry")
            #expect(dry.status == 0, "\(dry)")
            #expect(project.marks == ["u0-1": ["blocked": true, "pending": true, "dryRun": true]], "\(project.marks)")
        }
        try withTemporaryDirectory { dir in
            let project = try MarkingProject(dir: dir)
            let result = try project.run([
                ("StopLogging", "stop-a", user("a")),
                ("StopLogging", "stop-b", user("b")),
                ("DescribeTrails", "a-1", user("a")),
                ("DescribeTrails", "b-1", user("b")),
            ], arguments: ["--max-blocks", "1"])
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.contains("CIRCUIT BREAKER OPEN"), "\(result.stdout)")
            #expect(project.marks == ["a-1": ["blocked": true, "pending": true]], "\(project.marks)")
        }
    }

    @Test("a settled block stops marking pending: once 'blocklist remove' lifted it, the principal's next events are not marked")
    func settledBlockStopsMarking() throws {
        try withTemporaryDirectory { dir in
            let project = try MarkingProject(dir: dir)
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("incoming"), withIntermediateDirectories: true)
            let run = try BackgroundRun(project.tripline, ["run", "--rules", "Rules", "--follow", "incoming"], in: dir)
            defer { if run.process.isRunning { run.signal(SIGKILL) } }
            func write(_ events: [(String, String, String)], _ name: String) throws {
                try project.write(events.map { BlockUserTargetTests.record($0.0, id: $0.1, identity: $0.2) }.joined(separator: "\n") + "\n", name)
            }
            func waitFor(_ id: String) {
                let deadline = Date().addingTimeInterval(20)
                while project.marks[id] == nil && Date() < deadline { usleep(50_000) }
            }
            usleep(300_000)
            try write([("StopLogging", "stop", user("u0")), ("DescribeTrails", "u0-1", user("u0"))], "incoming/a.ndjson")
            waitFor("u0-1")
            #expect(project.marks["u0-1"] == ["blocked": true, "pending": true], "\(project.marks)")
            // The block lands; then it is lifted by hand.
            let list = Date().addingTimeInterval(20)
            while !(try project.tripline.run(["blocklist", "list", "--json"], in: dir).stdout.contains("\"enforced\"")) && Date() < list { usleep(100_000) }
            let remove = try project.tripline.run(["blocklist", "remove", "--rules", "Rules", "arn:aws:iam::111122223333:user/u0"], in: dir)
            #expect(remove.status == 0, "\(remove)")
            // The run notices another process's change within a second or so.
            usleep(2_500_000)
            try write([("DescribeTrails", "u0-2", user("u0")), ("StopLogging", "stop-u9", user("u9")), ("DescribeTrails", "u9-1", user("u9"))],
                      "incoming/b.ndjson")
            waitFor("u9-1")
            run.signal(SIGTERM)
            let result = run.wait()
            #expect(result.status == 0, "\(result)")
            #expect(project.marks["u9-1"] == ["blocked": true, "pending": true], "\(project.marks)")
            #expect(project.marks["u0-2"] == nil, "lifted: \(project.marks)")
        }
    }
}
