import Foundation
import Testing
@testable import TriplineRouter
import TriplineState
import TriplineTargets

/// Collects reports from worker threads.
final class ReportBox: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [DeliveryReport] = []

    func add(_ report: DeliveryReport) {
        lock.lock()
        items.append(report)
        lock.unlock()
    }

    var reports: [DeliveryReport] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }
}

/// Writes an executable `#!/bin/sh` script; returns its path.
func writeScript(_ body: String, _ name: String, in dir: URL) throws -> String {
    let path = try writeFile("#!/bin/sh\n" + body + "\n", name, in: dir)
    chmod(path, 0o755)
    return path
}

/// Counts attempts running at once, per target and overall, and what each attempt saw.
final class AttemptRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var running: [String: Int] = [:]
    private var runningTotal = 0
    private(set) var peak: [String: Int] = [:]
    private(set) var peakTotal = 0
    private(set) var started: [(target: String, event: String, attempt: Int)] = []

    func begin(_ delivery: StoredDelivery, attempt: Int) {
        lock.lock()
        defer { lock.unlock() }
        let key = delivery.queued.target
        running[key, default: 0] += 1
        runningTotal += 1
        peak[key] = max(peak[key] ?? 0, running[key]!)
        peakTotal = max(peakTotal, runningTotal)
        started.append((key, delivery.eventID, attempt))
    }

    func end(_ delivery: StoredDelivery) {
        lock.lock()
        defer { lock.unlock() }
        running[delivery.queued.target]! -= 1
        runningTotal -= 1
    }

    var snapshot: (peak: [String: Int], peakTotal: Int, started: [(target: String, event: String, attempt: Int)]) {
        lock.lock()
        defer { lock.unlock() }
        return (peak, peakTotal, started)
    }
}

/// A dispatcher over an in-memory journal, with attempts simulated by a closure.
struct DispatcherHarness {
    let store: StateStore
    let journal: DeliveryJournal
    let box = ReportBox()
    let recorder = AttemptRecorder()

    init() throws {
        store = try StateStore.inMemory()
        journal = DeliveryJournal(store: store)
    }

    func accept(target: String, events: [String], rule: String = "r") throws -> [QueuedDelivery] {
        try journal.accept(events.map {
            NewDelivery(rule: rule, target: target, eventID: $0, origin: "test:\($0)", event: Array(#"{"id":"\#($0)"}"#.utf8),
                        ingestionTime: "2024-01-01T00:00:00Z", acceptedAt: StateTime.now())
        })
    }

    func dispatcher(_ configuration: DeliveryDispatcher.Configuration = .init(retry: RetrySchedule(baseDelay: 0.05, maxDelay: 0.1)),
                    settings: @escaping @Sendable (String, String) -> DeliveryTargetSettings? = { _, _ in
                        DeliveryTargetSettings(maxConcurrency: 1, retryPolicy: RetryPolicy(), deadLetterFile: nil)
                    },
                    onStateError: @escaping @Sendable (StateError) -> Void = { Issue.record("state error: \($0)") },
                    attempt: @escaping @Sendable (StoredDelivery, Int) -> AttemptOutcome) -> DeliveryDispatcher {
        let recorder = self.recorder
        let box = self.box
        return DeliveryDispatcher(configuration: configuration, journal: journal, settings: settings,
                                  attempt: { delivery, number in
                                      recorder.begin(delivery, attempt: number)
                                      defer { recorder.end(delivery) }
                                      let outcome = attempt(delivery, number)
                                      return AttemptReport(outcome: outcome, summary: outcome.succeeded ? "ok" : "failed")
                                  },
                                  onReport: { box.add($0) }, onStateError: onStateError)
    }
}

@Suite("Delivery dispatcher: limits, order, retries, dead letters, paging")
struct DeliveryDispatcherTests {
    @Test func perTargetMaxConcurrencyIsRespected() throws {
        let harness = try DispatcherHarness()
        let dispatcher = harness.dispatcher(settings: { _, target in
            DeliveryTargetSettings(maxConcurrency: target == "slow" ? 2 : 6, retryPolicy: RetryPolicy(), deadLetterFile: nil)
        }) { _, _ in
            usleep(100_000)
            return .delivered
        }
        dispatcher.enqueue(try harness.accept(target: "slow", events: (0..<6).map { "s\($0)" }))
        dispatcher.enqueue(try harness.accept(target: "wide", events: (0..<6).map { "w\($0)" }))
        #expect(dispatcher.drain(linger: 0) == 0)
        let seen = harness.recorder.snapshot
        #expect(seen.peak["slow"] == 2)
        #expect((seen.peak["wide"] ?? 0) >= 3, "the wide target should run several at once: \(seen.peak)")
        #expect(seen.peakTotal <= 8)
        #expect(harness.box.reports.filter(\.succeeded).count == 12)
        #expect(try harness.journal.count() == 0, "delivered rows are removed")
    }

