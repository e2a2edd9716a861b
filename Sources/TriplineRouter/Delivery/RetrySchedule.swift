/// When a failed delivery is tried again, or why it is not: exponential backoff with full jitter,
/// within the target's ``RetryPolicy``.
///
/// Pure (time and randomness are passed in), so the timing is tested exactly. After attempt `n`
/// fails, the next one waits a uniformly random time in `0…min(maxDelay, baseDelay·2^(n-1))` ("full
/// jitter": retries of many deliveries that failed together spread out instead of arriving in
/// waves), at least the server's `Retry-After` when it gave one. A delivery is given up when its
/// retries are used up, or when the next attempt would come later than `MaximumEventAgeInSeconds`
/// after it was accepted.
public struct RetrySchedule: Sendable, Equatable {
    /// The first retry's ceiling, in seconds.
    public var baseDelay: Double
    /// No retry waits longer than this (except to honour `Retry-After`).
    public var maxDelay: Double

    public init(baseDelay: Double = 1, maxDelay: Double = 300) {
        self.baseDelay = max(0, baseDelay)
        self.maxDelay = max(self.baseDelay, maxDelay)
    }

    /// What to do after attempt `attempt` (1 for the first) failed at `now`.
    public func decision<R: RandomNumberGenerator>(afterFailedAttempt attempt: Int, policy: RetryPolicy, acceptedAt: Double, now: Double,
                                                    retryAfter: Double? = nil, random: inout R) -> RetryDecision {
        let retriesUsed = attempt - 1
        if retriesUsed >= policy.maximumRetryAttempts {
            return .giveUp(reason: policy.maximumRetryAttempts == 0
                           ? "the target allows no retries (MaximumRetryAttempts 0)"
                           : "retries exhausted (\(attempt) attempts, MaximumRetryAttempts \(policy.maximumRetryAttempts))")
        }
        let ceiling = min(maxDelay, baseDelay * Double(1 << UInt(min(max(attempt - 1, 0), 40))))
        var delay = ceiling > 0 ? Double.random(in: 0...ceiling, using: &random) : 0
        if let retryAfter, retryAfter > delay { delay = retryAfter }
        let next = now + delay
        if next - acceptedAt > Double(policy.maximumEventAgeInSeconds) {
            return .giveUp(reason: "the next attempt would come after MaximumEventAgeInSeconds (\(policy.maximumEventAgeInSeconds)s since it was accepted)")
        }
        return .retry(at: next)
    }

    /// Whether a delivery accepted at `acceptedAt` is too old to attempt at `now` (say after a long stop).
    public static func isExpired(acceptedAt: Double, now: Double, policy: RetryPolicy) -> Bool {
        now - acceptedAt > Double(policy.maximumEventAgeInSeconds)
    }
}

/// The outcome of ``RetrySchedule/decision(afterFailedAttempt:policy:acceptedAt:now:retryAfter:random:)``.
public enum RetryDecision: Sendable, Equatable {
    /// Try again at this Unix time.
    case retry(at: Double)
    /// Stop: the delivery goes to the dead letters, for this reason.
    case giveUp(reason: String)
}
