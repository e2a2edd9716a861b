/// The wildcard tests of one field that have a piece between two stars (`*word*`, `arn:*:role/*`),
/// found through one such piece of each: a substring of every value the test matches.
///
/// In the field's ``StringAutomaton`` such a test keeps a state active for every star it has
/// passed, so the state sets that values reach differ from value to value and nearly every byte
/// builds a new DFA state: 1,000 `*w1*w2*` tests cost about 1 ms per 300-byte value, ten times
/// more with every ten times the tests. Here one Aho-Corasick pass over the value finds which of
/// the tests' pieces it contains; each test is listed under one of its pieces (its key, the piece
/// the fewest tests share), and only the tests whose key occurs, and then only those whose every
/// piece occurs, are checked, each by a greedy left-to-right match: the others cost nothing.
struct GlobIndex: Sendable {
    /// The test id each glob reports.
    private let globTest: [Int32]
    /// Each glob's pieces: their bytes concatenated from `textStart[g]`, their lengths from
    /// `pieceStart[g]` (the first piece a prefix, the last a suffix, either possibly empty).
    private let text: [UInt8]
    private let textStart: [Int32]
    private let pieceLengths: [Int32]
    private let pieceStart: [Int32]
    /// The globs keyed by each piece (every non-empty piece of some glob is a key of the
    /// automaton; a glob is listed under one of its own).
    private let keyGlobStart: [Int32]
    private let keyGlobs: [Int32]
    /// Each glob's non-empty pieces, as keys, from `globKeyStart[g]`.
    private let globKeyStart: [Int32]
    private let globKeys: [Int32]
    /// Aho-Corasick over the key pieces, as a full transition table over byte classes (bytes no
    /// key holds share class 0) when it fits ``maxDenseEntries``; else the root's transitions for
    /// every byte, sorted sparse edges below it and failure links. Per state, the key ending
    /// there (-1 for none), the nearest state on its failure chain where a key ends (-1 for none),
    /// and the first of the two.
    private let classOf: [UInt8]
    private let classCount: Int
    private let dense: [Int32]
    private let rootNext: [Int32]
    private let edgeStart: [Int32]
    private let edgeByte: [UInt8]
    private let edgeTarget: [Int32]
    private let failure: [Int32]
    private let stateKey: [Int32]
    private let outputLink: [Int32]
    private let firstOutput: [Int32]

    /// The largest full transition table built (4 bytes an entry); past it the sparse form is used.
    static let maxDenseEntries = 1 << 21

    /// The index of no tests.
    static let empty = GlobIndex(globs: [])

    var isEmpty: Bool { globTest.isEmpty }
    var count: Int { globTest.count }
    var keyCount: Int { keyGlobStart.count - 1 }

    /// Whether tests of `pattern` may go here: two stars or more, so a piece between them.
    static func accepts(_ pattern: WildcardPattern) -> Bool { pattern.pieces.count >= 3 }

    /// Whether a field's tests that ``accepts(_:)`` are better off here than in its automaton,
    /// given their stars: a few (the automaton's state sets stay small, and a warm DFA costs one
    /// lookup a byte) stay there; past 16 stars the sets that values reach multiply.
    static func isWorthwhile(starCount: Int) -> Bool { starCount > 16 }

