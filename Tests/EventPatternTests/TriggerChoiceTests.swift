@testable import EventPattern
import Testing
import TriplineJSON

/// Each sub-rule is examined only when its trigger fires; the trigger should be the condition
/// least likely to hold, judged from the rules alone.
@Suite("Matcher: trigger choice")
struct TriggerChoiceTests {
    /// Every sub-rule of `machine` is triggered by a condition on top-level field `name`.
    private func expectEveryTrigger(onField name: String, in machine: CompiledMachine) throws {
        let node = try #require(machine.edges.lookup(context: 0, Array(name.utf8)))
        let field = machine.nodeField[Int(node)]
        for s in machine.subRuleTrigger.indices {
            let trigger = Int(machine.subRuleTrigger[s])
            #expect(trigger >= 0 && machine.predField[trigger] == field, "sub-rule \(s) of pattern \(machine.subRulePattern[s])")
        }
    }

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
        try expectEveryTrigger(onField: "eventName", in: machine)
    }

    @Test("a condition many rules share (a detail-type) triggers only the rules with no other selective condition, even a prefix or a range")
    func sharedConditionsDoNotTrigger() throws {
        // 200 rules on one detail-type, each with its own bucket prefix, CIDR block or range; 5 with the detail-type alone.
        var patterns: [Int: EventPattern] = [:]
        for i in 0..<200 {
            let own = [#""bucketName": [{"prefix": "b-\#(i)-"}]"#, #""ip": [{"cidr": "10.\#(i).0.0/16"}]"#,
                       #""seconds": [{"numeric": [">", \#(i), "<=", \#(i + 1)]}]"#][i % 3]
            patterns[i] = try EventPattern.parse(#"{"detail-type": ["AWS API Call via CloudTrail"], "detail": {\#(own)}}"#)
        }
        for i in 200..<205 { patterns[i] = try EventPattern.parse(#"{"detail-type": ["AWS API Call via CloudTrail"]}"#) }
        let machine = CompiledMachine(patterns: patterns)
        let detailTypeNode = try #require(machine.edges.lookup(context: 0, Array("detail-type".utf8)))
        let detailTypeField = machine.nodeField[Int(detailTypeNode)]
        for s in machine.subRuleTrigger.indices {
            let trigger = Int(machine.subRuleTrigger[s])
            let onDetailType = trigger >= 0 && machine.predField[trigger] == detailTypeField
            #expect(onDetailType == (machine.subRulePattern[s] >= 200), "sub-rule \(s) of pattern \(machine.subRulePattern[s])")
        }
        // And they match as before.
        let matcher = PatternMachine(patterns.map { (id: $0.key, pattern: $0.value) })
        #expect(try matcher.matches(event: #"{"detail-type": "AWS API Call via CloudTrail", "detail": {"bucketName": "b-3-x", "ip": "10.4.1.1", "seconds": 5.5}}"#)
                == [3, 4, 5, 200, 201, 202, 203, 204])
        #expect(try matcher.matches(event: #"{"detail-type": "Other", "detail": {"bucketName": "b-3-x"}}"#) == [])
    }

    @Test("a condition 20 rules share still triggers them when its field is tested with many values (one API call among 40 rarely fires)")
    func sharedConditionOnAManyValuedFieldTriggers() throws {
        var patterns: [Int: EventPattern] = [:]
        for i in 0..<800 {
            patterns[i] = try EventPattern.parse(#"{"eventName": ["Call\#(i % 40)"], "requestParameters": {"bucketName": [{"prefix": "b-\#(i)-"}]}}"#)
        }
        let machine = CompiledMachine(patterns: patterns)
        try expectEveryTrigger(onField: "eventName", in: machine)
    }
}

/// Sub-rules without a purely selective condition (only `anything-but`, `exists`…) are examined only
/// for events with a value on a field they need one on, not for every event.
@Suite("Matcher: presence triggers")
struct PresenceTriggerTests {
    private func field(_ machine: CompiledMachine, _ path: String) throws -> Int32 {
        var node: Int32 = 0
        for segment in path.split(separator: ".") {
            node = try #require(machine.edges.lookup(context: node, Array(segment.utf8)))
        }
        return machine.nodeField[Int(node)]
    }

    @Test("a sub-rule of broad conditions waits for a value on the field it only asks to exist; one of absences alone is examined for every event")
    func presenceFieldChoice() throws {
        let machine = CompiledMachine(patterns: [
            0: try EventPattern.parse(#"{"detail": {"userName": [{"anything-but": "root"}], "errorCode": [{"exists": true}]}}"#),
            1: try EventPattern.parse(#"{"detail": {"userName": [{"anything-but": "root"}], "request": {"policy": {"document": [{"anything-but": "x"}]}}}}"#),
            2: try EventPattern.parse(#"{"detail": {"errorCode": [{"exists": false}]}}"#),
            3: try EventPattern.parse(#"{"detail": {"eventName": ["CreateUser"], "errorCode": [{"exists": true}]}}"#),
        ])
        #expect(machine.subRulePresenceField == [try field(machine, "detail.errorCode"), try field(machine, "detail.request.policy.document"), -1, -1])
        #expect(machine.unconditionalSubRules == [2])
        #expect(machine.subRuleTrigger[3] >= 0)
    }

    @Test("rules whose only selective condition is one many share (a detail-type) wait for a field they only ask to exist")
    func sharedTriggerGivesWayToExists() throws {
        var patterns: [Int: EventPattern] = [:]
        for i in 0..<40 {
            patterns[i] = try EventPattern.parse(#"{"detail-type": ["AWS API Call via CloudTrail"], "detail": {"errorCode": [{"exists": true}], "userName": [{"anything-but": "u\#(i)"}]}}"#)
        }
        // Without an exists condition, the shared one stays the trigger.
        patterns[40] = try EventPattern.parse(#"{"detail-type": ["AWS API Call via CloudTrail"], "detail": {"userName": [{"anything-but": "root"}]}}"#)
        let machine = CompiledMachine(patterns: patterns)
        let errorCode = try field(machine, "detail.errorCode")
        for s in 0..<40 { #expect(machine.subRuleTrigger[s] == -1 && machine.subRulePresenceField[s] == errorCode, "sub-rule \(s)") }
        #expect(machine.subRuleTrigger[40] >= 0)
        let matcher = PatternMachine(patterns.map { (id: $0.key, pattern: $0.value) })
        #expect(try matcher.matches(event: #"{"detail-type": "AWS API Call via CloudTrail", "detail": {"userName": "u3"}}"#) == [40])
        #expect(try matcher.matches(event: #"{"detail-type": "AWS API Call via CloudTrail", "detail": {"userName": "u3", "errorCode": "AccessDenied"}}"#)
                == (0..<40).filter { $0 != 3 } + [40])
        #expect(try matcher.matches(event: #"{"detail-type": "Other", "detail": {"userName": "u3", "errorCode": "AccessDenied"}}"#) == [])
    }

    @Test("presence-triggered rules match exactly when their conditions hold, with the field read at once, inside arrays and beside deferred subtrees",
          arguments: [
              // (event, expected matches)
              (#"{"detail": {"userName": "alice", "errorCode": "AccessDenied"}}"#, [0, 2]),
              (#"{"detail": {"userName": "root", "errorCode": "AccessDenied"}}"#, [2]),
              (#"{"detail": {"userName": "alice"}}"#, [3]),
              (#"{"detail": {"userName": "alice", "errorCode": null, "requestParameters": {"bucketName": "b"}}}"#, [0, 2, 4]),
              (#"{"detail": {"userName": "alice", "requestParameters": {"bucketName": "public-b"}}}"#, [3]),
              (#"{"detail": {"errorCode": {"nested": 1}, "userName": "alice"}}"#, [3]),
              (#"{"detail": {"items": [{"key": "k", "value": "v"}, {"key": "x"}]}}"#, [1, 3]),
              (#"{"detail": {"items": [{"key": "k"}, {"key": "x", "value": "v"}]}}"#, [3]),
              (#"{"detail": {"requestParameters": {"bucketName": "logs"}, "userName": "bob"}}"#, [3, 4]),
          ] as [(String, [Int])])
    func presenceMatches(event: String, expected: [Int]) throws {
        let machine = PatternMachine([
            (0, try EventPattern.parse(#"{"detail": {"userName": [{"anything-but": "root"}], "errorCode": [{"exists": true}]}}"#)),
            (1, try EventPattern.parse(#"{"detail": {"items": {"key": [{"anything-but": "x"}], "value": [{"exists": true}]}}}"#)),
            (2, try EventPattern.parse(#"{"detail": {"errorCode": [{"exists": true}]}}"#)),
            (3, try EventPattern.parse(#"{"detail": {"errorCode": [{"exists": false}]}}"#)),
            (4, try EventPattern.parse(#"{"detail": {"requestParameters": {"bucketName": [{"anything-but": {"prefix": "public"}}]}, "userName": [{"exists": true}]}}"#)),
            // A rule triggered by eventName that tests requestParameters, so that subtree is deferrable.
            (5, try EventPattern.parse(#"{"detail": {"eventName": ["PutBucketPolicy"], "requestParameters": {"policy": [{"exists": true}]}}}"#)),
        ])
        #expect(try machine.matches(event: event) == expected)
        // The reference interpreter agrees.
        let parsed = try JSONParser.parse(Array(event.utf8))
        let reference = (0...5).filter { id in ReferenceMatcher.matches(machine.pattern(id: id)!, parsed) }
        #expect(reference == expected)
    }
}
