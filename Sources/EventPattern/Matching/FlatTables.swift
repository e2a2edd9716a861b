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
    /// then each presence field's from `fieldPresenceStart[f]`, then the unconditional sub-rules,
    /// up to `candidates.slotCount`.
    let candidates: CandidateRecords
    /// Per predicate, where its triggered sub-rules start in `candidates` (one more entry at the
    /// end, where the presence-triggered ones start).
    let triggerStart: UnsafeBufferPointer<Int32>
    /// Per field, where the sub-rules examined when it has a value start in `candidates` (one more
    /// entry at the end, where the unconditional ones start).
    let fieldPresenceStart: UnsafeBufferPointer<Int32>
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
        // Records in trigger order, then by presence field, then the unconditional ones; a
        // trigger's (or field's) first slot is the start of its first record.
        var recordStarts: [Int32] = []
        let presenceRules = t.fieldPresenceSubRules.flatMap { $0 }
        candidates = CandidateRecords((t.predTriggers + presenceRules + t.unconditionalSubRules).map { rule(Int($0)) }, starts: &recordStarts)
        triggerStart = FlatTables.copy(t.predTriggerStart.map { recordStarts[Int($0)] })
        var presenceStart: [Int32] = []
        var record = t.predTriggers.count
        for list in t.fieldPresenceSubRules {
            presenceStart.append(recordStarts[record])
            record += list.count
        }
        presenceStart.append(recordStarts[record])
        fieldPresenceStart = FlatTables.copy(presenceStart)
        edges = PathEdgeTable(edges: t.trieEdges, nodeCount: t.nodeField.count)
        fieldMatchers = FlatTables.copy(t.fields.map { Unmanaged.passUnretained($0) })
        predTesters = FlatTables.copy(t.predTester.map { $0.map { Unmanaged.passUnretained($0) } })
    }

    /// Which nodes' subtrees can wait (see `nodeDeferrable`).
    private static func deferral(_ t: CompiledMachine) -> (deferrable: [Bool], parent: [Int32], fieldNode: [Int32]) {
        let nodeCount = t.nodeField.count
        var parent = Array(repeating: Int32(-1), count: nodeCount)
        for edge in t.trieEdges { parent[Int(edge.child)] = edge.node }
        // Fields every event needs: those with triggers, presence fields, and those of sub-rules
        // without either.
        var needed = Array(repeating: false, count: t.fields.count)
        for p in t.predField.indices where t.predTriggerStart[p] != t.predTriggerStart[p + 1] { needed[Int(t.predField[p])] = true }
        for f in t.fieldPresenceSubRules.indices where !t.fieldPresenceSubRules[f].isEmpty { needed[f] = true }
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
        candidates.deallocate(); triggerStart.deallocate(); fieldPresenceStart.deallocate()
        edges.deallocate()
    }
}
