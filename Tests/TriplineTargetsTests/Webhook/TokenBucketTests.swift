import Foundation
import Testing
import TriplineTargets

/// A clock tests move by hand.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Double = 1000
    var now: Double { lock.lock(); defer { lock.unlock() }; return value }
    func advance(_ seconds: Double) { lock.lock(); value += seconds; lock.unlock() }
}

@Suite("Webhook rate limit: token bucket")
struct TokenBucketTests {
    @Test(arguments: [
        // rate, burst, reservations at one instant, the expected waits
        (1.0, 1.0, 4, [0.0, 1, 2, 3]),
        (5.0, 1.0, 10, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8]),
        (2.0, 3.0, 5, [0.0, 0, 0, 0.5, 1.0]),
    ])
    func reservationsAtOneInstantAreSpacedByTheRate(rate: Double, burst: Double, count: Int, waits: [Double]) {
        let clock = ManualClock()
        let bucket = TokenBucket(ratePerSecond: rate, burst: burst, clock: { clock.now })
        let got = (0..<count).map { _ in bucket.reserve() }
        for (g, w) in zip(got, waits) { #expect(abs(g - w) < 1e-9, "got \(got), expected \(waits)") }
    }

    @Test("forgiving the reservations of cut-off requests frees their slots but gives no burst, and keeps a pause")
    func forgivenReservations() {
        let clock = ManualClock()
        let bucket = TokenBucket(ratePerSecond: 0.2, burst: 1, clock: { clock.now })
        for _ in 0..<5 { _ = bucket.reserve() }          // slots at 0, 5, 10, 15, 20 s
        #expect(abs(bucket.reserve() - 25) < 1e-9)
        bucket.forgiveReservations()
        #expect(abs(bucket.reserve() - 5) < 1e-9, "the next request waits one interval, not behind the dead ones")

        let paused = TokenBucket(ratePerSecond: 1, burst: 1, clock: { clock.now })
        paused.pause(forSeconds: 8)
        _ = paused.reserve(); _ = paused.reserve()
        paused.forgiveReservations()
        #expect(paused.reserve() >= 8 - 1e-9, "a Retry-After pause still holds")
    }

    @Test func tokensRefillWithTimeButNotBeyondTheBurst() {
        let clock = ManualClock()
        let bucket = TokenBucket(ratePerSecond: 1, burst: 2, clock: { clock.now })
        #expect(bucket.tryAcquire() && bucket.tryAcquire())
        #expect(!bucket.tryAcquire())
        clock.advance(0.5)
        #expect(!bucket.tryAcquire())
        clock.advance(0.5)
        #expect(bucket.tryAcquire())
        clock.advance(100)
        #expect(abs(bucket.available - 2) < 1e-9)
        #expect(bucket.reserve() == 0 && bucket.reserve() == 0)
        #expect(abs(bucket.reserve() - 1) < 1e-9)
    }

    @Test("a Retry-After pause gives no slot before it ends, then spaces slots at the rate from there")
    func pauseDelaysSlotsAndResumesAtTheRate() {
        let clock = ManualClock()
        let bucket = TokenBucket(ratePerSecond: 2, burst: 5, clock: { clock.now })
        #expect(bucket.reserve() == 0)
        bucket.pause(forSeconds: 10)
        #expect([bucket.reserve(), bucket.reserve(), bucket.reserve()] == [10, 10.5, 11])
        bucket.pause(forSeconds: 3)  // shorter than the pause already set: no effect
        clock.advance(12)
        #expect(bucket.reserve() == 0, "the pause is over and the debt paid")
        let pause = DeliveryPause(clock: { clock.now })
        #expect(pause.remainingSeconds == 0)
        pause.pause(forSeconds: 30)
        pause.pause(forSeconds: 5)
        clock.advance(10)
        #expect(pause.remainingSeconds == 20)
        pause.pause(forSeconds: .infinity)
        #expect(pause.remainingSeconds == 20)
    }

    @Test func debtIsPaidBackBeforeNewTokens() {
        let clock = ManualClock()
        let bucket = TokenBucket(ratePerSecond: 10, clock: { clock.now })
        for _ in 0..<5 { _ = bucket.reserve() }  // waits 0, 0.1 … 0.4
        clock.advance(0.2)
        #expect(abs(bucket.reserve() - 0.3) < 1e-9)
    }

    @Test func sharedAcrossThreadsEveryReservationGetsItsOwnSlot() async {
        let clock = ManualClock()
        let bucket = TokenBucket(ratePerSecond: 100, clock: { clock.now })
        let waits = await withTaskGroup(of: Double.self) { group in
            for _ in 0..<200 { group.addTask { bucket.reserve() } }
            return await group.reduce(into: [Double]()) { $0.append($1) }
        }
        let sorted = waits.sorted()
        for (i, w) in sorted.enumerated() { #expect(abs(w - Double(i) / 100) < 1e-6) }
    }
}
