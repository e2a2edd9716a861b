/// The saved state of the blocking circuit breaker: the times of recent blocks, and whether it is tripped.
///
/// The breaker itself (`BlockCircuitBreaker`, in the targets module) decides; this is what
/// ``Blocklist`` keeps between runs so a restart does not reset the count.
public struct BlockBreakerState: Sendable, Equatable {
    /// Unix times of the blocks still counted, oldest first.
    public var recentBlocks: [Double]
    /// True once a block was refused, until one is allowed again.
    public var isTripped: Bool

    public init(recentBlocks: [Double] = [], isTripped: Bool = false) {
        self.recentBlocks = recentBlocks
        self.isTripped = isTripped
    }
}
