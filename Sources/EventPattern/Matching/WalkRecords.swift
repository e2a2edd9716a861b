// The records an event walk keeps in its ``WalkState``.

/// One predicate's state in a walk, its stamps and list head side by side: deciding a candidate
/// reads one line per predicate instead of one per table (read at random, the tables outgrow the
/// first-level cache long before 10,000 rules).
struct PredicateState {
    /// `stamp == epoch`: the predicate has at least one satisfying occurrence, listed from `head`.
    var stamp: UInt32
    var head: Int32
    /// `evalStamp == epoch`: the (lazy) predicate has been tested against this event's values.
    var evalStamp: UInt32
    /// Pads the state to 16 bytes, so that none straddles two cache lines.
    var unused: UInt32 = 0

    /// Never current (epochs start at 1), no list.
    static let unset = PredicateState(stamp: 0, head: -1, evalStamp: 0)
}

/// A leaf value recorded during a walk: because it satisfied a trigger, or because lazy predicates
/// on its field may need to test it.
struct Occurrence {
    /// Its array memberships: `memberCount` (array id, index) pairs from `memberStart` in the arena.
    var memberStart: Int32
    var memberCount: Int32
    /// The previous recorded value of the same field (-1: none), for tracked fields.
    var nextInField: Int32
    var kind: ValueKind
    /// The value's bytes in the event (between the quotes for strings).
    var start: Int32
    var end: Int32
    /// A number's value (NaN for other kinds, and for numbers no predicate needs).
    var number: Double
}

/// An object or array at a deferrable trie node, validated and skipped while reading.
struct DeferredSubtree {
    var node: Int32
    /// Where the value starts in the event, and its depth there.
    var start: Int32
    var depth: Int32
    /// Its array memberships: `stackCount` entries of `deferredStacks` from `stackStart`.
    var stackStart: Int32
    var stackCount: Int32
    var walked: Bool
}

/// One value satisfying one predicate, linked to the predicate's previous one.
struct PredicatePair {
    var occurrence: Int32
    var next: Int32
}

/// The JSON type of a leaf value, as lazy predicates need it to test the value again.
enum ValueKind: UInt8 {
    case string, escapedString, number, `true`, `false`, null
}
