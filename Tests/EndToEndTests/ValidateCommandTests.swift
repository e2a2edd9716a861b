import Foundation
import Testing

@Suite("tripline validate (end to end)")
struct ValidateCommandTests {
    @Test("good files print FILE: ok and exit 0; bad files print every error with file:line:col and exit 1")
    func validateFiles() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            try Data(#"{"source": ["aws.ec2"], "detail": {"state": [{"prefix": "run"}]}}"#.utf8).write(to: dir.appendingPathComponent("good.json"))
            try Data(#"{"a": [{"exists": true}]}"#.utf8).write(to: dir.appendingPathComponent("also-good.json"))
            try Data("{\n  \"detail\": {\"eventName\": [\"a\", {\"numeric\": \"x\"}]},\n  \"source\": \"aws.ec2\"\n}\n".utf8).write(to: dir.appendingPathComponent("bad.json"))
            try Data(#"{"a": ["x""#.utf8).write(to: dir.appendingPathComponent("broken.json"))

            let good = try tripline.run(["validate", "good.json", "also-good.json"], in: dir)
            #expect(good.status == 0 && good.stdoutLines == ["good.json: ok", "also-good.json: ok"], "\(good)")

            let mixed = try tripline.run(["validate", "good.json", "bad.json", "broken.json", "missing.json"], in: dir)
            #expect(mixed.status == 1, "\(mixed)")
            let lines = mixed.stdoutLines
            #expect(lines.first == "good.json: ok")
            #expect(lines.contains { $0.hasPrefix("bad.json:2:45: detail.eventName[1].numeric: \"numeric\" needs an array") }, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("bad.json:3:13: source: ") }, "every error is reported: \(lines)")
            #expect(lines.contains("broken.json:1:11: a: invalid JSON: unexpected end of input, expected ',' or ']'"), "\(lines)")
            #expect(lines.contains { $0.hasPrefix("missing.json: ") }, "\(lines)")
            #expect(!lines.contains("bad.json: ok"))
        }
    }

    @Test("a rule copied from AWS validates, with a note on the fields that have no effect locally")
    func copiedRule() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let rule = #"{"Name": "x", "Arn": "arn:aws:events:us-east-1:111122223333:rule/x", "EventBusName": "default", "# +
                #""RoleArn": "arn:aws:iam::111122223333:role/r", "EventPattern": {"source": ["aws.iam"]}}"#
            try Data(rule.utf8).write(to: dir.appendingPathComponent("x.json"))
            let result = try tripline.run(["validate", "x.json"], in: dir)
            #expect(result.status == 0, "\(result)")
            #expect(result.stdoutLines == ["x.json: ok", "note: x.json: rule x: EventBusName, RoleArn, Arn have no effect locally (ignored)",
                                           "1 rule valid, 0 errors"], "\(result)")
        }
    }

    @Test("a target copied from AWS: Arn and RoleArn beside a local kind are noted; an Arn alone is an error saying what to add")
    func copiedTargets() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let good = #"{"Name": "x", "EventPattern": {"source": ["aws.iam"]}, "Targets": [{"Id": "t", "Arn": "arn:aws:sns:us-east-1:1:x", "# +
                #""RoleArn": "arn:aws:iam::1:role/r", "Function": {"Handler": "/bin/true"}}]}"#
            try Data(good.utf8).write(to: dir.appendingPathComponent("good.json"))
            let result = try tripline.run(["validate", "good.json"], in: dir)
            #expect(result.status == 0, "\(result)")
            #expect(result.stdoutLines == ["good.json: ok",
                                           #"note: good.json: rule x, target t: Arn, RoleArn have no effect locally (ignored; the target runs its "Function")"#,
                                           "1 rule valid, 0 errors"], "\(result)")

            let awsOnly = #"{"Name": "y", "EventPattern": {"source": ["aws.iam"]}, "Targets": [{"Id": "t", "Arn": "arn:aws:sns:us-east-1:1:x"}]}"#
            try Data(awsOnly.utf8).write(to: dir.appendingPathComponent("aws-only.json"))
            let refused = try tripline.run(["validate", "aws-only.json"], in: dir)
            #expect(refused.status == 1, "\(refused)")
            #expect(refused.stdoutLines.first?.hasPrefix(#"aws-only.json:1:87: Targets[0].Arn: this target is an AWS resource (Arn "arn:aws:sns:us-east-1:1:x"), which cannot run locally; add a local kind next to it ("Function", "Webhook", "Topic" or "BlockUser""#) == true,
                    "\(refused)")
        }
    }

    @Test("a pasted CloudFormation resource validates as its Properties, with a note; errors and Tests keep their place in the file")
    func cloudFormationResource() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let text = """
                {"Type": "AWS::Events::Rule", "DependsOn": "Topic",
                 "Properties": {"Name": "x", "EventPattern": {"source": ["aws.s3"]},
                  "Targets": [{"Id": "t", "Function": {"Handler": "/bin/true"}}],
                  "Tests": [{"Name": "one", "Event": {"eventSource": "s3.amazonaws.com", "eventName": "DeleteBucket"}, "Matches": true}]}}
                """
            try Data(text.utf8).write(to: dir.appendingPathComponent("cfn.json"))
            let result = try tripline.run(["validate", "cfn.json"], in: dir)
            #expect(result.status == 0, "\(result)")
            #expect(result.stdoutLines == ["cfn.json: ok",
                                           "note: cfn.json: rule x: CloudFormation wrapper unwrapped: the rule is read from Properties "
                                           + "of the AWS::Events::Rule resource (its other keys are ignored)",
                                           "1 rule valid, 0 errors"], "\(result)")
            let tested = try tripline.run(["test", "cfn.json"], in: dir)
            #expect(tested.status == 0 && tested.stdoutLines.first == "PASS x: one", "\(tested)")

            try Data(text.replacingOccurrences(of: #"["aws.s3"]"#, with: #""aws.s3""#).utf8).write(to: dir.appendingPathComponent("cfn.json"))
            let bad = try tripline.run(["validate", "cfn.json"], in: dir)
            #expect(bad.status == 1, "\(bad)")
            #expect(bad.stdoutLines.first?.hasPrefix("cfn.json:2:57: Properties.EventPattern.source: expected an array") == true, "\(bad)")
        }
    }

    @Test("validate notes, without failing, a detail-type in the guide's spelling and an ENABLED rule on read-only calls only")
    func patternNotes() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let rules = #"[{"Name": "signin", "State": "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS", "# +
                #""EventPattern": {"detail-type": ["AWS Console Signin via CloudTrail"]}},"# +
                #" {"Name": "assume", "EventPattern": {"source": ["aws.sts"], "detail": {"eventName": ["AssumeRole"]}}},"# +
                #" {"Name": "mixed", "EventPattern": {"detail": {"eventName": ["AssumeRole", "CreateUser"]}}}]"#
            try Data(rules.utf8).write(to: dir.appendingPathComponent("r.json"))
            let result = try tripline.run(["validate", "r.json"], in: dir)
            #expect(result.status == 0, "\(result)")
            let notes = result.stdoutLines.filter { $0.hasPrefix("note: ") }
            #expect(notes.count == 2, "\(result)")
            #expect(notes.first == #"note: r.json: rule signin: detail-type "AWS Console Signin via CloudTrail" is the EventBridge guide's spelling, "#
                    + #"but console sign-in events arrive as "AWS Console Sign In via CloudTrail", so this never matches them; write that instead"#, "\(notes)")
            #expect(notes.last?.hasPrefix(#"note: r.json: rule assume: in State ENABLED a rule receives no read-only management events, and every detail.eventName it names ("AssumeRole")"#) == true,
                    "\(notes)")
            #expect(notes.last?.contains("ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS") == true)
            #expect(!notes.contains { $0.contains("rule mixed") }, "a rule naming any change call gets no note")
        }
    }

    @Test("malformed Tests entries are reported with the messages and positions 'tripline test' gives them")
    func malformedTests() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let event = #"{"eventSource": "s3.amazonaws.com", "eventName": "DeleteBucket", "eventType": "AwsApiCall", "awsRegion": "us-east-1", "eventTime": "2024-01-01T00:00:00Z", "recipientAccountId": "1"}"#
            let tests = [
                #"{"Name": "five", "Event": 5, "Matches": true}"#,
                #"{"Name": "yes", "Event": \#(event), "Matches": "yes"}"#,
                #"{"Name": "no event", "Matches": true}"#,
                #"{"Name": "both", "Event": \#(event), "EventFile": "events/e.json", "Matches": true}"#,
                #"{"Name": "missing file", "EventFile": "events/none.json", "Matches": true}"#,
                #"{"Name": "misspelt", "Evnt": {}, "Event": \#(event), "Matches": true}"#,
                "5",
                #"{"Name": "fine", "Event": \#(event), "Matches": true}"#,
            ]
            let rule = #"{"Name": "r", "EventPattern": {"source": ["aws.s3"]}, "Tests": [\#n  "# + tests.joined(separator: ",\n  ") + "\n]}"
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("Rules"), withIntermediateDirectories: true)
            try Data(rule.utf8).write(to: dir.appendingPathComponent("Rules/r.json"))
            let test = try tripline.run(["test", "Rules"], in: dir)
            #expect(test.status == 1 && test.stdoutLines.last == "1 passed, 7 failed", "\(test)")
            // What `test` says about each malformed entry: the error after "FAIL r: name: ", and any further ones.
            let reported = test.stdoutLines.compactMap { line -> String? in
                if line.hasPrefix("    ") { return String(line.dropFirst(4)) }
                guard line.hasPrefix("FAIL "), let start = line.range(of: "Rules/r.json:") else { return nil }
                return String(line[start.lowerBound...])
            }
            #expect(reported.count == 7, "\(reported)")
            let validate = try tripline.run(["validate", "Rules"], in: dir)
            #expect(validate.status == 1, "\(validate)")
            #expect(Set(validate.stdoutLines.filter { $0.hasPrefix("Rules/r.json:") }) == Set(reported), "\(validate)")
            #expect(validate.stdoutLines.last == "1 rule, 0 valid, 7 errors", "the rule's Tests have errors, so it is not counted valid: \(validate)")
        }
    }

    @Test("the summary counts rules read and, of them, those without errors in their handlers or Tests")
    func summaryCounts() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let rules = #"[{"Name": "fine", "EventPattern": {"source": ["aws.s3"]}},"# + "\n"
                + #" {"Name": "bad-test", "EventPattern": {"source": ["aws.s3"]}, "Tests": [{"Name": "t", "Event": {"hello": 1}, "Matches": true}]},"# + "\n"
                + #" {"Name": "bad-handler", "EventPattern": {"source": ["aws.s3"]}, "Targets": [{"Id": "t", "Function": {"Handler": "./none.sh"}}]},"# + "\n"
                + #" {"Name": "bad-pattern", "EventPattern": {"source": "aws.s3"}}]"#
            try Data(rules.utf8).write(to: dir.appendingPathComponent("r.json"))
            let result = try tripline.run(["validate", "r.json"], in: dir)
            #expect(result.status == 1, "\(result)")
            #expect(result.stdoutLines.count == 4 && result.stdoutLines.last == "3 rules, 1 valid, 3 errors", "\(result)")
            #expect(result.stdoutLines.contains { $0.hasPrefix("r.json:2:96: [1].Tests[0].Event: not a CloudTrail record or EventBridge event") && !$0.hasSuffix("skipped") },
                    "\(result)")
        }
    }

    @Test("a single file with rule fields in the wrong case is read as a rule and told the right spelling; a pattern on a field \"name\" stays a pattern")
    func wrongCaseRuleFile() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            try Data(#"{"name": "x", "eventpattern": {"source": ["aws.s3"]}, "targets": [{"id": "t", "Function": {"Handler": "/bin/true"}}]}"#.utf8)
                .write(to: dir.appendingPathComponent("case.json"))
            try Data(#"{"name": "x", "EventPatern": {"source": ["aws.s3"]}}"#.utf8).write(to: dir.appendingPathComponent("name-only.json"))
            try Data(#"{"name": ["x"], "state": ["on"], "detail": {"name": [{"prefix": "a"}]}}"#.utf8).write(to: dir.appendingPathComponent("pattern.json"))
            let result = try tripline.run(["validate", "case.json"], in: dir)
            #expect(result.status == 1, "\(result)")
            let lines = result.stdoutLines
            #expect(lines.contains { $0.hasPrefix(#"case.json:1:31: eventpattern: unknown field "eventpattern"; did you mean "EventPattern"?"#) }, "\(result)")
            #expect(lines.contains { $0.hasPrefix(#"case.json:1:10: name: unknown field "name"; did you mean "Name"?"#) }, "\(result)")
            #expect(!lines.contains { $0.contains("unknown operator") || $0.contains("expected an array") }, "not read as a pattern: \(result)")
            let nameOnly = try tripline.run(["validate", "name-only.json"], in: dir)
            #expect(nameOnly.stdoutLines.contains { $0.hasPrefix(#"name-only.json:1:10: name: unknown field "name"; did you mean "Name"?"#) }, "\(nameOnly)")
            let pattern = try tripline.run(["validate", "pattern.json"], in: dir)
            #expect(pattern.status == 0 && pattern.stdoutLines == ["pattern.json: ok"], "\(pattern)")
        }
    }

    @Test("rule files in AWS's other shapes are read as rules without --kind (list-rules output, a resource under its logical id); YAML in a rules folder is an error, not skipped")
    func awsShapesAndYAML() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            try Data(#"{"Rules": [{"Name": "s3", "EventPattern": "{\"source\":[\"aws.s3\"]}", "State": "ENABLED", "Arn": "arn:aws:events:us-east-1:1:rule/s3"}]}"#.utf8)
                .write(to: dir.appendingPathComponent("listed.json"))
            try Data(#"{"TrailAlarm": {"Type": "AWS::Events::Rule", "Properties": {"EventPattern": {"source": ["aws.cloudtrail"]}}}}"#.utf8)
                .write(to: dir.appendingPathComponent("resource.json"))
            // A pattern whose field is named Type stays a pattern (told what a pattern expects).
            try Data(#"{"detail": {"Type": "Root"}}"#.utf8).write(to: dir.appendingPathComponent("pattern.json"))
            let pattern = try tripline.run(["validate", "pattern.json"], in: dir)
            #expect(pattern.stdoutLines.first?.hasPrefix("pattern.json:1:21: detail.Type: expected an array of values") == true, "\(pattern)")
            for name in ["listed.json", "resource.json"] {
                let result = try tripline.run(["validate", name], in: dir)
                #expect(result.status == 0 && result.stdoutLines.first == "\(name): ok", "\(result)")
            }
            let rules = dir.appendingPathComponent("Rules")
            try FileManager.default.createDirectory(at: rules, withIntermediateDirectories: true)
            try Data(#"{"Name": "s3", "EventPattern": {"source": ["aws.s3"]}}"#.utf8).write(to: rules.appendingPathComponent("s3.json"))
            try Data("Type: AWS::Events::Rule\nProperties:\n  Name: ec2\n  EventPattern:\n    source: [aws.ec2]\n".utf8)
                .write(to: rules.appendingPathComponent("ec2.yaml"))
            // YAML that holds no rule is no rule file; JSON under a YAML name is read as one.
            try Data("resources:\n  - deployment.yaml\n".utf8).write(to: rules.appendingPathComponent("kustomization.yaml"))
            try Data(#"{"Name": "iam", "EventPattern": {"source": ["aws.iam"]}}"#.utf8).write(to: rules.appendingPathComponent("iam.yml"))
            let folder = try tripline.run(["validate", "Rules"], in: dir)
            #expect(folder.status == 1 && folder.stdoutLines.contains { $0.hasPrefix("Rules/ec2.yaml: YAML is not read: rule files are JSON") }, "\(folder)")
            #expect(folder.stdoutLines.contains("2 rules valid, 1 error") && !folder.stdout.contains("kustomization"), "\(folder)")
            let run = try tripline.run(["run", "--ephemeral", "--rules", "Rules", "/dev/null"], in: dir)
            #expect(run.status == 2 && run.stderr.contains("Rules/ec2.yaml: YAML is not read"), "the run does not start without the rule: \(run)")
        }
    }

    @Test("a handler saved with Windows line endings is refused, naming the interpreter with its stray \\r")
    func crlfHandler() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("Rules"), withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("Handlers"), withIntermediateDirectories: true)
            let handler = dir.appendingPathComponent("Handlers/crlf.sh").path
            _ = FileManager.default.createFile(atPath: handler, contents: Data("#!/bin/sh\r\necho hi\r\n".utf8), attributes: [.posixPermissions: 0o755])
            let rule = #"{"Name": "h-crlf", "EventPattern": {"source": ["aws.s3"]}, "Targets": [{"Id": "a", "Function": {"Handler": "Handlers/crlf.sh"}}]}"#
            try Data(rule.utf8).write(to: dir.appendingPathComponent("Rules/h.json"))
            let result = try tripline.run(["validate", "Rules"], in: dir)
            #expect(result.status == 1, "\(result)")
            let expected = "Rules/h.json:1:108: Targets[0].Function.Handler: rule h-crlf, target a: cannot start handler \(handler): "
                + #"its #! line ends in a carriage return (the file has Windows CRLF line endings), so the system looks for the interpreter "/bin/sh\r", "#
                + #"which does not exist; convert the file to Unix LF line endings (dos2unix FILE, or sed -i 's/\r$//' FILE); every delivery to it would fail"#
            #expect(result.stdoutLines.first == expected, "\(result)")
            #expect(result.stdoutLines.last == "1 rule, 0 valid, 1 error", "\(result)")
        }
    }
}
