#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Seconds on the monotonic clock: for durations and deadlines, never for dates.
public func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1_000_000_000
}

/// A duration for people: `0.012s`, `1.5s`, `2m03s`.
public func formatSeconds(_ seconds: Double) -> String {
    if seconds < 10 { return String(format: "%.3fs", seconds) }
    if seconds < 120 { return String(format: "%.1fs", seconds) }
    return String(format: "%dm%02ds", Int(seconds) / 60, Int(seconds) % 60)
}
