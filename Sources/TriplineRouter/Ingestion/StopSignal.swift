#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// Turns SIGINT and SIGTERM into a readable self-pipe, so a run can stop cleanly between events.
///
/// The signals are blocked in the creating thread (threads started later inherit that) and received by
/// Dispatch signal sources, whose handlers write one byte into a pipe this object owns: no signal
/// handler touches Swift state and nothing is global. The pipe's read end stays readable once a stop
/// was requested, so it can be polled (``descriptor``) or checked (``isRequested``) any number of
/// times. A second signal after the first ends the process at once with status 128 + its number
/// (130 for SIGINT); a stop asked for by ``request()`` alone does not count as the first, and can be
/// taken back with ``rearm()`` (a reload of the rules stops a run this way and starts the next).
///
/// Create it before starting threads (delivery workers), and keep one per process. Handlers that are
/// spawned later get the default signal mask back (``FunctionRunner`` resets it).
public final class StopSignal: @unchecked Sendable {
    /// The pipe's read end; readable once a stop was requested. Owned by this object.
    public let descriptor: Int32
    private let writeEnd: Int32
    private let sources: [any DispatchSourceSignal]
    private let queue: DispatchQueue
    /// How many signals arrived; read and written on `queue` only.
    private let received = ReceivedSignals()

    private final class ReceivedSignals: @unchecked Sendable {
        var count = 0
    }

    /// Listens for `signals` (default SIGINT and SIGTERM); `beforeQuitting` runs (on a Dispatch queue,
    /// not in a signal handler) when a second signal ends the process at once.
    public init(signals: [Int32] = [SIGINT, SIGTERM], beforeQuitting: (@Sendable () -> Void)? = nil) {
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) != 0 { fds = [-1, -1] }
        for fd in fds where fd >= 0 {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        descriptor = fds[0]
        writeEnd = fds[1]
        var mask = sigset_t()
        sigemptyset(&mask)
        for signal in signals { sigaddset(&mask, signal) }
        pthread_sigmask(SIG_BLOCK, &mask, nil)
        let writeEnd = fds[1]
        let queue = DispatchQueue(label: "tripline.stop-signal")
        self.queue = queue
        let received = self.received
        sources = signals.map { signal in
            let source = DispatchSource.makeSignalSource(signal: signal, queue: queue)
            source.setEventHandler {
                if received.count > 0 {
                    // Second signal: the user insists.
                    beforeQuitting?()
                    _exit(128 + signal)
                }
                received.count += 1
                var byte: UInt8 = UInt8(truncatingIfNeeded: signal)
                _ = write(writeEnd, &byte, 1)
            }
            source.resume()
            return source
        }
    }

    deinit {
        for source in sources { source.cancel() }
        if descriptor >= 0 { _ = Glibc.close(descriptor) }
        if writeEnd >= 0 { _ = Glibc.close(writeEnd) }
    }

    /// Whether a stop was requested (by a signal or ``request()``). Never blocks.
    public var isRequested: Bool { Self.isReadable(descriptor) }

    /// Whether a signal asked for the stop (else only ``request()`` did, if anything): the next
    /// signal then ends the process at once.
    public var wasSignalled: Bool { queue.sync { received.count > 0 } }

    /// Requests a stop (tests, or an internal reason such as a reload of the rules); unlike a signal,
    /// it leaves the next signal a first one.
    public func request() {
        var byte: UInt8 = 0
        _ = write(writeEnd, &byte, 1)
    }

    /// Takes back a stop that only ``request()`` asked for, so that the descriptor waits again (the
    /// next run of a reload); false, leaving the stop requested, when a signal asked for it too.
    public func rearm() -> Bool {
        if wasSignalled { return false }
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(descriptor, &buffer, buffer.count) > 0 {}
        // A signal that arrived while the pipe was drained stands.
        if wasSignalled {
            request()
            return false
        }
        return true
    }

    /// The signal numbers that were received so far are not kept; only the fact of the stop is.
    static func isReadable(_ fd: Int32) -> Bool {
        guard fd >= 0 else { return false }
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) > 0 && (entry.revents & Int16(POLLIN)) != 0
    }
}
