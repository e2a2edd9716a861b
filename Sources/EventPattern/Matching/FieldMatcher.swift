/// Every value test on one event field, shared by all the patterns that name that field.
///
/// Given one leaf value it reports the predicates (field conditions) whose selective matchers the
/// value satisfies, and which `anything-but` groups it is excluded from. String tests share one
/// ``StringAutomaton``; numbers use a hash for equality and a ``NumericIndex`` for ranges. Broad
/// matchers (`anything-but`, `exists: true`) are not expanded here: they would match nearly every
/// value, so they are checked only for the few sub-rules that get that far.
final class FieldMatcher: Sendable {
    /// Exact strings (context 0), ASCII equals-ignore-case texts folded to lower case (context 1) and
    /// the texts of exact numbers that cannot be compared by value (context 2),
    /// each to its only predicate as -(pred + 1), or to an entry of `tablePredStart` when several
    /// share the text: one hash lookup instead of a walk through the automaton,
    /// whose table grows with every value and costs a cache miss per byte once it is large.
    private let table: ByteStringTable
    private let tablePredStart: [Int32]
    private let tablePreds: [Int32]
    private let hasExact: Bool
    private let hasFolded: Bool
    private let hasNumberTexts: Bool
    private let automaton: StringAutomaton
    /// Wildcard tests with a piece between stars, which would swell the automaton's states.
    private let globs: GlobIndex
    private let hasAutomatonTests: Bool
    private let testPredStart: [Int32]
    private let testPreds: [Int32]
    private let testExclusionStart: [Int32]
    private let testExclusions: [Int32]

    private let numberTargets: [Double: (preds: [Int32], exclusions: [Int32])]
    private let ranges: NumericIndex
    private let cidrs: CIDRIndex
    private let truePreds: [Int32]
    private let falsePreds: [Int32]
    private let nullPreds: [Int32]
    /// Anything-but groups (distinct exclusion sets) by value, numbered from 0.
    private let groupIDs: [AnythingBut: Int32]
    /// Whether each group's exclusions are numbers (else strings), in local order.
    let groupIsNumeric: [Bool]

    let needsNumberValue: Bool
    let needsIPAddress: Bool
    let hasStringTests: Bool
    /// No tests at all (a field only lazy predicates name): nothing to evaluate.
    let isEmpty: Bool

    /// The matcher of no tests, shared by every field that only lazy predicates name.
    static let empty = FieldMatcher(entries: [])

