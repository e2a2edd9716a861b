/// Unix times as the ISO 8601 UTC text events and state carry: `2024-05-01T12:00:00Z`, or with
/// milliseconds `2024-05-01T12:00:00.250Z`.
///
/// One pure implementation (no `gmtime`, no locale, any thread) for every timestamp Tripline writes:
/// envelope `time`, ingestion time, state and dead-letter times, block requests, SNS envelopes.
public enum UTCTime {
    /// The earliest and latest times written (years 0001 and 9999); others are clamped.
    static let lowest = -62_135_596_800.0, highest = 253_402_300_799.999

    /// `seconds` since 1970 as ISO 8601 UTC. Without milliseconds the time is rounded down to the
    /// second; with them, to the nearest millisecond (the double nearest a time written with
    /// milliseconds is often just below it: truncating would show the millisecond before), or down
    /// when `truncating` (as SNS writes `Timestamp`).
    public static func iso8601(_ seconds: Double, milliseconds: Bool = false, truncating: Bool = false) -> String {
        let clamped = seconds.isNaN ? 0 : min(max(seconds, lowest), highest)
        let whole: Int64
        var millis: Int64 = 0
        if milliseconds {
            let total = Int64((clamped * 1000).rounded(truncating ? .down : .toNearestOrAwayFromZero))
            whole = total >= 0 ? total / 1000 : (total - 999) / 1000
            millis = total - whole * 1000
        } else {
            whole = Int64(clamped.rounded(.down))
        }
        var days = whole / 86_400
        var rest = whole % 86_400
        if rest < 0 { rest += 86_400; days -= 1 }
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        var text = pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + "T" + pad(rest / 3600, 2) + ":" + pad(rest % 3600 / 60, 2)
            + ":" + pad(rest % 60, 2)
        if milliseconds { text += "." + pad(millis, 3) }
        return text + "Z"
    }

    private static func pad(_ n: Int64, _ width: Int) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
