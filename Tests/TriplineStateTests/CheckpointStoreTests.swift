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

    @Test("findings of checks: missing records when first found gone, present clears it, forget deletes; a checkpoint saved again since is left alone")
    func findingsMarkClearAndForget() throws {
        let store = try StateStore.inMemory()
        let checkpoints = CheckpointStore(store: store)
        let a = mark("/logs/a.json", items: 1, complete: true), b = mark("/logs/b.json", items: 2, complete: false)
        _ = try DeliveryJournal(store: store).accept([], checkpoints: [a, b])

        try checkpoints.apply([.missing(source: a.source, updatedAt: a.updatedAt, since: baseTime + 10),
                               .missing(source: b.source, updatedAt: b.updatedAt, since: baseTime + 10)])
        #expect(try checkpoints.checkpoint(for: a.source)?.missingSince == baseTime + 10)
        #expect(try checkpoints.missingCount() == 2)
        // A later finding of the same absence keeps the first time.
        try checkpoints.apply([.missing(source: a.source, updatedAt: a.updatedAt, since: baseTime + 20)])
        #expect(try checkpoints.checkpoint(for: a.source)?.missingSince == baseTime + 10)
        // Found there again (put back): not missing any more, and its directory's device is learnt.
        try checkpoints.apply([.present(source: b.source, updatedAt: b.updatedAt, directoryDevice: 42)])
        #expect(try checkpoints.checkpoint(for: b.source)?.missingSince == nil)
        #expect(try checkpoints.checkpoint(for: b.source)?.directoryDevice == 42)
        // Read again meanwhile (saved with a new time): a forget decided from the old row does nothing.
        var reread = a
        reread.updatedAt = baseTime + 30
        _ = try DeliveryJournal(store: store).accept([], checkpoints: [reread])
        #expect(try checkpoints.checkpoint(for: a.source)?.missingSince == nil, "saving a checkpoint clears what a check found")
        #expect(try checkpoints.apply([.forget(source: a.source, updatedAt: a.updatedAt)]) == 0)
        #expect(try checkpoints.checkpoint(for: a.source) == reread)
        #expect(try checkpoints.apply([.forget(source: a.source, updatedAt: reread.updatedAt)]) == 1)
        #expect(try checkpoints.checkpoint(for: a.source) == nil)
        #expect(try rowCount(store, "checkpoints") == 1)
    }

    @Test("a directory's checkpoints are listed by prefix, page by page, and nothing of a sibling with a longer name")
    func checkpointsUnderAPrefixPageByPage() throws {
        let store = try StateStore.inMemory()
        let checkpoints = CheckpointStore(store: store)
        let sources = ["in/a.json", "in/b/c.json", "in/z.json", "in0.json", "in-other/a.json", "inx/a.json", "/in/a.json"]
        _ = try DeliveryJournal(store: store).accept([], checkpoints: sources.map { mark($0, items: 1, complete: true) })
        #expect(try checkpoints.checkpoints(prefix: "in/").map(\.source) == ["in/a.json", "in/b/c.json", "in/z.json"])
        let first = try checkpoints.checkpoints(prefix: "in/", limit: 2)
        #expect(first.map(\.source) == ["in/a.json", "in/b/c.json"])
        #expect(try checkpoints.checkpoints(prefix: "in/", after: first.last?.source, limit: 2).map(\.source) == ["in/z.json"])
        #expect(try checkpoints.checkpoints(prefix: "/").map(\.source) == ["/in/a.json"])
    }

    @Test("a renamed file's checkpoint moves to its new name (replacing one there); a directory's move all theirs")
    func checkpointsFollowRenames() throws {
        let store = try StateStore.inMemory()
        let checkpoints = CheckpointStore(store: store)
        var a = mark("d/a.json", items: 3, complete: true)
        a.directoryDevice = 7
        _ = try DeliveryJournal(store: store).accept([], checkpoints: [a, mark("d/b.json", items: 9, complete: false),
                                                                       mark("d/sub/c.json", items: 1, complete: true),
                                                                       mark("d/sub/é/d.json", items: 2, complete: true)])
        #expect(try checkpoints.move(from: "d/a.json", to: "d/b.json"))
        var moved = a
        moved.source = "d/b.json"
        #expect(try checkpoints.checkpoint(for: "d/b.json") == moved)
        #expect(try checkpoints.checkpoint(for: "d/a.json") == nil)
        #expect(try !checkpoints.move(from: "d/none.json", to: "d/b.json"), "no checkpoint to move: the destination keeps its own")
        #expect(try checkpoints.checkpoint(for: "d/b.json") == moved)
        #expect(try checkpoints.move(from: "d/b.json", to: "d/c.json", keepingSource: true))
        #expect(try checkpoints.checkpoint(for: "d/b.json") != nil && checkpoints.checkpoint(for: "d/c.json") != nil)

        #expect(try checkpoints.moveAll(under: "d/sub/", to: "d/2024/sub/") == 2)
        #expect(try checkpoints.checkpoints(prefix: "d/2024/").map(\.source) == ["d/2024/sub/c.json", "d/2024/sub/é/d.json"])
        #expect(try checkpoints.checkpoints(prefix: "d/sub/").isEmpty)
        #expect(try checkpoints.checkpoint(for: "d/2024/sub/é/d.json")?.items == 2)
    }

    @Test("a version 6 database is upgraded: its checkpoints are kept, not missing, with an unknown directory device")
    func version6CheckpointsSurviveTheUpgrade() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        do {
            let old = try SQLiteDatabase(path: dir.appending(StateStore.databaseName))
            for version in StateSchema.upgrades.prefix(6) { try old.execute(version) }
            try old.execute("INSERT INTO checkpoints(source, size, mtime, items, complete, updated_at, fingerprint) VALUES ('in/a.json', 10, 5.5, 3, 1, 7, 'f')")
            try old.execute("PRAGMA user_version=6")
        }
        let store = try StateStore.open(directory: dir.path)
        #expect(try CheckpointStore(store: store).checkpoint(for: "in/a.json")
                == Checkpoint(source: "in/a.json", size: 10, modificationTime: 5.5, fingerprint: "f", items: 3, complete: true, updatedAt: 7))
    }
}
