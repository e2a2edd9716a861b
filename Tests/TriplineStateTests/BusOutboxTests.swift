import Foundation
import Testing
@testable import TriplineState

@Suite("State: the outbox of events written outside a run")
struct BusOutboxTests {
    @Test func eventsComeBackInOrderAfterTheGivenIdAndLeaveOnlyWithTheAcceptingTransaction() throws {
        let store = try StateStore.inMemory()
        let outbox = BusOutbox(store: store)
        try outbox.add([Array(#"{"id":"a"}"#.utf8), Array(#"{"id":"b"}"#.utf8)], origin: "tripline blocklist add", now: baseTime)
        try outbox.add([Array(#"{"id":"c"}"#.utf8)], origin: "tripline blocklist remove", now: baseTime + 1)
        let all = try outbox.pending()
        #expect(all.map { String(decoding: $0.event, as: UTF8.self) } == [#"{"id":"a"}"#, #"{"id":"b"}"#, #"{"id":"c"}"#])
        #expect(all.map(\.origin) == ["tripline blocklist add", "tripline blocklist add", "tripline blocklist remove"])
        #expect(all.map(\.addedAt) == [baseTime, baseTime, baseTime + 1])
        #expect(try outbox.pending(afterID: all[0].id).map(\.id) == [all[1].id, all[2].id])
        #expect(try outbox.pending(limit: 1).map(\.id) == [all[0].id])

        // Deleted in the transaction that accepts the deliveries the events matched.
        let journal = DeliveryJournal(store: store)
        _ = try journal.accept([newDelivery("a")]) { (store) throws(StateError) in try BusOutbox.remove(ids: [all[0].id, all[1].id], store: store) }
        #expect(try outbox.pending().map(\.id) == [all[2].id])
        #expect(try outbox.count() == 1)
        #expect(try journal.count() == 1)
    }

    @Test func aFailedAcceptKeepsTheEvents() throws {
        let store = try StateStore.inMemory()
        let outbox = BusOutbox(store: store)
        try outbox.add([Array(#"{"id":"a"}"#.utf8)], origin: "o", now: baseTime)
        let id = try #require(try outbox.pending().first?.id)
        struct Refused: Error {}
        let error = stateError { () throws(StateError) in
            try DeliveryJournal(store: store).accept([newDelivery("a")]) { (store) throws(StateError) in
                try BusOutbox.remove(ids: [id], store: store)
                throw StateError.damagedRow(path: ":memory:", table: "outbox", detail: "refused for the test")
            }
        }
        #expect(error != nil)
        #expect(try outbox.count() == 1, "rolled back with the deliveries")
        #expect(try DeliveryJournal(store: store).count() == 0)
    }

    @Test func aVersion4DatabaseGetsTheOutbox() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        do {
            let old = try SQLiteDatabase(path: dir.appending(StateStore.databaseName), create: true, readOnly: false)
            for upgrade in StateSchema.upgrades[..<4] { try old.execute(upgrade) }
            try old.execute("PRAGMA user_version=4")
        }
        let store = try StateStore.open(directory: dir.path, access: .shared(createIfMissing: false))
        #expect(try store.withDatabase { (db) throws(StateError) in try db.pragma("user_version") } == "\(StateStore.schemaVersion)")
        #expect(StateStore.schemaVersion >= 5)
        try BusOutbox(store: store).add([Array("{}".utf8)], origin: "o", now: baseTime)
        #expect(try rowCount(store, "outbox") == 1)
    }
}
