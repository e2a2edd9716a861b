import Testing
import TriplineJSON
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
