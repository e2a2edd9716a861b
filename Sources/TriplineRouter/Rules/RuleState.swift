/// Whether a rule matches events, as EventBridge's `State`.
///
/// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail-management.html
public enum RuleState: String, Sendable, Equatable, CaseIterable {
    /// Matches every event except read-only management events delivered by CloudTrail.
    case enabled = "ENABLED"
    /// Matches nothing.
    case disabled = "DISABLED"
    /// Matches every event, read-only CloudTrail management events included.
    case enabledWithAllCloudTrailManagementEvents = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
}
