import TriplineJSON
import TriplineTargets

/// An SNS-style topic declared in a rule file: a name and the subscriptions a publish fans out to.
///
/// ```json
/// {"Topic": {"Name": "security-alerts", "Subscriptions": [
///   {"Id": "ops", "Function": {"Handler": "handlers/page.sh"}},
///   {"Id": "log", "File": {"Path": "alerts.ndjson"}, "RawMessageDelivery": true},
///   {"Id": "slack", "Webhook": {"Url": "${SLACK_WEBHOOK_URL}"}, "FilterPolicy": {"severity": ["high", "critical"]}}
/// ]}}
/// ```
///
/// A rule publishes to it with a target `{"Id": "alerts", "Topic": "security-alerts"}`. Each
/// subscription is delivered as its own journal delivery, under the rule name ``deliveryRule``
/// (`topic:<name>`) and the subscription's `Id`, with its own retry policy, dead letters and
/// concurrency lane.
public struct Topic: Sendable, Equatable {
    /// Unique across all rule files; same character set as rule names.
    public var name: String
    public var subscriptions: [TopicSubscription]
    /// The rule file that declares it.
    public var file: String
    public var location: JSONLocation?

    /// Most subscriptions per topic.
    public static let maxSubscriptions = 100
    /// The prefix of the rule name topic subscription deliveries are journaled under.
    public static let deliveryRulePrefix = "topic:"

    public init(name: String, subscriptions: [TopicSubscription], file: String = "", location: JSONLocation? = nil) {
        self.name = name
        self.subscriptions = subscriptions
        self.file = file
        self.location = location
    }

    /// `topic:<name>`: the journal's rule name for deliveries to this topic's subscriptions.
    public var deliveryRule: String { Topic.deliveryRulePrefix + name }
    /// `arn:tripline:sns:local:000000000000:<name>`.
    public var arn: String { SNSNotification.topicArn(name: name) }

    /// The topic name in a journal rule name `topic:<name>`, nil for an ordinary rule.
    public static func name(fromDeliveryRule rule: String) -> String? {
        rule.hasPrefix(deliveryRulePrefix) ? String(rule.dropFirst(deliveryRulePrefix.count)) : nil
    }
}
