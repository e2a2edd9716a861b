import Foundation
import Testing
import TriplineJSON

/// A project laid out as a user would: `Rules/`, `handlers/`, `logs/`, and an `out/` folder where the
/// recording handler leaves what it received.
private struct Project {
    let root: URL
    var out: URL { root.appendingPathComponent("out") }

    /// Writes `text` under the project root.
    func write(_ text: String, _ relative: String) throws {
        try write(Array(text.utf8), relative)
    }

    func write(_ bytes: [UInt8], _ relative: String) throws {
        let url = root.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
    }

    func script(_ body: String, _ relative: String) throws {
        try write("#!/bin/sh\n" + body + "\n", relative)
        chmod(root.appendingPathComponent(relative).path, 0o755)
    }

    /// Gzips a file of the project in place.
    func gzip(_ relative: String) throws {
        try systemGzip(root.appendingPathComponent(relative).path)
    }

    /// What the recording handler saved: one entry per delivery, keyed `target/eventId`.
    func received() throws -> [String: (payload: JSONValue, environment: [String: String])] {
        var result: [String: (JSONValue, [String: String])] = [:]
        let names = (try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? []
        for name in names where name.hasSuffix(".json") {
            let base = String(name.dropLast(5))
            let payload = try JSONParser.parse([UInt8](try Data(contentsOf: out.appendingPathComponent(name))))
            let envText = try String(contentsOf: out.appendingPathComponent(base + ".env"), encoding: .utf8)
            var environment: [String: String] = [:]
            for line in envText.split(separator: "\n") {
                let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                environment[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
            }
            result[base.replacingOccurrences(of: "__", with: "/")] = (payload, environment)
        }
        return result
    }

    /// The standard setup: a recording handler, a failing one, and rules using them.
    static func make(in dir: URL) throws -> Project {
        let project = Project(root: dir)
        try FileManager.default.createDirectory(at: project.out, withIntermediateDirectories: true)
        // Saves standard input and the environment, named after target and event; prints one line.
        try project.script("""
            name="$OUT_DIR/${TRIPLINE_TARGET}__${TRIPLINE_EVENT_ID}"
            cat > "$name.json.tmp"
            /usr/bin/env > "$name.env"
            mv "$name.json.tmp" "$name.json"
            echo "got $TRIPLINE_EVENT_ID attempt $TRIPLINE_ATTEMPT"
            """, "handlers/record.sh")
        try project.script("echo 'cannot do it' >&2\nexit 3", "handlers/fail.sh")
        let environment = #"{"OUT_DIR": "\#(project.out.path)"}"#
        try project.write("""
            [
              {
                "Name": "tampering",
                "State": "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
                "EventPattern": {"source": ["aws.cloudtrail"], "detail": {"eventName": ["StopLogging", "DeleteTrail"]}},
                "Targets": [
                  {"Id": "record", "Function": {"Handler": "handlers/record.sh", "Environment": \(environment), "MaxConcurrency": 2}},
                  {"Id": "detail-only", "InputPath": "$.detail",
                   "Function": {"Handler": "handlers/record.sh", "Environment": \(environment)}}
                ]
              },
              {
                "Name": "new-user",
                "EventPattern": {"detail": {"eventName": ["CreateUser"]}},
                "Targets": [{"Id": "failing", "Function": {"Handler": "handlers/fail.sh"}, "RetryPolicy": {"MaximumRetryAttempts": 0}}]
              }
            ]
            """, "Rules/rules.json")
        return project
    }
}

private func record(_ name: String, source: String = "cloudtrail.amazonaws.com", id: String) -> String {
    #"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"},"eventTime":"2024-03-01T10:00:00Z","eventSource":"\#(source)","eventName":"\#(name)","awsRegion":"eu-west-1","sourceIPAddress":"198.51.100.7","readOnly":false,"eventID":"\#(id)","eventType":"AwsApiCall","recipientAccountId":"111122223333"}"#
}

@Suite("tripline run / normalize / invoke (end to end)")
struct RunCommandTests {
    @Test("run reads real log files, delivers matches to real handlers, and skips a bad record in the middle")
    func runDeliversAndSkipsBadRecord() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try Project.make(in: dir)
            let logDir = "logs/AWSLogs/111122223333/CloudTrail/eu-west-1/2024/03/01"
            // Record 1 is broken JSON (a typo'd literal): reported and skipped; the others still run.
            let records = [record("StopLogging", id: "a-1"), #"{"eventName":"DeleteTrail","readOnly":tru}"#,
                           record("DescribeTrails", id: "a-3"), record("DeleteTrail", id: "a-4")]
            try project.write(#"{"Records":["# + records.joined(separator: ",\n") + "]}", "\(logDir)/111122223333_CloudTrail_eu-west-1_20240301T1000Z_a.json")
            try project.gzip("\(logDir)/111122223333_CloudTrail_eu-west-1_20240301T1000Z_a.json")
            try project.write(record("CreateUser", source: "iam.amazonaws.com", id: "b-1") + "\n", "\(logDir)/111122223333_CloudTrail_eu-west-1_20240301T1005Z_b.ndjson")
            try project.write(#"{"Records":[{"digest":true}]}"#, "\(logDir)/111122223333_CloudTrail-Digest_eu-west-1_20240301T1000Z.json")

            let result = try tripline.run(["run", "--rules", "Rules", "--state-dir", ".state", "logs"], in: dir)
            #expect(result.status == 1, "a bad record and a failed delivery make the exit status 1: \(result)")
            let logFile = "logs/AWSLogs/111122223333/CloudTrail/eu-west-1/2024/03/01/111122223333_CloudTrail_eu-west-1_20240301T1000Z_a.json.gz"
            #expect(result.stderr.contains("\(logFile) Records[1]: invalid JSON: "), "\(result.stderr)")
            #expect(!result.stderr.contains("Records[2]"), "\(result.stderr)")
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(".state").path))

            let received = try project.received()
            #expect(received.count == 4, "two matches × two targets: \(received.keys.sorted())")
            let full = received.filter { $0.key.hasPrefix("record/") }.map(\.value)
            #expect(Set(full.map { $0.payload["detail"]?["eventName"]?.stringValue ?? "?" }) == ["StopLogging", "DeleteTrail"])
            for (payload, environment) in full {
                #expect(payload["detail-type"] == "AWS API Call via CloudTrail")
                #expect(payload["source"] == "aws.cloudtrail")
                #expect(payload["account"] == "111122223333")
                #expect(environment["TRIPLINE_RULE"] == "tampering")
                #expect(environment["TRIPLINE_TARGET"] == "record")
                #expect(environment["TRIPLINE_EVENT_ID"] == payload["id"]?.stringValue)
                #expect(environment["TRIPLINE_IDEMPOTENCY_KEY"] == "\(payload["id"]?.stringValue ?? ""):tampering:record")
                #expect(environment["TRIPLINE_ATTEMPT"] == "1")
                #expect(environment["OUT_DIR"] == project.out.path)
            }
            let detailOnly = received.filter { $0.key.hasPrefix("detail-only/") }.map(\.value.payload)
            #expect(Set(detailOnly.map { $0["eventID"]?.stringValue ?? "?" }) == ["a-1", "a-4"], "InputPath $.detail sends the record alone")

            let lines = result.stdoutLines
            #expect(lines.filter { $0.hasPrefix("[tampering/record] got ") }.count == 2, "\(lines)")
            #expect(lines.contains("[new-user/failing] stderr: cannot do it"), "\(lines)")
            #expect(lines.contains { $0.hasPrefix("[new-user/failing] delivery failed: exit status 3") && $0.contains("_b.ndjson:1)") }, "\(lines)")
            #expect(result.stdout.contains("Summary: 5 events read from 2 sources"), "\(result.stdout)")
            #expect(result.stdout.contains("normalized: 4, bad records: 1"), "\(result.stdout)")
            #expect(result.stdout.contains("deliveries: 4 ok, 1 failed"), "\(result.stdout)")
        }
    }

