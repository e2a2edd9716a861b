import TriplineTargets

/// Where a rule sends the events it matches, and how.
///
/// Mirrors an EventBridge target (`Id`, input settings, `RetryPolicy`, `DeadLetterConfig`), except
/// that the destination is named by kind (`"Function": {…}`) instead of by ARN.
public struct Target: Sendable, Equatable {
    /// Unique within its rule; `[.\-_A-Za-z0-9]+`, at most 64 characters.
    public var id: String
    /// The destination and its settings.
    public var kind: TargetKind
    /// What the target receives for each matched event.
    public var input: InputSpec
    /// How long and how often failed deliveries are retried.
    public var retryPolicy: RetryPolicy
    /// Where events go when every delivery attempt failed; nil to drop them.
    public var deadLetterConfig: DeadLetterConfig?
    /// `Suppress` / `Threshold`: which matches become deliveries (alert noise control); nil for all.
    public var alertGate: AlertGatePolicy?
    /// The fields of ``RuleFile/ignoredTargetFields`` the target has (`Arn`, `RoleArn`), which have no effect here.
    public var ignoredFields: [String]

    /// Longest target id (EventBridge: 64).
    public static let maxIdLength = 64

    public init(id: String, kind: TargetKind, input: InputSpec = .matchedEvent, retryPolicy: RetryPolicy = RetryPolicy(),
                deadLetterConfig: DeadLetterConfig? = nil, alertGate: AlertGatePolicy? = nil, ignoredFields: [String] = []) {
        self.id = id
        self.kind = kind
        self.input = input
        self.retryPolicy = retryPolicy
        self.deadLetterConfig = deadLetterConfig
        self.alertGate = alertGate
        self.ignoredFields = ignoredFields
    }
}

/// The kind of destination a target delivers to.
public enum TargetKind: Sendable, Equatable {
    /// Runs a local program for each event.
    case function(FunctionTarget)
    /// Posts each event to an HTTP endpoint (Slack, Teams, any webhook).
    case webhook(WebhookTargetSpec)
    /// Blocks the event's principal (durable blocklist, safety rails) through an enforcement handler.
    case blockUser(BlockUserTarget)
    /// Publishes the target input to the named ``Topic``, which fans it out to its subscriptions.
    case topic(String)

    /// The key each kind is declared with in a rule file.
    ///
    /// The rule file parser dispatches on this list only; adding a kind means adding a case here
    /// and its parser in `RuleFile`.
    public enum Key: String, Sendable, CaseIterable {
        case function = "Function"
        case webhook = "Webhook"
        case topic = "Topic"
        case blockUser = "BlockUser"
    }

    /// The rule file key of this kind.
    public var key: Key {
        switch self {
        case .function: return .function
        case .webhook: return .webhook
        case .blockUser: return .blockUser
        case .topic: return .topic
        }
    }
}

/// How long and how often delivery to a target is retried, as EventBridge's `RetryPolicy`.
public struct RetryPolicy: Sendable, Equatable {
    /// Retries after the first attempt; 0 to 185, default 185.
    public var maximumRetryAttempts: Int
    /// How long an event may wait for delivery, in seconds; 60 to 86400, default 86400 (24 hours).
    public var maximumEventAgeInSeconds: Int

    /// Accepted `MaximumRetryAttempts` values (EventBridge's).
    public static let retryAttemptsRange = 0...185
    /// Accepted `MaximumEventAgeInSeconds` values (EventBridge's).
    public static let eventAgeRange = 60...86_400

    public init(maximumRetryAttempts: Int = 185, maximumEventAgeInSeconds: Int = 86_400) {
        self.maximumRetryAttempts = maximumRetryAttempts
        self.maximumEventAgeInSeconds = maximumEventAgeInSeconds
    }
}

/// Where undeliverable events are written: a local file instead of EventBridge's SQS queue.
public struct DeadLetterConfig: Sendable, Equatable {
    /// The file, resolved like a function handler (relative to the project root).
    public var path: String
    /// `Path` as written in the rule file.
    public var pathAsWritten: String

    public init(path: String, pathAsWritten: String? = nil) {
        self.path = path
        self.pathAsWritten = pathAsWritten ?? path
    }
}
