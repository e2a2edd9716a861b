/// The matcher's compiled form: a trie of the field paths patterns name, one ``FieldMatcher`` per
/// field, and the predicates and sub-rules (flat `$or` branches) that connect them to pattern ids.
///
/// A *predicate* is one field condition (path + value list), shared by every sub-rule that has the
/// same condition. A *sub-rule* is one flat branch of one pattern. Each sub-rule has one *trigger*:
/// its most selective purely selective predicate (exact, prefix, numeric…, no `anything-but`,
/// `exists` or absence). Trigger predicates are *eager*: every value of their field runs through the
/// field's shared matcher, which reports the triggers it satisfies. Every other predicate is *lazy*:
/// its field's values are only recorded, and the predicate is tested against them when a sub-rule
/// that needs it becomes a candidate. Only sub-rules whose trigger fired are examined, so the work
/// per event follows what the event actually matches, not how many rules exist or how many
/// non-trigger conditions its values happen to satisfy.
struct CompiledMachine: Sendable {
    // Path trie: node 0 is the event's root object.
    var edges = ByteStringTable(capacity: 64)
    var nodeField: [Int32] = [-1]
    var nodeHasChildren: [Bool] = [false]
    /// Every trie edge, for the walker's ``PathEdgeTable``.
    var trieEdges: [(node: Int32, name: [UInt8], child: Int32)] = []

    /// Per field, the shared matcher of its trigger predicates.
    var fields: [FieldMatcher] = []
    /// Fields some lazy predicate names: all their values are recorded for on-demand tests.
    var fieldTracksOccurrences: [Bool] = []

    var predField: [Int32] = []
    var predHasAbsence: [Bool] = []
    /// Per lazy predicate, its own matcher over its positive value tests (nil when it has none or
    /// when a compact test below covers it).
    var predTester: [FieldMatcher?] = []
    /// How a lazy predicate's positive part is tested: compact forms for the common single-value
    /// cases keep the test to one cache line; ``LazyTest/general`` runs `predTester`.
    var predTest: [LazyTest] = []
    /// `numeric` and single exact numbers: the interval (open ends are infinities).
    var predLower: [Double] = []
    var predUpper: [Double] = []
    /// Exact strings, case-sensitive prefixes and suffixes, wildcard pieces and CIDR network bytes,
    /// in `predText`.
    var predTextStart: [Int32] = []
    var predTextEnd: [Int32] = []
    var predText: [UInt8] = []
    /// Wildcards: the lengths of their pieces, `predPieceStart[p]..<predPieceStart[p + 1]`.
    var predPieceStart: [Int32] = [0]
    var pieceLength: [Int32] = []
    /// Broad matchers per predicate: -1 for `exists: true`, else a group id local to its tester.
    var predBroadStart: [Int32] = [0]
    var predBroad: [Int32] = []
    var predTriggerStart: [Int32] = [0]
    var predTriggers: [Int32] = []

    var subRulePattern: [Int32] = []
    var subRulePredStart: [Int32] = [0]
    var subRulePreds: [Int32] = []
    /// Lists of up to this many strings are tested by comparing with each: cheaper than running a
    /// value through an automaton of their own, and with nothing to build or cache per predicate.
    static let compactListLimit = 16

    /// Sub-rules without a purely selective predicate: examined for every event.
    var unconditionalSubRules: [Int32] = []
    /// Each sub-rule's trigger predicate (-1: unconditional).
    var subRuleTrigger: [Int32] = []

    /// Each pattern's id as the caller knows it, by dense index: matches are reported by these
    /// straight from the candidate records, with no table to look them up in.
    var patternID: [Int] = []

    init() {}

