#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TriplineJSON

/// A project whose rules are changed while `run --follow` goes on: each rule's handler saves the
/// events it gets as `out/RULE-….json`.
private struct ReloadProject {
    let root: URL
    var out: URL { root.appendingPathComponent("out") }

    init(root: URL) throws {
        self.root = root
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("in"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("rules"), withIntermediateDirectories: true)
        try writeHandler()
        chmod(path("h.sh"), 0o755)
    }

    /// Writes the rules' handler: `prelude` (shell lines), then saving the event as `out/RULE-….json`.
    func writeHandler(prelude: String = "") throws {
        try write("#!/bin/sh\n" + prelude + """
            name="\(out.path)/$TRIPLINE_RULE-$(date +%s%N)-$$"
            cat > "$name.tmp" && mv "$name.tmp" "$name.json"
            """, "h.sh")
    }

    /// Waits until the file `relative` exists (at most 20 s), as a handler makes it to say it started.
    func waitForFile(_ relative: String) {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline && !FileManager.default.fileExists(atPath: path(relative)) { usleep(20_000) }
    }

    func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    func write(_ text: String, _ relative: String) throws {
        try Data(text.utf8).write(to: root.appendingPathComponent(relative))
    }

    /// Writes rule `name`, matching every CloudTrail record of the tests' logs.
    func writeRule(_ name: String) throws {
        try write(#"{"Name":"\#(name)","State":"ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS","EventPattern":{"detail":{"eventName":["DeleteBucket"]}},"Targets":[{"Id":"save","Function":{"Handler":"\#(path("h.sh"))"}}]}"#,
                  "rules/\(name).json")
    }

    /// `RULE:eventID` of every delivery so far, sorted.
    func delivered() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.compactMap { name -> String? in
            guard let data = try? Data(contentsOf: out.appendingPathComponent(name)),
                  let event = try? JSONParser.parse([UInt8](data)), let id = event["detail"]?["eventID"]?.stringValue else { return "unreadable \(name)" }
            return String(name.prefix { $0 != "-" }) + ":" + id
        }.sorted()
    }

    /// Starts `run --follow in` on this project (with `extra` inputs) and waits until it follows the folder.
    func startFollowing(_ tripline: TriplineBinary, extra: [String] = []) throws -> BackgroundRun {
        let run = try BackgroundRun(tripline, ["run", "--rules", "rules", "--state-dir", "state", "--follow", "in"] + extra, in: root)
        #expect(waitForLog(run, "following in"))
        return run
    }

    func waitForDeliveries(_ count: Int, seconds: Double = 20) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline && delivered().count < count { usleep(50_000) }
        return delivered().count >= count
    }
}

/// Waits until the run's standard error (or `output`) holds `text` (at most 20 s); whether it does.
private func waitForLog(_ run: BackgroundRun, _ text: String, output: Bool = false) -> Bool {
    let deadline = Date().addingTimeInterval(20)
    while Date() < deadline {
        if ((try? String(contentsOf: output ? run.stdout : run.stderr, encoding: .utf8)) ?? "").contains(text) { return true }
        usleep(20_000)
    }
    return false
}

/// Rules that block the caller of a CloudTrail `StopLogging` call (dry run, the enforce handler takes
/// 1 s and touches `enforcing` first) and save each `User Blocked` alert with the project's handler;
/// and the event of such a call, by alice.
private func writeBlockingRules(_ project: ReloadProject) throws -> String {
    try project.write("#!/bin/sh\ncat > /dev/null\ntouch \"\(project.path("enforcing"))\"\nsleep 1\n", "enforce.sh")
    chmod(project.path("enforce.sh"), 0o755)
    let block = #"{"Name":"block","State":"ENABLED","EventPattern":{"source":["aws.cloudtrail"]},"Targets":[{"Id":"block","BlockUser":{"Principal":"$.detail.userIdentity","Reason":"test","DurationSeconds":3600,"Enforce":"\#(project.path("enforce.sh"))"}}]}"#
    let alerts = #"{"Name":"alerts","State":"ENABLED","EventPattern":{"source":["tripline"],"detail-type":["User Blocked"]},"Targets":[{"Id":"save","Function":{"Handler":"\#(project.path("h.sh"))"}}]}"#
    try project.write("[" + block + "," + alerts + "]", "rules/rules.json")
    return #"{"eventName":"StopLogging","eventSource":"cloudtrail.amazonaws.com","readOnly":false,"eventID":"e1","recipientAccountId":"111122223333","userIdentity":{"type":"IAMUser","userName":"alice","accountId":"111122223333","arn":"arn:aws:iam::111122223333:user/alice","principalId":"AIDAALICE"}}"#
}

