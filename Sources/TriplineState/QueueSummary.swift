/// Queued deliveries of one target, for `tripline status`.
public struct QueueSummary: Sendable, Equatable {
    public var rule: String
    public var target: String
    public var pending: Int
    /// Deliveries that failed at least once and wait for a retry.
    public var retrying: Int
    public var nextAttemptAt: Double
    public var mostAttempts: Int
}
