/// Whether the subtrees at one deferrable trie node are worth deferring, learnt from the events.
///
/// Deferring pays when few events need the subtree: skipping it costs nearly as much as reading
/// it, and an event that needs it pays both. Which events need it depends on the rules and on the
/// events (10,000 rules pinned to API calls make a candidate that tests `requestParameters` likely
/// for every event; ten make it rare), so the walker measures: of every ``sampleSize`` deferred
/// subtrees, how many a candidate needed; when at least ``eagerShare`` of them were, the next
/// ``eagerRun`` subtrees are read at once, then it samples again. Only speed depends on it: a
/// subtree read at once gives the same decision as one deferred and walked later.
struct DeferralStats {
    var eagerLeft: Int32 = 0
    var samples: UInt16 = 0
    var needed: UInt16 = 0

    static let sampleSize: UInt16 = 16
    /// Needed in at least this many of a sample: read at once.
    static let eagerShare: UInt16 = 4
    static let eagerRun: Int32 = 240

    /// Whether to defer the subtree met now (counting it against an eager run).
    @inline(__always)
    mutating func shouldDefer() -> Bool {
        if eagerLeft > 0 { eagerLeft &-= 1; return false }
        return true
    }

    /// Counts one deferred subtree once the event is decided.
    @inline(__always)
    mutating func observe(wasNeeded: Bool) {
        samples &+= 1
        if wasNeeded { needed &+= 1 }
        if samples == DeferralStats.sampleSize {
            if needed >= DeferralStats.eagerShare { eagerLeft = DeferralStats.eagerRun }
            samples = 0
            needed = 0
        }
    }
}