/// The `User Blocked` alerts saved so far, waiting up to 20 s for the first.
private func userBlockedAlerts(_ project: ReloadProject) -> [String] {
    let names = { ((try? FileManager.default.contentsOfDirectory(atPath: project.out.path)) ?? []).filter { $0.hasPrefix("alerts-") && $0.hasSuffix(".json") } }
    let until = Date().addingTimeInterval(20)
    while Date() < until && names().isEmpty { usleep(50_000) }
    return names()
}

@Suite("SIGHUP reloads the rules of a running 'run' (end to end)")
struct RuleReloadTests {
    @Test("changed rules take over between events: later events go to the new rule only, and nothing read is read again")
    func changedRulesTakeOver() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try ReloadProject(root: dir)
            try project.writeRule("first")
            let follow = try project.startFollowing(tripline)
            defer { follow.signal(SIGKILL) }
            try project.write(cloudTrailLog(["a1"]), "in/a.json")
            #expect(project.waitForDeliveries(1), "\(project.delivered())")

            try FileManager.default.removeItem(atPath: project.path("rules/first.json"))
            try project.writeRule("second")
            follow.signal(SIGHUP)
            #expect(waitForLog(follow, "1 rule reloaded from rules (1 enabled)"))
            try project.write(cloudTrailLog(["b1"]), "in/b.json")
            #expect(project.waitForDeliveries(2), "\(project.delivered())")
            usleep(500_000)   // time for a wrong third delivery to show

