import Testing
import SeededRandom
@testable import EventPattern

/// Finding a wildcard's piece in a value: the first occurrence, as a plain scan finds it, also
/// after the scan hands a repetitive value over to Knuth-Morris-Pratt.
@Suite("Piece search: first occurrence in linear time")
struct PieceSearchTests {
    static func naive(_ piece: [UInt8], _ value: [UInt8], from: Int, end: Int) -> Int {
        var i = from
        while i + piece.count <= end {
            if Array(value[i..<(i + piece.count)]) == piece { return i }
            i += 1
        }
        return -1
    }

    static func search(_ piece: [UInt8], _ value: [UInt8], from: Int, end: Int) -> (scan: Int, kmp: Int) {
        piece.withUnsafeBufferPointer { p in
            value.withUnsafeBufferPointer { v in
                (PieceSearch.firstOccurrence(of: p, in: v, from: from, end: end), PieceSearch.knuthMorrisPratt(p, in: v, from: from, end: end))
            }
        }
    }

    @Test("examples", arguments: [
        ("ab", "xxabab", 0, 6, 2), ("ab", "xxabab", 3, 6, 4), ("ab", "xxabab", 0, 3, -1), ("aab", "aaaab", 0, 5, 2),
        ("abab", "abaabab", 0, 7, 3), ("x", "", 0, 0, -1), ("aa", "aaa", 1, 3, 1), ("é", "café", 0, 5, 3),
    ])
    func examples(_ piece: String, _ value: String, _ from: Int, _ end: Int, _ expected: Int) {
        let found = Self.search(Array(piece.utf8), Array(value.utf8), from: from, end: end)
        #expect(found.scan == expected && found.kmp == expected, "\(found)")
    }

    @Test("seeded random pieces and repetitive values (long enough for the scan to hand over): the first occurrence every time")
    func randomSearchesFindTheFirstOccurrence() {
        var random = SplitMix64(seed: 4242)
        func below(_ n: Int) -> Int { Int(random.next() % UInt64(n)) }
        var disagreements = 0, found = 0
        for round in 0..<3_000 {
            // Two letters, mostly one of them: long runs make every position a near miss.
            let rarity = round % 3 == 0 ? 64 : 8
            func letters(_ n: Int) -> [UInt8] { (0..<n).map { _ in below(rarity) == 0 ? UInt8(ascii: "b") : UInt8(ascii: "a") } }
            let piece = round % 3 == 0 ? Array(repeating: UInt8(ascii: "a"), count: 20 + below(40)) + [UInt8(ascii: "b")] : letters(1 + below(12))
            let value = letters(below(round % 3 == 0 ? 600 : 60))
            let from = below(max(1, value.count / 3 + 1))
            let end = value.count - below(max(1, value.count / 4 + 1))
            guard from <= end else { continue }
            let expected = Self.naive(piece, value, from: from, end: end)
            let result = Self.search(piece, value, from: from, end: end)
            if result.scan != expected || result.kmp != expected { disagreements += 1 }
            if expected >= 0 { found += 1 }
        }
        #expect(disagreements == 0)
        #expect(found > 300, "pieces must be found often enough for the comparison to mean much: \(found)")
    }
}
