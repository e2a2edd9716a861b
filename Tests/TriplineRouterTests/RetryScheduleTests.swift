import Testing
@testable import TriplineRouter

/// xorshift64*: a tiny seeded generator, so every draw of these tests reproduces.
private struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }

    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
}

/// Always the same draw. 1 makes `Double.random(in:)` return the range's lower bound and `.max` its upper
/// bound (0 would spin forever in the standard library's rejection sampling).
private struct ConstantGenerator: RandomNumberGenerator {
    let value: UInt64
    mutating func next() -> UInt64 { value }
}

@Suite("Retry schedule: full jitter, Retry-After, retry and age limits")
struct RetryScheduleTests {
    static let now = 1_700_000_000.0
    /// A policy that never gives up in these tests unless they say so.
    static let generous = RetryPolicy(maximumRetryAttempts: 185, maximumEventAgeInSeconds: 86_400)

    private func delay(_ schedule: RetrySchedule, attempt: Int, policy: RetryPolicy = generous, acceptedAt: Double = now,
                       retryAfter: Double? = nil, random: inout some RandomNumberGenerator) -> Double? {
        switch schedule.decision(afterFailedAttempt: attempt, policy: policy, acceptedAt: acceptedAt, now: Self.now,
                                 retryAfter: retryAfter, random: &random) {
        case .retry(let at): return at - Self.now
        case .giveUp: return nil
        }
    }

