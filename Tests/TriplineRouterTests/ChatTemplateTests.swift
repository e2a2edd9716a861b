import Foundation
import Testing
import TriplineJSON
@testable import TriplineRouter

@Suite("Chat templates (Examples/chat-templates): valid webhook targets whose input renders to JSON")
struct ChatTemplateTests {
    static let directory = RulePack.packageRoot.appendingPathComponent("Examples/chat-templates")
    static let names = ["teams-adaptive-card.json", "mattermost.json", "discord.json"]

    @Test("each template is a webhook target a rule accepts, and renders a real event to valid JSON", arguments: names)
    func templateLoadsAndRenders(name: String) throws {
        let target = try String(contentsOf: Self.directory.appendingPathComponent(name), encoding: .utf8)
        let rule = #"{"Name": "r", "Description": "d", "Severity": "high", "EventPattern": {"source": ["aws.iam"]}, "Targets": ["# + target + "]}"
        let (rules, errors) = RuleFile.parse(bytes: Array(rule.utf8), file: "Rules/r.json")
        #expect(errors.isEmpty, "\(errors)")
        let parsed = try #require(rules.first?.targets.first)
        guard case .webhook = parsed.kind else { Issue.record("\(name) is not a webhook target"); return }
        let event: JSONValue = ["version": "0", "id": "1", "detail-type": "AWS API Call via CloudTrail", "source": "aws.iam",
                                "account": "111122223333", "time": "2024-03-01T10:00:00Z", "region": "eu-west-1", "resources": [],
                                "detail": ["eventName": "CreateUser", "eventSource": "iam.amazonaws.com", "sourceIPAddress": "198.51.100.7",
                                           "userAgent": "aws-cli \"quoted\"", "userIdentity": ["type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice"]]]
        let body = try parsed.input.render(event: event, eventBytes: nil, ruleName: "r", ingestionTime: "2024-03-01T10:00:01Z")
        #expect((try? JSONParser.parse(body)) != nil, "\(name) renders invalid JSON: \(String(decoding: body, as: UTF8.self))")
    }
}
