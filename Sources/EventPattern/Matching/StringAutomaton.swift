/// One element of a string test: a `*` (any run of bytes) or one of several byte spellings.
enum StringToken: Sendable, Hashable {
    case star
    case spellings([[UInt8]])

    static func literal(_ bytes: [UInt8]) -> [StringToken] { bytes.map { .spellings([[$0]]) } }
}

/// All string tests on one field, compiled into one deterministic automaton over UTF-8 bytes.
///
/// Exact values, prefixes, suffixes, wildcards and case-insensitive forms are all token sequences
/// (`prefix "ab"` is `a b *`), so one subset construction serves them all and a value is scanned
/// once whatever the number of tests. States that stay active forever (a leading `*`) are factored
/// out of every DFA state, which keeps many suffix tests as cheap as Aho-Corasick. If the DFA would
/// grow past a limit (many multi-star wildcards), the automaton simulates the NFA instead.
struct StringAutomaton: Sendable {
    // NFA in compressed-sparse-row form.
    private var edgeStart: [Int32] = []
    private var edgeByte: [UInt8] = []
    private var edgeTarget: [Int32] = []
    private var epsilonStart: [Int32] = []
    private var epsilonTarget: [Int32] = []
    private var loops: [Bool] = []
    private var acceptTest: [Int32] = []

    /// NFA states active in every reachable state set (closed under epsilon).
    private var base: [Int32] = []
    private var baseAccepts: [Int32] = []

    // DFA.
    private var classOf: [UInt8] = Array(repeating: 0, count: 256)
    private var classCount = 1
    private var table: [Int32] = []
    private var acceptStart: [Int32] = [0]
    private var acceptList: [Int32] = []
    private var deadState: Int32 = -1
    private(set) var isDeterministic = true
    private(set) var stateCount = 0
    private var startSet: [Int32] = []

    static let maxDFAStates = 40_000
    static let maxTableEntries = 8_000_000

    init(tests: [[StringToken]]) {
        buildNFA(tests)
        determinize()
    }

    var isEmpty: Bool { acceptTest.isEmpty }

    // MARK: Matching

    /// Appends the ids of the tests `value` satisfies.
    @inline(__always)
    func match(_ value: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) {
        guard isDeterministic else { return simulate(value, into: &out) }
        var state: Int32 = 0
        let classes = classCount
        let dead = deadState
        table.withUnsafeBufferPointer { t in
            classOf.withUnsafeBufferPointer { cls in
                for b in value {
                    state = t[Int(state) &* classes &+ Int(cls[Int(b)])]
                    if state == dead { return }
                }
            }
        }
        if state == dead { return }
        let s = Int(state)
        var k = Int(acceptStart[s])
        let end = Int(acceptStart[s + 1])
        while k < end {
            out.append(acceptList[k])
            k += 1
        }
    }

    // MARK: Construction

    private mutating func buildNFA(_ tests: [[StringToken]]) {
        var edges: [[(UInt8, Int32)]] = [[]]
        var epsilons: [[Int32]] = [[]]
        var loopFlags: [Bool] = [false]
        var accepts: [Int32] = [-1]
        func newState() -> Int32 {
            edges.append([]); epsilons.append([]); loopFlags.append(false); accepts.append(-1)
            return Int32(edges.count - 1)
        }
        for (testID, tokens) in tests.enumerated() {
            var current = newState()
            epsilons[0].append(current)
            for token in tokens {
                switch token {
                case .star:
                    let q = newState()
                    loopFlags[Int(q)] = true
                    epsilons[Int(current)].append(q)
                    current = q
                case .spellings(let options):
                    let join = newState()
                    for option in options {
                        if option.isEmpty { epsilons[Int(current)].append(join); continue }
                        var from = current
                        for (k, byte) in option.enumerated() {
                            let to = k == option.count - 1 ? join : newState()
                            edges[Int(from)].append((byte, to))
                            from = to
                        }
                    }
                    current = join
                }
            }
            accepts[Int(current)] = Int32(testID)
        }
        edgeStart = [0]; epsilonStart = [0]
        for s in 0..<edges.count {
            for (b, t) in edges[s] { edgeByte.append(b); edgeTarget.append(t) }
            edgeStart.append(Int32(edgeByte.count))
            epsilonTarget.append(contentsOf: epsilons[s])
            epsilonStart.append(Int32(epsilonTarget.count))
        }
        loops = loopFlags
        acceptTest = accepts
    }

    private func closure(_ seeds: [Int32], marks: inout [UInt32], epoch: UInt32) -> [Int32] {
        var out: [Int32] = []
        var stack = seeds
        while let s = stack.popLast() {
            if marks[Int(s)] == epoch { continue }
            marks[Int(s)] = epoch
            out.append(s)
            for k in Int(epsilonStart[Int(s)])..<Int(epsilonStart[Int(s) + 1]) { stack.append(epsilonTarget[k]) }
        }
        return out
    }

