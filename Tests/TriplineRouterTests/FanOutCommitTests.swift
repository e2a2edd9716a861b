import Foundation
import Testing
@testable import TriplineRouter
import TriplineState
import TriplineTargets

/// A flag threads wait on.
private final class Gate: @unchecked Sendable {
    private let condition = NSCondition()
    private var open = false

    func release() {
        condition.lock()
        open = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until released (at most `timeout` seconds); returns whether it was.
    @discardableResult
    func wait(timeout: Double = 10) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: timeout)
        while !open { if !condition.wait(until: deadline) { return open } }
        return true
    }
}

/// Waits until `condition` holds (at most `timeout` seconds); returns whether it did.
private func eventually(timeout: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date(timeIntervalSinceNow: timeout)
    while Date() < deadline {
        if try condition() { return true }
        usleep(5_000)
    }
    return try condition()
}

/// A dispatcher whose `topic` deliveries fan out to `a` and `b` (as a topic publish does) and whose
/// other deliveries succeed once `subscriptionsGo` is released.
private struct FanOutHarness {
    let store: StateStore
    let journal: DeliveryJournal
    let box = ReportBox()
    let recorder = AttemptRecorder()
    let subscriptionsGo = Gate()

    init() throws {
        store = try StateStore.inMemory()
        journal = DeliveryJournal(store: store)
    }

    var commits: Int { (try? store.withDatabase { $0.committedTransactions }) ?? -1 }

