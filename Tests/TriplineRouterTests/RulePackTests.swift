import EventPattern
import Foundation
import Testing
import TriplineJSON
@testable import TriplineRouter
import TriplineState
import TriplineTargets

/// Where the shipped rule pack and the shared CloudTrail data are.
enum RulePack {
    /// The package root, three levels above this file (`<root>/Tests/TriplineRouterTests/…`).
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var rulesDirectory: String { packageRoot.appendingPathComponent("Rules").path }
    static var readme: String { packageRoot.appendingPathComponent("Rules/README.md").path }
    /// `../shared/data/cloudtrail`, next to the package.
    static var dataDirectory: String {
        packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data/cloudtrail").standardizedFileURL.path
    }
    static var hasData: Bool { FileManager.default.fileExists(atPath: dataDirectory + "/README.md") }

    /// A named part of the shared data: files or folders read as `tripline run` reads inputs.
    struct Dataset {
        var name: String
        var paths: [String]
        /// Lines are `{"_file": …, "event": <event>}` wrappers (cloud-custodian's fixtures).
        var unwrapsEvent = false
    }

    /// Every dataset of the shared data, as in its README; `sample.ndjson` is a mix of the others.
    static let datasets: [Dataset] = [
        Dataset(name: "invictus-ir", paths: ["invictus-ir-aws_dataset"]),
        Dataset(name: "panther rules", paths: ["panther-analysis/rule-test-records.json.gz"]),
        Dataset(name: "panther scenarios", paths: ["panther-analysis/test-scenarios.json.gz"]),
        Dataset(name: "OTRF", paths: ["otrf-security-datasets"]),
        Dataset(name: "custodian records", paths: ["cloud-custodian-eventbridge/cloudtrail-details.json.gz"]),
        Dataset(name: "custodian events", paths: ["cloud-custodian-eventbridge/cwe-events.ndjson.gz"], unwrapsEvent: true),
        Dataset(name: "stratus (Datadog)", paths: ["cloudtrail2sightings-stratus"]),
        Dataset(name: "sample.ndjson", paths: ["sample.ndjson"]),
    ]

    static func load() throws -> RuleSet {
        let (rules, errors) = RuleSet.load(paths: [rulesDirectory])
        #expect(errors.isEmpty, "the shipped rules have errors:\n\(errors.map(\.description).joined(separator: "\n"))")
        return rules
    }
}

/// Which rules receive an event, decided as `tripline run` decides: normalize, match all rules
/// at once with one machine, apply each rule's `State`.
struct RuleReceivers {
    let rules: [Rule]
    let machine: PatternMachine
    let normalizer = EventNormalizer()

    init(_ rules: [Rule]) {
        self.rules = rules
        machine = PatternMachine(rules.enumerated().map { (id: $0.offset, pattern: $0.element.pattern) })
    }

    /// The names of the rules that receive `raw`, or nil when it is not an event `run` accepts
    /// (`emitted`: Tripline's own, which alone may carry its source).
    func names(for raw: RawEvent, emitted: Bool = false) -> [String]? {
        guard case .success(let event) = normalizer.normalize(raw, ingestionTime: "2024-01-01T00:00:00Z", allowingOwnSource: emitted),
              let ids = try? machine.matches(event: event.bytes) else { return nil }
        return ids.map { rules[$0] }.filter { $0.receives(event.envelope) }.map(\.name)
    }

    /// The names of the rules that receive `value`, an event Tripline emitted itself (or a record).
    func names(for value: JSONValue) -> [String]? {
        names(for: RawEvent(bytes: JSONWriter.bytes(value), origin: EventOrigin(source: "test", position: .document)), emitted: true)
    }
}

/// Hits per rule per dataset, and how many events each dataset held.
struct HitTable {
    var events: [String: Int] = [:]
    var skipped: [String: Int] = [:]
    var hits: [String: [String: Int]] = [:]

    static func count(_ rules: [Rule]) -> HitTable {
        let receivers = RuleReceivers(rules)
        var table = HitTable()
        for dataset in RulePack.datasets {
            let inputs = EventInputs(arguments: dataset.paths.map { RulePack.dataDirectory + "/" + $0 })
            while let item = inputs.next() {
                guard case .success(var raw) = item else {
                    table.skipped[dataset.name, default: 0] += 1
                    continue
                }
                if dataset.unwrapsEvent, let wrapper = try? JSONParser.parse(raw.bytes), let inner = wrapper["event"] {
                    raw.bytes = JSONWriter.bytes(inner)
                }
                guard let names = receivers.names(for: raw) else {
                    table.skipped[dataset.name, default: 0] += 1
                    continue
                }
                table.events[dataset.name, default: 0] += 1
                for name in names { table.hits[name, default: [:]][dataset.name, default: 0] += 1 }
            }
        }
        return table
    }

