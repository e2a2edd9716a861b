import TriplineJSON

/// Per-thread working memory for matching, reused across events so matching does not allocate.
///
/// Copies share the memory (a copy is the same scratch, which is why it is not `Sendable`):
/// create one per thread. Holds the event limits too: events over `maxEventBytes` or nested deeper than `maxDepth` are
/// rejected with an error.
public struct MatchScratch {
    /// Largest event accepted, in bytes (EventBridge: 256 KB).
    public var maxEventBytes: Int
    /// Deepest nesting accepted in an event.
    public var maxDepth: Int
    /// Most matching work spent on one event (roughly one step per value compared or automaton
    /// state visited; two seconds or so): an event that needs more is refused with
    /// ``JSONError/matchingWorkLimit(limit:)``. Ordinary events need a few thousand.
    public var maxMatchWork: Int = MatchScratch.defaultMaxMatchWork
    public static let defaultMaxMatchWork = 1 << 31
    /// Most (condition, value) pairs one event may record (16 bytes each): the memory a flood of
    /// values each satisfying many conditions could take.
    public var maxMatchPairs: Int = MatchScratch.defaultMaxMatchPairs
    public static let defaultMaxMatchPairs = 1 << 24
    /// The walk's buffers, shared by copies of this scratch as the key stack is.
    let walk = WalkStateBox()
    let keyStack = JSONKeyStack()

    public init(maxEventBytes: Int = JSONLimits.defaultMaxEventBytes, maxDepth: Int = JSONLimits.defaultMaxDepth) {
        self.maxEventBytes = maxEventBytes
        self.maxDepth = maxDepth
    }

}

/// Owns the ``WalkState`` a scratch's walks use, in one place that walkers address through a
/// pointer (never copied, so its buffers need no reference counting).
final class WalkStateBox {
    let pointer: UnsafeMutablePointer<WalkState>

    init() {
        pointer = .allocate(capacity: 1)
        pointer.initialize(to: WalkState())
    }

    deinit {
        pointer.pointee.deallocateBuffers()
        pointer.deinitialize(count: 1)
        pointer.deallocate()
    }
}
