#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The pids of the handlers running now, and a flag that interrupts them (set at a shutdown, cleared
/// when a reload starts delivering again); shared by threads.
final class RunningHandlers: @unchecked Sendable {
    private let lock = NSLock()
    private var set: Set<pid_t> = []
    private var interrupted = false
    private var currentRecords: HandlerRecords?

    /// Where running handlers are noted (``FunctionRunner/takeOver(stateDirectory:)``); nil: nowhere.
    var records: HandlerRecords? {
        get { lock.lock(); defer { lock.unlock() }; return currentRecords }
        set { lock.lock(); currentRecords = newValue; lock.unlock() }
    }

    func insert(_ pid: pid_t) {
        lock.lock()
        set.insert(pid)
        lock.unlock()
    }

    func remove(_ pid: pid_t) {
        lock.lock()
        set.remove(pid)
        lock.unlock()
    }

    var pids: [pid_t] {
        lock.lock()
        defer { lock.unlock() }
        return Array(set)
    }

    func interrupt() {
        lock.lock()
        interrupted = true
        lock.unlock()
    }

    func resume() {
        lock.lock()
        interrupted = false
        lock.unlock()
    }

    var isInterrupted: Bool {
        lock.lock()
        defer { lock.unlock() }
        return interrupted
    }
}
