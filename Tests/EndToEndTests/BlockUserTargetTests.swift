import Foundation
import Testing
import TriplineJSON

@Suite("BlockUser targets in a run: block, emitted events, enrichment, safety rails (end to end)", .serialized)
struct BlockUserTargetTests {
    /// Rules: block whoever stops CloudTrail (the shipped enforcement handler, dry run); record every
    /// event Tripline emits; record continued activity of blocked principals.
    static func project(in dir: URL, protect: Bool = false) throws {
        let handler = TriplineBinary.packageRoot.appendingPathComponent("Handlers/block-user.sh").path
        let recorder = """
            #!/bin/sh
            line=$(cat)
            printf '%s\n' "$line" >> "\(dir.path)/out/$TRIPLINE_RULE.ndjson"
            """
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("out"), withIntermediateDirectories: true)
        try Data(recorder.utf8).write(to: dir.appendingPathComponent("record.sh"))
        chmod(dir.appendingPathComponent("record.sh").path, 0o755)
        let rules = """
            [
              {"Name": "block-tampering", "EventPattern": {"source": ["aws.cloudtrail"], "detail": {"eventName": ["StopLogging", "DeleteTrail"]}},
               "Targets": [{"Id": "block", "BlockUser": {"Reason": "CloudTrail tampering", "DurationSeconds": 3600, "Enforce": "\(handler)", "DryRun": true}}]},
              {"Name": "tripline-events", "EventPattern": {"source": ["tripline"]},
               "Targets": [{"Id": "rec", "Function": {"Handler": "\(dir.path)/record.sh", "MaxConcurrency": 1}}]},
              {"Name": "blocked-activity", "State": "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS", "EventPattern": {"tripline": {"blocked": [true]}},
               "Targets": [{"Id": "rec", "Function": {"Handler": "\(dir.path)/record.sh", "MaxConcurrency": 1}}]}
            ]
            """
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("Rules"), withIntermediateDirectories: true)
        try Data(rules.utf8).write(to: dir.appendingPathComponent("Rules/rules.json"))
    }

    static func record(_ name: String, id: String, identity: String = #"{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/mallory","accountId":"111122223333","userName":"mallory","accessKeyId":"AKIAIOSFODNN7EXAMPLE"}"#) -> String {
        #"{"eventVersion":"1.08","userIdentity":\#(identity),"eventTime":"2024-03-01T10:00:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"\#(name)","awsRegion":"eu-west-1","sourceIPAddress":"198.51.100.7","readOnly":false,"eventID":"\#(id)","eventType":"AwsApiCall","recipientAccountId":"111122223333"}"#
    }

    static func lines(_ url: URL) -> [JSONValue] {
        ((try? String(contentsOf: url, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }
    }

    @Test("StopLogging blocks its caller (dry run), User Blocked is routed to rules, and later activity is marked blocked")
    func blocksAndEmits() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            try Self.project(in: dir)
            try Data((Self.record("StopLogging", id: "s-1") + "\n").utf8).write(to: dir.appendingPathComponent("first.ndjson"))
            let first = try tripline.run(["run", "first.ndjson"], in: dir)
            #expect(first.status == 0, "\(first)")
            let emitted = Self.lines(dir.appendingPathComponent("out/tripline-events.ndjson"))
            #expect(emitted.count == 1, "\(emitted)")
            #expect(emitted.first?["detail-type"] == "User Blocked" && emitted.first?["source"] == "tripline")
            #expect(emitted.first?["detail"]?["principal"]?["arn"] == "arn:aws:iam::111122223333:user/mallory", "\(emitted)")
            let list = try tripline.run(["blocklist", "list", "--json"], in: dir)
            #expect(list.stdout.contains("arn:aws:iam::111122223333:user/mallory") && list.stdout.contains("CloudTrail tampering"), "\(list)")

            // The same principal keeps going: its events carry tripline.blocked, and re-blocking is a no-op.
            try Data((Self.record("DescribeTrails", id: "s-2") + "\n" + Self.record("DeleteTrail", id: "s-3") + "\n").utf8)
                .write(to: dir.appendingPathComponent("second.ndjson"))
            let second = try tripline.run(["run", "second.ndjson"], in: dir)
            #expect(second.status == 0, "\(second)")
            let activity = Self.lines(dir.appendingPathComponent("out/blocked-activity.ndjson"))
            #expect(activity.count == 2 && activity.allSatisfy { $0["tripline"]?["blocked"] == true }, "\(activity)")
            #expect(Self.lines(dir.appendingPathComponent("out/tripline-events.ndjson")).count == 1, "already blocked: no second User Blocked")
        }
    }

    @Test("an Enforce handler found only on the PATH its Environment gives it passes the start-up check, and runs with that PATH")
    func enforceHandlerOnEnvironmentPath() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("opt/bin"), withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("Rules"), withIntermediateDirectories: true)
            let tool = dir.appendingPathComponent("opt/bin/mytool-tripline")
            try Data("#!/bin/sh\ncat >/dev/null\necho \"PATH=$PATH\" >> \"\(dir.path)/enforce.log\"\n".utf8).write(to: tool)
            chmod(tool.path, 0o755)
            try Data("#!/usr/bin/env mytool-tripline\n".utf8).write(to: dir.appendingPathComponent("enf.sh"))
            chmod(dir.appendingPathComponent("enf.sh").path, 0o755)
            let rule = #"{"Name": "r", "EventPattern": {"source": ["aws.cloudtrail"]}, "Targets": [{"Id": "b", "BlockUser": "#
                + #"{"Reason": "t", "Enforce": "./enf.sh", "DryRun": true, "Environment": {"PATH": "\#(dir.path)/opt/bin:${PATH}"}}}]}"#
            try Data(rule.utf8).write(to: dir.appendingPathComponent("Rules/r.json"))
            let validate = try tripline.run(["validate", "Rules"], in: dir)
            #expect(validate.status == 0, "\(validate)")
            try Data((Self.record("StopLogging", id: "p-1") + "\n").utf8).write(to: dir.appendingPathComponent("events.ndjson"))
            let run = try tripline.run(["run", "--rules", "Rules", "--ephemeral", "events.ndjson"], in: dir)
            #expect(run.status == 0, "\(run)")
            let log = (try? String(contentsOf: dir.appendingPathComponent("enforce.log"), encoding: .utf8)) ?? ""
            #expect(log.hasPrefix("PATH=\(dir.path)/opt/bin:"), "\(log)")
        }
    }

    @Test("root and protected principals are refused, with a User Block Refused event")
    func refusals() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            try Self.project(in: dir)
            let root = Self.record("StopLogging", id: "r-1", identity: #"{"type":"Root","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333"}"#)
            let breakGlass = Self.record("DeleteTrail", id: "r-2", identity: #"{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/break-glass/alice","accountId":"111122223333","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/break-glass","userName":"break-glass","accountId":"111122223333"}}}"#)
            try Data((root + "\n" + breakGlass + "\n").utf8).write(to: dir.appendingPathComponent("events.ndjson"))
            let result = try tripline.run(["run", "--protect", "arn:aws:iam::*:role/break-glass", "events.ndjson"], in: dir)
            #expect(result.status == 0, "\(result)")
            let emitted = Self.lines(dir.appendingPathComponent("out/tripline-events.ndjson"))
            #expect(emitted.count == 2 && emitted.allSatisfy { $0["detail-type"] == "User Block Refused" }, "\(emitted)")
            let list = try tripline.run(["blocklist", "list", "--json"], in: dir)
            #expect(!list.stdout.contains("break-glass") && !list.stdout.contains(":root"), "\(list)")
            // The refusals are in the run's own log too, not only on the bus.
            #expect(result.stdout.contains("[block-tampering/block] refused: "), "\(result.stdout)")
            #expect(result.stdout.contains("emitted by tripline: 2 events"), "\(result.stdout)")
            #expect(result.stdout.contains("matched: 4 events (2 emitted by tripline itself included)"), "\(result.stdout)")
        }
    }

    @Test("past --max-blocks the circuit breaker's refusal is logged, and emitted events no rule matches are not counted as matched")
    func circuitBreakerRefusalIsLogged() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            try Self.project(in: dir)
            // Only the blocking rule: nothing matches what Tripline emits.
            var rules = try String(contentsOf: dir.appendingPathComponent("Rules/rules.json"), encoding: .utf8)
            rules = rules.replacingOccurrences(of: #""source": ["tripline"]"#, with: #""source": ["nobody"]"#)
            // Real blocks (dry runs do not count towards the breaker), with a handler that does nothing.
            rules = rules.replacingOccurrences(of: #""DryRun": true"#, with: #""DryRun": false"#)
                .replacingOccurrences(of: TriplineBinary.packageRoot.appendingPathComponent("Handlers/block-user.sh").path, with: "/bin/true")
            try Data(rules.utf8).write(to: dir.appendingPathComponent("Rules/rules.json"))
            let users = ["ann", "bob", "cy"].enumerated().map { index, user in
                Self.record("StopLogging", id: "c-\(index)", identity: #"{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/\#(user)","accountId":"111122223333","userName":"\#(user)"}"#)
            }
            try Data((users.joined(separator: "\n") + "\n").utf8).write(to: dir.appendingPathComponent("events.ndjson"))
            let before = try tripline.run(["status"], in: dir)
            let result = try tripline.run(["run", "--max-blocks", "1", "events.ndjson"], in: dir)
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.contains("CIRCUIT BREAKER OPEN"), "\(result.stdout)")
            // status and blocklist list show it open, with the run's limit and window.
            let status = try tripline.run(["status"], in: dir)
            #expect(status.status == 0 && status.stdout.contains("circuit breaker: OPEN, automatic blocking stopped: 1 of 1 automatic block in the last 1 hour; blocking resumes at "), "\(status)")
            #expect(!before.stdout.contains("OPEN"), "\(before)")
            let json = try JSONParser.parse(try tripline.run(["status", "--json"], in: dir).stdout)
            #expect(json["circuitBreaker"]?["open"] == true && json["circuitBreaker"]?["blocksInWindow"] == 1 && json["circuitBreaker"]?["limit"] == 1)
            #expect(json["circuitBreaker"]?["windowSeconds"] == 3600 && json["circuitBreaker"]?["resumesAt"]?.stringValue != nil)
            let list = try tripline.run(["blocklist", "list"], in: dir)
            #expect(list.stdout.hasSuffix("1 blocked principal\ncircuit breaker: OPEN, automatic blocking stopped: 1 of 1 automatic block in the last 1 hour; "
                                          + "blocking resumes at " + (json["circuitBreaker"]?["resumesAt"]?.stringValue ?? "?") + "\n"), "\(list)")
            // With a higher limit the next run's counts close it: the state says so as soon as it is saved.
            try Data((Self.record("StopLogging", id: "c-9", identity: #"{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/dee","accountId":"111122223333","userName":"dee"}"#) + "\n").utf8)
                .write(to: dir.appendingPathComponent("more.ndjson"))
            #expect(try tripline.run(["run", "--max-blocks", "5", "more.ndjson"], in: dir).status == 0)
            let closed = try tripline.run(["status"], in: dir)
            #expect(closed.stdout.contains("circuit breaker: closed, 2 of 5 automatic blocks in the last 1 hour"), "\(closed)")
            #expect(result.stdout.contains("  matched: 3 events\n"), "\(result.stdout)")
            #expect(result.stdout.contains("emitted by tripline: 3 events"), "\(result.stdout)")
        }
    }

    @Test("with --follow, emitted events are routed while the folder is quiet, not only when the next file arrives")
    func emittedWhileFollowing() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            try Self.project(in: dir)
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("incoming"), withIntermediateDirectories: true)
            let run = try BackgroundRun(tripline, ["run", "--follow", "incoming"], in: dir)
            usleep(300_000)
            try Data((Self.record("StopLogging", id: "f-1") + "\n").utf8).write(to: dir.appendingPathComponent("incoming/a.ndjson"))
            let deadline = Date().addingTimeInterval(15)
            while Self.lines(dir.appendingPathComponent("out/tripline-events.ndjson")).isEmpty && Date() < deadline { usleep(50_000) }
            run.signal(SIGTERM)
            let result = run.wait()
            #expect(result.status == 0, "\(result)")
            #expect(Self.lines(dir.appendingPathComponent("out/tripline-events.ndjson")).first?["detail-type"] == "User Blocked", "\(result)")
        }
    }

    @Test("events of 'tripline blocklist add' and 'remove' reach the rules of a following run on the same state directory, once")
    func blocklistEventsReachAFollowingRun() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            try Self.project(in: dir)
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("incoming"), withIntermediateDirectories: true)
            let events = dir.appendingPathComponent("out/tripline-events.ndjson")
            let run = try BackgroundRun(tripline, ["run", "--follow", "incoming"], in: dir)
            // The run has the state directory once its lock file names it.
            let started = Date().addingTimeInterval(15)
            while !FileManager.default.fileExists(atPath: dir.appendingPathComponent(".tripline/lock").path) && Date() < started { usleep(50_000) }
            let arn = "arn:aws:iam::111122223333:user/trudy"
            let add = try tripline.run(["blocklist", "add", "--arn", arn, "--reason", "manual"], in: dir)
            #expect(add.status == 0 && add.stdout.contains("1 event queued for the rules"), "\(add)")
            let remove = try tripline.run(["blocklist", "remove", arn], in: dir)
            #expect(remove.status == 0, "\(remove)")
            let deadline = Date().addingTimeInterval(15)
            while Self.lines(events).count < 2 && Date() < deadline { usleep(50_000) }
            usleep(300_000)
            run.signal(SIGTERM)
            let result = run.wait()
            #expect(result.status == 0, "\(result)")
            let seen = Self.lines(events)
            #expect(seen.map { $0["detail-type"]?.stringValue } == ["User Blocked", "User Unblocked"], "\(result)")
            #expect(seen.last?["detail"]?["unblockedBy"] == "cli" && seen.last?["detail"]?["key"] == .string(arn))
            #expect(result.stderr.contains("User Unblocked from 'tripline blocklist remove' put on the bus"), "\(result.stderr)")

            // Routed once: a later run finds nothing left.
            let again = try tripline.run(["run", "incoming"], in: dir)
            #expect(again.status == 0 && !again.stdout.contains("emitted by tripline"), "\(again)")
            #expect(Self.lines(events).count == 2)
        }
    }

    @Test("with no run going, the next run routes what 'tripline blocklist' queued when it starts, and only that run")
    func blocklistEventsWaitForTheNextRun() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            try Self.project(in: dir)
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("incoming"), withIntermediateDirectories: true)
            let events = dir.appendingPathComponent("out/tripline-events.ndjson")
            let add = try tripline.run(["blocklist", "add", "--arn", "arn:aws:iam::111122223333:user/trudy", "--reason", "manual"], in: dir)
            #expect(add.status == 0, "\(add)")
            #expect(Self.lines(events).isEmpty)
            let first = try tripline.run(["run", "incoming"], in: dir)
            #expect(first.status == 0 && first.stdout.contains("emitted by tripline: 1 event"), "\(first)")
            #expect(Self.lines(events).map { $0["detail-type"]?.stringValue } == ["User Blocked"])
            #expect(Self.lines(events).first?["detail"]?["addedBy"] == "cli")
            let second = try tripline.run(["run", "incoming"], in: dir)
            #expect(second.status == 0 && !second.stdout.contains("emitted by tripline"), "\(second)")
            #expect(Self.lines(events).count == 1)
        }
    }
}
