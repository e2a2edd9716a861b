import Foundation
import Testing
@testable import TriplineRouter
import TriplineState
import TriplineTargets

/// A dispatcher over a journal on disk (so deliveries are read through the store's reader
/// connection) whose attempts of target `t` all succeed at once.
private struct BacklogHarness {
    let directory: String
    let store: StateStore
    let journal: DeliveryJournal
    let box = ReportBox()
    let started = Counter()

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tripline-backlog-\(UUID().uuidString)").path
        store = try StateStore.open(directory: directory)
        journal = DeliveryJournal(store: store)
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    var commits: Int { (try? store.withDatabase { $0.committedTransactions }) ?? -1 }

    func accept(_ count: Int) throws -> [QueuedDelivery] {
        try journal.accept((0..<count).map {
            NewDelivery(rule: "r", target: "t", eventID: "e\($0)", origin: "test", event: Array(#"{"n":\#($0)}"#.utf8),
                        ingestionTime: "2024-01-01T00:00:00Z", acceptedAt: StateTime.now())
        })
    }

    func dispatcher(maxUncommitted: Int) -> DeliveryDispatcher {
        let started = self.started
        let box = self.box
        return DeliveryDispatcher(
            configuration: DeliveryDispatcher.Configuration(maxUncommitted: maxUncommitted), journal: journal,
            settings: { _, _ in DeliveryTargetSettings(maxConcurrency: 2, retryPolicy: RetryPolicy(), deadLetterFile: nil) },
            attempt: { _, _ in
                started.increment()
                return AttemptReport(outcome: .delivered, summary: "ok")
            },
            onReport: { box.add($0) }, onStateError: { Issue.record("state error: \($0)") })
    }

    /// Holds the journal's writer on another thread (as a commit being synced to disk does) until
    /// the returned closure is called.
    func holdWriter() -> @Sendable () -> Void {
        let inside = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let store = self.store
        Thread {
            _ = try? store.withDatabase { (_) throws(StateError) in
                inside.signal()
                release.wait()
            }
        }.start()
        inside.wait()
        return { release.signal() }
    }
}

/// Waits until `condition` holds (at most `timeout` seconds); returns whether it did.
private func eventually(timeout: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = Date(timeIntervalSinceNow: timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(5_000)
    }
    return condition()
}

@Suite("Delivery dispatcher: workers neither read nor wait behind a commit in progress", .serialized)
struct CommitBacklogTests {
    @Test("while the journal's writer is busy, two workers load and attempt all six deliveries; none is reported done before its commit")
    func attemptsGoOnWhileACommitIsInProgress() throws {
        let harness = try BacklogHarness()
        defer { harness.remove() }
        let queued = try harness.accept(6)
        let dispatcher = harness.dispatcher(maxUncommitted: 256)
        let before = harness.commits
        let release = harness.holdWriter()
        dispatcher.enqueue(queued)
        // Each load reads through the reader connection, and each success is handed to the group
        // commit (the first one's write waits for the writer) without its worker waiting for it.
        let allStarted = eventually { harness.started.value == 6 }
        let reportedEarly = harness.box.reports.count
        release()
        #expect(allStarted, "attempts started while the writer was busy: \(harness.started.value) of 6")
        #expect(reportedEarly == 0, "a success was reported before its removal was committed")
        #expect(dispatcher.drain(linger: 0) == 0)
        let reports = harness.box.reports
        #expect(reports.count == 6 && reports.allSatisfy { $0.next == .done })
        #expect(try harness.journal.count() == 0)
        let commits = harness.commits - before
        // The first success alone (its write started before the others), then the five gathered behind it.
        #expect(commits >= 1 && commits <= 2, "\(commits) transactions for 6 successes")
    }

    @Test("past maxUncommitted successes waiting for their commit, workers wait instead of attempting more")
    func theBacklogIsBounded() throws {
        let harness = try BacklogHarness()
        defer { harness.remove() }
        let queued = try harness.accept(6)
        let dispatcher = harness.dispatcher(maxUncommitted: 3)
        let release = harness.holdWriter()
        dispatcher.enqueue(queued)
        // The first success is being written (blocked), two more wait for the next write: three
        // uncommitted. A fourth attempt ends, and its worker waits for room; the other is the writer.
        let reached = eventually { harness.started.value == 4 }
        usleep(200_000)
        let startedWhileHeld = harness.started.value
        release()
        #expect(reached)
        #expect(startedWhileHeld == 4, "\(startedWhileHeld) attempts with 3 successes uncommitted")
        #expect(dispatcher.drain(linger: 0) == 0)
        #expect(harness.box.reports.count == 6 && harness.box.reports.allSatisfy { $0.next == .done })
        #expect(try harness.journal.count() == 0)
    }
}