    func acceptTopicDeliveries(_ count: Int) throws -> [QueuedDelivery] {
        try journal.accept((0..<count).map {
            NewDelivery(rule: "r", target: "topic", eventID: "e\($0)", origin: "test", event: Array(#"{"n":\#($0)}"#.utf8),
                        ingestionTime: "2024-01-01T00:00:00Z", acceptedAt: StateTime.now())
        })
    }

    /// `beforePublish` runs in each topic attempt before it returns its fan-out.
    func dispatcher(topicConcurrency: Int, onStateError: @escaping @Sendable (StateError) -> Void = { Issue.record("state error: \($0)") },
                    enqueueOrder: NSLock = NSLock(), beforePublish: @escaping @Sendable () -> Void = {}) -> DeliveryDispatcher {
        let recorder = self.recorder
        let box = self.box
        let go = subscriptionsGo
        return DeliveryDispatcher(
            journal: journal,
            settings: { _, target in
                DeliveryTargetSettings(maxConcurrency: target == "topic" ? topicConcurrency : 4, retryPolicy: RetryPolicy(), deadLetterFile: nil)
            },
            attempt: { delivery, number in
                recorder.begin(delivery, attempt: number)
                defer { recorder.end(delivery) }
                guard delivery.queued.target == "topic" else {
                    go.wait()
                    return AttemptReport(outcome: .delivered, summary: "ok")
                }
                beforePublish()
                let rows = ["a", "b"].map {
                    NewDelivery(rule: "topic:t", target: $0, eventID: "m-" + delivery.eventID, origin: delivery.origin, event: delivery.event,
                                ingestionTime: delivery.ingestionTime, acceptedAt: StateTime.now())
                }
                return AttemptReport(outcome: .delivered, summary: "published", fanOut: rows)
            },
            onReport: { box.add($0) }, onStateError: onStateError, enqueueOrder: enqueueOrder)
    }
}

@Suite("Delivery dispatcher: topic fan-outs are group-committed with the publish's completion")
struct FanOutCommitTests {
    @Test("deliveries committed by this process are attempted as the journal holds them, without reading them back; a retry reads its history")
    func committedDeliveriesAreNotReadBack() throws {
        let store = try StateStore.inMemory()
        let journal = DeliveryJournal(store: store)
        let box = ReportBox()
        let mismatches = Counter()
        let failedOnce = Counter()
        let dispatcher = DeliveryDispatcher(
            configuration: .init(retry: RetrySchedule(baseDelay: 0.05, maxDelay: 0.1)), journal: journal,
            settings: { _, _ in DeliveryTargetSettings(maxConcurrency: 2, retryPolicy: RetryPolicy(), deadLetterFile: nil) },
            attempt: { delivery, number in
                // Exactly what reading it from the journal gives (the row stays until its success is committed).
                if (try? journal.load(delivery.queued.id)) != delivery { mismatches.increment() }
                if delivery.queued.target == "flaky" {
                    guard number > 1 else {
                        failedOnce.increment()
                        return AttemptReport(outcome: .failed(error: "once", retryable: true, retryAfter: nil), summary: "failed")
                    }
                    if delivery.history.count != 1 { mismatches.increment() }
                    return AttemptReport(outcome: .delivered, summary: "ok")
                }
                guard delivery.queued.target == "topic" else { return AttemptReport(outcome: .delivered, summary: "ok") }
                let rows = ["a", "b"].map {
                    NewDelivery(rule: "topic:t", target: $0, eventID: "m-" + delivery.eventID, origin: delivery.origin, event: Array(#"{"m":1}"#.utf8),
                                ingestionTime: delivery.ingestionTime, acceptedAt: StateTime.now(), suppressedCount: 3)
                }
                return AttemptReport(outcome: .delivered, summary: "published", fanOut: rows)
            },
            onReport: { box.add($0) }, onStateError: { Issue.record("state error: \($0)") })
        let publishes = (0..<5).map {
            NewDelivery(rule: "r", target: "topic", eventID: "e\($0)", origin: "test", event: Array(#"{"n":\#($0)}"#.utf8),
                        ingestionTime: "2024-01-01T00:00:00Z", acceptedAt: StateTime.now(), suppressedCount: $0)
        }
        // Enqueued with what was committed (as the run's accept batches are): not read back, except for its retry.
        // (First: deliveries reach the window in journal order, and the publishes' fan-outs commit as soon as they run.)
        dispatcher.enqueue(stored: try journal.acceptStored([NewDelivery(rule: "r", target: "flaky", eventID: "f", origin: "test", event: Array("{}".utf8),
                                                                         ingestionTime: "2024-01-01T00:00:00Z", acceptedAt: StateTime.now())]))
        // Enqueued as ids only (as a resumed run does): each is read from the journal.
        dispatcher.enqueue(try journal.accept(publishes))
        #expect(dispatcher.drain(linger: 5) == 0)
        let reports = box.reports
        #expect(reports.filter(\.succeeded).count == 16, "5 publishes, their 10 subscription deliveries, the flaky one")
        #expect(failedOnce.value == 1)
        #expect(mismatches.value == 0, "every attempt got the delivery the journal holds")
        #expect(dispatcher.journalReads == 6, "the 5 publishes and the retry were read; the fan-outs and the first flaky attempt were not")
        #expect(try journal.count() == 0)
    }

    @Test("fan-outs that are ready together share commits: 8 publishes take at most 2 transactions, not one each plus the completions")
    func readyFanOutsShareOneTransaction() throws {
        let harness = try FanOutHarness()
        let started = Counter()
        let publish = Gate()
        let dispatcher = harness.dispatcher(topicConcurrency: 8, beforePublish: {
            started.increment()
            publish.wait()
        })
        dispatcher.enqueue(try harness.acceptTopicDeliveries(8))
        // All eight publishes are running (their deliveries loaded) before any may finish.
        #expect(eventually { started.value == 8 })
        let before = harness.commits
        // The journal is busy while they finish: the first completion to write waits for it, and
        // the others gather behind that write.
        try harness.store.withDatabase { _ in
            publish.release()
            usleep(300_000)
        }
        #expect(try eventually { try harness.journal.pending().filter { $0.target == "topic" }.isEmpty })
        let commits = harness.commits - before
        #expect(commits >= 1 && commits <= 2, "\(commits) transactions for 8 fan-outs")
        let queued = try harness.journal.pending()
        #expect(queued.count == 16 && Set(queued.map(\.target)) == ["a", "b"], "every fan-out committed with its publish's removal")
        harness.subscriptionsGo.release()
        #expect(dispatcher.drain(linger: 0) == 0)
        let reports = harness.box.reports
        #expect(reports.count == 24 && reports.allSatisfy(\.succeeded), "8 publishes and the 16 subscription deliveries they queued")
        #expect(try harness.journal.count() == 0)
    }

    @Test("a repeated publish (its subscription deliveries already queued or settled) adds nothing and counts the duplicates")
    func repeatedFanOutCountsDuplicates() throws {
        let harness = try FanOutHarness()
        let topic = try harness.acceptTopicDeliveries(1)
        // As if an earlier publish of the same delivery got as far as queueing `a`.
        let earlier = try harness.journal.accept([NewDelivery(rule: "topic:t", target: "a", eventID: "m-e0", origin: "test", event: Array("{}".utf8),
                                                              ingestionTime: "2024-01-01T00:00:00Z", acceptedAt: StateTime.now())])
        harness.subscriptionsGo.release()
        let dispatcher = harness.dispatcher(topicConcurrency: 1)
        dispatcher.enqueue(topic + earlier)
        #expect(dispatcher.drain(linger: 0) == 0)
        let publish = try #require(harness.box.reports.first { $0.target == "topic" })
        #expect(publish.succeeded && publish.duplicatesSkipped == 1)
        let tally = DeliveryTally()
        tally.count(publish)
        #expect(tally.counts.duplicates == 1)
        #expect(harness.box.reports.filter { $0.target != "topic" }.map(\.target).sorted() == ["a", "b"], "each subscription delivered once")
    }

    @Test("when the commit fails, the publish stays queued, none of its fan-out is queued or attempted, and it is not reported done")
    func aFailedFanOutCommitIsNotAcknowledged() throws {
        let harness = try FanOutHarness()
        let failures = Counter()
        try harness.store.withDatabase { (db) throws(StateError) in
            try db.execute("CREATE TRIGGER refuse BEFORE DELETE ON deliveries BEGIN SELECT RAISE(ABORT, 'refused'); END")
        }
        harness.subscriptionsGo.release()
        let dispatcher = harness.dispatcher(topicConcurrency: 1, onStateError: { _ in failures.increment() })
        let topic = try harness.acceptTopicDeliveries(1)
        dispatcher.enqueue(topic)
        #expect(dispatcher.drain(linger: 0) == 1)
        #expect(failures.value >= 1 && dispatcher.isHalted)
        #expect(harness.box.reports.map(\.next) == [.unrecorded])
        #expect(harness.recorder.snapshot.started.map(\.target) == ["topic"], "no subscription delivery was attempted")
        #expect(try harness.journal.pending().map(\.id) == topic.map(\.id), "the publish is still queued, alone")
    }

    @Test("MaxConcurrency 1: the next attempt starts while the previous success still waits for its commit, and both share it")
    func theSlotIsFreeOnceTheAttemptEnded() throws {
        let harness = try FanOutHarness()
        harness.subscriptionsGo.release()
        // Holding the dispatcher's commit order lock keeps the first publish's commit waiting
        // (without holding the journal, which the next attempt needs to load its delivery).
        let order = NSLock()
        let dispatcher = harness.dispatcher(topicConcurrency: 1, enqueueOrder: order)
        let topics = try harness.acceptTopicDeliveries(3)
        // Another target's lane brings workers of its own (4), so one can be free while another waits.
        let other = try harness.journal.accept([NewDelivery(rule: "r", target: "other", eventID: "x", origin: "test", event: Array("{}".utf8),
                                                            ingestionTime: "2024-01-01T00:00:00Z", acceptedAt: StateTime.now())])
        let before = harness.commits
        order.lock()
        dispatcher.enqueue(topics + other)
        let topicStarts = { harness.recorder.snapshot.started.filter { $0.target == "topic" }.count }
        let overlapped = eventually(timeout: 5) { topicStarts() == 3 }
        #expect(harness.recorder.snapshot.peak["topic"] == 1, "one attempt at a time all the same")
        #expect(harness.box.reports.filter { $0.target == "topic" }.isEmpty, "no publish is reported done before its commit")
        order.unlock()
        #expect(overlapped, "the publishes after the first waited for its commit: \(topicStarts()) started")
        #expect(dispatcher.drain(linger: 0) == 0)
        let reports = harness.box.reports
        #expect(reports.filter { $0.target == "topic" }.count == 3)
        #expect(reports.allSatisfy { $0.succeeded })
        let publishCommits = try harness.store.withDatabase { $0.committedTransactions } - before
        // The three publishes in at most two commits (the first may have taken only its own), plus the
        // completions of the six subscription deliveries and the other target's one.
        #expect(publishCommits <= 2 + 6 + 1, "\(publishCommits)")
    }
}
