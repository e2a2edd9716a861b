/// Stops automatic blocking when it runs away: at most ``maxBlocks`` blocks per sliding window.
///
/// Pure value type with injected time. Ask ``decide(now:)`` before each block: it records the block
/// when allowed. Once the limit is reached every further block is refused until enough earlier
/// blocks leave the window; the first refusal of a run says so (`firstRefusal`), so the caller
/// alerts loudly once rather than on every refused block. ``recentBlocks`` is the state to save.
public struct BlockCircuitBreaker: Sendable, Equatable {
    /// The answer for one block.
    public enum Decision: Sendable, Equatable {
        /// Go ahead; `remaining` more blocks fit in the window after this one.
        case allow(remaining: Int)
        /// Do not block. `firstRefusal` is true for the refusal that opened the breaker.
        case refuse(BlockRefusal, firstRefusal: Bool)

        public var isAllowed: Bool {
            if case .allow = self { return true }
            return false
        }
    }

    /// Most blocks within the window.
    public let maxBlocks: Int
    /// The window, in seconds.
    public let windowSeconds: Double
    /// Times of the blocks still in the window, oldest first (at most ``maxBlocks``).
    public private(set) var recentBlocks: [Double]
    /// True once a block has been refused, until one is allowed again.
    public private(set) var isTripped: Bool

    /// A breaker allowing `maxBlocks` (at least 0) per `windowSeconds`, optionally with saved state.
    public init(maxBlocks: Int, windowSeconds: Double, recentBlocks: [Double] = [], isTripped: Bool = false) {
        self.maxBlocks = max(0, maxBlocks)
        self.windowSeconds = windowSeconds.isFinite ? max(0, windowSeconds) : 0
        self.recentBlocks = Array(recentBlocks.filter(\.isFinite).sorted().suffix(max(0, maxBlocks)))
        self.isTripped = isTripped
    }

    /// Blocks counted in the window ending at `now`.
    public func blocksInWindow(now: Double) -> Int {
        recentBlocks.filter { $0 > now - windowSeconds }.count
    }

    /// Whether a block at `now` would be refused.
    public func isOpen(now: Double) -> Bool { blocksInWindow(now: now) >= maxBlocks }

    /// Allows and records a block at `now`, or refuses it.
    public mutating func decide(now: Double) -> Decision {
        guard now.isFinite else {
            return .refuse(.circuitOpen(blocksInWindow: recentBlocks.count, limit: maxBlocks, windowSeconds: windowSeconds), firstRefusal: !isTripped)
        }
        recentBlocks.removeAll { $0 <= now - windowSeconds }
        if recentBlocks.count >= maxBlocks {
            let first = !isTripped
            isTripped = true
            return .refuse(.circuitOpen(blocksInWindow: recentBlocks.count, limit: maxBlocks, windowSeconds: windowSeconds), firstRefusal: first)
        }
        isTripped = false
        recentBlocks.append(now)
        return .allow(remaining: maxBlocks - recentBlocks.count)
    }
}
