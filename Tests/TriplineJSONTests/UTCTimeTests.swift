#if canImport(Glibc)
import Glibc
#endif
import SeededRandom
import Testing
import TriplineJSON

@Suite("UTC timestamps: ISO 8601 text for Unix times")
struct UTCTimeTests {
    @Test("known times, with and without milliseconds", arguments: [
        (0.0, false, "1970-01-01T00:00:00Z"), (0.0, true, "1970-01-01T00:00:00.000Z"),
        (951_782_400.0, false, "2000-02-29T00:00:00Z"), (1_709_287_200.25, true, "2024-03-01T10:00:00.250Z"),
        (1_709_287_200.9996, true, "2024-03-01T10:00:01.000Z"), (1_709_287_200.9996, false, "2024-03-01T10:00:00Z"),
        (-1.0, false, "1969-12-31T23:59:59Z"), (-0.5, true, "1969-12-31T23:59:59.500Z"),
        (1e15, false, "9999-12-31T23:59:59Z"), (-1e15, false, "0001-01-01T00:00:00Z"), (Double.nan, false, "1970-01-01T00:00:00Z"),
    ])
    func knownTimes(seconds: Double, milliseconds: Bool, expected: String) {
        #expect(UTCTime.iso8601(seconds, milliseconds: milliseconds) == expected)
    }

    @Test("agrees with the C library's gmtime on 20,000 random times from 1900 to 2200")
    func agreesWithGmtime() {
        var random = SplitMix64(seed: 8601)
        for _ in 0..<20_000 {
            let seconds = Int(random.next() % 9_467_280_000) - 2_208_988_800
            var time = time_t(seconds)
            var parts = tm()
            gmtime_r(&time, &parts)
            func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
            let expected = "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
            #expect(UTCTime.iso8601(Double(seconds)) == expected, "\(seconds)")
        }
    }

    @Test("parses ISO 8601 date-times in the forms logs use", arguments: [
        ("2024-03-01T10:00:00Z", 1_709_287_200.0), ("2024-03-01t10:00:00z", 1_709_287_200.0),
        ("2024-03-01T10:00:00.250Z", 1_709_287_200.25), ("2024-03-01 10:00:00", 1_709_287_200.0),
        ("2024-03-01T12:00:00+02:00", 1_709_287_200.0), ("2024-03-01T05:30:00-0430", 1_709_287_200.0),
        ("2024-03-01T11:00:00+01", 1_709_287_200.0), ("2024-03-01T10:00Z", 1_709_287_200.0),
        ("2000-02-29T00:00:00Z", 951_782_400.0), ("1969-12-31T23:59:59Z", -1.0), ("2016-12-31T23:59:60Z", 1_483_228_800.0),
    ] as [(String, Double)])
    func parsesDateTimes(_ text: String, _ seconds: Double) {
        #expect(UTCTime.parse(text) == seconds)
    }

    @Test("rejects what is not a date-time", arguments: [
        "", "...", "redacted", "2024-03-01", "2024-13-01T00:00:00Z", "2023-02-29T00:00:00Z", "2024-03-01T24:00:00Z",
        "2024-03-01T10:60:00Z", "2024-03-01T10:00:00.Z", "2024-03-01T10:00:00+25:00", "2024-03-01T10:00:00Zjunk", "12345",
        "２０２４-03-01T10:00:00Z",
    ])
    func rejectsOtherText(_ text: String) {
        #expect(UTCTime.parse(text) == nil)
    }

    @Test("parse inverts iso8601 on 20,000 random times")
    func parseInvertsWriting() {
        var random = SplitMix64(seed: 3339)
        for _ in 0..<20_000 {
            let seconds = Double(Int(random.next() % 9_467_280_000) - 2_208_988_800)
            #expect(UTCTime.parse(UTCTime.iso8601(seconds)) == seconds)
        }
    }

    @Test("whole seconds drop any fraction exactly, however many digits", arguments: [
        ("2024-12-31T23:59:59.9999999Z", "2024-12-31T23:59:59Z"), ("2024-12-31T23:59:59.99999999999999999999Z", "2024-12-31T23:59:59Z"),
        ("2024-12-31T23:59:59.999999Z", "2024-12-31T23:59:59Z"), ("2024-12-31T23:59:59,9999999Z", "2024-12-31T23:59:59Z"),
        ("1969-12-31T23:59:59.9999999Z", "1969-12-31T23:59:59Z"), ("2025-01-01T01:59:59.9999999+02:00", "2024-12-31T23:59:59Z"),
        ("2024-03-01T10:00:00Z", "2024-03-01T10:00:00Z"),
    ] as [(String, String)])
    func wholeSecondsTruncate(_ text: String, _ expected: String) throws {
        let seconds = try #require(UTCTime.parseWholeSeconds(text))
        #expect(UTCTime.iso8601(Double(seconds)) == expected)
    }

    @Test("whole seconds refuse what parse refuses")
    func wholeSecondsRefuse() {
        for text in ["", "2024-03-01T10:00:00.Z", "2023-02-29T00:00:00Z", "2024-03-01T10:00:00Zjunk"] {
            #expect(UTCTime.parseWholeSeconds(text) == nil)
        }
    }
}