    /// Compiles `patterns`, keyed by dense index (0, 1, …); `ids` gives each one's own id, in the
    /// same ascending order (the dense index itself when nil).
    init(patterns: [Int: EventPattern], ids: [Int]? = nil) {
        patternID = ids ?? Array(0..<((patterns.keys.max() ?? -1) + 1))
        var predIDs: [FieldCondition: Int32] = [:]
        var predConditions: [FieldCondition] = []
        var fieldIDs: [[UInt8]: Int32] = [:]   // by bytes: String equality merges canonically equivalent keys
        var fieldPaths: [String] = []
        var subRuleLists: [[Int32]] = []

        for id in patterns.keys.sorted() {
            let pattern = patterns[id]!
            for branch in pattern.branches {
                var preds: [Int32] = []
                // Fields in UTF-16 order of their paths (each path converted once, not per comparison).
                let keys = branch.map { Array($0.path.utf16) }
                let ordered = branch.indices.sorted { a, b in
                    keys[a] == keys[b] ? a < b : keys[a].lexicographicallyPrecedes(keys[b])
                }.map { branch[$0] }
                for condition in ordered {
                    let pred: Int32
                    if let existing = predIDs[condition] {
                        pred = existing
                    } else {
                        pred = Int32(predConditions.count)
                        predIDs[condition] = pred
                        predConditions.append(condition)
                        let field: Int32
                        let pathBytes = Array(condition.path.utf8)
                        if let f = fieldIDs[pathBytes] {
                            field = f
                        } else {
                            field = Int32(fieldPaths.count)
                            fieldIDs[pathBytes] = field
                            fieldPaths.append(condition.path)
                        }
                        predField.append(field)
                    }
                    if !preds.contains(pred) { preds.append(pred) }
                }
                subRulePattern.append(Int32(id))
                subRuleLists.append(preds)
            }
        }

        // Classify each predicate's matchers.
        var purelySelective: [Bool] = []
        var rank: [Int] = []
        var distinctMatchers: [[ValueMatcher]] = []
        for condition in predConditions {
            var selectiveRank = -1
            var absence = false
            var broad = false
            var seen = Set<ValueMatcher>()
            let matchers = condition.matchers.filter { seen.insert($0).inserted }
            for matcher in matchers {
                switch matcher {
                case .exists(false): absence = true
                case .exists(true), .anythingBut: broad = true
                case .exactString, .exactNumber, .exactNumberText, .exactBool, .exactNull, .equalsIgnoreCase: selectiveRank = max(selectiveRank, 0)
                case .prefix, .suffix, .wildcard, .cidr: selectiveRank = max(selectiveRank, 1)
                case .numeric: selectiveRank = max(selectiveRank, 2)
                }
            }
            predHasAbsence.append(absence)
            purelySelective.append(!absence && !broad && selectiveRank >= 0)
            rank.append(selectiveRank)
            distinctMatchers.append(matchers)
        }

        // Pick each sub-rule's trigger: the purely selective predicate of lowest rank; then the one
        // on the field that rules test with the most distinct values (a field with a thousand
        // tested values, such as `eventName`, rarely holds any one of them, where one with six,
        // such as a region, often does); then the one fewest sub-rules share (a value many rules
        // test is likely a common one).
        var users = Array(repeating: 0, count: predConditions.count)
        for preds in subRuleLists { for p in preds { users[Int(p)] += 1 } }
        var fieldValues = Array(repeating: 0, count: fieldPaths.count)
        for p in predConditions.indices where purelySelective[p] { fieldValues[Int(predField[p])] += 1 }
        var triggered: [[Int32]] = Array(repeating: [], count: predConditions.count)
        for (s, preds) in subRuleLists.enumerated() {
            let trigger = preds.filter { purelySelective[Int($0)] }.min { a, b in
                (rank[Int(a)], -fieldValues[Int(predField[Int(a)])], users[Int(a)])
                    < (rank[Int(b)], -fieldValues[Int(predField[Int(b)])], users[Int(b)])
            }
            if let trigger { triggered[Int(trigger)].append(Int32(s)) } else { unconditionalSubRules.append(Int32(s)) }
            subRuleTrigger.append(trigger ?? -1)
            subRulePreds.append(contentsOf: preds)
            subRulePredStart.append(Int32(subRulePreds.count))
        }
        for list in triggered {
            predTriggers.append(contentsOf: list)
            predTriggerStart.append(Int32(predTriggers.count))
        }

        // Trigger predicates go into their field's shared matcher; the others get their own tester.
        var fieldEntries: [[(matcher: ValueMatcher, pred: Int32)]] = Array(repeating: [], count: fieldPaths.count)
        fieldTracksOccurrences = Array(repeating: false, count: fieldPaths.count)
        for p in predConditions.indices {
            let field = Int(predField[p])
            let matchers = distinctMatchers[p]
            var test = LazyTest.none
            var lower = -Double.infinity, upper = Double.infinity
            let textStart = Int32(predText.count)
            defer {
                predTest.append(test)
                predLower.append(lower)
                predUpper.append(upper)
                predTextStart.append(textStart)
                predTextEnd.append(Int32(predText.count))
                predPieceStart.append(Int32(pieceLength.count))
            }
            if !triggered[p].isEmpty {
                predTester.append(nil)
                for matcher in matchers { fieldEntries[field].append((matcher, Int32(p))) }
            } else {
                fieldTracksOccurrences[field] = true
                let positive = matchers.filter { $0 != .exists(false) && $0 != .exists(true) }
                let hasBroad = matchers.contains { if case .anythingBut = $0 { return true }; return $0 == .exists(true) }
                var tester: FieldMatcher? = nil
                switch (hasBroad, positive.first, positive.count) {
                case (false, .numeric(let range)?, 1):
                    // A missing bound is an inclusive infinity, so infinite values (1e400) still match it.
                    let lowerClosed = range.lower == nil || range.lowerInclusive
                    let upperClosed = range.upper == nil || range.upperInclusive
                    test = lowerClosed && upperClosed ? .closedRange
                        : lowerClosed ? .rangeClosedOpen : upperClosed ? .rangeOpenClosed : .openRange
                    lower = range.lower ?? -.infinity
                    upper = range.upper ?? .infinity
                case (false, .exactNumber(let x)?, 1):
                    test = .closedRange
                    lower = x
                    upper = x
                case (false, .exactString(let text)?, 1):
                    test = .exactString
                    predText.append(contentsOf: text.utf8)
                case (false, .prefix(let text, ignoreCase: false)?, 1):
                    test = .prefix
                    predText.append(contentsOf: text.utf8)
                case (false, .suffix(let text, ignoreCase: false)?, 1):
                    test = .suffix
                    predText.append(contentsOf: text.utf8)
                case (false, .wildcard(let wildcard)?, 1):
                    test = .wildcard
                    for piece in wildcard.pieces {
                        predText.append(contentsOf: piece)
                        pieceLength.append(Int32(piece.count))
                    }
                case (false, .cidr(let block)?, 1):
                    test = .cidr
                    predText.append(contentsOf: block.network)
                    lower = Double(block.prefixLength)
                case (false, .exactString?, 2...CompiledMachine.compactListLimit)
                    where positive.allSatisfy({ if case .exactString = $0 { return true }; return false }):
                    test = .oneOfStrings
                    for case .exactString(let text) in positive {
                        predText.append(contentsOf: text.utf8)
                        pieceLength.append(Int32(text.utf8.count))
                    }
                case (true, .anythingBut(.strings(let values))?, 1)
                    where values.count <= CompiledMachine.compactListLimit && !matchers.contains(.exists(true)):
                    test = .noneOfStrings
                    for text in values {
                        predText.append(contentsOf: text.utf8)
                        pieceLength.append(Int32(text.utf8.count))
                    }
                case (_, _, 0):
                    test = .none
                default:
                    test = .general
                    tester = FieldMatcher(entries: positive.map { ($0, Int32(p)) })
                }
                predTester.append(tester)
                // A compact test decides its broad matchers itself.
                for matcher in matchers where tester != nil || test == .none {
                    switch matcher {
                    case .exists(true): predBroad.append(-1)
                    case .anythingBut(let exclusion): predBroad.append(tester!.groupID(for: exclusion))
                    default: break
                    }
                }
            }
            predBroadStart.append(Int32(predBroad.count))
        }
        for (field, path) in fieldPaths.enumerated() {
            fields.append(fieldEntries[field].isEmpty ? FieldMatcher.empty : FieldMatcher(entries: fieldEntries[field]))
            insertPath(path, field: Int32(field))
        }
    }

