import Testing
import TriplineJSON
@testable import TriplineTargets

/// A fake clock: the gate takes time as a number, so tests step it by hand.
private struct FakeClock {
    var now: Double = 1_700_000_000
    mutating func advance(_ seconds: Double) { now += seconds }
}

private func policy(_ suppress: String?, _ threshold: String?) throws -> AlertGatePolicy {
    let parse: (String?) throws -> JSONValue? = { text in try text.map { try JSONParser.parse($0) } }
    switch AlertGatePolicy.parse(suppress: try parse(suppress), threshold: try parse(threshold)) {
    case .success(let p): return p
    case .failure(let error): throw error
    }
}

@Suite("Slack alerts: suppression and thresholds per key")
struct SlackMessageSuppressionTests {
    @Test("suppression sends the first alert per window and counts the rest into the next")
    func suppression() throws {
        var gate = AlertGate(policy: try policy(#"{"Key":"$.detail.userIdentity.arn","WindowSeconds":300}"#, nil))
        var clock = FakeClock()
        var decisions: [AlertDecision] = []
        for step in [0.0, 10, 50, 100, 139.9] {   // t = 0, 10, 60, 160, 299.9
            clock.advance(step)
            decisions.append(gate.decide(key: "alice", now: clock.now))
        }
        #expect(decisions == [.send(suppressedSinceLast: 0), .suppress, .suppress, .suppress, .suppress])
        clock.advance(0.1)   // t = 300: the window has passed
        #expect(gate.decide(key: "alice", now: clock.now) == .send(suppressedSinceLast: 4))
        #expect(gate.decide(key: "alice", now: clock.now + 1) == .suppress)
        #expect(gate.decide(key: "bob", now: clock.now + 1) == .send(suppressedSinceLast: 0), "keys are independent")
    }

    @Test("a threshold fires on the Nth match within the window, then counts again")
    func threshold() throws {
        var gate = AlertGate(policy: try policy(nil, #"{"Count":3,"WindowSeconds":60}"#))
        let t0 = 1_000.0
        #expect(gate.decide(key: "k", now: t0) == .belowThreshold(count: 1))
        #expect(gate.decide(key: "k", now: t0 + 30) == .belowThreshold(count: 2))
        // t0 leaves the window at t0 + 60: only two matches are left in it.
        #expect(gate.decide(key: "k", now: t0 + 60) == .belowThreshold(count: 2))
        #expect(gate.decide(key: "k", now: t0 + 61) == .send(suppressedSinceLast: 2))
        #expect(gate.decide(key: "k", now: t0 + 62) == .belowThreshold(count: 1), "counting starts again after firing")
    }

    @Test("threshold then suppression: crossings within the window are folded")
    func thresholdAndSuppression() throws {
        var gate = AlertGate(policy: try policy(#"{"WindowSeconds":600}"#, #"{"Count":2,"WindowSeconds":60}"#))
        let table: [(Double, AlertDecision)] = [
            (0, .belowThreshold(count: 1)), (1, .send(suppressedSinceLast: 1)),
            (2, .belowThreshold(count: 1)), (3, .suppress),                      // crossing folded: 2 matches held
            (601.5, .belowThreshold(count: 1)), (602, .send(suppressedSinceLast: 3)),   // the last alert was at 1
        ]
        for (now, expected) in table {
            #expect(gate.decide(key: "k", now: now) == expected, "at t=\(now)")
        }
    }

    @Test("no Suppress and no Threshold sends everything")
    func passThrough() throws {
        var gate = AlertGate(policy: try policy(nil, nil))
        for i in 0..<5 { #expect(gate.decide(key: "k", now: Double(i)) == .send(suppressedSinceLast: 0)) }
        #expect(gate.keyCount == 0)
    }

    @Test("idle keys expire; one that held matches back keeps only its count, for its next alert")
    func expiry() throws {
        var gate = AlertGate(policy: try policy(#"{"WindowSeconds":60}"#, nil), maxKeys: 100)
        _ = gate.decide(key: "a", now: 0)
        _ = gate.decide(key: "a", now: 10)   // held back
        _ = gate.decide(key: "b", now: 30)
        _ = gate.decide(key: "c", now: 40)
        #expect(gate.keyCount == 3)
        let dropped = gate.expire(now: 95)   // a idle since 10 (85 s), b since 30 (65 s), c since 40 (55 s)
        #expect(dropped.isEmpty, "nothing was evicted to save memory")
        #expect(gate.rows.map(\.key) == ["a", "c"])
        #expect(gate.rows.first?.heldBack == 1 && gate.rows.first?.lastSentAt == nil)
        // An expired key starts afresh: its next match is sent, not suppressed…
        #expect(gate.decide(key: "b", now: 200) == .send(suppressedSinceLast: 0))
        // …and reports what it held back, however late it comes; then the count is spent.
        #expect(gate.decide(key: "a", now: 10_000) == .send(suppressedSinceLast: 1))
        #expect(gate.decide(key: "a", now: 10_001) == .suppress)
        #expect(gate.decide(key: "a", now: 20_000) == .send(suppressedSinceLast: 1))
    }

    @Test("a count survives a saved and reloaded gate after its window passed")
    func carriedCountRoundTrip() throws {
        let p = try policy(#"{"WindowSeconds":60}"#, nil)
        var gate = AlertGate(policy: p)
        _ = gate.decide(key: "k", now: 0)
        _ = gate.decide(key: "k", now: 1)
        _ = gate.decide(key: "k", now: 2)
        _ = gate.expire(now: 1_000)
        var reloaded = AlertGate(policy: p, rows: gate.rows)
        #expect(reloaded.decide(key: "k", now: 5_000) == .send(suppressedSinceLast: 2))
    }

    @Test("never more than maxKeys keys, however many distinct keys arrive")
    func keyCap() throws {
        var gate = AlertGate(policy: try policy(#"{"WindowSeconds":3600}"#, nil), maxKeys: 50)
        for i in 0..<1_000 {
            _ = gate.decide(key: "user-\(i)", now: Double(i))
            #expect(gate.keyCount <= 50)
        }
        #expect(gate.rows.contains { $0.key == "user-999" }, "the newest key survives")
    }

    @Test("state saved as rows and loaded again decides the same")
    func rowsRoundTrip() throws {
        let p = try policy(#"{"WindowSeconds":300}"#, #"{"Count":2,"WindowSeconds":60}"#)
        var original = AlertGate(policy: p)
        for (key, now) in [("a", 0.0), ("a", 1), ("a", 2), ("b", 5)] { _ = original.decide(key: key, now: now) }
        var restored = AlertGate(policy: p, rows: original.rows)
        #expect(restored.rows == original.rows)
        for (key, now) in [("a", 3.0), ("b", 6), ("a", 400), ("a", 401)] {
            #expect(restored.decide(key: key, now: now) == original.decide(key: key, now: now), "\(key) at \(now)")
        }
    }

    @Test("hostile times and keys do not break the gate")
    func hostileInputs() throws {
        var gate = AlertGate(policy: try policy(#"{"WindowSeconds":60}"#, nil))
        #expect(gate.decide(key: "k", now: .nan) == .send(suppressedSinceLast: 0))
        #expect(gate.decide(key: "k", now: .infinity) == .send(suppressedSinceLast: 0))
        #expect(gate.keyCount == 0)
        #expect(gate.decide(key: "k", now: 100) == .send(suppressedSinceLast: 0))
        #expect(gate.decide(key: "k", now: 50) == .suppress, "a clock that goes back stays within the window")
        let huge = String(repeating: "x", count: 100_000)
        _ = gate.decide(key: huge, now: 100)
        #expect(gate.rows.allSatisfy { $0.key.utf8.count <= AlertKey.maxKeyLength + 17 })
        #expect(gate.decide(key: huge, now: 101) == .suppress, "a long key is still recognised")
        #expect(gate.decide(key: huge + "y", now: 101) == .send(suppressedSinceLast: 0), "long keys differing only at the end stay distinct")
    }

    // MARK: - Keys

    static let event = SlackMessageFixtures.iamUserAccessDenied

    @Test("keys from paths and templates", arguments: [
        ("$.detail.userIdentity.arn", "arn:aws:iam::123837392027:user/bert-jan"),
        ("<$.detail.userIdentity.userName>|<$.detail.eventName>", "bert-jan|AssumeRole"),
        ("user <who> in <$.region>", "user bert-jan in us-east-1"),
        ("$.detail.tlsDetails", #"{"tlsVersion":"TLSv1.2","cipherSuite":"ECDHE-RSA-AES128-GCM-SHA256","clientProvidedHostHeader":"sts.us-east-1.amazonaws.com"}"#),
        ("$.detail.readOnly", "true"),
        ("$['detail']['eventName']", "AssumeRole"),
        ("$.detail.missing", ""),
        ("<$.detail.missing>-<$.resources[0]>", "-"),
        ("acct-<$.account>", "acct-123837392027"),
    ])
    func keys(_ text: String, _ expected: String) throws {
        let key = try AlertKey(parsing: text, paths: ["who": "$.detail.userIdentity.userName"])
        #expect(key.render(Self.event) == expected)
    }

    @Test("bad keys are rejected with a reason", arguments: [
        ("", "empty"), ("$.detail.*", "wildcards"), ("detail.x", "no path"), ("$x", "expected"), ("<nobody>", "unknown placeholder <nobody>"),
        ("a <$.x", "no closing"), ("$.a[x]", "array index"), ("$.a..b", "expected a key"),
    ])
    func badKeys(_ text: String, _ fragment: String) {
        do {
            _ = try AlertKey(parsing: text)
            Issue.record("\(text) was accepted")
        } catch {
            #expect(error.description.contains(fragment), "\(error.description)")
        }
    }

    @Test("Suppress and Threshold options are checked", arguments: [
        (#"{"WindowSeconds":0}"#, nil, "Suppress.WindowSeconds: must be a number of seconds from 1"),
        (#"{"Key":5,"WindowSeconds":60}"#, nil, "Suppress.Key: must be a string"),
        (#"{"WindowSeconds":60,"Window":1}"#, nil, "Suppress.Window: is not a known field"),
        (#"[]"#, nil, "Suppress: must be an object"),
        (nil, #"{"WindowSeconds":60}"#, "Threshold.Count: is required"),
        (nil, #"{"Count":2.5,"WindowSeconds":60}"#, "Threshold.Count: must be a whole number"),
        (nil, #"{"Count":5}"#, "Threshold.WindowSeconds: is required"),
        (#"{"Key":"$.a","WindowSeconds":60}"#, #"{"Key":"$.b","Count":2,"WindowSeconds":60}"#, "Threshold.Key: differs from Suppress.Key"),
    ] as [(String?, String?, String)])
    func badOptions(_ suppress: String?, _ threshold: String?, _ fragment: String) throws {
        do {
            _ = try policy(suppress, threshold)
            Issue.record("accepted")
        } catch let error as TargetOptionError {
            #expect(error.description.contains(fragment), "\(error.description)")
        }
    }

    @Test("a parsed policy keys events by its Key")
    func policyKey() throws {
        let p = try policy(nil, #"{"Key":"<$.detail.userIdentity.arn>/<$.detail.eventName>","Count":2,"WindowSeconds":60}"#)
        #expect(p.thresholdCount == 2 && p.thresholdWindowSeconds == 60 && p.suppressWindowSeconds == nil)
        #expect(p.key(for: Self.event) == "arn:aws:iam::123837392027:user/bert-jan/AssumeRole")
        var gate = AlertGate(policy: p)
        #expect(gate.decide(event: Self.event, now: 0) == .belowThreshold(count: 1))
        #expect(gate.decide(event: Self.event, now: 1) == .send(suppressedSinceLast: 1))
    }
}