    init(entries: [(matcher: ValueMatcher, pred: Int32)]) {
        var testPredStart: [Int32] = [0], testPreds: [Int32] = []
        var testExclusionStart: [Int32] = [0], testExclusions: [Int32] = []
        var numberTargets: [Double: (preds: [Int32], exclusions: [Int32])] = [:]
        var truePreds: [Int32] = [], falsePreds: [Int32] = [], nullPreds: [Int32] = []
        var groupIsNumeric: [Bool] = []
        var testIDs: [[StringToken]: Int] = [:]
        var tests: [[StringToken]] = []
        // The tests that go to the glob index, with their patterns.
        var globOf: [Int: WildcardPattern] = [:]
        var preds: [[Int32]] = []
        var exclusions: [[Int32]] = []
        func test(_ tokens: [StringToken]) -> Int {
            if let id = testIDs[tokens] { return id }
            testIDs[tokens] = tests.count
            tests.append(tokens); preds.append([]); exclusions.append([])
            return tests.count - 1
        }
        var tableIDs: [TableKey: Int] = [:]
        var tableKeys: [(context: Int32, bytes: [UInt8])] = []
        var tableLists: [[Int32]] = []
        func tableEntry(_ context: Int32, _ bytes: [UInt8]) -> Int {
            let key = TableKey(context: context, bytes: bytes)
            if let id = tableIDs[key] { return id }
            tableIDs[key] = tableKeys.count
            tableKeys.append((context, bytes)); tableLists.append([])
            return tableKeys.count - 1
        }
        // Tests are deduplicated by their bytes (``test(_:)``), never with `Set<String>`, whose
        // canonical equivalence would drop "\u{212A}" beside "K".
        func exclude(_ test: Int, _ group: Int32) {
            if !exclusions[test].contains(group) { exclusions[test].append(group) }
        }
        var rangeEntries: [(range: NumericRange, item: Int32)] = []
        var cidrEntries: [(block: CIDRBlock, item: Int32)] = []
        var groupIDs: [AnythingBut: Int32] = [:]
        var needsNumber = false

        for (matcher, pred) in entries {
            switch matcher {
            case .exactString(let s): tableLists[tableEntry(0, Array(s.utf8))].append(pred)
            case .prefix(let s, let ignoreCase): preds[test(FieldMatcher.tokens(s, ignoreCase) + [.star])].append(pred)
            case .suffix(let s, let ignoreCase): preds[test([.star] + FieldMatcher.tokens(s, ignoreCase))].append(pred)
            case .equalsIgnoreCase(let s):
                if s.utf8.allSatisfy({ $0 < 0x80 }) {
                    tableLists[tableEntry(1, s.utf8.map(FieldMatcher.asciiLower))].append(pred)
                } else {
                    preds[test(FieldMatcher.tokens(s, true))].append(pred)
                }
            case .wildcard(let w):
                let t = test(FieldMatcher.tokens(w))
                preds[t].append(pred)
                if GlobIndex.accepts(w) { globOf[t] = w }
            case .exactNumber(let x):
                numberTargets[x + 0.0, default: ([], [])].preds.append(pred)
                needsNumber = true
            case .exactNumberText(let s):
                // Looked up only for event numbers that cannot be compared by value.
                tableLists[tableEntry(2, Array(s.utf8))].append(pred)
                needsNumber = true
            case .numeric(let r):
                rangeEntries.append((r, pred))
                needsNumber = true
            case .exactBool(let b): if b { truePreds.append(pred) } else { falsePreds.append(pred) }
            case .exactNull: nullPreds.append(pred)
            case .exists: break
            case .cidr(let block): cidrEntries.append((block, pred))
            case .anythingBut(let exclusion):
                if groupIDs[exclusion] != nil { continue }
                let group = Int32(groupIsNumeric.count)
                groupIDs[exclusion] = group
                switch exclusion {
                case .numbers(let values):
                    groupIsNumeric.append(true)
                    needsNumber = true
                    for v in Set(values.map { $0 + 0.0 }) { numberTargets[v, default: ([], [])].exclusions.append(group) }
                case .strings(let values):
                    groupIsNumeric.append(false)
                    for v in values { exclude(test(StringToken.literal(Array(v.utf8))), group) }
                case .prefixes(let values):
                    groupIsNumeric.append(false)
                    for v in values { exclude(test(StringToken.literal(Array(v.utf8)) + [.star]), group) }
                case .suffixes(let values):
                    groupIsNumeric.append(false)
                    for v in values { exclude(test([.star] + StringToken.literal(Array(v.utf8))), group) }
                case .equalsIgnoreCase(let values):
                    groupIsNumeric.append(false)
                    for v in values { exclude(test(FieldMatcher.tokens(v, true)), group) }
                case .wildcards(let values):
                    groupIsNumeric.append(false)
                    for v in values {
                        let t = test(FieldMatcher.tokens(v))
                        exclude(t, group)
                        if GlobIndex.accepts(v) { globOf[t] = v }
                    }
                }
            }
        }
        var table = ByteStringTable(capacity: max(tableKeys.count, 8))
        var tablePredStart: [Int32] = [0], tablePreds: [Int32] = []
        for (k, key) in tableKeys.enumerated() {
            // A key with one predicate (the common case) holds it directly, as -(pred + 1).
            let only = tableLists[k].count == 1 ? tableLists[k][0] : nil
            table.insert(context: key.context, key.bytes, value: only.map { -($0 + 1) } ?? Int32(k))
            tablePreds.append(contentsOf: tableLists[k]); tablePredStart.append(Int32(tablePreds.count))
        }
        self.table = table
        self.tablePredStart = tablePredStart
        self.tablePreds = tablePreds
        hasExact = tableKeys.contains { $0.context == 0 }
        hasFolded = tableKeys.contains { $0.context == 1 }
        hasNumberTexts = tableKeys.contains { $0.context == 2 }
        if !GlobIndex.isWorthwhile(starCount: globOf.values.reduce(0) { $0 + $1.starCount }) { globOf = [:] }
        // Tests renumbered: the automaton's first, then the glob index's.
        let order = tests.indices.filter { globOf[$0] == nil } + tests.indices.filter { globOf[$0] != nil }
        let automatonTests = order.prefix { globOf[$0] == nil }.map { tests[$0] }
        automaton = automatonTests.isEmpty ? StringAutomaton.empty : StringAutomaton(tests: automatonTests)
        globs = globOf.isEmpty ? GlobIndex.empty
            : GlobIndex(globs: order.enumerated().compactMap { id, t in globOf[t].map { (Int32(id), $0) } })
        hasAutomatonTests = !automatonTests.isEmpty
        hasStringTests = !tests.isEmpty
        preds = order.map { preds[$0] }
        exclusions = order.map { exclusions[$0] }
        for k in tests.indices {
            testPreds.append(contentsOf: preds[k]); testPredStart.append(Int32(testPreds.count))
            testExclusions.append(contentsOf: exclusions[k]); testExclusionStart.append(Int32(testExclusions.count))
        }
        self.testPredStart = testPredStart
        self.testPreds = testPreds
        self.testExclusionStart = testExclusionStart
        self.testExclusions = testExclusions
        self.numberTargets = numberTargets
        self.truePreds = truePreds
        self.falsePreds = falsePreds
        self.nullPreds = nullPreds
        self.groupIDs = groupIDs
        self.groupIsNumeric = groupIsNumeric
        ranges = NumericIndex(rangeEntries)
        cidrs = CIDRIndex(cidrEntries)
        needsNumberValue = needsNumber
        isEmpty = entries.isEmpty
        needsIPAddress = !cidrEntries.isEmpty
    }

