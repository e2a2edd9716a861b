import Testing
@testable import TriplineRouter

@Suite("The run's summary and shutdown notes: wording")
struct RunSummaryTests {
    @Test("the part of a run before a reload is clean with deliveries queued and an input left incomplete: the next part takes both over")
    func reloadPartIsCleanWithWorkLeft() {
        var summary = RunSummary()
        summary.deliveriesLeftQueued = 3
        summary.incompleteInputs = 1
        #expect(!summary.isClean)
        summary.endedForReload = true
        #expect(summary.isClean)
        #expect(summary.text.hasPrefix("Summary (until the rules were reloaded): "), "\(summary.text)")
        summary.ephemeral = true
        #expect(summary.text.contains("; 3 queued, taken over by the reloaded rules"), "not dropped, even --ephemeral: \(summary.text)")
        #expect(summary.json.contains(#""reloaded":true"#), "\(summary.json)")
        summary.badRecords = 1
        #expect(!summary.isClean, "a bad record stays a bad record")
    }

    @Test("one event is 'event', more are 'events'")
    func countsAgree() {
        var summary = RunSummary()
        summary.sources = 1
        summary.eventsRead = 1
        summary.eventsMatched = 1
        #expect(summary.text.hasPrefix("Summary: 1 event read from 1 source in "), "\(summary.text)")
        #expect(summary.text.contains("\n  matched: 1 event\n"), "\(summary.text)")
        summary.eventsRead = 2
        summary.eventsMatched = 0
        #expect(summary.text.hasPrefix("Summary: 2 events read from 1 source in "), "\(summary.text)")
        #expect(summary.text.contains("\n  matched: 0 events\n"), "\(summary.text)")
    }

    @Test("an --ephemeral run says what it drops: nothing is 'left queued for the next run' or 'kept in the state database'")
    func ephemeralRunsSayWhatIsDropped() {
        var summary = RunSummary()
        summary.deliveriesFailed = 1
        summary.deliveriesLeftQueued = 2
        summary.deadLetterFileErrors = 1
        #expect(summary.text.contains("2 left queued for the next run") && summary.text.contains("kept in the state database: tripline dlq list"))
        summary.ephemeral = true
        let text = summary.text
        #expect(text.contains("1 failed (dead-lettered; --ephemeral keeps only those written to a DeadLetterConfig file)"), "\(text)")
        #expect(text.contains("2 still queued at the end, dropped (--ephemeral: nothing survives the run)"), "\(text)")
        #expect(text.contains("dead letters not appended to their dead-letter file: 1 (lost: --ephemeral keeps no state database"), "\(text)")
        #expect(!text.contains("next run") && !text.contains("dlq list"), "\(text)")
        #expect(summary.json.contains(#""ephemeral":true"#))
    }

    @Test("a --shutdown-timeout is said as it was set, whatever its size", arguments: [
        (1.0, "1s"), (10.0, "10s"), (0.5, "0.5s"), (300.0, "300s"),
    ])
    func settingsReadAsWritten(_ seconds: Double, _ expected: String) {
        #expect(Router.setting(seconds: seconds) == expected)
    }
}