    @Test func globalLimitCapsAllTargets() throws {
        let harness = try DispatcherHarness()
        let dispatcher = harness.dispatcher(.init(maxConcurrent: 2), settings: { _, _ in
            DeliveryTargetSettings(maxConcurrency: 10, retryPolicy: RetryPolicy(), deadLetterFile: nil)
        }) { _, _ in
            usleep(50_000)
            return .delivered
        }
        for i in 0..<6 { dispatcher.enqueue(try harness.accept(target: "t\(i)", events: ["e\(i)"])) }
        dispatcher.drain(linger: 0)
        #expect(harness.recorder.snapshot.peakTotal == 2)
        #expect(harness.box.reports.count == 6)
    }

    @Test func hungTargetsDoNotStarveAnother() throws {
        // Three targets whose attempts hang fill their limits (4 each: 12 attempts, more than a
        // fixed pool of 8 workers); a fourth target must still be served while they hang.
        let harness = try DispatcherHarness()
        let release = DispatchSemaphore(value: 0)
        let dispatcher = harness.dispatcher(settings: { _, _ in
            DeliveryTargetSettings(maxConcurrency: 4, retryPolicy: RetryPolicy(), deadLetterFile: nil)
        }) { delivery, _ in
            if delivery.queued.target.hasPrefix("hung") { release.wait() }
            return .delivered
        }
        for t in 0..<3 { dispatcher.enqueue(try harness.accept(target: "hung\(t)", events: (0..<4).map { "h\(t)-\($0)" })) }
        let deadline = Date().addingTimeInterval(5)
        while harness.recorder.snapshot.peakTotal < 12 && Date() < deadline { usleep(2_000) }
        dispatcher.enqueue(try harness.accept(target: "fast", events: ["f"]))
        while !harness.box.reports.contains(where: { $0.target == "fast" }) && Date() < deadline { usleep(2_000) }
        #expect(harness.box.reports.contains { $0.target == "fast" && $0.succeeded }, "the fast target waited behind hung ones")
        for _ in 0..<12 { release.signal() }
        #expect(dispatcher.drain(linger: 0) == 0)
        #expect(harness.box.reports.filter(\.succeeded).count == 13)
    }

    @Test func oneTargetStartsInAcceptanceOrder() throws {
        let harness = try DispatcherHarness()
        let dispatcher = harness.dispatcher { _, _ in .delivered }
        let events = (0..<40).map { "e\($0)" }
        dispatcher.enqueue(try harness.accept(target: "t", events: events))
        dispatcher.drain(linger: 0)
        #expect(harness.recorder.snapshot.started.map(\.event) == events)
    }

    @Test func failedAttemptsAreRetriedUntilTheySucceed() throws {
        let harness = try DispatcherHarness()
        let dispatcher = harness.dispatcher { _, attempt in
            attempt < 3 ? .failed(error: "boom \(attempt)", retryable: true, retryAfter: nil) : .delivered
        }
        dispatcher.enqueue(try harness.accept(target: "t", events: ["a"]))
        dispatcher.drain(linger: 5)
        let reports = harness.box.reports
        #expect(reports.map(\.attempt) == [1, 2, 3])
        #expect(reports.map(\.succeeded) == [false, false, true])
        if case .retry = reports[0].next {} else { Issue.record("first failure should schedule a retry: \(reports[0].next)") }
        #expect(try harness.journal.count() == 0)
    }