    /// `globs`: each test id with its pattern, which ``accepts(_:)``; `denseLimit` bounds the full
    /// transition table (0 forces the sparse form, for tests).
    init(globs: [(test: Int32, pattern: WildcardPattern)], denseLimit: Int = GlobIndex.maxDenseEntries) {
        var globTest: [Int32] = [], text: [UInt8] = [], textStart: [Int32] = [0]
        var pieceLengths: [Int32] = [], pieceStart: [Int32] = [0]
        var keyIDs: [[UInt8]: Int32] = [:], keys: [[UInt8]] = [], keyLists: [[Int32]] = []
        var globKeyStart: [Int32] = [0], globKeys: [Int32] = []
        func keyID(_ piece: [UInt8]) -> Int32 {
            if let id = keyIDs[piece] { return id }
            keyIDs[piece] = Int32(keys.count)
            keys.append(piece)
            keyLists.append([])
            return Int32(keys.count - 1)
        }
        // How many tests hold each piece between stars: a piece many tests share ("Describe" in
        // `*Describe*Key2*`) is likely in many values too, so each test is keyed by its least
        // shared piece (the longer on a tie).
        var sharing: [[UInt8]: Int] = [:]
        // Every piece a matching value holds somewhere: those between stars, and the first and last
        // when not empty (a prefix or suffix is held too: `arn:*:*:user/alice` is found by its end).
        func held(_ pattern: WildcardPattern) -> Set<[UInt8]> { Set(pattern.pieces.filter { !$0.isEmpty }) }
        for (_, pattern) in globs {
            for piece in held(pattern) { sharing[piece, default: 0] += 1 }
        }
        for (test, pattern) in globs {
            let g = Int32(globTest.count)
            globTest.append(test)
            for piece in pattern.pieces {
                text.append(contentsOf: piece)
                pieceLengths.append(Int32(piece.count))
            }
            textStart.append(Int32(text.count))
            pieceStart.append(Int32(pieceLengths.count))
            // Never empty: the pieces between stars are not (`**` is not a valid wildcard).
            let pieces = held(pattern)
            let key = pieces.min { a, b in
                let (sa, sb) = (sharing[a] ?? 0, sharing[b] ?? 0)
                return sa != sb ? sa < sb : a.count > b.count
            } ?? []
            for piece in pieces { globKeys.append(keyID(piece)) }
            globKeyStart.append(Int32(globKeys.count))
            keyLists[Int(keyID(key))].append(g)
        }
        self.globKeyStart = globKeyStart
        self.globKeys = globKeys
        self.globTest = globTest
        self.text = text
        self.textStart = textStart
        self.pieceLengths = pieceLengths
        self.pieceStart = pieceStart
        var keyGlobStart: [Int32] = [0], keyGlobs: [Int32] = []
        for list in keyLists {
            keyGlobs.append(contentsOf: list)
            keyGlobStart.append(Int32(keyGlobs.count))
        }
        self.keyGlobStart = keyGlobStart
        self.keyGlobs = keyGlobs

        // The trie of the keys.
        var children: [[UInt8: Int32]] = [[:]]
        var stateKey: [Int32] = [-1]
        for (id, key) in keys.enumerated() {
            var state: Int32 = 0
            for byte in key {
                if let next = children[Int(state)][byte] {
                    state = next
                } else {
                    let next = Int32(children.count)
                    children.append([:])
                    stateKey.append(-1)
                    children[Int(state)][byte] = next
                    state = next
                }
            }
            stateKey[Int(state)] = Int32(id)
        }
        // Failure and output links, breadth first (a state's links come from shallower states).
        var failure = [Int32](repeating: 0, count: children.count)
        var outputLink = [Int32](repeating: -1, count: children.count)
        var queue: [Int32] = children[0].keys.sorted().map { children[0][$0]! }
        var head = 0
        while head < queue.count {
            let state = queue[head]
            head += 1
            for byte in children[Int(state)].keys.sorted() {
                let child = children[Int(state)][byte]!
                var f = failure[Int(state)]
                while f != 0 && children[Int(f)][byte] == nil { f = failure[Int(f)] }
                let target = children[Int(f)][byte] ?? 0
                failure[Int(child)] = target == child ? 0 : target
                let link = failure[Int(child)]
                outputLink[Int(child)] = stateKey[Int(link)] >= 0 ? link : outputLink[Int(link)]
                queue.append(child)
            }
        }
        var firstOutput = [Int32](repeating: -1, count: children.count)
        for state in children.indices { firstOutput[state] = stateKey[state] >= 0 ? Int32(state) : outputLink[state] }
        // The full table, filled breadth first: a state's missing transitions are its failure state's.
        var classOf = [UInt8](repeating: 0, count: 256)
        var classCount = 1
        for key in keys { for byte in key where classOf[Int(byte)] == 0 { classOf[Int(byte)] = UInt8(truncatingIfNeeded: classCount); classCount += 1 } }
        var dense: [Int32] = []
        if classCount <= 256 && children.count * classCount <= denseLimit {
            dense = [Int32](repeating: 0, count: children.count * classCount)
            for (byte, child) in children[0] { dense[Int(classOf[Int(byte)])] = child }
            for state in queue {
                let s = Int(state), f = Int(failure[s])
                for c in 0..<classCount { dense[s * classCount + c] = dense[f * classCount + c] }
                for (byte, child) in children[s] { dense[s * classCount + Int(classOf[Int(byte)])] = child }
            }
        }
        // The sparse form, only when the full table is too large.
        var rootNext: [Int32] = [], edgeStart: [Int32] = [0], edgeByte: [UInt8] = [], edgeTarget: [Int32] = []
        if dense.isEmpty {
            rootNext = [Int32](repeating: 0, count: 256)
            for (byte, child) in children[0] { rootNext[Int(byte)] = child }
            for state in children.indices {
                for byte in children[state].keys.sorted() {
                    edgeByte.append(byte)
                    edgeTarget.append(children[state][byte]!)
                }
                edgeStart.append(Int32(edgeByte.count))
            }
        }
        self.classOf = classOf
        self.classCount = classCount
        self.dense = dense
        self.firstOutput = firstOutput
        self.rootNext = rootNext
        self.edgeStart = edgeStart
        self.edgeByte = edgeByte
        self.edgeTarget = edgeTarget
        self.failure = failure
        self.stateKey = stateKey
        self.outputLink = outputLink
    }