    /// After attempt n the delay is within 0…min(max, base·2^(n-1)), spread over that range.
    @Test(arguments: [
        (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 16.0), (6, 32.0), (7, 64.0), (8, 128.0), (9, 256.0), (10, 300.0), (11, 300.0),
        (50, 300.0), (185, 300.0),
    ])
    func delaysAreFullJitterUnderTheCeiling(_ attempt: Int, _ ceiling: Double) throws {
        let schedule = RetrySchedule(baseDelay: 1, maxDelay: 300)
        var random = SeededGenerator(seed: UInt64(attempt) &* 7_919)
        var delays: [Double] = []
        for _ in 0..<400 {
            delays.append(try #require(delay(schedule, attempt: attempt, random: &random)))
        }
        #expect(delays.allSatisfy { $0 >= 0 && $0 <= ceiling }, "attempt \(attempt): \(delays.filter { $0 < 0 || $0 > ceiling }.prefix(3))")
        // Spread: not all equal, and they reach both ends of the range (full jitter, not "half" or "equal" jitter).
        #expect(Set(delays).count > 300)
        #expect(delays.min()! < ceiling * 0.05)
        #expect(delays.max()! > ceiling * 0.95)
        let mean = delays.reduce(0, +) / Double(delays.count)
        #expect(abs(mean - ceiling / 2) < ceiling * 0.1, "mean \(mean) for a ceiling of \(ceiling)")
    }

    @Test(arguments: [(0.05, 0.1, 1, 0.05), (0.05, 0.1, 2, 0.1), (0.05, 0.1, 9, 0.1), (2, 1, 1, 2), (2, 1, 3, 2), (0, 0, 5, 0)])
    func theBoundsFollowBaseAndMax(_ base: Double, _ max: Double, _ attempt: Int, _ ceiling: Double) throws {
        let schedule = RetrySchedule(baseDelay: base, maxDelay: max)
        var low = ConstantGenerator(value: 1)
        var high = ConstantGenerator(value: .max)
        #expect(try #require(delay(schedule, attempt: attempt, random: &low)) == 0)
        // `at - now` near 1.7e9 is exact to about 2.4e-7 s.
        #expect(abs(try #require(delay(schedule, attempt: attempt, random: &high)) - ceiling) < 1e-6)
    }

    @Test func theSameSeedGivesTheSameDelays() throws {
        let schedule = RetrySchedule()
        var first = SeededGenerator(seed: 42), second = SeededGenerator(seed: 42), other = SeededGenerator(seed: 43)
        let a = (1...20).map { delay(schedule, attempt: $0, random: &first) }
        let b = (1...20).map { delay(schedule, attempt: $0, random: &second) }
        let c = (1...20).map { delay(schedule, attempt: $0, random: &other) }
        #expect(a == b)
        #expect(a != c)
    }

    /// `Retry-After` is a minimum: a shorter jittered delay is raised to it, a longer one is kept.
    @Test(arguments: [(UInt64(1), 30.0, 30.0), (UInt64.max, 30, 30), (1, 1_000, 1_000), (.max, 0.5, 8), (.max, 0, 8), (1, 0, 0)])
    func retryAfterIsAMinimum(_ draw: UInt64, _ retryAfter: Double, _ expected: Double) throws {
        let schedule = RetrySchedule(baseDelay: 1, maxDelay: 300)
        var random = ConstantGenerator(value: draw)
        let got = try #require(delay(schedule, attempt: 4, retryAfter: retryAfter, random: &random))
        #expect(abs(got - expected) < 1e-9)
    }

    @Test func retryAfterIsHonouredOverManyDraws() throws {
        let schedule = RetrySchedule(baseDelay: 1, maxDelay: 300)
        var random = SeededGenerator(seed: 7)
        for attempt in 1...12 {
            for _ in 0..<50 {
                #expect(try #require(delay(schedule, attempt: attempt, retryAfter: 5, random: &random)) >= 5)
            }
        }
    }

    /// With `MaximumRetryAttempts` m there are m retries: attempts 1…m are retried, attempt m+1 is the last.
    @Test(arguments: [0, 1, 2, 5, 185])
    func givesUpAfterMaximumRetryAttempts(_ maximum: Int) {
        let schedule = RetrySchedule(baseDelay: 0.001, maxDelay: 0.001)
        let policy = RetryPolicy(maximumRetryAttempts: maximum, maximumEventAgeInSeconds: 86_400)
        var random = SeededGenerator(seed: 1)
        var attemptsMade = 0
        var reason: String?
        for attempt in 1...500 {
            attemptsMade = attempt
            if case .giveUp(let why) = schedule.decision(afterFailedAttempt: attempt, policy: policy, acceptedAt: Self.now, now: Self.now,
                                                         random: &random) {
                reason = why
                break
            }
        }
        #expect(attemptsMade == maximum + 1)
        #expect(reason?.contains("MaximumRetryAttempts") == true)
        #expect(reason?.contains("MaximumRetryAttempts \(maximum)") == true)
    }

    @Test func givesUpWhenTheNextAttemptWouldComeAfterTheMaximumAge() throws {
        let policy = RetryPolicy(maximumRetryAttempts: 185, maximumEventAgeInSeconds: 60)
        let schedule = RetrySchedule(baseDelay: 1, maxDelay: 300)
        var high = ConstantGenerator(value: .max)  // the delay is the ceiling: 8 s after attempt 4
        func decide(acceptedAt: Double, retryAfter: Double? = nil) -> RetryDecision {
            schedule.decision(afterFailedAttempt: 4, policy: policy, acceptedAt: acceptedAt, now: Self.now, retryAfter: retryAfter, random: &high)
        }
        // 52 s old + 8 s = 60: still within the age (the limit is inclusive).
        #expect(decide(acceptedAt: Self.now - 52) == .retry(at: Self.now + 8))
        // 53 s old + 8 s = 61: too late.
        guard case .giveUp(let reason) = decide(acceptedAt: Self.now - 53) else {
            Issue.record("expected to give up")
            return
        }
        #expect(reason.contains("MaximumEventAgeInSeconds (60s"))
        // Retry-After counts too: a young delivery whose server asks for more than its age allows is given up.
        #expect(decide(acceptedAt: Self.now, retryAfter: 59) == .retry(at: Self.now + 59))
        guard case .giveUp = decide(acceptedAt: Self.now, retryAfter: 61) else {
            Issue.record("a Retry-After beyond the maximum age should give up")
            return
        }
    }

    @Test(arguments: [(0.0, false), (59.0, false), (60.0, false), (60.001, true), (86_400, true)])
    func isExpiredOnlyPastTheMaximumAge(_ age: Double, _ expired: Bool) {
        let policy = RetryPolicy(maximumRetryAttempts: 0, maximumEventAgeInSeconds: 60)
        #expect(RetrySchedule.isExpired(acceptedAt: Self.now - age, now: Self.now, policy: policy) == expired)
        #expect(!RetrySchedule.isExpired(acceptedAt: Self.now - age, now: Self.now, policy: RetryPolicy()) || age > 86_400)
    }

    @Test func negativeSettingsAreClamped() {
        let schedule = RetrySchedule(baseDelay: -5, maxDelay: -1)
        #expect(schedule.baseDelay == 0)
        #expect(schedule.maxDelay == 0)
        let inverted = RetrySchedule(baseDelay: 10, maxDelay: 1)
        #expect(inverted.maxDelay == 10)
    }
}
