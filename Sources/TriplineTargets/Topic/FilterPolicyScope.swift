/// What an SNS subscription filter policy is matched against: the message attributes or the body.
///
/// Mirrors the subscription attribute `FilterPolicyScope`; `MessageAttributes` is SNS's default.
/// See https://docs.aws.amazon.com/sns/latest/dg/sns-message-filtering.html
public enum FilterPolicyScope: String, Sendable, Hashable, CaseIterable {
    /// Policy keys name message attributes; nested policies are not allowed.
    case messageAttributes = "MessageAttributes"
    /// Policy keys name properties of the JSON message body; nesting is allowed.
    case messageBody = "MessageBody"
}
