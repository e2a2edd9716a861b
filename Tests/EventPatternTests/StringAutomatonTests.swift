import Testing
import SeededRandom
@testable import EventPattern

/// Many multi-`*` wildcards on one field: the shared automaton's lazy DFA must give the verdicts of a
/// plain glob matcher while its states stay small and its memory bounded (fuzz.md F1: 300 such
/// wildcards held 217 MB per matching thread and ran 7 values a second).
@Suite("String automaton: many multi-star wildcards on one field")
struct StringAutomatonTests {
    /// Whether `value` matches the glob whose pieces, separated by `*`, are `pieces` (the first
    /// anchored at the start, the last at the end): the definition, by memoized search.
    static func globMatches(_ value: [UInt8], _ pieces: [[UInt8]]) -> Bool {
        var memo: [Int: Bool] = [:]
        func from(_ piece: Int, _ at: Int) -> Bool {
            let key = piece * (value.count + 1) + at
            if let known = memo[key] { return known }
            let p = pieces[piece]
            var result = false
            if piece == 0 {
                result = value.count >= p.count && Array(value[0..<p.count]) == p
                    && (pieces.count == 1 ? value.count == p.count : from(1, p.count))
            } else if piece == pieces.count - 1 {
                result = value.count - at >= p.count && Array(value[(value.count - p.count)...]) == p
            } else {
                var i = at
                while !result && i + p.count <= value.count {
                    if Array(value[i..<(i + p.count)]) == p { result = from(piece + 1, i + p.count) }
                    i += 1
                }
            }
            memo[key] = result
            return result
        }
        return from(0, 0)
    }

    /// `count` wildcards `*p1*p2*…*p10*q` (pieces of one or two letters of `a`–`h`, as in the
    /// report) and `values` random values of `length` letters, from a fixed seed.
    static func workload(count: Int, values: Int, length: Int) -> (globs: [[[UInt8]]], automaton: StringAutomaton, values: [[UInt8]]) {
        var random = SplitMix64(seed: 20261127)
        let alphabet = Array("abcdefgh".utf8)
        func letters(_ n: Int) -> [UInt8] { (0..<n).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] } }
        let globs: [[[UInt8]]] = (0..<count).map { _ in
            [[]] + (0..<10).map { _ in letters(1 + Int(random.next() % 2)) } + [letters(1)]
        }
        let automaton = StringAutomaton(tests: globs.map { pieces in
            var tokens: [StringToken] = StringToken.literal(pieces[0])
            for piece in pieces.dropFirst() { tokens += [.star] + StringToken.literal(piece) }
            return tokens
        })
        return (globs, automaton, (0..<values).map { _ in letters(length) })
    }

    /// The values' verdicts that differ from the glob matcher's.
    static func disagreements(_ work: (globs: [[[UInt8]]], automaton: StringAutomaton, values: [[UInt8]]), cache: inout LazyDFA) -> Int {
        var count = 0
        for value in work.values {
            var found: [Int32] = []
            var spent = 0
            value.withUnsafeBufferPointer { work.automaton.match($0, cache: &cache, work: &spent, into: &found) }
            let expected = work.globs.indices.filter { globMatches(value, work.globs[$0]) }.map(Int32.init)
            if Set(found) != Set(expected) { count += 1 }
        }
        return count
    }

    @Test("a test keeps only its furthest star and the piece after it: states stay small, verdicts those of a glob matcher")
    func statesStaySmall() {
        let work = Self.workload(count: 120, values: 25, length: 80)
        var cache = LazyDFA()
        #expect(Self.disagreements(work, cache: &cache) == 0)
        // At most the furthest `*` and the (up to two-letter) piece in progress after it, per test.
        #expect(cache.largestSet <= 3 * work.globs.count, "largest state: \(cache.largestSet) NFA states for \(work.globs.count) tests")
    }

    @Test("past its byte budget the cache starts over, the value in progress finished by simulation: verdicts unchanged, memory bounded")
    func memoryStaysBounded() {
        let work = Self.workload(count: 120, values: 25, length: 80)
        var cache = LazyDFA()
        cache.maxBytes = 64 << 10
        #expect(Self.disagreements(work, cache: &cache) == 0)
        // One state past the budget at most: the one whose addition crossed it.
        #expect(cache.storedBytes <= cache.maxBytes + 4 * (3 * work.globs.count + 300), "\(cache.storedBytes) bytes cached")
        #expect(cache.largestSet > 0)
    }
}