            follow.signal(SIGTERM)
            let result = follow.wait()
            #expect(result.status == 0, "\(result)")
            #expect(project.delivered() == ["first:a1", "second:b1"], "a.json is not read again by the new rules")
            #expect(result.stdout.contains("Summary (until the rules were reloaded): 1 event read"), "\(result.stdout)")
            #expect(result.stdout.contains("Summary (stopped early): 1 event read"), "\(result.stdout)")
            #expect(result.stdout.contains("files read before the reload: 1"), "\(result.stdout)")
        }
    }

    @Test("a burst of SIGHUPs reloads at most once a second, not once per signal, and the last edit still takes over")
    func hangupBurstIsCoalesced() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try ReloadProject(root: dir)
            try project.writeRule("first")
            let follow = try project.startFollowing(tripline)
            defer { follow.signal(SIGKILL) }
            let started = Date()
            for i in 0..<100 {
                if i == 99 {
                    try FileManager.default.removeItem(atPath: project.path("rules/first.json"))
                    try project.writeRule("last")
                }
                follow.signal(SIGHUP)
                usleep(5_000)
            }
            let burst = Date().timeIntervalSince(started)
            #expect(waitForLog(follow, "1 rule reloaded from rules (1 enabled)"))
            // The edit made with the last signal takes over within a couple of seconds, however many came before it
            // (signals during a wait come together into one more reading after it).
            usleep(3_500_000)
            try project.write(cloudTrailLog(["b1"]), "in/b.json")
            #expect(project.waitForDeliveries(1), "\(project.delivered())")
            follow.signal(SIGTERM)
            let result = follow.wait()
            #expect(project.delivered() == ["last:b1"], "\(project.delivered())")
            let reloads = result.stderr.components(separatedBy: "tripline run: reloading with").count - 1
            #expect(reloads >= 1 && Double(reloads) <= burst + 3, "\(reloads) reloads for 100 signals in \(burst)s: \(result.stderr)")
        }
    }

    @Test("rules with a problem are reported with their place, and the rules in force stay")
    func brokenRulesAreRefused() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try ReloadProject(root: dir)
            try project.writeRule("first")
            let follow = try project.startFollowing(tripline)
            defer { follow.signal(SIGKILL) }
            try project.write(#"{"Name":"broken","EventPattern":{"detail":{"eventName":[{"prefx":"Delete"}]}},"Targets":[]}"#, "rules/broken.json")
            follow.signal(SIGHUP)
            #expect(waitForLog(follow, "the rules in force stay"))
            try project.write(cloudTrailLog(["a1"]), "in/a.json")
            #expect(project.waitForDeliveries(1), "\(project.delivered())")

            follow.signal(SIGTERM)
            let result = follow.wait()
            #expect(result.status == 0, "\(result)")
            #expect(project.delivered() == ["first:a1"])
            #expect(result.stderr.contains("rules/broken.json:1:"), "\(result.stderr)")
            #expect(result.stderr.contains(#"unknown operator "prefx""#), "\(result.stderr)")
            #expect(!result.stderr.contains("reloaded from"), "\(result.stderr)")
        }
    }

    @Test("a run that reads standard input says why it cannot reload, and goes on with its rules")
    func standardInputRunRefuses() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try ReloadProject(root: dir)
            try project.writeRule("first")
            let follow = try project.startFollowing(tripline, extra: ["-"])
            defer { follow.signal(SIGKILL) }
            try project.writeRule("second")
            follow.signal(SIGHUP)
            #expect(waitForLog(follow, "this run reads standard input"))
            try project.write(cloudTrailLog(["a1"]), "in/a.json")
            #expect(project.waitForDeliveries(1), "\(project.delivered())")

            follow.signal(SIGTERM)
            let result = follow.wait()
            #expect(result.status == 0, "\(result)")
            #expect(project.delivered() == ["first:a1"], "the rules read at the start stay")
        }
    }

    @Test("SIGTERM while a reload waits for a running delivery is a first signal: the delivery finishes, the run ends without reloading")
    func signalDuringReloadWait() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try ReloadProject(root: dir)
            try project.writeHandler(prelude: "touch \"\(project.path("started"))\"\nsleep 3\n")
            try project.writeRule("first")
            let follow = try project.startFollowing(tripline)
            defer { follow.signal(SIGKILL) }
            try project.write(cloudTrailLog(["a1"]), "in/a.json")
            project.waitForFile("started")
            try project.writeRule("second")
            follow.signal(SIGHUP)
            #expect(waitForLog(follow, "waiting up to 10s for the 1 running delivery"))
            follow.signal(SIGTERM)
            let result = follow.wait()
            #expect(result.status == 0, "not quit at once (that is status 143): \(result)")
            #expect(project.delivered() == ["first:a1"], "the running delivery finished")
            #expect(result.stderr.contains("the rules were not reloaded"), "\(result.stderr)")
            #expect(!result.stderr.contains("reloaded from"), "\(result.stderr)")
        }
    }

    @Test("--from-start applies to the inputs as the run began: after a reload, reading goes on from the checkpoints")
    func fromStartOnlyOnce() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try ReloadProject(root: dir)
            try project.writeRule("first")
            let follow = try project.startFollowing(tripline, extra: ["--from-start"])
            defer { follow.signal(SIGKILL) }
            try project.write(cloudTrailLog(["a1"]), "in/a.json")
            #expect(project.waitForDeliveries(1), "\(project.delivered())")
            follow.signal(SIGHUP)
            #expect(waitForLog(follow, "1 rule reloaded from rules (1 enabled)"))
            try project.write(cloudTrailLog(["b1"]), "in/b.json")
            #expect(project.waitForDeliveries(2), "\(project.delivered())")

            follow.signal(SIGTERM)
            let result = follow.wait()
            #expect(result.status == 0, "\(result)")
            #expect(project.delivered() == ["first:a1", "first:b1"])
            #expect(result.stdout.contains("Summary (stopped early): 1 event read"), "a.json is not read again: \(result.stdout)")
        }
    }

    @Test("a handler the reload's pause had to interrupt is retried, and handlers started after the reload run to the end")
    func handlersRunAfterAnInterruptingReload() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try ReloadProject(root: dir)
            // Slow on its first call only: the reload's pause (--shutdown-timeout 1) interrupts that one.
            try project.writeHandler(prelude: "if [ ! -f \"\(project.path("slept"))\" ]; then touch \"\(project.path("slept"))\"; sleep 5; fi\n")
            try project.writeRule("first")
            let follow = try project.startFollowing(tripline, extra: ["--shutdown-timeout", "1", "--retry-delay", "0.2,0.5"])
            defer { follow.signal(SIGKILL) }
            try project.write(cloudTrailLog(["a1"]), "in/a.json")
            project.waitForFile("slept")
            follow.signal(SIGHUP)
            #expect(waitForLog(follow, "1 rule reloaded from rules (1 enabled)"))
            try project.write(cloudTrailLog(["b1"]), "in/b.json")
            #expect(project.waitForDeliveries(2), "\(project.delivered())")

            follow.signal(SIGTERM)
            let result = follow.wait()
            #expect(result.status == 0, "\(result)")
            #expect(project.delivered() == ["first:a1", "first:b1"], "\(result.stderr)")
        }
    }

    @Test("a SIGHUP while a reload waits for the run to pause reads the files again: the newest rules take over")
    func secondHangupDuringThePause() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try ReloadProject(root: dir)
            try project.writeHandler(prelude: "touch \"\(project.path("started"))\"\nsleep 2\n")
            try project.writeRule("first")
            let follow = try project.startFollowing(tripline)
            defer { follow.signal(SIGKILL) }
            try project.write(cloudTrailLog(["a1"]), "in/a.json")
            project.waitForFile("started")
            try FileManager.default.removeItem(atPath: project.path("rules/first.json"))
            try project.writeRule("second")
            follow.signal(SIGHUP)
            #expect(waitForLog(follow, "waiting up to 10s for the 1 running delivery"))
            try FileManager.default.removeItem(atPath: project.path("rules/second.json"))
            try project.writeRule("third")
            follow.signal(SIGHUP)
            #expect(waitForLog(follow, "instead, once the run has paused"))
            #expect(waitForLog(follow, "1 rule reloaded from rules (1 enabled)"))
            try project.write(cloudTrailLog(["b1"]), "in/b.json")
            #expect(project.waitForDeliveries(2), "\(project.delivered())")

            follow.signal(SIGTERM)
            let result = follow.wait()
            #expect(result.status == 0, "\(result)")
            #expect(project.delivered() == ["first:a1", "third:b1"], "\(result.stderr)")
        }
    }

    @Test("a delivery queued for a rule the reload removed is dead-lettered, saying the reloaded rules have no such rule")
    func queuedDeliveryOfARemovedRule() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try ReloadProject(root: dir)
            try project.write("#!/bin/sh\ntouch \"\(project.path("failed"))\"\nexit 1\n", "h.sh")
            try project.writeRule("first")
            let follow = try project.startFollowing(tripline, extra: ["--retry-delay", "3,3"])
            defer { follow.signal(SIGKILL) }
            try project.write(cloudTrailLog(["a1"]), "in/a.json")
            project.waitForFile("failed")
            try FileManager.default.removeItem(atPath: project.path("rules/first.json"))
            try project.writeRule("second")
            follow.signal(SIGHUP)
            #expect(waitForLog(follow, "1 delivery queued before the reload goes on with the new rules"))
            #expect(waitForLog(follow, "dead-lettered: the rules reloaded while it was queued have no rule 'first'", output: true))

            follow.signal(SIGTERM)
            let result = follow.wait()
            #expect(result.stdout.contains("1 resumed from before the reload"), "\(result.stdout)")
            #expect(result.status == 1, "a dead letter: \(result)")
        }
    }

    @Test("a User Blocked event a block emits while the reload's pause waits for it is routed, not lost")
    func blockEventDuringThePause() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try ReloadProject(root: dir)
            let record = try writeBlockingRules(project)
            let follow = try project.startFollowing(tripline, extra: ["--dry-run-blocks"])
            defer { follow.signal(SIGKILL) }
            try project.write(record + "\n", "in/e1.ndjson")
            project.waitForFile("enforcing")
            follow.signal(SIGHUP)
            #expect(waitForLog(follow, "2 rules reloaded from rules (2 enabled)"))
            #expect(userBlockedAlerts(project).count == 1, "the User Blocked alert was delivered once")

            follow.signal(SIGTERM)
            let result = follow.wait()
            #expect(result.status == 0, "\(result)")
        }
    }

    @Test("the same when the reload comes while a run without --follow waits for its last deliveries at the end of its input")
    func blockEventDuringTheFinalWait() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try ReloadProject(root: dir)
            let record = try writeBlockingRules(project)
            try project.write(record + "\n", "events.ndjson")
            let run = try BackgroundRun(tripline, ["run", "--rules", "rules", "--state-dir", "state", "--dry-run-blocks", "events.ndjson"], in: dir)
            defer { run.signal(SIGKILL) }
            project.waitForFile("enforcing")
            run.signal(SIGHUP)
            #expect(userBlockedAlerts(project).count == 1, "the User Blocked alert was delivered once")
            let result = run.wait()
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.contains("Summary (until the rules were reloaded)"), "\(result.stdout)")
        }
    }
}
