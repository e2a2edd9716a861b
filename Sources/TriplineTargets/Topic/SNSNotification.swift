import Foundation
import TriplineJSON

/// The JSON envelope SNS wraps a message in when `RawMessageDelivery` is false (HTTP/S, SQS, Lambda-style deliveries).
///
/// Fields appear in the order AWS documents for HTTP/S and SQS deliveries
/// (https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html): `Type`,
/// `MessageId`, `TopicArn`, `Subject` (only when set), `Message`, `Timestamp`,
/// `SignatureVersion`, `Signature`, `SigningCertURL`, `UnsubscribeURL`, `MessageAttributes` (only
/// when there are any, as `{"name": {"Type": …, "Value": …}}`, sorted by name; Binary values
/// base64-encoded). Tripline does not sign notifications: `SignatureVersion` is `"1"` and
/// `Signature`, `SigningCertURL` and `UnsubscribeURL` are written only when the caller supplies
/// them, so a receiver that verifies SNS signatures rejects local notifications rather than
/// trusting a fake one.
public struct SNSNotification: Sendable, Equatable {
    /// A unique id for this message (SNS uses a UUID).
    public var messageId: String
    /// The topic's ARN; see ``topicArn(name:)`` for Tripline's local form.
    public var topicArn: String
    /// The `Subject` given at publish, if any; omitted from the envelope when nil.
    public var subject: String?
    /// The published message, as a string (a JSON body stays JSON text inside this string).
    public var message: String
    /// When the message was published; written as ISO 8601 UTC with milliseconds.
    public var timestamp: Date
    /// The published attributes, written as `MessageAttributes` when not empty.
    public var messageAttributes: [String: MessageAttributeValue]
    /// Written as `SignatureVersion`; `"1"` by default.
    public var signatureVersion: String
    /// `Signature`, `SigningCertURL`, `UnsubscribeURL`: written only when supplied (Tripline does not sign).
    public var signature: String?
    public var signingCertURL: String?
    public var unsubscribeURL: String?

    public init(messageId: String = UUID().uuidString.lowercased(), topicArn: String, subject: String? = nil, message: String,
                timestamp: Date = Date(), messageAttributes: [String: MessageAttributeValue] = [:], signatureVersion: String = "1",
                signature: String? = nil, signingCertURL: String? = nil, unsubscribeURL: String? = nil) {
        self.messageId = messageId
        self.topicArn = topicArn
        self.subject = subject
        self.message = message
        self.timestamp = timestamp
        self.messageAttributes = messageAttributes
        self.signatureVersion = signatureVersion
        self.signature = signature
        self.signingCertURL = signingCertURL
        self.unsubscribeURL = unsubscribeURL
    }

    /// The `MessageId` of one publish, derived from what identifies it (for Tripline, the publishing
    /// delivery's idempotency key and the topic).
    ///
    /// As on SNS, every subscriber of one publish sees the same id, so receivers can deduplicate;
    /// being derived rather than random, a publish repeated after a crash gives the same id again.
    /// UUID-shaped (version 8: name-based, from HMAC-SHA256).
    public static func messageId(for publish: String) -> String {
        var bytes = Array(StandardWebhookSignature.hmacSHA256(key: Array("tripline-sns-message-id".utf8), message: Array(publish.utf8)).prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x80
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        let parts = [hex.prefix(8), hex.dropFirst(8).prefix(4), hex.dropFirst(12).prefix(4), hex.dropFirst(16).prefix(4), hex.dropFirst(20)]
        return parts.joined(separator: "-")
    }

    /// The local ARN Tripline gives a topic: `arn:tripline:sns:local:000000000000:<name>`.
    ///
    /// Same shape as an AWS topic ARN (partition, service, region, account, name) so code that
    /// splits ARNs keeps working, with a partition no AWS ARN uses so it is never mistaken for one.
    public static func topicArn(name: String) -> String { "arn:tripline:sns:local:000000000000:" + name }

    /// The envelope as a JSON value, members in AWS's order.
    public var json: JSONValue {
        var object = JSONObject()
        func add(_ key: String, _ value: String?) { if let value { object.members.append(JSONMember(key: key, value: .string(value))) } }
        add("Type", "Notification")
        add("MessageId", messageId)
        add("TopicArn", topicArn)
        add("Subject", subject)
        add("Message", message)
        add("Timestamp", SNSNotification.timestampText(timestamp))
        add("SignatureVersion", signatureVersion)
        add("Signature", signature)
        add("SigningCertURL", signingCertURL)
        add("UnsubscribeURL", unsubscribeURL)
        if !messageAttributes.isEmpty {
            var attributes = JSONObject()
            for name in messageAttributes.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                let attribute = messageAttributes[name]!
                let value: String
                if attribute.kind == .ignored, let bytes = attribute.binaryValue {
                    value = Data(bytes).base64EncodedString()
                } else {
                    value = attribute.stringValue ?? ""
                }
                attributes.members.append(JSONMember(key: name, value: ["Type": .string(attribute.dataType), "Value": .string(value)]))
            }
            object.members.append(JSONMember(key: "MessageAttributes", value: .object(attributes)))
        }
        return .object(object)
    }

    /// The envelope as compact UTF-8 JSON, ready to deliver.
    public var bytes: [UInt8] { JSONWriter.bytes(json) }

    /// `2019-11-03T23:28:01.631Z`: UTC, milliseconds (truncated), as SNS writes `Timestamp`.
    public static func timestampText(_ date: Date) -> String {
        UTCTime.iso8601(date.timeIntervalSince1970, milliseconds: true, truncating: true)
    }
}
