import Foundation
import Testing
import TriplineJSON

/// A small project directory for `tripline test` and `tripline explain`: `Rules/` and event files.
private struct Project {
    let root: URL

    func write(_ text: String, to path: String) throws {
        let url = root.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }
}

/// A raw CloudTrail record (the shape of the shared data), with `eventName`, `readOnly` and caller type.
private func record(_ eventName: String, source: String = "cloudtrail", readOnly: Bool = false, userType: String = "IAMUser") -> String {
    #"{"eventVersion": "1.08", "userIdentity": {"type": "\#(userType)", "principalId": "AIDAEXAMPLE", "arn": "arn:aws:iam::123456789012:user/alice", "accountId": "123456789012", "userName": "alice"}, "eventTime": "2023-07-10T12:00:00Z", "eventSource": "\#(source).amazonaws.com", "eventName": "\#(eventName)", "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7", "userAgent": "aws-cli/2", "requestParameters": {"name": "main-trail"}, "responseElements": null, "readOnly": \#(readOnly), "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "123456789012", "eventCategory": "Management"}"#
}

/// A rule file with `tests` as the `Tests` array's members.
private func ruleFile(name: String = "trail-stopped", state: String = "ENABLED", pattern: String? = nil, tests: [String]) -> String {
    let pattern = pattern ?? #"{"source": ["aws.cloudtrail"], "detail": {"eventName": ["StopLogging", "DeleteTrail"]}}"#
    return """
        {
          "Name": "\(name)",
          "State": "\(state)",
          "EventPattern": \(pattern),
          "Targets": [{"Id": "notify", "Function": {"Handler": "Handlers/notify.sh"}}],
          "Tests": [
            \(tests.joined(separator: ",\n    "))
          ]
        }
        """
}

private func withProject<T>(_ body: (Project) throws -> T) throws -> T {
    try withTemporaryDirectory { dir in try body(Project(root: dir)) }
}