    func total(_ rule: String) -> Int {
        RulePack.datasets.filter { $0.name != "sample.ndjson" }.reduce(0) { $0 + (hits[rule]?[$1.name] ?? 0) }
    }

    /// The Markdown table for Rules/README.md.
    func markdown(rules: [Rule]) -> String {
        let names = RulePack.datasets.map(\.name)
        var lines = ["| rule | " + names.joined(separator: " | ") + " |",
                     "|---|" + String(repeating: "---:|", count: names.count)]
        lines.append("| *events read* | " + names.map { "\(events[$0] ?? 0)" }.joined(separator: " | ") + " |")
        for rule in rules {
            lines.append("| `\(rule.name)` | " + names.map { "\(hits[rule.name]?[$0] ?? 0)" }.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }
}

/// Panther's labelled detection tests, compared with the shipped rules that cover the same detection.
struct PantherComparison {
    /// Panther rule id → the shipped rule covering the same detection.
    static let coverage: [String: String] = [
        "AWS.CloudTrail.UnauthorizedAPICall": "unauthorized-api-calls",
        "AWS.Console.LoginWithoutMFA": "console-signin-without-mfa",
        "AWS.Root.Activity": "root-account-usage",
        "AWS.Console.RootLogin": "root-account-usage",
        "AWS.IAM.PolicyModified": "iam-policy-changes",
        "AWS.CloudTrail.Created": "cloudtrail-configuration-changes",
        "AWS.Console.RootLoginFailed": "console-authentication-failures",
        "AWS.KMS.CustomerManagedKeyLoss": "kms-key-disabled-or-scheduled-deletion",
        "AWS.S3.BucketPolicyModified": "s3-bucket-policy-changes",
        "AWS.ConfigService.Created": "config-changes",
        "AWS.ConfigService.DisabledDeleted": "config-changes",
        "AWS.EC2.SecurityGroupModified": "security-group-changes",
        "AWS.EC2.NetworkACLModified": "network-acl-changes",
        "AWS.EC2.GatewayModified": "network-gateway-changes",
        "AWS.EC2.RouteTableModified": "route-table-changes",
        "AWS.EC2.VPCModified": "vpc-changes",
        "AWS.CloudTrail.AttemptToLeaveOrg": "organizations-changes",
        "AWS.CloudTrail.Stopped": "cloudtrail-tampering",
        "AWS.CloudTrail.EventSelectorsDisabled": "cloudtrail-event-selectors-changed",
        "AWS.CloudTrail.RootAccessKeyCreated": "root-account-usage",
        "AWS.IAM.Backdoor.User.Keys": "access-key-created-for-another-user",
    ]

    /// Every disagreement with a Panther label, explained in Rules/README.md ("Panther id / test name").
    static let explained: Set<String> = [
        "AWS.CloudTrail.Created / Error Creating CloudTrail",
        "AWS.CloudTrail.Stopped / Error Stopping CloudTrail",
        "AWS.ConfigService.Created / Config Recorder Deleted",
        "AWS.ConfigService.Created / Error Creating Config Recorder Delivery Channel",
        "AWS.ConfigService.DisabledDeleted / Config Recorder Delivery Channel Created",
        "AWS.ConfigService.DisabledDeleted / Error Deleting Config Recorder",
        "AWS.Console.LoginWithoutMFA / MFA Login - SAML",
        "AWS.Console.LoginWithoutMFA / No MFA Login - New User",
        "AWS.Console.LoginWithoutMFA / AWS SSOv2 Login",
        "AWS.Console.LoginWithoutMFA / AssumeRole from MFA User Session",
        "AWS.Console.LoginWithoutMFA / No MFA - IAM Role and External IDP",
        "AWS.Console.RootLoginFailed / Failed Root Login",
        "AWS.EC2.GatewayModified / Error Modifying Network Gateway",
        "AWS.EC2.NetworkACLModified / Error Modifying Network ACL",
        "AWS.EC2.RouteTableModified / Error Modifying Route Table",
        "AWS.EC2.SecurityGroupModified / Error Mofidying Security Group",
        "AWS.EC2.VPCModified / Error Modifying VPC",
        "AWS.IAM.PolicyModified / IAM Policy Change Error",
        "AWS.IAM.Backdoor.User.Keys / user1 create keys for user1",
        "AWS.KMS.CustomerManagedKeyLoss / KMS Disable Key Error",
        "AWS.Root.Activity / Root Activity - CreateServiceLinkedRole",
        "AWS.Root.Activity / Root User Failed Activity",
        "AWS.Root.Activity / Root Read-Only Enumeration",
        "AWS.CloudTrail.RootAccessKeyCreated / Root Created Access Key For User",
        "AWS.S3.BucketPolicyModified / S3 Bucket Policy Modified Error Response",
        "AWS.CloudTrail.UnauthorizedAPICall / Unauthorized API Call from Within AWS (FQDN)",
    ]

    struct Outcome {
        var compared = 0
        var agreed = 0
        /// "id / test name: Panther says X, rule says Y".
        var disagreements: [(key: String, text: String)] = []
        var perRule: [String: (compared: Int, agreed: Int)] = [:]
    }

    static func run(_ rules: [Rule]) throws -> Outcome {
        let receivers = RuleReceivers(rules)
        let bytes = try readWholeFile(path: RulePack.dataDirectory + "/labelled/panther-cloudtrail-rule-tests.json.gz", limit: 64 << 20)
        let corpus = try JSONParser.parse(bytes)
        var outcome = Outcome()
        for entry in corpus["rules"]?.arrayValue ?? [] {
            guard let id = entry["id"]?.stringValue, let ruleName = coverage[id] else { continue }
            for test in entry["tests"]?.arrayValue ?? [] {
                guard test["isCloudTrailRecord"] == .bool(true), let log = test["log"],
                      let expected = test["expectedResult"]?.boolValue, let name = test["name"]?.stringValue else { continue }
                let fired = receivers.names(for: log)?.contains(ruleName) ?? false
                outcome.compared += 1
                outcome.perRule[id, default: (0, 0)].compared += 1
                if fired == expected {
                    outcome.agreed += 1
                    outcome.perRule[id, default: (0, 0)].agreed += 1
                } else {
                    let mocked = test["mocks"] != nil ? " (Panther mocks helpers in this test)" : ""
                    outcome.disagreements.append(("\(id) / \(name)",
                        "\(id) / \(name): Panther \(expected ? "fires" : "does not fire"), \(ruleName) \(fired ? "fires" : "does not fire")\(mocked)"))
                }
            }
        }
        return outcome
    }
}

extension RulePack {
    /// Whether `rule` matches only events Tripline emits itself (`source: ["tripline"]`).
    static func isOnTriplineEvents(_ rule: Rule) -> Bool {
        rule.pattern.branches.allSatisfy { branch in
            branch.contains { $0.path == "source" && $0.matchers == [.exactString("tripline")] }
        }
    }
}

@Suite("The shipped rule pack (Rules/)")
struct RulePackTests {
    @Test("Rules/ loads without errors, every rule has a description, a severity, a notify target and tests")
    func loads() throws {
        let rules = try RulePack.load().rules
        #expect(rules.count >= 19, "expected the CIS controls, tampering, event-selector, access-key and blocking rules, got \(rules.map(\.name))")
        for rule in rules {
            #expect(!(rule.description ?? "").isEmpty, "\(rule.name): no Description")
            #expect(rule.severity != nil, "\(rule.name): no Severity")
            #expect(rule.targets.contains { if case .function(let f) = $0.kind { return f.handler == "Handlers/notify.sh" }; return false },
                    "\(rule.name): no Function target running Handlers/notify.sh")
            #expect(rule.tests.count >= 4, "\(rule.name): \(rule.tests.count) tests; give positives from real records and near misses")
            #expect(rule.file.hasSuffix("/" + rule.name + ".json"), "\(rule.name) lives in \(rule.file); one rule per file named after it")
        }
    }

    @Test("every rule's Tests pass, with positive and negative examples")
    func ruleTests() throws {
        let rules = try RulePack.load().rules
        let report = RuleTestRunner(currentDirectory: RulePack.packageRoot.path).run(rules)
        for result in report.results where !result.passed {
            Issue.record(Comment(rawValue: ([result.line] + result.details).joined(separator: "\n    ")))
        }
        #expect(report.rulesWithoutTests.isEmpty, "rules without tests: \(report.rulesWithoutTests)")
        for rule in rules {
            let expectations = rule.tests.compactMap { $0["Matches"]?.boolValue }
            #expect(expectations.contains(true) && expectations.contains(false), "\(rule.name): needs positive and negative examples")
        }
        print("rule pack: \(report.summaryLine)")
    }

    /// The events `tripline run` puts back on the bus about blocking, as BlockEvent builds them.
    static func emittedEvents() -> [(name: String, event: JSONValue)] {
        let rootIdentity: JSONValue = ["type": "Root", "principalId": "111122223333", "arn": "arn:aws:iam::111122223333:root",
                                       "accountId": "111122223333", "accessKeyId": "ASIAEXAMPLEEXAMPLE12"]
        let serviceIdentity: JSONValue = ["type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"]
        func refusal(_ reason: BlockRefusal, _ identity: JSONValue, breakerOpened: Bool = false) -> JSONValue {
            BlockEvent.refused(BlockEvent.Refusal(refusal: reason, principal: nil, identity: identity, reason: "CloudTrail tampering",
                                                  rule: "cloudtrail-tampering", targetID: "block", eventID: "e1", account: "111122223333",
                                                  region: "us-east-1", dryRun: true, breakerOpened: breakerOpened), now: 1_764_064_800)
        }
        let user = "arn:aws:iam::111122223333:user/mallory"
        let entry = BlockEntry(key: user, principal: ["kind": "iamUser", "key": .string(user), "arn": .string(user), "userName": "mallory"],
                               kind: "iamUser", arn: user, accountId: "111122223333", region: "us-east-1", reason: "CloudTrail tampering",
                               rule: "cloudtrail-tampering", targetID: "block", eventID: "e1", addedAt: 1_764_064_800,
                               expiresAt: 1_764_068_400, addedBy: "rule cloudtrail-tampering", dryRun: true)
        return [
            ("User Block Refused (root)", refusal(.root(accountId: "111122223333"), rootIdentity)),
            ("User Block Refused (AWS service)", refusal(.awsService("cloudtrail.amazonaws.com"), serviceIdentity)),
            ("User Blocked", BlockEvent.blocked(entry, handler: nil, now: 1_764_064_801)),
            ("User Unblocked", BlockEvent.unblocked(entry, by: "expiry", handler: nil, now: 1_764_068_400)),
            ("User Block Failed", BlockEvent.blockFailed(entry, error: "exit status 254", now: 1_764_064_802)),
            ("User Block Refused (the breaker opens)", refusal(.circuitOpen(blocksInWindow: 10, limit: 10, windowSeconds: 3600), serviceIdentity, breakerOpened: true)),
            ("User Block Refused (the breaker stays open)", refusal(.circuitOpen(blocksInWindow: 10, limit: 10, windowSeconds: 3600), serviceIdentity)),
        ]
    }

    @Test("Tripline's own blocking events fire one tripline-blocking rule only, never a CloudTrail rule (root-account-usage on a root refusal)")
    func emittedEventsFireOnlyTheBlockingRule() throws {
        let receivers = RuleReceivers(try RulePack.load().rules)
        for (name, event) in Self.emittedEvents() {
            #expect(event["source"]?.stringValue == BlockEvent.source, "\(name): \(event)")
            // Refusals while the breaker stays open have a rule of their own, whose Suppress keeps a flood
            // of them from burying the other blocking alerts.
            let expected = name.hasSuffix("(the breaker stays open)") ? "tripline-blocking-breaker-refusals" : "tripline-blocking-events"
            #expect(receivers.names(for: event) == [expected], "\(name) fired \(receivers.names(for: event) ?? [])")
        }
    }

    @Test("no rule that blocks fires on event selectors a pattern cannot judge; cloudtrail-event-selectors-changed alerts on them")
    func undecidableSelectorsNeverBlock() throws {
        let rules = try RulePack.load().rules
        let receivers = RuleReceivers(rules)
        // One selector keeps every management event, the other adds S3 data events: nothing is dropped,
        // yet the second selector alone has includeManagementEvents false.
        let call: JSONValue = try JSONParser.parse(#"""
            {"eventVersion": "1.09", "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": "arn:aws:iam::111122223333:user/terraform",
             "accountId": "111122223333", "accessKeyId": "AKIAEXAMPLEEXAMPLE12", "userName": "terraform"}, "eventTime": "2026-11-25T10:00:00Z",
             "eventSource": "cloudtrail.amazonaws.com", "eventName": "PutEventSelectors", "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.9",
             "requestParameters": {"trailName": "main", "eventSelectors": [
               {"readWriteType": "All", "includeManagementEvents": true, "dataResources": [], "excludeManagementEventSources": []},
               {"readWriteType": "All", "includeManagementEvents": false, "dataResources": [{"type": "AWS::S3::Object", "values": ["arn:aws:s3:::audit-bucket/"]}],
                "excludeManagementEventSources": []}]},
             "responseElements": null, "eventID": "e2", "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true,
             "recipientAccountId": "111122223333", "eventCategory": "Management"}
            """#)
        let names = receivers.names(for: call) ?? []
        #expect(names.contains("cloudtrail-event-selectors-changed"), "\(names)")
        let selectorRule = rules.first { $0.name == "cloudtrail-event-selectors-changed" }
        #expect(selectorRule?.targets.contains { $0.id == "alerts" } == true, "the selector rule must still alert to security-alerts")
        for rule in rules where names.contains(rule.name) {
            #expect(!rule.targets.contains { if case .blockUser = $0.kind { return true }; return false },
                    "\(rule.name) would block the caller of a PutEventSelectors call that drops nothing")
        }
        // The calls that blind logging for certain still block.
        var record = call.objectValue ?? JSONObject()
        record["eventName"] = "StopLogging"
        let stop = JSONValue.object(record)
        let tampering = rules.first { $0.name == "cloudtrail-tampering" }
        #expect(receivers.names(for: stop)?.contains("cloudtrail-tampering") == true)
        #expect(tampering?.targets.contains { if case .blockUser = $0.kind { return true }; return false } == true)
    }

    @Test("every rule fires on the shared CloudTrail data, which holds such events for each")
    func firesOnRealData() throws {
        guard RulePack.hasData else {
            print("shared CloudTrail data not found at \(RulePack.dataDirectory); skipping the real-data check")
            return
        }
        let rules = try RulePack.load().rules
        let table = HitTable.count(rules)
        // Rules on Tripline's own events (source "tripline") cannot fire on CloudTrail logs.
        for rule in rules where !RulePack.isOnTriplineEvents(rule) {
            #expect(table.total(rule.name) > 0, "\(rule.name) fires on none of the shared datasets")
        }
        // The invictus-ir logs are real S3 deliveries of an attack simulation: they must all be read.
        #expect((table.events["invictus-ir"] ?? 0) == 2_900 && (table.skipped["invictus-ir"] ?? 0) == 0,
                "invictus-ir: \(table.events["invictus-ir"] ?? 0) events read, \(table.skipped["invictus-ir"] ?? 0) skipped")
        let markdown = table.markdown(rules: rules)
        print("hits per rule per dataset (Rules/README.md):\n" + markdown)
        let readme = (try? String(contentsOfFile: RulePack.readme, encoding: .utf8)) ?? ""
        #expect(readme.contains(markdown), "Rules/README.md does not hold the current table of hits; replace it with the one printed above")
    }

    @Test("where a rule covers a Panther detection, it agrees with Panther's labels or README says why not")
    func pantherLabels() throws {
        guard RulePack.hasData else {
            print("shared CloudTrail data not found at \(RulePack.dataDirectory); skipping the Panther comparison")
            return
        }
        let outcome = try PantherComparison.run(try RulePack.load().rules)
        print("Panther labels: \(outcome.agreed) of \(outcome.compared) agree")
        for (id, counts) in outcome.perRule.sorted(by: { $0.key < $1.key }) {
            print("  \(id) → \(PantherComparison.coverage[id] ?? "?"): \(counts.agreed)/\(counts.compared)")
        }
        for disagreement in outcome.disagreements {
            print("  disagreement: " + disagreement.text)
            #expect(PantherComparison.explained.contains(disagreement.key), "unexplained: \(disagreement.text)")
        }
        let found = Set(outcome.disagreements.map(\.key))
        for key in PantherComparison.explained.subtracting(found).sorted() {
            Issue.record("listed as a disagreement but the rule now agrees with Panther: \(key); update Rules/README.md")
        }
        let readme = (try? String(contentsOfFile: RulePack.readme, encoding: .utf8)) ?? ""
        for key in found where !readme.contains(key) {
            Issue.record("Rules/README.md does not explain \(key)")
        }
    }
}
