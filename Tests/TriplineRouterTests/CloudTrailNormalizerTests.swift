import Foundation
import Testing
import EventPattern
import TriplineJSON
@testable import TriplineRouter

/// Real CloudTrail records (Fixtures/cloudtrail-records.ndjson, see LICENSE-NOTE.md), one per line.
private enum CloudTrailFixtures {
    static let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/cloudtrail-records.ndjson")

    static let lines: [[UInt8]] = {
        guard let data = FileManager.default.contents(atPath: file.path) else { return [] }
        return [UInt8](data).split(separator: UInt8(ascii: "\n")).map(Array.init)
    }()

    /// The record on 1-based `line`.
    static func record(_ line: Int) throws -> JSONValue {
        try #require(line <= lines.count, "fixture has \(lines.count) lines")
        return try JSONParser.parse(lines[line - 1])
    }
}

/// What AWS's envelope for each fixture line must hold (computed independently with Python's
/// json and uuid modules; "INGEST" marks records without `eventTime`; a space-separated
/// `eventTime` comes out in EventBridge's `T…Z` form).
struct ExpectedEnvelope: Sendable, CustomTestStringConvertible {
    var line: Int
    var detailType: String
    var source: String
    var account: String
    var time: String
    var region: String
    var resources: [String]
    var id: String
    var readOnlyManagement: Bool

    var testDescription: String { "line \(line): \(source) \(detailType)" }
}

private let ingestionTime = "2024-05-01T12:00:00Z"

