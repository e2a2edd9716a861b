import Foundation
import Testing
import TriplineJSON
@testable import TriplineTargets

/// Every block's text, flattened: header, section text and fields, context elements.
private func blockTexts(_ payload: JSONValue) -> [String] {
    var texts: [String] = []
    for block in payload["blocks"]?.arrayValue ?? [] {
        if let t = block["text"]?["text"]?.stringValue { texts.append(t) }
        for field in block["fields"]?.arrayValue ?? [] { if let t = field["text"]?.stringValue { texts.append(t) } }
        for element in block["elements"]?.arrayValue ?? [] { if let t = element["text"]?.stringValue { texts.append(t) } }
    }
    return texts
}

private func allText(_ payload: JSONValue) -> String {
    ([payload["text"]?.stringValue ?? ""] + blockTexts(payload)).joined(separator: "\n")
}

/// Checks what Slack itself would reject: the shape, block types, and length limits.
private func expectValidSlackPayload(_ payload: JSONValue, sourceLocation: SourceLocation = #_sourceLocation) {
    let text = payload["text"]?.stringValue ?? ""
    #expect(!text.isEmpty, "text must be non-empty", sourceLocation: sourceLocation)
    #expect(SlackText.length(text) <= SlackText.maxSectionText, sourceLocation: sourceLocation)
    guard let blocks = payload["blocks"]?.arrayValue else {
        Issue.record("blocks missing", sourceLocation: sourceLocation)
        return
    }
    #expect(!blocks.isEmpty && blocks.count <= SlackText.maxBlocks, sourceLocation: sourceLocation)
    for block in blocks {
        let type = block["type"]?.stringValue
        #expect(["header", "section", "context", "divider"].contains(type ?? ""), "block type \(String(describing: type))", sourceLocation: sourceLocation)
        switch type {
        case "header":
            #expect(block["text"]?["type"]?.stringValue == "plain_text", sourceLocation: sourceLocation)
            #expect(SlackText.length(block["text"]?["text"]?.stringValue ?? "") <= SlackText.maxHeaderText, sourceLocation: sourceLocation)
        case "section":
            let body = block["text"]?["text"]?.stringValue
            let fields = block["fields"]?.arrayValue
            #expect(body != nil || fields != nil, "a section needs text or fields", sourceLocation: sourceLocation)
            if let body { #expect(!body.isEmpty && SlackText.length(body) <= SlackText.maxSectionText, sourceLocation: sourceLocation) }
            if let fields {
                #expect(fields.count <= SlackText.maxFields, sourceLocation: sourceLocation)
                for field in fields {
                    #expect(field["type"]?.stringValue == "mrkdwn", sourceLocation: sourceLocation)
                    #expect(SlackText.length(field["text"]?.stringValue ?? "") <= SlackText.maxFieldText, sourceLocation: sourceLocation)
                }
            }
        case "context":
            let elements = block["elements"]?.arrayValue ?? []
            #expect(!elements.isEmpty && elements.count <= SlackText.maxContextElements, sourceLocation: sourceLocation)
        default:
            break
        }
    }
    // It must survive a trip through the writer and the strict parser (valid JSON).
    #expect((try? JSONParser.parse(JSONWriter.string(payload))) == payload, sourceLocation: sourceLocation)
}

@Suite("Slack alerts: CloudTrail events to text and blocks")
struct SlackMessageTests {
    let alert = AlertContext(ruleName: "iam-changes", description: "IAM was changed", severity: .high)

    struct FieldCase: Sendable, CustomTestStringConvertible {
        let name: String
        let event: @Sendable () -> JSONValue
        /// Strings that must appear somewhere in the message.
        let expected: [String]
        var testDescription: String { name }
    }

    static let fieldCases: [FieldCase] = [
        FieldCase(name: "IAM user, access denied", event: { SlackMessageFixtures.iamUserAccessDenied },
                  expected: ["*bert-jan*", "`AssumeRole`", "`sts.amazonaws.com`", "`sts:AssumeRole`", "IAMUser",
                             "`arn:aws:iam::123837392027:user/bert-jan`", "`123837392027`", "us-east-1", "`192.168.10.20`",
                             "2023-07-10T12:01:56Z", "stratus-red-team_7d2a6913", ":x: Failed (AccessDenied)",
                             "is not authorized to perform: sts:AssumeRole", "*MFA*\nnot recorded", "073c57c4-c3bb-4d4c-908e-29fa31eefc0d"]),
        FieldCase(name: "console sign-in with MFA", event: { SlackMessageFixtures.consoleLoginWithMFA },
                  expected: ["`ConsoleLogin`", "`signin.amazonaws.com`", "*MFA*\nYes", ":white_check_mark: Succeeded", "`10.8.8.10`",
                             "AWS Console Sign In via CloudTrail", "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:102.0)"]),
        FieldCase(name: "root user", event: { SlackMessageFixtures.rootAttachUserPolicy },
                  expected: [":warning: *root*", "Root (root user)", "`arn:aws:iam::493859302102:root`", "`iam:AttachUserPolicy`",
                             "`92.55.146.245`", "2020-11-01T08:36:38Z", "`493859302102`"]),
        FieldCase(name: "assumed role", event: { SlackMessageFixtures.assumedRole },
                  expected: ["*MyAppRole/i-0abcdef1234567890*", "AssumedRole", "`arn:aws:sts::123456789012:assumed-role/MyAppRole/i-0abcdef1234567890`",
                             "`ec2:DescribeInstances`", "`45.33.32.156`", "aws-cli/2.15.0"]),
        FieldCase(name: "service-linked role session", event: { SlackMessageFixtures.serviceLinkedRole },
                  expected: ["*AWSServiceRoleForRDS/SLRManagement*", "*MFA*\nNo", "`ec2:DescribeVpcs`"]),
    ]

    @Test("every field of a real record is in the message", arguments: fieldCases)
    func fieldsPresent(_ testCase: FieldCase) {
        let payload = SlackMessage.render(event: testCase.event(), alert: alert)
        expectValidSlackPayload(payload)
        let text = allText(payload)
        for expected in testCase.expected {
            #expect(text.contains(expected), "missing \(expected) in:\n\(text)")
        }
        // The rule's name, severity and description are always there.
        #expect(text.contains("iam-changes") && text.contains("HIGH") && text.contains("IAM was changed"))
    }

    @Test("the notification text is one readable sentence")
    func fallbackText() {
        let payload = SlackMessage.render(event: SlackMessageFixtures.iamUserAccessDenied, alert: alert)
        #expect(payload["text"]?.stringValue == "[HIGH] iam-changes: bert-jan called sts:AssumeRole in us-east-1 (failed: AccessDenied)")
        let header = payload["blocks"]?.arrayValue?.first
        #expect(header?["type"]?.stringValue == "header")
        #expect(header?["text"]?["text"]?.stringValue == ":large_orange_circle: HIGH: iam-changes")
    }

    @Test("a failed call says so in the sentence, a successful one does not")
    func failureSentence() {
        let failed = allText(SlackMessage.render(event: SlackMessageFixtures.iamUserAccessDenied, alert: alert))
        #expect(failed.contains("and it *failed*: `AccessDenied`"))
        let worked = allText(SlackMessage.render(event: SlackMessageFixtures.assumedRole, alert: alert))
        #expect(!worked.contains("failed") && !worked.contains("*Error*"))
    }

    @Test("a console sign-in answered Failure counts as failed without an errorCode")
    func consoleLoginFailure() {
        let record = #"{"eventName":"ConsoleLogin","eventSource":"signin.amazonaws.com","responseElements":{"ConsoleLogin":"Failure"},"additionalEventData":{"MFAUsed":"No"},"userIdentity":{"type":"Root","userName":"root"},"errorMessage":"Failed authentication"}"#
        let summary = CloudTrailSummary(event: SlackMessageFixtures.parse(record))
        #expect(summary?.failed == true && summary?.errorCode == "Failure" && summary?.mfaUsed == false && summary?.isRoot == true)
        let text = allText(SlackMessage.render(event: SlackMessageFixtures.parse(record), alert: alert))
        #expect(text.contains("Failed authentication") && text.contains("*MFA*\nNo"))
    }

    @Test("suppressed alerts are counted in the message")
    func suppressionNote() {
        var context = alert
        context.suppressedCount = 12
        let payload = SlackMessage.render(event: SlackMessageFixtures.assumedRole, alert: context)
        #expect(allText(payload).contains(":mute: and 12 more like this since the previous alert"))
        #expect(payload["text"]?.stringValue?.hasSuffix(", and 12 more like this since the previous alert") == true)
        context.suppressedCount = 0
        #expect(!allText(SlackMessage.render(event: SlackMessageFixtures.assumedRole, alert: context)).contains("more like this"))
    }

    @Test("durations read naturally", arguments: [(300.0, "5 minutes"), (60, "1 minute"), (90, "90 seconds"), (3600, "1 hour"),
                                                   (7200, "2 hours"), (86_400, "1 day"), (1, "1 second")])
    func durations(_ seconds: Double, _ phrase: String) {
        #expect(AlertContext.durationPhrase(seconds: seconds) == phrase)
    }

    @Test("untrusted values cannot ping channels or plant links")
    func escaping() {
        let record = #"{"eventName":"Get<Object>","eventSource":"s3.amazonaws.com","userAgent":"<!channel> & <https://evil.example|click>","sourceIPAddress":"1.2.3.4","userIdentity":{"type":"IAMUser","userName":"<@U123>","arn":"arn:aws:iam::1:user/x`y"},"errorCode":"A&B","errorMessage":"<!here> go to <http://x>"}"#
        var context = AlertContext(ruleName: "r<!everyone>", description: "desc <!subteam^S1> & more")
        context.severity = .critical
        let payload = SlackMessage.render(event: SlackMessageFixtures.parse(record), alert: context)
        expectValidSlackPayload(payload)
        let mrkdwnTexts = [payload["text"]?.stringValue ?? ""] + blockTexts(payload).dropFirst() // header is plain_text
        for text in mrkdwnTexts {
            #expect(!text.contains("<"), "unescaped < in \(text)")
            #expect(!text.contains(">"), "unescaped > in \(text)")
            #expect(!text.replacingAmpersandEntities().contains("&"), "unescaped & in \(text)")
        }
        let all = allText(payload)
        #expect(all.contains("&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;"))
        #expect(all.contains("&lt;@U123&gt;"))
        #expect(all.contains("`arn:aws:iam::1:user/x\u{02CB}y`"), "a backtick cannot end the code span early")
    }

    @Test("escaping and truncation", arguments: [
        ("a&b", 100, "a&amp;b"), ("<x>", 100, "&lt;x&gt;"), ("abcdef", 5, "abcd…"), ("abcde", 5, "abcde"),
        ("abcd&", 5, "abcd…"), ("ab&cd", 7, "ab…"), ("ab&cd", 8, "ab&amp;…"), ("ab&cd", 9, "ab&amp;cd"), ("", 5, ""), ("é👍🏽x", 2, "é…"),
    ])
    func escapedText(_ input: String, _ limit: Int, _ expected: String) {
        let out = SlackText.escaped(input, limit: limit)
        #expect(out == expected)
        #expect(SlackText.length(out) <= limit)
    }

    @Test("long values are cut to Slack's limits")
    func truncation() {
        let long = String(repeating: "x<", count: 5000)
        let record = #"{"eventName":"\#(long)","eventSource":"s3.amazonaws.com","userAgent":"\#(long)","errorMessage":"\#(long)","userIdentity":{"type":"IAMUser","userName":"\#(long)","arn":"\#(long)"}}"#
        let context = AlertContext(ruleName: long, description: long, severity: .low, suppressedCount: 3)
        let payload = SlackMessage.render(event: SlackMessageFixtures.parse(record), alert: context)
        expectValidSlackPayload(payload)
        #expect(blockTexts(payload).contains { $0.hasSuffix("…") || $0.hasSuffix("…`") || $0.hasSuffix("…*") })
        #expect(JSONWriter.string(payload).utf8.count < 40_000, "the whole payload stays small")
    }

    @Test("events that are not CloudTrail get a generic message")
    func genericFallback() {
        let event = SlackMessageFixtures.parse(#"""
            {"version":"0","id":"g1","detail-type":"GuardDuty Finding","source":"aws.guardduty","account":"111122223333",
             "time":"2026-11-25T10:00:00Z","region":"eu-west-1","resources":[],"detail":{"type":"Recon:EC2/PortProbeUnprotectedPort","severity":5,"note":"```<!channel>```"}}
            """#)
        let payload = SlackMessage.render(event: event, alert: AlertContext(ruleName: "guardduty", severity: .medium))
        expectValidSlackPayload(payload)
        #expect(payload["text"]?.stringValue == "[MEDIUM] guardduty: GuardDuty Finding from aws.guardduty")
        let text = allText(payload)
        for expected in ["*Source*\naws.guardduty", "*Detail type*\nGuardDuty Finding", "*Account*\n111122223333", "*Region*\neu-west-1",
                         "Recon:EC2/PortProbeUnprotectedPort", "```{", "&lt;!channel&gt;"] {
            #expect(text.contains(expected), "missing \(expected) in:\n\(text)")
        }
        // Only the opening and closing fences remain: a fence in the data is broken up.
        let detail = blockTexts(payload).first { $0.hasPrefix("*Detail*") } ?? ""
        #expect(detail.components(separatedBy: "```").count == 3, "\(detail)")
    }

    @Test("a huge non-CloudTrail detail is excerpted")
    func genericExcerpt() {
        let big = JSONValue.object(JSONObject([
            "source": "custom.app", "detail-type": "Big",
            "detail": .array((0..<2000).map { JSONValue.number(JSONNumber($0)) }),
        ]))
        let payload = SlackMessage.render(event: big, alert: AlertContext(ruleName: "big"))
        expectValidSlackPayload(payload)
        let detail = blockTexts(payload).first { $0.hasPrefix("*Detail*") } ?? ""
        #expect(detail.contains("…") && SlackText.length(detail) <= SlackMessage.detailExcerptLimit + 20)
    }

    @Test("hostile and odd inputs still give a valid message", arguments: [
        "null", "[]", "\"just a string\"", "42", "{}", #"{"detail":"x"}"#, #"{"detail":{"eventName":5,"eventSource":[]}}"#,
        #"{"detail":{"eventName":"X","eventSource":"y","userIdentity":"weird","additionalEventData":[1],"responseElements":"s"}}"#,
        #"{"eventName":"BareRecord","eventSource":"s3.amazonaws.com","userIdentity":{"type":"AssumedRole"}}"#,
        #"{"detail":{"eventName":"","eventSource":"","userIdentity":{"type":"IdentityCenterUser","onBehalfOf":{"userId":"u-1"}}}}"#,
    ])
    func hostile(_ text: String) {
        let event = SlackMessageFixtures.parse(text)
        for context in [AlertContext(ruleName: ""), AlertContext(ruleName: "r", description: "   ", severity: .informational)] {
            expectValidSlackPayload(SlackMessage.render(event: event, alert: context))
        }
    }

    @Test("principal names for each identity type", arguments: [
        (#"{"type":"IAMUser","userName":"alice"}"#, "alice", "IAMUser"),
        (#"{"type":"Root","arn":"arn:aws:iam::1:root"}"#, "root", "Root"),
        (#"{"type":"AWSService","invokedBy":"lambda.amazonaws.com"}"#, "lambda.amazonaws.com", "AWSService"),
        (#"{"type":"AWSAccount","accountId":"111111111111","principalId":"AROAEXAMPLE:s"}"#, "account 111111111111", "AWSAccount"),
        (#"{"type":"FederatedUser","arn":"arn:aws:sts::1:federated-user/bob"}"#, "bob", "FederatedUser"),
        (#"{"type":"IdentityCenterUser","onBehalfOf":{"userId":"544894e8-80c1","identityStoreArn":"arn:aws:identitystore::1:identitystore/d-1"}}"#, "544894e8-80c1", "IdentityCenterUser"),
        (#"{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/Deploy/ci"}"#, "assumed-role/Deploy/ci", "AssumedRole"),
        (#"{"type":"Unknown","userName":"<victim display name>"}"#, "<victim display name>", "Unknown"),
    ])
    func principalNames(_ identity: String, _ name: String, _ type: String) {
        let event = SlackMessageFixtures.parse(#"{"eventName":"X","eventSource":"s.amazonaws.com","userIdentity":\#(identity)}"#)
        let summary = CloudTrailSummary(event: event)
        #expect(summary?.principal == name)
        #expect(summary?.principalType == type)
    }

    @Test("severity words parse, order and have an emoji and colour")
    func severities() {
        #expect(AlertSeverity(parsing: "HIGH") == .high)
        #expect(AlertSeverity(parsing: "info") == .informational)
        #expect(AlertSeverity(parsing: "urgent") == nil)
        #expect(AlertSeverity.low < .critical)
        #expect(Set(AlertSeverity.allCases.map(\.emoji)).count == AlertSeverity.allCases.count)
        #expect(AlertSeverity.allCases.allSatisfy { $0.colour.hasPrefix("#") && $0.colour.count == 7 })
    }
}

private extension String {
    /// The text with the three entities Slack uses removed, to look for stray `&`.
    func replacingAmpersandEntities() -> String {
        var out = self
        for entity in ["&amp;", "&lt;", "&gt;"] { out = out.split(separator: entity, omittingEmptySubsequences: false).joined(separator: "") }
        return out
    }
}

/// Real CloudTrail records for the alerting and blocking tests, as EventBridge envelopes.
///
/// Licence note: the `detail` records are copied unchanged from Tripline's shared test data
/// (`shared/data/cloudtrail/`, see its README):
/// - `iamUserAccessDenied`, `consoleLoginWithMFA`, `serviceLinkedRole`: invictus-ir/aws_dataset
///   (commit 4667aa9c), CloudTrail/*.json, MIT licence, (c) 2023 Invictus Incident Response.
/// - `rootAttachUserPolicy`: panther-labs/panther-analysis (commit daa10c88),
///   test_scenarios/compromised-root-creds, Apache-2.0.
/// - `assumedRole`: panther-labs/panther-analysis (commit daa10c88), rule test records, Apache-2.0.
/// The envelopes around them are written here, as Tripline's normalizer would build them.
enum SlackMessageFixtures {
    static func envelope(_ detail: String, detailType: String = "AWS API Call via CloudTrail", source: String, id: String) -> JSONValue {
        let text = """
            {"version":"0","id":"\(id)","detail-type":"\(detailType)","source":"\(source)","account":"123837392027",
             "time":"2023-07-10T12:00:00Z","region":"us-east-1","resources":[],"detail":\(detail)}
            """
        do { return try JSONParser.parse(text) } catch { fatalError("fixture does not parse: \(error)") }
    }

    static func parse(_ text: String) -> JSONValue {
        do { return try JSONParser.parse(text) } catch { fatalError("fixture does not parse: \(error)") }
    }

    /// invictus-ir/aws_dataset: an IAM user denied sts:AssumeRole.
    static let iamUserAccessDeniedRecord = #"""
        {"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDATFQR7NSC5AU2ZV3IE","arn":"arn:aws:iam::123837392027:user/bert-jan","accountId":"123837392027","accessKeyId":"AKIATFQR7NSC8Q4X20BJ","userName":"bert-jan"},"eventTime":"2023-07-10T12:01:56Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"us-east-1","sourceIPAddress":"192.168.10.20","userAgent":"stratus-red-team_7d2a6913-ded3-49c6-a31c-0cdeebcc259c","errorCode":"AccessDenied","errorMessage":"User: arn:aws:iam::123837392027:user/bert-jan is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123837392027:role/stratus-red-team-leave-org-role","requestParameters":null,"responseElements":null,"requestID":"7a8aa4c1-d365-4762-84c3-14b7eb354af4","eventID":"073c57c4-c3bb-4d4c-908e-29fa31eefc0d","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"123837392027","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.2","cipherSuite":"ECDHE-RSA-AES128-GCM-SHA256","clientProvidedHostHeader":"sts.us-east-1.amazonaws.com"}}
        """#
    static var iamUserAccessDenied: JSONValue { envelope(iamUserAccessDeniedRecord, source: "aws.sts", id: "e-denied") }

    /// invictus-ir/aws_dataset: a console sign-in with MFA.
    static let consoleLoginWithMFARecord = #"""
        {"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDATFQR7NSC5AU2ZV3IE","arn":"arn:aws:iam::123837392027:user/bert-jan","accountId":"123837392027","userName":"bert-jan"},"eventTime":"2023-07-10T12:27:45Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"10.8.8.10","userAgent":"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:102.0) Gecko/20100101 Firefox/102.0","requestParameters":null,"responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"LoginTo":"https://us-east-1.console.aws.amazon.com/vpc/home?region=us-east-1&state=hashArgs%23vpcs%3A&isauthcode=true","MobileVersion":"No","MFAIdentifier":"arn:aws:iam::123837392027:mfa/Mobile","MFAUsed":"Yes"},"eventID":"8feee4c2-5e27-4857-8475-bfa7e7b6d791","readOnly":false,"eventType":"AwsConsoleSignIn","managementEvent":true,"recipientAccountId":"123837392027","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"us-east-1.signin.aws.amazon.com"}}
        """#
    static var consoleLoginWithMFA: JSONValue {
        envelope(consoleLoginWithMFARecord, detailType: "AWS Console Sign In via CloudTrail", source: "aws.signin", id: "e-login")
    }

    /// invictus-ir/aws_dataset: RDS's service-linked role describing VPCs.
    static let serviceLinkedRoleRecord = #"""
        {"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","principalId":"AROATFQR7NSCRR66DMFTC:SLRManagement","arn":"arn:aws:sts::123837392027:assumed-role/AWSServiceRoleForRDS/SLRManagement","accountId":"123837392027","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROATFQR7NSCRR66DMFTC","arn":"arn:aws:iam::123837392027:role/aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS","accountId":"123837392027","userName":"AWSServiceRoleForRDS"},"webIdFederationData":{},"attributes":{"creationDate":"2023-07-10T12:15:59Z","mfaAuthenticated":"false"}},"invokedBy":"rds.amazonaws.com"},"eventTime":"2023-07-10T12:15:59Z","eventSource":"ec2.amazonaws.com","eventName":"DescribeVpcs","awsRegion":"us-east-1","sourceIPAddress":"rds.amazonaws.com","userAgent":"rds.amazonaws.com","requestParameters":{"vpcSet":{"items":[{"vpcId":"vpc-07b33857c7ad1c027"}]},"filterSet":{}},"responseElements":null,"requestID":"ed8fd2f4-6d02-4f3a-946b-e56d6bac513b","eventID":"d810582d-f50c-4816-b231-a693a20995a1","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"123837392027","eventCategory":"Management"}
        """#
    static var serviceLinkedRole: JSONValue { envelope(serviceLinkedRoleRecord, source: "aws.ec2", id: "e-slr") }

    /// panther-analysis test scenario (compromised root credentials): root attaches IAMFullAccess.
    static let rootAttachUserPolicyRecord = #"""
        {"additionalEventData":null,"awsRegion":"us-east-1","eventID":"1","eventName":"AttachUserPolicy","eventSource":"iam.amazonaws.com","eventTime":"2020-11-01T08:36:38Z","eventType":"AwsApiCall","eventVersion":"1.05","recipientAccountId":"493859302102","requestParameters":{"policyArn":"arn:aws:iam::aws:policy/IAMFullAccess","userName":"tracy_stone"},"responseElements":null,"sourceIPAddress":"92.55.146.245","userAgent":"console.amazonaws.com","userIdentity":{"accountId":"493859302102","arn":"arn:aws:iam::493859302102:root","principalId":"493859302102","type":"Root","userName":"root"}}
        """#
    static var rootAttachUserPolicy: JSONValue { envelope(rootAttachUserPolicyRecord, source: "aws.iam", id: "e-root") }

    /// panther-analysis rule test record: an instance role session describing instances.
    static let assumedRoleRecord = #"""
        {"awsRegion":"us-east-1","eventName":"DescribeInstances","eventSource":"ec2.amazonaws.com","eventTime":"2024-01-15T10:30:00Z","eventType":"AwsApiCall","recipientAccountId":"123456789012","sourceIPAddress":"45.33.32.156","userAgent":"aws-cli/2.15.0","userIdentity":{"accessKeyId":"ASIAIOSFODNN7EXAMPLE","accountId":"123456789012","arn":"arn:aws:sts::123456789012:assumed-role/MyAppRole/i-0abcdef1234567890","principalId":"AROAEXAMPLE:i-0abcdef1234567890","type":"AssumedRole","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::123456789012:role/MyAppRole"}}}}
        """#
    static var assumedRole: JSONValue { envelope(assumedRoleRecord, source: "aws.ec2", id: "e-role") }
}
