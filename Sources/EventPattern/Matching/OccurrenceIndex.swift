/// The values one search step may choose from (a predicate's satisfying values, or all values of
/// an absence's field), grouped by their outermost array position.
///
/// Once a position in an array is chosen, only values at that position can be consistent with it;
/// scanning every value instead made two conditions on fields of one array of objects quadratic
/// (fuzz2.md N1: 2,000 elements with one field and 2,000 with the other, 11 s for one event). Built
/// once per event per list, for long lists only.
struct OccurrenceIndex {
    /// Values in no array: consistent with any choice.
    var free: [Int32] = []
    /// The outermost arrays the values sit in, in order of first appearance.
    var arrays: [Int32] = []
    /// Per outermost array, its values in list order.
    var byArray: [Int32: [Int32]] = [:]
    /// Per (outermost array, index in it), its values in list order.
    var byPosition: [Int64: [Int32]] = [:]

    /// Lists shorter than this are scanned: grouping them costs more than it saves.
    static let minimumLength = 32
    /// Most values the indexes of one event keep between searches (about a hundred bytes each).
    static let cachedValuesLimit = 1 << 20
    /// Matching work (``MatchScratch/maxMatchWork`` steps) indexing one value counts for: dictionary
    /// insertions, some fifty times a simple step.
    static let valueWork = 64

    init<S: Sequence<Int32>>(_ occurrences: S, state: WalkState) {
        for occ in occurrences {
            let o = state.occurrences[Int(occ)]
            guard o.memberCount > 0 else {
                free.append(occ)
                continue
            }
            let array = state.memberArena[Int(o.memberStart)]
            let index = state.memberArena[Int(o.memberStart) + 1]
            if byArray[array] == nil { arrays.append(array) }
            byArray[array, default: []].append(occ)
            byPosition[OccurrenceIndex.key(array, index), default: []].append(occ)
        }
    }

    static func key(_ array: Int32, _ index: Int32) -> Int64 {
        Int64(array) << 32 | Int64(UInt32(bitPattern: index))
    }
}
