@testable import EventPattern
import Testing
import TriplineJSON

/// A scratch learns, per subtree, whether deferring it pays (``DeferralStats``); reading a subtree
/// at once must decide exactly as deferring it and walking it on demand does.
@Suite("Matcher: subtrees read at once once most events need them")
struct AdaptiveDeferralTests {
    /// Every pattern is triggered by `t` and has conditions inside `r` (deferrable), some inside
    /// `r.s` and arrays of objects below it (deferrable in turn).
    static let patterns = [
        #"{"t":["x"],"r":{"b":[{"prefix":"u"}]}}"#,
        #"{"t":["x"],"r":{"s":{"b":[{"suffix":"u"}]},"c":[{"numeric":[">",1]}]}}"#,
        #"{"t":["x","y"],"r":{"a":[{"prefix":"p"}],"b":[{"prefix":"u"}]}}"#,
        #"{"t":["y"],"r":{"b":[{"exists":false}]}}"#,
        #"{"t":["x"],"r":{"o":{"k":["1"],"v":[{"anything-but":"w"}]}}}"#,
    ]

    static let events = [
        #"{"t":"x","r":{"b":"uu"}}"#,
        #"{"t":"x","r":{"b":"vu"}}"#,
        #"{"r":{"b":"uu"},"t":"x"}"#,
        #"{"t":"x","r":{"zz":{"b":"u"},"b":"u1"}}"#,
        #"{"t":"x","r":[{"b":"v"},{"b":"u2"}]}"#,
        #"{"t":"x","r":[[{"b":"v"}],[[{"b":"u2"}]]]}"#,
        #"{"t":"y","r":{"c":1}}"#,
        #"{"t":"y","r":{"b":1}}"#,
        #"{"t":"y"}"#,
        #"{"t":"y","r":[{"c":1},{"b":null}]}"#,
        #"{"t":"x","r":{"c":2,"s":{"b":"au"}}}"#,
        #"{"t":"x","r":{"c":1,"s":{"b":"au"}}}"#,
        #"{"t":"x","r":[{"a":"p","b":"w"},{"a":"q","b":"u"}]}"#,
        #"{"t":"y","r":[{"a":"q"},{"a":"p","b":"u"}]}"#,
        #"{"t":"x","r":{"o":[{"k":"1","v":"w"},{"k":"2","v":"z"}]}}"#,
        #"{"t":"x","r":{"o":[{"k":"2","v":"w"},{"k":"1","v":"z"}]}}"#,
        #"{"t":"z","r":{"b":"uu","o":{"k":"1","v":"a"}}}"#,
        #"{"t":"x","r.b":"u","r":{"b":"v"}}"#,
    ]

    @Test("after a run of events that need the subtrees, results equal a fresh scratch's, event by event")
    func eagerReadingDecidesAsDeferral() throws {
        let machine = PatternMachine(try AdaptiveDeferralTests.patterns.enumerated().map { (id: $0.offset, pattern: try EventPattern.parse($0.element)) })
        var learnt = MatchScratch()
        var sawEager = false
        for round in 0..<40 {
            for (k, text) in AdaptiveDeferralTests.events.enumerated() {
                let event = Array(text.utf8)
                var fresh = MatchScratch()
                try event.withUnsafeBufferPointer { buffer in
                    let expected = try machine.matches(event: buffer, scratch: &fresh)
                    let got = try machine.matches(event: buffer, scratch: &learnt)
                    #expect(got == expected, "round \(round), event \(k): \(text)")
                }
                let stats = learnt.walk.pointer.pointee.deferral
                if stats.contains(where: { $0.eagerLeft > 0 }) { sawEager = true }
            }
        }
        // Otherwise this test would compare deferral with itself.
        #expect(sawEager, "no subtree was ever read at once")
    }

    @Test("a subtree that events rarely need stays deferred")
    func rarelyNeededStaysDeferred() throws {
        let machine = PatternMachine([(1, try EventPattern.parse(#"{"t":["x"],"r":{"b":[{"prefix":"u"}]}}"#))])
        var scratch = MatchScratch()
        let other = Array(#"{"t":"y","r":{"b":"uu"}}"#.utf8)
        let wanted = Array(#"{"t":"x","r":{"b":"uu"}}"#.utf8)
        for k in 0..<400 {
            let event = k % 8 == 0 ? wanted : other
            let ids = try event.withUnsafeBufferPointer { try machine.matches(event: $0, scratch: &scratch) }
            #expect(ids == (k % 8 == 0 ? [1] : []))
        }
        #expect(scratch.walk.pointer.pointee.deferral.allSatisfy { $0.eagerLeft == 0 })
    }
}

