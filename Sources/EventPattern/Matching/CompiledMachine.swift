/// The matcher's compiled form: a trie of the field paths patterns name, one ``FieldMatcher`` per
/// field, and the predicates and sub-rules (flat `$or` branches) that connect them to pattern ids.
///
/// A *predicate* is one field condition (path + value list), shared by every sub-rule that has the
/// same condition. Its matchers are *selective* (exact, prefix, numeric…: reported by the field
/// matcher when a value satisfies them), *broad* (`anything-but`, `exists: true`: they match nearly
/// every value, so they are only checked on demand) or *absence* (`exists: false`). A *sub-rule* is
/// one flat branch of one pattern. Each sub-rule has one *trigger*: its most selective purely
/// selective predicate. Only sub-rules whose trigger fired are examined for an event, so the work
/// per event follows what the event actually matches, not how many rules exist.
struct CompiledMachine: Sendable {
    // Path trie: node 0 is the event's root object.
    var edges = ByteStringTable(capacity: 64)
    var nodeField: [Int32] = [-1]
    var nodeHasChildren: [Bool] = [false]

    var fields: [FieldMatcher] = []
    /// Fields some broad or absence predicate names: all their values are kept for on-demand checks.
    var fieldTracksOccurrences: [Bool] = []
    /// Per anything-but group (machine-wide id): whether its exclusions are numbers.
    var groupIsNumeric: [Bool] = []

    var predField: [Int32] = []
    var predHasAbsence: [Bool] = []
    /// Broad matchers per predicate: -1 for `exists: true`, else an anything-but group id.
    var predBroadStart: [Int32] = [0]
    var predBroad: [Int32] = []
    var predTriggerStart: [Int32] = [0]
    var predTriggers: [Int32] = []

    var subRulePattern: [Int32] = []
    var subRulePredStart: [Int32] = [0]
    var subRulePreds: [Int32] = []
    /// Sub-rules without a purely selective predicate: examined for every event.
    var unconditionalSubRules: [Int32] = []

    init() {}

    init(patterns: [Int: EventPattern]) {
        var predIDs: [FieldCondition: Int32] = [:]
        var predConditions: [FieldCondition] = []
        var fieldIDs: [String: Int32] = [:]
        var fieldPaths: [String] = []
        var fieldEntries: [[(matcher: ValueMatcher, pred: Int32)]] = []
        var subRuleLists: [[Int32]] = []

        for id in patterns.keys.sorted() {
            let pattern = patterns[id]!
            for branch in pattern.branches {
                var preds: [Int32] = []
                let ordered = branch.enumerated().sorted { a, b in
                    let x = Array(a.element.path.utf16), y = Array(b.element.path.utf16)
                    return x == y ? a.offset < b.offset : x.lexicographicallyPrecedes(y)
                }.map(\.element)
                for condition in ordered {
                    let pred: Int32
                    if let existing = predIDs[condition] {
                        pred = existing
                    } else {
                        pred = Int32(predConditions.count)
                        predIDs[condition] = pred
                        predConditions.append(condition)
                        let field: Int32
                        if let f = fieldIDs[condition.path] {
                            field = f
                        } else {
                            field = Int32(fieldEntries.count)
                            fieldIDs[condition.path] = field
                            fieldPaths.append(condition.path)
                            fieldEntries.append([])
                        }
                        predField.append(field)
                        for matcher in Set(condition.matchers) where matcher != .exists(false) {
                            fieldEntries[Int(field)].append((matcher, pred))
                        }
                    }
                    if !preds.contains(pred) { preds.append(pred) }
                }
                subRulePattern.append(Int32(id))
                subRuleLists.append(preds)
            }
        }

        var groupBase = 0
        for (field, path) in fieldPaths.enumerated() {
            let matcher = FieldMatcher(entries: fieldEntries[field], groupBase: groupBase)
            groupBase += matcher.groupCount
            groupIsNumeric.append(contentsOf: matcher.groupIsNumeric)
            fields.append(matcher)
            insertPath(path, field: Int32(field))
        }

        // Classify each predicate's matchers.
        fieldTracksOccurrences = Array(repeating: false, count: fieldPaths.count)
        var purelySelective: [Bool] = []
        var rank: [Int] = []
        for (p, condition) in predConditions.enumerated() {
            let field = Int(predField[p])
            var broad: [Int32] = []
            var selectiveRank = -1
            var absence = false
            for matcher in Set(condition.matchers) {
                switch matcher {
                case .exists(false): absence = true
                case .exists(true): if !broad.contains(-1) { broad.append(-1) }
                case .anythingBut(let exclusion): broad.append(fields[field].groupID(for: exclusion))
                case .exactString, .exactNumber, .exactBool, .exactNull, .equalsIgnoreCase: selectiveRank = max(selectiveRank, 0)
                case .prefix, .suffix, .wildcard, .cidr: selectiveRank = max(selectiveRank, 1)
                case .numeric: selectiveRank = max(selectiveRank, 2)
                }
            }
            predHasAbsence.append(absence)
            predBroad.append(contentsOf: broad)
            predBroadStart.append(Int32(predBroad.count))
            if absence || !broad.isEmpty { fieldTracksOccurrences[field] = true }
            purelySelective.append(!absence && broad.isEmpty && selectiveRank >= 0)
            rank.append(selectiveRank)
        }

        // Pick each sub-rule's trigger: the purely selective predicate of lowest rank, then the
        // one fewest sub-rules share (a value many rules test is likely a common one).
        var users = Array(repeating: 0, count: predConditions.count)
        for preds in subRuleLists { for p in preds { users[Int(p)] += 1 } }
        var triggered: [[Int32]] = Array(repeating: [], count: predConditions.count)
        for (s, preds) in subRuleLists.enumerated() {
            let trigger = preds.filter { purelySelective[Int($0)] }.min { a, b in
                (rank[Int(a)], users[Int(a)]) < (rank[Int(b)], users[Int(b)])
            }
            if let trigger { triggered[Int(trigger)].append(Int32(s)) } else { unconditionalSubRules.append(Int32(s)) }
            subRulePreds.append(contentsOf: preds)
            subRulePredStart.append(Int32(subRulePreds.count))
        }
        for list in triggered {
            predTriggers.append(contentsOf: list)
            predTriggerStart.append(Int32(predTriggers.count))
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
                node = child
            }
        }
        nodeField[Int(node)] = field
    }

    /// The trie node reached from `node` by an event key (which may itself contain dots), or -1.
    @inline(__always)
    func child(of node: Int32, key: UnsafeBufferPointer<UInt8>) -> Int32 {
        var start = 0
        var current = node
        var i = 0
        let n = key.count
        while i < n {
            if key[i] == UInt8(ascii: ".") {
                guard let next = edges.lookup(context: current, UnsafeBufferPointer(rebasing: key[start..<i])) else { return -1 }
                current = next
                start = i + 1
            }
            i += 1
        }
        return edges.lookup(context: current, UnsafeBufferPointer(rebasing: key[start..<n])) ?? -1
    }
}

/// The compiled tables behind a reference: the walker holds one pointer per event instead of
/// retaining every table.
final class CompiledMachineReference: Sendable {
    let tables: CompiledMachine
    init(_ tables: CompiledMachine) { self.tables = tables }
}
