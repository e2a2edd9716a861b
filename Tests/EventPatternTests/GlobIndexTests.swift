import Testing
import SeededRandom
import TriplineJSON
@testable import EventPattern

/// Wildcards with a piece between two stars, found through that piece (``GlobIndex``): the same
/// verdicts as the definition of a glob, in both forms of its Aho-Corasick automaton, and through
/// the whole matcher when a field holds enough of them to use it.
@Suite("Glob index: wildcards with pieces between stars")
struct GlobIndexTests {
    /// The index of `globs` (test id = position) and what it reports for `value`.
    static func matches(_ index: GlobIndex, _ value: [UInt8]) -> Set<Int32> {
        var scratch = GlobScratch()
        var found: [Int32] = []
        value.withUnsafeBufferPointer { index.match($0, scratch: &scratch, into: &found) }
        #expect(found.count == Set(found).count, "each test is reported once")
        return Set(found)
    }

    static func index(_ wildcards: [String], denseLimit: Int = GlobIndex.maxDenseEntries) throws -> GlobIndex {
        let patterns = try wildcards.map { try WildcardPattern.parse($0).get() }
        return GlobIndex(globs: patterns.enumerated().map { (Int32($0.offset), $0.element) }, denseLimit: denseLimit)
    }

    @Test("examples: anchored ends, pieces in order, overlapping and nested keys, escapes, UTF-8", arguments: [
        ("*ab*cd*", "xxabyycdzz", true), ("*ab*cd*", "cdab", false), ("*ab*cd*", "abcd", true),
        ("a*b*c", "abc", true), ("a*b*c", "a-b-c", true), ("a*b*c", "ab", false), ("a*b*c", "abcx", false),
        ("*aa*aa*", "aaa", false), ("*aa*aa*", "aaaa", true), ("x*aa*aa", "xaaaa", true), ("x*aa*aa", "xaaa", false),
        ("*bc*", "abcd", true), ("*abcd*", "abc", false), ("*b*", "b", true), ("*b*", "", false),
        (#"*a\**b*"#, "xa*yb", true), (#"*a\**b*"#, "xayb", false), (#"*\\*"#, #"a\b"#, true),
        ("*é*ß*", "café straße", true), ("*é*ß*", "cafe strasse", false),
    ])
    func examples(_ wildcard: String, _ value: String, _ expected: Bool) throws {
        // The other globs share bytes and pieces with it, so keys end inside one another.
        let others = ["*b*", "*abc*", "*bcd*", "*cd*ab*", "*a*a*a*"]
        for limit in [GlobIndex.maxDenseEntries, 0] {
            let index = try Self.index([wildcard] + others, denseLimit: limit)
            #expect(Self.matches(index, Array(value.utf8)).contains(0) == expected, "\(wildcard) on \(value) (dense limit \(limit))")
        }
    }

    @Test("seeded random globs over a small alphabet: the definition's verdicts, dense and sparse")
    func randomGlobsAgreeWithTheDefinition() throws {
        var random = SplitMix64(seed: 20261127)
        let alphabet = ["a", "b", "c", "é"]
        func letters(_ n: Int) -> [UInt8] { Array((0..<n).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }.joined().utf8) }
        var disagreements = 0, matched = 0
        for round in 0..<40 {
            let globs: [[[UInt8]]] = (0..<(5 + round)).map { _ in
                let stars = 2 + Int(random.next() % 4)
                return (0...stars).map { k in
                    let anchored = k == 0 || k == stars
                    return letters(anchored && random.next() % 2 == 0 ? 0 : 1 + Int(random.next() % 3))
                }
            }
            let patterns = globs.map { pieces in pieces.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "*") }
            let dense = try Self.index(patterns)
            let sparse = try Self.index(patterns, denseLimit: 0)
            for _ in 0..<30 {
                let value = letters(Int(random.next() % 24))
                let expected = Set(globs.indices.filter { StringAutomatonTests.globMatches(value, globs[$0]) }.map(Int32.init))
                matched += expected.count
                if Self.matches(dense, value) != expected || Self.matches(sparse, value) != expected { disagreements += 1 }
            }
        }
        #expect(disagreements == 0)
        #expect(matched > 100, "the values must match something for the comparison to mean much: \(matched)")
    }

    @Test("a field with many such wildcards among other string tests, some in anything-but: the whole matcher agrees with the reference")
    func manyWildcardsOnOneFieldThroughTheMachine() throws {
        var random = SplitMix64(seed: 77)
        let words = ["ab", "ba", "abc", "c", "é", "a*", "cab"]
        func word() -> String { words[Int(random.next() % UInt64(words.count))].replacingOccurrences(of: "*", with: #"\*"#) }
        let patterns: [EventPattern] = try (0..<60).map { i in
            let glob = (i % 3 == 0 ? "" : word()) + "*" + word() + "*" + word() + "*" + (i % 2 == 0 ? "" : word())
            // Other string tests on the field between them, so the automaton and the index share its tests' numbers.
            let conditions: [JSONValue]
            switch i % 6 {
            case 1: conditions = [["prefix": .string(word())]]
            case 2:
                // One condition of its own with enough stars for an index, before a prefix: tested
                // after the read (the rule is triggered by "g"), by a matcher of its own.
                let globs = (0..<6).map { _ in JSONValue.string("*" + word() + "*" + word() + "*" + word()) }
                conditions = [["anything-but": ["wildcard": .array(globs)]], ["prefix": .string(word())]]
            case 3: conditions = [["anything-but": ["wildcard": .string(glob)]]]
            case 4: conditions = [["anything-but": ["suffix": .string(word())]]]
            case 5: conditions = [["wildcard": .string(word() + "*" + word())]]
            default: conditions = [["wildcard": .string(glob)]]
            }
            var members = [JSONMember(key: "f", value: .array(conditions))]
            // Some rules also test another field, so that the wildcard is not always what triggers them.
            if i % 5 == 0 || i % 6 == 2 { members.append(JSONMember(key: "g", value: ["x"])) }
            return try EventPattern(json: .object(JSONObject(members)))
        }
        let machine = PatternMachine(patterns.enumerated().map { (id: $0.offset, pattern: $0.element) })
        #expect(machine.compiled.tables.fields.contains { $0.globTestCount > 0 }, "the field's wildcards are in a glob index")
        let prepared = patterns.map { ReferenceMatcher.Prepared($0) }
        var disagreements = 0, matches = 0
        for _ in 0..<400 {
            let value = (0..<Int(random.next() % 7)).map { _ in word().replacingOccurrences(of: #"\*"#, with: "*") }.joined()
            let event: JSONValue = .object(JSONObject([JSONMember(key: "f", value: .string(value)), JSONMember(key: "g", value: "x")]))
            let expected = patterns.indices.filter { ReferenceMatcher.matches(prepared[$0], ReferenceMatcher.FlatEvent(event)) }
            let found = try machine.matches(event: JSONWriter.string(event))
            matches += found.count
            if found != expected { disagreements += 1 }
        }
        #expect(disagreements == 0)
        #expect(matches > 400)
    }
}
