import EventPattern
import Testing
import TriplineJSON

/// Explains `eventText` against `patternText`.
private func explain(_ patternText: String, _ eventText: String) throws -> PatternExplanation {
    PatternExplainer.explain(try EventPattern.parse(patternText), event: try JSONParser.parse(eventText))
}

/// The explanation's lines without the leading indentation.
private func lines(_ explanation: PatternExplanation) -> [String] {
    explanation.lines(indent: "")
}

@Suite("Pattern explainer")
struct PatternExplainerTests {
    // MARK: Agreement with the matcher

    @Test("its verdict equals the expected one on every matching case of the conformance corpus, and the machine's")
    func conformanceCorpus() throws {
        guard let cases = try ConformanceCorpus.load() else {
            print("conformance corpus not found at \(ConformanceCorpus.casesURL.path); skipping the explainer's corpus check")
            return
        }
        var checked = 0, disputedChecked = 0
        for testCase in cases where !testCase.isValidationCase {
            guard let expected = testCase.matches, let eventText = testCase.eventText,
                  let pattern = try? EventPattern.parse(testCase.patternText) else { continue }
            guard let event = try? JSONParser.parse(eventText) else { continue }
            let explanation = PatternExplainer.explain(pattern, event: event)
            // Whatever the case says, the explainer and the compiled machine must agree.
            let machine = DualVerdict(pattern: pattern, eventText: eventText).machineVerdict
            if let machine {
                #expect(explanation.matches == machine, "\(testCase.id): explainer \(explanation.matches), machine \(machine)\n  pattern: \(testCase.patternText)\n  event: \(eventText)")
            }
            #expect(PatternExplainer.matches(pattern, event: event) == explanation.matches, "\(testCase.id): matches(_:event:) disagrees with explain")
            if testCase.disputed {
                disputedChecked += 1
                continue
            }
            checked += 1
            #expect(explanation.matches == expected, """
                conformance case \(testCase.id) (\(testCase.feature)): expected \(expected ? "match" : "no match"), explainer says \(explanation.matches ? "match" : "no match")
                  pattern: \(testCase.patternText)
                  event:   \(eventText)
                  \(explanation.lines().joined(separator: "\n  "))
                """)
            // A match lists one value (or absence) per condition of some branch; a non-match says why.
            if explanation.matches {
                #expect(!explanation.matchedThrough.isEmpty || pattern.branches.contains(where: \.isEmpty), "\(testCase.id): a match without values")
            } else {
                #expect(!explanation.summary.isEmpty && !explanation.lines().isEmpty, "\(testCase.id): a non-match without a reason")
            }
        }
        print("explainer: \(checked) corpus matching cases agree with the expected verdict (\(disputedChecked) disputed ones checked against the machine only)")
        #expect(checked > 100, "too few corpus cases checked: \(checked)")
    }

    @Test("its verdict equals the machine's on random patterns and events")
    func randomPairs() throws {
        var corpus = RandomCorpus(seed: 20_241_126)
        let patterns = DifferentialTests.patterns(300, corpus: &corpus)
        let events = (0..<40).map { _ in corpus.event() }
        var disagreements = 0, matches = 0
        for generated in patterns {
            var machine = PatternMachine()
            machine.add(generated.pattern, id: 1)
            for event in events {
                let explained = PatternExplainer.explain(generated.pattern, event: event).matches
                let machineSays = try machine.matches(event: JSONWriter.string(event)) == [1]
                if explained { matches += 1 }
                if explained != machineSays {
                    disagreements += 1
                    if disagreements <= 10 {
                        Issue.record("pattern: \(generated.text)\n  event: \(JSONWriter.string(event))\n  explainer: \(explained), machine: \(machineSays)")
                    }
                }
            }
        }
        #expect(disagreements == 0)
        #expect(matches > 100, "too few matches for the comparison to mean much: \(matches)")
    }

    // MARK: Why not

    @Test("a missing field is named, with what the pattern needed")
    func missingField() throws {
        let e = try explain(#"{"detail": {"errorCode": [{"prefix": "AccessDenied"}, {"wildcard": "*UnauthorizedOperation"}]}}"#,
                            #"{"detail": {"eventName": "GetObject"}}"#)
        #expect(!e.matches)
        #expect(lines(e) == [#"✗ detail.errorCode: missing; the pattern needs prefix "AccessDenied" or wildcard "*UnauthorizedOperation""#])
        #expect(e.summary == #"detail.errorCode: missing; the pattern needs prefix "AccessDenied" or wildcard "*UnauthorizedOperation""#)
    }

    @Test("a value that fails names the operator it failed")
    func failedOperators() throws {
        let cases: [(pattern: String, event: String, line: String)] = [
            (#"{"a": ["Root"]}"#, #"{"a": "IAMUser"}"#, #"✗ a: "IAMUser" is not "Root""#),
            (#"{"a": ["5"]}"#, #"{"a": 5}"#, #"✗ a: 5 is a number, not the string "5""#),
            (#"{"a": [{"prefix": "Access"}]}"#, #"{"a": "Throttling"}"#, #"✗ a: "Throttling" does not start with "Access""#),
            (#"{"a": [{"suffix": {"equals-ignore-case": ".PNG"}}]}"#, #"{"a": "x.jpg"}"#, #"✗ a: "x.jpg" does not end with ".PNG" (ignoring case)"#),
            (#"{"a": [{"equals-ignore-case": "root"}]}"#, #"{"a": "admin"}"#, #"✗ a: "admin" does not equal "root" ignoring case"#),
            (#"{"a": [{"wildcard": "*Unauthorized*"}]}"#, #"{"a": "AccessDenied"}"#, #"✗ a: "AccessDenied" does not match wildcard "*Unauthorized*""#),
            (#"{"a": [{"anything-but": ["HeadBucket", "GetObject"]}]}"#, #"{"a": "HeadBucket"}"#,
             #"✗ a: "HeadBucket" is excluded by anything-but ["HeadBucket", "GetObject"]"#),
            (#"{"a": [{"anything-but": {"prefix": "Get"}}]}"#, #"{"a": "GetObject"}"#, #"✗ a: "GetObject" is excluded by anything-but prefix "Get""#),
            (#"{"a": [{"numeric": [">", 0, "<=", 5]}]}"#, #"{"a": 7.5}"#, #"✗ a: 7.5 is outside numeric > 0, <= 5"#),
            (#"{"a": [{"numeric": ["=", 3]}]}"#, #"{"a": "3"}"#, #"✗ a: "3" is a string; numeric matches only numbers"#),
            (#"{"a": [{"cidr": "10.0.0.0/8"}]}"#, #"{"a": "192.168.1.1"}"#, #"✗ a: "192.168.1.1" is not in cidr "10.0.0.0/8""#),
            (#"{"a": [{"cidr": "10.0.0.0/8"}]}"#, #"{"a": "example.com"}"#, #"✗ a: "example.com" is not an IP address (cidr "10.0.0.0/8")"#),
            (#"{"a": [{"exists": false}]}"#, #"{"a": "x"}"#, #"✗ a: present ("x"), but exists: false requires it to be absent"#),
            (#"{"a": [{"exists": true}]}"#, #"{"b": "x"}"#, #"✗ a: missing, but exists: true requires it"#),
            (#"{"a": [true]}"#, #"{"a": false}"#, #"✗ a: false is not true"#),
            (#"{"a": [null]}"#, #"{"a": 0}"#, #"✗ a: 0 is not null"#),
            (#"{"a": ["x", {"prefix": "y"}]}"#, #"{"a": "z"}"#, #"✗ a: "z" matches none of "x", prefix "y""#),
        ]
        for c in cases {
            let e = try explain(c.pattern, c.event)
            #expect(!e.matches, "\(c.pattern) should not match \(c.event)")
            #expect(lines(e) == [c.line], "\(c.pattern) / \(c.event)")
        }
    }

    @Test("several values at one path are each judged")
    func arrayValues() throws {
        let e = try explain(#"{"detail": {"tags": ["prod"]}}"#, #"{"detail": {"tags": ["dev", "test"]}}"#)
        #expect(lines(e) == [#"✗ detail.tags: none of its 2 values matches: "dev" is not "prod"; "test" is not "prod""#])
    }

    @Test("passing conditions are listed with a ✓ next to the failing ones")
    func mixed() throws {
        let e = try explain(#"{"source": ["aws.iam"], "detail": {"eventName": ["CreateAccessKey"], "errorCode": [{"exists": false}]}}"#,
                            #"{"source": "aws.iam", "detail": {"eventName": "CreateAccessKey", "errorCode": "LimitExceeded"}}"#)
        #expect(lines(e) == [
            #"✓ source: "aws.iam" matches "aws.iam""#,
            #"✓ detail.eventName: "CreateAccessKey" matches "CreateAccessKey""#,
            #"✗ detail.errorCode: present ("LimitExceeded"), but exists: false requires it to be absent"#,
        ])
    }

    @Test("each $or alternative is explained in turn")
    func orBranches() throws {
        let e = try explain(#"{"detail": {"$or": [{"userIdentity": {"type": ["Root"]}}, {"errorCode": [{"prefix": "AccessDenied"}]}]}}"#,
                            #"{"detail": {"userIdentity": {"type": "IAMUser"}}}"#)
        #expect(!e.matches)
        #expect(lines(e) == [
            "✗ $or: none of the 2 alternatives matches",
            "    alternative 1:",
            #"      ✗ detail.userIdentity.type: "IAMUser" is not "Root""#,
            "    alternative 2:",
            #"      ✗ detail.errorCode: missing; the pattern needs prefix "AccessDenied""#,
        ])
        #expect(e.summary.hasPrefix("$or: none of the 2 alternatives matches (detail.userIdentity.type"))
        let hit = try explain(#"{"$or": [{"a": ["1"]}, {"b": ["2"]}], "c": ["3"]}"#, #"{"b": "2", "c": "4"}"#)
        #expect(lines(hit) == [
            #"✗ c: "4" is not "3""#,
            "✓ $or: alternative 2 of 2 matches",
            "    alternative 1:",
            #"      ✗ a: missing; the pattern needs "1""#,
            "    alternative 2:",
            #"      ✓ b: "2" matches "2""#,
        ])
    }

    @Test("an array-consistency failure names the fields and the elements they matched in")
    func arrayConsistency() throws {
        let e = try explain(#"{"detail": {"items": {"name": ["a"], "state": ["on"]}}}"#,
                            #"{"detail": {"items": [{"name": "a", "state": "off"}, {"name": "b", "state": "on"}]}}"#)
        #expect(!e.matches)
        #expect(e.root.conflict == ArrayConflict(sides: [
            .init(path: "detail.items.name", elements: ["detail.items[0]"]),
            .init(path: "detail.items.state", elements: ["detail.items[1]"]),
        ]))
        #expect(lines(e).last == "✗ array consistency: detail.items.name matches only in detail.items[0]; detail.items.state matches only in detail.items[1], but fields inside one array of objects must match in the same element")
        let ok = try explain(#"{"detail": {"items": {"name": ["a"], "state": ["on"]}}}"#,
                             #"{"detail": {"items": [{"name": "b", "state": "off"}, {"name": "a", "state": "on"}]}}"#)
        #expect(ok.matches)
    }

    @Test("an $or alternative that holds alone but not with the rest is an array-consistency failure")
    func consistencyAcrossOr() throws {
        let e = try explain(#"{"r": {"k": ["x"]}, "$or": [{"r": {"v": ["1"]}}, {"r": {"v": ["2"]}}]}"#,
                            #"{"r": [{"k": "x", "v": "3"}, {"k": "y", "v": "1"}]}"#)
        #expect(!e.matches)
        #expect(e.root.items.allSatisfy { $0.matches })
        #expect(e.root.conflict?.sides.map(\.path) == ["r.k", "r.v"])
    }

    // MARK: How yes

    @Test("a match lists the value each condition matched through")
    func matchedThrough() throws {
        let e = try explain(#"{"detail-type": ["AWS API Call via CloudTrail"], "detail": {"errorCode": [{"wildcard": "*UnauthorizedOperation"}, {"prefix": "AccessDenied"}], "userIdentity": {"invokedBy": [{"exists": false}]}}}"#,
                            #"{"detail-type": "AWS API Call via CloudTrail", "detail": {"errorCode": "Client.UnauthorizedOperation", "userIdentity": {"type": "IAMUser"}}}"#)
        #expect(e.matches)
        #expect(lines(e) == [
            #"detail-type: "AWS API Call via CloudTrail" matches "AWS API Call via CloudTrail""#,
            #"detail.errorCode: "Client.UnauthorizedOperation" matches wildcard "*UnauthorizedOperation""#,
            "detail.userIdentity.invokedBy: absent, as exists: false requires",
        ])
        #expect(e.summary.hasPrefix("matches: detail-type: "))
    }

    @Test("a match through an $or names the branch's values only")
    func matchedThroughOr() throws {
        let e = try explain(#"{"$or": [{"a": ["1"]}, {"b": [{"numeric": [">", 1]}]}]}"#, #"{"a": "2", "b": 2}"#)
        #expect(e.matchedThrough == [MatchedCondition(path: "b", value: 2, matcher: .numeric(NumericRange(lower: 1, lowerInclusive: false, upper: nil, upperInclusive: false)))])
        #expect(lines(e) == ["b: 2 matches numeric > 1"])
    }

    @Test("dotted pattern keys and nested events explain alike")
    func dottedKeys() throws {
        let e = try explain(#"{"detail.userIdentity.type": ["Root"]}"#, #"{"detail": {"userIdentity": {"type": "Root"}}}"#)
        #expect(e.matches)
        #expect(lines(e) == [#"detail.userIdentity.type: "Root" matches "Root""#])
    }

    @Test("long values are cut in explanations")
    func longValues() throws {
        let long = String(repeating: "x", count: 200)
        let e = try explain(#"{"a": ["y"]}"#, #"{"a": "\#(long)"}"#)
        let line = try #require(lines(e).first)
        #expect(line.count < 120 && line.contains("…"), "\(line)")
    }
}
