/// One element of a string test: a `*` (any run of bytes) or one of several byte spellings.
enum StringToken: Sendable, Hashable {
    case star
    case spellings([[UInt8]])

    static func literal(_ bytes: [UInt8]) -> [StringToken] { bytes.map { .spellings([[$0]]) } }
}

/// All string tests on one field as one automaton over UTF-8 bytes.
///
/// Exact values, prefixes, suffixes, wildcards and case-insensitive forms are all token sequences
/// (`prefix "ab"` is `a b *`), compiled into one NFA. Matching runs it as a DFA built lazily, state
/// by state, in a per-thread ``LazyDFA`` cache: only the states real values reach are ever built,
/// so compiling is linear in the tests and a value costs one table lookup per byte once warm.
/// States that stay active forever (a leading `*`) are factored out of every DFA state, which keeps
/// many suffix tests as cheap as Aho-Corasick.
struct StringAutomaton: Sendable {
    // NFA in compressed-sparse-row form.
    private var edgeStart: [Int32] = []
    private var edgeByte: [UInt8] = []
    private var edgeTarget: [Int32] = []
    private var epsilonStart: [Int32] = []
    private var epsilonTarget: [Int32] = []
    private var loops: [Bool] = []
    private var acceptTest: [Int32] = []
    /// The test each NFA state belongs to (-1 for the shared start state). A test's states are
    /// numbered in the order of its tokens, which ``explicitPart(_:)`` relies on.
    private var stateTest: [Int32] = []

    /// NFA states active in every reachable state set (closed under epsilon).
    private var baseMember: [Bool] = []
    private var baseAccepts: [Int32] = []
    private(set) var classOf: [UInt8] = Array(repeating: 0, count: 256)
    private(set) var classCount = 1
    private var representatives: [UInt8?] = [nil]
    /// What the base set contributes on each byte class (closed, without the base itself).
    private var baseStep: [[Int32]] = []
    /// The start state's explicit NFA states (the DFA start state).
    private(set) var startSet: [Int32] = []
    /// True when no test can ever match after the current state empties (no leading-star tests).
    private(set) var baseIsEmpty = true

    /// The automaton of no tests, built once (fields with only exact values need none).
    static let empty = StringAutomaton(tests: [])

    init(tests: [[StringToken]]) {
        buildNFA(tests)
        prepare()
    }

    var isEmpty: Bool { acceptTest.allSatisfy { $0 < 0 } }

    // MARK: Matching

    /// Matching work (``MatchScratch/maxMatchWork`` steps) one NFA state visited counts for: its
    /// closure is built through a hash set, some fifty times a simple comparison.
    static let stateWork = 64

    /// Appends the ids of the tests `value` satisfies, building DFA states in `cache` as needed.
    ///
    /// `work` counts the NFA states visited building states and simulating after an overflow;
    /// past `limit` the value is given up (the caller refuses the event).
    @inline(__always)
    func match(_ value: UnsafeBufferPointer<UInt8>, cache: inout LazyDFA, work: inout Int, limit: Int = .max, into out: inout [Int32]) {
        if cache.classCount == 0 { cache.reset(for: self) }
        var state: Int32 = 0
        let classes = cache.classCount
        for b in value {
            let cls = Int(classOf[Int(b)])
            var next = cache.table[Int(state) &* classes &+ cls]
            if next < 0 {
                next = cache.addTransition(from: state, class: cls, automaton: self, work: &work)
                if next < 0 {
                    // The cache overflowed and was flushed: finish this value by NFA simulation.
                    return simulate(value, work: &work, limit: limit, into: &out)
                }
                if work > limit { return }
            }
            state = next
            if state == cache.deadState { return }
        }
        let s = Int(state)
        var k = Int(cache.acceptStart[s])
        let end = Int(cache.acceptStart[s + 1])
        while k < end {
            out.append(cache.acceptList[k])
            k += 1
        }
    }

    // MARK: Construction

