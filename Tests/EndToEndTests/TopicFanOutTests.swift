#if canImport(Glibc)
import Glibc
#endif
import Foundation
import LoopbackHTTP
import Testing
import TriplineJSON

/// A project whose rule publishes CloudTrail tampering to the topic `security-alerts`, which fans
/// out to functions, files and a webhook.
private struct TopicProject {
    let root: URL

    init(root: URL) throws {
        self.root = root
        // Records the message it got on stdin, its idempotency key and when it ran.
        let record = """
            #!/bin/sh
            name="$1"
            cat > "out/$name.msg"
            printf '%s\\n' "$TRIPLINE_IDEMPOTENCY_KEY" > "out/$name.key"
            date +%s.%N > "out/$name.time"
            """
        try write(record, "handlers/record.sh")
        try write("#!/bin/sh\ncat > /dev/null\nsleep 2\nexec handlers/record.sh \"$@\" < /dev/null\n", "handlers/slow.sh")
        try write("#!/bin/sh\ncat > /dev/null\necho 'pager is down' >&2\nexit 1\n", "handlers/fail.sh")
        for handler in ["record.sh", "slow.sh", "fail.sh"] { chmod(root.appendingPathComponent("handlers/\(handler)").path, 0o755) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("out"), withIntermediateDirectories: true)
        try write("""
            {"Topic": {"Name": "security-alerts", "Subscriptions": [
              {"Id": "ops", "Function": {"Handler": "handlers/record.sh", "Args": ["ops"]}},
              {"Id": "log", "File": {"Path": "out/alerts.ndjson"}, "RawMessageDelivery": true},
              {"Id": "hook", "Webhook": {"Url": "${HOOK_URL}"}},
              {"Id": "deletes-only", "Function": {"Handler": "handlers/record.sh", "Args": ["deletes-only"]},
               "FilterPolicy": {"eventName": ["DeleteTrail"]}},
              {"Id": "body-filter", "File": {"Path": "out/body.ndjson"}, "RawMessageDelivery": true,
               "FilterPolicyScope": "MessageBody", "FilterPolicy": {"detail": {"eventName": [{"prefix": "Stop"}]}}},
              {"Id": "pager", "Function": {"Handler": "handlers/fail.sh"}, "RetryPolicy": {"MaximumRetryAttempts": 0}},
              {"Id": "slow", "Function": {"Handler": "handlers/slow.sh", "Args": ["slow"]}}
            ]}}
            """, "Rules/topics.json")
        try write("""
            {"Name": "trail-tampering", "Severity": "critical",
             "EventPattern": {"source": ["aws.cloudtrail"], "detail": {"eventName": ["StopLogging"]}},
             "Targets": [{"Id": "alerts", "Topic": "security-alerts"}]}
            """, "Rules/tampering.json")
        let record2 = #"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/mallory","accountId":"111122223333","userName":"mallory"},"eventTime":"2024-03-01T10:00:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"eu-west-1","sourceIPAddress":"198.51.100.7","eventID":"e-1","eventType":"AwsApiCall","recipientAccountId":"111122223333"}"#
        try write(record2 + "\n", "events.ndjson")
    }

    func write(_ text: String, _ relative: String) throws {
        let url = root.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    func read(_ relative: String) -> String? { try? String(contentsOf: root.appendingPathComponent(relative), encoding: .utf8) }

    func time(_ name: String) -> Double? { read("out/\(name).time").flatMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) } }

    func run(_ tripline: TriplineBinary, environment: [String: String]) -> TriplineBinary.Result {
        var all = ProcessInfo.processInfo.environment
        all.merge(environment) { _, new in new }
        all["NO_PROXY"] = "127.0.0.1"
        return (try? BackgroundRun(tripline, ["run", "events.ndjson"], in: root, environment: all).wait())
            ?? TriplineBinary.Result(status: -1, stdout: "", stderr: "could not start")
    }
}

