import Foundation
import TriplineState

/// The first state-database error of a run (later ones are usually the same cause).
final class StateFailure: @unchecked Sendable {
    private let lock = NSLock()
    private var error: StateError?
    /// Called once, after the first error is kept (on the thread that recorded it, without the lock):
    /// the run stops starting deliveries.
    var onFailure: (@Sendable () -> Void)?

    /// Keeps `error` if it is the first; returns whether it was.
    @discardableResult
    func record(_ error: StateError) -> Bool {
        lock.lock()
        guard self.error == nil else {
            lock.unlock()
            return false
        }
        self.error = error
        let onFailure = self.onFailure
        lock.unlock()
        onFailure?()
        return true
    }

    var failed: Bool {
        lock.lock()
        defer { lock.unlock() }
        return error != nil
    }

    var first: StateError? {
        lock.lock()
        defer { lock.unlock() }
        return error
    }
}
