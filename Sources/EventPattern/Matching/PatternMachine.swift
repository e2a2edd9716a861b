import TriplineJSON

/// Many patterns compiled into one shared matcher.
///
/// Matching cost depends on the event, not on how many patterns are loaded: an event is read once,
/// only the fields some pattern names are looked at (everything else is validated and skipped), and
/// each field's value runs through one automaton shared by every pattern on that field. Patterns are
/// added and removed by integer id; each change recompiles, so add many at once with
/// ``add(contentsOf:)``. Matching does not mutate the machine: one machine can serve many threads,
/// each with its own ``MatchScratch``.
public struct PatternMachine: Sendable {
    private var patterns: [Int: EventPattern] = [:]
    private(set) var compiled = CompiledMachineReference.empty

    public init() {}

    public init(_ entries: [(id: Int, pattern: EventPattern)]) {
        add(contentsOf: entries)
    }

    /// Adds (or replaces) the pattern with this id.
    public mutating func add(_ pattern: EventPattern, id: Int) {
        patterns[id] = pattern
        recompile()
    }

    /// Adds (or replaces) many patterns with one recompilation.
    public mutating func add(contentsOf entries: [(id: Int, pattern: EventPattern)]) {
        for entry in entries { patterns[entry.id] = entry.pattern }
        recompile()
    }

    /// Removes the pattern with this id, if present.
    public mutating func remove(id: Int) {
        guard patterns.removeValue(forKey: id) != nil else { return }
        recompile()
    }

    /// Removes many patterns with one recompilation.
    public mutating func remove(ids: [Int]) {
        for id in ids { patterns[id] = nil }
        recompile()
    }

    public var count: Int { patterns.count }
    public var ids: [Int] { patterns.keys.sorted() }
    public func pattern(id: Int) -> EventPattern? { patterns[id] }

    private mutating func recompile() {
        let ids = patterns.keys.sorted()
        var dense: [Int: EventPattern] = [:]
        for (i, id) in ids.enumerated() { dense[i] = patterns[id] }
        compiled = CompiledMachineReference(CompiledMachine(patterns: dense, ids: ids))
    }

    /// The ids of the patterns the event matches, in ascending order.
    ///
    /// Throws when the event is not a strict, valid JSON object within the limits in `scratch`.
    public func matches(event: UnsafeBufferPointer<UInt8>, scratch: inout MatchScratch) throws(JSONError) -> [Int] {
        var ids: [Int] = []
        try matches(event: event, scratch: &scratch, into: &ids)
        return ids
    }

    /// ``matches(event:scratch:)`` writing the ids over `ids`, whose storage is reused: a loop
    /// that keeps one array allocates nothing per event.
    public func matches(event: UnsafeBufferPointer<UInt8>, scratch: inout MatchScratch, into ids: inout [Int]) throws(JSONError) {
        ids.clear()
        // Positions inside an event are kept as 32-bit offsets: 2 GiB is the hard ceiling.
        let limit = min(scratch.maxEventBytes, Int(Int32.max))
        guard event.count <= limit else { throw .tooLarge(size: event.count, limit: limit) }
        let cursor = JSONCursor(bytes: event, maxDepth: scratch.maxDepth, keyStack: scratch.keyStack)
        var walker = EventWalker(machine: compiled, cursor: cursor, state: scratch.walk.pointer)
        walker.state.prepare(for: compiled)
        walker.state.field.work = 0
        walker.state.field.workLimit = scratch.maxMatchWork
        walker.state.maxPairs = scratch.maxMatchPairs
        try walker.walkEvent()
        walker.decide()
        if walker.state.field.work > scratch.maxMatchWork {
            throw .matchingWorkLimit(limit: walker.state.pairs.count >= scratch.maxMatchPairs
                                     ? "\(scratch.maxMatchPairs) recorded (condition, value) pairs" : "\(scratch.maxMatchWork) steps")
        }
        let matched = walker.state.matched
        if matched.isEmpty { return }
        var found = UnsafeMutableBufferPointer(start: matched.base, count: matched.count)
        found.sort()
        ids.append(contentsOf: found)
    }

    /// Convenience for one-off matching of event bytes.
    public func matches(event: [UInt8]) throws(JSONError) -> [Int] {
        var scratch = MatchScratch()
        return try event.withUnsafeBufferPointer { (buffer) throws(JSONError) -> [Int] in
            try matches(event: buffer, scratch: &scratch)
        }
    }

    /// Convenience for one-off matching of event text.
    public func matches(event: String) throws(JSONError) -> [Int] {
        try matches(event: Array(event.utf8))
    }
}