    private mutating func buildNFA(_ tests: [[StringToken]]) {
        // Edges and epsilons are collected as flat pairs, then laid out per state: one allocation
        // per table instead of two per state (a one-pattern machine builds a few automata per line
        // of `test-pattern --batch`, where small allocations were most of the cost).
        var edgeFrom: [Int32] = [], bytes: [UInt8] = [], edgeTo: [Int32] = []
        var epsilonFrom: [Int32] = [], epsilonTo: [Int32] = []
        var loopFlags: [Bool] = [false]
        var accepts: [Int32] = [-1]
        var owners: [Int32] = [-1]
        var owner: Int32 = -1
        func newState() -> Int32 {
            loopFlags.append(false); accepts.append(-1); owners.append(owner)
            return Int32(loopFlags.count - 1)
        }
        for (testID, tokens) in tests.enumerated() {
            owner = Int32(testID)
            var current = newState()
            epsilonFrom.append(0); epsilonTo.append(current)
            for token in tokens {
                switch token {
                case .star:
                    let q = newState()
                    loopFlags[Int(q)] = true
                    epsilonFrom.append(current); epsilonTo.append(q)
                    current = q
                case .spellings(let options):
                    let join = newState()
                    for option in options {
                        if option.isEmpty { epsilonFrom.append(current); epsilonTo.append(join); continue }
                        var from = current
                        for (k, byte) in option.enumerated() {
                            let to = k == option.count - 1 ? join : newState()
                            edgeFrom.append(from); bytes.append(byte); edgeTo.append(to)
                            from = to
                        }
                    }
                    current = join
                }
            }
            accepts[Int(current)] = Int32(testID)
        }
        let stateCount = loopFlags.count
        // Counting sort by source state, keeping each state's edges in insertion order.
        func layout(_ from: [Int32], into start: inout [Int32]) -> [Int] {
            var count = Array(repeating: Int32(0), count: stateCount + 1)
            for f in from { count[Int(f) + 1] += 1 }
            for s in 0..<stateCount { count[s + 1] += count[s] }
            start = count
            var next = count
            var order = Array(repeating: 0, count: from.count)
            for (k, f) in from.enumerated() {
                order[Int(next[Int(f)])] = k
                next[Int(f)] += 1
            }
            return order
        }
        let edgeOrder = layout(edgeFrom, into: &edgeStart)
        edgeByte = edgeOrder.map { bytes[$0] }
        edgeTarget = edgeOrder.map { edgeTo[$0] }
        epsilonTarget = layout(epsilonFrom, into: &epsilonStart).map { epsilonTo[$0] }
        loops = loopFlags
        acceptTest = accepts
        stateTest = owners
    }

    /// `seeds` and every state reachable from them by epsilon moves, each once.
    func closure(_ seeds: [Int32]) -> [Int32] {
        var out: [Int32] = []
        var stack = seeds
        // Small sets (nearly all of them) are checked by scanning; a set only past that size.
        var seen: Set<Int32>? = nil
        while let s = stack.popLast() {
            if seen == nil {
                if out.contains(s) { continue }
                if out.count == 32 { seen = Set(out) }
            }
            if seen != nil, !seen!.insert(s).inserted { continue }
            out.append(s)
            for k in Int(epsilonStart[Int(s)])..<Int(epsilonStart[Int(s) + 1]) { stack.append(epsilonTarget[k]) }
        }
        return out
    }

    /// States reached from `set` on a byte (nil: a byte no edge uses), before closure.
    private func step(_ set: [Int32], byte: UInt8?, into out: inout [Int32]) {
        for s in set {
            if loops[Int(s)] { out.append(s) }
            guard let byte else { continue }
            for k in Int(edgeStart[Int(s)])..<Int(edgeStart[Int(s) + 1]) where edgeByte[k] == byte { out.append(edgeTarget[k]) }
        }
    }

    private mutating func prepare() {
        baseMember = Array(repeating: false, count: loops.count)
        let start = closure([0])
        let base = closure(start.filter { loops[Int($0)] })
        for s in base { baseMember[Int(s)] = true }
        baseIsEmpty = base.isEmpty
        baseAccepts = base.compactMap { acceptTest[Int($0)] >= 0 ? acceptTest[Int($0)] : nil }
        var used = Array(repeating: false, count: 256)
        for b in edgeByte { used[Int(b)] = true }
        for b in 0..<256 where used[b] {
            classOf[b] = UInt8(truncatingIfNeeded: representatives.count)
            representatives.append(UInt8(b))
        }
        if representatives.count > 255 {
            representatives = (0...255).map { UInt8($0) }
            for b in 0...255 { classOf[b] = UInt8(b) }
        }
        classCount = representatives.count
        baseStep.reserveCapacity(classCount)
        for cls in 0..<classCount {
            if base.isEmpty { baseStep.append([]); continue }
            var raw: [Int32] = []
            step(base, byte: representatives[cls], into: &raw)
            baseStep.append(explicitPart(closure(raw)))
        }
        startSet = explicitPart(start)
    }