private let expectedEnvelopes: [ExpectedEnvelope] = [
    .init(line: 1, detailType: "AWS Console Sign In via CloudTrail", source: "aws.signin", account: "123837392027", time: "2023-07-10T12:23:15Z", region: "us-east-1", resources: [], id: "51a2150f-679d-5ec1-9598-de16a17b25c2", readOnlyManagement: false),
    .init(line: 2, detailType: "AWS Console Sign In via CloudTrail", source: "aws.signin", account: "123456789012", time: "2019-01-01T00:00:00Z", region: "us-east-1", resources: [], id: "3fb5dea1-b25b-5367-84f1-49e3717639d4", readOnlyManagement: false),
    .init(line: 3, detailType: "AWS Console Sign In via CloudTrail", source: "aws.signin", account: "123456789012", time: "2019-01-01T00:00:00Z", region: "us-east-1", resources: [], id: "2c5b6f08-1e67-5f59-9e40-13b192c1fae4", readOnlyManagement: false),
    .init(line: 4, detailType: "AWS API Call via CloudTrail", source: "aws.health", account: "123837392027", time: "2023-07-10T11:42:38Z", region: "us-east-1", resources: [], id: "3634cfb7-7ca3-534f-b232-fcfafb733b5c", readOnlyManagement: true),
    .init(line: 5, detailType: "AWS API Call via CloudTrail", source: "aws.iam", account: "123837392027", time: "2023-07-10T12:23:05Z", region: "us-east-1", resources: [], id: "c0ca1cdf-40dc-57b3-b15b-d8023dde7c5b", readOnlyManagement: false),
    .init(line: 6, detailType: "AWS API Call via CloudTrail", source: "aws.kms", account: "123837392027", time: "2023-07-10T11:57:50Z", region: "us-east-1", resources: ["arn:aws:kms:us-east-1:123837392027:key/dad21b23-9915-42bd-981b-2a9f3c8f20c8"], id: "bdfdb6db-e45a-55fd-9c8d-8b21b218584f", readOnlyManagement: true),
    .init(line: 7, detailType: "AWS API Call via CloudTrail", source: "aws.sts", account: "123837392027", time: "2023-07-10T11:55:22Z", region: "us-east-1", resources: ["arn:aws:iam::123837392027:role/stratus-red-team-ec2-steal-credentials-role"], id: "69edb5fd-dd6e-5df6-952e-7ad2dc9d9b24", readOnlyManagement: true),
    .init(line: 8, detailType: "AWS API Call via CloudTrail", source: "aws.sts", account: "123837392027", time: "2023-07-10T11:54:42Z", region: "us-east-1", resources: [], id: "abac5082-7daa-53db-9bb8-d8b009964018", readOnlyManagement: true),
    .init(line: 9, detailType: "AWS Service Event via CloudTrail", source: "aws.ec2", account: "123837392027", time: "2023-07-10T11:55:23Z", region: "us-east-1", resources: [], id: "42a27a03-89d1-5473-8cbd-8e2beca15f54", readOnlyManagement: false),
    .init(line: 10, detailType: "AWS Console Action via CloudTrail", source: "aws.billingconsole", account: "123456789123", time: "2022-11-23T21:06:45Z", region: "us-east-1", resources: [], id: "9748e20b-8f32-5b06-ab4a-fd62f2a5c241", readOnlyManagement: true),
    .init(line: 11, detailType: "AWS API Call via CloudTrail", source: "aws.s3", account: "012345678901", time: "2023-01-01T12:00:00Z", region: "", resources: ["arn:aws:s3:::sensitive-data-bucket/confidential/file.pdf"], id: "3699904c-6c4a-5071-8fc8-cd2a64525817", readOnlyManagement: false),
    .init(line: 12, detailType: "AWS API Call via CloudTrail", source: "aws.s3", account: "123456789123", time: "INGEST", region: "us-east-1", resources: ["arn:aws:s3:::mordors3stack-s3bucket-llp2yingx64a"], id: "ac85240b-b029-5575-bbd9-bdab128d4c7a", readOnlyManagement: false),
    .init(line: 13, detailType: "AWS API Call via CloudTrail", source: "aws.cloudtrail", account: "123456789012", time: "2019-01-01T00:00:00Z", region: "us-west-2", resources: [], id: "1bea20ed-5d65-5419-80f3-660b663ea461", readOnlyManagement: false),
    .init(line: 14, detailType: "AWS API Call via CloudTrail", source: "aws.ec2", account: "123456789123", time: "INGEST", region: "us-east-1", resources: [], id: "8df87560-6292-54f5-a829-95fa2929f68d", readOnlyManagement: false),
    .init(line: 15, detailType: "AWS API Call via CloudTrail", source: "aws.secretsmanager", account: "123837392027", time: "2023-07-10T11:57:50Z", region: "us-east-1", resources: [], id: "28c90ba2-4667-5dec-b460-c94d267d30ea", readOnlyManagement: true),
    .init(line: 16, detailType: "AWS API Call via CloudTrail", source: "aws.s3", account: "123456789012", time: "2019-01-01T00:00:00Z", region: "us-west-2", resources: [], id: "e89cea2e-c18c-567a-9de6-b7ac9b139277", readOnlyManagement: false),
    .init(line: 17, detailType: "AWS API Call via CloudTrail", source: "aws.ec2", account: "123456789", time: "INGEST", region: "us-east-1", resources: [], id: "8b0d369d-e96c-500e-936b-ae0d6559e1cd", readOnlyManagement: false),
    .init(line: 18, detailType: "AWS API Call via CloudTrail", source: "aws.s3", account: "101010101111", time: "2015-11-23T07:45:25Z", region: "us-east-1", resources: [], id: "e94c4481-32ec-5274-996a-66953162a18c", readOnlyManagement: false),
]

@Suite("CloudTrail records become EventBridge events")
struct CloudTrailNormalizerTests {
    @Test("the fixture file holds every expected record")
    func fixtureIsComplete() {
        #expect(CloudTrailFixtures.lines.count == expectedEnvelopes.count)
    }

