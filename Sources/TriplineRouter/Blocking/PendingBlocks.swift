import Foundation

/// Blocks a run has accepted a `BlockUser` delivery for and not yet seen settle: what marks the
/// principal's later events as blocked before the handler has run.
///
/// The blocklist snapshot (``BlockedKeys``) changes only once a delivery has been carried out, on a
/// delivery worker, so events read meanwhile (the rest of the same CloudTrail file: the attacker's
/// follow-up activity) would go unmarked. The run loop adds a pending block when it queues a
/// delivery that is expected to block (the principal resolves and is not protected, and the
/// circuit breaker would let it through), and takes it away once the delivery settled and the
/// snapshot was taken again: from then on the snapshot says what really happened.
///
/// Keyed by the delivery's idempotency key, so the report that settles a delivery finds its block;
/// a copy of an event the journal folds into a delivery settled earlier (no report will come for it)
/// is taken away when the batch commits (``skipped(delivery:)``). A value type owned by the run loop.
public struct PendingBlocks: Sendable, Equatable {
    /// One pending block.
    public struct Block: Sendable, Equatable {
        /// The principal's blocklist key.
        public var key: String
        /// What marks an event's principal: the key, the ARN, the access key id (as a blocklist entry's).
        public var identifiers: [String]
        /// When the block would expire (`.infinity` for none); a pending block is not looked at after it.
        public var expiresAt: Double
        public var dryRun: Bool
        /// Whether the journal queued the delivery (its report will settle it).
        public var queued: Bool

        public init(key: String, identifiers: [String], expiresAt: Double, dryRun: Bool, queued: Bool = false) {
            self.key = key
            self.identifiers = identifiers
            self.expiresAt = expiresAt
            self.dryRun = dryRun
            self.queued = queued
        }
    }

    /// How a principal is marked by its pending blocks.
    public struct Mark: Sendable, Equatable {
        /// Every pending block of it is a dry run.
        public var dryRun: Bool
    }

    /// By delivery idempotency key.
    private var blocks: [String: Block] = [:]
    /// Identifier → the deliveries whose block names it.
    private var index: [String: Set<String>] = [:]
    /// Principal key → how many real (not dry-run) pending blocks it has.
    private var real: [String: Int] = [:]

    public static let empty = PendingBlocks()

    public init() {}

    /// True when nothing is pending (the fast path: events need no look-up for it).
    public var isEmpty: Bool { blocks.isEmpty }

    /// How many deliveries are pending.
    public var count: Int { blocks.count }

    /// How many distinct principals have a real pending block: blocks the circuit breaker will count.
    public var realPrincipals: Int { real.count }

    /// Whether `key` already has a real pending block (another delivery for it asks no breaker).
    public func hasRealBlock(key: String) -> Bool { real[key] != nil }

    /// The pending block of the delivery `delivery`.
    public func block(delivery: String) -> Block? { blocks[delivery] }

    /// Adds the block the delivery `delivery` is expected to make; a copy of a delivery already
    /// pending changes nothing.
    public mutating func add(delivery: String, _ block: Block) {
        guard blocks[delivery] == nil else { return }
        blocks[delivery] = block
        for identifier in block.identifiers { index[identifier, default: []].insert(delivery) }
        if !block.dryRun { real[block.key, default: 0] += 1 }
    }

    /// The journal queued the delivery: it stays until its report settles it.
    public mutating func queued(delivery: String) {
        blocks[delivery]?.queued = true
    }

    /// The journal folded the delivery into one it had already (a copy of an event): unless that one
    /// is queued by this run, no report will settle it, and the block goes.
    public mutating func skipped(delivery: String) {
        guard let block = blocks[delivery], !block.queued else { return }
        remove(delivery: delivery)
    }

    /// The delivery settled (its outcome is on the blocklist): its pending block goes.
    public mutating func settle(delivery: String) {
        remove(delivery: delivery)
    }

    /// Drops the blocks that would have expired by `now`.
    public mutating func removeExpired(now: Double) {
        for (delivery, block) in blocks where block.expiresAt <= now { remove(delivery: delivery) }
    }

    /// How the first of `identifiers` with a pending block at `now` is marked; nil when none has one.
    public func mark(_ identifiers: [String], now: Double) -> Mark? {
        guard !blocks.isEmpty else { return nil }
        for identifier in identifiers {
            guard let deliveries = index[identifier] else { continue }
            var found = false
            var dryRun = true
            for delivery in deliveries {
                guard let block = blocks[delivery], block.expiresAt > now else { continue }
                found = true
                if !block.dryRun { dryRun = false }
            }
            if found { return Mark(dryRun: dryRun) }
        }
        return nil
    }

    private mutating func remove(delivery: String) {
        guard let block = blocks.removeValue(forKey: delivery) else { return }
        for identifier in block.identifiers {
            index[identifier]?.remove(delivery)
            if index[identifier]?.isEmpty == true { index[identifier] = nil }
        }
        if !block.dryRun {
            real[block.key, default: 1] -= 1
            if real[block.key] == 0 { real[block.key] = nil }
        }
    }
}