    /// Appends the test ids of the globs `value` matches (each once).
    func match(_ value: UnsafeBufferPointer<UInt8>, scratch: inout GlobScratch, into out: inout [Int32]) {
        scratch.begin(keyCount: keyCount)
        var state: Int32 = 0
        if !dense.isEmpty {
            dense.withUnsafeBufferPointer { table in
                firstOutput.withUnsafeBufferPointer { firstOutput in
                    let classes = classCount
                    for byte in value {
                        state = table[Int(state) &* classes &+ Int(classOf[Int(byte)])]
                        let o = firstOutput[Int(state)]
                        if o >= 0 { note(outputsFrom: o, scratch: &scratch) }
                    }
                }
            }
        } else {
            for byte in value {
                state = next(state, byte)
                let o = firstOutput[Int(state)]
                if o >= 0 { note(outputsFrom: o, scratch: &scratch) }
            }
        }
        if scratch.found.isEmpty { return }
        text.withUnsafeBufferPointer { text in
            pieceLengths.withUnsafeBufferPointer { lengths in
                for key in scratch.found {
                    candidates: for k in Int(keyGlobStart[Int(key)])..<Int(keyGlobStart[Int(key) + 1]) {
                        let g = Int(keyGlobs[k])
                        for j in Int(globKeyStart[g])..<Int(globKeyStart[g + 1]) where scratch.stamps[Int(globKeys[j])] != scratch.epoch {
                            continue candidates
                        }
                        let glob = UnsafeBufferPointer(rebasing: text[Int(textStart[g])..<Int(textStart[g + 1])])
                        let pieces = UnsafeBufferPointer(rebasing: lengths[Int(pieceStart[g])..<Int(pieceStart[g + 1])])
                        if EventWalker.wildcard(value, text: glob, pieces: pieces) { out.append(globTest[g]) }
                    }
                }
            }
        }
    }

    /// Notes the keys ending at state `first` and along its output links.
    private func note(outputsFrom first: Int32, scratch: inout GlobScratch) {
        var o = first
        while o >= 0 {
            let key = Int(stateKey[Int(o)])
            if scratch.stamps[key] != scratch.epoch {
                scratch.stamps[key] = scratch.epoch
                scratch.found.append(Int32(key))
            }
            o = outputLink[Int(o)]
        }
    }

    /// The Aho-Corasick transition from `state` on `byte`, in the sparse form.
    @inline(__always)
    private func next(_ state: Int32, _ byte: UInt8) -> Int32 {
        var s = state
        while s != 0 {
            var k = Int(edgeStart[Int(s)])
            let end = Int(edgeStart[Int(s) + 1])
            while k < end {
                let b = edgeByte[k]
                if b == byte { return edgeTarget[k] }
                if b > byte { break }
                k += 1
            }
            s = failure[Int(s)]
        }
        return rootNext[Int(byte)]
    }
}

/// Per-thread scratch for ``GlobIndex/match(_:scratch:into:)``: which keys the current value holds.
struct GlobScratch {
    var stamps: [UInt32] = []
    var epoch: UInt32 = 0
    var found: [Int32] = []

    @inline(__always)
    mutating func begin(keyCount: Int) {
        epoch &+= 1
        if epoch == 0 {
            for i in stamps.indices { stamps[i] = 0 }
            epoch = 1
        }
        if stamps.count < keyCount { stamps.append(contentsOf: repeatElement(0, count: keyCount - stamps.count)) }
        found.clear()
    }
}
