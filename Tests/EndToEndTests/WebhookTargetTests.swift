#if canImport(Glibc)
import Glibc
#endif
import Foundation
import LoopbackHTTP
import Testing
import TriplineJSON
import TriplineTargets

/// A project with one rule whose webhook target posts to `${HOOK_URL}`.
private struct WebhookProject {
    let root: URL

    init(root: URL, webhook: String, retries: Int = 185) throws {
        self.root = root
        let rule = """
            {"Name": "trail-tampering", "Description": "CloudTrail logging was stopped", "Severity": "critical",
             "EventPattern": {"source": ["aws.cloudtrail"], "detail": {"eventName": ["StopLogging"]}},
             "Targets": [{"Id": "alert", "Webhook": \(webhook), "RetryPolicy": {"MaximumRetryAttempts": \(retries)}}]}
            """
        try write(rule, "Rules/tampering.json")
        let record = #"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/mallory","accountId":"111122223333","userName":"mallory","accessKeyId":"AKIAEXAMPLE"},"eventTime":"2024-03-01T10:00:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"eu-west-1","sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2.15","readOnly":false,"eventID":"e-1","eventType":"AwsApiCall","recipientAccountId":"111122223333"}"#
        try write(record + "\n", "events.ndjson")
    }

    func write(_ text: String, _ relative: String) throws {
        let url = root.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    /// Runs `tripline run` with `environment` added to this process's.
    func run(_ tripline: TriplineBinary, _ arguments: [String], environment: [String: String]) -> TriplineBinary.Result {
        (try? start(tripline, ["run"] + arguments + ["events.ndjson"], environment: environment).wait())
            ?? TriplineBinary.Result(status: -1, stdout: "", stderr: "could not start")
    }

    /// Starts `tripline arguments…` in the background, with `environment` added to this process's.
    func start(_ tripline: TriplineBinary, _ arguments: [String], environment: [String: String]) throws -> BackgroundRun {
        var all = ProcessInfo.processInfo.environment
        all.merge(environment) { _, new in new }
        all["NO_PROXY"] = "127.0.0.1"
        return try BackgroundRun(tripline, arguments, in: root, environment: all)
    }
}

@Suite("Webhook targets: Slack alerts, signing, retries, dead letters, secrets (end to end)", .serialized)
struct WebhookTargetTests {
    static let token = "T0KEN-s3cr3t-path"

