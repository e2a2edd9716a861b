#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import TriplineJSON

/// Unix times as stored in the state database (REAL seconds) and as shown (ISO 8601 UTC, milliseconds).
public enum StateTime {
    /// Seconds since 1970 on the wall clock.
    public static func now() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1_000_000_000
    }

    /// `2024-05-01T12:00:00.250Z`, to the nearest millisecond.
    ///
    /// Rounded, not truncated: the double nearest a time written with milliseconds (what ``parse(_:)``
    /// returns) is often just below it, and truncating would show the millisecond before.
    public static func iso8601(_ time: Double) -> String {
        UTCTime.iso8601(time, milliseconds: true)
    }

    /// The Unix time of `YYYY-MM-DDTHH:MM:SS[.fff]Z`; nil for anything else.
    public static func parse(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.last == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                guard index < bytes.count, (48...57).contains(bytes[index]) else { return nil }
                value = value * 10 + Int(bytes[index] - 48)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
              let minute = number(14..<16), let second = number(17..<19) else { return nil }
        var fraction = 0.0
        if bytes[19] == UInt8(ascii: ".") {
            var scale = 0.1
            for index in 20..<(bytes.count - 1) {
                guard (48...57).contains(bytes[index]) else { return nil }
                fraction += Double(bytes[index] - 48) * scale
                scale /= 10
            }
        }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        return Double(timegm(&parts)) + fraction
    }
}
