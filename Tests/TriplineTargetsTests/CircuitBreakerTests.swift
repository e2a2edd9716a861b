import Testing
@testable import TriplineTargets

@Suite("Blocking: circuit breaker")
struct CircuitBreakerTests {
    @Test("at most N blocks per sliding window; the first refusal is marked")
    func slidingWindow() {
        var breaker = BlockCircuitBreaker(maxBlocks: 3, windowSeconds: 600)
        let table: [(Double, BlockCircuitBreaker.Decision)] = [
            (0, .allow(remaining: 2)), (10, .allow(remaining: 1)), (20, .allow(remaining: 0)),
            (30, .refuse(.circuitOpen(blocksInWindow: 3, limit: 3, windowSeconds: 600), firstRefusal: true)),
            (40, .refuse(.circuitOpen(blocksInWindow: 3, limit: 3, windowSeconds: 600), firstRefusal: false)),
            (600, .allow(remaining: 0)),      // the block at 0 has left the window
            (601, .refuse(.circuitOpen(blocksInWindow: 3, limit: 3, windowSeconds: 600), firstRefusal: true)),
        ]
        for (now, expected) in table {
            #expect(breaker.decide(now: now) == expected, "at t=\(now)")
        }
        #expect(breaker.isTripped && breaker.isOpen(now: 601) && !breaker.isOpen(now: 1_300))
    }

    @Test("refused attempts do not count as blocks")
    func refusalsDoNotCount() {
        var breaker = BlockCircuitBreaker(maxBlocks: 1, windowSeconds: 60)
        #expect(breaker.decide(now: 0).isAllowed)
        for t in 1..<50 { #expect(!breaker.decide(now: Double(t)).isAllowed) }
        #expect(breaker.blocksInWindow(now: 59) == 1)
        #expect(breaker.decide(now: 60).isAllowed)
    }

    @Test("state reloads; zero blocks means never; hostile times refuse", arguments: [0, 2])
    func edges(_ limit: Int) {
        var breaker = BlockCircuitBreaker(maxBlocks: limit, windowSeconds: 100, recentBlocks: [.nan, 50, 10, 90, 95])
        #expect(breaker.recentBlocks.count == limit, "only the newest \(limit) finite times are kept")
        #expect(!breaker.decide(now: .nan).isAllowed)
        #expect(!breaker.decide(now: 96).isAllowed)
        #expect(breaker.decide(now: 1_000).isAllowed == (limit > 0))
    }
}
