import Testing
import TriplineJSON
import SeededRandom
@testable import EventPattern

/// The search for one consistent choice of values inside arrays of objects stays polynomial when
/// conditions sit in sibling arrays (fuzz.md F1: a 5 KB event took 15 s and 0.9 GB, a 130 KB
/// CloudTrail record 21 s in `run`, because failed states were remembered with positions in arrays
/// no remaining condition reads, so no state ever repeated).
@Suite("Array consistency: sibling arrays under one array of objects")
struct ArrayConsistencySearchTests {
    /// `{"A":{"B":{"v":["p"]},"C":…,"zz":["p"]}}` against `elements` elements of A each holding the
    /// `arrays` sibling arrays of `width` objects `{"v":"p"}` and `zz` "q", then one element with only
    /// `zz` "p": every condition holds somewhere, no one element holds them all.
    static func pair(elements: Int, width: Int, arrays: Int) throws -> (pattern: EventPattern, event: [UInt8]) {
        let names = Array("BCDEFG").prefix(arrays).map(String.init)
        let pattern = "{\"A\":{" + names.map { "\"\($0)\":{\"v\":[\"p\"]}" }.joined(separator: ",") + ",\"zz\":[\"p\"]}}"
        let sibling = "[" + Array(repeating: #"{"v":"p"}"#, count: width).joined(separator: ",") + "]"
        let element = "{" + names.map { "\"\($0)\":\(sibling)" }.joined(separator: ",") + #","zz":"q"}"#
        let event = #"{"A":["# + Array(repeating: element, count: elements).joined(separator: ",") + #",{"zz":"p"}]}"#
        return (try EventPattern.parse(pattern), Array(event.utf8))
    }

    @Test("no consistent choice among 3 elements of 4 sibling arrays of 20: no match, in a few thousand steps")
    func siblingArraysStayPolynomial() throws {
        let (pattern, event) = try Self.pair(elements: 3, width: 20, arrays: 4)
        let machine = PatternMachine([(id: 1, pattern: pattern)])
        var scratch = MatchScratch()
        let ids = try event.withUnsafeBufferPointer { buffer throws(JSONError) in try machine.matches(event: buffer, scratch: &scratch) }
        #expect(ids.isEmpty)
        // Before: every one of 3 · 20^4 partial choices was visited (480,000 steps and more).
        let steps = scratch.walk.pointer.pointee.searchSteps
        #expect(steps < 5_000, "\(steps) search steps")
        #expect(PatternExplainer.matches(pattern, event: try JSONParser.parse(event)) == false)
    }

    @Test("a consistent choice behind many inconsistent ones is still found")
    func consistentChoiceIsFound() throws {
        // The last element holds every array and zz "p": the only consistent choice.
        let (pattern, event) = try Self.pair(elements: 3, width: 20, arrays: 4)
        var text = String(decoding: event, as: UTF8.self)
        let sibling = "[" + Array(repeating: #"{"v":"p"}"#, count: 3).joined(separator: ",") + "]"
        text = text.replacingOccurrences(of: #"{"zz":"p"}"#, with: #"{"B":\#(sibling),"C":\#(sibling),"D":\#(sibling),"E":\#(sibling),"zz":"p"}"#)
        let machine = PatternMachine([(id: 7, pattern: pattern)])
        #expect(try machine.matches(event: text) == [7])
        #expect(PatternExplainer.matches(pattern, event: try JSONParser.parse(Array(text.utf8))))
    }
}

/// Two conditions on fields of one large array of objects: the values that can sit in the element
/// already chosen are looked up, not scanned, and rules that share those conditions share one search
/// (fuzz2.md N1: 900 `$or` combinations × 2,000 elements with one field and 2,000 with the other
/// took 11 s in the matcher and 17 s in `explain`).
@Suite("Array consistency: large arrays and shared searches")
struct LargeArrayConsistencyTests {
    /// `{"A":{"v":["p"],"w":["p"]}}` with `$or` groups of `g` alternatives at two levels; `A` holds
    /// `n` elements alternating `{"v":"p"}` and `{"w":"p"}`, then `last` if given.
    static func orPair(n: Int, g: Int, last: String? = nil) throws -> (pattern: EventPattern, event: String) {
        let ors = (0..<g).map { #"{"a\#($0)":["x"]}"# }.joined(separator: ",")
        let nested = (0..<g).map { #"{"c\#($0)":["x"]}"# }.joined(separator: ",")
        let pattern = #"{"A":{"v":["p"],"w":["p"]},"$or":[\#(ors)],"b":{"$or":[\#(nested)]}}"#
        var elements = (0..<n).map { $0 % 2 == 0 ? #"{"v":"p"}"# : #"{"w":"p"}"# }
        if let last { elements.append(last) }
        let fields = (0..<g).map { #""a\#($0)":"x""# }.joined(separator: ",")
        let nestedFields = (0..<g).map { #""c\#($0)":"x""# }.joined(separator: ",")
        return (try EventPattern.parse(pattern), #"{"A":[\#(elements.joined(separator: ","))],\#(fields),"b":{\#(nestedFields)}}"#)
    }

    @Test("every $or combination of one pattern shares the one search of its conditions on arrays",
          arguments: [(nil, false), (#"{"v":"p","w":"p"}"#, true)] as [(String?, Bool)])
    func combinationsShareOneSearch(last: String?, matches: Bool) throws {
        let (pattern, event) = try Self.orPair(n: 400, g: 8, last: last)
        let machine = PatternMachine([(id: 1, pattern: pattern)])
        var scratch = MatchScratch()
        let bytes = Array(event.utf8)
        let ids = try bytes.withUnsafeBufferPointer { buffer throws(JSONError) in try machine.matches(event: buffer, scratch: &scratch) }
        #expect(ids == (matches ? [1] : []))
        // 64 combinations, one search (it stops at the first combination when one matches).
        #expect(scratch.walk.pointer.pointee.consistencyOutcomes.count == 1)
        #expect(!scratch.walk.pointer.pointee.occurrenceIndexes.isEmpty, "200 values of A.w are grouped by element")
        let parsed = try JSONParser.parse(bytes)
        #expect(PatternExplainer.matches(pattern, event: parsed) == matches)
        #expect(ReferenceMatcher.matches(pattern, parsed) == matches)
    }

    @Test("with long lists grouped by element, random conditions on large and nested arrays agree with the reference")
    func groupedListsAgree() throws {
        var random = SplitMix64(seed: 20261127)
        func below(_ n: Int) -> Int { Int(random.next() % UInt64(n)) }
        let conditions = [#""v":["p"]"#, #""w":["p","q"]"#, #""w":[{"anything-but":"q"}]"#, #""u":[{"exists":false}]"#,
                          #""B":{"x":["p"]}"#, #""B":{"y":[{"exists":false}]}"#, #""v":[{"exists":true}]"#]
        var checked = 0
        for _ in 0..<120 {
            // 2 to 4 distinct conditions on A (and its nested array B), sometimes a top-level one.
            var chosen: [String] = []
            while chosen.count < 2 + below(3) {
                let c = conditions[below(conditions.count)]
                if !chosen.contains(where: { $0.prefix(4) == c.prefix(4) }) { chosen.append(c) }
            }
            let pattern = try EventPattern.parse(#"{"A":{\#(chosen.joined(separator: ","))}\#(below(3) == 0 ? #","top":["t"]"# : "")}"#)
            // 40 to 120 elements with random fields; a nested array B of 0 to 3 objects.
            let elements = (0..<(40 + below(81))).map { _ -> String in
                var fields: [String] = []
                if below(2) == 0 { fields.append(#""v":"p""#) }
                if below(2) == 0 { fields.append(below(2) == 0 ? #""w":"p""# : #""w":"q""#) }
                if below(8) == 0 { fields.append(#""u":1"#) }
                if below(2) == 0 {
                    let inner = (0..<below(4)).map { _ in below(2) == 0 ? #"{"x":"p"}"# : #"{"x":"z","y":2}"# }
                    fields.append(#""B":[\#(inner.joined(separator: ","))]"#)
                }
                return "{" + fields.joined(separator: ",") + "}"
            }
            let event = #"{"A":[\#(elements.joined(separator: ","))],"top":"t"}"#
            let parsed = try JSONParser.parse(Array(event.utf8))
            let expected = ReferenceMatcher.matches(pattern, parsed)
            let machine = PatternMachine([(id: 1, pattern: pattern)])
            #expect(try machine.matches(event: event) == (expected ? [1] : []), "\(event)")
            #expect(PatternExplainer.matches(pattern, event: parsed) == expected, "\(event)")
            checked += expected ? 1 : 0
        }
        // Both outcomes occur, so the test can tell a grouping that loses values from one that adds them.
        #expect(checked > 10 && checked < 110, "\(checked) of 120 matched")
    }
}