    @Test func retryAfterIsHonoured() throws {
        let harness = try DispatcherHarness()
        let dispatcher = harness.dispatcher { _, attempt in
            attempt == 1 ? .failed(error: "429", retryable: true, retryAfter: 0.4) : .delivered
        }
        let start = Date()
        dispatcher.enqueue(try harness.accept(target: "t", events: ["a"]))
        dispatcher.drain(linger: 5)
        #expect(Date().timeIntervalSince(start) >= 0.38)
        #expect(harness.box.reports.last?.succeeded == true)
    }

    @Test("an attempt that sent nothing (a URL's Retry-After pause) is postponed without counting: no retries allowed, still delivered")
    func unsentAttemptsAreNotCounted() throws {
        let harness = try DispatcherHarness()
        let dispatcher = harness.dispatcher(settings: { _, _ in
            DeliveryTargetSettings(maxConcurrency: 1, retryPolicy: RetryPolicy(maximumRetryAttempts: 0, maximumEventAgeInSeconds: 60),
                                   deadLetterFile: nil)
        }) { delivery, attempt in
            // The first two calls are handed back unsent; the attempt number stays 1 throughout.
            harness.recorder.snapshot.started.count <= 2 ? .notAttempted(reason: "not sent: paused", retryAfter: 0.2) : .delivered
        }
        let start = Date()
        dispatcher.enqueue(try harness.accept(target: "t", events: ["a"]))
        dispatcher.drain(linger: 5)
        #expect(Date().timeIntervalSince(start) >= 0.38, "waited out both pauses")
        #expect(harness.recorder.snapshot.started.map(\.attempt) == [1, 1, 1])
        let reports = harness.box.reports
        #expect(reports.map(\.attempt) == [nil, nil, 1])
        if case .postponed = reports[0].next {} else { Issue.record("postponed: \(reports[0].next)") }
        #expect(reports.last?.succeeded == true)
        #expect(try DeadLetterStore(store: harness.store).list(now: StateTime.now()).isEmpty)
    }

    @Test("an unsent delivery whose wait would outlast MaximumEventAgeInSeconds is dead-lettered at once, saying so")
    func unsentPastTheEventAgeIsDeadLettered() throws {
        let harness = try DispatcherHarness()
        let dispatcher = harness.dispatcher(settings: { _, _ in
            DeliveryTargetSettings(maxConcurrency: 1, retryPolicy: RetryPolicy(maximumRetryAttempts: 5, maximumEventAgeInSeconds: 60),
                                   deadLetterFile: nil)
        }) { _, _ in .notAttempted(reason: "not sent: the URL asked every delivery to wait (Retry-After) 3600s more", retryAfter: 3600) }
        dispatcher.enqueue(try harness.accept(target: "t", events: ["a"]))
        dispatcher.drain(linger: 5)
        let letters = try DeadLetterStore(store: harness.store).list(now: StateTime.now())
        #expect(letters.map(\.reason) == ["not sent before MaximumEventAgeInSeconds (60s since it was accepted) would pass: failed"], "\(letters.map(\.reason))")
        #expect(letters.first?.history.isEmpty == true, "no attempt was made")
        #expect(try harness.journal.count() == 0)
    }

    @Test func exhaustedRetriesGoToTheDeadLettersWithEveryAttempt() throws {
        try withRouterTempDirectory { dir in
            let harness = try DispatcherHarness()
            let file = dir.appendingPathComponent("dlq/r.t.ndjson").path
            let dispatcher = harness.dispatcher(settings: { _, _ in
                DeliveryTargetSettings(maxConcurrency: 1, retryPolicy: RetryPolicy(maximumRetryAttempts: 2, maximumEventAgeInSeconds: 60),
                                       deadLetterFile: file)
            }) { _, attempt in .failed(error: "exit status \(attempt)", retryable: true, retryAfter: nil) }
            dispatcher.enqueue(try harness.accept(target: "t", events: ["a"]))
            dispatcher.drain(linger: 5)
            let letters = try DeadLetterStore(store: harness.store).list(now: StateTime.now())
            #expect(letters.count == 1)
            #expect(letters[0].history.map(\.error) == ["exit status 1", "exit status 2", "exit status 3"])
            #expect(letters[0].reason.contains("retries exhausted (3 attempts"))
            #expect(letters[0].event == Array(#"{"id":"a"}"#.utf8))
            let line = try String(contentsOfFile: file, encoding: .utf8)
            #expect(line.hasPrefix(#"{"id":1,"rule":"r","target":"t","eventId":"a""#) && line.contains(#""event":{"id":"a"}"#))
            #expect(try harness.journal.count() == 0)
        }
    }

