import Foundation
import Testing
@testable import TriplineState

@Suite("State: delivery journal (accept, page, load, reschedule, dead-letter, complete)")
struct DeliveryJournalTests {
    /// Batches accepted one after another, and which events of each batch are new.
    @Test(arguments: [
        ([["a", "b"]], [["a", "b"]]),
        ([["a", "b"], ["b", "c"]], [["a", "b"], ["c"]]),
        ([["a", "a", "b"]], [["a", "b"]]),
        ([["a"], ["a"], ["a"]], [["a"], [], []]),
        ([[], ["x"]], [[], ["x"]]),
    ])
    func acceptReturnsOnlyNewDeliveries(_ batches: [[String]], _ expected: [[String]]) throws {
        let store = try StateStore.inMemory()
        let journal = DeliveryJournal(store: store)
        var lastID: Int64 = 0
        for (batch, wanted) in zip(batches, expected) {
            let queued = try journal.accept(batch.map { newDelivery($0, acceptedAt: baseTime + 5) })
            // Ids only grow, and are what load finds.
            #expect(queued.map(\.id) == queued.map(\.id).sorted())
            #expect(queued.allSatisfy { $0.id > lastID })
            lastID = queued.last?.id ?? lastID
            #expect(try queued.map { try journal.load($0.id)?.eventID } == wanted)
            #expect(queued.allSatisfy { $0.attempts == 0 && $0.nextAttemptAt == baseTime + 5 && $0.acceptedAt == baseTime + 5 })
            #expect(queued.allSatisfy { $0.rule == "r" && $0.target == "t" })
        }
        #expect(try journal.count() == Set(batches.joined()).count)
    }

    @Test func theSameEventForAnotherTargetIsAnotherDelivery() throws {
        let journal = DeliveryJournal(store: try StateStore.inMemory())
        let queued = try journal.accept([newDelivery("e", target: "a"), newDelivery("e", target: "b"), newDelivery("e", rule: "s", target: "a")])
        #expect(queued.count == 3)
        #expect(try Set(queued.map { try journal.load($0.id)!.idempotencyKey }) == ["e:r:a", "e:r:b", "e:s:a"])
    }

    @Test func acceptCommitsDeliveriesAndCheckpointsTogether() throws {
        let store = try StateStore.inMemory()
        let journal = DeliveryJournal(store: store)
        let checkpoints = CheckpointStore(store: store)
        let mark = Checkpoint(source: "/logs/a.json.gz", size: 100, modificationTime: 7.5, items: 2, complete: false, updatedAt: baseTime)
        #expect(try journal.accept([newDelivery("a"), newDelivery("b")], checkpoints: [mark]).count == 2)
        #expect(try journal.count() == 2)
        #expect(try checkpoints.checkpoint(for: mark.source) == mark)

        // A checkpoint that cannot be written takes the deliveries of its batch with it...
        try store.withDatabase { (db) throws(StateError) in
            try db.execute("""
                CREATE TRIGGER refuse_checkpoint BEFORE INSERT ON checkpoints WHEN NEW.source = 'poison'
                BEGIN SELECT RAISE(ABORT, 'checkpoint refused'); END;
                CREATE TRIGGER refuse_delivery BEFORE INSERT ON deliveries WHEN NEW.event_id = 'poison'
                BEGIN SELECT RAISE(ABORT, 'delivery refused'); END;
                """)
        }
        let poisonMark = Checkpoint(source: "poison", size: 1, modificationTime: 1, items: 1, complete: true, updatedAt: baseTime)
        let refusedMark = stateError { () throws(StateError) in try journal.accept([newDelivery("c")], checkpoints: [poisonMark]) }
        #expect(refusedMark?.description.contains("checkpoint refused") == true)
        #expect(try journal.count() == 2)
        #expect(try journal.pending().map(\.id).count == 2)

        // ...and a delivery that cannot be written takes the checkpoints (and the other deliveries).
        var moved = mark
        moved.items = 9
        let refusedDelivery = stateError { () throws(StateError) in
            try journal.accept([newDelivery("d"), newDelivery("poison")], checkpoints: [moved])
        }
        #expect(refusedDelivery?.description.contains("delivery refused") == true)
        #expect(try checkpoints.checkpoint(for: mark.source) == mark)
        #expect(try journal.count() == 2)

        // The connection is usable afterwards: nothing was left half-done in an open transaction.
        #expect(try journal.accept([newDelivery("c")], checkpoints: [moved]).count == 1)
        #expect(try checkpoints.checkpoint(for: mark.source)?.items == 9)
    }