@Suite("SNS-style topics: one alert fans out to a function, a file and a webhook (end to end)", .serialized)
struct TopicFanOutTests {
    @Test("fan-out with envelopes, raw delivery, filter policies, a dead-lettered subscriber and a slow one that delays nobody")
    func fanOut() throws {
        let tripline = try TriplineBinary.locate()
        let server = try LoopbackHTTPServer()
        try withTemporaryDirectory { dir in
            let project = try TopicProject(root: dir)
            let result = project.run(tripline, environment: ["HOOK_URL": server.url("/alerts")])
            #expect(result.status == 1, "one subscriber was dead-lettered: \(result)")

            // The function got SNS's envelope (RawMessageDelivery false, the default).
            let envelope = try JSONParser.parse(Array(try #require(project.read("out/ops.msg")).utf8))
            #expect(envelope["Type"] == "Notification")
            #expect(envelope["TopicArn"] == "arn:tripline:sns:local:000000000000:security-alerts")
            #expect(envelope["MessageId"]?.stringValue?.count == 36)
            #expect(envelope["Timestamp"]?.stringValue?.hasSuffix("Z") == true)
            let message = try JSONParser.parse(Array(try #require(envelope["Message"]?.stringValue).utf8))
            #expect(message["detail"]?["eventName"] == "StopLogging", "the message is the rule target's input: the matched event")
            #expect(envelope["MessageAttributes"]?["rule"]?["Value"] == "trail-tampering")
            #expect(envelope["MessageAttributes"]?["rule"]?["Type"] == "String")
            #expect(envelope["MessageAttributes"]?["severity"]?["Value"] == "critical")
            #expect(envelope["MessageAttributes"]?["eventName"]?["Value"] == "StopLogging")
            #expect(envelope["MessageAttributes"]?["eventSource"]?["Value"] == "cloudtrail.amazonaws.com")
            let key = project.read("out/ops.key")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            #expect(key == (envelope["MessageId"]?.stringValue ?? "?") + ":topic:security-alerts:ops", "idempotency key <message id>:topic:<name>:<id>: \(key)")

            // The file got the raw message, one JSON line.
            let lines = (project.read("out/alerts.ndjson") ?? "").split(separator: "\n")
            #expect(lines.count == 1)
            #expect(try JSONParser.parse(Array(lines[0].utf8))["detail"]?["eventName"] == "StopLogging")

            // The webhook got the envelope.
            #expect(server.requests.count == 1)
            let posted = try JSONParser.parse(try #require(server.requests.first).body)
            #expect(posted["Type"] == "Notification" && posted["TopicArn"] == envelope["TopicArn"])
            #expect(posted["MessageId"] != nil && posted["MessageId"] == envelope["MessageId"], "one publish, one MessageId for every subscriber, as on SNS")

            // Filter policies: the attribute policy excluded one subscriber, the body policy let one through.
            #expect(project.read("out/deletes-only.msg") == nil, "FilterPolicy eventName [DeleteTrail] must exclude StopLogging")
            #expect((project.read("out/body.ndjson") ?? "").split(separator: "\n").count == 1)
            // The publish, then ops, log, hook, body-filter and slow; pager failed; deletes-only was never queued.
            #expect(result.stdout.contains("deliveries: 6 ok, 1 failed"), "\(result.stdout)")

            // The failing subscriber is dead-lettered on its own.
            let letters = project.read(".tripline/dead-letters/topic:security-alerts.pager.ndjson") ?? ""
            #expect(letters.split(separator: "\n").count == 1, "\(result)")
            #expect(letters.contains("pager is down") || letters.contains("exit"), "\(letters)")
            let list = try tripline.run(["dlq", "list", "--json"], in: dir)
            #expect(list.stdout.contains("pager") && !list.stdout.contains("\"ops\""), "\(list)")

            // The slow subscriber (2 s) did not hold up the others.
            let slow = try #require(project.time("slow"))
            let ops = try #require(project.time("ops"))
            let hook = try #require(server.requests.first?.receivedAt.timeIntervalSince1970)
            #expect(slow - ops > 1.5, "ops at \(ops), slow at \(slow)")
            #expect(slow - hook > 1.5, "webhook at \(hook), slow at \(slow)")
            let fileTime = try FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent("out/alerts.ndjson").path)[.modificationDate] as? Date
            #expect(slow - (fileTime?.timeIntervalSince1970 ?? slow) > 1.5)

            // Reading the same input again delivers nothing twice.
            let again = project.run(tripline, environment: ["HOOK_URL": server.url("/alerts")])
            #expect(again.status == 0, "\(again)")
            #expect(server.requests.count == 1)
            #expect((project.read("out/alerts.ndjson") ?? "").split(separator: "\n").count == 1)
        }
    }

    @Test("a Topic subscription forwards into another topic, filtered by its own policy; the rule's Input shapes the message")
    func forwarding() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try TopicProject(root: dir)
            try project.write("""
                [{"Topic": {"Name": "security-alerts", "Subscriptions": [
                   {"Id": "to-archive", "Topic": "archive", "FilterPolicy": {"severity": ["critical"]}},
                   {"Id": "to-nowhere", "Topic": "archive-2", "FilterPolicy": {"severity": ["low"]}}]}},
                 {"Topic": {"Name": "archive", "Subscriptions": [{"Id": "file", "File": {"Path": "out/archive.ndjson"}}]}},
                 {"Topic": {"Name": "archive-2", "Subscriptions": [{"Id": "file", "File": {"Path": "out/archive-2.ndjson"}}]}}]
                """, "Rules/topics.json")
            try project.write("""
                {"Name": "trail-tampering", "Severity": "critical",
                 "EventPattern": {"source": ["aws.cloudtrail"], "detail": {"eventName": ["StopLogging"]}},
                 "Targets": [{"Id": "alerts", "Topic": "security-alerts", "InputPath": "$.detail.userIdentity"}]}
                """, "Rules/tampering.json")
            let result = project.run(tripline, environment: [:])
            #expect(result.status == 0, "\(result)")
            let lines = (project.read("out/archive.ndjson") ?? "").split(separator: "\n")
            #expect(lines.count == 1, "\(result)")
            let envelope = try JSONParser.parse(Array((lines.first.map(String.init) ?? "").utf8))
            #expect(envelope["TopicArn"] == "arn:tripline:sns:local:000000000000:archive")
            #expect(envelope["MessageAttributes"]?["rule"]?["Value"] == "trail-tampering")
            let message = try JSONParser.parse(Array((envelope["Message"]?.stringValue ?? "").utf8))
            #expect(message["userName"] == "mallory", "the message is the InputPath result")
            #expect(project.read("out/archive-2.ndjson") == nil)
        }
    }

    @Test("two rules publishing the same event to one topic are two messages: every subscription gets both")
    func twoPublishesOfOneEvent() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try TopicProject(root: dir)
            try project.write("""
                {"Topic": {"Name": "alerts", "Subscriptions": [{"Id": "log", "File": {"Path": "out/alerts.ndjson"}, "RawMessageDelivery": true}]}}
                """, "Rules/topics.json")
            try project.write("""
                [{"Name": "low", "EventPattern": {"source": ["aws.cloudtrail"]}, "Targets": [{"Id": "t", "Topic": "alerts", "Input": "{\\"from\\": \\"low\\"}"}]},
                 {"Name": "critical", "EventPattern": {"source": ["aws.cloudtrail"]}, "Targets": [{"Id": "t", "Topic": "alerts", "Input": "{\\"from\\": \\"critical\\"}"}]}]
                """, "Rules/tampering.json")
            let result = try tripline.run(["run", "events.ndjson"], in: dir)
            #expect(result.status == 0, "\(result)")
            let lines = (project.read("out/alerts.ndjson") ?? "").split(separator: "\n").map(String.init)
            #expect(Set(lines.compactMap { try? JSONParser.parse($0)["from"]?.stringValue }) == ["low", "critical"], "\(lines)")
            #expect(lines.count == 2, "\(lines)")
        }
    }