    @Test func permanentFailuresAndVanishedTargetsAreNotRetried() throws {
        let harness = try DispatcherHarness()
        let dispatcher = harness.dispatcher(settings: { _, target in
            target == "gone" ? nil : DeliveryTargetSettings(maxConcurrency: 1, retryPolicy: RetryPolicy(), deadLetterFile: nil)
        }) { _, _ in .failed(error: "cannot start handler", retryable: false, retryAfter: nil) }
        dispatcher.enqueue(try harness.accept(target: "t", events: ["a"]))
        dispatcher.enqueue(try harness.accept(target: "gone", events: ["b"]))
        dispatcher.drain(linger: 5)
        let letters = try DeadLetterStore(store: harness.store).list(now: StateTime.now()).sorted { $0.eventID < $1.eventID }
        #expect(letters.map(\.reason) == ["a permanent failure: cannot start handler", "the rule 'r' has no target 'gone' any more"])
        #expect(harness.recorder.snapshot.started.count == 1, "the vanished target is never attempted")
    }

    @Test func aFailingTargetDoesNotHoldUpTheOthers() throws {
        let harness = try DispatcherHarness()
        let dispatcher = harness.dispatcher(.init(maxConcurrent: 2, retry: RetrySchedule(baseDelay: 30, maxDelay: 30))) { delivery, _ in
            delivery.queued.target == "down" ? .failed(error: "down", retryable: true, retryAfter: 30) : .delivered
        }
        dispatcher.enqueue(try harness.accept(target: "down", events: (0..<20).map { "d\($0)" }))
        dispatcher.enqueue(try harness.accept(target: "up", events: (0..<20).map { "u\($0)" }))
        let start = Date()
        let left = dispatcher.drain(linger: 1)
        #expect(Date().timeIntervalSince(start) < 10)
        #expect(left == 20, "the failing target's deliveries stay queued for a later run")
        #expect(harness.box.reports.filter { $0.target == "up" && $0.succeeded }.count == 20)
        let queued = try harness.journal.pending()
        #expect(queued.count == 20 && queued.allSatisfy { $0.target == "down" && $0.attempts == 1 })
    }

    @Test func deliveriesBeyondTheWindowArePagedInFromTheJournal() throws {
        let harness = try DispatcherHarness()
        let dispatcher = harness.dispatcher(.init(maxConcurrent: 2, windowCapacity: 4)) { _, _ in .delivered }
        for i in 0..<10 { dispatcher.enqueue(try harness.accept(target: "t", events: (0..<10).map { "e\(i)-\($0)" })) }
        dispatcher.drain(linger: 0)
        #expect(harness.box.reports.filter(\.succeeded).count == 100)
        #expect(Set(harness.recorder.snapshot.started.map(\.event)).count == 100)
        #expect(try harness.journal.count() == 0)
    }

    @Test func resumedDeliveriesBeyondTheFirstPageAreDelivered() throws {
        let harness = try DispatcherHarness()
        _ = try harness.accept(target: "t", events: (0..<30).map { "e\($0)" })
        let dispatcher = harness.dispatcher(.init(windowCapacity: 8)) { _, _ in .delivered }
        dispatcher.resume(firstPage: try harness.journal.pending(limit: 8), total: try harness.journal.count())
        dispatcher.drain(linger: 0)
        #expect(harness.recorder.snapshot.started.map(\.event) == (0..<30).map { "e\($0)" })
    }

    @Test func stopLeavesUnstartedDeliveriesQueued() throws {
        let harness = try DispatcherHarness()
        let dispatcher = harness.dispatcher { _, _ in
            usleep(200_000)
            return .delivered
        }
        dispatcher.enqueue(try harness.accept(target: "t", events: (0..<10).map { "e\($0)" }))
        usleep(50_000)
        let stillRunning = dispatcher.stop(deadline: StateTime.now() + 5)
        #expect(stillRunning == 0)
        let delivered = harness.box.reports.filter(\.succeeded).count
        #expect(delivered >= 1 && delivered < 10)
        #expect(try harness.journal.count() == 10 - delivered, "what was not delivered is still queued")
    }

