import TriplineTargets

/// A webhook target as written in a rule file: where to post, how, and in which format.
///
/// `${NAME}` placeholders in the URL, headers and signing secret are kept unresolved here; they are
/// filled from the environment when a run starts (``WebhookConfiguration/resolve(environment:clock:)``),
/// so rule files never hold secrets and secrets never reach logs or the state database.
public struct WebhookTargetSpec: Sendable, Equatable {
    /// The body sent for each event.
    public enum Format: String, Sendable, Equatable, CaseIterable {
        /// The target's input (the matched event, or what `Input*` makes of it), as JSON.
        case json
        /// A Slack message (`text` + `blocks`) describing the CloudTrail event and the rule.
        case slack
    }

    public var configuration: WebhookConfiguration
    public var format: Format
    /// Most deliveries of this target in flight at once.
    public var maxConcurrency: Int
    /// When a `${NAME}` the target needs is unset, switch the target off (noted at start) instead of
    /// refusing to run: how a rule pack routes to Slack "when `SLACK_WEBHOOK_URL` is set".
    public var optional: Bool

    /// `MaxConcurrency` when omitted.
    public static let defaultMaxConcurrency = 4
    public static let maxConcurrencyRange = 1...256

    public init(configuration: WebhookConfiguration, format: Format = .json, maxConcurrency: Int = WebhookTargetSpec.defaultMaxConcurrency,
                optional: Bool = false) {
        self.configuration = configuration
        self.format = format
        self.maxConcurrency = maxConcurrency
        self.optional = optional
    }
}
