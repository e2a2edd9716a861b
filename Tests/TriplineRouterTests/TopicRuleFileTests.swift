import Foundation
import Testing
import TriplineJSON
import TriplineTargets
@testable import TriplineRouter

/// Writes `files` (relative path → text) under a fresh `Rules/` directory and loads them as a rule
/// set: the whole directory, or only the files `only` names (relative to `Rules/`).
private func load(_ files: [String: String], only: [String]? = nil) throws -> (set: RuleSet, errors: [String]) {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("tripline-topics-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: root) }
    for (relative, text) in files {
        let path = root + "/Rules/" + relative
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }
    let (set, errors) = RuleSet.load(paths: only.map { $0.map { root + "/Rules/" + $0 } } ?? [root + "/Rules"])
    return (set, errors.map { $0.description.replacingOccurrences(of: root + "/", with: "") })
}

private let publishingRule = #"{"Name": "r", "EventPattern": {"source": ["aws.iam"]}, "Targets": [{"Id": "t", "Topic": "security-alerts"}]}"#

@Suite("Topics in rule files")
struct TopicRuleFileTests {
    @Test("a topic with function, webhook, file and topic subscriptions loads, with filter policies and delivery settings")
    func loadsTopic() throws {
        let (set, errors) = try load([
            "topics.json": """
                [{"Topic": {"Name": "security-alerts", "Subscriptions": [
                   {"Id": "ops", "Function": {"Handler": "handlers/page.sh", "MaxConcurrency": 2},
                    "FilterPolicy": {"severity": ["high", "critical"]}, "RetryPolicy": {"MaximumRetryAttempts": 3}},
                   {"Id": "slack", "Webhook": {"Url": "${SLACK_URL}"}, "RawMessageDelivery": true},
                   {"Id": "log", "File": {"Path": "logs/alerts.ndjson", "TimeoutSeconds": 5}, "FilterPolicyScope": "MessageBody",
                    "FilterPolicy": {"detail": {"eventName": [{"prefix": "Delete"}]}}, "DeadLetterConfig": {"Path": "dl/log.ndjson"}},
                   {"Id": "fwd", "Topic": "archive"}]}},
                 {"Topic": {"Name": "archive", "Subscriptions": [{"Id": "a", "File": {"Path": "/var/tmp/archive.ndjson"}}]}}]
                """,
            "rule.json": publishingRule,
        ])
        #expect(errors == [])
        let topic = try #require(set.topic(named: "security-alerts"))
        #expect(set.topics.map(\.name) == ["security-alerts", "archive"])
        #expect(topic.subscriptions.map(\.id) == ["ops", "slack", "log", "fwd"])
        #expect(topic.subscriptions[0].filterPolicy?.scope == .messageAttributes)
        #expect(topic.subscriptions[0].retryPolicy.maximumRetryAttempts == 3)
        #expect(topic.subscriptions[0].maxConcurrency == 2)
        #expect(topic.subscriptions[0].rawMessageDelivery == false, "SNS's default is the envelope")
        #expect(topic.subscriptions[1].rawMessageDelivery)
        #expect(topic.subscriptions[2].filterPolicy?.scope == .messageBody)
        guard case .file(let file) = topic.subscriptions[2].kind else { Issue.record("not a file subscription"); return }
        #expect(file.path.hasSuffix("/logs/alerts.ndjson") && !file.path.contains("/Rules/"), "resolved from the project root: \(file.path)")
        #expect(file.timeoutSeconds == 5)
        guard case .file(let archive) = set.topic(named: "archive")?.subscriptions.first?.kind else { Issue.record("no archive file"); return }
        #expect(archive.timeoutSeconds == FileSubscription.defaultTimeoutSeconds)
        #expect(topic.subscriptions[3].kind == .topic("archive"))
        #expect(set.rules.first?.targets.first?.kind == .topic("security-alerts"))
        #expect(topic.deliveryRule == "topic:security-alerts")
        #expect(topic.arn == "arn:tripline:sns:local:000000000000:security-alerts")
    }

    @Test("a target naming an unknown topic is an error naming the declared ones; the rule is left out")
    func unknownTopic() throws {
        let (set, errors) = try load([
            "a.json": #"{"Topic": {"Name": "security-alerts", "Subscriptions": []}}"#,
            "b.json": #"{"Name": "r", "EventPattern": {"source": ["aws.iam"]}, "Targets": [{"Id": "t", "Topic": "security-alert"}]}"#,
        ])
        #expect(errors == [#"Rules/b.json:1:89: Targets[0].Topic: no topic named "security-alert" is declared (declared topics: "security-alerts"); did you mean "security-alerts"?; declare it in a rule file as {"Topic": {"Name": "security-alert", "Subscriptions": [...]}}"#])
        #expect(set.rules.isEmpty)
    }

    @Test("a subscription forwarding to an unknown topic is an error")
    func unknownForward() throws {
        let (set, errors) = try load(["a.json": #"{"Topic": {"Name": "x", "Subscriptions": [{"Id": "f", "Topic": "nowhere"}]}}"#])
        #expect(errors.count == 1 && errors[0].contains(#"Subscriptions[0].Topic: no topic named "nowhere" is declared (declared topics: "x")"#), "\(errors)")
        #expect(set.topics.isEmpty)
    }

    @Test("forwarding cycles are errors naming the cycle, across files too")
    func cycles() throws {
        let (set, errors) = try load([
            "a.json": #"{"Topic": {"Name": "a", "Subscriptions": [{"Id": "to-b", "Topic": "b"}]}}"#,
            "b.json": #"[{"Topic": {"Name": "b", "Subscriptions": [{"Id": "to-c", "Topic": "c"}]}}, {"Topic": {"Name": "c", "Subscriptions": [{"Id": "to-a", "Topic": "a"}]}}]"#,
            "self.json": #"{"Topic": {"Name": "s", "Subscriptions": [{"Id": "loop", "Topic": "s"}]}}"#,
            "ok.json": #"{"Topic": {"Name": "ok", "Subscriptions": [{"Id": "to-a", "Topic": "a"}]}}"#,
        ])
        #expect(errors == [
            #"Rules/b.json:1:143: [1].Topic.Subscriptions[0].Topic: topic subscriptions form a cycle: a → b → c → a; a message would be published forever"#,
            #"Rules/self.json:1:67: Topic.Subscriptions[0].Topic: topic subscriptions form a cycle: s → s; a message would be published forever"#,
        ])
        #expect(set.topics.map(\.name) == ["ok"], "topics in a cycle are left out")
    }

    @Test("a File subscription's TimeoutSeconds is a number from 1 to 900; other fields are refused")
    func fileSubscriptionFields() throws {
        let (_, errors) = try load([
            "a.json": #"{"Topic": {"Name": "t", "Subscriptions": [{"Id": "s", "File": {"Path": "x", "TimeoutSeconds": 0}}, {"Id": "u", "File": {"Path": "x", "Timeout": 3}}]}}"#,
        ])
        #expect(errors == [
            #"Rules/a.json:1:95: Topic.Subscriptions[0].File.TimeoutSeconds: expected a number from 1 to 900, got 0"#,
            #"Rules/a.json:1:145: Topic.Subscriptions[1].File.Timeout: unknown field "Timeout"; allowed: "Path", "TimeoutSeconds""#,
        ])
    }

    @Test("topic names are unique across files; subscription Ids within a topic")
    func duplicates() throws {
        let (_, errors) = try load([
            "a.json": #"{"Topic": {"Name": "t", "Subscriptions": [{"Id": "s", "File": {"Path": "x"}}, {"Id": "s", "File": {"Path": "y"}}]}}"#,
            "b.json": #"{"Topic": {"Name": "t", "Subscriptions": []}}"#,
        ])
        #expect(errors == [
            #"Rules/a.json:1:86: Topic.Subscriptions[1].Id: subscription Id "s" is already used in this topic; Ids must be unique within a topic"#,
            #"Rules/b.json:1:20: Topic.Name: topic name "t" is already declared at Rules/a.json:1:20; topic names must be unique across all rule files"#,
        ])
    }

    @Test("filter policy mistakes are reported with file:line:column and the path into the policy")
    func badFilterPolicy() throws {
        let (set, errors) = try load([
            "a.json": """
                {"Topic": {"Name": "t", "Subscriptions": [
                  {"Id": "s", "File": {"Path": "x"}, "FilterPolicy": {"a": [{"anything-but": {"suffix": "x"}}]}},
                  {"Id": "n", "File": {"Path": "x"}, "FilterPolicy": {"a": {"b": ["x"]}}},
                  {"Id": "o", "File": {"Path": "x"}, "FilterPolicyScope": "Body"}]}}
                """,
        ])
        #expect(errors.count == 3, "\(errors)")
        #expect(errors.first?.hasPrefix(#"Rules/a.json:2:78: Topic.Subscriptions[0].FilterPolicy.a[0].anything-but: SNS supports only "prefix" inside "anything-but""#) == true, "\(errors)")
        #expect(errors.first?.contains("suffix") == true)
        #expect(errors.dropFirst().first?.hasPrefix("Rules/a.json:3:60: Topic.Subscriptions[1].FilterPolicy.a: filter policy scope MessageAttributes does not support nested policies") == true, "\(errors)")
        #expect(errors.last == #"Rules/a.json:4:59: Topic.Subscriptions[2].FilterPolicyScope: expected "MessageAttributes" or "MessageBody", got "Body""#)
        #expect(set.topics.isEmpty)
    }

    @Test("a FilterPolicy written as a string of JSON (as the SNS API takes it) loads like the object form")
    func filterPolicyAsString() throws {
        let (set, errors) = try load([
            "a.json": #"""
                {"Topic": {"Name": "t", "Subscriptions": [
                  {"Id": "s", "File": {"Path": "x"}, "FilterPolicy": "{\"severity\": [\"high\", {\"prefix\": \"crit\"}]}"},
                  {"Id": "o", "File": {"Path": "x"}, "FilterPolicy": {"severity": ["high", {"prefix": "crit"}]}},
                  {"Id": "b", "File": {"Path": "x"}, "FilterPolicyScope": "MessageBody", "FilterPolicy": "{\"detail\": {\"eventName\": [\"x\"]}}"}]}}
                """#,
        ])
        #expect(errors.isEmpty, "\(errors)")
        let topic = try #require(set.topics.first)
        #expect(topic.subscriptions[0].filterPolicy == topic.subscriptions[1].filterPolicy)
        #expect(topic.subscriptions[0].filterPolicy?.matches(attributes: ["severity": .string("critical")]) == true)
        #expect(topic.subscriptions[0].filterPolicy?.matches(attributes: ["severity": .string("low")]) == false)
        #expect(topic.subscriptions[2].filterPolicy?.scope == .messageBody)
    }

    @Test("mistakes inside a FilterPolicy string point at their place in it (syntax errors at the string), with the path into the policy", arguments: [
        (#""{\"a\": [{\"anything-but\": {\"suffix\": \"x\"}}]}""#,
         #"Rules/a.json:1:123: Topic.Subscriptions[0].FilterPolicy.a[0].anything-but: SNS supports only "prefix" inside "anything-but""#),
        (#""{\"a\": [\"x\"], \"a\": [\"y\"]}""#,
         #"Rules/a.json:1:94: duplicate key "a" in object at Topic.Subscriptions[0].FilterPolicy: a rule file takes each key once; remove the one that does not apply"#),
        (#""{\"a\": {\"b\": [\"x\"], \"b\": [\"y\"]}}""#,
         #"Rules/a.json:1:94: duplicate key "b" in object at Topic.Subscriptions[0].FilterPolicy.a: a rule file takes each key once; remove the one that does not apply"#),
        (#""{\"a\": ""#,
         #"Rules/a.json:1:94: Topic.Subscriptions[0].FilterPolicy: filter policy is not valid JSON: 1:7: unexpected end of input, expected a JSON value"#),
        (#""[\"a\"]""#,
         #"Rules/a.json:1:95: Topic.Subscriptions[0].FilterPolicy: a filter policy must be a JSON object, got ["a"]"#),
        ("5", #"Rules/a.json:1:94: Topic.Subscriptions[0].FilterPolicy: a filter policy must be a JSON object, got 5"#),
    ] as [(String, String)])
    func filterPolicyStringMistakes(_ policy: String, _ expected: String) throws {
        let (set, errors) = try load(["a.json": #"{"Topic": {"Name": "t", "Subscriptions": [{"Id": "s", "File": {"Path": "x"}, "FilterPolicy": "# + policy + "}]}}"])
        #expect(errors.count == 1, "\(errors)")
        #expect(errors.first?.hasPrefix(expected) == true, "\(errors)")
        #expect(set.topics.isEmpty)
    }

    @Test("subscription shape mistakes", arguments: [
        (#"{"Id": "s"}"#, #"Topic.Subscriptions[0]: a target needs exactly one kind: "Function" or "Webhook" or "File" or "Topic""#),
        (#"{"Id": "s", "File": {}}"#, #"Topic.Subscriptions[0].File: a file subscription needs "Path""#),
        (#"{"Id": "s", "File": {"Path": "x"}, "RawMessageDelivery": "yes"}"#, #"Topic.Subscriptions[0].RawMessageDelivery: expected true or false, got "yes""#),
        (#"{"Id": "s", "Topic": "t", "RetryPolicy": {}}"#, #"Topic.Subscriptions[0].RetryPolicy: does not apply to a "Topic" subscription"#),
        (#"{"Id": "s", "File": {"Path": "x"}, "Protocol": "sqs"}"#, #"Topic.Subscriptions[0].Protocol: unknown field "Protocol""#),
    ])
    func subscriptionMistakes(subscription: String, expected: String) throws {
        let (_, errors) = try load(["a.json": #"{"Topic": {"Name": "t", "Subscriptions": ["# + subscription + "]}}"])
        #expect(errors.count == 1 && errors[0].contains(expected), "\(errors)")
    }

    @Test("a single file is validated on its own without flagging topics declared elsewhere")
    func singleFile() {
        let result = RuleFile.parse(bytes: Array(publishingRule.utf8), file: "/p/Rules/r.json", currentDirectory: "/")
        #expect(result.errors.isEmpty && result.rules.count == 1)
    }

    @Test("a file given alone finds the topics declared in the other files of its folder, and only their topics")
    func topicsOfTheFolder() throws {
        let files = [
            "alerts.json": #"[{"Topic": {"Name": "security-alerts", "Subscriptions": [{"Id": "f", "Topic": "archive"}]}}, "# +
                #"{"Topic": {"Name": "archive", "Subscriptions": [{"Id": "a", "File": {"Path": "a.ndjson"}}]}}, "# +
                #"{"Topic": {"Name": "unused", "Subscriptions": [{"Id": "u", "File": {"Path": "u.ndjson"}}]}}]"#,
            "other.json": #"[{"Name": "other", "EventPattern": {"source": ["x"]}}, {"Name": "broken", "EventPattern": {}}]"#,
            "sub/deeper.json": #"{"Topic": {"Name": "deeper", "Subscriptions": []}}"#,
            "r.json": publishingRule,
        ]
        let (set, errors) = try load(files, only: ["r.json"])
        #expect(errors == [], "the other files' problems are theirs")
        #expect(set.rules.map(\.name) == ["r"])
        #expect(set.topics.map(\.name) == ["security-alerts", "archive"], "the topics it publishes to, forwarding included")
        let (_, all) = try load(files)
        #expect(all.count == 1 && all[0].contains("Rules/other.json"), "\(all)")
    }

    @Test("a file given alone: a topic declared nowhere is an error; one whose file has errors cannot be used")
    func topicsOfTheFolderMissingOrBroken() throws {
        let undeclared = #"{"Name": "r", "EventPattern": {"source": ["x"]}, "Targets": [{"Id": "t", "Topic": "nowhere"}]}"#
        let (set, errors) = try load(["alerts.json": #"{"Topic": {"Name": "security-alerts", "Subscriptions": []}}"#, "r.json": undeclared],
                                     only: ["r.json"])
        #expect(set.rules.isEmpty)
        #expect(errors == [#"Rules/r.json:1:83: Targets[0].Topic: no topic named "nowhere" is declared (declared topics: "security-alerts"); "#
                           + #"declare it in a rule file as {"Topic": {"Name": "nowhere", "Subscriptions": [...]}}"#])
        let broken = #"{"Topic": {"Name": "security-alerts", "Subscriptions": [{"Id": "x"}]}}"#
        let (brokenSet, brokenErrors) = try load(["alerts.json": broken, "r.json": publishingRule], only: ["r.json"])
        #expect(brokenSet.rules.isEmpty && brokenSet.topics.isEmpty)
        #expect(brokenErrors.count == 1 && brokenErrors[0].hasPrefix("Rules/r.json:1:89: Targets[0].Topic: topic \"security-alerts\" is declared in ")
                && brokenErrors[0].contains("Rules/alerts.json, which has errors, so it cannot be used here"), "\(brokenErrors)")
    }

    @Test("message attributes: rule, severity, and CloudTrail eventName/eventSource")
    func attributes() throws {
        let event = try JSONParser.parse(#"{"detail": {"eventName": "StopLogging", "eventSource": "cloudtrail.amazonaws.com"}}"#)
        let attributes = TargetExecutor.messageAttributes(ruleName: "r", severity: "high", event: event)
        #expect(attributes == ["rule": .string("r"), "severity": .string("high"), "eventName": .string("StopLogging"),
                               "eventSource": .string("cloudtrail.amazonaws.com")])
        #expect(TargetExecutor.messageAttributes(ruleName: "r", severity: nil, event: .object(JSONObject())) == ["rule": .string("r")])
    }

    @Test("a publish's size counts the message and every attribute's name, type and value, as SNS does")
    func publishSize() {
        let attributes: [String: MessageAttributeValue] = ["rule": .string("r1"), "blob": MessageAttributeValue(dataType: "Binary", binaryValue: [1, 2, 3])]
        #expect(TargetExecutor.publishSize(message: Array("hello".utf8), attributes: attributes) == 5 + (4 + 6 + 2) + (4 + 6 + 3))
        #expect(TargetExecutor.publishSize(message: [], attributes: [:]) == 0)
        #expect(TargetExecutor.maximumPublishBytes == 256 * 1024)
    }
}