    @Test func logTagsHandlerOutputAndFailures() throws {
        try withRouterTempDirectory { dir in
            let outPath = dir.appendingPathComponent("out").path
            let errPath = dir.appendingPathComponent("err").path
            let out = open(outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            let err = open(errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            let script = try writeScript("printf 'one\\ntwo\\r\\n'\necho warn >&2\nexit 1", "talk.sh", in: dir)
            let outcome = try FunctionRunner().run(FunctionInvocation(executable: script, arguments: [], environment: [:], payload: [],
                                                                      timeoutSeconds: 10))
            let report = DeliveryReport(rule: "rule-a", target: "tgt", eventID: "evt-1", origin: "test:1", attempt: 1,
                                        attemptReport: AttemptReport(outcome: .failed(error: outcome.summary, retryable: true, retryAfter: nil),
                                                                     function: outcome, summary: outcome.summary),
                                        next: .retry(at: StateTime.now() + 2))
            for format in LogFormat.allCases {
                let log = DeliveryLog(format: format, console: RunConsole(output: out, errors: err, showProgress: false))
                log.record(report)
                log.badInput(.invalidEvent(origin: EventOrigin(source: "f.json", position: .record(3)), detail: "invalid JSON: x"))
            }
            close(out)
            close(err)
            let output = try String(contentsOfFile: outPath, encoding: .utf8).split(separator: "\n").map(String.init)
            let errors = try String(contentsOfFile: errPath, encoding: .utf8).split(separator: "\n").map(String.init)
            #expect(Array(output.prefix(3)) == ["[rule-a/tgt] one", "[rule-a/tgt] two", "[rule-a/tgt] stderr: warn"])
            #expect(output[3].hasPrefix("[rule-a/tgt] delivery failed: exit status 1 in ") && output[3].contains("; retrying in ")
                    && output[3].hasSuffix("(event evt-1 from test:1)"), "\(output[3])")
            #expect(errors[0] == "f.json Records[3]: invalid JSON: x; skipped")
            // JSON: one object per line with a type.
            let json = output.dropFirst(4)
            #expect(json.count == 4)
            #expect(json.allSatisfy { $0.hasPrefix("{\"type\":") })
            #expect(json.contains(#"{"type":"output","rule":"rule-a","target":"tgt","eventId":"evt-1","stream":"stdout","line":"two"}"#))
            #expect(json.last?.contains(#""type":"delivery""#) == true && json.last?.contains(#""ok":false,"exitStatus":1"#) == true
                    && json.last?.contains(#""next":"retry","retryAt":"#) == true)
            #expect(errors[1].hasPrefix(#"{"type":"badInput","file":"f.json","origin":"f.json Records[3]""#))
        }
    }

    @Test("leftover handlers are said in text (one line each) and as one JSON object with their pids and deliveries")
    func leftoverHandlersAreSaidBothWays() throws {
        try withRouterTempDirectory { dir in
            let errPath = dir.appendingPathComponent("err").path
            let err = open(errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            let handlers = [LeftoverHandler(process: ProcessIdentity(pid: 42, startTicks: 1), rule: "r", target: "t", eventID: "e-1"),
                            LeftoverHandler(process: ProcessIdentity(pid: 43, startTicks: 1), rule: nil, target: nil, eventID: nil)]
            for format in LogFormat.allCases {
                DeliveryLog(format: format, console: RunConsole(output: err, errors: err, showProgress: false))
                    .leftoverHandlers(handlers, stateDirectory: ".tripline", command: "run")
            }
            close(err)
            let lines = try String(contentsOfFile: errPath, encoding: .utf8).split(separator: "\n").map(String.init)
            #expect(lines == [
                "tripline run: stopping 2 handlers that a killed run on .tripline left running; their deliveries are retried:",
                "  pid 42 (rule r, target t, event e-1)",
                "  pid 43",
                #"{"type":"leftoverHandlers","stateDirectory":".tripline","handlers":[{"pid":42,"rule":"r","target":"t","eventId":"e-1"},{"pid":43}]}"#,
            ])
        }
    }

    /// With `maxUncommitted` 1 a worker waits for the write before its next attempt, as every worker
    /// once did; with more, workers go on while successes wait for their write, and those successes
    /// add to what may be repeated.
    @Test("once a completion cannot be committed, nothing starts: runs stay within the recorded ones plus the concurrency and the successes waiting for their commit",
          arguments: [1, 64])
    func aFailedCompletionHaltsStarts(_ maxUncommitted: Int) throws {
        let harness = try DispatcherHarness()
        let failures = Counter()
        let store = harness.store
        let configuration = DeliveryDispatcher.Configuration(maxUncommitted: maxUncommitted, retry: RetrySchedule(baseDelay: 0.05, maxDelay: 0.1))
        let dispatcher = harness.dispatcher(configuration, settings: { _, _ in
            DeliveryTargetSettings(maxConcurrency: 2, retryPolicy: RetryPolicy(), deadLetterFile: nil)
        }, onStateError: { _ in failures.increment() }) { _, attempt in
            // The sixth attempt breaks the journal: completions fail from then on, as on a full disk.
            if harness.recorder.snapshot.started.count == 6 {
                try? store.withDatabase { (db) throws(StateError) in try db.execute("DROP TABLE settled") }
            }
            usleep(20_000)
            return .delivered
        }
        dispatcher.enqueue(try harness.accept(target: "t", events: (0..<20).map { "e\($0)" }))
        let left = dispatcher.drain(linger: 30)
        let reports = harness.box.reports
        let done = reports.filter(\.succeeded).count
        let unrecorded = reports.filter { $0.next == .unrecorded }.count
        let started = harness.recorder.snapshot.started.count
        #expect(dispatcher.isHalted && failures.value >= 1)
        // Five succeeded before the journal broke; with a backlog some of them may share the failed write.
        #expect(done <= 5 && (maxUncommitted > 1 || done >= 4), "\(done)")
        #expect(started <= done + 2 + (maxUncommitted > 1 ? maxUncommitted : 0), "\(started) attempts, \(done) recorded")
        #expect(unrecorded == started - done)
        #expect(left == 20 - done, "unrecorded ones stay queued")
        #expect(try harness.journal.count() == 20 - done)
    }

    @Test("waiting for room in a full queue ends as soon as the caller gives up (a stop was requested), not when the workers made room")
    func waitForRoomGivesUp() throws {
        let harness = try DispatcherHarness()
        let release = Counter()
        let dispatcher = harness.dispatcher(.init(maxQueued: 2, retry: RetrySchedule(baseDelay: 0.05, maxDelay: 0.1))) { _, _ in
            while release.value == 0 { usleep(10_000) }
            return .delivered
        }
        dispatcher.enqueue(try harness.accept(target: "t", events: ["a", "b", "c"]))
        let asked = Counter()
        let started = Date()
        dispatcher.waitForRoom(giveUp: {
            asked.increment()
            return Date().timeIntervalSince(started) > 0.3
        })
        let waited = Date().timeIntervalSince(started)
        #expect(waited >= 0.3 && waited < 5, "the full queue held the caller for \(waited) s")
        #expect(asked.value >= 2, "asked again while waiting")
        release.increment()
        #expect(dispatcher.drain(linger: 0) == 0)
    }

    @Test("haltStarts: nothing starts, and a drain returns at once leaving everything queued")
    func haltedDispatcherStartsNothing() throws {
        let harness = try DispatcherHarness()
        let dispatcher = harness.dispatcher { _, _ in .delivered }
        dispatcher.haltStarts()
        dispatcher.enqueue(try harness.accept(target: "t", events: ["a", "b", "c"]))
        #expect(dispatcher.drain(linger: 30) == 3)
        #expect(harness.recorder.snapshot.started.isEmpty)
        #expect(try harness.journal.count() == 3)
    }
}

/// A counter bumped from worker threads.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    func increment() {
        lock.lock()
        count += 1
        lock.unlock()
    }

    var value: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }
}
