import Foundation
import Testing
import TriplineJSON
@testable import TriplineTargets

/// The InputTransformer examples in Examples/chat-templates: valid JSON targets whose templates,
/// filled from a real event, give the payload each chat tool expects.
@Suite("Slack alerts: chat templates for Teams, Mattermost and Discord")
struct SlackMessageChatTemplatesTests {
    static let folder: URL = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { break }
            url.deleteLastPathComponent()
        }
        return url.appendingPathComponent("Examples/chat-templates")
    }()

    static let predefined = ["aws.events.rule-name", "aws.events.event.ingestion-time"]

    /// Fills every `<name>` of `template` (all of them inside JSON strings) with the value's text, JSON-escaped,
    /// as the input transformer does for placeholders inside strings.
    static func fill(_ template: String, values: [String: String]) -> String {
        var out = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "<"), let close = rest[open...].firstIndex(of: ">") {
            out += rest[..<open]
            let name = String(rest[rest.index(after: open)..<close])
            if let value = values[name] {
                let quoted = JSONWriter.quoted(value)
                out += quoted.dropFirst().dropLast()
            } else {
                out += rest[open...close]
            }
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }

    static func load(_ file: String) throws -> (target: JSONValue, paths: [String: String], template: String) {
        let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
        let target = try JSONParser.parse(text)
        let transformer = try #require(target["InputTransformer"]?.objectValue)
        var paths: [String: String] = [:]
        for member in try #require(transformer["InputPathsMap"]?.objectValue) {
            let path: String = try #require(member.value.stringValue, "\(member.key) must be a path string")
            paths[member.key] = path
        }
        let template = try #require(transformer["InputTemplate"]?.stringValue)
        return (target, paths, template)
    }

    @Test("the folder holds the three examples and a README")
    func files() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.folder.path).sorted()
        #expect(names == ["README.md", "discord.json", "mattermost.json", "teams-adaptive-card.json"])
    }

    @Test("each example is a target with a valid transformer", arguments: ["teams-adaptive-card.json", "mattermost.json", "discord.json"])
    func wellFormed(_ file: String) throws {
        let (target, paths, template) = try Self.load(file)
        #expect(target["Id"]?.stringValue?.isEmpty == false)
        #expect(target["Webhook"]?["Url"]?.stringValue?.hasPrefix("${") == true, "the URL is a secret from the environment")
        #expect(template.utf8.count <= 8192, "EventBridge's template limit")
        for (name, path) in paths {
            #expect((try? AlertValuePath(parsing: path)) != nil, "\(name): \(path)")
        }
        // Every placeholder is declared or predefined.
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "<"), let close = rest[open...].firstIndex(of: ">") {
            let name = String(rest[rest.index(after: open)..<close])
            #expect(paths[name] != nil || Self.predefined.contains(name), "\(file): <\(name)> is not declared")
            rest = rest[rest.index(after: close)...]
        }
    }

    @Test("filled from real events the payloads parse and have the tool's shape", arguments: ["teams-adaptive-card.json", "mattermost.json", "discord.json"])
    func rendered(_ file: String) throws {
        let (_, paths, template) = try Self.load(file)
        let hostile = JSONValue.object(JSONObject([
            "detail": .object(JSONObject(["eventName": "X\"}]}", "userAgent": "a\\b\n<@everyone>", "userIdentity": ["arn": "\u{0001}"]])),
        ]))
        for event in [SlackMessageFixtures.iamUserAccessDenied, SlackMessageFixtures.rootAttachUserPolicy, hostile] {
            var values = ["aws.events.rule-name": "iam-changes", "aws.events.event.ingestion-time": "2026-11-25T10:00:00Z"]
            for (name, path) in paths {
                values[name] = (try? AlertValuePath(parsing: path))?.text(in: event) ?? ""
            }
            let payload = try JSONParser.parse(Self.fill(template, values: values))
            switch file {
            case "teams-adaptive-card.json":
                let card = payload["attachments"]?.arrayValue?.first?["content"]
                #expect(payload["type"]?.stringValue == "message")
                #expect(card?["type"]?.stringValue == "AdaptiveCard")
                #expect(card?["body"]?.arrayValue?.contains { $0["type"]?.stringValue == "FactSet" } == true)
            case "mattermost.json":
                #expect(payload["text"]?.stringValue?.contains("iam-changes") == true)
                #expect(payload["attachments"]?.arrayValue?.first?["fields"]?.arrayValue?.isEmpty == false)
            default:
                #expect(payload["allowed_mentions"]?["parse"] == .array([]))
                #expect(payload["embeds"]?.arrayValue?.count == 1)
                #expect(payload["content"]?.stringValue?.contains("iam-changes") == true)
            }
            if event == SlackMessageFixtures.iamUserAccessDenied {
                #expect(JSONWriter.string(payload).contains("AccessDenied"), "\(file) shows the error")
            }
        }
    }
}
