/// The saved state of the blocking circuit breaker: the times of recent blocks, and whether it is tripped.
///
/// The breaker itself (`BlockCircuitBreaker`, in the targets module) decides; this is what
/// ``Blocklist`` keeps between runs so a restart does not reset the count.
public struct BlockBreakerState: Sendable, Equatable {
    /// Unix times of the blocks still counted, oldest first.
    public var recentBlocks: [Double]
    /// True once a block was refused, until one is allowed again.
    public var isTripped: Bool
    /// The limit the run that saved this state used (`--max-blocks`); nil when not known (saved
    /// before limits were kept, or saved without them).
    public var maxBlocks: Int?
    /// The window that run used, in seconds (`--block-window`); nil when not known.
    public var windowSeconds: Double?

    public init(recentBlocks: [Double] = [], isTripped: Bool = false, maxBlocks: Int? = nil, windowSeconds: Double? = nil) {
        self.recentBlocks = recentBlocks
        self.isTripped = isTripped
        self.maxBlocks = maxBlocks
        self.windowSeconds = windowSeconds
    }

    /// Blocks counted in the window ending at `now`; nil without a known window.
    public func blocksInWindow(now: Double) -> Int? {
        guard let windowSeconds else { return nil }
        return recentBlocks.filter { $0 > now - windowSeconds }.count
    }

    /// Whether a block at `now` would be refused under the saved limits; nil when they are not known.
    public func isOpen(now: Double) -> Bool? {
        guard let maxBlocks, let count = blocksInWindow(now: now) else { return nil }
        return count >= maxBlocks
    }

    /// While open at `now`: when enough blocks have left the window for the next one to be allowed.
    public func reopensAt(now: Double) -> Double? {
        guard isOpen(now: now) == true, let maxBlocks, let windowSeconds else { return nil }
        let counted = recentBlocks.filter { $0 > now - windowSeconds }.sorted()
        let leaving = counted.count - maxBlocks
        guard leaving >= 0, leaving < counted.count else { return nil }
        return counted[leaving] + windowSeconds
    }
}