    @Test(arguments: [1, 3, 4, 10, 11, 100])
    func pendingPagesThroughTheQueueInOrder(_ limit: Int) throws {
        let journal = DeliveryJournal(store: try StateStore.inMemory())
        let all = try journal.accept((0..<10).map { newDelivery("e\($0)") })
        #expect(try journal.pending() == all)
        var pages: [[QueuedDelivery]] = []
        var after: Int64 = 0
        while true {
            let page = try journal.pending(afterID: after, limit: limit)
            #expect(page.count <= limit)
            guard let last = page.last else { break }
            pages.append(page)
            after = last.id
            if pages.count > 20 { Issue.record("paging does not end"); break }
        }
        #expect(Array(pages.joined()) == all)
        #expect(pages.count == (10 + limit - 1) / limit)
        #expect(try journal.pending(afterID: all[4].id, limit: 2).map(\.id) == [all[5].id, all[6].id])
        #expect(try journal.pending(afterID: all[9].id).isEmpty)
    }

    @Test func loadReturnsTheWholeDeliveryUntilItIsCompleted() throws {
        let journal = DeliveryJournal(store: try StateStore.inMemory())
        let original = newDelivery("evt-1", rule: "rule-a", target: "fn", acceptedAt: baseTime + 0.5)
        let queued = try #require(try journal.accept([original]).first)
        let stored = try #require(try journal.load(queued.id))
        #expect(stored.queued == queued)
        #expect(stored.eventID == "evt-1")
        #expect(stored.origin == original.origin)
        #expect(stored.event == original.event)
        #expect(stored.ingestionTime == original.ingestionTime)
        #expect(stored.history.isEmpty)
        #expect(stored.idempotencyKey == "evt-1:rule-a:fn")
        #expect(stored.idempotencyKey == original.idempotencyKey)
        #expect(try journal.load(queued.id + 1) == nil)
        try journal.complete([queued.id])
        #expect(try journal.load(queued.id) == nil)
    }

    @Test func rescheduleCountsAttemptsMovesTheNextAttemptAndAppendsHistoryInOrder() throws {
        let journal = DeliveryJournal(store: try StateStore.inMemory())
        let queued = try journal.accept([newDelivery("a"), newDelivery("b")])
        let id = queued[0].id
        let failures = [
            AttemptRecord(attempt: 1, at: baseTime + 1.25, error: "exit status 1"),
            AttemptRecord(attempt: 2, at: baseTime + 3.5, error: "timed out after 30s"),
            AttemptRecord(attempt: 3, at: baseTime + 9.125, error: "HTTP 503 \"quoted\"\nsecond line"),
        ]
        for (index, failure) in failures.enumerated() {
            try journal.reschedule(id, failure: failure, nextAttemptAt: failure.at + 10)
            let stored = try #require(try journal.load(id))
            #expect(stored.queued.attempts == failure.attempt)
            #expect(stored.queued.nextAttemptAt == failure.at + 10)
            #expect(stored.queued.acceptedAt == baseTime)
            #expect(stored.history == Array(failures[...index]))
        }
        let last = try store(journal).withDatabase { (db) throws(StateError) in
            let select = try db.prepare("SELECT last_error FROM deliveries WHERE id = ?1").bind(.integer(id))
            return try select.step() ? select.text(0) : nil
        }
        #expect(last == failures[2].error)
        #expect(try journal.pending().map(\.attempts) == [3, 0])
        // The other delivery is untouched.
        #expect(try journal.load(queued[1].id)?.history.isEmpty == true)
    }

