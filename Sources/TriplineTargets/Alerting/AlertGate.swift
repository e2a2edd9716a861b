import TriplineJSON

/// Decides, match by match, whether a rule target's alert goes out: suppression and thresholds per key.
///
/// Pure and deterministic: time comes in as `now` (seconds, any epoch, e.g. Unix time), so tests use
/// a fake clock and a restart can reload the state from ``rows``. Per key it remembers when the last
/// alert went out, how many matches were held back since, and (for a threshold) the times of recent
/// matches, at most `Count` of them.
///
/// A key whose last match is older than the policy's longest window has no effect on decisions any
/// more: it is dropped, unless it held matches back; then only its count is kept, and the key's next
/// match (sent, since its window has passed) reports it, however much later it comes, so no held-back
/// match goes unreported. Memory is bounded: when more than ``maxKeys`` keys are live the least
/// recently seen are dropped first (their counts are handed out by ``expire(now:)``).
public struct AlertGate: Sendable, Equatable {
    /// The state of one key: what a saved row holds.
    public struct Row: Sendable, Equatable {
        /// The rendered key.
        public var key: String
        /// When the last alert for this key was sent, if one was.
        public var lastSentAt: Double?
        /// Matches held back since the last alert sent (suppressed ones).
        public var heldBack: Int
        /// Times of the latest matches still counting toward the threshold, oldest first.
        public var recentMatches: [Double]
        /// When this key last matched.
        public var lastSeenAt: Double

        public init(key: String, lastSentAt: Double? = nil, heldBack: Int = 0, recentMatches: [Double] = [], lastSeenAt: Double) {
            self.key = key
            self.lastSentAt = lastSentAt
            self.heldBack = heldBack
            self.recentMatches = recentMatches
            self.lastSeenAt = lastSeenAt
        }
    }

    /// Default for ``maxKeys``.
    public static let defaultMaxKeys = 10_000

    /// The target's `Suppress` and `Threshold` options.
    public let policy: AlertGatePolicy
    /// Most keys remembered at once.
    public let maxKeys: Int
    private var entries: [String: Row]
    private var unreported: [Row] = []
    private var nextSweepAt: Double = -.infinity

    /// A gate with no history, or with the `rows` saved from an earlier one.
    public init(policy: AlertGatePolicy, maxKeys: Int = AlertGate.defaultMaxKeys, rows: [Row] = []) {
        self.policy = policy
        self.maxKeys = max(1, maxKeys)
        var entries: [String: Row] = [:]
        let limit = policy.thresholdCount ?? 0
        for var row in rows {
            row.heldBack = max(0, row.heldBack)
            if row.recentMatches.count > limit { row.recentMatches.removeFirst(row.recentMatches.count - limit) }
            entries[row.key] = row
        }
        self.entries = entries
    }

    /// The state to save, one row per live key, sorted by key.
    public var rows: [Row] { entries.values.sorted { $0.key < $1.key } }

    /// How many keys are remembered.
    public var keyCount: Int { entries.count }

    /// The decision for a match of `event` at `now`, keyed by the policy's `Key`.
    public mutating func decide(event: JSONValue, now: Double) -> AlertDecision {
        decide(key: policy.key(for: event), now: now)
    }

    /// The decision for a match with `key` at `now`; updates the key's state.
    ///
    /// Times should not go backwards; if they do, nothing breaks (a match "before" the last alert is
    /// within its window). A non-finite `now` is sent and changes nothing.
    public mutating func decide(key: String, now: Double) -> AlertDecision {
        guard !policy.isPassThrough, now.isFinite else { return .send(suppressedSinceLast: 0) }
        let key = AlertKey.bounded(key)
        sweepIfDue(now: now)
        var row: Row
        if let existing = entries[key], !isExpired(existing, now: now) {
            row = existing
        } else {
            // Its windows have passed: a fresh start, carrying what it held back to this alert.
            row = Row(key: key, heldBack: entries[key]?.heldBack ?? 0, lastSeenAt: now)
        }
        row.lastSeenAt = max(row.lastSeenAt, now)

        var reachedThreshold = 0
        if let count = policy.thresholdCount, let window = policy.thresholdWindowSeconds {
            row.recentMatches.removeAll { $0 <= now - window }
            row.recentMatches.append(now)
            if row.recentMatches.count > count { row.recentMatches.removeFirst(row.recentMatches.count - count) }
            if row.recentMatches.count < count {
                store(row)
                return .belowThreshold(count: row.recentMatches.count)
            }
            reachedThreshold = count
            row.recentMatches.removeAll()
        }

        if let window = policy.suppressWindowSeconds, let last = row.lastSentAt, now - last < window {
            row.heldBack += max(1, reachedThreshold)
            store(row)
            return .suppress
        }
        let held = row.heldBack + max(0, reachedThreshold - 1)
        row.heldBack = 0
        row.lastSentAt = now
        store(row)
        return .send(suppressedSinceLast: held)
    }

    /// Drops every key whose windows have all passed at `now` (keeping only the count of those that
    /// held matches back, for their next alert); returns the rows dropped earlier to save memory that
    /// still held back matches no alert has reported, so the caller can say "N more were suppressed".
    /// Call it now and then, e.g. before saving ``rows``.
    public mutating func expire(now: Double) -> [Row] {
        let out = unreported
        unreported.removeAll()
        dropExpired(now: now)
        return out.sorted { ($0.lastSeenAt, $0.key) < ($1.lastSeenAt, $1.key) }
    }

    // MARK: - Internals

    private func isExpired(_ row: Row, now: Double) -> Bool {
        now - row.lastSeenAt >= policy.retentionSeconds
    }

    private mutating func store(_ row: Row) {
        entries[row.key] = row
        if entries.count > maxKeys { evictLeastRecentlySeen() }
    }

    /// Held-back rows dropped outside ``expire(now:)``, kept (bounded) until it is called.
    private mutating func stash(_ row: Row) {
        unreported.append(row)
        if unreported.count > maxKeys { unreported.removeFirst(unreported.count - maxKeys) }
    }

    private mutating func sweepIfDue(now: Double) {
        guard now >= nextSweepAt || entries.count >= maxKeys else { return }
        dropExpired(now: now)
    }

    /// Drops the keys whose windows have passed; of those that held matches back, keeps the count alone.
    private mutating func dropExpired(now: Double) {
        for (key, row) in entries where isExpired(row, now: now) {
            if row.heldBack > 0 {
                if row.lastSentAt != nil || !row.recentMatches.isEmpty {
                    entries[key] = Row(key: key, heldBack: row.heldBack, lastSeenAt: row.lastSeenAt)
                }
            } else {
                entries[key] = nil
            }
        }
        nextSweepAt = now + max(1, policy.retentionSeconds)
    }

    /// Drops the least recently seen tenth of the keys (at least one), so eviction is amortized.
    private mutating func evictLeastRecentlySeen() {
        let excess = entries.count - maxKeys
        guard excess > 0 else { return }
        let drop = max(excess, maxKeys / 10)
        let victims = entries.values.sorted { ($0.lastSeenAt, $0.key) < ($1.lastSeenAt, $1.key) }.prefix(drop)
        for row in victims {
            entries[row.key] = nil
            if row.heldBack > 0 { stash(row) }
        }
    }
}
