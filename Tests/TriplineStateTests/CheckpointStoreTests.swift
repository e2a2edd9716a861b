import Foundation
import Testing
@testable import TriplineState

@Suite("State: input checkpoints")
struct CheckpointStoreTests {
    private func mark(_ source: String, items: Int, complete: Bool, size: Int64 = 1_000) -> Checkpoint {
        Checkpoint(source: source, size: size, modificationTime: 1_699_999_000.5, fingerprint: "f" + source, items: items, complete: complete,
                   updatedAt: baseTime)
    }

    @Test func savedCheckpointsAreLoadedBackAndReplaced() throws {
        let store = try StateStore.inMemory()
        let journal = DeliveryJournal(store: store)
        let checkpoints = CheckpointStore(store: store)
        #expect(try checkpoints.checkpoint(for: "/logs/a.json") == nil)
        let a = mark("/logs/a.json", items: 10, complete: false)
        let b = mark("/logs/b.json.gz", items: 3, complete: true)
        _ = try journal.accept([], checkpoints: [a, b])
        #expect(try checkpoints.checkpoint(for: a.source) == a)
        #expect(try checkpoints.checkpoint(for: b.source) == b)
        #expect(try checkpoints.checkpoint(for: "/logs/c.json") == nil)
        // A later checkpoint of the same file replaces the earlier one (file grew, more items read).
        let later = Checkpoint(source: a.source, size: 2_000, modificationTime: 1_699_999_100.25, fingerprint: "other", items: 25, complete: true,
                               updatedAt: baseTime + 9)
        _ = try journal.accept([newDelivery("x")], checkpoints: [later])
        #expect(try checkpoints.checkpoint(for: a.source) == later)
        #expect(try rowCount(store, "checkpoints") == 2)
    }

    @Test(arguments: [
        ([Bool](), 0, 0),
        ([true], 1, 0),
        ([false], 0, 1),
        ([true, false, true, false, false], 2, 3),
    ])
    func countsTellCompleteFromPartialFiles(_ completeness: [Bool], _ complete: Int, _ partial: Int) throws {
        let store = try StateStore.inMemory()
        let checkpoints = CheckpointStore(store: store)
        _ = try DeliveryJournal(store: store).accept([], checkpoints: completeness.enumerated().map { mark("/logs/\($0.offset)", items: 1, complete: $0.element) })
        let counts = try checkpoints.counts()
        #expect(counts.complete == complete)
        #expect(counts.partial == partial)
    }

    @Test func resetForgetsEveryCheckpointAndNothingElse() throws {
        let store = try StateStore.inMemory()
        let journal = DeliveryJournal(store: store)
        let checkpoints = CheckpointStore(store: store)
        _ = try journal.accept([newDelivery("a")], checkpoints: [mark("/1", items: 1, complete: true), mark("/2", items: 2, complete: false)])
        try checkpoints.reset()
        #expect(try checkpoints.checkpoint(for: "/1") == nil)
        #expect(try checkpoints.counts() == (0, 0))
        #expect(try journal.count() == 1)
        // Checkpoints are written again after a reset.
        _ = try journal.accept([], checkpoints: [mark("/1", items: 4, complete: false)])
        #expect(try checkpoints.checkpoint(for: "/1")?.items == 4)
    }

    @Test("a version 1 database is upgraded: its checkpoints are kept, without a fingerprint, and new ones store theirs")
    func version1CheckpointsSurviveTheUpgrade() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        do {
            let old = try SQLiteDatabase(path: dir.appending(StateStore.databaseName))
            try old.execute(StateSchema.version1)
            try old.execute("INSERT INTO checkpoints(source, size, mtime, items, complete, updated_at) VALUES ('/logs/a.json', 10, 5.5, 3, 1, 7)")
            try old.execute("PRAGMA user_version=1")
        }
        let store = try StateStore.open(directory: dir.path)
        let checkpoints = CheckpointStore(store: store)
        #expect(try checkpoints.checkpoint(for: "/logs/a.json")
                == Checkpoint(source: "/logs/a.json", size: 10, modificationTime: 5.5, fingerprint: "", items: 3, complete: true, updatedAt: 7))
        let b = mark("/logs/b.json", items: 2, complete: false)
        _ = try DeliveryJournal(store: store).accept([], checkpoints: [b])
        #expect(try checkpoints.checkpoint(for: b.source)?.fingerprint == "f/logs/b.json")
        #expect(try store.withDatabase { (db) throws(StateError) in try db.pragma("user_version") } == "\(StateStore.schemaVersion)")
    }
}