    @Test("--log-format json: every log line is an object; the summary has the counts")
    func jsonLog() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try Project.make(in: dir)
            try project.write(record("StopLogging", id: "j-1") + "\nnot json\n" + record("CreateUser", source: "iam.amazonaws.com", id: "j-2") + "\n", "events.ndjson")
            let result = try tripline.run(["run", "--rules", "Rules", "--log-format", "json", "events.ndjson"], in: dir)
            #expect(result.status == 1, "\(result)")
            let objects = try result.stdoutLines.map { try JSONParser.parse($0) }
            #expect(objects.allSatisfy { (value: JSONValue) -> Bool in value["type"]?.stringValue != nil })
            let summary = try #require(objects.last)
            #expect(summary["type"] == "summary")
            #expect(summary["eventsRead"] == 3 && summary["badRecords"] == 1 && summary["eventsMatched"] == 2)
            #expect(summary["matchesPerRule"]?["tampering"] == 1 && summary["matchesPerRule"]?["new-user"] == 1)
            #expect(summary["deliveriesSucceeded"] == 2 && summary["deliveriesFailed"] == 1)
            #expect(objects.filter { (value: JSONValue) -> Bool in value["type"]?.stringValue == "delivery" }.count == 3)
            var errors: [JSONValue] = []
            var badInputs: [JSONValue] = []
            for line in result.stderr.split(separator: "\n") {
                let value = try JSONParser.parse(String(line))
                errors.append(value)
                if value["type"]?.stringValue == "badInput" { badInputs.append(value) }
            }
            #expect(badInputs.count == 1, "\(errors)")
            #expect(badInputs.first?["origin"]?.stringValue == "events.ndjson:2", "\(result.stderr)")
        }
    }

    @Test("--log-format json: the lines before the run starts are JSON too (webhook off, rule, state-dir and --follow errors)")
    func jsonLogBeforeTheRunStarts() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try Project.make(in: dir)
            try project.write(#"{"Name": "hook", "EventPattern": {"source": ["aws.s3"]}, "Targets": [{"Id": "w", "Webhook": {"Url": "${TRIPLINE_TEST_UNSET_URL}", "Optional": true}}]}"#,
                              "Rules/hook.json")
            try project.write("{}", "BadRules/bad.json")
            let runs: [(arguments: [String], status: Int32, type: String, text: String)] = [
                (["run", "--ephemeral", "--log-format", "json", "--rules", "Rules", "-"], 0, "note", "webhook hook/w is off"),
                (["run", "--ephemeral", "--log-format", "json", "--rules", "BadRules", "-"], 2, "error", "in the rules; nothing was run"),
                (["run", "--log-format", "json", "--rules", "Rules", "--state-dir", "/dev/null", "-"], 2, "error", "/dev/null"),
                (["run", "--ephemeral", "--log-format", "json", "--rules", "Rules", "--follow", "no-such-dir"], 2, "error", "--follow"),
            ]
            for run in runs {
                let result = try tripline.run(run.arguments, stdin: "", in: dir)
                #expect(result.status == run.status, "\(run.arguments): \(result)")
                let lines = result.stderr.split(separator: "\n").map(String.init)
                var found = false
                for line in lines {
                    let value = try? JSONParser.parse(line)
                    #expect(value?["type"]?.stringValue != nil, "\(run.arguments): not a JSON log line: \(line)")
                    if value?["type"]?.stringValue == run.type, value?["message"]?.stringValue?.contains(run.text) == true { found = true }
                }
                #expect(found, "\(run.arguments): no \(run.type) line with '\(run.text)': \(result.stderr)")
            }
        }
    }

    @Test("the default state directory is the same whether --rules names the folder or a file in it", arguments: [
        ["--rules", "Rules/rules.json"], ["--rules", "Rules"], ["--rules", "./Rules/"], [],
    ])
    func defaultStateDirectory(_ rules: [String]) throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            _ = try Project.make(in: dir)
            let result = try tripline.run(["run"] + rules, stdin: record("DeleteTrail", id: "d-1") + "\n", in: dir)
            #expect(result.status == 0, "\(result)")
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(".tripline/tripline.db").path), "\(rules)")
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("Rules/.tripline").path), "\(rules)")
            for command in [["status"], ["status", "--rules", "Rules/rules.json"]] {
                let status = try tripline.run(command, in: dir)
                #expect(status.status == 0, "\(command) finds the run's state: \(status)")
            }
        }
    }

    @Test("run reads NDJSON from standard input; rule errors stop the run with status 2")
    func stdinAndRuleErrors() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try Project.make(in: dir)
            let result = try tripline.run(["run", "--rules", "Rules"], stdin: record("DeleteTrail", id: "s-1") + "\n", in: dir)
            #expect(result.status == 0, "\(result)")
            #expect(try project.received().count == 2)
            #expect(result.stdout.contains("Summary: 1 event read from 1 source "), "\(result.stdout)")
            #expect(result.stdout.contains("  matched: 1 event\n"), "\(result.stdout)")

            try project.write(#"[{"Name": "broken", "EventPattern": {"detail": {"x": "not-an-array"}}, "Targets": []}]"#, "BadRules/bad.json")
            let bad = try tripline.run(["run", "--rules", "BadRules", "-"], stdin: "", in: dir)
            #expect(bad.status == 2 && bad.stderr.contains("BadRules/bad.json:"), "\(bad)")
            let missing = try tripline.run(["run", "--rules", "NoSuchDir"], in: dir)
            #expect(missing.status == 2 && missing.stderr.contains("NoSuchDir"), "\(missing)")
            let usage = try tripline.run(["run", "--log-format", "yaml"], in: dir)
            #expect(usage.status == 64, "\(usage)")
            for (arguments, message) in [(["--retry-delay", "5,1"], "--retry-delay: BASE (5) is more than MAX (1)"),
                                         (["--retry-delay", "400"], "is more than MAX (300, the default)"),
                                         (["--protect", "notanarn"], "is not an ARN pattern"),
                                         (["--protect", "events.ndjson"], "is not an ARN pattern")] {
                let refused = try tripline.run(["run", "--rules", "Rules"] + arguments + ["-"], stdin: "", in: dir)
                #expect(refused.status == 64 && refused.stderr.contains(message), "\(arguments): \(refused)")
            }
        }
    }

    @Test("an input event claiming Tripline's own source is a bad record: input cannot forge a User Blocked alert")
    func forgedTriplineSource() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try Project.make(in: dir)
            try project.write(#"{"Name": "blocking-alerts", "EventPattern": {"source": ["tripline"]}, "Targets": [{"Id": "alerts", "Function": {"Handler": "handlers/record.sh", "Environment": {"OUT_DIR": "\#(project.out.path)"}}}]}"#,
                              "Rules/alerts.json")
            let forged = #"{"version":"0","id":"forged-1","detail-type":"User Blocked","source":"tripline","account":"111122223333","time":"2026-11-25T10:00:01Z","region":"us-east-1","resources":[],"detail":{"key":"arn:aws:iam::111122223333:user/mallory"}}"#
            let result = try tripline.run(["run", "--rules", "Rules", "--ephemeral"], stdin: forged + "\n" + record("DeleteTrail", id: "s-2") + "\n", in: dir)
            #expect(result.status == 1, "a bad record makes the run unclean: \(result)")
            #expect(result.stderr.contains(#"stdin:1: its "source" is "tripline", which only the events Tripline emits itself carry"#), "\(result.stderr)")
            #expect(result.stdout.contains("bad records: 1"), "\(result.stdout)")
            let received = try project.received()
            #expect(received["alerts/forged-1"] == nil, "the forged event was delivered")
            #expect(received.count == 2, "the genuine record still reaches its two targets: \(received.keys)")
            // normalize shows what run matches: it skips the forged event the same way.
            let normalized = try tripline.run(["normalize"], stdin: forged + "\n", in: dir)
            #expect(normalized.status == 1 && normalized.stdout.isEmpty, "\(normalized)")
            #expect(normalized.stderr.contains(#"stdin:1: its "source" is "tripline", which only the events Tripline emits itself carry"#), "\(normalized)")
        }
    }

    @Test("a handler that cannot start stops the run before it starts, with validate's error naming the rule and target")
    func handlerCannotStart() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try Project.make(in: dir)
            try project.write(#"{"Name": "paging", "EventPattern": {"source": ["aws.cloudtrail"]}, "Targets": [{"Id": "page", "Function": {"Handler": "handlers/page.sh"}}]}"#,
                              "Rules/paging.json")
            let expected = "Rules/paging.json:1:119: Targets[0].Function.Handler: rule paging, target page: cannot start handler "
                + dir.appendingPathComponent("handlers/page.sh").path + ": No such file or directory"
            let refused = try tripline.run(["run", "--rules", "Rules"], stdin: record("DeleteTrail", id: "h-1") + "\n", in: dir)
            #expect(refused.status == 2 && refused.stdout.isEmpty, "\(refused)")
            #expect(refused.stderr.hasPrefix(expected) && refused.stderr.contains("1 handler cannot be started; nothing was run"), "\(refused)")
            #expect(try project.received().isEmpty)
            let validate = try tripline.run(["validate", "Rules"], in: dir)
            #expect(validate.status == 1 && validate.stdoutLines.contains { $0.hasPrefix(expected) }, "\(validate)")
        }
    }

    @Test("a DISABLED rule whose handler cannot start is a warning: the enabled rules run, and validate passes")
    func disabledRuleHandlerIsAWarning() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try Project.make(in: dir)
            try project.write("#!/nonexistent/ruby\nputs 1\n", "handlers/rb.sh")
            chmod(dir.appendingPathComponent("handlers/rb.sh").path, 0o755)
            try project.write(#"{"Name": "off", "State": "DISABLED", "EventPattern": {"source": ["aws.cloudtrail"]}, "Targets": [{"Id": "rb", "Function": {"Handler": "handlers/rb.sh"}}]}"#,
                              "Rules/off.json")
            let warning = "warning: Rules/off.json:1:135: Targets[0].Function.Handler: rule off, target rb: cannot start handler "
                + dir.appendingPathComponent("handlers/rb.sh").path + #": its #! line names the interpreter "/nonexistent/ruby""#
            let result = try tripline.run(["run", "--rules", "Rules", "--ephemeral"], stdin: record("DeleteTrail", id: "d-1") + "\n", in: dir)
            #expect(result.status == 0, "\(result)")
            #expect(result.stderr.contains("tripline run: " + warning) && result.stderr.contains("once the rule is enabled"), "\(result)")
            let received = try project.received()
            #expect(received.count == 2, "the enabled rule delivered to its two targets: \(received.keys.sorted())")
            let validate = try tripline.run(["validate", "Rules"], in: dir)
            #expect(validate.status == 0 && validate.stdoutLines.contains { $0.hasPrefix(warning) }, "\(validate)")
        }
    }

    @Test("--ephemeral: a delivery still waiting for its retry at the end is said to be dropped, not left for a next run")
    func ephemeralRunSaysWhatItDrops() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("Rules"), withIntermediateDirectories: true)
            // Port 9 (discard) on loopback: nothing listens, every attempt fails at once.
            try Data(#"{"Name": "hook", "EventPattern": {"source": ["aws.s3"]}, "Targets": [{"Id": "closed", "Webhook": {"Url": "http://127.0.0.1:9/x"}}]}"#.utf8)
                .write(to: dir.appendingPathComponent("Rules/hook.json"))
            try Data(#"{"eventSource": "s3.amazonaws.com", "eventName": "DeleteBucket", "eventType": "AwsApiCall", "eventTime": "2026-01-01T00:00:00Z"}"#.utf8)
                .write(to: dir.appendingPathComponent("e.json"))
            let result = try tripline.run(["run", "--ephemeral", "--retry-delay", "30,60", "--linger", "0.3", "e.json"], in: dir)
            #expect(result.status == 1, "\(result)")
            #expect(result.stdout.contains("1 still queued at the end, dropped (--ephemeral: nothing survives the run)"), "\(result.stdout)")
            #expect(!result.stdout.contains("next run"), "\(result.stdout)")
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent(".tripline").path), "an ephemeral run writes no state directory")
        }
    }

    @Test("the summary counts a last source that gave no event")
    func summaryCountsSourceWithoutEvents() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try Project.make(in: dir)
            try project.write(record("DescribeTrails", id: "e-1") + "\n", "a.ndjson")
            try project.write("", "b.ndjson")
            let result = try tripline.run(["run", "--rules", "Rules", "--ephemeral", "a.ndjson", "b.ndjson"], in: dir)
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.contains("Summary: 1 event read from 2 sources"), "\(result.stdout)")
        }
    }

    @Test("run --follow reads new files as they arrive and stops cleanly on SIGTERM")
    func follow() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try Project.make(in: dir)
            try project.write(#"{"Records":[\#(record("StopLogging", id: "f-1"))]}"#, "incoming/existing.json")
            let stdoutURL = dir.appendingPathComponent("follow.out"), stderrURL = dir.appendingPathComponent("follow.err")
            _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
            _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
            let process = Process()
            process.executableURL = tripline.url
            process.arguments = ["run", "--rules", "Rules", "--follow", "incoming"]
            process.currentDirectoryURL = dir
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
            process.standardError = try FileHandle(forWritingTo: stderrURL)
            try process.run()
            defer { if process.isRunning { process.interrupt(); process.terminate() } }

            func waitFor(_ count: Int) -> Bool {
                let deadline = Date().addingTimeInterval(20)
                while Date() < deadline {
                    if ((try? project.received().count) ?? 0) >= count { return true }
                    Thread.sleep(forTimeInterval: 0.05)
                }
                return false
            }
            #expect(waitFor(2), "the file already there is read first")
            // A new day directory, and a file written into it, then one moved in.
            try project.write(#"{"Records":[\#(record("DeleteTrail", id: "f-2"))]}"#, "incoming/2024/03/02/new.json")
            #expect(waitFor(4), "a file written into a new subdirectory is read")
            try project.write(#"{"Records":[\#(record("StopLogging", id: "f-3"))]}"#, "staging.json.tmp")
            try FileManager.default.moveItem(at: dir.appendingPathComponent("staging.json.tmp"), to: dir.appendingPathComponent("incoming/moved.json"))
            #expect(waitFor(6), "a file moved in is read")

            process.terminate()  // SIGTERM
            process.waitUntilExit()
            let stdout = try String(contentsOf: stdoutURL, encoding: .utf8)
            #expect(process.terminationStatus == 0, "\(stdout)\n\(String(describing: try? String(contentsOf: stderrURL, encoding: .utf8)))")
            #expect(stdout.contains("Summary (stopped early): 3 events read from 3 sources"), "\(stdout)")
        }
    }

    @Test("normalize prints one envelope per line and reports bad records")
    func normalize() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = Project(root: dir)
            try project.write(#"{"Records":[\#(record("StopLogging", id: "n-1")),{"bad":true},\#(record("CreateUser", source: "iam.amazonaws.com", id: "n-2"))]}"#, "log.json")
            let result = try tripline.run(["normalize", "log.json"], in: dir)
            #expect(result.status == 1, "\(result)")
            let envelopes = try result.stdoutLines.map { try JSONParser.parse($0) }
            #expect(envelopes.map { $0["source"]?.stringValue ?? "?" } == ["aws.cloudtrail", "aws.iam"])
            for envelope in envelopes {
                #expect(envelope["detail-type"]?.stringValue == "AWS API Call via CloudTrail" && envelope["id"]?.stringValue != nil)
            }
            #expect(result.stderr.contains("log.json Records[1]: not a CloudTrail record or EventBridge event"), "\(result.stderr)")

            let again = try tripline.run(["normalize"], stdin: result.stdout, in: dir)
            #expect(again.status == 0 && again.stdout == result.stdout, "envelopes pass through unchanged: \(again)")
        }
    }

    @Test("a CloudTrail digest file given as an input is skipped with one note, and the exit status is not affected")
    func digestFileGivenExplicitly() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try Project.make(in: dir)
            let digest = #"{"awsAccountId":"111122223333","digestStartTime":"2024-03-01T10:00:00Z","digestEndTime":"2024-03-01T11:00:00Z","# +
                #""digestS3Bucket":"b","digestS3Object":"o","newestEventTime":"2024-03-01T10:00:00Z","previousDigestHashValue":null,"# +
                #""logFiles":[{"s3Bucket":"b","s3Object":"AWSLogs/111122223333/CloudTrail/eu-west-1/2024/03/01/x.json.gz","hashValue":"00"}]}"#
            let name = "111122223333_CloudTrail-Digest_eu-west-1_trail_eu-west-1_20240301T110000Z.json"
            try project.write(digest, name)
            try project.gzip(name)
            try project.write(record("DescribeTrails", id: "d-1") + "\n", "a.ndjson")
            let note = "\(name).gz is a CloudTrail digest file (no events); skipped"

            let normalized = try tripline.run(["normalize", name + ".gz", "a.ndjson"], in: dir)
            #expect(normalized.status == 0, "\(normalized)")
            #expect(normalized.stdoutLines.count == 1, "\(normalized)")
            #expect(normalized.stderr.split(separator: "\n").map(String.init) == [note], "\(normalized)")

            let run = try tripline.run(["run", "--rules", "Rules", "--ephemeral", name + ".gz", "a.ndjson"], in: dir)
            #expect(run.status == 0, "\(run)")
            #expect(run.stderr.contains(note), "\(run.stderr)")
            #expect(!run.stderr.contains("not a CloudTrail record"), "\(run.stderr)")
            #expect(run.stdout.contains("Summary: 1 event read from 2 sources"), "\(run.stdout)")
            #expect(run.stdout.contains("bad records: 0"), "\(run.stdout)")
        }
    }

    @Test("normalize on standard input prints each envelope before it waits for the next line")
    func normalizeStreams() throws {
        let tripline = try InteractiveTripline(try TriplineBinary.locate(), ["normalize"])
        for (name, id) in [("StopLogging", "s-1"), ("CreateUser", "s-2")] {
            tripline.send(record(name, id: id))
            let envelope = try JSONParser.parse(try tripline.readLine(within: 10))
            #expect(envelope["detail"]?["eventName"]?.stringValue == name)
        }
        #expect(try tripline.finish() == 0)
    }

    @Test("invoke runs one handler with the event and passes on its exit status")
    func invoke() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try Project.make(in: dir)
            try project.write(record("StopLogging", id: "i-1"), "event.json")
            let ok = try tripline.run(["invoke", "handlers/record.sh", "--event", "event.json", "--rule", "manual-rule",
                                       "--target", "record", "--env", "OUT_DIR=\(project.out.path)"], in: dir)
            #expect(ok.status == 0, "\(ok)")
            #expect(ok.stdout.hasPrefix("got "), "\(ok)")
            #expect(ok.stderr.contains("exit status 0"), "\(ok)")
            let received = try project.received()
            #expect(received.count == 1)
            let (payload, environment) = try #require(received.values.first)
            #expect(payload["detail"]?["eventID"] == "i-1")
            #expect(environment["TRIPLINE_RULE"] == "manual-rule")

            let failing = try tripline.run(["invoke", "handlers/fail.sh", "--event", "event.json"], in: dir)
            #expect(failing.status == 3 && failing.stderr.contains("cannot do it"), "\(failing)")

            try project.script("sleep 30", "handlers/slow.sh")
            let slow = try tripline.run(["invoke", "handlers/slow.sh", "--event", "event.json", "--timeout", "0.3"], in: dir)
            #expect(slow.status == 124 && slow.stderr.contains("timed out"), "\(slow)")

            let badEvent = try tripline.run(["invoke", "handlers/record.sh", "--event", "missing.json"], in: dir)
            #expect(badEvent.status == 2 && badEvent.stderr.contains("missing.json"), "\(badEvent)")
        }
    }

    @Test("invoke prints handler output as run does: escape sequences, CRs and bidi overrides shown as escapes")
    func invokeEscapesOutput() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try Project.make(in: dir)
            try project.write(record("StopLogging", id: "i-2"), "event.json")
            try project.script(#"printf 'x\033[31mRED\033]0;title\007\r\nfake\rline\n'; printf 'err \342\200\256txt.exe' >&2"#, "handlers/loud.sh")
            let result = try tripline.run(["invoke", "handlers/loud.sh", "--event", "event.json"], in: dir)
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout == "x\\x1b[31mRED\\x1b]0;title\\x07\nfake\\x0dline\n", "\(result)")
            #expect(result.stderr.hasPrefix("err \\u202etxt.exe\n"), "\(result)")
            #expect(!result.stdout.contains("\u{1B}") && !result.stderr.contains("\u{202E}"), "\(result)")
        }
    }
}
