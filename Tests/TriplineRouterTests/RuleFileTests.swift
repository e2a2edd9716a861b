import Foundation
import Testing
import EventPattern
import TriplineJSON
@testable import TriplineRouter

/// Rule files under Fixtures/rules: `Rules/` holds valid rules, `invalid/` files with mistakes.
private enum RuleFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/rules").path
}

/// Parses `text` as the rule file `/project/Rules/test.json`.
private func parse(_ text: String, file: String = "/project/Rules/test.json") -> (rules: [Rule], errors: [RuleError]) {
    RuleFile.parse(bytes: Array(text.utf8), file: file, currentDirectory: "/work")
}

/// The rendered errors for `text`, without the file name prefix.
private func messages(_ text: String) -> [String] {
    parse(text).errors.map { error in
        var description = error.description
        if description.hasPrefix(error.file + ":") { description.removeFirst(error.file.count + 1) }
        return description
    }
}

/// A minimal valid rule with `extra` JSON members added at the end.
private func rule(_ extra: String = "", name: String = "r1") -> String {
    #"{"Name": "\#(name)", "EventPattern": {"source": ["aws.iam"]}\#(extra.isEmpty ? "" : ", " + extra)}"#
}

/// A rule with one target whose members are `target`.
private func ruleWithTarget(_ target: String) -> String {
    rule(#""Targets": [{\#(target)}]"#)
}

/// A fresh directory, removed when `body` returns.
private func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tripline-rules-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    return try body(directory)
}

private func write(_ text: String, to path: String) throws {
    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
}

@Suite("Rule files")
struct RuleFileTests {
    // MARK: - Valid files

    @Test("a complete rule is read with every field")
    func completeRule() throws {
        let (set, errors) = RuleSet.load(paths: [RuleFixtures.root + "/Rules/identity.json"])
        #expect(errors.isEmpty, "\(errors)")
        let root = try #require(set.rules.first)
        #expect(root.name == "root-console-login")
        #expect(root.description == "The root user signed in to the console")
        #expect(root.state == .enabled)
        #expect(root.severity == "critical")
        #expect(root.file == RuleFixtures.root + "/Rules/identity.json")
        #expect(root.location?.line == 2)
        #expect(root.pattern == (try EventPattern.parse(#"{"source": ["aws.signin"], "detail-type": ["AWS Console Sign In via CloudTrail"], "detail": {"userIdentity": {"type": ["Root"]}}}"#)))
        #expect(root.tests == [["Name": "reserved for rule tests", "Event": ["detail": [:]]]])
        let target = try #require(root.targets.first)
        #expect(target.id == "notify")
        guard case .function(let function) = target.kind else { Issue.record("not a function"); return }
        #expect(function.handler == "handlers/notify.sh")
        #expect(function.handlerPath == RuleFixtures.root + "/handlers/notify.sh", "relative to the folder holding Rules/")
        #expect(function.args == ["--channel", "security"])
        #expect(function.environment == ["LOG_LEVEL": "debug"])
        #expect(function.timeoutSeconds == 10)
        #expect(function.maxConcurrency == 2)
        #expect(target.retryPolicy == RetryPolicy(maximumRetryAttempts: 3, maximumEventAgeInSeconds: 3600))
        #expect(target.deadLetterConfig == DeadLetterConfig(path: RuleFixtures.root + "/dead-letters/notify.ndjson", pathAsWritten: "dead-letters/notify.ndjson"))
        guard case .transformer(let transformer) = target.input else { Issue.record("not a transformer"); return }
        #expect(transformer.variables.map(\.name) == ["who", "ip"])
        let event = try JSONParser.parse(#"{"detail": {"userIdentity": {"arn": "arn:aws:iam::1:root"}, "sourceIPAddress": "203.0.113.9"}}"#)
        let payload = try target.input.render(event: event, eventBytes: nil, ruleName: root.name, ingestionTime: "t")
        #expect(String(decoding: payload, as: UTF8.self) == #"{"text":"root sign-in by arn:aws:iam::1:root from 203.0.113.9","rule":"root-console-login"}"#)
    }

    @Test("an array file holds several rules; a pattern may be a string of JSON")
    func arrayFileAndStringPattern() throws {
        let (set, errors) = RuleSet.load(paths: [RuleFixtures.root + "/Rules/identity.json"])
        #expect(errors.isEmpty)
        #expect(set.rules.map(\.name) == ["root-console-login", "iam-user-created"])
        let second = try #require(set.rules.last)
        #expect(second.state == .enabledWithAllCloudTrailManagementEvents)
        #expect(second.pattern == (try EventPattern.parse(#"{"source": ["aws.iam"], "detail": {"eventName": ["CreateUser"]}}"#)))
        let target = try #require(second.targets.first)
        #expect(target.kind == .function(FunctionTarget(handler: "python3", handlerPath: "python3", args: ["handlers/log.py"])),
                "a bare command name is left for PATH lookup")
        #expect(target.input == .path(try EventJSONPath(parsing: "$.detail")))
    }

