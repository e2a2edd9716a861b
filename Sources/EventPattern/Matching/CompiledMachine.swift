/// The matcher's compiled form: a trie of the field paths patterns name, one ``FieldMatcher`` per
/// field, and the predicates and sub-rules (flat `$or` branches) that connect them to pattern ids.
///
/// A *predicate* is one field condition (path + value list), shared by every sub-rule that has the
/// same condition. A *sub-rule* is one flat branch of one pattern: it matches when all of its
/// required predicates are satisfied by array-consistent values and its `exists: false`
/// conditions hold.
struct CompiledMachine: Sendable {
    // Path trie: node 0 is the event's root object.
    var edges = ByteStringTable(capacity: 64)
    var nodeField: [Int32] = [-1]
    var nodeHasChildren: [Bool] = [false]

    var fields: [FieldMatcher] = []
    /// Fields named by an `exists: false` condition: their occurrences are tracked for absence checks.
    var fieldTracksOccurrences: [Bool] = []
    var groupCount = 0

    var predField: [Int32] = []
    var predHasAbsence: [Bool] = []
    var predSubRuleStart: [Int32] = [0]
    var predSubRules: [Int32] = []

    var subRulePattern: [Int32] = []
    var subRuleRequired: [Int32] = []
    var subRuleHasAbsence: [Bool] = []
    var subRulePredStart: [Int32] = [0]
    var subRulePreds: [Int32] = []
    /// Sub-rules with no required predicate (only `exists: false`): checked on every event.
    var unconditionalSubRules: [Int32] = []

    init() {}

    init(patterns: [Int: EventPattern]) {
        var predIDs: [FieldCondition: Int32] = [:]
        var predConditions: [FieldCondition] = []
        var predUsers: [[Int32]] = []
        var fieldIDs: [String: Int32] = [:]
        var fieldEntries: [[(matcher: ValueMatcher, pred: Int32)]] = []

        for id in patterns.keys.sorted() {
            let pattern = patterns[id]!
            for branch in pattern.branches {
                let subRule = Int32(subRulePattern.count)
                var preds: [Int32] = []
                var seen = Set<Int32>()
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
                        predUsers.append([])
                        let field: Int32
                        if let f = fieldIDs[condition.path] {
                            field = f
                        } else {
                            field = Int32(fieldEntries.count)
                            fieldIDs[condition.path] = field
                            fieldEntries.append([])
                        }
                        predField.append(field)
                        predHasAbsence.append(condition.matchers.contains(.exists(false)))
                        for matcher in Set(condition.matchers) where matcher != .exists(false) {
                            fieldEntries[Int(field)].append((matcher, pred))
                        }
                    }
                    if seen.insert(pred).inserted {
                        preds.append(pred)
                        predUsers[Int(pred)].append(subRule)
                    }
                }
                let required = preds.filter { !predHasAbsence[Int($0)] }.count
                subRulePattern.append(Int32(id))
                subRuleRequired.append(Int32(required))
                subRuleHasAbsence.append(required != preds.count)
                subRulePreds.append(contentsOf: preds)
                subRulePredStart.append(Int32(subRulePreds.count))
                if required == 0 { unconditionalSubRules.append(subRule) }
            }
        }
        for users in predUsers {
            predSubRules.append(contentsOf: users)
            predSubRuleStart.append(Int32(predSubRules.count))
        }
        fieldTracksOccurrences = Array(repeating: false, count: fieldEntries.count)
        for (p, hasAbsence) in predHasAbsence.enumerated() where hasAbsence { fieldTracksOccurrences[Int(predField[p])] = true }
        for (path, field) in fieldIDs.sorted(by: { $0.value < $1.value }) {
            let matcher = FieldMatcher(entries: fieldEntries[Int(field)], groupBase: groupCount)
            groupCount += matcher.groupCount
            fields.append(matcher)
            insertPath(path, field: field)
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
