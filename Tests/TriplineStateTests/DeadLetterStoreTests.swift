import Foundation
import Testing
@testable import TriplineState

/// A store holding five dead letters of three targets, dead-lettered 10 s apart from `baseTime`.
private struct Letters {
    let store: StateStore
    let journal: DeliveryJournal
    let letters: DeadLetterStore
    /// Dead letter ids by event id.
    var ids: [String: Int64] = [:]
    /// When the last one was dead-lettered.
    let newest = baseTime + 40

    static let layout: [(event: String, rule: String, target: String)] = [
        ("e0", "r", "a"), ("e1", "r", "b"), ("e2", "s", "a"), ("e3", "r", "a"), ("e4", "s", "a"),
    ]

    init() throws {
        store = try StateStore.inMemory()
        journal = DeliveryJournal(store: store)
        letters = DeadLetterStore(store: store)
        let queued = try journal.accept(Self.layout.map { newDelivery($0.event, rule: $0.rule, target: $0.target) })
        for (index, item) in queued.enumerated() {
            try journal.reschedule(item.id, failure: AttemptRecord(attempt: 1, at: baseTime + 1, error: "boom"), nextAttemptAt: baseTime + 2)
            let letter = try journal.deadLetter(item.id, failure: AttemptRecord(attempt: 2, at: baseTime + 3, error: "boom again"),
                                                reason: "retries exhausted", file: nil, at: baseTime + Double(index) * 10)
            ids[Self.layout[index].event] = try #require(letter).id
        }
    }
}

@Suite("State: dead letters (list, filter, purge, redrive)")
struct DeadLetterStoreTests {
    /// A filter, and the events it selects (at `now` = the newest letter + 5 s).
    static let filters: [(String, DeadLetterFilter, [String])] = [
        ("everything", DeadLetterFilter(), ["e0", "e1", "e2", "e3", "e4"]),
        ("rule", DeadLetterFilter(rule: "r"), ["e0", "e1", "e3"]),
        ("target", DeadLetterFilter(target: "a"), ["e0", "e2", "e3", "e4"]),
        ("rule and target", DeadLetterFilter(rule: "s", target: "a"), ["e2", "e4"]),
        ("unknown rule", DeadLetterFilter(rule: "nope"), []),
        ("older than 15 s", DeadLetterFilter(olderThanSeconds: 15), ["e0", "e1", "e2", "e3"]),
        ("older than exactly 25 s (inclusive)", DeadLetterFilter(olderThanSeconds: 25), ["e0", "e1", "e2"]),
        ("older than an hour", DeadLetterFilter(olderThanSeconds: 3600), []),
        ("older than 0 s", DeadLetterFilter(olderThanSeconds: 0), ["e0", "e1", "e2", "e3", "e4"]),
        ("rule and age", DeadLetterFilter(rule: "r", olderThanSeconds: 15), ["e0", "e1", "e3"]),
        ("target and age", DeadLetterFilter(target: "a", olderThanSeconds: 25), ["e0", "e2"]),
    ]

    @Test(arguments: filters)
    func listSelectsWhatTheFilterSays(_ name: String, _ filter: DeadLetterFilter, _ expected: [String]) throws {
        let fixture = try Letters()
        let listed = try fixture.letters.list(filter, now: fixture.newest + 5)
        #expect(listed.map(\.eventID) == expected, "\(name)")
        #expect(listed.allSatisfy { $0.history.count == 2 && $0.reason == "retries exhausted" })
    }

    @Test func listSelectsByIdsAlone() throws {
        let fixture = try Letters()
        let now = fixture.newest
        #expect(try fixture.letters.list(DeadLetterFilter(ids: [fixture.ids["e3"]!, fixture.ids["e1"]!]), now: now).map(\.eventID) == ["e1", "e3"])
        #expect(try fixture.letters.list(DeadLetterFilter(rule: "s", ids: [fixture.ids["e3"]!, fixture.ids["e4"]!]), now: now).map(\.eventID) == ["e4"])
        #expect(try fixture.letters.list(DeadLetterFilter(ids: [9_999]), now: now).isEmpty)
    }

    @Test(arguments: filters)
    func purgeDeletesWhatTheFilterSelects(_ name: String, _ filter: DeadLetterFilter, _ expected: [String]) throws {
        let fixture = try Letters()
        let now = fixture.newest + 5
        #expect(try fixture.letters.purge(filter, now: now) == expected.count, "\(name)")
        let left = try fixture.letters.list(now: now).map(\.eventID)
        #expect(left == Letters.layout.map(\.event).filter { !expected.contains($0) }, "\(name)")
        // Purging touches the dead letters only.
        #expect(try fixture.journal.count() == 0)
    }