    var groupCount: Int { groupIsNumeric.count }

    /// How many of the field's string tests the glob index holds.
    var globTestCount: Int { globs.count }

    /// The id of the group for these exclusions (it exists for every anything-but
    /// matcher this field was built with).
    func groupID(for exclusion: AnythingBut) -> Int32 { groupIDs[exclusion] ?? -1 }

    static func tokens(_ text: String, _ ignoreCase: Bool) -> [StringToken] {
        guard ignoreCase else { return StringToken.literal(Array(text.utf8)) }
        return CaseFolding.alternatives(for: text).map { .spellings($0) }
    }

    static func tokens(_ wildcard: WildcardPattern) -> [StringToken] {
        var out: [StringToken] = []
        for (i, piece) in wildcard.pieces.enumerated() {
            if i > 0 { out.append(.star) }
            out.append(contentsOf: StringToken.literal(piece))
        }
        return out
    }

    // MARK: Evaluation

    /// Appends the predicates a string value satisfies, and the groups it is excluded from.
    @inline(__always)
    func evaluateString(_ value: UnsafeBufferPointer<UInt8>, cache: inout LazyDFA, scratch: inout FieldScratch, into out: inout [Int32]) {
        if hasExact && hasFolded {
            evaluateExactAndFolded(value, scratch: &scratch, into: &out)
        } else if hasExact {
            if let found = table.lookup(context: 0, value) { appendTablePreds(found, into: &out) }
        } else if hasFolded {
            evaluateFolded(value, scratch: &scratch, into: &out)
        }
        if hasStringTests {
            scratch.tests.clear()
            if hasAutomatonTests { automaton.match(value, cache: &cache, work: &scratch.work, limit: scratch.workLimit, into: &scratch.tests) }
            if !globs.isEmpty { globs.match(value, scratch: &scratch.globs, into: &scratch.tests) }
            for t in scratch.tests {
                let ti = Int(t)
                var k = Int(testPredStart[ti])
                while k < Int(testPredStart[ti + 1]) { out.append(testPreds[k]); k += 1 }
                k = Int(testExclusionStart[ti])
                while k < Int(testExclusionStart[ti + 1]) { scratch.exclusions.append(testExclusions[k]); k += 1 }
            }
        }
        if needsIPAddress, let address = IPAddress.parse(value) { cidrs.lookup(address, into: &out) }
    }

    @inline(__always)
    private func appendTablePreds(_ value: Int32, into out: inout [Int32]) {
        if value < 0 { out.append(-value - 1); return }
        let k = Int(value)
        var i = Int(tablePredStart[k])
        let end = Int(tablePredStart[k + 1])
        while i < end { out.append(tablePreds[i]); i += 1 }
    }

    /// Both table lookups, their slots and keys requested before either is compared: on a large
    /// table each is a cache miss or two, and misses issued together overlap.
    private func evaluateExactAndFolded(_ value: UnsafeBufferPointer<UInt8>, scratch: inout FieldScratch, into out: inout [Int32]) {
        let n = value.count
        if scratch.folded.count < n { scratch.folded = Array(repeating: 0, count: max(n, 2 * scratch.folded.count, 64)) }
        let table = self.table
        var sink: Int32 = 0
        let (exact, folded) = scratch.folded.withUnsafeMutableBufferPointer { buffer -> (Int32?, Int32?) in
            let exactHash = ByteStringTable.hash(context: 0, value)
            guard FieldMatcher.asciiLowercase(value, into: buffer.baseAddress!) else {
                return (table.lookup(context: 0, value, hash: exactHash), nil)
            }
            let lowered = UnsafeBufferPointer(rebasing: buffer[0..<n])
            let foldedHash = ByteStringTable.hash(context: 1, lowered)
            sink = table.touch(hash: exactHash) &+ table.touch(hash: foldedHash)
            return (table.lookup(context: 0, value, hash: exactHash), table.lookup(context: 1, lowered, hash: foldedHash))
        }
        scratch.sink = sink
        if let exact { appendTablePreds(exact, into: &out) }
        if let folded { appendTablePreds(folded, into: &out) }
    }