    @Test("a message over SNS's 256 KiB publish limit (body and attributes) is dead-lettered with the reason, not delivered")
    func oversizedPublishIsRefused() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try TopicProject(root: dir)
            try project.write("""
                {"Topic": {"Name": "security-alerts", "Subscriptions": [{"Id": "file", "File": {"Path": "out/alerts.ndjson"}}]}}
                """, "Rules/topics.json")
            // An event just under the 256 KiB event limit: accepted and matched, but with the
            // publish's attributes (rule, severity, eventName) the message is over SNS's limit.
            let prefix = #"{"source":"aws.cloudtrail","detail-type":"AWS API Call via CloudTrail","detail":{"eventName":"StopLogging","eventSource":"cloudtrail.amazonaws.com","padding":""#
            let suffix = #""}}"#
            let padding = String(repeating: "x", count: 262_144 - 8 - prefix.utf8.count - suffix.utf8.count)
            try project.write(prefix + padding + suffix + "\n", "events.ndjson")
            let result = project.run(tripline, environment: [:])
            #expect(result.status == 1, "the publish was dead-lettered: \(result)")
            #expect(project.read("out/alerts.ndjson") == nil)
            let letters = project.read(".tripline/dead-letters/trail-tampering.alerts.ndjson") ?? ""
            #expect(letters.contains("SNS's limit is 262144"), "\(letters.prefix(300)) \(result)")
        }
    }

    @Test("kill -9 at random points of a topic fan-out to a File subscription, then restart until done: every message reaches the file")
    func crashDuringFanOut() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try TopicProject(root: dir)
            try project.write("""
                {"Topic": {"Name": "archive", "Subscriptions": [{"Id": "log", "File": {"Path": "out/archive.ndjson"}, "RawMessageDelivery": true}]}}
                """, "Rules/topics.json")
            try project.write(#"{"Name": "all", "EventPattern": {"source": ["test"]}, "Targets": [{"Id": "pub", "Topic": "archive"}]}"#,
                              "Rules/tampering.json")
            var ids: [String] = []
            for file in 0..<4 {
                var lines: [String] = []
                for index in 0..<1_000 {
                    let id = "evt-\(file)-\(index)"
                    ids.append(id)
                    lines.append(#"{"id": "\#(id)", "source": "test", "detail-type": "t", "account": "1", "region": "r", "time": "2024-01-01T00:00:00Z", "detail": {"n": \#(index)}}"#)
                }
                try project.write(lines.joined(separator: "\n") + "\n", String(format: "logs/part-%03d.ndjson", file))
            }
            let (kills, finished) = try BackgroundRun.killRepeatedly(tripline, ["run", "--synchronous", "normal", "logs"], in: dir,
                                                                     seed: 20_260_401, maxRuns: 60, pause: 50_000...449_999)
            #expect(finished?.status == 0, "the runs never finished: \(String(describing: finished))")
            #expect(kills >= 2, "the test should have crashed the run a few times (\(kills))")
            var counts: [String: Int] = [:]
            for line in (project.read("out/archive.ndjson") ?? "").split(separator: "\n") {
                let id = (try? JSONParser.parse(Array(line.utf8)))?["id"]?.stringValue ?? "unreadable: \(line.prefix(80))"
                counts[id, default: 0] += 1
            }
            #expect(Set(counts.keys) == Set(ids), "missing: \(Set(ids).subtracting(counts.keys).sorted().prefix(5))")
            let duplicates = counts.values.reduce(0) { $0 + $1 - 1 }
            // At a kill, only appends whose completion was not yet committed are repeated: the few in flight.
            #expect(duplicates <= kills * 70, "\(duplicates) duplicates after \(kills) kills")
            let status = try JSONParser.parse(try tripline.run(["status", "--json"], in: dir).stdout)
            #expect(status["pending"] == 0 && status["deadLetters"] == 0)
            print("topic crash test: \(kills) kills, \(ids.count) messages, \(duplicates) duplicates")
        }
    }
}
