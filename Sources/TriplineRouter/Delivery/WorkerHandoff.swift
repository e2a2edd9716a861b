import Foundation
import TriplineJSON

/// Items delivery workers hand to the run loop: pushed from any thread, taken all at once by the
/// run loop, its only reader, between input events and while waiting for deliveries to finish.
final class WorkerHandoff<Item: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Item] = []

    func push(_ item: Item) {
        lock.lock()
        items.append(item)
        lock.unlock()
    }

    func push(_ new: [Item]) {
        guard !new.isEmpty else { return }
        lock.lock()
        items.append(contentsOf: new)
        lock.unlock()
    }

    /// Everything pushed since the last call, in push order.
    func takeAll() -> [Item] {
        lock.lock()
        defer { lock.unlock() }
        let taken = items
        items.removeAll()
        return taken
    }

    var isEmpty: Bool {
        lock.lock()
        defer { lock.unlock() }
        return items.isEmpty
    }
}

/// Events Tripline itself puts back on the bus (`User Blocked`, …), waiting for the run loop to
/// route them, so emitted events are matched like any other.
typealias EmittedEvents = WorkerHandoff<JSONValue>

/// The idempotency keys of `BlockUser` deliveries that settled, taken by the run loop, which then
/// takes their ``PendingBlocks`` away.
typealias SettledBlockDeliveries = WorkerHandoff<String>
