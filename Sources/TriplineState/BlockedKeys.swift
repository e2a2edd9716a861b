/// An in-memory snapshot of the blocklist for marking events: every identifier (key, ARN, access
/// key id) of every entry, with its expiry.
///
/// Taken with ``Blocklist/snapshot(now:)``; cheap to query from any thread (a value type). Expiry is
/// checked at query time, so a snapshot stays correct as entries run out; entries added or removed
/// after it was taken need a fresh snapshot.
public struct BlockedKeys: Sendable, Equatable {
    /// Identifier → the latest expiry among the entries it names (`.infinity` for no expiry).
    private var expiries: [String: Double]
    /// Identifiers whose every entry is a dry run.
    private var dryRunOnly: Set<String>
    /// Identifiers whose every entry's handler failed to apply it.
    private var failedOnly: Set<String>

    /// An empty snapshot: nothing is blocked.
    public static let empty = BlockedKeys(entries: [])

    /// A snapshot of `entries`.
    public init(entries: [BlockEntry]) {
        var expiries: [String: Double] = [:]
        var dryRun: Set<String> = []
        var real: Set<String> = []
        var failed: Set<String> = []
        var notFailed: Set<String> = []
        for entry in entries {
            let until = entry.expiresAt ?? .infinity
            for identifier in entry.identifiers {
                expiries[identifier] = max(expiries[identifier] ?? -.infinity, until)
                if entry.dryRun { dryRun.insert(identifier) } else { real.insert(identifier) }
                if entry.enforcement == .failed { failed.insert(identifier) } else { notFailed.insert(identifier) }
            }
        }
        self.expiries = expiries
        self.dryRunOnly = dryRun.subtracting(real)
        self.failedOnly = failed.subtracting(notFailed)
    }

    /// True when nothing is on the list (the fast path: events need no look-up at all).
    public var isEmpty: Bool { expiries.isEmpty }

    /// How many identifiers the snapshot holds.
    public var count: Int { expiries.count }

    /// Whether `identifier` (a key, an ARN or an access key id) is blocked at `now`.
    public func isBlocked(_ identifier: String, now: Double) -> Bool {
        guard let until = expiries[identifier] else { return false }
        return until > now
    }

    /// Whether every block naming `identifier` is a dry run.
    public func isDryRun(_ identifier: String) -> Bool { dryRunOnly.contains(identifier) }

    /// Whether every block naming `identifier` is one its handler failed to apply (recorded, not enforced).
    public func isEnforcementFailed(_ identifier: String) -> Bool { failedOnly.contains(identifier) }
}
