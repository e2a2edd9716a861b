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
    /// A predicate this many sub-rules share, on a field whose tested values are fewer than a
    /// quarter of them (so it likely fires for any event: a `detail-type`, a `source`), is a
    /// trigger only for sub-rules without another purely selective predicate. One on a field
    /// tested with many values (a popular `eventName` among thousands) rarely fires, and making
    /// the alternative eager would read its field for every event.
    static let popularTrigger = 16
    /// Lists of up to this many strings are tested by comparing with each: cheaper than running a
    /// value through an automaton of their own, and with nothing to build or cache per predicate.
    static let compactListLimit = 16

    /// Sub-rules with neither a purely selective predicate nor one that needs a value (only
    /// absences, `exists: false`): examined for every event.
    var unconditionalSubRules: [Int32] = []
    /// Each sub-rule's trigger predicate (-1: none, presence-triggered or unconditional).
    var subRuleTrigger: [Int32] = []
    /// Sub-rules without a purely selective predicate whose conditions need some value on a field
    /// (`anything-but`, `exists: true`: anything but an absence): examined only for events that
    /// have a value there, so that rules of broad conditions on fields most events lack (an error
    /// code, a rarely sent parameter) cost nothing for the others. Per field, its sub-rules.
    var fieldPresenceSubRules: [[Int32]] = []
    /// Each sub-rule's presence field (-1: none).
    var subRulePresenceField: [Int32] = []

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

        // Pick each sub-rule's trigger: not one that many sub-rules share and that likely fires
        // when another will do (each time it fires, all of them are examined: a thousand rules that
        // each test `detail-type` and one bucket prefix would otherwise all be examined for every
        // event);
        // then the purely selective predicate of lowest rank; then the one on the field that
        // rules test with the most distinct values (a field with a thousand tested values, such
        // as `eventName`, rarely holds any one of them, where one with six, such as a region,
        // often does); then the one fewest sub-rules share (a value many rules test is likely a
        // common one).
        var users = Array(repeating: 0, count: predConditions.count)
        for preds in subRuleLists { for p in preds { users[Int(p)] += 1 } }
        var fieldValues = Array(repeating: 0, count: fieldPaths.count)
        for p in predConditions.indices where purelySelective[p] { fieldValues[Int(predField[p])] += 1 }
        var triggered: [[Int32]] = Array(repeating: [], count: predConditions.count)
        fieldPresenceSubRules = Array(repeating: [], count: fieldPaths.count)
        for (s, preds) in subRuleLists.enumerated() {
            // Shared by many, on a field tested with few values (so likely to fire for any event).
            func popular(_ p: Int32) -> Bool {
                let p = Int(p)
                return users[p] >= CompiledMachine.popularTrigger && users[p] >= 4 * fieldValues[Int(predField[p])]
            }
            var trigger = preds.filter { purelySelective[Int($0)] }.min { a, b in
                func key(_ p: Int32) -> (Int, Int, Int, Int) {
                    let p = Int(p)
                    return (popular(Int32(p)) ? 1 : 0, rank[p], -fieldValues[Int(predField[p])], users[p])
                }
                return key(a) < key(b)
            }
            // A popular trigger fires for nearly every event; a field the rule only asks to exist
            // (an error code, an optional parameter) is usually absent, so waiting for it is better.
            if let chosen = trigger, popular(chosen), preds.contains(where: { distinctMatchers[Int($0)] == [.exists(true)] }) {
                trigger = nil
            }
            // Without one, a field the sub-rule needs a value on: preferably one it only asks to
            // exist (likely often absent), then the deepest (deeper fields are rarer), then the
            // condition fewest sub-rules share.
            let presence = trigger != nil ? nil : preds.filter { !predHasAbsence[Int($0)] }.min { a, b in
                func key(_ p: Int32) -> (Int, Int, Int) {
                    let condition = predConditions[Int(p)]
                    let onlyExists = distinctMatchers[Int(p)] == [.exists(true)] ? 0 : 1
                    return (onlyExists, -condition.path.utf8.lazy.filter { $0 == UInt8(ascii: ".") }.count, users[Int(p)])
                }
                return key(a) < key(b)
            }.map { predField[Int($0)] }
            if let trigger {
                triggered[Int(trigger)].append(Int32(s))
            } else if let presence {
                fieldPresenceSubRules[Int(presence)].append(Int32(s))
            } else {
                unconditionalSubRules.append(Int32(s))
            }
            subRuleTrigger.append(trigger ?? -1)
            subRulePresenceField.append(presence ?? -1)
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
