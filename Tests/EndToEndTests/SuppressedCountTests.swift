#if canImport(Glibc)
import Glibc
#endif
import Foundation
import LoopbackHTTP
import Testing
import TriplineJSON

/// A project whose rule sends each match to functions, a webhook and a topic, all behind one
/// `Suppress` window of four seconds keyed on the caller.
private struct SuppressProject {
    let root: URL

    init(root: URL) throws {
        self.root = root
        // Appends the count it was given (or "unset") and the payload it read, one line each.
        try write("""
            #!/bin/sh
            name="$1"
            printf '%s\\n' "${TRIPLINE_SUPPRESSED_COUNT-unset}" >> "out/$name.count"
            cat >> "out/$name.msg"
            printf '\\n' >> "out/$name.msg"
            """, "handlers/record.sh")
        chmod(root.appendingPathComponent("handlers/record.sh").path, 0o755)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("out"), withIntermediateDirectories: true)
        try write("""
            {"Topic": {"Name": "alerts", "Subscriptions": [
              {"Id": "sub", "Function": {"Handler": "handlers/record.sh", "Args": ["sub"]}}
            ]}}
            """, "Rules/topics.json")
        let suppress = #"{"Key": "<$.detail.userIdentity.arn>", "WindowSeconds": \#(SuppressProject.window)}"#
        try write("""
            {"Name": "deletes", "EventPattern": {"source": ["aws.s3"]},
             "Targets": [
               {"Id": "fn", "Function": {"Handler": "handlers/record.sh", "Args": ["fn"]}, "Suppress": \(suppress)},
               {"Id": "fn-transformed", "Function": {"Handler": "handlers/record.sh", "Args": ["fn-transformed"]}, "Suppress": \(suppress),
                "InputTransformer": {"InputPathsMap": {"n": "$.detail.eventName"}, "InputTemplate": "{\\"name\\": <n>}"}},
               {"Id": "hook", "Webhook": {"Url": "${HOOK_URL}"}, "Suppress": \(suppress)},
               {"Id": "publish", "Topic": "alerts", "Suppress": \(suppress)}
             ]}
            """, "Rules/deletes.json")
        try write(Self.record(1) + "\n", "first.ndjson")
        try write((2...4).map(Self.record).joined(separator: "\n") + "\n", "second.ndjson")
        try write(Self.record(5) + "\n", "third.ndjson")
    }

    /// The `Suppress` window, in seconds.
    static let window = 4

    /// A DeleteBucket call by the same caller; `n` makes each record (and so its event id) distinct.
    static func record(_ n: Int) -> String {
        #"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","userName":"alice"},"eventTime":"2024-03-01T10:00:0\#(n)Z","eventSource":"s3.amazonaws.com","eventName":"DeleteBucket","awsRegion":"eu-west-1","sourceIPAddress":"198.51.100.7","eventID":"e-\#(n)","eventType":"AwsApiCall","recipientAccountId":"111122223333"}"#
    }

    func write(_ text: String, _ relative: String) throws {
        let url = root.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    func lines(_ relative: String) -> [String] {
        ((try? String(contentsOf: root.appendingPathComponent(relative), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// Runs `tripline run` over `input`, keeping state between runs (the gate's counts live there).
    func run(_ tripline: TriplineBinary, _ input: String, environment: [String: String]) -> TriplineBinary.Result {
        var all = ProcessInfo.processInfo.environment
        all.merge(environment) { _, new in new }
        all["NO_PROXY"] = "127.0.0.1"
        return (try? BackgroundRun(tripline, ["run", "--linger", "0", input], in: root, environment: all).wait())
            ?? TriplineBinary.Result(status: -1, stdout: "", stderr: "could not start")
    }
}

@Suite("Suppress: the held-back count reaches every target kind (end to end)", .serialized)
struct SuppressedCountTests {
    @Test("the next alert after a window carries the count: function environment, webhook header, topic attribute; payloads unchanged")
    func countReachesEveryTarget() throws {
        let tripline = try TriplineBinary.locate()
        let server = try LoopbackHTTPServer()
        try withTemporaryDirectory { dir in
            let project = try SuppressProject(root: dir)
            let environment = ["HOOK_URL": server.url("/hook")]
            // t=0: sent. t≈2.5: three matches held back (within the window of the first). t≈5: the window
            // since the first alert has passed, and the key is still live (seen ≈2.5 s ago): sent with the count.
            for (i, input) in ["first.ndjson", "second.ndjson", "third.ndjson"].enumerated() {
                if i > 0 { usleep(2_200_000) }
                let result = project.run(tripline, input, environment: environment)
                #expect(result.status == 0, "\(result)")
            }

            // The first alert had nothing held back: no variable, no header, no attribute. The next one reports the 3.
            for name in ["fn", "fn-transformed", "sub"] {
                #expect(project.lines("out/\(name).count") == ["unset", "3"], "\(name)")
            }
            let requests = server.requests
            #expect(requests.count == 2)
            #expect(requests.first?.header("Tripline-Suppressed-Count") == nil)
            #expect(requests.last?.header("Tripline-Suppressed-Count") == "3")

            // Payloads are what EventBridge would deliver: the event, or the transformed input, untouched.
            let plain = try project.lines("out/fn.msg").map { try JSONParser.parse($0) }
            #expect(plain.count == 2 && plain.allSatisfy { $0["detail"]?["eventName"] == "DeleteBucket" && $0["suppressedCount"] == nil })
            #expect(project.lines("out/fn-transformed.msg") == [#"{"name":"DeleteBucket"}"#, #"{"name":"DeleteBucket"}"#])
            let posted = try #require(requests.last).body
            #expect(try JSONParser.parse(posted)["detail"]?["eventTime"] == "2024-03-01T10:00:05Z")

            // The topic's message carries it as a String message attribute, only when above 0.
            let envelopes = try project.lines("out/sub.msg").map { try JSONParser.parse($0) }
            #expect(envelopes.count == 2)
            #expect(envelopes.first?["MessageAttributes"]?["suppressedCount"] == nil)
            #expect(envelopes.first?["MessageAttributes"]?["rule"]?["Value"] == "deletes")
            #expect(envelopes.last?["MessageAttributes"]?["suppressedCount"] == ["Type": "String", "Value": "3"])
            let message = try JSONParser.parse(Array(try #require(envelopes.last?["Message"]?.stringValue).utf8))
            #expect(message["detail"]?["eventTime"] == "2024-03-01T10:00:05Z" && message["suppressedCount"] == nil)
        }
    }
}