    /// The states of `set` outside the base set that can still matter, sorted, each once: a DFA
    /// state's identity.
    ///
    /// A test's state after one of its `*` makes every earlier state of the same test redundant: a
    /// rest of the value that completes the test from an earlier position holds the pieces after
    /// that `*` in order, so it completes it from the `*` too. Dropping them keeps a test to its
    /// furthest `*` and the piece in progress after it; without that, many multi-`*` wildcards on
    /// one field made sets of thousands of states and DFA caches of hundreds of megabytes.
    private func explicitPart(_ set: [Int32]) -> [Int32] {
        var out = set.filter { !baseMember[Int($0)] }
        out.sort()
        // Walked from the highest state down: a test's states come in token order, so once one of
        // its loops is kept, the rest of that test's states are earlier ones.
        var kept = out.count
        var test: Int32 = -2
        var afterLoop = false
        var k = out.count - 1
        while k >= 0 {
            let state = out[k]
            k -= 1
            if kept < out.count && out[kept] == state { continue }   // a duplicate
            let owner = stateTest[Int(state)]
            if owner != test { test = owner; afterLoop = false }
            if afterLoop { continue }
            kept -= 1
            out[kept] = state
            if loops[Int(state)] { afterLoop = true }
        }
        return Array(out[kept...])
    }

    /// The explicit state set reached from `set` on byte class `cls`.
    func transition(from set: [Int32], class cls: Int) -> [Int32] {
        var raw: [Int32] = []
        step(set, byte: representatives[cls], into: &raw)
        var target = closure(raw)
        target.append(contentsOf: baseStep[cls])
        return explicitPart(target)
    }

    /// The tests accepted when a value ends in `set` (plus those the base set accepts).
    func accepts(of set: [Int32]) -> [Int32] {
        var out = Set(baseAccepts)
        for s in set where acceptTest[Int(s)] >= 0 { out.insert(acceptTest[Int(s)]) }
        return out.sorted()
    }

    // MARK: NFA simulation (cache overflow)

    private func simulate(_ value: UnsafeBufferPointer<UInt8>, work: inout Int, limit: Int, into out: inout [Int32]) {
        var current = startSet
        for b in value {
            current = transition(from: current, class: Int(classOf[Int(b)]))
            if current.isEmpty && baseIsEmpty { return }
            work &+= StringAutomaton.stateWork &* (current.count &+ 1)
            if work > limit { return }
        }
        out.append(contentsOf: accepts(of: current))
    }
}

/// A per-thread, lazily built DFA for one ``StringAutomaton``: the states real values reached.
///
/// Bounded: past ``maxStates`` states or ``maxBytes`` bytes the cache is flushed (the value being matched
/// finishes by NFA simulation), so memory stays fixed whatever the tests and values.
struct LazyDFA {
    static let maxStates = 20_000
    /// The most memory the cache may hold, roughly (its states' sets, transition rows and accepted
    /// tests): a few states of very large sets are bounded too, not only many states.
    static let defaultMaxBytes = 16 << 20
    /// This cache's bound (``defaultMaxBytes``; smaller in tests).
    var maxBytes = LazyDFA.defaultMaxBytes
    /// The memory the cache holds now, by the same reckoning.
    private(set) var storedBytes = 0
    /// The most NFA states one cached state has held since the cache was made.
    private(set) var largestSet = 0

    var classCount = 0
    var table: [Int32] = []
    var acceptStart: [Int32] = []
    var acceptList: [Int32] = []
    var deadState: Int32 = -1
    private var sets: [[Int32]] = []
    private var ids: [[Int32]: Int32] = [:]

    mutating func reset(for automaton: StringAutomaton) {
        classCount = automaton.classCount
        table = []
        acceptStart = [0]
        acceptList = []
        sets = []
        ids = [:]
        storedBytes = 0
        deadState = -1
        _ = addState(automaton.startSet, automaton: automaton)
        if automaton.baseIsEmpty { deadState = addState([], automaton: automaton) }
    }

    private mutating func addState(_ set: [Int32], automaton: StringAutomaton) -> Int32 {
        if let id = ids[set] { return id }
        let id = Int32(sets.count)
        ids[set] = id
        sets.append(set)
        table.append(contentsOf: repeatElement(-1, count: classCount))
        let accepted = automaton.accepts(of: set)
        acceptList.append(contentsOf: accepted)
        acceptStart.append(Int32(acceptList.count))
        // The set is held once (the array and the dictionary key share it), plus their headers.
        storedBytes += 4 * (set.count + classCount + accepted.count + 1) + 96
        largestSet = max(largestSet, set.count)
        if set.isEmpty && automaton.baseIsEmpty {
            // The dead state loops to itself.
            for c in 0..<classCount { table[Int(id) * classCount + c] = id }
        }
        return id
    }

    /// Builds (or finds) the state after `state` on `cls`; -1 when the cache had to be flushed.
    mutating func addTransition(from state: Int32, class cls: Int, automaton: StringAutomaton, work: inout Int) -> Int32 {
        if sets.count >= LazyDFA.maxStates || storedBytes >= maxBytes {
            reset(for: automaton)
            return -1
        }
        work &+= StringAutomaton.stateWork &* (sets[Int(state)].count &+ 1)
        let target = addState(automaton.transition(from: sets[Int(state)], class: cls), automaton: automaton)
        table[Int(state) * classCount + cls] = target
        return target
    }
}