    /// Adds `path` to the trie, one node per dot-separated segment, the last marked with `field`.
    private mutating func insertPath(_ path: String, field: Int32) {
        var node: Int32 = 0
        for segment in path.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            let bytes = Array(segment)
            if let child = edges.lookup(context: node, bytes) {
                node = child
            } else {
                let child = Int32(nodeField.count)
                nodeField.append(-1)
                nodeHasChildren.append(false)
                nodeHasChildren[Int(node)] = true
                edges.insert(context: node, bytes, value: child)
                trieEdges.append((node, bytes, child))
                node = child
            }
        }
        nodeField[Int(node)] = field
    }

}

/// How a lazy predicate's positive value tests are checked on demand.
enum LazyTest: UInt8 {
    /// No positive test (only `exists` or broad matchers).
    case none
    /// Through the predicate's own ``FieldMatcher``.
    case general
    /// One number or interval, by its bounds: [a, b], [a, b), (a, b], (a, b).
    case closedRange, rangeClosedOpen, rangeOpenClosed, openRange
    /// One exact string, or one case-sensitive prefix or suffix.
    case exactString, prefix, suffix
    /// One wildcard: its pieces' bytes in the text, their lengths in the piece table.
    case wildcard
    /// One CIDR block: the network bytes in the text, the prefix length in the lower bound.
    case cidr
    /// Equal to one of a few strings, or (`anything-but`) a string equal to none of them, or not
    /// a string: the strings are pieces, as a wildcard's.
    case oneOfStrings, noneOfStrings
}