@Suite("tripline test (end to end)")
struct TestCommandTests {
    @Test("passing tests print PASS lines and the summary, exit 0; raw records, envelopes and EventFiles all work")
    func passing() throws {
        let tripline = try TriplineBinary.locate()
        try withProject { project in
            let envelope = #"{"version": "0", "id": "1", "detail-type": "AWS API Call via CloudTrail", "source": "aws.cloudtrail", "account": "123456789012", "time": "2023-07-10T12:00:00Z", "region": "us-east-1", "resources": [], "detail": \#(record("StartLogging"))}"#
            try project.write(ruleFile(tests: [
                #"{"Name": "raw record of StopLogging", "Event": \#(record("StopLogging")), "Matches": true}"#,
                #"{"Name": "envelope of StartLogging", "Event": \#(envelope), "Matches": false}"#,
                #"{"Name": "DeleteTrail from a file", "EventFile": "events/delete.json", "Matches": true}"#,
                #"{"Name": "one-record log file", "EventFile": "events/log.json.gz", "Matches": true}"#,
            ]), to: "Rules/trail-stopped.json")
            try project.write("{\n  \"note\": 1,\n" + record("DeleteTrail").dropFirst(), to: "events/delete.json")
            // A log file with one record, gzipped, as CloudTrail delivers it.
            let plain = project.root.appendingPathComponent("log.json")
            try Data(#"{"Records": [\#(record("StopLogging"))]}"#.utf8).write(to: plain)
            let gzip = Process()
            gzip.executableURL = URL(fileURLWithPath: "/bin/sh")
            gzip.arguments = ["-c", "gzip -c log.json > events/log.json.gz"]
            gzip.currentDirectoryURL = project.root
            try gzip.run()
            gzip.waitUntilExit()
            let result = try tripline.run(["test"], in: project.root)
            #expect(result.status == 0, "\(result)")
            #expect(result.stdoutLines == [
                "PASS trail-stopped: raw record of StopLogging",
                "PASS trail-stopped: envelope of StartLogging",
                "PASS trail-stopped: DeleteTrail from a file",
                "PASS trail-stopped: one-record log file",
                "4 passed, 0 failed",
            ], "\(result)")
        }
    }

    @Test("a failing test says why on its FAIL line, explains field by field, and exits 1")
    func failing() throws {
        let tripline = try TriplineBinary.locate()
        try withProject { project in
            try project.write(ruleFile(tests: [
                #"{"Name": "StartLogging should not fire", "Event": \#(record("StartLogging")), "Matches": true}"#,
                #"{"Name": "StopLogging fires", "Event": \#(record("StopLogging")), "Matches": false}"#,
                #"{"Name": "ok", "Event": \#(record("StopLogging")), "Matches": true}"#,
            ]), to: "Rules/trail-stopped.json")
            let result = try tripline.run(["test", "Rules"], in: project.root)
            #expect(result.status == 1, "\(result)")
            let lines = result.stdoutLines
            #expect(lines.first == #"FAIL trail-stopped: StartLogging should not fire: expected a match, got none: detail.eventName: "StartLogging" matches none of "StopLogging", "DeleteTrail""#, "\(result)")
            #expect(lines.contains(#"      ✓ source: "aws.cloudtrail" matches "aws.cloudtrail""#), "\(result)")
            #expect(lines.contains(#"      ✗ detail.eventName: "StartLogging" matches none of "StopLogging", "DeleteTrail""#), "\(result)")
            #expect(lines.contains { $0.hasPrefix(#"FAIL trail-stopped: StopLogging fires: expected no match, but the rule receives it: matches: detail.eventName: "StopLogging" matches "StopLogging"; source: "aws.cloudtrail""#) }, "\(result)")
            #expect(lines.contains("PASS trail-stopped: ok"))
            #expect(lines.last == "1 passed, 2 failed")
        }
    }

    @Test("the rule's State counts: ENABLED does not receive read-only management events")
    func stateSemantics() throws {
        let tripline = try TriplineBinary.locate()
        try withProject { project in
            let pattern = #"{"detail": {"userIdentity": {"type": ["Root"]}}}"#
            let readOnly = record("ListBuckets", source: "s3", readOnly: true, userType: "Root")
            try project.write(ruleFile(name: "root-enabled", pattern: pattern, tests: [
                #"{"Name": "root lists buckets", "Event": \#(readOnly), "Matches": true}"#,
            ]), to: "Rules/a.json")
            try project.write(ruleFile(name: "root-all", state: "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS", pattern: pattern, tests: [
                #"{"Name": "root lists buckets", "Event": \#(readOnly), "Matches": true}"#,
            ]), to: "Rules/b.json")
            try project.write(ruleFile(name: "root-disabled", state: "DISABLED", pattern: pattern, tests: [
                #"{"Name": "nothing when disabled", "Event": \#(readOnly), "Matches": false}"#,
            ]), to: "Rules/c.json")
            let result = try tripline.run(["test"], in: project.root)
            #expect(result.status == 1, "\(result)")
            #expect(result.stdoutLines.contains { $0.hasPrefix("FAIL root-enabled: root lists buckets: the pattern matches, but State ENABLED does not receive read-only management events (detail.readOnly is true)") }, "\(result)")
            #expect(result.stdoutLines.contains("PASS root-all: root lists buckets"), "\(result)")
            #expect(result.stdoutLines.contains("PASS root-disabled: nothing when disabled"), "\(result)")
            #expect(result.stdoutLines.last == "2 passed, 1 failed")
            let one = try tripline.run(["test", "--rule", "root-all", "--rule", "root-disabled"], in: project.root)
            #expect(one.status == 0 && one.stdoutLines.last == "2 passed, 0 failed", "\(one)")
        }
    }

    @Test("malformed Tests entries fail with file:line:column, the JSON path and what was expected")
    func malformed() throws {
        let tripline = try TriplineBinary.locate()
        try withProject { project in
            try project.write(ruleFile(tests: [
                #"{"Name": "yes is not a boolean", "Event": \#(record("StopLogging")), "Matches": "yes"}"#,
                #"{"Name": "no event", "Matches": true}"#,
                #"{"Name": "misspelt", "Evnt": {}, "Event": \#(record("StopLogging")), "Matches": true}"#,
                #"{"Name": "missing file", "EventFile": "events/none.json", "Matches": true}"#,
                #"{"Name": "not an event", "Event": {"hello": "world"}, "Matches": true}"#,
                #""just a string""#,
                #"{"Name": "ok", "Event": \#(record("StopLogging")), "Matches": true}"#,
                #"{"Name": "ok", "Event": \#(record("StopLogging")), "Matches": true}"#,
            ]), to: "Rules/trail-stopped.json")
            let result = try tripline.run(["test"], in: project.root)
            #expect(result.status == 1, "\(result)")
            let lines = result.stdoutLines
            #expect(lines.contains { $0.hasPrefix("FAIL trail-stopped: yes is not a boolean: Rules/trail-stopped.json:7:")
                                     && $0.hasSuffix(#": Tests[0].Matches: expected true or false, got "yes""#) }, "\(result)")
            #expect(lines.contains { $0.hasPrefix("FAIL trail-stopped: no event: Rules/trail-stopped.json:8:") && $0.contains(#"Tests[1]: a rule test needs "Event""#) }, "\(result)")
            #expect(lines.contains { $0.contains(#"Tests[2].Evnt: unknown field "Evnt"; did you mean "Event"?"#) }, "\(result)")
            #expect(lines.contains { $0.hasPrefix("FAIL trail-stopped: missing file: ") && $0.contains("Tests[3]: cannot read EventFile events/none.json") }, "\(result)")
            // At the Event value, with its path once, and no "skipped" (nothing is being read past).
            #expect(lines.contains("FAIL trail-stopped: not an event: Rules/trail-stopped.json:11:39: Tests[4].Event: not a CloudTrail record or EventBridge event "
                                   + #"(an object with keys "hello"; expected eventSource or eventName, or detail-type, source and detail)"#), "\(result)")
            #expect(lines.contains { $0.hasPrefix("FAIL trail-stopped: Tests[5]: ") && $0.contains("a rule test is an object") }, "\(result)")
            #expect(lines.contains { $0.contains(#"Tests[7].Name: test name "ok" is already used in this rule"#) }, "\(result)")
            #expect(lines.contains("PASS trail-stopped: ok"))
            #expect(lines.last == "1 passed, 7 failed", "\(result)")
        }
    }

    @Test("rule files with errors exit 2 and run nothing; unknown --rule names are usage errors")
    func ruleErrors() throws {
        let tripline = try TriplineBinary.locate()
        try withProject { project in
            try project.write(#"{"Name": "bad", "EventPattern": {"detail": {"eventName": "StopLogging"}}, "Tests": []}"#, to: "Rules/bad.json")
            let result = try tripline.run(["test"], in: project.root)
            #expect(result.status == 2 && result.stdout.isEmpty, "\(result)")
            #expect(result.stderr.contains("Rules/bad.json:1:") && result.stderr.contains("no tests were run"), "\(result)")
            try project.write(ruleFile(tests: [#"{"Name": "ok", "Event": \#(record("StopLogging")), "Matches": true}"#]), to: "Rules/bad.json")
            let unknown = try tripline.run(["test", "--rule", "nope"], in: project.root)
            #expect(unknown.status == 2 && unknown.stderr.contains("no rule named 'nope'") && unknown.stderr.contains("trail-stopped"), "\(unknown)")
        }
        try withProject { project in
            let none = try tripline.run(["test"], in: project.root)
            #expect(none.status == 2 && none.stderr.contains("no Rules directory"), "\(none)")
        }
    }

    @Test("a shipped rule file given alone validates, tests and explains: its topic is declared in another file of Rules/")
    func shippedRuleFileAlone() throws {
        let tripline = try TriplineBinary.locate()
        let root = TriplineBinary.packageRoot
        let validate = try tripline.run(["validate", "Rules/vpc-changes.json"], in: root)
        #expect(validate.status == 0 && validate.stdoutLines.first == "Rules/vpc-changes.json: ok", "\(validate)")
        let test = try tripline.run(["test", "Rules/vpc-changes.json"], in: root)
        #expect(test.status == 0 && test.stdoutLines.last?.hasSuffix(" passed, 0 failed") == true, "\(test)")
        let explain = try tripline.run(["explain", "--rule", "Rules/cloudtrail-tampering.json", "--event", record("StopLogging")], in: root)
        #expect(explain.status == 0 && explain.stdoutLines.dropFirst().first == "match", "\(explain)")
    }

    @Test("the shipped rule pack passes its own tests")
    func shippedRules() throws {
        let tripline = try TriplineBinary.locate()
        let result = try tripline.run(["test", "Rules/"], in: TriplineBinary.packageRoot)
        #expect(result.status == 0, "\(result.stdoutLines.filter { !$0.hasPrefix("PASS") }.joined(separator: "\n"))")
        #expect(result.stdoutLines.last?.hasSuffix(" passed, 0 failed") == true)
    }
}

@Suite("tripline explain (end to end)")
struct ExplainCommandTests {
    @Test("explains a non-matching record against a rule by name: verdict, reason, every condition; exit 1")
    func noMatchByName() throws {
        let tripline = try TriplineBinary.locate()
        try withProject { project in
            try project.write(ruleFile(tests: []), to: "Rules/trail-stopped.json")
            try project.write(record("StartLogging"), to: "start.json")
            let result = try tripline.run(["explain", "--rule", "trail-stopped", "--event", "start.json"], in: project.root)
            #expect(result.status == 1, "\(result)")
            #expect(result.stdoutLines == [
                "rule trail-stopped (Rules/trail-stopped.json), State ENABLED",
                #"no match: detail.eventName: "StartLogging" matches none of "StopLogging", "DeleteTrail""#,
                #"  ✓ source: "aws.cloudtrail" matches "aws.cloudtrail""#,
                #"  ✗ detail.eventName: "StartLogging" matches none of "StopLogging", "DeleteTrail""#,
                #"note: the CloudTrail record was wrapped in its EventBridge envelope ("detail" holds the record), as tripline run does"#,
            ], "\(result)")
        }
    }

    @Test("explains a match through the values that matched; a rule file works as --rule; exit 0")
    func matchByFile() throws {
        let tripline = try TriplineBinary.locate()
        try withProject { project in
            try project.write(ruleFile(tests: []), to: "Rules/trail-stopped.json")
            let result = try tripline.run(["explain", "--rule", "Rules/trail-stopped.json", "--event", record("StopLogging")], in: project.root)
            #expect(result.status == 0, "\(result)")
            #expect(Array(result.stdoutLines.prefix(5)) == [
                "rule trail-stopped (Rules/trail-stopped.json), State ENABLED",
                "match",
                "the pattern matches through:",
                #"  detail.eventName: "StopLogging" matches "StopLogging""#,
                #"  source: "aws.cloudtrail" matches "aws.cloudtrail""#,
            ], "\(result)")
        }
    }

    @Test("explain --event - reads the event from standard input")
    func explainReadsStandardInput() throws {
        let tripline = try TriplineBinary.locate()
        try withProject { project in
            try project.write(ruleFile(tests: []), to: "Rules/trail-stopped.json")
            let result = try tripline.run(["explain", "--rule", "trail-stopped", "--event", "-"], stdin: record("StopLogging"), in: project.root)
            #expect(result.status == 0 && result.stdoutLines.dropFirst().first == "match", "\(result)")
        }
    }

    @Test("a pattern that matches a read-only event the rule's State hides is explained as such")
    func stateHidden() throws {
        let tripline = try TriplineBinary.locate()
        try withProject { project in
            try project.write(ruleFile(name: "root", pattern: #"{"detail": {"userIdentity": {"type": ["Root"]}}}"#, tests: []), to: "Rules/root.json")
            let event = record("ListBuckets", source: "s3", readOnly: true, userType: "Root")
            let result = try tripline.run(["explain", "--rule", "root", "--event", event], in: project.root)
            #expect(result.status == 1, "\(result)")
            #expect(result.stdoutLines.contains { $0.hasPrefix("no match: the pattern matches, but State ENABLED does not receive read-only management events") }, "\(result)")
        }
    }

    @Test("--pattern explains $or alternatives and array consistency")
    func barePattern() throws {
        let tripline = try TriplineBinary.locate()
        let pattern = #"{"detail": {"$or": [{"errorCode": [{"prefix": "AccessDenied"}]}, {"userIdentity": {"type": ["Root"]}}]}}"#
        let result = try tripline.run(["explain", "--pattern", pattern, "--event", record("StopLogging")])
        #expect(result.status == 1, "\(result)")
        #expect(result.stdoutLines.contains("  ✗ $or: none of the 2 alternatives matches"), "\(result)")
        #expect(result.stdoutLines.contains(#"        ✗ detail.errorCode: missing; the pattern needs prefix "AccessDenied""#), "\(result)")
        #expect(result.stdoutLines.contains(#"        ✗ detail.userIdentity.type: "IAMUser" is not "Root""#), "\(result)")
        let arrays = try tripline.run(["explain", "--pattern", #"{"detail": {"items": {"a": [1], "b": [2]}}}"#,
                                       "--event", #"{"detail-type": "x", "source": "y", "detail": {"items": [{"a": 1, "b": 3}, {"a": 2, "b": 2}]}}"#])
        #expect(arrays.status == 1 && arrays.stdoutLines.contains { $0.contains("array consistency: detail.items.a matches only in detail.items[0]; detail.items.b matches only in detail.items[1]") }, "\(arrays)")
    }

    @Test("a rule is explained when another file of --rules has an error (even the one declaring its topic), with that error noted")
    func otherFileBroken() throws {
        let tripline = try TriplineBinary.locate()
        try withProject { project in
            let rule = ruleFile(tests: []).replacingOccurrences(of: #"{"Id": "notify", "Function": {"Handler": "Handlers/notify.sh"}}"#,
                                                                with: #"{"Id": "alerts", "Topic": "security-alerts"}"#)
            try project.write(rule, to: "Rules/trail-stopped.json")
            try project.write(#"{"Topic": {"Name": "security-alerts", "Subscriptions": [}}"#, to: "Rules/security-alerts.json")
            let result = try tripline.run(["explain", "--rule", "trail-stopped", "--rules", "Rules", "--event", record("StopLogging")], in: project.root)
            #expect(result.status == 0 && result.stdoutLines.dropFirst().first == "match", "\(result)")
            #expect(result.stderr.contains("note: explaining rule trail-stopped, but Rules has 1 problem that 'tripline run' would refuse to start with:")
                    && result.stderr.contains("note: Rules/security-alerts.json:1:"), "\(result)")
            let broken = try tripline.run(["explain", "--rule", "nope", "--rules", "Rules", "--event", record("StopLogging")], in: project.root)
            #expect(broken.status == 2 && broken.stderr.contains("no valid rule named 'nope' in Rules"), "\(broken)")
        }
    }

    @Test("mistakes: unknown rule, log file of many records, invalid pattern, missing options")
    func mistakes() throws {
        let tripline = try TriplineBinary.locate()
        try withProject { project in
            try project.write(ruleFile(tests: []), to: "Rules/trail-stopped.json")
            try project.write(#"{"Records": [\#(record("StopLogging")), \#(record("DeleteTrail"))]}"#, to: "two.json")
            let unknown = try tripline.run(["explain", "--rule", "trail", "--event", "two.json"], in: project.root)
            #expect(unknown.status == 2 && unknown.stderr.contains("no rule named 'trail'") && unknown.stderr.contains("did you mean 'trail-stopped'?"), "\(unknown)")
            let missingFile = try tripline.run(["explain", "--rule", "Rules/nope.json", "--event", "two.json"], in: project.root)
            #expect(missingFile.status == 2 && missingFile.stderr == "tripline explain: rule file Rules/nope.json does not exist\n", "\(missingFile)")
            let directory = try tripline.run(["explain", "--rule", "Rules/", "--event", "two.json"], in: project.root)
            #expect(directory.status == 2 && directory.stderr.hasPrefix("tripline explain: Rules/ is a directory; "), "\(directory)")
            let many = try tripline.run(["explain", "--rule", "trail-stopped", "--event", "two.json"], in: project.root)
            #expect(many.status == 2 && many.stderr.contains("CloudTrail log file with 2 records"), "\(many)")
            let badPattern = try tripline.run(["explain", "--pattern", #"{"a": "x"}"#, "--event", "two.json"], in: project.root)
            #expect(badPattern.status == 2 && badPattern.stderr.contains("<pattern>"), "\(badPattern)")
            for arguments in [["explain"], ["explain", "--event", "two.json"], ["explain", "--rule", "a", "--pattern", "{}", "--event", "x"]] {
                let result = try tripline.run(arguments, in: project.root)
                #expect(result.status == 64 && result.stderr.contains("usage: tripline explain"), "\(arguments): \(result)")
            }
        }
    }
}
