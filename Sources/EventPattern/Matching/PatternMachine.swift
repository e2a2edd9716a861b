import TriplineJSON

/// Many patterns compiled into one shared matcher.
///
/// Matching cost depends on the event, not on how many patterns are loaded: an event is read once,
/// only the fields some pattern names are looked at, and each field's value runs through one
/// automaton shared by every pattern on that field. Patterns are added and removed by integer id.
/// The machine is a value; matching does not mutate it, so one machine can serve many threads, each
/// with its own ``MatchScratch``.
public struct PatternMachine: Sendable {
    public init() {}

    /// Adds (or replaces) the pattern with this id.
    public mutating func add(_ pattern: EventPattern, id: Int) {
        patterns[id] = pattern
    }

    /// Adds many patterns at once; cheaper than adding one at a time.
    public mutating func add(contentsOf entries: [(id: Int, pattern: EventPattern)]) {
        for entry in entries { patterns[entry.id] = entry.pattern }
    }

    /// Removes the pattern with this id, if present.
    public mutating func remove(id: Int) {
        patterns[id] = nil
    }

    public var count: Int { patterns.count }

    /// The ids of the patterns the event matches, in ascending order.
    ///
    /// Throws when the event is not strict, valid JSON within the limits in `scratch`.
    public func matches(event: UnsafeBufferPointer<UInt8>, scratch: inout MatchScratch) throws(JSONError) -> [Int] {
        fatalError("not yet")
    }

    /// Convenience for one-off matching of event bytes.
    public func matches(event: [UInt8]) throws(JSONError) -> [Int] {
        var scratch = MatchScratch()
        return try event.withUnsafeBufferPointer { (buffer) throws(JSONError) -> [Int] in
            try matches(event: buffer, scratch: &scratch)
        }
    }

    var patterns: [Int: EventPattern] = [:]
}

/// Per-thread working memory for matching, reused across events to avoid allocation.
public struct MatchScratch {
    /// Largest event accepted, in bytes (EventBridge: 256 KB).
    public var maxEventBytes: Int
    /// Deepest nesting accepted in an event.
    public var maxDepth: Int

    public init(maxEventBytes: Int = JSONLimits.defaultMaxEventBytes, maxDepth: Int = JSONLimits.defaultMaxDepth) {
        self.maxEventBytes = maxEventBytes
        self.maxDepth = maxDepth
    }
}