/// Everything the walker reads about one predicate, in one cache line.
struct PredicateInfo {
    var lower: Double
    var upper: Double
    var field: Int32
    var broadStart: Int32
    var broadEnd: Int32
    var textStart: Int32
    var textEnd: Int32
    var pieceStart: Int32
    var pieceEnd: Int32
    var isLazy: Bool
    var hasAbsence: Bool
    var test: LazyTest
}

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

/// The compiled tables behind a reference: the walker holds one pointer per event instead of
/// retaining every table.
///
/// `@unchecked Sendable`: everything it holds is written once in `init` and only read afterwards.
final class CompiledMachineReference: @unchecked Sendable {
    /// The machine of no patterns, shared by every new ``PatternMachine`` (most get patterns at once).
    static let empty = CompiledMachineReference(CompiledMachine())

    let tables: CompiledMachine
    /// Pointer copies of the tables read for every event, in one allocation walkers point into;
    /// freed with the reference.
    let flatPointer: UnsafeMutablePointer<FlatTables>
    var flat: FlatTables { flatPointer.pointee }

    init(_ tables: CompiledMachine) {
        self.tables = tables
        flatPointer = .allocate(capacity: 1)
        flatPointer.initialize(to: FlatTables(tables))
    }

    deinit {
        flatPointer.pointee.deallocate()
        flatPointer.deinitialize(count: 1)
        flatPointer.deallocate()
    }
}