    @Test("each real record gets the envelope AWS delivers", arguments: expectedEnvelopes)
    func envelopeOfRealRecord(_ expected: ExpectedEnvelope) throws {
        let record = try CloudTrailFixtures.record(expected.line)
        #expect(CloudTrailNormalizer.classify(record) == .cloudTrailRecord)
        let envelope = CloudTrailNormalizer.envelope(for: record, ingestionTime: ingestionTime)
        let object = try #require(envelope.objectValue)
        #expect(object.keys == ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"])
        #expect(object["version"] == "0")
        #expect(object["id"] == .string(expected.id))
        #expect(object["detail-type"] == .string(expected.detailType))
        #expect(object["source"] == .string(expected.source))
        #expect(object["account"] == .string(expected.account))
        #expect(object["time"] == .string(expected.time == "INGEST" ? ingestionTime : expected.time))
        #expect(object["region"] == .string(expected.region))
        #expect(object["resources"] == .array(expected.resources.map(JSONValue.string)))
        #expect(object["detail"] == record, "the record is the detail, unchanged")
        #expect(CloudTrailNormalizer.classify(envelope) == .envelope)
        #expect(CloudTrailNormalizer.isReadOnlyManagementEvent(envelope) == expected.readOnlyManagement)
    }

    @Test("envelopes of real records match AWS-style patterns")
    func envelopesMatchPatterns() throws {
        let rootLogin = try EventPattern.parse(#"{"source": ["aws.signin"], "detail-type": ["AWS Console Sign In via CloudTrail"], "detail": {"userIdentity": {"type": ["Root"]}}}"#)
        let stopLogging = try EventPattern.parse(#"{"source": ["aws.cloudtrail"], "detail-type": ["AWS API Call via CloudTrail"], "detail": {"eventName": ["StopLogging"]}}"#)
        let machine = PatternMachine([(id: 1, pattern: rootLogin), (id: 2, pattern: stopLogging)])
        var matched: [Int: [Int]] = [:]
        for line in 1...CloudTrailFixtures.lines.count {
            let envelope = CloudTrailNormalizer.envelope(for: try CloudTrailFixtures.record(line), ingestionTime: ingestionTime)
            for id in try machine.matches(event: JSONWriter.bytes(envelope)) { matched[id, default: []].append(line) }
        }
        #expect(matched[1] == [2], "only the root sign-in (line 2)")
        #expect(matched[2] == [13], "only StopLogging (line 13)")
    }

    @Test("the same record always gets the same id; different records never share one")
    func idsAreDeterministic() throws {
        let compact = try JSONParser.parse(#"{"eventVersion":"1.08","eventID":"1","eventTime":"2019-01-01T00:00:00Z","eventName":"A","n":1.50}"#)
        let spaced = try JSONParser.parse("{ \"eventVersion\": \"1.08\",\n \"eventID\": \"1\", \"eventTime\": \"2019-01-01T00:00:00Z\", \"eventName\": \"A\", \"n\": 1.50 }")
        let other = try JSONParser.parse(#"{"eventVersion":"1.08","eventID":"1","eventTime":"2019-01-01T00:00:00Z","eventName":"B","n":1.50}"#)
        let id = CloudTrailNormalizer.eventID(for: compact)
        #expect(id == CloudTrailNormalizer.eventID(for: spaced), "whitespace does not matter")
        #expect(id != CloudTrailNormalizer.eventID(for: other), "same placeholder eventID, different record")
        let ids = try (1...CloudTrailFixtures.lines.count).map { CloudTrailNormalizer.eventID(for: try CloudTrailFixtures.record($0)) }
        #expect(Set(ids).count == ids.count)
        for id in ids {
            let characters = Array(id)
            #expect(characters.count == 36 && characters[14] == "5", "version 5 UUID: \(id)")
            #expect("89ab".contains(characters[19]), "RFC 4122 variant: \(id)")
        }
    }

    @Test("classify tells records, envelopes and other JSON apart", arguments: [
        (#"{"eventVersion":"1.08","eventSource":"iam.amazonaws.com","eventName":"CreateUser"}"#, CloudTrailNormalizer.Kind.cloudTrailRecord),
        (#"{"eventName":"ConsoleLogin"}"#, .cloudTrailRecord),
        (#"{"eventVersion":"1.07","eventType":"AwsCloudTrailInsight","insightDetails":{}}"#, .cloudTrailRecord),
        (#"{"eventVersion":"1.05","userIdentity":{"type":"Root"}}"#, .cloudTrailRecord),
        (#"{"version":"0","detail-type":"AWS API Call via CloudTrail","source":"aws.iam","detail":{"eventName":"CreateUser"}}"#, .envelope),
        (#"{"detail-type":"Scheduled Event","source":"aws.events","detail":{}}"#, .envelope),
        (#"{"detail-type":"x","source":"y","detail":"not an object"}"#, .unknown),
        (#"{"eventVersion":"1.08"}"#, .unknown),
        (#"{"Records":[]}"#, .unknown),
        (#"[1,2]"#, .unknown),
        (#""eventName""#, .unknown),
    ])
    func classify(_ text: String, _ kind: CloudTrailNormalizer.Kind) throws {
        #expect(CloudTrailNormalizer.classify(try JSONParser.parse(text)) == kind)
    }

    @Test("normalize wraps records, passes envelopes through, rejects the rest")
    func normalize() throws {
        let envelope = try JSONParser.parse(#"{"detail-type":"GuardDuty Finding","source":"aws.guardduty","detail":{"severity":8}}"#)
        #expect(CloudTrailNormalizer.normalize(envelope, ingestionTime: ingestionTime) == envelope)
        let record = try CloudTrailFixtures.record(5)
        #expect(CloudTrailNormalizer.normalize(record, ingestionTime: ingestionTime)?["detail"] == record)
        #expect(CloudTrailNormalizer.normalize(["x": 1], ingestionTime: ingestionTime) == nil)
    }

    @Test("source is aws. plus the service prefix of eventSource", arguments: [
        ("iam.amazonaws.com", "aws.iam"),
        ("signin.amazonaws.com", "aws.signin"),
        ("monitoring.amazonaws.com", "aws.monitoring"),
        ("s3-outposts.amazonaws.com", "aws.s3-outposts"),
        ("custom.example", "aws.custom.example"),
    ] as [(String, String)])
    func source(_ eventSource: String, _ source: String) {
        #expect(CloudTrailNormalizer.source(forEventSource: eventSource) == source)
    }

    @Test("time drops an eventTime fraction of any length, never rounding into the next second", arguments: [
        ("2024-12-31T23:59:59.999999Z", "2024-12-31T23:59:59Z"), ("2024-12-31T23:59:59.9999999Z", "2024-12-31T23:59:59Z"),
        ("2024-12-31T23:59:59.99999999Z", "2024-12-31T23:59:59Z"), ("2024-12-31T23:59:59.9999999+00:00", "2024-12-31T23:59:59Z"),
    ] as [(String, String)])
    func timeTruncatesFraction(_ eventTime: String, _ time: String) throws {
        #expect(CloudTrailNormalizer.time(forEventTime: eventTime) == time)
        let record = try JSONParser.parse(#"{"eventSource":"s3.amazonaws.com","eventName":"X","eventTime":"\#(eventTime)"}"#)
        #expect(CloudTrailNormalizer.envelope(for: record, ingestionTime: "2000-01-01T00:00:00Z")["time"] == .string(time))
    }

    @Test("a record without eventSource gets source aws.cloudtrail")
    func sourceWithoutEventSource() {
        #expect(CloudTrailNormalizer.source(forEventSource: nil) == "aws.cloudtrail")
        #expect(CloudTrailNormalizer.source(forEventSource: "") == "aws.cloudtrail")
    }

    @Test("detail-type follows eventType", arguments: [
        ("AwsApiCall", "AWS API Call via CloudTrail"),
        ("AwsConsoleSignIn", "AWS Console Sign In via CloudTrail"),
        ("AwsServiceEvent", "AWS Service Event via CloudTrail"),
        ("AwsConsoleAction", "AWS Console Action via CloudTrail"),
        ("AwsCloudTrailInsight", "AWS Insight via CloudTrail"),
        ("AwsVpceEvent", "AWS API Call via CloudTrail"),
    ] as [(String, String)])
    func detailType(_ eventType: String, _ detailType: String) {
        #expect(CloudTrailNormalizer.detailType(forEventType: eventType) == detailType)
    }

    @Test("network activity events and records without eventType are API calls that ENABLED rules receive, as README says")
    func networkActivityAndUntypedRecords() throws {
        let vpce = try JSONParser.parse(#"{"eventVersion":"1.09","eventSource":"cloudtrail.amazonaws.com","eventName":"UpdateTrail","eventType":"AwsVpceEvent","eventCategory":"NetworkActivity","readOnly":true,"recipientAccountId":"111122223333","userIdentity":{"accountId":"444455556666"},"vpcEndpointId":"vpce-1"}"#)
        let envelope = CloudTrailNormalizer.envelope(for: vpce, ingestionTime: ingestionTime)
        #expect(envelope["detail-type"] == "AWS API Call via CloudTrail")
        #expect(envelope["source"] == "aws.cloudtrail")
        #expect(envelope["account"] == "111122223333", "recipientAccountId comes before userIdentity.accountId")
        #expect(!CloudTrailNormalizer.isReadOnlyManagementEvent(envelope), "not a management event, so ENABLED rules receive it")
        let untyped = try JSONParser.parse(#"{"eventVersion":"1.01","eventSource":"iam.amazonaws.com","eventName":"DeleteUser"}"#)
        #expect(CloudTrailNormalizer.envelope(for: untyped, ingestionTime: ingestionTime)["detail-type"] == "AWS API Call via CloudTrail")
        let insight = try JSONParser.parse(#"{"eventVersion":"1.07","eventType":"AwsCloudTrailInsight","eventCategory":"Insight","recipientAccountId":"111122223333","insightDetails":{"eventSource":"ssm.amazonaws.com"}}"#)
        let insightEnvelope = CloudTrailNormalizer.envelope(for: insight, ingestionTime: ingestionTime)
        #expect(insightEnvelope["source"] == "aws.cloudtrail", "an Insights record keeps its eventSource inside insightDetails")
        #expect(insightEnvelope["detail-type"] == "AWS Insight via CloudTrail")
    }

    @Test("account falls back to userIdentity.accountId, then to empty")
    func accountFallbacks() throws {
        let withIdentity = try JSONParser.parse(#"{"eventName":"X","userIdentity":{"accountId":"111122223333"}}"#)
        #expect(CloudTrailNormalizer.envelope(for: withIdentity, ingestionTime: ingestionTime)["account"] == "111122223333")
        let bare = try JSONParser.parse(#"{"eventName":"X"}"#)
        let envelope = CloudTrailNormalizer.envelope(for: bare, ingestionTime: ingestionTime)
        #expect(envelope["account"] == "")
        #expect(envelope["region"] == "")
        #expect(envelope["time"] == .string(ingestionTime))
        #expect(envelope["detail-type"] == "AWS API Call via CloudTrail")
    }

    @Test("read-only management events are recognised only when CloudTrail delivered them", arguments: [
        (#"{"detail-type":"AWS API Call via CloudTrail","source":"aws.ec2","detail":{"readOnly":true,"eventCategory":"Management"}}"#, true),
        (#"{"detail-type":"AWS API Call via CloudTrail","source":"aws.ec2","detail":{"readOnly":true}}"#, true),
        (#"{"detail-type":"AWS Console Action via CloudTrail","source":"aws.billingconsole","detail":{"readOnly":true}}"#, true),
        (#"{"detail-type":"AWS API Call via CloudTrail","source":"aws.ec2","detail":{"readOnly":false,"eventCategory":"Management"}}"#, false),
        (#"{"detail-type":"AWS API Call via CloudTrail","source":"aws.ec2","detail":{"eventCategory":"Management"}}"#, false),
        (#"{"detail-type":"AWS API Call via CloudTrail","source":"aws.s3","detail":{"readOnly":true,"eventCategory":"Data"}}"#, false),
        (#"{"detail-type":"AWS API Call via CloudTrail","source":"aws.s3","detail":{"readOnly":true,"managementEvent":false}}"#, false),
        (#"{"detail-type":"AWS API Call via CloudTrail","source":"aws.s3","detail":{"readOnly":"true"}}"#, false),
        (#"{"detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","detail":{"readOnly":true}}"#, false),
        // STS: AssumeRole is read-only; GetSessionToken and GetFederationToken are change events on EventBridge.
        (#"{"detail-type":"AWS API Call via CloudTrail","source":"aws.sts","detail":{"readOnly":true,"eventSource":"sts.amazonaws.com","eventName":"AssumeRole"}}"#, true),
        (#"{"detail-type":"AWS API Call via CloudTrail","source":"aws.sts","detail":{"readOnly":true,"eventSource":"sts.amazonaws.com","eventName":"GetSessionToken"}}"#, false),
        (#"{"detail-type":"AWS API Call via CloudTrail","source":"aws.sts","detail":{"readOnly":true,"eventSource":"sts.amazonaws.com","eventName":"GetFederationToken"}}"#, false),
        (#"{"detail-type":"AWS API Call via CloudTrail","source":"aws.iam","detail":{"readOnly":true,"eventSource":"iam.amazonaws.com","eventName":"GetSessionToken"}}"#, true),
    ] as [(String, Bool)])
    func readOnlyManagement(_ text: String, _ readOnly: Bool) throws {
        #expect(CloudTrailNormalizer.isReadOnlyManagementEvent(try JSONParser.parse(text)) == readOnly)
    }

    @Test("rule state decides which events a rule receives", arguments: [
        (RuleState.enabled, false, true),
        (.enabled, true, false),
        (.disabled, false, false),
        (.disabled, true, false),
        (.enabledWithAllCloudTrailManagementEvents, false, true),
        (.enabledWithAllCloudTrailManagementEvents, true, true),
    ] as [(RuleState, Bool, Bool)])
    func ruleStateFiltersEvents(_ state: RuleState, _ readOnly: Bool, _ received: Bool) throws {
        let rule = Rule(name: "r", state: state, pattern: try EventPattern.parse(#"{"source":["aws.ec2"]}"#), file: "r.json")
        let event = try JSONParser.parse(#"{"detail-type":"AWS API Call via CloudTrail","source":"aws.ec2","detail":{"eventCategory":"Management","readOnly":\#(readOnly)}}"#)
        #expect(rule.receives(event) == received)
    }

    @Test("SHA-1 matches the FIPS 180 test vectors", arguments: [
        (Array("".utf8), "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        (Array("abc".utf8), "a9993e364706816aba3e25717850c26c9cd0d89d"),
        (Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8), "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
        ([UInt8](repeating: UInt8(ascii: "a"), count: 1000), "291e9a6c66994949b57ba5e650361e98fc36b1ba"),
        ((0..<768).map { UInt8($0 % 256) }, "ac2a264c8ec1f4232a40854e8239bc3a697ab1d2"),
    ] as [([UInt8], String)])
    func sha1(_ input: [UInt8], _ hex: String) {
        #expect(Digest.hex(Digest.sha1(input)) == hex)
    }

    @Test("name-based UUIDs match RFC 4122 version 5")
    func uuidVersion5() {
        #expect(NameBasedUUID.v5(namespace: NameBasedUUID.urlNamespace, name: "https://www.example.com/") == "3d3ed9d2-aa3d-5fa6-90e8-ed662e90f559")
        #expect(NameBasedUUID.v5(namespace: NameBasedUUID.urlNamespace, name: "tripline") == "af2caf89-683c-58d3-a7a6-135577832fcf")
    }
}
