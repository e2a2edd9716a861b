import Foundation
import Testing
@testable import TriplineState

@Suite("State: times (ISO 8601 with milliseconds)")
struct StateTimeTests {
    @Test(arguments: [
        (0.0, "1970-01-01T00:00:00.000Z"),
        (1_714_564_800.25, "2024-05-01T12:00:00.250Z"),
        (951_782_400, "2000-02-29T00:00:00.000Z"),
        (1_700_000_000.5, "2023-11-14T22:13:20.500Z"),
        (4_102_444_799.875, "2099-12-31T23:59:59.875Z"),
        (1_714_564_800.001, "2024-05-01T12:00:00.001Z"),
        (1_714_564_800.999, "2024-05-01T12:00:00.999Z"),
        (1_714_564_800.9996, "2024-05-01T12:00:01.000Z"),
        (-0.001, "1969-12-31T23:59:59.999Z"),
    ])
    func formatsAndParsesKnownTimes(_ time: Double, _ text: String) throws {
        #expect(StateTime.iso8601(time) == text)
        let parsed = try #require(StateTime.parse(text))
        #expect(abs(parsed - time) < 0.000_5)
    }

    @Test func everyMillisecondRoundTrips() {
        var wrong: [String] = []
        for base in [1_714_564_800, 1_700_000_000, 86_399] {
            for millis in 0..<1000 {
                let text = StateTime.iso8601(Double(base)).dropLast(4) + String(format: "%03dZ", millis)
                guard let time = StateTime.parse(String(text)) else {
                    wrong.append("\(text): not parsed")
                    continue
                }
                if StateTime.iso8601(time) != String(text) { wrong.append("\(text) -> \(StateTime.iso8601(time))") }
            }
        }
        #expect(wrong.count == 0, "\(wrong.count) of 3000 did not round-trip, e.g. \(wrong.prefix(3))")
    }

    @Test func timesKeepTheirMillisecondThroughText() {
        // 2,000 times spread over 1970…2096, each a whole number of milliseconds.
        for step in Int64(0)..<2_000 {
            let millis = step * 1_999_999_999 + step % 1000
            let time = Double(millis) / 1000
            let text = StateTime.iso8601(time)
            #expect(StateTime.parse(text).map { ($0 * 1000).rounded() } == Double(millis), "\(time) -> \(text)")
        }
    }

    @Test(arguments: [
        ("2024-05-01T12:00:00Z", 1_714_564_800.0),
        ("2024-05-01T12:00:00.5Z", 1_714_564_800.5),
        ("2024-05-01T12:00:00.123456Z", 1_714_564_800.123456),
    ])
    func parsesWithAndWithoutFractions(_ text: String, _ expected: Double) throws {
        let parsed = try #require(StateTime.parse(text))
        #expect(abs(parsed - expected) < 0.000_001)
    }

    @Test(arguments: ["", "2024-05-01T12:00:00", "2024-05-01T12:00:0Z", "2024-05-01T12:00:00.12aZ", "yyyy-05-01T12:00:00Z", "2024-05-01T12:00:00+01:00"])
    func rejectsWhatIsNotTheFormat(_ text: String) {
        #expect(StateTime.parse(text) == nil)
    }

    @Test func nowIsTheWallClock() {
        #expect(abs(StateTime.now() - Date().timeIntervalSince1970) < 1)
    }
}