    /// ASCII equals-ignore-case: only an all-ASCII value can equal an ASCII text ignoring case.
    private func evaluateFolded(_ value: UnsafeBufferPointer<UInt8>, scratch: inout FieldScratch, into out: inout [Int32]) {
        let n = value.count
        if scratch.folded.count < n { scratch.folded = Array(repeating: 0, count: max(n, 2 * scratch.folded.count, 64)) }
        let found = scratch.folded.withUnsafeMutableBufferPointer { folded -> Int32? in
            guard FieldMatcher.asciiLowercase(value, into: folded.baseAddress!) else { return nil }
            return table.lookup(context: 1, UnsafeBufferPointer(rebasing: folded[0..<n]))
        }
        if let found { appendTablePreds(found, into: &out) }
    }

    /// Writes `value` in ASCII lower case to `out`, eight bytes at a time; false (and `out`
    /// partly written) when a byte is not ASCII.
    @inline(__always)
    static func asciiLowercase(_ value: UnsafeBufferPointer<UInt8>, into out: UnsafeMutablePointer<UInt8>) -> Bool {
        let n = value.count
        guard n > 0, let source = value.baseAddress else { return true }
        let highs: UInt64 = 0x8080_8080_8080_8080
        var i = 0
        while i &+ 8 <= n {
            let word = UnsafeRawPointer(source + i).loadUnaligned(as: UInt64.self)
            if word & highs != 0 { return false }
            // Bytes below 0x80: adding 0x3F sets a byte's high bit from 'A' up, adding 0x25 from
            // past 'Z' up, without carries between bytes.
            let upper = (word &+ 0x3F3F_3F3F_3F3F_3F3F) & ~(word &+ 0x2525_2525_2525_2525) & highs
            UnsafeMutableRawPointer(out + i).storeBytes(of: word | (upper >> 2), as: UInt64.self)
            i &+= 8
        }
        while i < n {
            let byte = source[i]
            if byte >= 0x80 { return false }
            out[i] = asciiLower(byte)
            i &+= 1
        }
        return true
    }

    @inline(__always)
    static func asciiLower(_ byte: UInt8) -> UInt8 {
        byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte
    }

    /// Appends the predicates a number value satisfies, and the groups it is excluded from.
    @inline(__always)
    func evaluateNumber(_ value: Double, text: UnsafeBufferPointer<UInt8>, scratch: inout FieldScratch, into out: inout [Int32]) {
        if value.isNaN {
            // Not comparable by value (``JSONNumber/comparableValue``): only its text can match.
            if hasNumberTexts, let found = table.lookup(context: 2, text) { appendTablePreds(found, into: &out) }
            return
        }
        if let targets = numberTargets[value + 0.0] {
            out.append(contentsOf: targets.preds)
            scratch.exclusions.append(contentsOf: targets.exclusions)
        }
        ranges.lookup(value, into: &out)
    }

    /// Appends the predicates `true`, `false` or `null` satisfies.
    @inline(__always)
    func evaluateLiteral(_ literal: ValueKind, into out: inout [Int32]) {
        switch literal {
        case .true: out.append(contentsOf: truePreds)
        case .false: out.append(contentsOf: falsePreds)
        case .null: out.append(contentsOf: nullPreds)
        case .string, .escapedString, .number: break
        }
    }
}

/// A string of the exact-value table while it is built: the table it belongs to and its bytes.
private struct TableKey: Hashable {
    var context: Int32
    var bytes: [UInt8]
}

/// Per-thread working memory for field evaluation.
struct FieldScratch {
    var tests: [Int32] = []
    var globs = GlobScratch()
    /// Anything-but groups the current value is excluded from.
    var exclusions: [Int32] = []
    /// The value folded to lower case, for ASCII equals-ignore-case lookups.
    var folded: [UInt8] = []
    /// Where early reads of table lines go (kept, so they are not optimized away).
    var sink: Int32 = 0
    /// Matching work spent on this event so far, in steps (see ``MatchScratch/maxMatchWork``); past
    /// `workLimit` the walk stops doing more and the event is refused. Kept here, where the automata
    /// count theirs, for the whole walk.
    var work = 0
    var workLimit = Int.max
}
