@testable import EventPattern
import Testing

/// Each sub-rule is examined only when its trigger fires; the trigger should be the condition
/// least likely to hold, judged from the rules alone.
@Suite("Matcher: trigger choice")
struct TriggerChoiceTests {
    @Test("a field tested with many distinct values triggers before one tested with few, even when those few are shared by fewer rules")
    func manyValuesBeatFewSharers() throws {
        // 1,000 rules on 100 API calls (10 rules share each); 24 of them also name one of 3
        // regions (8 rules share each): by sharers alone the region would trigger those 24.
        var patterns: [Int: EventPattern] = [:]
        for i in 0..<1_000 {
            let region = i < 24 ? #", "region": ["r\#(i % 3)"]"# : ""
            patterns[i] = try EventPattern.parse(#"{"eventName": ["Call\#(i % 100)"]\#(region)}"#)
        }
        let machine = CompiledMachine(patterns: patterns)
        let eventNameNode = try #require(machine.edges.lookup(context: 0, Array("eventName".utf8)))
        let eventNameField = machine.nodeField[Int(eventNameNode)]
        for s in machine.subRuleTrigger.indices {
            let trigger = Int(machine.subRuleTrigger[s])
            #expect(trigger >= 0 && machine.predField[trigger] == eventNameField, "sub-rule \(s) of pattern \(machine.subRulePattern[s])")
        }
    }
}
