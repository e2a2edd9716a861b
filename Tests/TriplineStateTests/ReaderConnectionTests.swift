import Foundation
import Testing
@testable import TriplineState

/// Runs `body` on a thread of its own; returns whether it ended within `timeout` seconds (when it
/// did not, it is left to end on its own).
private func finishes(within timeout: Double = 10, _ body: @escaping @Sendable () -> Void) -> Bool {
    let done = DispatchSemaphore(value: 0)
    Thread {
        body()
        done.signal()
    }.start()
    return done.wait(timeout: .now() + timeout) == .success
}

/// A value set on one thread and read on another.
private final class Box<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T

    init(_ value: T) { stored = value }

    var value: T {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

@Suite("State: deliveries are read through a reader connection that never waits for the writer")
struct ReaderConnectionTests {
    @Test("load and pending return while another thread holds the writer inside a transaction (a commit in progress)")
    func readsDoNotWaitForTheWriter() throws {
        let dir = try TemporaryDirectory("reader")
        defer { dir.remove() }
        let store = try StateStore.open(directory: dir.path)
        let journal = DeliveryJournal(store: store)
        let queued = try journal.accept([newDelivery("a"), newDelivery("b")])
        let inside = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let writer = Thread {
            try? store.withDatabase { (db) throws(StateError) in
                try db.transaction { () throws(StateError) in
                    try db.execute("DELETE FROM settled")
                    inside.signal()
                    release.wait()
                }
            }
        }
        writer.start()
        inside.wait()
        defer { release.signal() }
        let loaded = Box<String?>(nil)
        let paged = Box(0)
        let returned = finishes {
            loaded.value = (try? journal.load(queued[1].id))?.eventID
            paged.value = (try? journal.pending())?.count ?? -1
        }
        #expect(returned, "a read waited for the transaction in progress")
        #expect(loaded.value == "b")
        #expect(paged.value == 2)
    }

    @Test("the reader sees what was committed before it read, and never what a transaction in progress wrote")
    func theReaderSeesCommittedRowsOnly() throws {
        let dir = try TemporaryDirectory("reader")
        defer { dir.remove() }
        let store = try StateStore.open(directory: dir.path)
        let journal = DeliveryJournal(store: store)
        let first = try journal.accept([newDelivery("a")])
        // Loaded once, so the reader is open (and has read) before the next commit.
        #expect(try journal.load(first[0].id)?.eventID == "a")
        let seenInside = Box<[String?]>([])
        let pagedInside = Box(-1)
        var returned = false
        let second = try journal.accept([newDelivery("b")], alongside: { _ in
            // Inside the accepting transaction: "b" is written, not committed. Read on another thread,
            // as a worker does (this one holds the writer).
            returned = finishes {
                let read = { (id: Int64) -> String? in
                    do { return try journal.load(id)?.eventID ?? "none" } catch { return "error: \(error)" }
                }
                seenInside.value = [read(first[0].id), read(first[0].id + 1)]
                pagedInside.value = (try? journal.pending())?.count ?? -1
            }
        })
        #expect(returned)
        #expect(seenInside.value == ["a", "none"], "the uncommitted delivery was not visible")
        #expect(pagedInside.value == 1)
        // Committed: the very next read sees it.
        #expect(second.map(\.id) == [first[0].id + 1])
        #expect(try journal.load(second[0].id)?.eventID == "b")
        #expect(try journal.pending().map(\.id) == [first[0].id, second[0].id])
        // And sees a completion as soon as it is committed.
        try journal.complete([first[0].id])
        #expect(try journal.load(first[0].id) == nil)
        #expect(try journal.pending().map(\.id) == [second[0].id])
    }

    @Test("a read-only store and an in-memory one read through their one connection")
    func storesWithoutASecondConnectionStillRead() throws {
        let dir = try TemporaryDirectory("reader")
        defer { dir.remove() }
        let id: Int64
        do {
            let journal = DeliveryJournal(store: try StateStore.open(directory: dir.path))
            id = try journal.accept([newDelivery("a")])[0].id
        }
        let readOnly = DeliveryJournal(store: try StateStore.open(directory: dir.path, readOnly: true))
        #expect(try readOnly.load(id)?.eventID == "a")
        #expect(try readOnly.pending().count == 1)
        let memory = DeliveryJournal(store: try StateStore.inMemory())
        let queued = try memory.accept([newDelivery("m")])
        #expect(try memory.load(queued[0].id)?.eventID == "m")
    }

    @Test("short reads do not hold back checkpoints: after many loads the log can still be checkpointed and emptied")
    func readsLeaveCheckpointsFree() throws {
        let dir = try TemporaryDirectory("reader")
        defer { dir.remove() }
        let store = try StateStore.open(directory: dir.path)
        let journal = DeliveryJournal(store: store)
        let queued = try journal.accept((0..<50).map { newDelivery("e\($0)") })
        for delivery in queued { _ = try journal.load(delivery.id) }
        _ = try journal.pending(limit: 10)
        try journal.complete(queued.map(\.id))
        let emptied = try store.withDatabase { (db) throws(StateError) in try db.checkpointTruncatingLog() }
        #expect(emptied, "a read transaction was left open")
    }
}