/// Unmanaged, immutable copies of the integer tables the walker reads per event, so reading them
/// costs no reference counting and no bounds checks. Owned by a ``CompiledMachineReference``,
/// which outlives every walker using them.
struct FlatTables: @unchecked Sendable {
    let nodeField: UnsafeBufferPointer<Int32>
    let nodeHasChildren: UnsafeBufferPointer<Bool>
    /// Per trie node: whether an object or array there is only validated while reading, and walked
    /// when a candidate first needs a field below it. True where every field at or below the node
    /// is lazy and not needed by every event (no trigger, no unconditional sub-rule), so most
    /// events never read the subtree (CloudTrail's `requestParameters` under rules triggered by
    /// `eventName`). Never the root.
    let nodeDeferrable: UnsafeBufferPointer<Bool>
    /// Per trie node, its parent (-1 for the root).
    let nodeParent: UnsafeBufferPointer<Int32>
    /// Per field, its trie node when a deferrable node is at or above it, else -1 (its values
    /// are all read while walking).
    let fieldDeferredNode: UnsafeBufferPointer<Int32>
    let fieldTracksOccurrences: UnsafeBufferPointer<Bool>
    /// Per field, whether its shared matcher tests anything (some trigger predicate is on it):
    /// values of the other fields are only recorded.
    let fieldEvaluates: UnsafeBufferPointer<Bool>
    let predBroad: UnsafeBufferPointer<Int32>
    let subRulePreds: UnsafeBufferPointer<Int32>
    let predText: UnsafeBufferPointer<UInt8>
    let pieceLength: UnsafeBufferPointer<Int32>
    /// The path trie's edges.
    let edges: PathEdgeTable
    /// The field matchers and lazy testers, unretained (the tables keep them alive).
    let fieldMatchers: UnsafeBufferPointer<Unmanaged<FieldMatcher>>
    /// The per-predicate tables, gathered per predicate: a candidate touches one line per
    /// predicate instead of one per table.
    let pred: UnsafeBufferPointer<PredicateInfo>
    /// The candidate sub-rules: each trigger's from slot `triggerStart[p]` to `triggerStart[p + 1]`,
    /// then the sub-rules without a trigger, up to `candidates.slotCount`.
    let candidates: CandidateRecords
    /// Per predicate, where its triggered sub-rules start in `candidates` (one more entry at the
    /// end, where the unconditional ones start).
    let triggerStart: UnsafeBufferPointer<Int32>
    let predTesters: UnsafeBufferPointer<Unmanaged<FieldMatcher>?>

    init(_ t: CompiledMachine) {
        nodeField = FlatTables.copy(t.nodeField)
        nodeHasChildren = FlatTables.copy(t.nodeHasChildren)
        let deferral = FlatTables.deferral(t)
        nodeDeferrable = FlatTables.copy(deferral.deferrable)
        nodeParent = FlatTables.copy(deferral.parent)
        fieldDeferredNode = FlatTables.copy(deferral.fieldNode)
        fieldTracksOccurrences = FlatTables.copy(t.fieldTracksOccurrences)
        fieldEvaluates = FlatTables.copy(t.fields.map { !$0.isEmpty })
        predBroad = FlatTables.copy(t.predBroad)
        subRulePreds = FlatTables.copy(t.subRulePreds)
        predText = FlatTables.copy(t.predText)
        pieceLength = FlatTables.copy(t.pieceLength)
        let pred = t.predField.indices.map { p in
            PredicateInfo(lower: t.predLower[p], upper: t.predUpper[p], field: t.predField[p],
                          broadStart: t.predBroadStart[p], broadEnd: t.predBroadStart[p + 1],
                          textStart: t.predTextStart[p], textEnd: t.predTextEnd[p],
                          pieceStart: t.predPieceStart[p], pieceEnd: t.predPieceStart[p + 1],
                          isLazy: t.predTriggerStart[p] == t.predTriggerStart[p + 1], hasAbsence: t.predHasAbsence[p], test: t.predTest[p])
        }
        self.pred = FlatTables.copy(pred)
        var branches: [Int32: Int] = [:]
        for pattern in t.subRulePattern { branches[pattern, default: 0] += 1 }
        func rule(_ s: Int) -> (header: SubRuleInfo, conditions: [CandidateCondition]) {
            var conditions: [CandidateCondition] = []
            for k in Int(t.subRulePredStart[s])..<Int(t.subRulePredStart[s + 1]) {
                let p = Int(t.subRulePreds[k])
                if p == t.subRuleTrigger[s] { continue }
                let info = pred[p]
                let mode: ConditionMode
                if !info.isLazy {
                    mode = .eager
                } else {
                    switch info.test {
                    case .none, .general: mode = .memoized
                    default: mode = .compact
                    }
                }
                conditions.append(CandidateCondition(compact: CompactTest(info), pred: Int32(p), field: info.field, mode: mode, hasAbsence: info.hasAbsence))
            }
            let trigger = t.subRuleTrigger[s]
            let header = SubRuleInfo(pattern: t.subRulePattern[s], predStart: t.subRulePredStart[s], predEnd: t.subRulePredStart[s + 1],
                                     conditionCount: Int32(conditions.count),
                                     triggerField: trigger >= 0 ? t.predField[Int(trigger)] : -1,
                                     onlyBranch: branches[t.subRulePattern[s]] == 1, id: t.patternID[Int(t.subRulePattern[s])])
            return (header, conditions)
        }
        // Records in trigger order, then the unconditional ones; a trigger's first slot is the
        // start of its first record.
        var recordStarts: [Int32] = []
        candidates = CandidateRecords(t.predTriggers.map { rule(Int($0)) } + t.unconditionalSubRules.map { rule(Int($0)) }, starts: &recordStarts)
        triggerStart = FlatTables.copy(t.predTriggerStart.map { recordStarts[Int($0)] })
        edges = PathEdgeTable(edges: t.trieEdges, nodeCount: t.nodeField.count)
        fieldMatchers = FlatTables.copy(t.fields.map { Unmanaged.passUnretained($0) })
        predTesters = FlatTables.copy(t.predTester.map { $0.map { Unmanaged.passUnretained($0) } })
    }