    @Test("a Slack-format alert arrives with text and blocks, signed, with the idempotency key as webhook-id")
    func slackAlertArrivesSigned() throws {
        let tripline = try TriplineBinary.locate()
        let server = try LoopbackHTTPServer()
        try withTemporaryDirectory { dir in
            let project = try WebhookProject(root: dir, webhook: #"{"Url": "${HOOK_URL}", "Format": "slack", "SigningSecretVariable": "HOOK_SECRET"}"#)
            let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
            let result = project.run(tripline, [], environment: ["HOOK_URL": server.url("/hook/\(Self.token)"), "HOOK_SECRET": secret])
            #expect(result.status == 0, "\(result)")
            let requests = server.requests
            #expect(requests.count == 1)
            let request = try #require(requests.first)
            #expect(request.method == "POST" && request.path == "/hook/\(Self.token)")
            let body = try JSONParser.parse(request.body)
            let text = try #require(body["text"]?.stringValue)
            #expect(text.contains("trail-tampering") && text.contains("mallory") && text.contains("StopLogging"), "\(text)")
            #expect((body["blocks"]?.arrayValue?.count ?? 0) >= 2)
            let id = try #require(request.header("webhook-id"))
            #expect(id.hasSuffix(":trail-tampering:alert"), "the idempotency key: \(id)")
            let verified = StandardWebhookSignature.verify(
                id: id, timestamp: request.header("webhook-timestamp") ?? "", signatureHeader: request.header("webhook-signature") ?? "",
                body: request.body, secret: try StandardWebhookSignature.Secret(parsing: secret), now: Int(Date().timeIntervalSince1970))
            #expect(verified, "the signature must verify independently")
            #expect(!result.stdout.contains(Self.token) && !result.stderr.contains(Self.token))
        }
    }

    @Test("500s and 429 + Retry-After are retried (waiting as told) until delivered")
    func serverErrorsAreRetried() throws {
        let tripline = try TriplineBinary.locate()
        let counter = Counter()
        let server = try LoopbackHTTPServer { _ in
            switch counter.next() {
            case 1: return .text(500, "oops")
            case 2: return .tooManyRequests(retryAfter: "1")
            default: return .ok()
            }
        }
        try withTemporaryDirectory { dir in
            let project = try WebhookProject(root: dir, webhook: #"{"Url": "${HOOK_URL}"}"#)
            let result = project.run(tripline, ["--retry-delay", "0.05,0.1"], environment: ["HOOK_URL": server.url("/in")])
            #expect(result.status == 0, "\(result)")
            let times = server.requests.map(\.receivedAt)
            #expect(times.count == 3)
            if times.count == 3 { #expect(times[2].timeIntervalSince(times[1]) >= 0.95, "Retry-After: 1 must be honoured") }
            #expect(result.stdout.contains("delivery failed: HTTP 500"), "\(result.stdout)")
            #expect(result.stdout.contains("deliveries: 1 ok, 0 failed; 2 failed attempts"), "\(result.stdout)")
            // The body is the matched event by default.
            #expect(try JSONParser.parse(server.requests[2].body)["detail"]?["eventName"] == "StopLogging")
        }
    }

    @Test("a 400 goes straight to the dead letters with the status and body; the secret in the URL never shows")
    func clientErrorIsDeadLettered() throws {
        let tripline = try TriplineBinary.locate()
        let server = try LoopbackHTTPServer { request in .text(400, "no such channel for \(request.path)") }
        try withTemporaryDirectory { dir in
            let project = try WebhookProject(root: dir, webhook: #"{"Url": "${HOOK_URL}"}"#)
            let result = project.run(tripline, [], environment: ["HOOK_URL": server.url("/hook/\(Self.token)")])
            #expect(result.status == 1, "\(result)")
            #expect(server.requests.count == 1, "no retries for a 400")
            #expect(result.stdout.contains("dead-lettered: a permanent failure: HTTP 400"), "\(result.stdout)")
            let letters = try tripline.run(["dlq", "list", "--json"], in: dir)
            #expect(letters.stdout.contains("HTTP 400") && letters.stdout.contains("no such channel"), "\(letters)")
            let everything = result.stdout + result.stderr + letters.stdout
                + ((try? String(contentsOf: dir.appendingPathComponent(".tripline/dead-letters/trail-tampering.alert.ndjson"), encoding: .utf8)) ?? "")
            #expect(!everything.contains(Self.token), "the secret part of the URL is redacted everywhere")
            #expect(everything.contains("${HOOK_URL}"))
        }
    }

    @Test("at the shutdown timeout a hanging webhook is cut off like a handler: a failed attempt, retried next time (run and dlq redrive)")
    func shutdownCutsOffHangingWebhooks() throws {
        let tripline = try TriplineBinary.locate()
        let counter = Counter()
        // 1st request hangs (run), 2nd is refused (dead letter), 3rd hangs (redrive), then success.
        let server = try LoopbackHTTPServer { _ in
            switch counter.next() {
            case 1, 3: return LoopbackResponse.ok().delayed(by: 60)
            case 2: return .text(400, "not now")
            default: return .ok()
            }
        }
        defer { server.stop() }
        try withTemporaryDirectory { dir in
            let project = try WebhookProject(root: dir, webhook: #"{"Url": "${HOOK_URL}", "TimeoutSeconds": 120}"#)
            let environment = ["HOOK_URL": server.url("/in")]
            func stopWhenRequested(_ count: Int, _ arguments: [String]) throws -> (TriplineBinary.Result, Double) {
                let process = try project.start(tripline, arguments, environment: environment)
                #expect(server.waitForRequests(count, timeoutSeconds: 20))
                let signalled = Date()
                process.signal(SIGTERM)
                let result = process.wait()
                return (result, Date().timeIntervalSince(signalled))
            }
            let (stopped, took) = try stopWhenRequested(1, ["run", "--shutdown-timeout", "0.5", "events.ndjson"])
            #expect(took < 3, "the run took \(took)s after the signal (shutdown timeout 0.5s)")
            #expect(stopped.status == 0, "\(stopped)")
            #expect(stopped.stdout.contains("1 failed attempt") && stopped.stdout.contains("1 left queued for the next run"), "\(stopped.stdout)")
            let queued = try tripline.run(["status", "--json"], in: dir)
            #expect(queued.stdout.contains("\"retrying\":1"), "the cut-off attempt is booked as a failed one: \(queued.stdout)")

            let refused = project.run(tripline, [], environment: environment)
            #expect(refused.stdout.contains("dead-lettered"), "\(refused.stdout)")
            let letter = try tripline.run(["dlq", "show", "1"], in: dir)
            #expect(letter.stdout.contains("attempts:        2") && letter.stdout.contains("#1 at") && letter.stdout.contains("interrupted"),
                    "the interrupted attempt is the first of the history: \(letter.stdout)")

            let (redriven, redriveTook) = try stopWhenRequested(3, ["dlq", "redrive", "--shutdown-timeout", "0.5"])
            #expect(redriveTook < 3, "dlq redrive took \(redriveTook)s after the signal (shutdown timeout 0.5s)")
            #expect(redriven.stdout.contains("1 failed attempt") && redriven.stdout.contains("1 left queued for the next run"), "\(redriven.stdout)")

            let resumed = project.run(tripline, [], environment: environment)
            #expect(resumed.status == 0 && resumed.stdout.contains("1 ok"), "\(resumed)")
            #expect(server.requestCount == 4)
        }
    }

    @Test("a Url with a trailing CR once expanded stops the run before it starts, naming the character and the variable, not the value")
    func urlWithCarriageReturnIsRefusedAtStart() throws {
        let tripline = try TriplineBinary.locate()
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        try withTemporaryDirectory { dir in
            let project = try WebhookProject(root: dir, webhook: #"{"Url": "${HOOK_URL}", "Optional": true}"#)
            let refused = project.run(tripline, [], environment: ["HOOK_URL": server.url("/hook/\(Self.token)") + "\r"])
            #expect(refused.status == 2, "\(refused)")
            #expect(refused.stderr.contains("carriage return (CR, U+000D) at the end once expanded (from the value of HOOK_URL"), "\(refused.stderr)")
            #expect(!refused.stderr.contains("set the missing variables") && refused.stderr.contains("cannot be used as configured"), "\(refused.stderr)")
            #expect(!refused.stderr.contains(Self.token) && server.requestCount == 0)

            try project.write("""
                {"Name": "literal", "EventPattern": {"source": ["aws.cloudtrail"]},
                 "Targets": [{"Id": "a", "Webhook": {"Url": "http://127.0.0.1:1/x\\r\\nX-Evil: 1"}},
                             {"Id": "b", "Webhook": {"Url": "file:///etc/passwd"}}]}
                """, "Rules/tampering.json")
            let validated = try tripline.run(["validate", "Rules"], in: dir)
            #expect(validated.status == 1, "\(validated)")
            #expect(validated.stdout.contains("Targets[0].Webhook.Url") && validated.stdout.contains("carriage return"), "\(validated)")
            #expect(validated.stdout.contains("Targets[1].Webhook.Url") && validated.stdout.contains("not file:"), "\(validated)")
        }
    }

    @Test("control and bidi override characters in a server's reply are escaped in the run log, dlq list and dlq show")
    func hostileReplyIsEscapedOnTheTerminal() throws {
        let tripline = try TriplineBinary.locate()
        let hostile = "\u{1B}[31mRED \u{9B}31m C1CSI \u{202E}RLO \u{2066}LRI"
        let server = try LoopbackHTTPServer { _ in .text(400, hostile) }
        defer { server.stop() }
        try withTemporaryDirectory { dir in
            let project = try WebhookProject(root: dir, webhook: #"{"Url": "${HOOK_URL}"}"#)
            let result = project.run(tripline, [], environment: ["HOOK_URL": server.url("/in")])
            let list = try tripline.run(["dlq", "list"], in: dir)
            let show = try tripline.run(["dlq", "show", "1"], in: dir)
            #expect(list.stdout.contains("\\u009b31m C1CSI \\u202eRLO \\u2066LRI"), "\(list.stdout)")
            #expect(show.stdout.contains("\\u202eRLO"), "\(show.stdout)")
            for output in [result.stdout, result.stderr, list.stdout, show.stdout] {
                let raw = output.unicodeScalars.filter { $0.value == 0x1B || $0.value == 0x9B || $0.value == 0x202E || $0.value == 0x2066 }
                #expect(raw.isEmpty, "raw control or bidi characters in: \(output)")
            }
        }
    }

    @Test("requests a stop cuts off while they wait for their rate-limit slot were never sent: no attempt counted, none dead-lettered, sent by the next run")
    func stopLeavesRateLimitedRequestsUnattempted() throws {
        let tripline = try TriplineBinary.locate()
        let server = try LoopbackHTTPServer { _ in .ok() }
        defer { server.stop() }
        try withTemporaryDirectory { dir in
            // No retries at all: before, each request the stop cut off counted as a failed attempt and was dead-lettered unsent.
            let project = try WebhookProject(root: dir, webhook: #"{"Url": "${HOOK_URL}", "RateLimitPerSecond": 0.5}"#, retries: 0)
            let records = (1...3).map { #"{"eventVersion":"1.08","eventTime":"2024-03-01T10:00:0\#($0)Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"eu-west-1","eventID":"e-\#($0)","eventType":"AwsApiCall","recipientAccountId":"111122223333"}"# }
            try project.write(records.joined(separator: "\n") + "\n", "events.ndjson")
            let environment = ["HOOK_URL": server.url("/in")]
            let process = try project.start(tripline, ["run", "--shutdown-timeout", "0.3", "events.ndjson"], environment: environment)
            #expect(server.waitForRequests(1, timeoutSeconds: 20))
            process.signal(SIGTERM)
            let stopped = process.wait()
            #expect(stopped.status == 0, "\(stopped)")
            #expect(server.requestCount == 1, "the other two wait 2 s and 4 s for their slots")
            #expect(stopped.stdout.contains("not sent: the run is stopping") && !stopped.stdout.contains("dead-lettered"), "\(stopped.stdout)")
            #expect(!stopped.stdout.contains("failed attempt"), "\(stopped.stdout)")
            let status = try tripline.run(["status", "--json"], in: dir)
            #expect(status.stdout.contains("\"retrying\":0") && status.stdout.contains("\"deadLetters\":0"), "no attempt booked: \(status.stdout)")

            let resumed = project.run(tripline, [], environment: environment)
            #expect(resumed.status == 0 && resumed.stdout.contains("2 ok"), "\(resumed)")
            #expect(server.requestCount == 3)
        }
    }

    @Test("a 429 with Retry-After pauses every delivery to that URL, from every target, not only the one told")
    func retryAfterPausesTheWholeURL() throws {
        let tripline = try TriplineBinary.locate()
        let counter = Counter()
        let server = try LoopbackHTTPServer { _ in counter.next() == 1 ? .tooManyRequests(retryAfter: "2") : .ok() }
        defer { server.stop() }
        try withTemporaryDirectory { dir in
            let project = try WebhookProject(root: dir, webhook: #"{"Url": "${HOOK_URL}", "MaxConcurrency": 1}"#)
            try project.write("""
                {"Name": "trail-tampering", "EventPattern": {"source": ["aws.cloudtrail"]},
                 "Targets": [{"Id": "a", "Webhook": {"Url": "${HOOK_URL}", "MaxConcurrency": 1}},
                             {"Id": "b", "Webhook": {"Url": "${HOOK_URL}", "MaxConcurrency": 1}}]}
                """, "Rules/tampering.json")
            let records = (1...3).map { #"{"eventVersion":"1.08","eventTime":"2024-03-01T10:00:0\#($0)Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"eu-west-1","eventID":"e-\#($0)","eventType":"AwsApiCall","recipientAccountId":"111122223333"}"# }
            try project.write(records.joined(separator: "\n") + "\n", "events.ndjson")
            let result = project.run(tripline, [], environment: ["HOOK_URL": server.url("/in")])
            #expect(result.status == 0 && result.stdout.contains("6 ok"), "\(result)")
            let times = server.requests.map(\.receivedAt)
            #expect(times.count == 7, "6 deliveries and the one 429")
            if let first = times.first {
                let early = times.dropFirst().filter { $0.timeIntervalSince(first) < 1.9 }
                #expect(early.count <= 1, "after the 429, only a request already in flight may arrive within the 2 s: \(times.map { $0.timeIntervalSince(first) })")
            }
        }
    }

    @Test("a missing variable stops the run before it starts, naming it; an Optional target is switched off instead")
    func missingVariables() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try WebhookProject(root: dir, webhook: #"{"Url": "${UNSET_HOOK_URL_FOR_TEST}"}"#)
            let refused = project.run(tripline, [], environment: [:])
            #expect(refused.status == 2 && refused.stderr.contains("UNSET_HOOK_URL_FOR_TEST"), "\(refused)")
            // Several missing at once are named at once, not one per attempt.
            try project.write("""
                {"Name": "trail-tampering", "EventPattern": {"source": ["aws.cloudtrail"]},
                 "Targets": [{"Id": "alert", "Webhook": {"Url": "${UNSET_HOOK_URL_FOR_TEST}/a", "Headers": {"Authorization": "Bearer ${UNSET_TOKEN_FOR_TEST}"}}}]}
                """, "Rules/tampering.json")
            let both = project.run(tripline, [], environment: [:])
            #expect(both.status == 2 && both.stderr.contains("target alert: needs environment variables UNSET_HOOK_URL_FOR_TEST, UNSET_TOKEN_FOR_TEST, which are not set or empty"), "\(both)")
            try project.write("""
                {"Name": "trail-tampering", "EventPattern": {"source": ["aws.cloudtrail"]},
                 "Targets": [{"Id": "alert", "Webhook": {"Url": "${UNSET_HOOK_URL_FOR_TEST}", "Optional": true}}]}
                """, "Rules/tampering.json")
            let optional = project.run(tripline, [], environment: [:])
            #expect(optional.status == 0 && optional.stderr.contains("webhook trail-tampering/alert is off"), "\(optional)")
        }
    }
}

/// Counts calls from the server's threads.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }
}
