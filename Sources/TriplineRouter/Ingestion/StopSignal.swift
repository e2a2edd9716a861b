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
/// times. A second signal after the first ends the process at once with status 130.
///
/// Create it before starting threads (delivery workers), and keep one per process. Handlers that are
/// spawned later get the default signal mask back (``FunctionRunner`` resets it).
public final class StopSignal: @unchecked Sendable {
    /// The pipe's read end; readable once a stop was requested. Owned by this object.
    public let descriptor: Int32
    private let writeEnd: Int32
    private let sources: [any DispatchSourceSignal]
    private let queue: DispatchQueue

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
        let readEnd = fds[0], writeEnd = fds[1]
        let queue = DispatchQueue(label: "tripline.stop-signal")
        self.queue = queue
        sources = signals.map { signal in
            let source = DispatchSource.makeSignalSource(signal: signal, queue: queue)
            source.setEventHandler {
                if StopSignal.isReadable(readEnd) {
                    // Second request: the user insists.
                    beforeQuitting?()
                    _exit(128 + signal)
                }
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

    /// Requests a stop as if a signal had arrived (tests, or an internal reason to stop).
    public func request() {
        var byte: UInt8 = 0
        _ = write(writeEnd, &byte, 1)
    }

    /// The signal numbers that were received so far are not kept; only the fact of the stop is.
    static func isReadable(_ fd: Int32) -> Bool {
        guard fd >= 0 else { return false }
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) > 0 && (entry.revents & Int16(POLLIN)) != 0
    }
}
