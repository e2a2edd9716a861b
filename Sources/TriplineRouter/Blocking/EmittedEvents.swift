import Foundation
import TriplineJSON

/// Events Tripline itself puts back on the bus (`User Blocked`, …), waiting for the run loop to route them.
///
/// Targets run on delivery workers; the run loop is the only reader, between input events and while
/// waiting for deliveries to finish, so emitted events are matched like any other.
final class EmittedEvents: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [JSONValue] = []

    func push(_ new: [JSONValue]) {
        guard !new.isEmpty else { return }
        lock.lock()
        events.append(contentsOf: new)
        lock.unlock()
    }

    func takeAll() -> [JSONValue] {
        lock.lock()
        defer { lock.unlock() }
        let taken = events
        events.removeAll()
        return taken
    }

    var isEmpty: Bool {
        lock.lock()
        defer { lock.unlock() }
        return events.isEmpty
    }
}
