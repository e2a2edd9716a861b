/// Everything the walker reads about one sub-rule: the header of its record in ``CandidateRecords``,
/// where its conditions follow it.
struct SubRuleInfo {
    /// The pattern's dense index (for the per-pattern stamps).
    var pattern: Int32
    var predStart: Int32
    var predEnd: Int32
    /// How many ``CandidateCondition`` slots follow (its conditions but the trigger).
    var conditionCount: Int32
    /// The trigger's field (-1: none), which counts towards the conditions on values in arrays.
    var triggerField: Int32
    /// The pattern has no other sub-rule, so it cannot be matched twice in one event.
    var onlyBranch: Bool
    /// The pattern's own id, which a match reports (in the header's last word, so that a match
    /// reads no other table).
    var id: Int
}

/// Candidate sub-rules as records of 32-byte slots: a ``SubRuleInfo`` header, then one
/// ``CandidateCondition`` per condition, the records of one trigger next to each other.
///
/// Examining a trigger's candidates then reads one run of memory in order, where separate header
/// and condition tables cost a cache miss in each (the tables are megabytes at 10,000 rules).
struct CandidateRecords {
    static let slotSize = 32
    private let base: UnsafeMutableRawPointer
    let slotCount: Int

    /// Lays out `records`, in order; returns the slot where each starts (and one past the last).
    init(_ records: [(header: SubRuleInfo, conditions: [CandidateCondition])], starts: inout [Int32]) {
        precondition(MemoryLayout<SubRuleInfo>.size <= CandidateRecords.slotSize
                     && MemoryLayout<CandidateCondition>.size <= CandidateRecords.slotSize)
        slotCount = records.reduce(0) { $0 + 1 + $1.conditions.count }
        base = .allocate(byteCount: max(slotCount, 1) * CandidateRecords.slotSize, alignment: 64)
        var slot = 0
        starts = []
        for record in records {
            starts.append(Int32(slot))
            base.storeBytes(of: record.header, toByteOffset: slot * CandidateRecords.slotSize, as: SubRuleInfo.self)
            slot += 1
            for condition in record.conditions {
                base.storeBytes(of: condition, toByteOffset: slot * CandidateRecords.slotSize, as: CandidateCondition.self)
                slot += 1
            }
        }
        starts.append(Int32(slot))
    }

    @inline(__always)
    func header(at slot: Int) -> SubRuleInfo {
        base.load(fromByteOffset: slot &* CandidateRecords.slotSize, as: SubRuleInfo.self)
    }

    @inline(__always)
    func condition(at slot: Int) -> CandidateCondition {
        base.load(fromByteOffset: slot &* CandidateRecords.slotSize, as: CandidateCondition.self)
    }

    /// One word of the slot, read only so that the line is on its way before it is needed.
    @inline(__always)
    func touch(_ slot: Int) -> Int32 {
        base.load(fromByteOffset: slot &* CandidateRecords.slotSize, as: Int32.self)
    }

    func deallocate() { base.deallocate() }
}

/// How a candidate's condition is decided.
enum ConditionMode: UInt8 {
    /// Another sub-rule's trigger, so its field's matcher already ran: satisfied when stamped.
    case eager
    /// A lazy predicate with a compact test: its field's values are tested in place.
    case compact
    /// A lazy predicate with a general or broad test: evaluated once per event and stamped.
    case memoized
}

/// One condition of a candidate sub-rule other than its trigger, stored next to the conditions of
/// the other sub-rules of the same trigger: examining a trigger's candidates reads a few bytes per
/// condition in order, instead of a predicate-table line each (the table is megabytes at 10,000
/// rules, and every line read was a cache miss).
struct CandidateCondition {
    /// The test itself for ``ConditionMode/compact`` conditions (so deciding one reads nothing else).
    var compact: CompactTest
    var pred: Int32
    var field: Int32
    var mode: ConditionMode
    var hasAbsence: Bool
}

/// A lazy predicate's compact test with its operands packed in two words, small enough to travel
/// in a ``CandidateCondition``: a range's bounds, or where a string test's text and pieces are (a
/// CIDR block's prefix length in place of the pieces).
struct CompactTest {
    private var first: UInt64
    private var second: UInt64
    var test: LazyTest

    init(_ info: PredicateInfo) {
        test = info.test
        switch info.test {
        case .closedRange, .rangeClosedOpen, .rangeOpenClosed, .openRange:
            first = info.lower.bitPattern
            second = info.upper.bitPattern
        case .cidr:
            first = CompactTest.pack(info.textStart, info.textEnd)
            second = UInt64(info.lower)
        default:
            first = CompactTest.pack(info.textStart, info.textEnd)
            second = CompactTest.pack(info.pieceStart, info.pieceEnd)
        }
    }

    private static func pack(_ low: Int32, _ high: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: low)) | UInt64(UInt32(bitPattern: high)) << 32
    }

    var lower: Double { Double(bitPattern: first) }
    var upper: Double { Double(bitPattern: second) }
    var textStart: Int { Int(UInt32(truncatingIfNeeded: first)) }
    var textEnd: Int { Int(first >> 32) }
    var pieceStart: Int { Int(UInt32(truncatingIfNeeded: second)) }
    var pieceEnd: Int { Int(second >> 32) }
    var prefixLength: Int { Int(second) }
}
