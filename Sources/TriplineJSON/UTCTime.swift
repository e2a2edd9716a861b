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

    /// The Unix time (seconds) of an ISO 8601 / RFC 3339 date-time; nil for anything else.
    ///
    /// Accepts `YYYY-MM-DDTHH:MM[:SS[.fraction]]` with `T`, `t` or a space between date and time,
    /// then `Z`, `z`, `±HH:MM`, `±HHMM`, `±HH` or nothing (read as UTC). Fields are range-checked
    /// (a leap second, `:60`, counts as the next second's start).
    ///
    /// The result is the nearest `Double`, which may round a long fraction up to the next second
    /// (at today's times a `Double` resolves about a quarter of a microsecond): to drop the
    /// fraction exactly, use ``parseWholeSeconds(_:)``.
    public static func parse(_ text: String) -> Double? {
        guard let parts = components(text) else { return nil }
        var value = 0.0, scale = 0.1
        for digit in parts.fraction {
            value += Double(digit - 48) * scale
            scale /= 10
        }
        return Double(parts.whole) + value
    }

    /// The whole Unix seconds of an ISO 8601 / RFC 3339 date-time, any fraction dropped exactly
    /// (rounded down, however many digits it has: `23:59:59.9999999Z` stays in second 59); nil for
    /// anything ``parse(_:)`` refuses.
    public static func parseWholeSeconds(_ text: String) -> Int64? {
        components(text)?.whole
    }

    /// Whole seconds since 1970 and the fraction's digits (ASCII, possibly none), read with integer
    /// arithmetic only.
    private static func components(_ text: String) -> (whole: Int64, fraction: [UInt8])? {
        let b = Array(text.utf8)
        var i = 0
        func digits(_ count: Int) -> Int? {
            guard i + count <= b.count else { return nil }
            var value = 0
            for k in i..<(i + count) {
                guard (48...57).contains(b[k]) else { return nil }
                value = value * 10 + Int(b[k] - 48)
            }
            i += count
            return value
        }
        func expect(_ byte: UInt8) -> Bool {
            guard i < b.count, b[i] == byte else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect(UInt8(ascii: "-")), let month = digits(2), expect(UInt8(ascii: "-")), let day = digits(2),
              i < b.count, b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: "t") || b[i] == UInt8(ascii: " ") else { return nil }
        i += 1
        guard let hour = digits(2), expect(UInt8(ascii: ":")), let minute = digits(2) else { return nil }
        var second = 0
        var fraction: [UInt8] = []
        if expect(UInt8(ascii: ":")) {
            guard let s = digits(2) else { return nil }
            second = s
            if i < b.count, b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: ",") {
                i += 1
                let start = i
                while i < b.count, (48...57).contains(b[i]) { i += 1 }
                guard i > start else { return nil }
                fraction = Array(b[start..<i])
            }
        }
        var offset = 0
        if i < b.count {
            if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
                i += 1
            } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
                let sign = b[i] == UInt8(ascii: "-") ? -1 : 1
                i += 1
                guard let hours = digits(2), hours <= 23 else { return nil }
                var minutes = 0
                if i < b.count {
                    _ = expect(UInt8(ascii: ":"))
                    guard let m = digits(2), m <= 59 else { return nil }
                    minutes = m
                }
                offset = sign * (hours * 3600 + minutes * 60)
            }
        }
        guard i == b.count, (1...12).contains(month), hour <= 23, minute <= 59, second <= 60 else { return nil }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard (1...monthDays[month - 1]).contains(day) else { return nil }
        // Days since 1970-01-01 from the civil date (Howard Hinnant's algorithm).
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = Int64(month > 2 ? month - 3 : month + 9)
        let doy = (153 * mp + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return (days * 86_400 + Int64(hour * 3600 + minute * 60 + second - offset), fraction)
    }

    private static func pad(_ n: Int64, _ width: Int) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
