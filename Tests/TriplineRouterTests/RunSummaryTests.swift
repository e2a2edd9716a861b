import Testing
@testable import TriplineRouter

@Suite("The run's summary and shutdown notes: wording")
struct RunSummaryTests {
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

    @Test("a --shutdown-timeout is said as it was set, whatever its size", arguments: [
        (1.0, "1s"), (10.0, "10s"), (0.5, "0.5s"), (300.0, "300s"),
    ])
    func settingsReadAsWritten(_ seconds: Double, _ expected: String) {
        #expect(Router.setting(seconds: seconds) == expected)
    }
}
