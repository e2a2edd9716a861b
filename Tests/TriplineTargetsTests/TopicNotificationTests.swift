import Foundation
import Testing
import TriplineJSON
@testable import TriplineTargets

@Suite("SNS topics: the notification envelope")
struct TopicNotificationTests {
    // Shape and order: https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html
    // and the delivered example on https://docs.aws.amazon.com/sns/latest/dg/example-filter-policies.html
    @Test func envelopeHasAWSFieldsInAWSOrder() throws {
        let notification = SNSNotification(
            messageId: "a1b2c34d-567e-8f90-g1h2-i345j67klmn8", topicArn: SNSNotification.topicArn(name: "MyTopic"),
            subject: "Order", message: #"{"store":"example_corp"}"#, timestamp: Date(timeIntervalSince1970: 1_572_823_681.631),
            messageAttributes: ["store": .string("example_corp"), "customer_interests": .stringArray(#"["soccer", "rugby"]"#),
                                "price_usd": .number("210.75"), "blob": .binary([0xDE, 0xAD])])
        let text = String(decoding: notification.bytes, as: UTF8.self)
        #expect(text == #"{"Type":"Notification","MessageId":"a1b2c34d-567e-8f90-g1h2-i345j67klmn8","TopicArn":"arn:tripline:sns:local:000000000000:MyTopic","Subject":"Order","Message":"{\"store\":\"example_corp\"}","Timestamp":"2019-11-03T23:28:01.631Z","SignatureVersion":"1","MessageAttributes":{"blob":{"Type":"Binary","Value":"3q0="},"customer_interests":{"Type":"String.Array","Value":"[\"soccer\", \"rugby\"]"},"price_usd":{"Type":"Number","Value":"210.75"},"store":{"Type":"String","Value":"example_corp"}}}"#)
        // The message survives as a string that parses back to the published body.
        let parsed = try JSONParser.parse(notification.bytes)
        #expect(parsed["Message"]?.stringValue == #"{"store":"example_corp"}"#)
    }

    @Test func optionalFieldsAppearOnlyWhenGiven() throws {
        let bare = SNSNotification(topicArn: "arn:tripline:sns:local:000000000000:t", message: "hi", timestamp: Date(timeIntervalSince1970: 0))
        #expect(bare.json.objectValue?.keys == ["Type", "MessageId", "TopicArn", "Message", "Timestamp", "SignatureVersion"])
        #expect(bare.json["Timestamp"]?.stringValue == "1970-01-01T00:00:00.000Z")
        #expect(bare.messageId.count == 36 && bare.messageId == bare.messageId.lowercased())
        let signed = SNSNotification(topicArn: "t", message: "m", signature: "sig", signingCertURL: "https://c", unsubscribeURL: "https://u")
        #expect(signed.json.objectValue?.keys == ["Type", "MessageId", "TopicArn", "Message", "Timestamp", "SignatureVersion",
                                                   "Signature", "SigningCertURL", "UnsubscribeURL"])
    }

    @Test("a publish's MessageId is derived: the same publish gives the same id, another publish another, UUID-shaped (version 8)")
    func messageIdIsDerivedFromThePublish() {
        let id = SNSNotification.messageId(for: "evt-1:trail-tampering:alerts:security-alerts")
        #expect(id == SNSNotification.messageId(for: "evt-1:trail-tampering:alerts:security-alerts"))
        #expect(id != SNSNotification.messageId(for: "evt-2:trail-tampering:alerts:security-alerts"))
        let groups = id.split(separator: "-").map(\.count)
        #expect(groups == [8, 4, 4, 4, 12])
        #expect(id.allSatisfy { $0.isHexDigit && !$0.isUppercase || $0 == "-" })
        #expect(Array(id)[14] == "8", "version nibble")
        #expect("89ab".contains(Array(id)[19]), "RFC 9562 variant")
    }

    @Test("timestamps are UTC with milliseconds", arguments: [
        (0.0, "1970-01-01T00:00:00.000Z"),
        (951_782_400.5, "2000-02-29T00:00:00.500Z"),
        (1_798_761_599.999, "2026-12-31T23:59:59.999Z"),
        (-1.0, "1969-12-31T23:59:59.000Z"),
        (4_107_542_400.0, "2100-03-01T00:00:00.000Z"),
    ])
    func timestamps(_ seconds: Double, _ expected: String) {
        #expect(SNSNotification.timestampText(Date(timeIntervalSince1970: seconds)) == expected)
    }

    @Test func hostileTextStaysInsideItsString() throws {
        let n = SNSNotification(topicArn: "t", subject: "\"}\n", message: "\u{0}\"\\", messageAttributes: ["k\"": .string("v\n")])
        let parsed = try JSONParser.parse(n.bytes)
        #expect(parsed["Subject"]?.stringValue == "\"}\n")
        #expect(parsed["Message"]?.stringValue == "\u{0}\"\\")
        #expect(parsed["MessageAttributes"]?["k\""]?["Value"]?.stringValue == "v\n")
    }
}