    @Test("omitted fields take EventBridge's defaults")
    func defaults() throws {
        let (rules, errors) = parse(ruleWithTarget(#""Id": "t", "Function": {"Handler": "bin/h"}"#))
        #expect(errors.isEmpty)
        let loaded = try #require(rules.first)
        #expect(loaded.state == .enabled)
        #expect(loaded.description == nil)
        #expect(loaded.severity == nil)
        #expect(loaded.tests.isEmpty)
        let target = try #require(loaded.targets.first)
        #expect(target.input == .matchedEvent)
        #expect(target.retryPolicy == RetryPolicy(maximumRetryAttempts: 185, maximumEventAgeInSeconds: 86_400))
        #expect(target.deadLetterConfig == nil)
        #expect(target.kind == .function(FunctionTarget(handler: "bin/h", handlerPath: "/project/bin/h", timeoutSeconds: 30, maxConcurrency: 4)))
        #expect(parse(rule()).rules.first?.targets.isEmpty == true, "Targets may be omitted")
    }

    @Test("a rule copied from AWS loads: EventBusName, RoleArn, Arn and CreatedBy are accepted and ignored")
    func copiedFromAWS() throws {
        let text = #"{"Name": "x", "Arn": "arn:aws:events:us-east-1:111122223333:rule/x", "EventBusName": "default", "# +
            #""RoleArn": "arn:aws:iam::111122223333:role/r", "CreatedBy": "111122223333", "EventPattern": {"source": ["aws.iam"]}}"#
        let (rules, errors) = parse(text)
        #expect(errors.isEmpty, "\(errors)")
        let loaded = try #require(rules.first)
        #expect(loaded.ignoredFields == ["EventBusName", "RoleArn", "Arn", "CreatedBy"])
        #expect(parse(rule()).rules.first?.ignoredFields == [])
    }

    @Test("a target copied from AWS keeps its Arn and RoleArn, ignored, when it names a local kind")
    func targetCopiedFromAWS() throws {
        let (rules, errors) = parse(ruleWithTarget(#""Id": "t", "Arn": {"Fn::GetAtt": ["Fn", "Arn"]}, "RoleArn": "arn:aws:iam::1:role/r", "# +
                                                   #""Function": {"Handler": "h"}, "RetryPolicy": {"MaximumRetryAttempts": 2}"#))
        #expect(errors.isEmpty, "\(errors)")
        let target = try #require(rules.first?.targets.first)
        #expect(target.ignoredFields == ["Arn", "RoleArn"])
        #expect(target.kind == .function(FunctionTarget(handler: "h", handlerPath: "h")))
        #expect(parse(ruleWithTarget(#""Id": "t", "Function": {"Handler": "h"}"#)).rules.first?.targets.first?.ignoredFields == [])
    }

    @Test("Input holds JSON text or a JSON value")
    func constantInput() throws {
        let fromText = parse(ruleWithTarget(#""Id": "t", "Function": {"Handler": "h"}, "Input": "{\"a\": [1, 2]}""#))
        #expect(fromText.rules.first?.targets.first?.input == .constant(["a": [1, 2]]))
        let fromValue = parse(ruleWithTarget(#""Id": "t", "Function": {"Handler": "h"}, "Input": {"a": [1, 2]}"#))
        #expect(fromValue.rules.first?.targets.first?.input == .constant(["a": [1, 2]]))
    }

    // MARK: - Handler paths

    @Test("relative handler paths resolve against the folder that holds Rules/", arguments: [
        ("/p/Rules/x.json", "handlers/h.sh", "/p/handlers/h.sh"),
        ("/p/Rules/cloudtrail/deep/x.json", "handlers/h.sh", "/p/handlers/h.sh"),
        ("/p/rules-elsewhere/x.json", "handlers/h.sh", "/p/rules-elsewhere/handlers/h.sh"),
        ("/p/Rules/x.json", "./bin/../handlers/./h.sh", "/p/handlers/h.sh"),
        ("/p/Rules/x.json", "/opt/h.sh", "/opt/h.sh"),
        ("/p/Rules/x.json", "bash", "bash"),
        ("Rules/x.json", "handlers/h.sh", "/work/handlers/h.sh"),
        ("x.json", "handlers/h.sh", "/work/handlers/h.sh"),
    ] as [(String, String, String)])
    func handlerPaths(_ ruleFile: String, _ handler: String, _ resolved: String) {
        #expect(FunctionTarget.resolveHandler(handler, ruleFile: ruleFile, currentDirectory: "/work") == resolved)
    }

    @Test("a path is written in a rule file so that it resolves back to the same file", arguments: [
        ("Rules/x.json", "Handlers/h.sh", "Handlers/h.sh"),
        ("Rules/deep/x.json", "Handlers/h.sh", "Handlers/h.sh"),
        ("myrules/x.json", "Handlers/h.sh", "../Handlers/h.sh"),
        ("conf/rules/x.json", "hooks/h.sh", "../../hooks/h.sh"),
        ("conf/rules/x.json", "conf/rules/h.sh", "./h.sh"),
        ("conf/Rules/x.json", "conf/Examples/events/e.json", "Examples/events/e.json"),
        ("x.json", "/opt/h.sh", "/opt/h.sh"),
        ("/elsewhere/Rules/x.json", "Handlers/h.sh", "/work/Handlers/h.sh"),
    ] as [(String, String, String)])
    func writtenPaths(_ ruleFile: String, _ path: String, _ written: String) {
        #expect(FunctionTarget.writtenPath(for: path, ruleFile: ruleFile, currentDirectory: "/work") == written)
        let target = path.hasPrefix("/") ? path : "/work/" + path
        #expect(FunctionTarget.resolveHandler(written, ruleFile: ruleFile, currentDirectory: "/work") == target)
    }

    @Test("fixture rules in nested folders resolve handlers from the project root")
    func nestedFixture() throws {
        let (set, errors) = RuleSet.load(paths: [RuleFixtures.root + "/Rules"])
        #expect(errors.isEmpty, "\(errors)")
        #expect(set.rules.map(\.name) == ["cloudtrail-stopped", "root-console-login", "iam-user-created"], "files in sorted path order")
        let stopped = try #require(set.rules.first)
        #expect(stopped.state == .disabled)
        #expect(stopped.targets.first?.kind == .function(FunctionTarget(handler: "./handlers/../bin/page", handlerPath: RuleFixtures.root + "/bin/page")))
        #expect(stopped.targets.first?.input == .constant(["severity": "high"]))
    }

    // MARK: - Errors, rendered

    @Test("the documented message form: file:line:column: path: message")
    func documentedMessage() throws {
        let text = """
            {
              "Name": "x",
              "EventPattern": {"source": ["aws.iam"]},
              "Targets": [
                {
                  "Id": "t",
                  "Function": {"Handler": "h.sh", "TimeoutSeconds": "abc"}
                }
              ]
            }
            """
        let errors = parse(text, file: "Rules/x.json").errors
        #expect(errors.map(\.description) == [#"Rules/x.json:7:57: Targets[0].Function.TimeoutSeconds: expected a number from 1 to 900, got "abc""#])
        #expect(errors.first?.line == 7)
        #expect(errors.first?.column == 57)
        #expect(errors.first?.path?.description == "Targets[0].Function.TimeoutSeconds")
    }

    @Test("columns count characters, not bytes; lone CR and CRLF end lines as LF does")
    func columnsAndLineEndings() {
        let pattern = #""EventPattern": {"source": "x"}"#
        let message = #": EventPattern.source: expected an array of values to match (e.g. ["x"]) or a nested object, got "x""#
        #expect(messages(#"{"Description": "一二三四五六", "Name": "r", \#(pattern)}"#) == ["1:67" + message])
        for newline in ["\n", "\r\n", "\r"] {
            let text = ["{", #"  "Name": "r","#, "  " + pattern, "}"].joined(separator: newline)
            #expect(messages(text) == ["3:30" + message], "\(newline.debugDescription)")
        }
    }

    @Test("every mistake in a file is reported, in document order")
    func everyMistake() throws {
        let file = RuleFixtures.root + "/invalid/mistakes.json"
        let (set, errors) = RuleSet.load(paths: [file])
        #expect(set.rules.isEmpty)
        #expect(errors.allSatisfy { $0.file == file })
        #expect(errors.map { $0.description.replacingOccurrences(of: file + ":", with: "") } == [
            #"3:13: [0].Name: a rule name must be 1 to 64 letters, digits, '.', '-' or '_', got "bad rule name!""#,
            #"4:13: [0].Stat: unknown field "Stat"; did you mean "State"?; allowed: "Name", "Description", "State", "EventPattern", "Targets", "Severity", "Tests"; accepted and ignored (from AWS): "EventBusName", "RoleArn", "Arn", "CreatedBy", "Tags""#,
            #"6:57: [0].EventPattern.detail.eventName[1].prefix: "prefix" needs a string or {"equals-ignore-case": string}, got 5"#,
            #"9:70: [0].Targets[0].Function.TimeoutSeconds: expected a number from 1 to 900, got "abc""#,
            #"10:14: [0].Targets[1].Id: target Id "t1" is already used in this rule; Ids must be unique within a rule"#,
            #"13:13: [1].Topic: a topic needs "Subscriptions""#,
        ])
    }

    @Test("a file that is not JSON reports where reading stopped")
    func brokenJSON() {
        let file = RuleFixtures.root + "/invalid/broken.json"
        let (_, errors) = RuleSet.load(paths: [file])
        #expect(errors.map(\.description) == [file + #":1:3: not valid JSON: unexpected 'n', expected a string"#])
    }

    @Test("each mistake gets a message that names the problem", arguments: [
        // Rule fields
        (rule(#""Nmae": "x""#), #"1:65: Nmae: unknown field "Nmae"; did you mean "Name"?; allowed: "Name", "Description", "State", "EventPattern", "Targets", "Severity", "Tests"; accepted and ignored (from AWS): "EventBusName", "RoleArn", "Arn", "CreatedBy", "Tags""#),
        (rule(#""ScheduleExpression": "rate(5 minutes)""#), #"1:79: ScheduleExpression: scheduled rules are not supported: Tripline rules match events ("EventPattern"); remove "ScheduleExpression""#),
        (rule(#""ManagedBy": "x""#), #"1:70: ManagedBy: unknown field "ManagedBy" (a rule an AWS service manages for you has no local counterpart); allowed: "Name", "Description", "State", "EventPattern", "Targets", "Severity", "Tests"; accepted and ignored (from AWS): "EventBusName", "RoleArn", "Arn", "CreatedBy", "Tags""#),
        (#"{"EventPattern": {"source": ["aws.iam"]}}"#, #"1:1: (top level): a rule needs "Name""#),
        (#"{"Name": "r"}"#, #"1:1: (top level): a rule needs "EventPattern""#),
        (#"{"Name": 7, "EventPattern": {"source": ["x"]}}"#, "1:10: Name: expected a string, got 7"),
        (rule(name: String(repeating: "n", count: 65)), "1:10: Name: a rule name must be 1 to 64 letters, digits, '.', '-' or '_', got \"\(String(repeating: "n", count: 40))…\" (65 characters)"),
        (rule(#""State": "Enabled""#), #"1:66: State: expected "ENABLED" (one of "ENABLED", "DISABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"), got "Enabled""#),
        (rule(#""Severity": "High""#), #"1:69: Severity: expected "high" (one of "informational", "low", "medium", "high", "critical"), got "High""#),
        (rule(#""Severity": "urgent""#), #"1:69: Severity: expected one of "informational", "low", "medium", "high", "critical", got "urgent""#),
        (rule(#""Description": 5"#), "1:72: Description: expected a string of at most 512 characters, got 5"),
        (rule(#""Tests": {}"#), "1:66: Tests: expected an array of rule tests, got {}"),
        (#"{"Name": "r", "EventPattern": ["x"]}"#, #"1:31: EventPattern: expected a pattern object (or a string holding one), got ["x"]"#),
        (#"{"Name": "r", "EventPattern": {"detail": {"n": [{"numeric": [">", "x"]}]}}}"#, #"1:67: EventPattern.detail.n[0].numeric[1]: "numeric" needs an array of operator/number pairs (e.g. [">", 0, "<=", 5]): ">" must be followed by a number, got "x""#),
        // Inside a string, at the place in the string (escapes counted as written).
        (#"{"Name": "r", "EventPattern": "{\"source\": \"aws.iam\"}"}"#, #"1:45: EventPattern.source: expected an array of values to match (e.g. ["x"]) or a nested object, got "aws.iam""#),
        (#"{"Name": "r", "EventPattern": "{\"\u00e9\": [{\"prefix\": 5}]}"}"#, #"1:59: EventPattern["é"][0].prefix: "prefix" needs a string or {"equals-ignore-case": string}, got 5"#),
        (#"{"Name": "r", "EventPattern": "{\"source\": "}"#, #"1:31: EventPattern.source: pattern is not valid JSON: 1:12: unexpected end of input, expected a JSON value"#),
        // A syntax error names the value it is in, as every other rule error does.
        ("{\n  \"Name\": \"bad-json\",\n  \"EventPattern\": {\"source\": [\"aws.s3\"],},\n  \"Targets\": []\n}\n",
         "3:41: EventPattern: not valid JSON: unexpected '}', expected a string"),
        (#"[{"Name": "a", "EventPattern": {"source": ["x"]}}, {"Name": "b", "EventPattern": {"source": ["x", ]}}]"#,
         "1:99: [1].EventPattern.source[1]: not valid JSON: unexpected ']', expected a JSON value"),
        (ruleWithTarget(#""Id": "t", "Function": {"Handler": "h" "Args": []}"#), #"1:109: Targets[0].Function: not valid JSON: unexpected '"', expected ',' or '}'"#),
        ("[1]", "1:2: [0]: expected a rule object, got 1"),
        ("\"rules\"", #"1:1: (top level): a rule file holds one rule object or an array of rule objects, got "rules""#),
        (#"{"Name": "r", "Name": "s", "EventPattern": {}}"#, #"1:15: duplicate key "Name": a rule file takes each key once; remove the one that does not apply"#),
        (#"{"Name": "r", "EventPattern": {"detail": {"a": ["x"], "a": ["y"]}}}"#, #"1:55: duplicate key "a" in object at EventPattern.detail: a rule file takes each key once (EventBridge would keep the last "a"); remove the one that does not apply"#),
        (#"{"Name": "r", "EventPattern": "{\"detail\": {\"a\": [\"x\"], \"a\": [\"y\"]}}"}"#, #"1:31: duplicate key "a" in object at EventPattern.detail: a rule file takes each key once (EventBridge would keep the last "a"); remove the one that does not apply"#),
        (#"[{"Name": "r", "EventPattern": "{\"source\": [\"x\"], \"source\": [\"y\"]}"}]"#, #"1:32: duplicate key "source" in object at [0].EventPattern: a rule file takes each key once (EventBridge would keep the last "source"); remove the one that does not apply"#),
        // Targets
        (rule(#""Targets": {}"#), "1:68: Targets: expected an array of targets, got {}"),
        (ruleWithTarget(#""Function": {"Handler": "h"}"#), #"1:69: Targets[0]: a target needs "Id""#),
        (ruleWithTarget(#""Id": "a b", "Function": {"Handler": "h"}"#), #"1:76: Targets[0].Id: a target Id must be 1 to 64 letters, digits, '.', '-' or '_', got "a b""#),
        (ruleWithTarget(#""Id": "t""#), #"1:69: Targets[0]: a target needs exactly one kind: "Function" or "Webhook" or "Topic" or "BlockUser" (e.g. "Function": {"Handler": "handlers/notify.sh"})"#),
        (ruleWithTarget(#""Id": "t", "Webhook": {}"#), #"1:92: Targets[0].Webhook: a webhook needs "Url""#),
        (ruleWithTarget(#""Id": "t", "Topic": 5"#), #"1:90: Targets[0].Topic: expected the name of a topic declared as {"Topic": {"Name": …}}, got 5"#),
        (ruleWithTarget(#""Id": "t", "Webhook": {"Url": "${X}", "Format": "teams"}"#), #"1:118: Targets[0].Webhook.Format: expected "json" or "slack", got "teams""#),
        (ruleWithTarget(#""Id": "t", "Webhook": {"Url": "${X}", "RateLimitPerSecond": 4e-7}"#), "1:130: Targets[0].Webhook.RateLimitPerSecond: expected a number of deliveries per second from 0.001 (one every 1000 seconds) to 100000, got 4e-7"),
        (ruleWithTarget(#""Id": "t", "Webhook": {"Url": "${X}", "RateLimitPerSecond": 1e308}"#), "1:130: Targets[0].Webhook.RateLimitPerSecond: expected a number of deliveries per second from 0.001 (one every 1000 seconds) to 100000, got 1e308"),
        (ruleWithTarget(#""Id": "t", "Webhook": {"Url": "file:///etc/passwd"}"#), #"1:100: Targets[0].Webhook.Url: webhook url "file:///etc/passwd" is not usable: only http:// and https:// URLs are sent, not file:"#),
        (ruleWithTarget(#""Id": "t", "Webhook": {"Url": "http://h/x\r\nX-Evil: 1"}"#), #"1:100: Targets[0].Webhook.Url: webhook url "http://h/x\x0d\x0aX-Evil: 1" is not usable: it contains a carriage return (CR, U+000D) at character 11"#),
        (ruleWithTarget(#""Id": "t", "Webhook": {"Url": "${X}", "CaBundle": "/nonexistent/ca.pem"}"#), "1:120: Targets[0].Webhook.CaBundle: webhook CA bundle /nonexistent/ca.pem does not exist or cannot be read"),
        (ruleWithTarget(#""Id": "t", "Webhook": {"Url": "${X}", "Headers": {"Authorization": "Bearer ${T}", "Content-Length": "5"}}"#), #"1:170: Targets[0].Webhook.Headers.Content-Length: webhook header "Content-Length" cannot be set: the client frames each request and manages the connection itself, and a second or wrong value could desynchronise the request framing (Content-Length, Transfer-Encoding, Host, Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade and Expect are refused)"#),
        (ruleWithTarget(#""Id": "t", "Topic": "a b""#), #"1:90: Targets[0].Topic: expected the name of a topic declared as {"Topic": {"Name": …}}, got "a b""#),
        (ruleWithTarget(#""Id": "t", "BlockUser": {"Enforce": "h.sh"}"#), #"1:94: Targets[0].BlockUser.Reason: is required: say why the principal is blocked"#),
        (ruleWithTarget(#""Id": "t", "Function": {"Handler": "h"}, "Webhook": {}"#), #"1:122: Targets[0].Webhook: a target has exactly one kind, got "Function" and "Webhook"; declare each as its own target"#),
        (ruleWithTarget(#""Id": "t", "Arn": "arn:aws:sns:us-east-1:111122223333:alerts", "RoleArn": "arn:aws:iam::1:role/r""#), #"1:88: Targets[0].Arn: this target is an AWS resource (Arn "arn:aws:sns:us-east-1:111122223333:alerts"), which cannot run locally; add a local kind next to it ("Function", "Webhook", "Topic" or "BlockUser", e.g. "Function": {"Handler": "Handlers/notify.sh"}); the Arn is then ignored"#),
        (ruleWithTarget(#""Id": "t", "EcsParameters": {}, "Function": {"Handler": "h"}"#), #"1:98: Targets[0].EcsParameters: unknown field "EcsParameters"; allowed: "Id", "Function", "Webhook", "Topic", "BlockUser", "Input", "InputPath", "InputTransformer", "RetryPolicy", "DeadLetterConfig", "Suppress", "Threshold"; accepted and ignored (from AWS): "Arn", "RoleArn""#),
        (ruleWithTarget(#""Id": "t", "Function": "h.sh""#), #"1:93: Targets[0].Function: expected an object such as {"Handler": "handlers/x.sh"}, got "h.sh""#),
        (ruleWithTarget(#""Id": "t", "Function": {}"#), #"1:93: Targets[0].Function: a function needs "Handler""#),
        (ruleWithTarget(#""Id": "t", "Function": {"Handler": ""}"#), #"1:105: Targets[0].Function.Handler: expected the path of a program to run, got """#),
        (ruleWithTarget(#""Id": "t", "Function": {"Handler": "h", "Timeout": 5}"#), #"1:121: Targets[0].Function.Timeout: unknown field "Timeout"; allowed: "Handler", "Args", "Environment", "TimeoutSeconds", "MaxConcurrency""#),
        (ruleWithTarget(#""Id": "t", "Function": {"Handler": "h", "TimeoutSeconds": 901}"#), "1:128: Targets[0].Function.TimeoutSeconds: expected a number from 1 to 900, got 901"),
        (ruleWithTarget(#""Id": "t", "Function": {"Handler": "h", "MaxConcurrency": 2.5}"#), "1:128: Targets[0].Function.MaxConcurrency: expected a whole number from 1 to 256, got 2.5"),
        (ruleWithTarget(#""Id": "t", "Function": {"Handler": "h", "Args": ["a", 1]}"#), #"1:118: Targets[0].Function.Args: expected an array of strings, got ["a",1]"#),
        (ruleWithTarget(#""Id": "t", "Function": {"Handler": "h", "Environment": {"1X": "a"}}"#), #"1:132: Targets[0].Function.Environment.1X: expected an environment variable name ([A-Za-z_][A-Za-z0-9_]*), got "1X""#),
        (ruleWithTarget(#""Id": "t", "Function": {"Handler": "h", "Environment": {"X": 1}}"#), "1:131: Targets[0].Function.Environment.X: expected a string, got 1"),
        // Delivery settings
        (ruleWithTarget(#""Id": "t", "Function": {"Handler": "h"}, "RetryPolicy": {"MaximumRetryAttempts": 186}"#), "1:151: Targets[0].RetryPolicy.MaximumRetryAttempts: expected a whole number from 0 to 185, got 186"),
        (ruleWithTarget(#""Id": "t", "Function": {"Handler": "h"}, "RetryPolicy": {"MaximumEventAgeInSeconds": 59}"#), "1:155: Targets[0].RetryPolicy.MaximumEventAgeInSeconds: expected a whole number from 60 to 86400, got 59"),
        (ruleWithTarget(#""Id": "t", "Function": {"Handler": "h"}, "DeadLetterConfig": {"Arn": "arn:aws:sqs:x"}"#), #"1:139: Targets[0].DeadLetterConfig.Arn: "Arn" (an SQS queue) is not supported locally; use "Path" to name a file that receives the events that could not be delivered"#),
        (ruleWithTarget(#""Id": "t", "Function": {"Handler": "h"}, "DeadLetterConfig": {}"#), #"1:131: Targets[0].DeadLetterConfig: DeadLetterConfig needs "Path": the file that receives the events that could not be delivered"#),
        // Inputs
        (ruleWithTarget(#""Id": "t", "Function": {"Handler": "h"}, "Input": "{", "InputPath": "$""#), #"1:138: Targets[0].InputPath: use only one of "Input", "InputPath" (as on EventBridge, a target takes the matched event, a constant, a path or a transformer)"#),
        (ruleWithTarget(#""Id": "t", "Function": {"Handler": "h"}, "Input": "not json""#), #"1:120: Targets[0].Input: Input must be JSON text such as "{\"key\": 1}"; at character 1 of it: unexpected 'n', expected a JSON value"#),
        (ruleWithTarget(#""Id": "t", "Function": {"Handler": "h"}, "InputPath": "detail""#), #"1:124: Targets[0].InputPath: invalid JSON path "detail": a path must start with "$" (e.g. "$.detail.eventName") at character 1"#),
        (ruleWithTarget(#""Id": "t", "Function": {"Handler": "h"}, "InputTransformer": {"InputTemplate": "<x>"}"#), "1:149: Targets[0].InputTransformer.InputTemplate: unknown variable <x> at character 1 of the template (InputPathsMap defines no variables)"),
        (ruleWithTarget(#""Id": "t", "Function": {"Handler": "h"}, "InputTransformer": {"InputPathsMap": {"x": "$..a"}, "InputTemplate": "<x>"}"#), #"1:155: Targets[0].InputTransformer.InputPathsMap.x: invalid JSON path "$..a": empty key ("..") at character 3"#),
        (ruleWithTarget(#""Id": "t", "Function": {"Handler": "h"}, "InputTransformer": {"InputPathsMap": {"x": 1}, "InputTemplate": "<x>"}"#), #"1:155: Targets[0].InputTransformer.InputPathsMap.x: expected a JSON path string such as "$.detail.eventName", got 1"#),
        (ruleWithTarget(#""Id": "t", "Function": {"Handler": "h"}, "InputTransformer": {"InputPathsMap": {}}"#), #"1:131: Targets[0].InputTransformer: an InputTransformer needs "InputTemplate""#),
    ] as [(String, String)])
    func mistakes(_ text: String, _ expected: String) {
        #expect(messages(text) == [expected])
    }

    @Test("a Slack-format webhook refuses Input, InputPath and InputTransformer, which it would ignore",
          arguments: [
            (#""Input": {"text": "hi"}"#, "Input"),
            (#""InputPath": "$.detail""#, "InputPath"),
            (#""InputTransformer": {"InputTemplate": "{\"text\": \"<aws.events.rule-name>\"}"}"#, "InputTransformer"),
          ])
    func slackFormatWithInput(_ input: String, _ field: String) throws {
        let text = ruleWithTarget(#""Id": "s", "Webhook": {"Url": "${X}", "Format": "slack"}, "# + input)
        // The error points at the input's value.
        let column = text.distance(from: text.startIndex, to: try #require(text.range(of: "\"\(field)\": ")).upperBound) + 1
        let result = parse(text)
        #expect(result.rules.isEmpty)
        let error = try #require(result.errors.first)
        #expect(result.errors.count == 1)
        #expect(error.path?.description == "Targets[0].\(field)")
        #expect(error.line == 1 && error.column == column)
        #expect(error.problem == .slackFormatWithInput(field: field))
        #expect(error.message.hasPrefix("\"\(field)\" would be ignored: the webhook's \"Format\": \"slack\" builds its message from the matched event itself."))
        #expect(error.message.contains("InputTransformer\" whose \"InputTemplate\" is Slack-shaped"))
        #expect(error.message.contains("Examples/chat-templates/"))
        // Without Format (JSON webhooks) the same input is fine.
        let plain = parse(ruleWithTarget(#""Id": "s", "Webhook": {"Url": "${X}"}, "# + input))
        #expect(plain.errors.isEmpty, "\(plain.errors)")
    }

    @Test("Input is limited to EventBridge's 8,192 characters, as text or as compact JSON")
    func constantInputLimit() throws {
        func input(_ json: String) -> String { ruleWithTarget(#""Id": "t", "Function": {"Handler": "h"}, "Input": "# + json) }
        // {"k":"…"} as text: 8 characters around the filler.
        let fits = #"{"k":""# + String(repeating: "x", count: 8192 - 8) + #""}"#
        #expect(parse(input(JSONWriter.quoted(fits))).errors.isEmpty)
        #expect(parse(input(fits)).errors.isEmpty)
        let tooLong = #"{"k":""# + String(repeating: "é", count: 8192 - 7) + #""}"#
        let column = input("").utf8.count - "}]}".utf8.count + 1   // where the value starts (ASCII before it)
        #expect(messages(input(JSONWriter.quoted(tooLong)))
            == [#"1:\#(column): Targets[0].Input: Input is 8193 characters; EventBridge allows at most 8192 (Target.Input); send less, or build the payload from the event with "InputPath" or "InputTransformer""#])
        #expect(messages(input(#"{"k":  ""# + String(repeating: "x", count: 8192 - 7) + #""}"#))
            == [#"1:\#(column): Targets[0].Input: Input is 8193 characters as compact JSON; EventBridge allows at most 8192 (Target.Input); send less, or build the payload from the event with "InputPath" or "InputTransformer""#])
    }

    @Test("more than five targets, and duplicate target Ids, are refused")
    func targetLimits() {
        let six = (1...6).map { #"{"Id": "t\#($0)", "Function": {"Handler": "h"}}"# }.joined(separator: ", ")
        #expect(messages(rule(#""Targets": [\#(six)]"#)) == ["1:68: Targets: 6 targets; a rule has at most 5 (as on EventBridge)"])
        let twice = #"{"Id": "t", "Function": {"Handler": "h"}}, {"Id": "t", "Function": {"Handler": "h"}}"#
        #expect(messages(rule(#""Targets": [\#(twice)]"#)) == [#"1:119: Targets[1].Id: target Id "t" is already used in this rule; Ids must be unique within a rule"#])
    }

    // MARK: - Rule sets

    @Test("rule names are unique across files; the second use is the error")
    func duplicateNamesAcrossFiles() throws {
        try withTemporaryDirectory { directory in
            try write(rule(name: "same"), to: directory + "/Rules/a.json")
            try write("[\n" + rule(name: "other") + ",\n" + rule(name: "same") + "\n]", to: directory + "/Rules/b.json")
            let (set, errors) = RuleSet.load(paths: [directory + "/Rules"])
            #expect(set.rules.map(\.name) == ["same", "other"])
            #expect(errors.map(\.description) == [
                directory + #"/Rules/b.json:3:10: [1].Name: rule name "same" is already used at "# + directory + "/Rules/a.json:1:10; names must be unique across all rule files",
            ])
        }
    }

    @Test("duplicate names within one file are reported too")
    func duplicateNamesInFile() {
        let (rules, errors) = parse("[" + rule(name: "x") + ", " + rule(name: "x") + "]")
        #expect(rules.count == 1)
        #expect(errors.map(\.problem) == [.duplicateRuleName("x", firstFile: "/project/Rules/test.json", firstLocation: JSONLocation(offset: 10, line: 1, column: 11))])
    }

    @Test("directories are searched recursively for *.json in sorted order; hidden entries are skipped")
    func directoryLoading() throws {
        try withTemporaryDirectory { directory in
            try write(rule(name: "b"), to: directory + "/Rules/b.json")
            try write(rule(name: "a"), to: directory + "/Rules/a.json")
            try write(rule(name: "c"), to: directory + "/Rules/sub/c.json")
            try write(rule(name: "notes"), to: directory + "/Rules/notes.txt")
            try write(rule(name: "hidden"), to: directory + "/Rules/.hidden.json")
            try write(rule(name: "git"), to: directory + "/Rules/.git/x.json")
            let (set, errors) = RuleSet.load(paths: [directory + "/Rules", directory + "/Rules/a.json"])
            #expect(errors.isEmpty, "a file named twice is read once: \(errors)")
            #expect(set.rules.map(\.name) == ["a", "b", "c"])
            #expect(set.rule(named: "c")?.file == directory + "/Rules/sub/c.json")
        }
    }

    @Test("errors from every file are returned together, good rules still load")
    func errorsFromEveryFile() throws {
        try withTemporaryDirectory { directory in
            try write(rule(name: "good"), to: directory + "/a.json")
            try write(#"{"Name": "bad", "EventPattern": {}}"#, to: directory + "/b.json")
            try write("{", to: directory + "/c.json")
            let (set, errors) = RuleSet.load(paths: [directory, directory + "/missing.json"])
            #expect(set.rules.map(\.name) == ["good"])
            #expect(errors.map(\.description) == [
                directory + "/b.json:1:33: EventPattern: empty objects are not allowed; name at least one field",
                directory + "/c.json:1:2: not valid JSON: unexpected end of input, expected a string",
                directory + "/missing.json: cannot read: no such file or directory",
            ])
        }
    }

    @Test("a FIFO or other special file is refused as not a regular file, without waiting on it")
    func specialFiles() throws {
        try withTemporaryDirectory { directory in
            #expect(mkfifo(directory + "/fifo.json", 0o644) == 0)
            let (_, errors) = RuleSet.load(paths: [directory + "/fifo.json", "/dev/null"])
            #expect(errors.map(\.description) == ["/dev/null: cannot read: not a regular file", directory + "/fifo.json: cannot read: not a regular file"])
        }
    }

    @Test("a rule file given by name is read whatever its extension")
    func explicitFile() throws {
        try withTemporaryDirectory { directory in
            try write(rule(name: "x"), to: directory + "/rule.txt")
            let (set, errors) = RuleSet.load(paths: [directory + "/rule.txt"])
            #expect(errors.isEmpty)
            #expect(set.rules.map(\.name) == ["x"])
        }
    }

    @Test("did-you-mean picks close names only")
    func suggestions() {
        #expect(Suggestion.closest(to: "Nmae", among: RuleFile.ruleFields) == "Name")
        #expect(Suggestion.closest(to: "eventpattern", among: RuleFile.ruleFields) == "EventPattern")
        #expect(Suggestion.closest(to: "Target", among: RuleFile.ruleFields) == "Targets")
        #expect(Suggestion.closest(to: "Handler", among: RuleFile.ruleFields) == nil)
        #expect(Suggestion.closest(to: "Match", among: ["Name", "Event", "EventFile", "Matches"]) == "Matches")
        #expect(Suggestion.closest(to: "Handle", among: RuleFile.functionFields) == "Handler")
        #expect(Suggestion.closest(to: "Na", among: RuleFile.ruleFields) == nil, "too short to be sure")
        #expect(Suggestion.editDistance("kitten", "sitting") == 3)
        #expect(Suggestion.editDistance("ab", "ba") == 1)
    }
}
