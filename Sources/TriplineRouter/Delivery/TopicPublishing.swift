#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import TriplineJSON
import TriplineState
import TriplineTargets

extension TargetExecutor {
    /// Deliveries in flight at once for a rule's `Topic` target (publishing is quick: its deliveries
    /// are committed with the publish's own completion, in the dispatcher's group commit).
    static let publishConcurrency = 4

    /// The message attribute carrying how many matches `Suppress` held back before a publish.
    public static let suppressedCountAttribute = "suppressedCount"

    /// SNS's limit on one publish: message body and message attributes together.
    public static let maximumPublishBytes = 262_144

    /// The bytes a publish counts against ``maximumPublishBytes``: the message, and each attribute's
    /// name, data type and value, as SNS counts them.
    public static func publishSize(message: [UInt8], attributes: [String: MessageAttributeValue]) -> Int {
        attributes.reduce(message.count) { total, attribute in
            total + attribute.key.utf8.count + attribute.value.dataType.utf8.count
                + (attribute.value.stringValue?.utf8.count ?? 0) + (attribute.value.binaryValue?.count ?? 0)
        }
    }

    /// The message attributes a rule's publish carries, for `MessageAttributes`-scope filter policies:
    /// `rule` (the rule name); `severity` (the rule's `Severity`, when set); `description` (the rule's
    /// `Description`, when set); `suppressedCount` (matches `Suppress` held back before this one, when
    /// above 0); and for CloudTrail events (`detail.eventName` / `detail.eventSource` strings)
    /// `eventName` and `eventSource`. All are `String`.
    public static func messageAttributes(ruleName: String, severity: String?, event: JSONValue?, description: String? = nil,
                                         suppressedCount: Int = 0) -> [String: MessageAttributeValue] {
        var attributes: [String: MessageAttributeValue] = ["rule": .string(ruleName)]
        if let severity { attributes["severity"] = .string(severity) }
        if let description { attributes["description"] = .string(description) }
        if suppressedCount > 0 { attributes[suppressedCountAttribute] = .string(String(suppressedCount)) }
        if let detail = event?["detail"] {
            if let name = detail["eventName"]?.stringValue { attributes["eventName"] = .string(name) }
            if let source = detail["eventSource"]?.stringValue { attributes["eventSource"] = .string(source) }
        }
        return attributes
    }

    /// Publishes `message` (the rule target's rendered input) to topic `name`: one new journal delivery
    /// per subscription whose filter policy accepts it, following `Topic` subscriptions into other
    /// topics. The deliveries travel in the report's ``AttemptReport/fanOut``: the dispatcher commits
    /// them in the transaction that removes the publishing delivery, so the publish is done exactly
    /// when they are queued. Their idempotency keys (`<message id>:topic:<name>:<subscription>`, the
    /// MessageId derived from the publishing delivery's own key) make a repeated publish of the same
    /// delivery add nothing.
    func publish(_ message: [UInt8], to name: String, rule: Rule, event: JSONValue, delivery: StoredDelivery) -> AttemptReport {
        guard let topic = topics[name] else {
            let text = "no topic named \(JSONWriter.quoted(name)) is loaded"
            return AttemptReport(outcome: .failed(error: text, retryable: false, retryAfter: nil), summary: text)
        }
        let attributes = Self.messageAttributes(ruleName: rule.name, severity: rule.severity, event: event, description: rule.description,
                                                suppressedCount: delivery.suppressedCount)
        let size = Self.publishSize(message: message, attributes: attributes)
        guard size <= Self.maximumPublishBytes else {
            // SNS refuses such a publish outright; retrying cannot help, so it goes to the dead letters.
            let text = "the message to topic \(JSONWriter.quoted(name)) is \(size) bytes with its attributes; SNS's limit is \(Self.maximumPublishBytes) (256 KiB): shape a smaller message with the target's Input or InputTransformer"
            return AttemptReport(outcome: .failed(error: text, retryable: false, retryAfter: nil), summary: text)
        }
        let messageText = String(decoding: message, as: UTF8.self)
        let now = Date()
        var rows: [NewDelivery] = []
        var delivered: [String] = []
        var filtered: [String] = []
        var visited: Set<String> = []

        func fanOut(_ topic: Topic) {
            guard visited.insert(topic.name).inserted else { return }
            // One id per publish to this topic, shared by its subscribers and stable across re-publishes.
            let messageId = SNSNotification.messageId(for: delivery.idempotencyKey + ":" + topic.name)
            for subscription in topic.subscriptions {
                let key = DeliveryKey.target(rule: topic.deliveryRule, target: subscription.id)
                if let policy = subscription.filterPolicy {
                    let accepted = policy.scope == .messageAttributes ? policy.matches(attributes: attributes) : policy.matches(bodyText: message)
                    guard accepted else {
                        filtered.append(key)
                        continue
                    }
                }
                if case .topic(let next) = subscription.kind {
                    if let nextTopic = topics[next] { fanOut(nextTopic) }
                    continue
                }
                if webhooks.isDisabled(key) { continue }
                let body: [UInt8]
                if subscription.rawMessageDelivery {
                    body = message
                } else {
                    body = SNSNotification(messageId: messageId, topicArn: topic.arn, message: messageText, timestamp: now, messageAttributes: attributes).bytes
                }
                // Keyed by the publish's MessageId, not the event's id: two rules (or targets) publishing
                // the same event are two messages, and each subscription gets both, as on SNS.
                // The held-back count travels on, so a subscription's handler or webhook sees it as a rule target's would.
                rows.append(NewDelivery(rule: topic.deliveryRule, target: subscription.id, eventID: messageId, origin: delivery.origin,
                                        event: body, ingestionTime: delivery.ingestionTime, acceptedAt: now.timeIntervalSince1970,
                                        suppressedCount: delivery.suppressedCount))
                delivered.append(key)
            }
        }
        fanOut(topic)

        var summary = "published to topic \(name): \(delivered.count) subscription\(delivered.count == 1 ? "" : "s")"
        if !delivered.isEmpty { summary += " (" + delivered.joined(separator: ", ") + ")" }
        if !filtered.isEmpty { summary += "; filtered out: " + filtered.joined(separator: ", ") }
        return AttemptReport(outcome: .delivered, summary: summary, fanOut: rows)
    }