    @Test func countsAreGroupedPerTarget() throws {
        let fixture = try Letters()
        let counts = try fixture.letters.counts()
        #expect(counts.map { "\($0.rule)/\($0.target)=\($0.count)" } == ["r/a=2", "r/b=1", "s/a=2"])
        #expect(counts.map(\.newest) == [baseTime + 30, baseTime + 10, baseTime + 40])
        try fixture.letters.purge(DeadLetterFilter(), now: fixture.newest)
        #expect(try fixture.letters.counts().isEmpty)
    }

    @Test func redriveQueuesFreshDeliveriesUnderTheSameKey() throws {
        let fixture = try Letters()
        let now = fixture.newest + 100
        let before = try fixture.letters.list(DeadLetterFilter(rule: "r"), now: now)
        let queued = try fixture.letters.redrive(DeadLetterFilter(rule: "r"), now: now)
        #expect(queued.count == 3)
        #expect(queued.allSatisfy { $0.attempts == 0 && $0.acceptedAt == now && $0.nextAttemptAt == now })
        #expect(try fixture.journal.pending() == queued)
        for (letter, delivery) in zip(before, queued) {
            let stored = try #require(try fixture.journal.load(delivery.id))
            #expect(stored.idempotencyKey == letter.idempotencyKey)
            #expect(stored.eventID == letter.eventID)
            #expect(stored.event == letter.event)
            #expect(stored.origin == letter.origin)
            #expect(stored.ingestionTime == letter.ingestionTime)
            #expect(stored.history.isEmpty)
            #expect(stored.queued.rule == letter.rule && stored.queued.target == letter.target)
        }
        // The redriven letters are gone; the others stay.
        #expect(try fixture.letters.list(now: now).map(\.eventID) == ["e2", "e4"])
        // Nothing left to redrive for that filter.
        #expect(try fixture.letters.redrive(DeadLetterFilter(rule: "r"), now: now).isEmpty)
    }

    @Test func redrivingALetterWhoseDeliveryIsQueuedAgainJustRemovesIt() throws {
        let fixture = try Letters()
        let now = fixture.newest + 100
        // The same event was accepted again (say the input was re-read with --from-start).
        let requeued = try fixture.journal.accept([newDelivery("e2", rule: "s", target: "a", acceptedAt: now - 1)])
        #expect(requeued.count == 1)
        let queued = try fixture.letters.redrive(DeadLetterFilter(rule: "s"), now: now)
        #expect(queued.map(\.id).count == 1)
        #expect(try queued.map { try fixture.journal.load($0.id)?.eventID } == ["e4"])
        #expect(try fixture.journal.count() == 2)
        // The queued delivery is untouched (its acceptance time is its own).
        #expect(try fixture.journal.load(requeued[0].id)?.queued.acceptedAt == now - 1)
        #expect(try fixture.letters.list(DeadLetterFilter(rule: "s"), now: now).isEmpty)
    }

    @Test func aLetterPrintsAsOneJSONObjectWithItsEvent() throws {
        let fixture = try Letters()
        let letter = try #require(try fixture.letters.list(DeadLetterFilter(ids: [fixture.ids["e1"]!]), now: fixture.newest).first)
        let json = letter.json
        #expect(json["eventId"]?.stringValue == "e1")
        #expect(json["idempotencyKey"]?.stringValue == "e1:r:b")
        #expect(json["deadAt"]?.stringValue == StateTime.iso8601(baseTime + 10))
        #expect(json["attempts"]?.arrayValue?.count == 2)
        #expect(json["event"]?["id"]?.stringValue == "e1")
    }

    @Test func idsAreNeverUsedAgainAfterAPurgeOrARedrive() throws {
        let fixture = try Letters()
        let now = fixture.newest + 100
        let highest = try #require(fixture.ids.values.max())
        // The newest letter is purged and the one before it redriven: both ids leave the table.
        #expect(try fixture.letters.purge(DeadLetterFilter(ids: [fixture.ids["e4"]!]), now: now) == 1)
        let queued = try fixture.letters.redrive(DeadLetterFilter(ids: [fixture.ids["e3"]!]), now: now)
        #expect(queued.count == 1)
        // The redriven delivery fails again, and another one fails for the first time.
        let fresh = try fixture.journal.accept([newDelivery("e5", acceptedAt: now)])
        var newIDs: [Int64] = []
        for id in [queued[0].id, fresh[0].id] {
            let letter = try fixture.journal.deadLetter(id, failure: nil, reason: "permanent", file: nil, at: now + 1)
            newIDs.append(try #require(letter).id)
        }
        #expect(newIDs.allSatisfy { $0 > highest }, "new letters got \(newIDs); ids up to \(highest) were used before")
        #expect(Set(newIDs).count == 2)
    }
}
