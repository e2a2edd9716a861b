#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import TriplineJSON

/// The current UTC time as ISO 8601 (`2024-05-01T12:00:00Z`), formatted at most once a second.
///
/// Fills an envelope's `time` when a record has no `eventTime` and `<aws.events.event.ingestion-time>`.
public struct IngestionClock: Sendable {
    private var second: Int = -1
    private var text = ""

    public init() {}

    public mutating func now() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let seconds = Int(now.tv_sec)
        if seconds != second {
            second = seconds
            text = Self.format(epochSeconds: seconds)
        }
        return text
    }

    /// ISO 8601 UTC for a Unix time.
    public static func format(epochSeconds: Int) -> String {
        UTCTime.iso8601(Double(epochSeconds))
    }
}
