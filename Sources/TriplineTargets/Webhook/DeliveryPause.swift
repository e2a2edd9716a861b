import Foundation

/// A thread-safe "send nothing to this URL before…" shared by every delivery to one URL.
///
/// Set when the server answers 429 or 503 with `Retry-After`: the receiving service limits per URL, so
/// every delivery to it waits, not only the one that was told. ``WebhookClient`` checks it when a request
/// is about to start and holds the request (as a rate-limit hold, without blocking a thread) until then.
public final class DeliveryPause: @unchecked Sendable {
    private let clock: TokenBucket.Clock
    private let lock = NSLock()
    private var until = -Double.infinity

    /// `clock` defaults to the monotonic clock; tests inject their own.
    public init(clock: @escaping TokenBucket.Clock = { monotonicSeconds() }) {
        self.clock = clock
    }

    /// Pauses for `seconds` from now; an earlier end already set is extended, never shortened.
    /// A non-finite or non-positive value is ignored.
    public func pause(forSeconds seconds: Double) {
        guard seconds.isFinite, seconds > 0 else { return }
        let end = clock() + seconds
        lock.lock(); defer { lock.unlock() }
        until = max(until, end)
    }

    /// Seconds left before requests may start again; 0 when not paused.
    public var remainingSeconds: Double {
        let now = clock()
        lock.lock(); defer { lock.unlock() }
        return max(0, until - now)
    }
}