    /// One attempt of a subscription delivery; the stored event is the message as the subscription receives it.
    func attemptSubscription(_ subscription: TopicSubscription, of topic: Topic, delivery: StoredDelivery, attempt: Int) -> AttemptReport {
        switch subscription.kind {
        case .function(let function):
            return runFunction(function, rule: topic.deliveryRule, target: subscription.id, delivery: delivery, attempt: attempt,
                               payload: delivery.event)
        case .webhook(let spec):
            let parsed = try? JSONParser.parse(delivery.event)
            // A Slack message names the rule that published (from the envelope's attributes) when it can.
            let attribute = { (name: String) in parsed?["MessageAttributes"]?[name]?["Value"]?.stringValue }
            return attemptWebhook(spec, delivery: delivery, event: Self.unwrapped(parsed), payload: delivery.event,
                                  alert: { AlertContext(ruleName: attribute("rule") ?? "topic \(topic.name)", description: attribute("description"),
                                                        severity: attribute("severity").flatMap { AlertSeverity(parsing: $0) },
                                                        suppressedCount: delivery.suppressedCount > 0 ? delivery.suppressedCount : nil) })
        case .file(let file):
            return append(delivery.event, to: file)
        case .topic:
            let text = "a \"Topic\" subscription is forwarded when its topic is published to, not delivered"
            return AttemptReport(outcome: .failed(error: text, retryable: false, retryAfter: nil), summary: text)
        }
    }

    /// The message inside an SNS envelope (parsed when it is JSON), or `value` itself.
    static func unwrapped(_ value: JSONValue?) -> JSONValue? {
        guard let value, value["Type"]?.stringValue == "Notification", let text = value["Message"]?.stringValue else { return value }
        return (try? JSONParser.parse(Array(text.utf8))) ?? .string(text)
    }

    /// The line a `File` subscription writes for `message`, without its newline: the JSON text
    /// compacted as ``JSONWriter`` writes it, anything else as a JSON string. A message already in
    /// that form (an event or notification Tripline wrote) is copied as it is, without parsing it
    /// into a tree and writing the tree again: the same bytes either way.
    static func fileLine(_ message: [UInt8]) -> [UInt8] {
        if JSONWriter.isCompactCanonical(message) { return message }
        return (try? JSONParser.parse(message)).map { JSONWriter.bytes($0) } ?? JSONWriter.bytes(.string(String(decoding: message, as: UTF8.self)))
    }

    /// Appends `message` to the file as one JSON line (JSON text compacted; anything else as a JSON
    /// string), through the descriptor ``AppendFiles`` keeps open for it.
    func append(_ message: [UInt8], to file: FileSubscription) -> AttemptReport {
        var line = Self.fileLine(message)
        line.append(0x0A)
        do {
            try appendFiles.append(line, to: file.path, pathAsWritten: file.pathAsWritten, timeoutSeconds: file.timeoutSeconds)
        } catch {
            return AttemptReport(outcome: .failed(error: error.description, retryable: true, retryAfter: nil), summary: error.description)
        }
        return AttemptReport(outcome: .delivered, summary: "appended to \(file.pathAsWritten)")
    }
}
