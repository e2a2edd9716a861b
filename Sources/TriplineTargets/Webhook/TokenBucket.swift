import Foundation

/// A thread-safe token bucket: at most `burst` deliveries at once, refilled at `ratePerSecond`.
///
/// One bucket is shared by every in-flight delivery of a target. ``reserve()`` never blocks: it takes a
/// token (going into debt when none is left) and returns how long the caller must wait before using it,
/// so reservations made in order are spaced exactly `1 / ratePerSecond` apart once the burst is spent.
/// ``WebhookClient`` reserves when a request is submitted and holds the request until its slot, without
/// blocking its thread.
public final class TokenBucket: @unchecked Sendable {
    /// Seconds on a monotonic clock.
    public typealias Clock = @Sendable () -> Double

    public let ratePerSecond: Double
    public let burst: Double
    private let clock: Clock
    private let lock = NSLock()
    private var tokens: Double
    private var updatedAt: Double

    /// `ratePerSecond` must be positive and finite; `burst` is clamped to at least 1.
    /// The bucket starts full. `clock` defaults to the monotonic clock; tests inject their own.
    public init(ratePerSecond: Double, burst: Double = 1, clock: @escaping Clock = { monotonicSeconds() }) {
        precondition(ratePerSecond > 0 && ratePerSecond.isFinite, "TokenBucket rate must be positive and finite")
        self.ratePerSecond = ratePerSecond
        self.burst = max(1, burst.isFinite ? burst : 1)
        self.clock = clock
        self.tokens = self.burst
        self.updatedAt = clock()
    }

    /// Takes one token; returns the seconds to wait before the delivery may start (0 when a token was available).
    public func reserve() -> Double {
        lock.lock(); defer { lock.unlock() }
        refill()
        tokens -= 1
        // After pause(forSeconds:), refilling resumes only at `updatedAt`, in the future: slots count from there.
        let pausedFor = max(0, updatedAt - clock())
        return pausedFor + (tokens >= 0 ? 0 : -tokens / ratePerSecond)
    }

    /// Gives no slot before `seconds` from now (a server's `Retry-After`), then one token, refilling at the
    /// rate from there: deliveries resume spaced out, not all at once. Reservations made before keep their slots.
    public func pause(forSeconds seconds: Double) {
        guard seconds.isFinite, seconds > 0 else { return }
        lock.lock(); defer { lock.unlock() }
        refill()
        let end = clock() + seconds
        if end > updatedAt {
            updatedAt = end
            tokens = 1
        }
    }

    /// Drops the reservations still waiting (tokens owed), keeping a pause and giving no burst: for a
    /// bucket handed to new rules after the requests that reserved were cut off (they reserve again
    /// when they are sent again). The next reservation waits one interval, or until the pause ends.
    public func forgiveReservations() {
        lock.lock(); defer { lock.unlock() }
        refill()
        if tokens < 0 { tokens = 0 }
    }

    /// Takes a token only if one is available now.
    public func tryAcquire() -> Bool {
        lock.lock(); defer { lock.unlock() }
        refill()
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    /// Tokens available now (negative while reservations are waiting).
    public var available: Double {
        lock.lock(); defer { lock.unlock() }
        refill()
        return tokens
    }

    private func refill() {
        let now = clock()
        if now > updatedAt {
            tokens = min(burst, tokens + (now - updatedAt) * ratePerSecond)
            updatedAt = now
        }
    }
}