    /// States reached from `set` on a byte of class `cls` (whose representative is `byte`), before closure.
    private func step(_ set: [Int32], byte: UInt8?, into out: inout [Int32]) {
        for s in set {
            if loops[Int(s)] { out.append(s) }
            guard let byte else { continue }
            for k in Int(edgeStart[Int(s)])..<Int(edgeStart[Int(s) + 1]) where edgeByte[k] == byte { out.append(edgeTarget[k]) }
        }
    }

    private func accepts(of set: [Int32]) -> [Int32] {
        var out: [Int32] = []
        for s in set where acceptTest[Int(s)] >= 0 { out.append(acceptTest[Int(s)]) }
        return out
    }

    private mutating func determinize() {
        let stateTotal = loops.count
        var marks = [UInt32](repeating: 0, count: stateTotal)
        var epoch: UInt32 = 1
        var baseMember = [Bool](repeating: false, count: stateTotal)

        let start = closure([0], marks: &marks, epoch: epoch); epoch += 1
        base = closure(start.filter { loops[Int($0)] }, marks: &marks, epoch: epoch).sorted(); epoch += 1
        for s in base { baseMember[Int(s)] = true }
        baseAccepts = accepts(of: base)

        // Byte classes: every byte on some edge gets its own class; all others share class 0.
        var representatives: [UInt8?] = [nil]
        for b in Set(edgeByte).sorted() {
            classOf[Int(b)] = UInt8(truncatingIfNeeded: representatives.count)
            representatives.append(b)
        }
        classCount = representatives.count
        if classCount > 255 {
            // Every byte value is in use; classes are then the bytes themselves.
            representatives = (0...255).map { UInt8($0) }
            for b in 0...255 { classOf[b] = UInt8(b) }
            classCount = 256
        }

        func explicitPart(_ set: [Int32]) -> [Int32] { set.filter { !baseMember[Int($0)] }.sorted() }
        // What the base set contributes on each class, closed and without the base itself.
        var baseStep: [[Int32]] = []
        for cls in 0..<classCount {
            var raw: [Int32] = []
            step(base, byte: representatives[cls], into: &raw)
            baseStep.append(explicitPart(closure(raw, marks: &marks, epoch: epoch))); epoch += 1
        }

        startSet = explicitPart(start)
        var ids: [[Int32]: Int32] = [startSet: 0]
        var sets: [[Int32]] = [startSet]
        var pending: [Int32] = [0]
        var transitions: [Int32] = []
        var next = 0
        while next < sets.count {
            if sets.count > StringAutomaton.maxDFAStates || sets.count * classCount > StringAutomaton.maxTableEntries {
                isDeterministic = false
                table = []
                return
            }
            let current = sets[next]
            next += 1
            for cls in 0..<classCount {
                var raw: [Int32] = []
                step(current, byte: representatives[cls], into: &raw)
                var target = closure(raw, marks: &marks, epoch: epoch); epoch += 1
                target.append(contentsOf: baseStep[cls])
                let key = Array(Set(target.filter { !baseMember[Int($0)] })).sorted()
                if let id = ids[key] {
                    transitions.append(id)
                } else {
                    let id = Int32(sets.count)
                    ids[key] = id
                    sets.append(key)
                    pending.append(id)
                    transitions.append(id)
                }
            }
        }
        table = transitions
        stateCount = sets.count
        for set in sets {
            let accepted = Array(Set(accepts(of: set) + baseAccepts)).sorted()
            acceptList.append(contentsOf: accepted)
            acceptStart.append(Int32(acceptList.count))
        }
        if base.isEmpty, let dead = ids[[]] { deadState = dead }
    }

    // MARK: NFA simulation (fallback)

    private func simulate(_ value: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) {
        var marks = [UInt32](repeating: 0, count: loops.count)
        var epoch: UInt32 = 1
        var current = closure([0], marks: &marks, epoch: epoch)
        for b in value {
            epoch += 1
            var raw: [Int32] = []
            for s in current {
                if loops[Int(s)] { raw.append(s) }
                for k in Int(edgeStart[Int(s)])..<Int(edgeStart[Int(s) + 1]) where edgeByte[k] == b { raw.append(edgeTarget[k]) }
            }
            current = closure(raw, marks: &marks, epoch: epoch)
            if current.isEmpty { return }
        }
        var seen = Set<Int32>()
        for s in current where acceptTest[Int(s)] >= 0 && seen.insert(acceptTest[Int(s)]).inserted { out.append(acceptTest[Int(s)]) }
    }
}