    /// Which nodes' subtrees can wait (see `nodeDeferrable`).
    private static func deferral(_ t: CompiledMachine) -> (deferrable: [Bool], parent: [Int32], fieldNode: [Int32]) {
        let nodeCount = t.nodeField.count
        var parent = Array(repeating: Int32(-1), count: nodeCount)
        for edge in t.trieEdges { parent[Int(edge.child)] = edge.node }
        // Fields every event needs: those with triggers, and those of sub-rules without one.
        var needed = Array(repeating: false, count: t.fields.count)
        for p in t.predField.indices where t.predTriggerStart[p] != t.predTriggerStart[p + 1] { needed[Int(t.predField[p])] = true }
        for s in t.unconditionalSubRules {
            for k in Int(t.subRulePredStart[Int(s)])..<Int(t.subRulePredStart[Int(s) + 1]) { needed[Int(t.predField[Int(t.subRulePreds[k])])] = true }
        }
        var holdsField = Array(repeating: false, count: nodeCount)
        var holdsNeeded = Array(repeating: false, count: nodeCount)
        for node in 0..<nodeCount where t.nodeField[node] >= 0 {
            let isNeeded = needed[Int(t.nodeField[node])]
            var n = node
            while n >= 0 {
                holdsField[n] = true
                if isNeeded { holdsNeeded[n] = true }
                n = Int(parent[n])
            }
        }
        let deferrable = (0..<nodeCount).map { $0 != 0 && holdsField[$0] && !holdsNeeded[$0] }
        var fieldNode = Array(repeating: Int32(-1), count: t.fields.count)
        for node in 0..<nodeCount where t.nodeField[node] >= 0 {
            var n = node
            while n >= 0 && !deferrable[n] { n = Int(parent[n]) }
            if n >= 0 { fieldNode[Int(t.nodeField[node])] = Int32(node) }
        }
        return (deferrable, parent, fieldNode)
    }

    private static func copy<T>(_ array: [T]) -> UnsafeBufferPointer<T> {
        let buffer = UnsafeMutableBufferPointer<T>.allocate(capacity: max(array.count, 1))
        _ = buffer.initialize(from: array)
        return UnsafeBufferPointer(rebasing: buffer[0..<array.count])
    }

    func deallocate() {
        nodeField.deallocate(); nodeHasChildren.deallocate(); fieldTracksOccurrences.deallocate(); fieldEvaluates.deallocate()
        nodeDeferrable.deallocate(); nodeParent.deallocate(); fieldDeferredNode.deallocate()
        predBroad.deallocate(); subRulePreds.deallocate(); predText.deallocate(); pieceLength.deallocate()
        fieldMatchers.deallocate(); predTesters.deallocate(); pred.deallocate()
        candidates.deallocate(); triggerStart.deallocate()
        edges.deallocate()
    }
}