    @Test(arguments: [true, false])
    func deadLetterMovesTheDeliveryWithItsWholeHistory(_ withFinalFailure: Bool) throws {
        let store = try StateStore.inMemory()
        let journal = DeliveryJournal(store: store)
        let original = newDelivery("a", rule: "rule", target: "fn")
        let queued = try journal.accept([original, newDelivery("b")])
        let id = queued[0].id
        let earlier = [AttemptRecord(attempt: 1, at: baseTime + 1, error: "first"), AttemptRecord(attempt: 2, at: baseTime + 2.5, error: "second")]
        for failure in earlier { try journal.reschedule(id, failure: failure, nextAttemptAt: failure.at + 1) }
        let final = AttemptRecord(attempt: 3, at: baseTime + 4, error: "third")
        let letter = try #require(try journal.deadLetter(id, failure: withFinalFailure ? final : nil, reason: "retries exhausted",
                                                         file: "/state/dead-letters/rule.fn.ndjson", at: baseTime + 5))
        let history = withFinalFailure ? earlier + [final] : earlier
        #expect(letter.history == history)
        #expect(letter.reason == "retries exhausted")
        #expect(letter.file == "/state/dead-letters/rule.fn.ndjson")
        #expect(letter.deadAt == baseTime + 5)
        #expect(letter.acceptedAt == original.acceptedAt)
        #expect(letter.idempotencyKey == original.idempotencyKey)
        #expect([letter.rule, letter.target, letter.eventID, letter.origin] == ["rule", "fn", "a", original.origin])
        #expect(letter.event == original.event)
        #expect(letter.ingestionTime == original.ingestionTime)
        let attempts = try store.withDatabase { (db) throws(StateError) in
            let select = try db.prepare("SELECT attempts FROM dead_letters WHERE id = ?1").bind(.integer(letter.id))
            return try select.step() ? select.int(0) : -1
        }
        #expect(attempts == history.count)

        // The original row is gone; the other delivery stays.
        #expect(try journal.load(id) == nil)
        #expect(try journal.pending().map(\.id) == [queued[1].id])
        #expect(try DeadLetterStore(store: store).list(now: baseTime + 6) == [letter])
        // Dead-lettering it again finds nothing to move.
        #expect(try journal.deadLetter(id, failure: final, reason: "again", file: nil, at: baseTime + 7) == nil)
        #expect(try rowCount(store, "dead_letters") == 1)
    }

    @Test func completeRemovesOnlyTheGivenDeliveries() throws {
        let journal = DeliveryJournal(store: try StateStore.inMemory())
        let queued = try journal.accept((0..<6).map { newDelivery("e\($0)") })
        try journal.complete([])
        #expect(try journal.count() == 6)
        try journal.complete([queued[1].id, queued[3].id, queued[4].id, 9_999])
        #expect(try journal.count() == 3)
        #expect(try journal.pending().map(\.id) == [queued[0].id, queued[2].id, queued[5].id])
        // Completing twice is harmless (a repeated success after a crash).
        try journal.complete([queued[1].id])
        #expect(try journal.count() == 3)
        // A completed delivery is settled: a later copy is not queued again within the window.
        #expect(try journal.accept([newDelivery("e1")]).isEmpty)
        #expect(try journal.count() == 3)
    }

    @Test("complete(_:adding:) removes the publishing deliveries and inserts their fan-out in one transaction")
    func completeAddsTheFanOutInTheSameTransaction() throws {
        let store = try StateStore.inMemory()
        let journal = DeliveryJournal(store: store)
        let topics = try journal.accept([newDelivery("p1", target: "topic"), newDelivery("p2", target: "topic")])
        let before = try store.withDatabase { $0.committedTransactions }
        var skipped: [Int] = []
        let added = try journal.complete(topics.map(\.id), adding: [newDelivery("m1", target: "a"), newDelivery("m1", target: "b"),
                                                                   newDelivery("m2", target: "a")], skipped: { skipped.append($0) })
        #expect(try store.withDatabase { $0.committedTransactions } == before + 1, "one commit for both removals and all three insertions")
        #expect(added.map(\.target) == ["a", "b", "a"] && skipped.isEmpty)
        #expect(try journal.pending().map(\.id) == added.map(\.id), "the publishing deliveries are gone, the fan-out is queued")
        // The removed ones are settled, like any success; a repeated fan-out adds nothing.
        #expect(try journal.accept([newDelivery("p1", target: "topic")]).isEmpty)
        let again = try journal.complete([], adding: [newDelivery("m1", target: "a"), newDelivery("m3", target: "a")], skipped: { skipped.append($0) })
        #expect(again.count == 1 && skipped == [0])
    }

    @Test("when complete(_:adding:) fails, neither the removal nor the fan-out happened")
    func aFailedFanOutCommitLeavesThePublishQueued() throws {
        let store = try StateStore.inMemory()
        let journal = DeliveryJournal(store: store)
        let topic = try journal.accept([newDelivery("p", target: "topic")])
        // The insertions succeed, then the removal fails: the transaction must take the insertions back.
        try store.withDatabase { (db) throws(StateError) in
            try db.execute("CREATE TRIGGER refuse BEFORE DELETE ON deliveries BEGIN SELECT RAISE(ABORT, 'refused'); END")
        }
        #expect(stateError { () throws(StateError) in try journal.complete(topic.map(\.id), adding: [newDelivery("m", target: "a")]) } != nil)
        #expect(try journal.pending().map(\.id) == topic.map(\.id))
        #expect(try journal.settledCount() == 0)
    }

    /// Whether a copy of a delivery is queued again after the first was delivered or dead-lettered.
    @Test(arguments: [
        (86_400.0, true, false), (86_400.0, false, false),
        (0.0, true, true), (0.0, false, true),
    ])
    func settledDeliveriesKeepLaterCopiesOutWithinTheWindow(_ window: Double, _ delivered: Bool, _ queuedAgain: Bool) throws {
        let journal = DeliveryJournal(store: try StateStore.inMemory(), deduplicationWindow: window)
        let first = try journal.accept([newDelivery("e"), newDelivery("other")])
        if delivered {
            try journal.complete([first[0].id])
        } else {
            #expect(try journal.deadLetter(first[0].id, failure: nil, reason: "gone", file: nil, at: StateTime.now()) != nil)
        }
        let again = try journal.accept([newDelivery("e"), newDelivery("e", target: "another"), newDelivery("other")])
        // Another target's delivery of the same event is its own; a still-queued copy is always folded.
        #expect(try again.map { try journal.load($0.id)!.idempotencyKey } == (queuedAgain ? ["e:r:t", "e:r:another"] : ["e:r:another"]))
    }

    @Test func acceptTellsWhichDeliveriesItSkipped() throws {
        let journal = DeliveryJournal(store: try StateStore.inMemory())
        let first = try journal.accept([newDelivery("done"), newDelivery("queued")])
        try journal.complete([first[0].id])
        var skipped: [Int] = []
        // A copy of a settled one, a new one, a copy of a queued one, a copy within the batch.
        let queued = try journal.accept([newDelivery("done"), newDelivery("new"), newDelivery("queued"), newDelivery("new")],
                                        skipped: { skipped.append($0) })
        #expect(queued.count == 1 && skipped == [0, 2, 3])
    }

    @Test func pruningForgetsOnlySettledKeysOlderThanTheWindow() throws {
        let journal = DeliveryJournal(store: try StateStore.inMemory(), deduplicationWindow: 60)
        let queued = try journal.accept([newDelivery("a"), newDelivery("b")])
        try journal.complete(queued.map(\.id))
        #expect(try journal.settledCount() == 2)
        #expect(try journal.pruneSettled(now: StateTime.now() + 30) == 0)
        #expect(try journal.accept([newDelivery("a")]).isEmpty)
        #expect(try journal.pruneSettled(now: StateTime.now() + 61) == 2)
        #expect(try journal.settledCount() == 0)
        #expect(try journal.accept([newDelivery("a")]).count == 1)
    }

    @Test func redrivingADeadLetterBypassesTheSettledKey() throws {
        let store = try StateStore.inMemory()
        let journal = DeliveryJournal(store: store)
        let queued = try journal.accept([newDelivery("a")])
        _ = try journal.deadLetter(queued[0].id, failure: nil, reason: "broken handler", file: nil, at: StateTime.now())
        #expect(try journal.accept([newDelivery("a")]).isEmpty)
        let redriven = try DeadLetterStore(store: store).redrive(DeadLetterFilter(), now: StateTime.now())
        #expect(redriven.count == 1)
        #expect(try journal.load(redriven[0].id)?.idempotencyKey == "a:r:t")
    }

    @Test func summaryCountsPendingAndRetryingPerTarget() throws {
        let journal = DeliveryJournal(store: try StateStore.inMemory())
        #expect(try journal.summary().isEmpty)
        #expect(try journal.count() == 0)
        let queued = try journal.accept([
            newDelivery("1", rule: "r", target: "b", acceptedAt: baseTime + 3),
            newDelivery("2", rule: "r", target: "a", acceptedAt: baseTime + 2),
            newDelivery("3", rule: "r", target: "a", acceptedAt: baseTime + 4),
            newDelivery("4", rule: "q", target: "z", acceptedAt: baseTime + 8),
            newDelivery("5", rule: "r", target: "a", acceptedAt: baseTime + 6),
        ])
        try journal.reschedule(queued[2].id, failure: AttemptRecord(attempt: 1, at: baseTime + 5, error: "x"), nextAttemptAt: baseTime + 1)
        try journal.reschedule(queued[2].id, failure: AttemptRecord(attempt: 2, at: baseTime + 5, error: "x"), nextAttemptAt: baseTime + 1.5)
        try journal.reschedule(queued[4].id, failure: AttemptRecord(attempt: 1, at: baseTime + 7, error: "x"), nextAttemptAt: baseTime + 20)
        let summary = try journal.summary()
        #expect(summary == [
            QueueSummary(rule: "q", target: "z", pending: 1, retrying: 0, nextAttemptAt: baseTime + 8, mostAttempts: 0),
            QueueSummary(rule: "r", target: "a", pending: 3, retrying: 2, nextAttemptAt: baseTime + 1.5, mostAttempts: 2),
            QueueSummary(rule: "r", target: "b", pending: 1, retrying: 0, nextAttemptAt: baseTime + 3, mostAttempts: 0),
        ])
        #expect(try journal.count() == 5)
    }

    private func store(_ journal: DeliveryJournal) -> StateStore { journal.store }
}
